//! The admin HTTP port: `/metrics` for Prometheus, `/healthz` for liveness, `/readyz` for
//! readiness (ready while the server's overall health is SERVING, so it turns false as soon
//! as draining starts).

use std::{future::Future, sync::Arc};

use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use tokio::net::TcpListener;
use tonic_health::{
    ServingStatus,
    pb::{HealthCheckRequest, health_check_response, health_server::Health},
    server::{HealthReporter, HealthService},
};

use crate::metrics::{CONTENT_TYPE, Registry};

/// What the admin handlers read.
#[derive(Clone)]
struct AdminState {
    /// Metrics to expose.
    registry: Registry,
    /// The server's health, read like any health client would.
    health: Arc<HealthService>,
}

/// The admin routes (`/metrics`, `/healthz`, `/readyz`) over `registry` and the health that
/// `reporter` sets.
pub(crate) fn router(registry: Registry, reporter: HealthReporter) -> Router {
    let state = AdminState {
        registry,
        health: Arc::new(HealthService::from_health_reporter(reporter)),
    };
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// Serves the admin routes on `listener` until `shutdown`, for a process that is not a kit
/// gRPC server (the REST gateway): `/metrics` renders `registry`, `/readyz` follows the
/// overall status (name `""`) in `reporter`. [`ServerBuilder`](super::ServerBuilder) serves
/// its own.
pub async fn serve_admin(
    listener: TcpListener,
    registry: Registry,
    reporter: HealthReporter,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(registry, reporter))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Every metric in the OpenMetrics text format.
async fn metrics(State(state): State<AdminState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        state.registry.encode(),
    )
}

/// 200 while the server (health name "") is SERVING, 503 otherwise.
async fn readyz(State(state): State<AdminState>) -> impl IntoResponse {
    let request = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    let serving = match state.health.check(request).await {
        Ok(response) => {
            response.into_inner().status == health_check_response::ServingStatus::Serving as i32
        }
        Err(_) => false,
    };
    if serving {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

/// Sets every name in `names` (and the overall name "") to `status`.
pub(crate) async fn set_all(reporter: &HealthReporter, names: &[&str], status: ServingStatus) {
    reporter.set_service_status("", status).await;
    for name in names {
        reporter.set_service_status(name, status).await;
    }
}
