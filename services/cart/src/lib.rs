//! The shop's carts: one per signed-in user, holding product ids and quantities, priced from
//! the catalog on every read.
//!
//! A caller only ever reads and changes their own cart: the user id comes from the verified
//! [`protomesh::auth::Principal`], never from the request.
//!
//! # Layout
//! - [`config`]: the typed settings ([`Config`]).
//! - [`upstream`]: the one place that names the channel type to the catalog ([`Upstream`]).
//! - [`domain`]: validated cart changes.
//! - [`store`]: sqlx storage of cart lines.
//! - [`service`](mod@service): the `shop.cart.v1.CartService` gRPC implementation ([`Cart`]).
//! - [`error`]: the crate's error and its one mapping to `tonic::Status`.

pub mod config;
pub mod domain;
pub mod error;
pub mod service;
pub mod store;
pub mod upstream;

use std::future::Future;

use protomesh::contracts::shop::cart::v1::cart_service_server::CartServiceServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

pub use config::Config;
pub use error::Error;
pub use service::Cart;
pub use upstream::Upstream;

/// The embedded migrations of the cart database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Opens (creating when missing) and migrates the database and returns the gRPC service,
/// calling the catalog through `catalog`.
pub async fn service(config: &Config, catalog: Upstream) -> Result<CartServiceServer<Cart>, Error> {
    Ok(CartServiceServer::new(Cart::open(config, catalog).await?))
}

/// Serves the cart on `listener` until `shutdown` completes, with plain tonic (no kit layers:
/// every RPC needs the verified caller from an outer auth layer), reaching the catalog at
/// `config.catalog_url`.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    let catalog = upstream::lazy(&config.catalog_url)?;
    let service = service(&config, catalog).await?;
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}
