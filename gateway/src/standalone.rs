//! The standalone gateway process: a gateway service ([`crate::Gateway`] or
//! [`crate::live::LiveGateway`]) behind [`ObserveLayer`], `grpc.health.v1` on the front door
//! (add [`health`]'s service to the upstreams), the kit's admin port (`/metrics`, `/healthz`, `/readyz`) and the kit's drain
//! sequence: on shutdown, health turns `NOT_SERVING` (so `/readyz` answers 503 and load
//! balancers stop sending), the grace period passes, the listener closes, and requests in flight
//! get up to the drain timeout to finish.

use std::{future::Future, io, time::Duration};

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use protomesh::{
    metrics::Registry,
    server::{HealthReporter, serve_admin},
};
use tokio::net::TcpListener;
use tonic_health::ServingStatus;
use tower::Layer as _;

use crate::{HttpMetrics, ObserveLayer, Upstream, server, upstream, upstream::BoxError};

/// The gRPC name of the health service [`health`] gives, for [`crate::Upstreams::with_service`].
pub const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

/// The gRPC health service name the gateway reports under (the empty name: the whole process).
const OVERALL: &str = "";

/// How the standalone gateway leaves on shutdown.
#[derive(Debug, Clone, Copy)]
pub struct Drain {
    /// Time between turning `NOT_SERVING` and closing the listener.
    pub grace_period: Duration,
    /// Bound on waiting for requests in flight once the listener is closed.
    pub timeout: Duration,
}

/// The gateway process's health: the reporter [`serve`] drives, and the `grpc.health.v1`
/// service reading it, to mount as the upstream of [`HEALTH_SERVICE`].
pub fn health() -> (HealthReporter, Upstream) {
    let (reporter, service) = tonic_health::server::health_reporter();
    (reporter, upstream(service))
}

/// Serves `gateway` on `listener` and, when given, the admin routes on `admin`, until
/// `shutdown` resolves; then drains as the [module docs](self) say. `reporter` (from
/// [`health`]) turns `SERVING` now and `NOT_SERVING` on shutdown; metrics go to `registry`.
pub async fn serve<S, B>(
    listener: TcpListener,
    admin: Option<TcpListener>,
    gateway: S,
    reporter: HealthReporter,
    registry: Registry,
    drain: Drain,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()>
where
    S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let metrics = HttpMetrics::register(&registry);
    reporter
        .set_service_status(OVERALL, ServingStatus::Serving)
        .await;
    let service = ObserveLayer::new(metrics).layer(gateway);

    let (admin_stop, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    let admin_task = admin.map(|listener| {
        let stopped = async {
            let _ = admin_stopped.await;
        };
        tokio::spawn(serve_admin(listener, registry, reporter.clone(), stopped))
    });

    let leaving = async {
        shutdown.await;
        reporter
            .set_service_status(OVERALL, ServingStatus::NotServing)
            .await;
        tracing::info!(grace = ?drain.grace_period, "not serving; draining");
        tokio::time::sleep(drain.grace_period).await;
    };
    let result = server::serve_draining(listener, service, leaving, Some(drain.timeout)).await;
    let _ = admin_stop.send(());
    if let Some(task) = admin_task {
        let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
    }
    result
}
