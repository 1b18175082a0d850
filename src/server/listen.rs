//! The gRPC port's connections, served by hyper directly: HTTP/2 (and HTTP/1.1 when a front
//! layer is set), TLS when configured, each connection on its own task and every one of them
//! told to finish (GOAWAY) once the listener closes.
//!
//! tonic's `transport::Server` would wrap the stack in layers of its own (a second
//! `grpc-timeout` deadline, error recovery, a boxed body per request); the kit's stack already
//! does each of those, so connections go to it with nothing in between.

use std::{future::Future, io, sync::Arc, time::Duration};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio_rustls::{TlsAcceptor, rustls::pki_types::CertificateDer};
use tokio_stream::{Stream, StreamExt as _};
use tonic::{body::Body, transport::server::TcpConnectInfo};
use tower::{BoxError, Service, ServiceExt as _};

use super::{
    cut::CuttableIo,
    drain::Connections,
    idle::{self, IdleLimit},
};

/// How long to wait after a failed accept before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// How long a client may take over the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The certificate chain a client presented over mutual TLS, in the extensions of each of
/// its requests (leaf first).
#[derive(Debug, Clone)]
pub struct PeerCertificates(pub Arc<Vec<CertificateDer<'static>>>);

/// How connections are served.
pub(crate) struct Listen {
    /// TLS, when configured.
    pub(crate) tls: Option<TlsAcceptor>,
    /// Whether HTTP/1.1 is answered besides HTTP/2.
    pub(crate) http1: bool,
    /// How long a connection that is not HTTP/2 may write nothing (see [`IdleLimit`]).
    pub(crate) header_read_timeout: Duration,
}

impl Listen {
    /// Serves `service` on each connection of `incoming` until `close` completes, then closes
    /// the listener (by dropping `incoming`), asks every open connection to finish, and
    /// returns once all have.
    pub(crate) async fn serve<S>(
        self,
        service: S,
        incoming: impl Stream<Item = io::Result<CuttableIo>>,
        close: impl Future<Output = ()>,
    ) where
        S: Service<Request<Body>, Response = Response<Body>, Error = BoxError>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        let mut builder = idle::connection_builder();
        if !self.http1 {
            builder = builder.http2_only();
        }
        builder.http2().timer(TokioTimer::new());
        let idle = IdleLimit::new(self.header_read_timeout);
        let builder = Arc::new(builder);
        let connections = Connections::new();
        // Boxed rather than pinned in place, so dropping it closes the listener.
        let mut incoming = Box::pin(incoming);
        tokio::pin!(close);
        loop {
            let io = tokio::select! {
                () = &mut close => break,
                next = incoming.next() => match next {
                    None => break,
                    Some(Ok(io)) => io,
                    Some(Err(e)) => {
                        // Out of file descriptors, say: waiting a moment rather than retrying
                        // at once keeps a persistent error from spinning the core.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                },
            };
            let info = TcpConnectInfo {
                local_addr: io.local_addr(),
                remote_addr: io.peer_addr(),
            };
            let (builder, service) = (builder.clone(), service.clone());
            match &self.tls {
                None => {
                    let service = connection_service(service, info, None);
                    let (io, idle) = idle.watch(io);
                    let connection = builder.serve_connection(TokioIo::new(io), service);
                    let slot = connections.slot().with_idle(idle);
                    tokio::spawn(finish(slot.watch(connection.into_owned())));
                }
                Some(tls) => {
                    let tls = tls.clone();
                    // Taken now: a drain waits for the handshake too.
                    let slot = connections.slot();
                    tokio::spawn(async move {
                        let stream =
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(io)).await {
                                Ok(Ok(stream)) => stream,
                                Ok(Err(e)) => {
                                    tracing::debug!(error = %e, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!("TLS handshake timed out");
                                    return;
                                }
                            };
                        let certs = stream
                            .get_ref()
                            .1
                            .peer_certificates()
                            .map(|certs| PeerCertificates(Arc::new(certs.to_vec())));
                        let service = connection_service(service, info, certs);
                        let (io, idle) = idle.watch(stream);
                        let connection = builder.serve_connection(TokioIo::new(io), service);
                        finish(slot.with_idle(idle).watch(connection.into_owned())).await;
                    });
                }
            }
        }
        drop(incoming);
        connections.drain().await;
    }
}

/// `service` as one connection's hyper service: each request's body boxed as tonic's, and
/// the connection's addresses (and client certificates) in its extensions, where
/// `tonic::Request::remote_addr` finds them.
fn connection_service<S>(
    service: S,
    info: TcpConnectInfo,
    certs: Option<PeerCertificates>,
) -> TowerToHyperService<
    impl Service<Request<Incoming>, Response = Response<Body>, Error = BoxError, Future: Send> + Clone,
>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = BoxError> + Clone,
    S::Future: Send,
{
    TowerToHyperService::new(service.map_request(move |request: Request<Incoming>| {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(info.clone());
        if let Some(certs) = &certs {
            request.extensions_mut().insert(certs.clone());
        }
        request
    }))
}

/// Runs one connection to its end; its errors (a client going away mid-call) are only logged.
async fn finish<E: std::fmt::Display>(connection: impl Future<Output = Result<(), E>>) {
    if let Err(e) = connection.await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
