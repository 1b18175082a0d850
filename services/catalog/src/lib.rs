//! The shop's product catalog: products with exact prices and stock, a paginated listing with
//! a category filter, admin edits, and atomic stock reservation for orders.
//!
//! The catalog owns its database (SQLite by default, PostgreSQL by URL). On first start with
//! an empty database it seeds a demo catalog ([`seed`]), so the platform is useful at once.
//!
//! # Layout
//! - [`config`]: the typed settings ([`Config`]).
//! - [`domain`]: validated requests: products, prices, stock lines, list queries.
//! - [`store`]: sqlx storage; stock never goes below zero, even under concurrent orders.
//! - [`seed`]: the demo products.
//! - [`service`](mod@service): the `shop.catalog.v1.CatalogService` gRPC implementation ([`Catalog`]).
//! - [`error`]: the crate's error and its one mapping to `tonic::Status`.
//! - [`metrics`]: stock reservation failures, for the process's `/metrics`.
//!
//! Wiring: [`service`](fn@crate::service) opens and migrates the database and returns the
//! tonic service to mount in the kit's server builder; [`run`] serves it alone on a listener.

pub mod config;
pub mod domain;
pub mod error;
pub mod metrics;
pub mod seed;
pub mod service;
pub mod store;

use std::future::Future;

use protomesh::contracts::shop::catalog::v1::catalog_service_server::CatalogServiceServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

pub use config::Config;
pub use error::Error;
pub use service::Catalog;

/// The embedded migrations of the catalog's database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Opens (creating when missing) and migrates the database, seeds the demo catalog when it
/// is empty and `config.seed_demo` is set, and returns the gRPC service.
pub async fn service(config: &Config) -> Result<CatalogServiceServer<Catalog>, Error> {
    Ok(CatalogServiceServer::new(Catalog::open(config).await?))
}

/// [`service`](fn@crate::service), recording the catalog's metrics into `registry`: the
/// process's, which the kit's server serves on the admin port's `/metrics`.
pub async fn service_with_metrics(
    config: &Config,
    registry: &protomesh::metrics::Registry,
) -> Result<CatalogServiceServer<Catalog>, Error> {
    Ok(CatalogServiceServer::new(
        Catalog::open_with_metrics(config, registry).await?,
    ))
}

/// Serves the catalog on `listener` until `shutdown` completes, with plain tonic (no kit
/// layers: the verified caller must come from an outer layer for the admin and service RPCs).
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    let service = service(&config).await?;
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}
