//! Connections the drain can cut: once the drain bound passes, every connection still open
//! fails its reads and writes, so its calls end and `serve` returns, instead of lingering
//! in the background after the server said it stopped.

use std::{
    io,
    pin::Pin,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
};

use futures_util::task::AtomicWaker;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
};
use tokio_stream::{Stream, StreamExt, wrappers::TcpListenerStream};

use crate::sync::lock;

/// The switch that cuts every connection of one server.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cut {
    /// The state every connection shares.
    shared: Arc<Shared>,
}

/// What [`Cut`] shares with its connections.
#[derive(Debug, Default)]
struct Shared {
    /// Set once cut: read on every I/O call, so it must be cheap.
    flag: AtomicBool,
    /// The wakers of the connections made so far (dead entries are swept as it grows).
    wakers: Mutex<Vec<Weak<AtomicWaker>>>,
}

impl Cut {
    /// Cuts every connection made through [`incoming`] with this switch.
    pub(crate) fn cut(&self) {
        self.shared.flag.store(true, Ordering::SeqCst);
        let wakers = std::mem::take(&mut *lock(&self.shared.wakers));
        for waker in wakers.iter().filter_map(Weak::upgrade) {
            waker.wake();
        }
    }

    /// Whether it was cut.
    fn is_cut(&self) -> bool {
        self.shared.flag.load(Ordering::SeqCst)
    }

    /// A waker slot for one more connection, woken by the cut.
    fn register(&self) -> Arc<AtomicWaker> {
        let waker = Arc::new(AtomicWaker::new());
        let mut wakers = lock(&self.shared.wakers);
        if wakers.len() == wakers.capacity() {
            wakers.retain(|w| w.strong_count() > 0);
        }
        wakers.push(Arc::downgrade(&waker));
        waker
    }
}

/// The accepted connections of `listener` (with TCP_NODELAY: gRPC calls are small
/// request/response exchanges), each failing once `cut` is cut. Dropping the stream closes
/// the listener.
pub(crate) fn incoming(
    listener: TcpListener,
    cut: Cut,
) -> impl Stream<Item = io::Result<CuttableIo>> {
    TcpListenerStream::new(listener).map(move |accepted| {
        let io = accepted?;
        io.set_nodelay(true)?;
        Ok(CuttableIo {
            io,
            waker: cut.register(),
            cut: cut.clone(),
        })
    })
}

/// A TCP connection that fails once its server is cut.
pub(crate) struct CuttableIo {
    /// The connection.
    io: TcpStream,
    /// The switch.
    cut: Cut,
    /// Woken by the cut; registered only while the connection waits for I/O.
    waker: Arc<AtomicWaker>,
}

/// The error of every I/O call on a cut connection.
fn cut_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "drain timeout passed; connection cut",
    )
}

impl CuttableIo {
    /// The connection's local address.
    pub(crate) fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.io.local_addr().ok()
    }

    /// The client's address.
    pub(crate) fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        self.io.peer_addr().ok()
    }

    /// Runs one I/O call unless the connection is cut; when it has to wait, registers for
    /// the cut too, so a waiting connection fails as soon as it is cut.
    fn guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if self.cut.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        match op(Pin::new(&mut self.io), cx) {
            Poll::Pending => {
                self.waker.register(cx.waker());
                // A cut between the check above and the registration woke nobody.
                if self.cut.is_cut() {
                    return Poll::Ready(Err(cut_error()));
                }
                Poll::Pending
            }
            poll => poll,
        }
    }
}

impl AsyncRead for CuttableIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.guard(cx, |io, cx| io.poll_read(cx, buf))
    }
}

impl AsyncWrite for CuttableIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.guard(cx, |io, cx| io.poll_write(cx, buf))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.guard(cx, |io, cx| io.poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.guard(cx, |io, cx| io.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
