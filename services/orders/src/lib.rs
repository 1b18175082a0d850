//! The shop's orders: placed from the caller's cart with a client-chosen request id (a retry
//! never makes a second order), priced and reserved at the catalog, cancelled while not final,
//! listed newest first, and watched as a stream of state changes.
//!
//! An order moves through an explicit state machine ([`domain::Status`]); a placement that
//! fails after stock was reserved releases it (compensation) and leaves no half-made order;
//! a background sweeper finishes what a crash left behind ([`sweep`]).
//!
//! # Layout
//! - [`config`]: the typed settings ([`Config`]).
//! - [`upstream`]: the one place that names the channel type to the cart and the catalog
//!   ([`Upstream`]).
//! - [`domain`]: the state machine and validated requests.
//! - [`store`]: sqlx storage; a unique (user, request id) makes creates idempotent.
//! - [`place`]: placing (with compensation) and cancelling.
//! - [`sweep`]: failing stale PENDING orders and retrying stock releases.
//! - [`watch`]: status events and the WatchOrder stream.
//! - [`service`](mod@service): the `shop.orders.v1.OrderService` gRPC implementation ([`Orders`]).
//! - [`error`]: the crate's error and its one mapping to `tonic::Status`.

pub mod config;
pub mod domain;
pub mod error;
pub mod place;
pub mod service;
pub mod store;
pub mod sweep;
pub mod upstream;
pub mod watch;

use std::future::Future;

use protomesh::contracts::shop::orders::v1::order_service_server::OrderServiceServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

pub use config::Config;
pub use error::Error;
pub use service::Orders;
pub use upstream::Upstream;

/// The embedded migrations of the orders database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Opens (creating when missing) and migrates the database, starts the sweeper, and returns
/// the service handle (keep a clone to call [`Orders::close`] on drain) and the gRPC service.
pub async fn service(
    config: &Config,
    cart: Upstream,
    catalog: Upstream,
) -> Result<(Orders, OrderServiceServer<Orders>), Error> {
    let orders = Orders::open(config, cart, catalog).await?;
    Ok((orders.clone(), OrderServiceServer::new(orders)))
}

/// Serves the orders service on `listener` until `shutdown` completes, with plain tonic (no
/// kit layers: every RPC needs the verified caller from an outer auth layer), reaching the
/// cart and the catalog at the configured URLs. Open watch streams end when shutdown starts.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    let cart = upstream::lazy(&config.cart_url)?;
    let catalog = upstream::lazy(&config.catalog_url)?;
    let (orders, service) = service(&config, cart, catalog).await?;
    let shutdown = async move {
        shutdown.await;
        orders.close();
    };
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}
