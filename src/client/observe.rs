//! Client metrics: every attempt counted per method and endpoint when it starts and when its
//! status arrives (headers or trailers), and timed; retries the budget refused, per logical
//! service; endpoints by state at scrape time.
//!
//! Series are resolved once per (endpoint, method) and kept on the endpoint, so an attempt
//! costs one slot lookup and atomic increments, with no string copied.

use std::sync::{Arc, OnceLock};

use prometheus_client::metrics::{counter::Counter, family::Family, histogram::Histogram};
use tokio::time::Instant;
use tonic::Code;

use super::{
    endpoint::{Endpoint, Health},
    policy::MethodPolicies,
    set::EndpointSet,
};
use crate::metrics::{
    ClientMetrics,
    body::Finish,
    client::{AttemptHandledLabels, AttemptLabels, EndpointCensus, EndpointState},
    codes::{CODE_LABELS, code_index},
};

/// One client's handles into the process's client metric families.
#[derive(Debug)]
pub(crate) struct ClientRecorder {
    /// The families (shared by every client of the registry).
    metrics: ClientMetrics,
    /// `protomesh_client_retry_budget_exhausted_total{service}` of this client.
    budget_exhausted: Counter,
}

impl ClientRecorder {
    /// Handles for a client of `service` recording into `metrics`; the budget series exists
    /// (at 0) from now on, so alerts see a flat line rather than no data.
    pub(crate) fn new(metrics: ClientMetrics, service: &Arc<str>) -> Self {
        let budget_exhausted = metrics
            .retry_budget_exhausted
            .get_or_create(&crate::metrics::client::ServiceLabels {
                service: service.clone(),
            })
            .clone();
        Self {
            metrics,
            budget_exhausted,
        }
    }

    /// Counts `set`'s endpoints under `service` at every scrape while the set lives.
    pub(crate) fn watch_endpoints(&self, service: Arc<str>, set: &Arc<EndpointSet>) {
        let set: Arc<dyn EndpointCensus> = set.clone();
        self.metrics.watch_endpoints(service, Arc::downgrade(&set));
    }

    /// A retry was wanted and the budget refused it.
    pub(crate) fn budget_exhausted(&self) {
        self.budget_exhausted.inc();
    }

    /// Counts an attempt of method `method` (an index of `policies`) on `endpoint` as
    /// started; the returned [`Attempt`] records its end.
    pub(crate) fn start(
        &self,
        endpoint: &Endpoint,
        policies: &MethodPolicies,
        method: usize,
    ) -> Attempt {
        let series = endpoint.series.slots[method]
            .get_or_init(|| {
                let labels = policies.labels(method);
                let labels = AttemptLabels {
                    grpc_service: labels.grpc_service.clone(),
                    grpc_method: labels.grpc_method.clone(),
                    grpc_type: labels.grpc_type,
                    endpoint: endpoint.series.endpoint.clone(),
                };
                Arc::new(AttemptSeries {
                    started: self.metrics.started.get_or_create(&labels).clone(),
                    handling: self.metrics.handling_seconds.get_or_create(&labels).clone(),
                    handled_family: self.metrics.handled.clone(),
                    handled: std::array::from_fn(|_| OnceLock::new()),
                    labels,
                })
            })
            .clone();
        series.started.inc();
        Attempt {
            series: Some(series),
            start: Instant::now(),
        }
    }
}

/// The per-method series slots of one endpoint, filled on first use.
#[derive(Debug)]
pub(crate) struct EndpointSeries {
    /// The `endpoint` label value.
    endpoint: Arc<str>,
    /// By method label index.
    slots: Box<[OnceLock<Arc<AttemptSeries>>]>,
}

impl EndpointSeries {
    /// Empty slots for `methods` label indexes of the endpoint at `address`.
    pub(crate) fn new(address: &str, methods: usize) -> Self {
        Self {
            endpoint: Arc::from(address),
            slots: (0..methods).map(|_| OnceLock::new()).collect(),
        }
    }
}

/// The series of one method on one endpoint.
#[derive(Debug)]
struct AttemptSeries {
    /// Its labels, for the handled series made later.
    labels: AttemptLabels,
    /// `grpc_client_started_total`.
    started: Counter,
    /// `grpc_client_handling_seconds`.
    handling: Histogram,
    /// Where the handled series come from.
    handled_family: Family<AttemptHandledLabels, Counter>,
    /// `grpc_client_handled_total`, by code number, resolved on first use.
    handled: [OnceLock<Counter>; 17],
}

/// One attempt in flight: records its end exactly once; dropped unfinished (the caller
/// dropped the response before its status), it records CANCELLED.
#[derive(Debug)]
pub(crate) struct Attempt {
    /// Present until recorded.
    series: Option<Arc<AttemptSeries>>,
    /// When the attempt was sent.
    start: Instant,
}

impl Attempt {
    /// Increments handled and observes the latency, once.
    fn record(&mut self, code: Code) {
        if let Some(series) = self.series.take() {
            let index = code_index(code);
            series.handled[index]
                .get_or_init(|| {
                    series
                        .handled_family
                        .get_or_create(&series.labels.handled(CODE_LABELS[index]))
                        .clone()
                })
                .inc();
            series.handling.observe(self.start.elapsed().as_secs_f64());
        }
    }
}

impl Finish for Attempt {
    fn finish(mut self, code: Code) {
        self.record(code);
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        self.record(Code::Cancelled);
    }
}

impl EndpointCensus for EndpointSet {
    fn census(&self) -> [i64; 4] {
        let now = Instant::now();
        let mut counts = [0; 4];
        for endpoint in &self.snapshot().endpoints {
            let state = if endpoint.is_ejected(now) {
                EndpointState::Ejected
            } else {
                match endpoint.health() {
                    Health::Serving => EndpointState::Ready,
                    Health::Pending => EndpointState::Pending,
                    Health::NotServing | Health::Unreachable => EndpointState::Unhealthy,
                }
            };
            let index = EndpointState::ALL
                .iter()
                .position(|s| *s == state)
                .expect("every state is listed");
            counts[index] += 1;
        }
        counts
    }
}
