//! One endpoint's HTTP/2 connection: made on first use, made again after it closes, and
//! shared by every call to the endpoint (HTTP/2 multiplexes them).
//!
//! Calls go straight to hyper's HTTP/2 client. tonic's `Channel` puts a `tower::Buffer`
//! (a queue and a worker task) and three wrapper services in front of the same client; the
//! balancer already decides where each call goes, so it needs none of them.

use std::{
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use http::{HeaderValue, Request, Response, Uri, header::USER_AGENT, uri};
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tonic::body::Body;

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
    Call(#[source] hyper::Error),
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
    /// The open connection's request handle, if one is open.
    open: Mutex<Option<SendRequest<Body>>>,
    /// Held while connecting, so concurrent first calls make one connection.
    connecting: tokio::sync::Mutex<()>,
}

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
                connecting: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// Sends `request` (its URI a path) and returns the response head with its streaming body.
    pub(crate) async fn send(
        &self,
        mut request: Request<Body>,
    ) -> Result<Response<Body>, ConnectionError> {
        let inner = &*self.inner;
        let mut parts = std::mem::take(request.uri_mut()).into_parts();
        parts.scheme = Some(inner.scheme.clone());
        parts.authority = Some(inner.authority.clone());
        if parts.path_and_query.is_none() {
            parts.path_and_query = Some(uri::PathAndQuery::from_static("/"));
        }
        *request.uri_mut() = Uri::from_parts(parts).map_err(|e| ConnectionError::Connect {
            address: inner.address.clone(),
            source: e.into(),
        })?;
        request.headers_mut().entry(USER_AGENT).or_insert(AGENT);

        let mut sender = self.sender().await?;
        // A connection that closed since it was handed out fails here, before the request is
        // on it; the next call makes a new one.
        if let Err(error) = std::future::poll_fn(|cx| sender.poll_ready(cx)).await {
            self.forget(&sender);
            return Err(ConnectionError::Call(error));
        }
        match sender.send_request(request).await {
            Ok(response) => Ok(response.map(Body::new)),
            Err(error) => {
                if sender.is_closed() {
                    self.forget(&sender);
                }
                Err(ConnectionError::Call(error))
            }
        }
    }

    /// The open connection's handle, connecting first when none is open.
    async fn sender(&self) -> Result<SendRequest<Body>, ConnectionError> {
        if let Some(sender) = self.open_sender() {
            return Ok(sender);
        }
        let _connecting = self.inner.connecting.lock().await;
        if let Some(sender) = self.open_sender() {
            return Ok(sender);
        }
        let sender = tokio::time::timeout(self.inner.settings.connect_timeout, self.connect())
            .await
            .unwrap_or_else(|_| Err("connect timed out".into()))
            .map_err(|source| ConnectionError::Connect {
                address: self.inner.address.clone(),
                source,
            })?;
        *lock(&self.inner.open) = Some(sender.clone());
        Ok(sender)
    }

    fn open_sender(&self) -> Option<SendRequest<Body>> {
        let mut open = lock(&self.inner.open);
        match &*open {
            Some(sender) if !sender.is_closed() => Some(sender.clone()),
            Some(_) => {
                *open = None;
                None
            }
            None => None,
        }
    }

    /// Drops `sender`'s connection from use (a later call connects anew).
    fn forget(&self, sender: &SendRequest<Body>) {
        let mut open = lock(&self.inner.open);
        if open
            .as_ref()
            .is_some_and(|current| current.is_closed() || sender.is_closed())
        {
            *open = None;
        }
    }

    async fn connect(&self) -> Result<SendRequest<Body>, BoxError> {
        let settings = self.inner.settings;
        let stream = tokio::net::TcpStream::connect(self.inner.address.as_str()).await?;
        stream.set_nodelay(true)?;
        let mut builder = http2::Builder::new(TokioExecutor::new());
        builder.timer(TokioTimer::new());
        builder
            .keep_alive_interval(settings.keepalive_interval)
            .keep_alive_timeout(settings.keepalive_timeout);
        let (sender, connection) = builder.handshake(TokioIo::new(stream)).await?;
        let address = self.inner.address.clone();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%address, %error, "connection closed");
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

/// Locks a mutex, ignoring poisoning (the guarded handle stays consistent on panic).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
