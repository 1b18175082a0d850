//! protomesh: a gRPC-first microservices platform kit.
//!
//! The root crate holds the contracts (generated from `proto/`) and, as the platform grows,
//! the kit every service is built with: server, client, discovery, telemetry, auth, config.
//!
//! # Layout
//! - [`contracts`]: generated messages, clients and servers, one module per proto package.
//! - [`FILE_DESCRIPTOR_SET`]: the encoded descriptors of every contract.

pub mod contracts;

pub use contracts::FILE_DESCRIPTOR_SET;
