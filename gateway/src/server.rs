//! Serving a tower service on a bound listener: HTTP/1.1 and HTTP/2 (h2c) on one port, with
//! graceful drain of open connections on shutdown and a time limit on idle HTTP/1.1
//! connections (so on request heads).

use std::{future::Future, io, time::Duration};

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::{rt::TokioIo, service::TowerToHyperService};
use protomesh::{
    config::server::DEFAULT_HEADER_READ_TIMEOUT,
    server::{
        drain::Connections,
        idle::{self, IdleLimit},
    },
};
use tokio::net::TcpListener;
use tower::ServiceExt as _;

use crate::upstream::BoxError;

/// A response body the server can write: chunks of `Bytes`, any boxable error.
pub trait ResponseBody:
    http_body::Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static
{
}

impl<B> ResponseBody for B where
    B: http_body::Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static
{
}

/// What the server serves: a cloneable tower service of HTTP requests (HTTP/1.1 or HTTP/2)
/// answering with a [`ResponseBody`], such as the gateway behind its layers.
pub trait HttpService<B: ResponseBody>:
    tower::Service<
        Request<Incoming>,
        Response = Response<B>,
        Error: Into<BoxError>,
        Future: Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S, B: ResponseBody> HttpService<B> for S where
    S: tower::Service<
            Request<Incoming>,
            Response = Response<B>,
            Error: Into<BoxError>,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// How long to wait after a failed accept before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// Time limits of [`serve_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// After shutdown, how long open connections get to finish; `None` waits for all of them.
    /// Past it, [`serve_with`] returns and the connections still open are left to the
    /// process's exit.
    pub drain_timeout: Option<Duration>,
    /// How long an HTTP/1.1 connection may write nothing (the kit's [`IdleLimit`]): it
    /// bounds both a client that sends a head slowly and a keep-alive connection left idle,
    /// which close between once and one and a quarter times this after their last response
    /// (a response in progress is finished first). By default the kit server's
    /// ([`DEFAULT_HEADER_READ_TIMEOUT`]).
    pub header_read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            drain_timeout: None,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
        }
    }
}

/// The client's address, added to every request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// Serves `service` on `listener` until `shutdown` resolves, then drains open connections.
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    S: HttpService<B>,
    B: ResponseBody,
{
    serve_with(listener, service, shutdown, Limits::default()).await
}

/// [`serve`] within `limits`.
pub async fn serve_with<S, B>(
    listener: TcpListener,
    service: S,
    shutdown: impl Future<Output = ()>,
    limits: Limits,
) -> io::Result<()>
where
    S: HttpService<B>,
    B: ResponseBody,
{
    let builder = idle::connection_builder();
    let idle = IdleLimit::new(limits.header_read_timeout);
    let connections = Connections::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors, say: waiting a moment rather than retrying
                        // at once keeps a persistent error from spinning the core.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let peer = PeerAddr(peer);
                let service = service.clone().map_request(move |mut request: Request<Incoming>| {
                    request.extensions_mut().insert(peer);
                    request
                });
                let (io, idle) = idle.watch(stream);
                let connection = builder
                    .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
                    .into_owned();
                let connection = connections.slot().with_idle(idle).watch(connection);
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    match limits.drain_timeout {
        None => connections.drain().await,
        Some(timeout) => {
            if tokio::time::timeout(timeout, connections.drain())
                .await
                .is_err()
            {
                tracing::warn!(
                    ?timeout,
                    "connections still open after the drain timeout; returning"
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
