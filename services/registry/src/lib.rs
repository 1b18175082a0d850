//! protomesh-registry: the embedded service registry.
//!
//! Instances register (service, instance id, address, metadata) and get a lease with a TTL;
//! they renew it by heartbeat and deregister when they drain. A lease that expires, or an
//! instance that fails the registry's own grpc.health.v1 checks a configured number of times
//! in a row, is removed. `Watch(service)` streams a full snapshot, then every change. State
//! lives in memory: after a restart, instances come back within one TTL, because their
//! heartbeats get NOT_FOUND and they register again.
//!
//! # Layout
//! - [`config`]: [`RegistryConfig`] and its defaults.
//! - [`store`]: the in-memory lease store.
//! - [`service`]: the gRPC service.
//! - `checker`: the active health checks.
//! - [`error`]: [`RegistryError`] and its gRPC status.
//! - [`run`]: serve on a bound listener until a shutdown future completes.

mod checker;
pub mod config;
pub mod error;
pub mod service;
pub mod store;

use std::{future::Future, sync::Arc};

use protomesh::contracts::protomesh::registry::v1::registry_service_server::RegistryServiceServer;
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};
use tonic::transport::{Server, server::TcpIncoming};

pub use config::RegistryConfig;
pub use error::RegistryError;
pub use service::RegistryService;
pub use store::Store;

/// Aborts a background task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Serves the registry (and grpc.health.v1) on `listener` until `shutdown` completes; open
/// watch streams then end and in-flight calls finish.
pub async fn run(
    listener: TcpListener,
    config: RegistryConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RegistryError> {
    let store = Arc::new(Store::new(&config));
    let (stop, stopped) = watch::channel(false);

    let sweeper = {
        let store = store.clone();
        let interval = config.sweep_interval;
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            loop {
                ticker.tick().await;
                let expired = store.expire();
                if expired > 0 {
                    tracing::info!(expired, "leases expired");
                }
            }
        })
    };
    let _sweeper = AbortOnDrop(sweeper);
    let _checker = config
        .health_checks
        .then(|| AbortOnDrop(tokio::spawn(checker::run(store.clone(), config.clone()))));

    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<RegistryServiceServer<RegistryService>>()
        .await;
    let registry = RegistryServiceServer::new(RegistryService::new(store, stopped));

    Server::builder()
        .add_service(health_service)
        .add_service(registry)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), async move {
            shutdown.await;
            let _ = stop.send(true);
        })
        .await?;
    Ok(())
}
