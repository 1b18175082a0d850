//! Prometheus metrics: one registry handle per process, and the gRPC metric families.
//!
//! A process makes one [`Registry`], hands clones to its server and its balanced clients,
//! and serves [`Registry::encode`] on the admin port's `/metrics`. No global state: the
//! handle is a cheap clone of an `Arc`.
//!
//! # Layout
//! - [`server`]: the `grpc_server_*` families and their bounded labels.
//! - [`client`]: the `grpc_client_*` and `protomesh_client_*` families of balanced clients.
//! - [`codes`]: gRPC code label values.
//! - `body`: where a call's status is (headers or trailers), for both sides.

pub(crate) mod body;
pub mod client;
pub mod codes;
pub mod server;

use std::sync::{Arc, Mutex, OnceLock};

use prometheus_client::{collector::Collector, encoding::text::encode, registry::Metric};

pub use client::ClientMetrics;
pub use server::ServerMetrics;

/// The content type of [`Registry::encode`]'s output (OpenMetrics text, which Prometheus
/// scrapes natively).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A shared Prometheus registry. Clones share the same metrics.
#[derive(Clone, Default)]
pub struct Registry {
    /// The registry; locked only to register and to encode, never per call.
    inner: Arc<Mutex<prometheus_client::registry::Registry>>,
    /// The client families, registered by the first client that records here.
    client: Arc<OnceLock<ClientMetrics>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers one metric family. Counters get the `_total` suffix on output, so pass
    /// `grpc_server_started` for `grpc_server_started_total`.
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        self.lock().register(name, help, metric);
    }

    /// Registers a collector, asked for its metrics at every [`encode`](Self::encode).
    pub fn register_collector(&self, collector: Box<dyn Collector>) {
        self.lock().register_collector(collector);
    }

    /// The client metric families of this registry, registered on first use, so every
    /// balanced client of a process shares one set of families.
    pub fn client_metrics(&self) -> ClientMetrics {
        self.client
            .get_or_init(|| ClientMetrics::register(self))
            .clone()
    }

    /// Every registered metric, in the OpenMetrics text format ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.lock()).expect("writing to a String cannot fail");
        out
    }

    /// The registry, even if a panicking thread poisoned the lock (metrics stay usable).
    fn lock(&self) -> std::sync::MutexGuard<'_, prometheus_client::registry::Registry> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}
