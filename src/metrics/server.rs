//! The server-side gRPC metric families, named and labelled as the Prometheus ecosystem
//! expects (go-grpc-prometheus): started, handled by code, and handling latency.

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, histogram::Histogram},
};

use super::{Registry, codes::CODE_LABELS};

/// Calls started, by method (exposed as `grpc_server_started_total`).
pub const STARTED: &str = "grpc_server_started";
/// Calls finished, by method and gRPC code (exposed as `grpc_server_handled_total`).
pub const HANDLED: &str = "grpc_server_handled";
/// Seconds from a call's start to its status, by method (a histogram).
pub const HANDLING_SECONDS: &str = "grpc_server_handling_seconds";
/// The latency buckets, in seconds (Prometheus' default buckets).
pub const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// The label value that stands for every method the server does not know, so a caller
/// cannot grow the label set by calling made-up paths.
pub const UNKNOWN: &str = "unknown";

/// The labels naming one method.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    /// The fully-qualified service, such as `shop.catalog.v1.CatalogService`.
    pub grpc_service: String,
    /// The method, such as `GetProduct`.
    pub grpc_method: String,
    /// `unary`, `client_stream`, `server_stream`, `bidi_stream` (or `unknown`).
    pub grpc_type: &'static str,
}

/// The labels of one method and one outcome.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HandledLabels {
    /// The fully-qualified service.
    pub grpc_service: String,
    /// The method.
    pub grpc_method: String,
    /// The kind of call.
    pub grpc_type: &'static str,
    /// The gRPC code, as in [`super::codes::CODE_LABELS`].
    pub grpc_code: &'static str,
}

impl MethodLabels {
    /// The labels for every method the server does not know.
    pub fn unknown() -> Self {
        Self {
            grpc_service: UNKNOWN.to_string(),
            grpc_method: UNKNOWN.to_string(),
            grpc_type: UNKNOWN,
        }
    }

    /// The handled labels of this method for every code, indexed by code number, built
    /// once so a call only looks them up.
    pub fn handled(&self) -> Vec<HandledLabels> {
        CODE_LABELS
            .iter()
            .map(|code| HandledLabels {
                grpc_service: self.grpc_service.clone(),
                grpc_method: self.grpc_method.clone(),
                grpc_type: self.grpc_type,
                grpc_code: code,
            })
            .collect()
    }
}

/// A histogram with [`BUCKETS`].
fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// The server metric families. Clones share the same series.
#[derive(Debug, Clone)]
pub struct ServerMetrics {
    /// `grpc_server_started_total`.
    pub started: Family<MethodLabels, Counter>,
    /// `grpc_server_handled_total`.
    pub handled: Family<HandledLabels, Counter>,
    /// `grpc_server_handling_seconds`.
    pub handling_seconds: Family<MethodLabels, Histogram, fn() -> Histogram>,
}

impl ServerMetrics {
    /// Creates the families and registers them in `registry`. Call once per registry.
    pub fn register(registry: &Registry) -> Self {
        let metrics = Self {
            started: Family::default(),
            handled: Family::default(),
            handling_seconds: Family::new_with_constructor(latency_histogram),
        };
        registry.register(
            STARTED,
            "Total number of RPCs started on the server",
            metrics.started.clone(),
        );
        registry.register(
            HANDLED,
            "Total number of RPCs completed on the server, regardless of success or failure",
            metrics.handled.clone(),
        );
        registry.register(
            HANDLING_SECONDS,
            "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server",
            metrics.handling_seconds.clone(),
        );
        metrics
    }
}
