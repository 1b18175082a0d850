//! The client-side metric families of the balanced client: per attempt and endpoint
//! (`grpc_client_*`, labelled as go-grpc-prometheus plus `endpoint`), and per logical
//! service (`protomesh_client_*`). One [`ClientMetrics`] per registry
//! ([`super::Registry::client_metrics`]), shared by every client of the process.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, Weak},
};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric},
    metrics::{
        MetricType, counter::Counter, family::Family, gauge::ConstGauge, histogram::Histogram,
    },
};

use super::{Registry, server::BUCKETS};

/// Attempts sent, by method and endpoint (exposed as `grpc_client_started_total`).
pub const STARTED: &str = "grpc_client_started";
/// Attempts finished, by method, endpoint and gRPC code (`grpc_client_handled_total`).
pub const HANDLED: &str = "grpc_client_handled";
/// Seconds from an attempt's start to its status, by method and endpoint (a histogram).
pub const HANDLING_SECONDS: &str = "grpc_client_handling_seconds";
/// Retries a client wanted but its retry budget refused, by logical service
/// (`protomesh_client_retry_budget_exhausted_total`).
pub const RETRY_BUDGET_EXHAUSTED: &str = "protomesh_client_retry_budget_exhausted";
/// Endpoints the clients know, by logical service and [`EndpointState`] (a gauge).
pub const ENDPOINTS: &str = "protomesh_client_endpoints";

/// The labels of one method on one endpoint. Strings are shared, so making a series costs
/// no string copy.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    /// The fully-qualified service, such as `shop.catalog.v1.CatalogService`.
    pub grpc_service: Arc<str>,
    /// The method, such as `GetProduct`.
    pub grpc_method: Arc<str>,
    /// `unary`, `client_stream`, `server_stream`, `bidi_stream` (or `unknown`).
    pub grpc_type: &'static str,
    /// The endpoint's address, `host:port`.
    pub endpoint: Arc<str>,
}

/// The labels of one method on one endpoint with one outcome.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptHandledLabels {
    /// The fully-qualified service.
    pub grpc_service: Arc<str>,
    /// The method.
    pub grpc_method: Arc<str>,
    /// The kind of call.
    pub grpc_type: &'static str,
    /// The gRPC code, as in [`super::codes::CODE_LABELS`].
    pub grpc_code: &'static str,
    /// The endpoint's address.
    pub endpoint: Arc<str>,
}

impl AttemptLabels {
    /// These labels with `code`.
    pub fn handled(&self, code: &'static str) -> AttemptHandledLabels {
        AttemptHandledLabels {
            grpc_service: self.grpc_service.clone(),
            grpc_method: self.grpc_method.clone(),
            grpc_type: self.grpc_type,
            grpc_code: code,
            endpoint: self.endpoint.clone(),
        }
    }
}

/// The label of a logical service, such as `catalog`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabels {
    /// The logical service name the client was built for.
    pub service: Arc<str>,
}

/// The state of one endpoint, as the `state` label of [`ENDPOINTS`]. Each endpoint is in
/// exactly one, so the states of a service add up to its known endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointState {
    /// SERVING and not ejected: new calls can go there.
    Ready,
    /// No health answer yet.
    Pending,
    /// NOT_SERVING (draining) or unreachable, by its health watch.
    Unhealthy,
    /// Ejected for now by passive outlier detection (whatever its health says).
    Ejected,
}

impl EndpointState {
    /// Every state, in label order.
    pub const ALL: [EndpointState; 4] = [
        EndpointState::Ready,
        EndpointState::Pending,
        EndpointState::Unhealthy,
        EndpointState::Ejected,
    ];

    /// The `state` label value.
    pub fn label(self) -> &'static str {
        match self {
            EndpointState::Ready => "ready",
            EndpointState::Pending => "pending",
            EndpointState::Unhealthy => "unhealthy",
            EndpointState::Ejected => "ejected",
        }
    }
}

/// Something that can count its endpoints by state at scrape time (a client's endpoint set).
pub(crate) trait EndpointCensus: Send + Sync + 'static {
    /// Counts, indexed like [`EndpointState::ALL`].
    fn census(&self) -> [i64; 4];
}

/// One client's logical service and its endpoint set.
type WatchedClient = (Arc<str>, Weak<dyn EndpointCensus>);

/// The `protomesh_client_endpoints` gauge, computed at each scrape from the live endpoint
/// sets (ejections expire with time, so a stored gauge would go stale). Clients that are
/// gone drop out.
#[derive(Default)]
struct EndpointsCollector {
    /// Each client's service and endpoint set.
    clients: Mutex<Vec<WatchedClient>>,
}

impl std::fmt::Debug for EndpointsCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointsCollector").finish_non_exhaustive()
    }
}

#[derive(EncodeLabelSet, Debug, Clone, Hash, PartialEq, Eq)]
struct StateLabels {
    service: Arc<str>,
    state: &'static str,
}

impl Collector for EndpointsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        // Clients of the same service in one process (the gateway's threads each have
        // their own) follow the same discovery: each state shows the most any of them has.
        let mut by_service: BTreeMap<Arc<str>, [i64; 4]> = BTreeMap::new();
        {
            let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
            clients.retain(|(service, set)| match set.upgrade() {
                Some(set) => {
                    let counts = by_service.entry(service.clone()).or_default();
                    for (most, n) in counts.iter_mut().zip(set.census()) {
                        *most = (*most).max(n);
                    }
                    true
                }
                None => false,
            });
        }
        let mut family = encoder.encode_descriptor(
            ENDPOINTS,
            "Endpoints the balanced clients know, by logical service and state",
            None,
            MetricType::Gauge,
        )?;
        for (service, counts) in by_service {
            for (state, count) in EndpointState::ALL.iter().zip(counts) {
                let labels = StateLabels {
                    service: service.clone(),
                    state: state.label(),
                };
                ConstGauge::new(count).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

/// The client metric families. Clones share the same series.
#[derive(Debug, Clone)]
pub struct ClientMetrics {
    /// `grpc_client_started_total`.
    pub started: Family<AttemptLabels, Counter>,
    /// `grpc_client_handled_total`.
    pub handled: Family<AttemptHandledLabels, Counter>,
    /// `grpc_client_handling_seconds`.
    pub handling_seconds: Family<AttemptLabels, Histogram, fn() -> Histogram>,
    /// `protomesh_client_retry_budget_exhausted_total`.
    pub retry_budget_exhausted: Family<ServiceLabels, Counter>,
    /// `protomesh_client_endpoints`.
    endpoints: Arc<EndpointsCollector>,
}

impl ClientMetrics {
    /// Creates the families and registers them in `registry`; use
    /// [`Registry::client_metrics`], which does this once per registry.
    pub(crate) fn register(registry: &Registry) -> Self {
        let metrics = Self {
            started: Family::default(),
            handled: Family::default(),
            handling_seconds: Family::new_with_constructor(|| Histogram::new(BUCKETS)),
            retry_budget_exhausted: Family::default(),
            endpoints: Arc::default(),
        };
        registry.register(
            STARTED,
            "Total number of RPC attempts started by the balanced clients, per endpoint",
            metrics.started.clone(),
        );
        registry.register(
            HANDLED,
            "Total number of RPC attempts completed by the balanced clients, per endpoint, regardless of success or failure",
            metrics.handled.clone(),
        );
        registry.register(
            HANDLING_SECONDS,
            "Histogram of response latency (seconds) of RPC attempts until the status, per endpoint",
            metrics.handling_seconds.clone(),
        );
        registry.register(
            RETRY_BUDGET_EXHAUSTED,
            "Retries the balanced clients wanted but their retry budget refused",
            metrics.retry_budget_exhausted.clone(),
        );
        registry.register_collector(Box::new(metrics.endpoints.clone()));
        metrics
    }

    /// Counts `set`'s endpoints under `service` at every scrape, for as long as it lives.
    pub(crate) fn watch_endpoints(&self, service: Arc<str>, set: Weak<dyn EndpointCensus>) {
        self.endpoints
            .clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((service, set));
    }
}
