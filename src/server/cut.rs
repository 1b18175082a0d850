//! Connections the drain can cut: once the drain bound passes, every connection still open
//! fails its reads and writes, so its calls end and `serve` returns, instead of lingering
//! in the background after the server said it stopped.

use std::{
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll},
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
};
use tokio_stream::{Stream, StreamExt, wrappers::TcpListenerStream};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// The accepted connections of `listener` (with TCP_NODELAY: gRPC calls are small
/// request/response exchanges), each cut when `cut` is cancelled. Dropping the stream closes
/// the listener.
pub(crate) fn incoming(
    listener: TcpListener,
    cut: CancellationToken,
) -> impl Stream<Item = io::Result<CuttableIo>> {
    TcpListenerStream::new(listener).map(move |accepted| {
        let io = accepted?;
        io.set_nodelay(true)?;
        Ok(CuttableIo {
            io,
            cut: Box::pin(cut.clone().cancelled_owned()),
        })
    })
}

/// A TCP connection that fails once its token is cancelled.
pub(crate) struct CuttableIo {
    /// The connection.
    io: TcpStream,
    /// Completes when the connection must be cut.
    cut: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl CuttableIo {
    /// An error once the connection is cut (and registers for the cut otherwise).
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        match self.cut.as_mut().poll(cx) {
            Poll::Ready(()) => Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "drain timeout passed; connection cut",
            )),
            Poll::Pending => Ok(()),
        }
    }
}

impl AsyncRead for CuttableIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check(cx)?;
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for CuttableIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check(cx)?;
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check(cx)?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check(cx)?;
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

impl Connected for CuttableIo {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}
