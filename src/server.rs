//! Server side of the kit: turns tonic services into a production server.
//!
//! [`ServerBuilder`] wires any generated tonic server behind one stack of tower layers
//! (metrics, load shedding, deadlines, auth, message size; a tracing slot) and adds
//! grpc.health.v1, reflection v1 and v1alpha, an admin HTTP port (`/metrics`, `/healthz`,
//! `/readyz`), TLS or mutual TLS by configuration, and an ordered drain on shutdown.
//!
//! ```no_run
//! use protomesh::auth::AuthLayer;
//! use protomesh::config::ServerConfig;
//! use protomesh::contracts::protomesh::registry::v1::registry_service_server::{
//!     RegistryService, RegistryServiceServer,
//! };
//! use protomesh::server::{ServerBuilder, ServerError, bind, shutdown_signal};
//!
//! async fn run(
//!     registry: impl RegistryService,
//!     config: ServerConfig,
//!     auth: AuthLayer,
//! ) -> Result<(), ServerError> {
//!     let (listener, admin) = bind(&config).await?;
//!     ServerBuilder::new(config)
//!         .auth(auth)
//!         .add_service(RegistryServiceServer::new(registry))
//!         .serve(listener, admin, shutdown_signal())
//!         .await
//! }
//! ```
//!
//! Handlers read the call's deadline with [`Deadline::of`].
//!
//! # Layout
//! - [`builder`]: [`ServerBuilder`] and the drain sequence.
//! - [`announce`]: how a server tells discovery it is up, and that it is leaving.
//! - [`deadline`]: [`Deadline`] and the `grpc-timeout` format.
//! - [`drain`]: a port's open connections, told to finish when it drains.
//! - [`idle`]: [`IdleLimit`](idle::IdleLimit), the time limit on idle HTTP/1.1 connections
//!   (so on request heads).
//! - [`signal`]: [`shutdown_signal`] (SIGTERM or ctrl-c).
//! - [`error`] holds [`ServerError`].
//! - [`grpc`]: what the generated servers run a method with (tonic's `server::Grpc`, with a
//!   leaner path for unary calls).
//! - `stack`: the layers, in order, with why each stands where it does; `observe` (metrics),
//!   `shed`, `timeout`, `limit`, `methods` (method kinds and labels), `admin`, `tls`, `cut`
//!   (connections the drain bound can cut), `listen` (the port's connections, on hyper),
//!   `dispatch` (the router), `shared` ([`SharedService`], the boxed stack a front layer gets).

pub mod announce;
pub mod builder;
pub mod deadline;
pub mod drain;
pub mod error;
pub mod grpc;
pub mod idle;
pub mod signal;

mod admin;
mod cut;
mod dispatch;
mod limit;
mod listen;
mod methods;
mod observe;
mod shared;
mod shed;
mod stack;
mod timeout;
mod tls;

use tokio::net::TcpListener;

pub use admin::serve_admin;
pub use announce::Announcer;
pub use builder::{ServerBuilder, Stack};
pub use deadline::Deadline;
pub use dispatch::RoutedService;
pub use error::ServerError;
pub use listen::PeerCertificates;
pub use shared::{CallFuture, SharedService};
pub use signal::shutdown_signal;
pub use tonic_health::server::HealthReporter;

use crate::config::ServerConfig;

/// Binds the gRPC listener at `config.listen_addr` and the admin listener at
/// `config.admin_addr` (when set), for [`ServerBuilder::serve`].
pub async fn bind(
    config: &ServerConfig,
) -> Result<(TcpListener, Option<TcpListener>), ServerError> {
    let grpc = TcpListener::bind(config.listen_addr)
        .await
        .map_err(ServerError::Listener)?;
    let admin = match config.admin_addr {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(ServerError::Listener)?,
        ),
        None => None,
    };
    Ok((grpc, admin))
}
