//! protomesh: a gRPC-first microservices platform kit.
//!
//! The root crate holds the contracts (generated from `proto/`) and the kit every service is
//! built with: server, client, discovery, telemetry, auth, config.
//!
//! # Layout
//! - [`contracts`]: generated messages, clients and servers, one module per proto package.
//! - [`FILE_DESCRIPTOR_SET`]: the encoded descriptors of every contract.
//! - [`server`]: the production server builder and its lifecycle seams.
//! - [`config`]: layered, typed settings.
//! - [`error`]: `tonic::Status` with google.rpc details, safe internal errors.
//! - [`metrics`]: the Prometheus registry handle and the gRPC metric families.
//! - [`auth`]: caller identity and access policy.
//! - [`telemetry`]: logs, trace spans per call, OTLP export.
//! - [`client`]: the balanced, health-aware, retrying client channel.
//! - [`discovery`]: where a client's endpoints come from (static, DNS, registry), and the
//!   registry announcer servers use.

pub mod auth;
pub mod client;
pub mod config;
pub mod contracts;
pub mod discovery;
pub mod error;
pub mod metrics;
pub mod server;
mod sync;
pub mod telemetry;
pub mod wire;

pub use contracts::FILE_DESCRIPTOR_SET;
