//! The time limit on idle HTTP/1.1 connections: one that has written nothing for the limit is
//! told to finish, which closes it at once when it waits for a request head (a client sending
//! one slowly, or a keep-alive connection left idle) and after its response otherwise.
//! HTTP/2 connections, known by their client preface, are left alone.
//!
//! hyper's own header read timeout arms a timer for every request, and to arm it the
//! connection runs its loop once more after each response: about 1,100 instructions per REST
//! call, in the gateway and in embedded mode alike (callgrind). Here a connection's I/O counts
//! its writes (a plain store), one task per connection looks at the count every quarter of
//! the limit, and the drain's watch of the connection ([`Slot`](super::drain::Slot)) tells it
//! to finish once the count has not moved for the whole limit. hyper finishes a connection
//! that way only once it has answered a request, so one still waiting for its first head is
//! closed by failing its reads.

use std::{
    io,
    pin::Pin,
    sync::{
        Arc, Weak,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::{Context, Poll, Waker},
    time::Duration,
};

use futures_util::task::AtomicWaker;
use hyper_util::{rt::TokioExecutor, server::conn::auto::Builder};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What an HTTP/2 client sends first.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How many checks per limit: a connection closes between one and one and a quarter limits
/// after its last write.
const CHECKS: u32 = 4;

/// The limit for a port's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdleLimit {
    limit: Duration,
}

impl IdleLimit {
    /// Connections that write nothing for `limit` are told to finish.
    pub fn new(limit: Duration) -> Self {
        Self { limit }
    }

    /// Watches one new connection: its I/O, wrapped to count what it writes, and the [`Idle`]
    /// to give its drain [`Slot`](super::drain::Slot). Starts the connection's watchdog task,
    /// which ends once both are dropped, so this runs within a Tokio runtime.
    pub fn watch<T>(&self, io: T) -> (WatchedIo<T>, Idle) {
        let state = Arc::new(State::default());
        tokio::spawn(watchdog(Arc::downgrade(&state), self.limit));
        let io = WatchedIo {
            io,
            state: state.clone(),
            writes: 0,
            first: Some(FirstHead {
                preface: Some(0),
                blank: 0,
            }),
        };
        (io, Idle { state })
    }
}

/// A hyper connection builder (HTTP/1.1 and HTTP/2) for a port whose connections an
/// [`IdleLimit`] watches: hyper's own header read timeout is off, since the limit bounds the
/// wait for a request head and hyper's would arm a timer per request. Each HTTP/1.1 response
/// is copied into one buffer and written with one `write`: REST answers are small, and
/// gathering head and body for `writev` costs more (about 500 instructions per call,
/// callgrind).
pub fn connection_builder() -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().header_read_timeout(None).writev(false);
    builder
}

/// What a connection's I/O, its watchdog and its drain slot share.
#[derive(Debug, Default)]
struct State {
    /// Writes so far.
    writes: AtomicU64,
    /// Whether the client opened with the HTTP/2 preface.
    http2: AtomicBool,
    /// Set once the connection has been idle for the limit.
    expired: AtomicBool,
    /// The connection's task, woken when it expires.
    waker: AtomicWaker,
}

/// One connection's side of the limit, held by its drain slot.
#[derive(Debug)]
pub struct Idle {
    state: Arc<State>,
}

impl Idle {
    /// Whether the connection has been idle for the limit.
    pub(crate) fn expired(&self) -> bool {
        self.state.expired.load(Ordering::Acquire)
    }

    /// Where to wake the connection's task when it expires.
    pub(crate) fn register(&self, waker: &Waker) {
        self.state.waker.register(waker);
    }
}

/// Every quarter of `limit`: ends if the connection is gone or speaks HTTP/2, and marks it
/// expired (waking its task) once its write count has not moved for `limit`.
async fn watchdog(state: Weak<State>, limit: Duration) {
    let period = (limit / CHECKS).max(Duration::from_millis(1));
    let mut checks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen = 0;
    let mut quiet_since = tokio::time::Instant::now();
    loop {
        let now = checks.tick().await;
        let Some(state) = state.upgrade() else {
            return;
        };
        if state.http2.load(Ordering::Relaxed) {
            return;
        }
        let writes = state.writes.load(Ordering::Relaxed);
        if writes != seen {
            seen = writes;
            quiet_since = now;
        } else if now.duration_since(quiet_since) >= limit {
            state.expired.store(true, Ordering::Release);
            state.waker.wake();
            return;
        }
    }
}

/// A connection's I/O, counting its writes for the [`IdleLimit`]. Until the client's first
/// request head is in, it also reads what the client sends first (the HTTP/2 preface, or the
/// blank line that ends a head), and fails once the connection expires: hyper gives up a
/// connection that is still waiting for its first head only on an error.
#[derive(Debug)]
pub struct WatchedIo<T> {
    io: T,
    state: Arc<State>,
    /// Writes so far (this side is the only writer of `state.writes`).
    writes: u64,
    /// Until the first request head is in.
    first: Option<FirstHead>,
}

/// How far the client's first bytes have come.
#[derive(Debug)]
struct FirstHead {
    /// How many match the HTTP/2 preface; `None` once one does not.
    preface: Option<usize>,
    /// How many of the CR LF CR LF that ends a head were just read.
    blank: usize,
}

/// The end of a request head.
const BLANK: &[u8] = b"\r\n\r\n";

impl FirstHead {
    /// Follows `read`: `Some(true)` once it is the HTTP/2 preface, `Some(false)` once a head
    /// has ended, `None` while neither.
    fn follow(&mut self, read: &[u8]) -> Option<bool> {
        for &byte in read {
            if let Some(matched) = self.preface {
                self.preface = (byte == PREFACE[matched]).then_some(matched + 1);
                if self.preface == Some(PREFACE.len()) {
                    return Some(true);
                }
            }
            self.blank = if byte == BLANK[self.blank] {
                self.blank + 1
            } else {
                usize::from(byte == BLANK[0])
            };
            if self.blank == BLANK.len() {
                // The preface holds a blank line too.
                if self.preface.is_none() {
                    return Some(false);
                }
                self.blank = 0;
            }
        }
        None
    }
}

impl<T> WatchedIo<T> {
    fn wrote(&mut self) {
        self.writes += 1;
        self.state.writes.store(self.writes, Ordering::Relaxed);
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WatchedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.first.is_none() {
            return Pin::new(&mut self.io).poll_read(cx, buf);
        }
        if self.state.expired.load(Ordering::Acquire) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no request head within the idle limit",
            )));
        }
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.io).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(first)) = (&poll, &mut self.first)
            && let Some(http2) = first.follow(&buf.filled()[before..])
        {
            self.first = None;
            self.state.http2.store(http2, Ordering::Relaxed);
        }
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WatchedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.wrote();
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.wrote();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
