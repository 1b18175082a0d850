//! The shop's user accounts: registration, login with argon2id-hashed passwords, signed
//! access tokens, and the public keys every other service verifies those tokens with.
//!
//! The users service is the platform's only token issuer: it holds the private Ed25519 key
//! ([`protomesh::auth::SigningKey`]) and publishes the public halves through
//! `ListSigningKeys`. An admin account is created at start when [`Config::admin`] is set.
//!
//! # Layout
//! - [`config`]: the typed settings ([`Config`], [`AdminAccount`]).
//! - [`domain`]: validated emails, passwords, display names and roles.
//! - [`password`]: argon2id hashing and verification, off the async threads.
//! - [`store`]: sqlx storage; emails are unique case-insensitively.
//! - [`service`](mod@service): the `shop.users.v1.UserService` gRPC implementation ([`Users`]).
//! - [`error`]: the crate's error and its one mapping to `tonic::Status`.

pub mod config;
pub mod domain;
pub mod error;
pub mod password;
pub mod service;
pub mod store;

use std::future::Future;

use protomesh::contracts::shop::users::v1::user_service_server::UserServiceServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

pub use config::{AdminAccount, Config};
pub use error::Error;
pub use service::Users;

/// The embedded migrations of the users database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Opens (creating when missing) and migrates the database, creates the configured admin
/// when missing, and returns the gRPC service.
pub async fn service(config: &Config) -> Result<UserServiceServer<Users>, Error> {
    Ok(UserServiceServer::new(Users::open(config).await?))
}

/// Serves the users service on `listener` until `shutdown` completes, with plain tonic (no
/// kit layers: `GetCurrentUser` needs the verified caller from an outer auth layer).
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
