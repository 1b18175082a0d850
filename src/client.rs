//! The balanced client: one clonable channel for a logical service, usable by every
//! generated tonic client.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use protomesh::client::BalancedChannel;
//! use protomesh::contracts::shop::catalog::v1::{
//!     GetProductRequest, catalog_service_client::CatalogServiceClient,
//! };
//!
//! let channel = BalancedChannel::builder("registry://catalog")
//!     .registry("127.0.0.1:50051")
//!     .build()?;
//! let mut catalog = CatalogServiceClient::new(channel);
//! let product = catalog
//!     .get_product(GetProductRequest { product_id: "p-1".into() })
//!     .await?;
//! # drop(product); Ok(()) }
//! ```
//!
//! Each call goes: discovery source -> endpoint set (one lazily made HTTP/2 connection per
//! address, on `h2` with nothing queued in front of it) -> active health (each endpoint's
//! grpc.health.v1 `Watch`) -> balancer (P2C over peak-EWMA by default, round-robin, or ring
//! hash) -> passive outlier ejection -> retries on another endpoint, only for methods the
//! contract marks idempotent, within a retry budget -> deadline propagation (`grpc-timeout`
//! from the task's deadline) -> the request hook (trace-context injection).
//!
//! A retryable unary call's reply is read to its end (up to 4 MiB) before the call returns
//! it, so a connection lost between the reply's head and its trailers is retried like one
//! lost before the head. A connection lost mid-reply otherwise ends the call UNAVAILABLE.
//!
//! # Hooks for the rest of the kit
//! - Trace context: by default every attempt carries the current span's `traceparent`
//!   ([`crate::telemetry::propagation::inject_current_context`]) unless the request already
//!   has one; for a client span per call wrap the channel:
//!   `ClientTraceLayer::new().layer(channel)` ([`crate::telemetry::ClientTraceLayer`]).
//!   `.request_hook(f)` replaces the default.
//! - Metrics: every client records by default into a metrics [`Registry`]: the
//!   `grpc_client_*` families per attempt, method and endpoint (the code from the status
//!   headers or trailers), `protomesh_client_retry_budget_exhausted_total{service}` and
//!   `protomesh_client_endpoints{service,state}` ([`crate::metrics::client`]). Pass the
//!   process's registry with `.metrics_registry(..)` (the one its server serves on
//!   `/metrics`); without it the client records into its own
//!   ([`BalancedChannel::metrics_registry`]). `.service_name(..)` sets the `service` label.
//!   `.observer(Arc<dyn CallObserver>)` is also told about every attempt (method,
//!   endpoint, code, latency).
//! - Deadlines: a server stack that knows a call's deadline runs the handler inside
//!   [`deadline::scope`] (or installs [`deadline::DeadlineLayer`]); handlers can also use
//!   [`deadline::propagate`] with their incoming request.
//!
//! # Layout
//! - [`config`]: [`ClientConfig`], [`Balancer`] and the defaults.
//! - [`deadline`]: the task-local deadline and the server-side [`deadline::DeadlineLayer`].
//! - [`policy`]: idempotency per method from descriptor sets.
//! - `set`, `endpoint`, `health`: the live endpoint set and each endpoint's state.
//! - `pick`, `ring`, `ewma`, `outlier`: balancing and ejection.
//! - `call`: one call with its retries; `reply`: a retryable reply read ahead; `observe`:
//!   its metrics.

#[doc(hidden)]
pub mod bench;
mod call;
pub mod config;
mod connection;
pub mod deadline;
mod endpoint;
mod ewma;
mod health;
mod observe;
mod outlier;
mod pick;
pub mod policy;
mod reply;
mod ring;
mod set;

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::{Arc, atomic::AtomicUsize},
    task::{Context, Poll},
    time::Duration,
};

use futures_util::StreamExt;
use tokio::task::JoinHandle;
use tonic::body::Body;
use tower::{Service, retry::budget::TpsBudget};

pub use call::{BoxError, CallStats};
pub use config::{Balancer, ClientConfig};
pub use endpoint::{EndpointStatus, Health};
pub use policy::{MethodPolicies, MethodPolicy};
pub use ring::hash as hash_key_of;

use crate::{
    discovery::{self, Discover, DiscoveryError, Target},
    metrics::Registry,
};
use call::{Counters, Shared};
use observe::ClientRecorder;
use set::EndpointSet;

/// Called on every attempt's request headers just before it is sent, such as to inject
/// W3C trace context (`traceparent`).
pub type RequestHook = Arc<dyn Fn(&mut http::HeaderMap) + Send + Sync + 'static>;

/// Computes the consistent-hash key of a call from its request headers (metadata); `None`
/// means no affinity (the call is balanced by P2C).
pub type HashKey = Arc<dyn Fn(&http::HeaderMap) -> Option<u64> + Send + Sync + 'static>;

/// Observes every attempt, for client metrics (`grpc_client_*` per method and endpoint).
pub trait CallObserver: Send + Sync + 'static {
    /// One attempt ended: the gRPC path, the endpoint address, the status code from the
    /// response headers (`None` for a transport error; OK when the status comes later in
    /// trailers) and the time to the response headers.
    fn on_attempt(
        &self,
        method: &str,
        endpoint: &str,
        code: Option<tonic::Code>,
        latency: Duration,
    );
}

/// What can go wrong building a client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The target or the registry address is invalid.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// An extra descriptor set does not decode.
    #[error("invalid descriptor set: {0}")]
    Descriptors(#[from] prost_reflect::DescriptorError),
}

/// Builds a [`BalancedChannel`] from a target string and options.
pub struct ClientBuilder {
    target: String,
    config: ClientConfig,
    descriptor_sets: Vec<Vec<u8>>,
    discover: Option<Box<dyn Discover>>,
    hook: Option<RequestHook>,
    observer: Option<Arc<dyn CallObserver>>,
    hash_key: Option<HashKey>,
    registry: Option<Registry>,
    service_name: Option<String>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("target", &self.target)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// A builder for `target`: `registry://service`, `dns://name:port` or
    /// `static://host:port,host:port`.
    pub fn new(target: impl Into<String>) -> Self {
        Self {
            target: target.into(),
            config: ClientConfig::default(),
            descriptor_sets: Vec::new(),
            discover: None,
            hook: None,
            observer: None,
            hash_key: None,
            registry: None,
            service_name: None,
        }
    }

    /// Replaces every setting at once.
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    /// Picks the balancer (default P2C over peak-EWMA).
    pub fn balancer(mut self, balancer: Balancer) -> Self {
        self.config.balancer = balancer;
        self
    }

    /// The registry address for `registry://` targets.
    pub fn registry(mut self, address: impl Into<String>) -> Self {
        self.config.discovery.registry_address = address.into();
        self
    }

    /// Adds an encoded descriptor set whose methods' idempotency levels count too
    /// (`protomesh::FILE_DESCRIPTOR_SET` is always read).
    pub fn descriptors(mut self, set: impl Into<Vec<u8>>) -> Self {
        self.descriptor_sets.push(set.into());
        self
    }

    /// Uses this discovery source instead of the one the target names (the target string is
    /// then only a label).
    pub fn discover(mut self, source: Box<dyn Discover>) -> Self {
        self.discover = Some(source);
        self
    }

    /// Sets the hook run on each attempt's headers. The default writes the current span's
    /// W3C trace context (`traceparent`) when the request has none.
    pub fn request_hook(
        mut self,
        hook: impl Fn(&mut http::HeaderMap) + Send + Sync + 'static,
    ) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// Computes ring-hash keys with `key` instead of hashing the
    /// [`ClientConfig::hash_header`] value.
    pub fn hash_key(
        mut self,
        key: impl Fn(&http::HeaderMap) -> Option<u64> + Send + Sync + 'static,
    ) -> Self {
        self.hash_key = Some(Arc::new(key));
        self
    }

    /// Sets the observer told about each attempt (client metrics).
    pub fn observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Records client metrics into `registry`, the process's (the one its server serves on
    /// `/metrics`), instead of a registry of the client's own.
    pub fn metrics_registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The `service` label of this client's `protomesh_client_*` metrics. Defaults to the
    /// target's logical name: the service of `registry://`, the first DNS label of
    /// `dns://`, the target string otherwise.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Builds the client and starts discovery. Must be called within a tokio runtime.
    pub fn build(self) -> Result<BalancedChannel, ClientError> {
        let source = match self.discover {
            Some(source) => source,
            None => discovery::source(&Target::parse(&self.target)?, &self.config.discovery)?,
        };
        let service: Arc<str> = match (self.service_name, Target::parse(&self.target)) {
            (Some(name), _) => name.into(),
            (None, Ok(Target::Registry { service })) => service.into(),
            (None, Ok(Target::Dns { host, .. })) => host.split('.').next().unwrap_or("").into(),
            (None, _) => self.target.as_str().into(),
        };
        let sets = std::iter::once(crate::FILE_DESCRIPTOR_SET)
            .chain(self.descriptor_sets.iter().map(Vec::as_slice));
        let policies = MethodPolicies::from_descriptor_sets(sets)?;
        let config = Arc::new(self.config);
        let set = Arc::new(EndpointSet::new(config.clone(), policies.label_count()));
        let registry = self.registry.unwrap_or_default();
        let recorder = ClientRecorder::new(registry.client_metrics(), &service);
        recorder.watch_endpoints(service, &set);
        let budget = TpsBudget::new(
            config.retry_budget_ttl,
            config.retry_min_per_sec,
            config.retry_percent,
        );
        let task = {
            // Weak: the set (and its endpoint gauge) goes with the last clone of the client,
            // not when this task is next polled after its abort.
            let set = Arc::downgrade(&set);
            let mut changes = source.changes();
            tokio::spawn(async move {
                while let Some(change) = changes.next().await {
                    let Some(set) = set.upgrade() else { return };
                    set.apply(change);
                }
            })
        };
        Ok(BalancedChannel {
            shared: Arc::new(Shared {
                target: self.target,
                config,
                set,
                policies,
                budget,
                next: AtomicUsize::new(0),
                counters: Counters::default(),
                hook: Some(self.hook.unwrap_or_else(|| Arc::new(inject_trace_context))),
                observer: self.observer,
                hash_key: self.hash_key,
                recorder,
                registry,
            }),
            _discovery: Arc::new(AbortOnDrop(task)),
        })
    }
}

/// The default request hook: the current span's W3C trace context, unless the request
/// already carries one (a client tracing layer around this channel wrote its own span's).
fn inject_trace_context(headers: &mut http::HeaderMap) {
    if !headers.contains_key(&crate::wire::TRACEPARENT) {
        crate::telemetry::propagation::inject_current_context(headers);
    }
}

/// Aborts the discovery task when the last clone of a client goes.
#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A balanced, health-aware, retrying channel to one logical service. Cheap to clone; pass
/// it to any generated client: `CatalogServiceClient::new(channel)`.
#[derive(Clone)]
pub struct BalancedChannel {
    shared: Arc<Shared>,
    _discovery: Arc<AbortOnDrop>,
}

impl fmt::Debug for BalancedChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BalancedChannel")
            .field("target", &self.shared.target)
            .finish_non_exhaustive()
    }
}

impl BalancedChannel {
    /// Starts building a client for `target`.
    pub fn builder(target: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(target)
    }

    /// The target this client was built for.
    pub fn target(&self) -> &str {
        &self.shared.target
    }

    /// Every known endpoint and its state, sorted by id.
    pub fn endpoints(&self) -> Vec<EndpointStatus> {
        self.shared.set.statuses()
    }

    /// The ids of the endpoints new calls can go to, sorted.
    pub fn ready_endpoints(&self) -> Vec<String> {
        self.endpoints()
            .into_iter()
            .filter(EndpointStatus::is_ready)
            .map(|e| e.id)
            .collect()
    }

    /// Waits until `condition` holds for the endpoint set (checked on every membership or
    /// health change).
    pub async fn wait_for(&self, mut condition: impl FnMut(&[EndpointStatus]) -> bool) {
        let mut changes = self.shared.set.subscribe();
        while !condition(&self.endpoints()) {
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// The metrics registry this client records into.
    pub fn metrics_registry(&self) -> &Registry {
        &self.shared.registry
    }

    /// What this client (all its clones) has done so far.
    pub fn stats(&self) -> CallStats {
        self.shared.counters.snapshot()
    }
}

impl Service<http::Request<Body>> for BalancedChannel {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // Built in its box: the call's future is hundreds of bytes.
        let shared = self.shared.clone();
        crate::server::grpc::boxed(move || shared.dispatch(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default hook keeps a traceparent a tracing layer already wrote, and writes none
    /// when there is no span context to send.
    #[test]
    fn default_hook_keeps_an_existing_traceparent() {
        let value = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let mut headers = http::HeaderMap::new();
        headers.insert("traceparent", value.parse().unwrap());
        inject_trace_context(&mut headers);
        assert_eq!(headers["traceparent"], value);

        let mut empty = http::HeaderMap::new();
        inject_trace_context(&mut empty);
        assert!(empty.get("traceparent").is_none());
    }
}
