//! The bodies of a call on an h2 connection: the request body piped within the stream's
//! window, the response body read with its window released as it is read, and the
//! keepalive pings.

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll, ready},
};

use bytes::Bytes;
use h2::{Ping, PingPong, RecvStream, SendStream};
use http::HeaderMap;
use http_body::Frame;
use http_body_util::BodyExt as _;
use tonic::body::Body;

use super::ConnectionSettings;

/// Counts a call as open on its connection until dropped.
#[derive(Debug)]
pub(super) struct OpenStream(Arc<AtomicUsize>);

impl OpenStream {
    pub(super) fn new(count: Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count)
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body: data as it arrives (its flow-control window released as it is read),
/// then the trailers.
#[derive(Debug)]
pub(super) struct RecvBody {
    recv: RecvStream,
    data_done: bool,
    done: bool,
    _open: OpenStream,
}

impl RecvBody {
    pub(super) fn new(recv: RecvStream, open: OpenStream) -> Self {
        let done = recv.is_end_stream();
        Self {
            recv,
            data_done: done,
            done,
            _open: open,
        }
    }
}

/// The status a reply that fails mid-body ends with. A lost connection (an I/O error, or the
/// server going away) is UNAVAILABLE, as gRPC's own clients report it; a stream reset keeps
/// tonic's mapping of its reason.
fn reply_error(error: h2::Error) -> tonic::Status {
    if error.is_io() || error.is_go_away() {
        tonic::Status::unavailable(format!("connection lost mid-reply: {error}"))
    } else {
        tonic::Status::from_error(Box::new(error))
    }
}

impl http_body::Body for RecvBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if !this.data_done {
            match ready!(this.recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    // The window reopens as the caller takes the data.
                    let _ = this.recv.flow_control().release_capacity(data.len());
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(error)) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(reply_error(error))));
                }
                None => this.data_done = true,
            }
        }
        let trailers: Result<Option<HeaderMap>, h2::Error> = ready!(this.recv.poll_trailers(cx));
        this.done = true;
        Poll::Ready(
            trailers
                .map(|t| t.map(Frame::trailers))
                .map_err(reply_error)
                .transpose(),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

/// Sends the rest of a request body (after its `first` poll) on `stream`, each data frame
/// within the capacity the stream is given, then the trailers or the end of the stream. A
/// body error resets the stream.
pub(super) async fn pipe(
    first: Poll<Option<Result<Frame<Bytes>, tonic::Status>>>,
    mut body: Body,
    mut stream: SendStream<Bytes>,
) {
    let mut next = match first {
        Poll::Ready(frame) => frame,
        Poll::Pending => body.frame().await,
    };
    loop {
        let frame = match next {
            None => {
                let _ = stream.send_data(Bytes::new(), true);
                return;
            }
            Some(Err(_)) => {
                stream.send_reset(h2::Reason::CANCEL);
                return;
            }
            Some(Ok(frame)) => frame,
        };
        match frame.into_data() {
            Ok(mut data) => {
                while !data.is_empty() {
                    stream.reserve_capacity(data.len());
                    let granted = match std::future::poll_fn(|cx| stream.poll_capacity(cx)).await {
                        Some(Ok(granted)) => granted,
                        // The stream was reset or the connection closed.
                        _ => return,
                    };
                    let chunk = data.split_to(granted.min(data.len()));
                    if stream.send_data(chunk, false).is_err() {
                        return;
                    }
                }
            }
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    let _ = stream.send_trailers(trailers);
                } else {
                    let _ = stream.send_data(Bytes::new(), true);
                }
                return;
            }
        }
        next = body.frame().await;
    }
}

/// Pings every `keepalive_interval` while calls are open; returns when a ping goes
/// unanswered for `keepalive_timeout` or the connection is gone.
pub(super) async fn keepalive(
    mut ping: PingPong,
    open: Arc<AtomicUsize>,
    settings: ConnectionSettings,
) {
    loop {
        tokio::time::sleep(settings.keepalive_interval).await;
        if open.load(Ordering::Relaxed) == 0 {
            continue;
        }
        match tokio::time::timeout(settings.keepalive_timeout, ping.ping(Ping::opaque())).await {
            Ok(Ok(_pong)) => {}
            _ => return,
        }
    }
}
