//! One endpoint's HTTP/2 connection: made on first use, made again once it closes, and
//! shared by every call to the endpoint (HTTP/2 multiplexes them).
//!
//! Calls go straight onto the `h2` connection from the calling task. tonic's `Channel` (and
//! hyper's client under it) hand each call through a queue to a worker task, then to a
//! dispatch task that spawns one more task per call to wait for its response; the balancer
//! already decides where each call goes, so it needs none of that. A unary request's one
//! frame is sent at once; a streaming request body is piped by a task of its own, within the
//! stream's flow-control window.

mod body;

use std::{
    pin::Pin,
    sync::{Arc, Mutex, atomic::AtomicUsize},
    task::{Context, Poll, Waker},
    time::Duration,
};

use bytes::Bytes;
use h2::client::SendRequest;
use http::{HeaderValue, Request, Response, Uri, header::USER_AGENT, uri};
use http_body::Body as _;
use tonic::body::Body;

use crate::sync::lock;

use body::{OpenStream, RecvBody};

/// The boxed error inside a [`ConnectionError`].
type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How an endpoint's connection is made and kept.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionSettings {
    /// How long a TCP connect plus HTTP/2 handshake may take.
    pub(crate) connect_timeout: Duration,
    /// How often to ping the server while calls are open.
    pub(crate) keepalive_interval: Duration,
    /// How long a ping may go unanswered before the connection is closed.
    pub(crate) keepalive_timeout: Duration,
}

impl ConnectionSettings {
    /// Settings for a connection that is never used (tests and benchmarks of the balancer).
    pub(crate) fn unused() -> Self {
        Self {
            connect_timeout: Duration::from_secs(1),
            keepalive_interval: Duration::from_secs(60),
            keepalive_timeout: Duration::from_secs(20),
        }
    }
}

/// Why a call on a [`Connection`] failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectionError {
    /// No connection could be made: the request was not sent.
    #[error("connect to {address}: {source}")]
    Connect {
        /// The endpoint's address.
        address: String,
        /// What failed.
        #[source]
        source: BoxError,
    },
    /// The connection failed with the request on it.
    #[error("{0}")]
    Call(#[source] h2::Error),
    /// The reply's head arrived, then its body failed before its end.
    #[error("reply cut off: {0}")]
    Reply(#[source] tonic::Status),
}

/// A connection ready for one call ([`Connection::ready`]), the call counted as open on it.
#[derive(Debug)]
pub(crate) struct Ready {
    sender: SendRequest<Bytes>,
    open: OpenStream,
}

/// A lazily made, shared HTTP/2 connection to one address (cheap to clone).
#[derive(Debug, Clone)]
pub(crate) struct Connection {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// `host:port`, as connected to.
    address: String,
    /// The scheme and authority every request is sent with.
    scheme: uri::Scheme,
    authority: uri::Authority,
    settings: ConnectionSettings,
    /// The current connection's request handle and its generation, once one is made.
    open: Mutex<Option<(u64, SendRequest<Bytes>)>>,
    /// Held while connecting, so concurrent callers make one connection.
    connecting: tokio::sync::Mutex<Attempts>,
    /// Calls whose response is not yet read to the end (keepalive pings only while some are).
    streams: Arc<AtomicUsize>,
}

/// What the connect attempts so far came to.
#[derive(Debug, Default)]
struct Attempts {
    /// Connections made.
    generation: u64,
    /// When the last attempt failed, and why.
    failed: Option<(tokio::time::Instant, String)>,
}

/// The receive window of each call's response.
const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
/// The receive window of the whole connection.
const CONNECTION_WINDOW: u32 = 5 * 1024 * 1024;

/// The `user-agent` sent with every call.
const AGENT: HeaderValue =
    HeaderValue::from_static(concat!("protomesh/", env!("CARGO_PKG_VERSION")));

impl Connection {
    /// A connection to `address` (`host:port` or `http://host:port`), made when the first
    /// call needs it. Fails on anything else (a path, another scheme).
    pub(crate) fn lazy(address: &str, settings: ConnectionSettings) -> Result<Self, BoxError> {
        let uri: Uri = crate::discovery::http_uri(address).parse()?;
        if uri.scheme() != Some(&uri::Scheme::HTTP) {
            return Err(format!("{address}: only http:// endpoints are supported").into());
        }
        if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
            return Err(format!("{address}: an endpoint address has no path").into());
        }
        let authority = uri.authority().cloned().ok_or("no host")?;
        let port = authority.port_u16().unwrap_or(80);
        Ok(Self {
            inner: Arc::new(Inner {
                address: format!("{}:{port}", authority.host()),
                scheme: uri::Scheme::HTTP,
                authority,
                settings,
                open: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(Attempts::default()),
                streams: Arc::new(AtomicUsize::new(0)),
            }),
        })
    }

    /// Sends `request` (its URI a path) and returns the response head with its streaming body.
    pub(crate) async fn send(
        &self,
        request: Request<Body>,
    ) -> Result<Response<Body>, ConnectionError> {
        let ready = self.ready().await?;
        self.send_on(ready, request).await
    }

    /// The connection, made or made again if need be, ready to take a call. Fails only with
    /// [`ConnectionError::Connect`]: nothing has been sent.
    pub(crate) async fn ready(&self) -> Result<Ready, ConnectionError> {
        let (sender, open) = self.ready_sender().await?;
        Ok(Ready { sender, open })
    }

    /// Sends `request` (its URI a path) on `ready`; the future returns the response head with
    /// its streaming body.
    ///
    /// The request goes onto the connection now, before the future is polled, so the future
    /// holds only what waits for the response: a caller's call future, which holds this one,
    /// stays small (an `async fn` would keep the request and its parts across the wait).
    pub(crate) fn send_on(
        &self,
        ready: Ready,
        request: Request<Body>,
    ) -> impl Future<Output = Result<Response<Body>, ConnectionError>> + Send + 'static + use<>
    {
        let sent = self.start(ready, request);
        async move {
            let (response, open) = sent?;
            let response = response.await.map_err(ConnectionError::Call)?;
            Ok(response.map(|recv| Body::new(RecvBody::new(recv, open))))
        }
    }

    /// Puts `request` on the connection: its head, and its one frame when that is ready and
    /// ends the body (the common unary case); any other body is piped by a task of its own as
    /// the window allows.
    fn start(
        &self,
        ready: Ready,
        request: Request<Body>,
    ) -> Result<(h2::client::ResponseFuture, OpenStream), ConnectionError> {
        let inner = &*self.inner;
        let Ready { mut sender, open } = ready;
        let (mut parts, mut body) = request.into_parts();
        let mut uri = std::mem::take(&mut parts.uri).into_parts();
        uri.scheme = Some(inner.scheme.clone());
        uri.authority = Some(inner.authority.clone());
        if uri.path_and_query.is_none() {
            uri.path_and_query = Some(uri::PathAndQuery::from_static("/"));
        }
        parts.uri = Uri::from_parts(uri).map_err(|e| self.connect_error(e.into()))?;
        parts.headers.entry(USER_AGENT).or_insert(AGENT);
        // HTTP/2 carries the version itself; h2 refuses requests that name another.
        parts.version = http::Version::HTTP_2;

        let end = body.is_end_stream();
        let (response, mut stream) = sender
            .send_request(Request::from_parts(parts, ()), end)
            .map_err(ConnectionError::Call)?;
        if !end {
            // Polled without a waker: a body not ready yet is polled again, with the pipe
            // task's, by the pipe.
            let first = Pin::new(&mut body).poll_frame(&mut Context::from_waker(Waker::noop()));
            match first {
                Poll::Ready(Some(Ok(frame))) if frame.is_data() && body.is_end_stream() => {
                    let data = frame.into_data().unwrap_or_default();
                    // A failure here shows on the response too.
                    let _ = stream.send_data(data, true);
                }
                first => {
                    tokio::spawn(body::pipe(first, body, stream));
                }
            }
        }
        Ok((response, open))
    }

    fn connect_error(&self, source: BoxError) -> ConnectionError {
        ConnectionError::Connect {
            address: self.inner.address.clone(),
            source,
        }
    }

    /// A request handle ready for a new stream, with the stream counted as open. A closed
    /// connection is noticed here, before the request is on it, and replaced.
    async fn ready_sender(&self) -> Result<(SendRequest<Bytes>, OpenStream), ConnectionError> {
        let cached = lock(&self.inner.open).clone();
        let failed = match cached {
            Some((generation, sender)) => match sender.ready().await {
                Ok(sender) => return Ok((sender, self.stream_guard())),
                Err(_) => Some(generation),
            },
            None => None,
        };
        // Boxed: connecting is rare, and its future (a lock, a TCP connect and an HTTP/2
        // handshake) would otherwise make every call's future larger.
        Box::pin(self.reconnect(failed)).await
    }

    /// Makes the connection again (or waits for another caller who does), unless
    /// `failed` (the generation found closed, if one was) has been replaced meanwhile.
    async fn reconnect(
        &self,
        failed: Option<u64>,
    ) -> Result<(SendRequest<Bytes>, OpenStream), ConnectionError> {
        let asked = tokio::time::Instant::now();
        let mut attempts = self.inner.connecting.lock().await;
        // A caller that waited while an attempt failed gets that failure, rather than every
        // waiting caller spending another connect timeout in turn.
        if let Some((at, why)) = &attempts.failed
            && *at >= asked
        {
            return Err(self.connect_error(why.clone().into()));
        }
        // Another caller may have connected while this one waited.
        let cached = lock(&self.inner.open).clone();
        if let Some((current, sender)) = cached
            && Some(current) != failed
            && let Ok(sender) = sender.ready().await
        {
            return Ok((sender, self.stream_guard()));
        }
        let made = tokio::time::timeout(self.inner.settings.connect_timeout, self.connect())
            .await
            .unwrap_or_else(|_| Err("connect timed out".into()));
        let sender = match made {
            Ok(sender) => sender,
            Err(source) => {
                *lock(&self.inner.open) = None;
                attempts.failed = Some((tokio::time::Instant::now(), source.to_string()));
                return Err(self.connect_error(source));
            }
        };
        attempts.generation += 1;
        attempts.failed = None;
        *lock(&self.inner.open) = Some((attempts.generation, sender.clone()));
        let sender = sender.ready().await.map_err(ConnectionError::Call)?;
        Ok((sender, self.stream_guard()))
    }

    fn stream_guard(&self) -> OpenStream {
        OpenStream::new(self.inner.streams.clone())
    }

    async fn connect(&self) -> Result<SendRequest<Bytes>, BoxError> {
        let settings = self.inner.settings;
        let stream = tokio::net::TcpStream::connect(self.inner.address.as_str()).await?;
        stream.set_nodelay(true)?;
        // hyper's client defaults (and so tonic's): windows that keep a large reply flowing
        // without a round trip per 64 KiB, and no server push, which gRPC does not use.
        let (sender, mut connection) = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .enable_push(false)
            .handshake(stream)
            .await?;
        let ping = connection.ping_pong();
        // One count for the endpoint: only its current connection takes new calls.
        let open = self.inner.streams.clone();
        let address = self.inner.address.clone();
        tokio::spawn(async move {
            let keepalive = async {
                match ping {
                    Some(ping) => body::keepalive(ping, open, settings).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                result = connection => {
                    if let Err(error) = result {
                        tracing::debug!(%address, %error, "connection closed");
                    }
                }
                () = keepalive => {
                    tracing::debug!(%address, "keepalive ping unanswered; connection closed");
                }
            }
        });
        Ok(sender)
    }
}

impl tower::Service<Request<Body>> for Connection {
    type Response = Response<Body>;
    type Error = ConnectionError;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<Response<Body>, ConnectionError>> + Send + 'static>,
    >;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ConnectionError>> {
        // Every call connects (or waits for the connection) itself.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.send(request).await })
    }
}

#[cfg(test)]
mod tests;
