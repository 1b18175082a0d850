//! One call through the balanced client: pick, send, classify, maybe retry elsewhere.

use std::sync::{
    Arc,
    atomic::{AtomicU64, AtomicUsize, Ordering},
};

use bytes::Bytes;
use http::{HeaderValue, request::Parts};
use http_body_util::{BodyExt, Full};
use tokio::time::Instant;
use tonic::{Code, Status, body::Body};

use crate::metrics::body::Finish;
use tower::retry::budget::{Budget, TpsBudget};

use super::{
    Balancer, CallObserver, ClientConfig, HashKey, RequestHook,
    connection::ConnectionError,
    deadline::{self, GRPC_TIMEOUT},
    endpoint::Endpoint,
    observe::ClientRecorder,
    outlier::OutlierPolicy,
    pick::pick,
    policy::MethodPolicies,
    ring,
    set::EndpointSet,
};

/// The boxed error a balanced client returns (a `tonic::Status` inside).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Counters of what a balanced client did, for tests and debugging.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallStats {
    /// Calls made through the client.
    pub calls: u64,
    /// Attempts sent to endpoints (calls plus retries).
    pub attempts: u64,
    /// Retries made.
    pub retries: u64,
    /// Retries wanted but refused by the retry budget.
    pub budget_exhausted: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    calls: AtomicU64,
    attempts: AtomicU64,
    retries: AtomicU64,
    budget_exhausted: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> CallStats {
        CallStats {
            calls: self.calls.load(Ordering::Relaxed),
            attempts: self.attempts.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            budget_exhausted: self.budget_exhausted.load(Ordering::Relaxed),
        }
    }
}

/// Everything a call needs, shared by all clones of a client.
pub(crate) struct Shared {
    pub(crate) target: String,
    pub(crate) config: Arc<ClientConfig>,
    pub(crate) set: Arc<EndpointSet>,
    pub(crate) policies: MethodPolicies,
    pub(crate) budget: TpsBudget,
    pub(crate) next: AtomicUsize,
    pub(crate) counters: Counters,
    pub(crate) hook: Option<RequestHook>,
    pub(crate) observer: Option<Arc<dyn CallObserver>>,
    pub(crate) hash_key: Option<HashKey>,
    /// Client metrics.
    pub(crate) recorder: ClientRecorder,
    /// Where `recorder` records.
    pub(crate) registry: crate::metrics::Registry,
}

/// How one attempt ended.
enum Outcome {
    /// An answer other than UNAVAILABLE: done.
    Answered,
    /// The endpoint answered UNAVAILABLE.
    Unavailable,
    /// The connection could not be made: the request was never sent.
    ConnectFailed,
    /// The connection failed while the request was in flight.
    Broken,
}

fn classify(result: &Result<http::Response<Body>, ConnectionError>) -> Outcome {
    match result {
        Ok(response) => {
            if crate::wire::grpc_status(response.headers()) == Some(Code::Unavailable) {
                Outcome::Unavailable
            } else {
                Outcome::Answered
            }
        }
        Err(ConnectionError::Connect { .. }) => Outcome::ConnectFailed,
        Err(ConnectionError::Call(_) | ConnectionError::Reply(_)) => Outcome::Broken,
    }
}

fn grpc_status(result: &Result<http::Response<Body>, ConnectionError>) -> Option<Code> {
    let response = result.as_ref().ok()?;
    // No status in the headers: the call was answered, its code comes in the trailers.
    Some(crate::wire::grpc_status(response.headers()).unwrap_or(Code::Ok))
}

fn rebuild(parts: &Parts, body: Body) -> http::Request<Body> {
    let mut request = http::Request::new(body);
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = parts.uri.clone();
    *request.version_mut() = parts.version;
    *request.headers_mut() = parts.headers.clone();
    *request.extensions_mut() = parts.extensions.clone();
    request
}

/// `response` with its body read to the end (see [`reply`](super::reply)); a body that fails
/// first fails the attempt.
async fn held(response: http::Response<Body>) -> Result<http::Response<Body>, ConnectionError> {
    let (parts, body) = response.into_parts();
    let body = super::reply::hold(body)
        .await
        .map_err(ConnectionError::Reply)?;
    Ok(http::Response::from_parts(parts, body))
}

fn boxed(status: Status) -> BoxError {
    Box::new(status)
}

impl Shared {
    /// An endpoint to send to: picked at once when one is ready, else waited for up to the
    /// wait-for-ready time or the deadline.
    async fn wait_and_pick(
        &self,
        key: Option<u64>,
        tried: &[Arc<Endpoint>],
        deadline: Option<Instant>,
    ) -> Result<Arc<Endpoint>, BoxError> {
        let snapshot = self.set.snapshot();
        if let Some(endpoint) = pick(&snapshot, self.config.balancer, key, tried, &self.next) {
            return Ok(endpoint);
        }
        // Boxed: waiting is rare, and its future would otherwise make every call's larger.
        Box::pin(self.wait_for_pick(key, tried, deadline)).await
    }

    /// Waits until an endpoint can be picked, up to the wait-for-ready time or the deadline.
    async fn wait_for_pick(
        &self,
        key: Option<u64>,
        tried: &[Arc<Endpoint>],
        deadline: Option<Instant>,
    ) -> Result<Arc<Endpoint>, BoxError> {
        // Nothing ready: subscribe, then look again (a change between the first look and the
        // subscription is not lost), and wait for changes.
        let mut changes = self.set.subscribe();
        let mut until = Instant::now() + self.config.wait_for_ready;
        if let Some(deadline) = deadline {
            until = until.min(deadline);
        }
        loop {
            let snapshot = self.set.snapshot();
            if let Some(endpoint) = pick(&snapshot, self.config.balancer, key, tried, &self.next) {
                return Ok(endpoint);
            }
            match tokio::time::timeout_at(until, changes.changed()).await {
                Ok(Ok(())) => continue,
                _ => {
                    return Err(boxed(Status::unavailable(format!(
                        "{}: no ready endpoint ({} known)",
                        self.target,
                        snapshot.endpoints.len()
                    ))));
                }
            }
        }
    }

    /// Sends one call, retrying where the contract and the budget allow.
    ///
    /// What needs no waiting is done before the future is made, and the future takes the
    /// request's parts and body as the variables it keeps them in: an `async fn` would hold
    /// the request beside them, and a call future over mimalloc's small-block bound (1 KiB)
    /// takes its slow path on every call.
    pub(crate) fn dispatch(
        self: Arc<Self>,
        request: http::Request<Body>,
    ) -> impl Future<Output = Result<http::Response<Body>, BoxError>> + Send + 'static {
        let (policy, method) = self.policies.lookup(request.uri().path());
        let replayable = policy.is_some_and(|p| !p.client_streaming);
        let idempotent = policy.is_some_and(|p| p.idempotent);
        // A unary reply that may be retried is read to its end before the call commits.
        let hold_reply = replayable && idempotent && policy.is_some_and(|p| !p.server_streaming);
        // The earliest of: the task's deadline, a server `Deadline` the caller copied into
        // the outgoing request's extensions, and the request's own grpc-timeout.
        let deadline = [
            deadline::current(),
            request
                .extensions()
                .get::<crate::server::Deadline>()
                .map(|d| d.instant()),
            deadline::from_headers(request.headers()),
        ]
        .into_iter()
        .flatten()
        .min();
        // Only the ring hash reads a key (looking the header up by its name parses the name).
        let key = match &self.hash_key {
            _ if self.config.balancer != Balancer::RingHash => None,
            Some(key) => key(request.headers()),
            None => request
                .headers()
                .get(self.config.hash_header.as_str())
                .map(|v| ring::hash(v.as_bytes())),
        };
        self.counters.calls.fetch_add(1, Ordering::Relaxed);
        self.budget.deposit();

        let path = self.observer.as_ref().map(|_| request.uri().clone());
        let (parts, body) = request.into_parts();
        // Moved into the last attempt that may be sent; copied for any before it.
        let mut parts = Some(parts);
        // The body, for one attempt; or its bytes, for as many as may be sent.
        let mut once = Some(body);
        let mut replay: Option<Bytes> = None;
        async move {
            if replayable && let Some(body) = once.take() {
                let bytes = body
                    .collect()
                    .await
                    .map_err(|status| boxed(Status::internal(format!("request body: {status}"))))?
                    .to_bytes();
                replay = Some(bytes);
            }
            let outlier = OutlierPolicy {
                failures: self.config.outlier_failures,
                base: self.config.outlier_base_ejection,
                max: self.config.outlier_max_ejection,
            };
            let mut tried: Vec<Arc<Endpoint>> = Vec::new();
            let mut retries = 0;
            loop {
                let endpoint = self.wait_and_pick(key, &tried, deadline).await?;
                let timeout = match deadline {
                    Some(deadline) => {
                        let remaining = deadline.saturating_duration_since(Instant::now());
                        if remaining.is_zero() {
                            return Err(boxed(Status::deadline_exceeded(format!(
                                "{}: deadline passed before the call was sent",
                                self.target
                            ))));
                        }
                        HeaderValue::from_str(&deadline::format_timeout(remaining)).ok()
                    }
                    None => None,
                };

                self.counters.attempts.fetch_add(1, Ordering::Relaxed);
                let attempt = self.recorder.start(&endpoint, &self.policies, method);
                let started = Instant::now();
                let result = {
                    let _in_flight = endpoint.start_call();
                    match endpoint.channel.ready().await {
                        // Not sent: the request is whole for another endpoint.
                        Err(error) => Err(error),
                        // The request is made in a block of its own, so the call's future
                        // does not keep its place while the answer is awaited.
                        Ok(ready) => {
                            let send = {
                                // Once sent, the request is needed again only if an answer may
                                // still be retried.
                                let again =
                                    replayable && idempotent && retries < self.config.max_retries;
                                let body = match (&replay, once.take()) {
                                    (Some(bytes), _) => Body::new(Full::new(bytes.clone())),
                                    (None, Some(body)) => body,
                                    (None, None) => Body::empty(),
                                };
                                let mut request = match parts.take() {
                                    Some(kept) if again => {
                                        let request = rebuild(&kept, body);
                                        parts = Some(kept);
                                        request
                                    }
                                    Some(kept) => http::Request::from_parts(kept, body),
                                    None => {
                                        return Err(boxed(Status::internal("call resent twice")));
                                    }
                                };
                                if let Some(value) = timeout {
                                    request.headers_mut().insert(GRPC_TIMEOUT, value);
                                }
                                if let Some(hook) = &self.hook {
                                    hook(request.headers_mut());
                                }
                                endpoint.channel.send_on(ready, request)
                            };
                            send.await
                        }
                    }
                };
                let latency = started.elapsed();
                if let (Some(observer), Some(path)) = (&self.observer, &path) {
                    observer.on_attempt(
                        path.path(),
                        &endpoint.address,
                        grpc_status(&result),
                        latency,
                    );
                }
                // The attempt ends now (trailers-only answer, transport error: UNAVAILABLE, as
                // the caller sees it) or when its trailers arrive.
                let result = match result {
                    Ok(response) => {
                        let response = crate::metrics::body::watch(response, attempt);
                        if hold_reply {
                            // Boxed: only calls that may be retried hold their reply, and
                            // holding it would otherwise make every call's future larger.
                            Box::pin(held(response)).await
                        } else {
                            Ok(response)
                        }
                    }
                    Err(error) => {
                        attempt.finish(Code::Unavailable);
                        Err(error)
                    }
                };

                let outcome = classify(&result);
                if let Outcome::Answered = outcome {
                    endpoint.record_success(latency, Instant::now());
                    return result.map_err(|e| boxed(Status::unavailable(e.to_string())));
                }
                if let Some(time) = endpoint.record_failure(outlier, Instant::now()) {
                    tracing::info!(target = %self.target, endpoint = %endpoint.id, ?time, "endpoint ejected");
                }
                // A request given to its last attempt is gone: nothing is left to resend.
                let retryable = parts.is_some()
                    && match outcome {
                        Outcome::ConnectFailed => replayable,
                        _ => replayable && idempotent,
                    };
                let in_time = deadline.is_none_or(|d| Instant::now() < d);
                if retryable && retries < self.config.max_retries && in_time {
                    if self.budget.withdraw() {
                        retries += 1;
                        self.counters.retries.fetch_add(1, Ordering::Relaxed);
                        tried.push(endpoint);
                        continue;
                    }
                    self.counters
                        .budget_exhausted
                        .fetch_add(1, Ordering::Relaxed);
                    self.recorder.budget_exhausted();
                }
                return result.map_err(|error| {
                    boxed(Status::unavailable(format!(
                        "{}: endpoint {}: {error}",
                        self.target, endpoint.id
                    )))
                });
            }
        }
    }
}
