//! Integration tests of the platform kit against real servers on 127.0.0.1.
//!
//! # Layout
//! - `support`: a test service, a server spawner, small clients (health, HTTP).
//! - `client_metrics`: the balanced client's metrics in its process's `/metrics`, and every
//!   name of deploy/metrics.txt there.
//! - `server_auth`: the auth layer in the stack (refusals counted, roles pass).
//! - `server_basics`: health, reflection v1 and v1alpha, error details over the wire.
//! - `server_drain`: the drain order, in-flight calls during drain, the drain bound.
//! - `server_metrics`: `/metrics` counts by code (unary and streaming), `/healthz`, `/readyz`.
//! - `server_limits`: deadlines, load shedding, message size.
//! - `server_tls`: TLS and mutual TLS refusal.
//! - `server_tracing`: every call opens a server span.
//! - `config`: layering and errors naming the bad setting.

mod client_metrics;
mod config;
mod server_auth;
mod server_basics;
mod server_drain;
mod server_limits;
mod server_metrics;
mod server_tls;
mod server_tracing;
mod support;
