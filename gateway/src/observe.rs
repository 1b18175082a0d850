//! The gateway's own observability, as one tower layer around [`crate::Gateway`]: a server span
//! per HTTP request (continuing the caller's W3C trace context and handing the gateway's own
//! span on to the upstream call) and Prometheus metrics labelled by route template, never by
//! raw path, so a client cannot grow the series by calling made-up URLs.
//!
//! Series (in the kit's [`Registry`], served on the admin port's `/metrics`):
//! - `http_server_requests_total{route, method, status}`
//! - `http_server_request_duration_seconds{route, method}`: time to the response head (for a
//!   streaming route, until the stream starts).
//!
//! `route` is the rule's template (`/v1/orders/{order_id}:cancel`), [`GRPC_ROUTE`] for gRPC
//! requests passed through, or [`UNMATCHED_ROUTE`] for everything no rule matched.

use std::{
    fmt::Write as _,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
    time::Instant,
};

use http::{Method, Request, Response};
use prometheus_client::{
    encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder},
    metrics::{counter::Counter, family::Family, histogram::Histogram},
};
use protomesh::{
    metrics::{Registry, server::BUCKETS},
    telemetry::continue_trace,
};
use tracing::{Instrument as _, field::Empty};

use crate::{gateway::is_grpc, routes::MatchedRoute};

/// Requests answered, by route, method and status (exposed as `http_server_requests_total`).
pub const REQUESTS: &str = "http_server_requests";
/// Seconds from a request's arrival to its response head, by route and method (a histogram).
pub const DURATION_SECONDS: &str = "http_server_request_duration_seconds";
/// The `route` of gRPC requests passed through to an upstream.
pub const GRPC_ROUTE: &str = "grpc";
/// The `route` of requests no rule matched (404, 405, CORS preflights, the OpenAPI document).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// A label value shared by every series of one route, so recording never allocates.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct RouteName(Arc<str>);

impl EncodeLabelValue for RouteName {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(&self.0)
    }
}

/// The labels of the latency histogram.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route template, [`GRPC_ROUTE`] or [`UNMATCHED_ROUTE`].
    pub route: RouteName,
    /// The HTTP method (`OTHER` for non-standard ones).
    pub method: &'static str,
}

/// The labels of the request counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route template, [`GRPC_ROUTE`] or [`UNMATCHED_ROUTE`].
    pub route: RouteName,
    /// The HTTP method (`OTHER` for non-standard ones).
    pub method: &'static str,
    /// The HTTP status code.
    pub status: u16,
}

/// The gateway's metric families. Clones share the same series.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    /// `http_server_requests_total`.
    pub requests: Family<RequestLabels, Counter>,
    /// `http_server_request_duration_seconds`.
    pub duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    grpc: RouteName,
    unmatched: RouteName,
    /// The series already met, by their labels: a family hashes its labels with SipHash on
    /// every lookup, which cost about 900 instructions per request (callgrind); this map
    /// hashes them with foldhash, once. As bounded as the families: routes, methods, statuses.
    series: Arc<Mutex<foldhash::HashMap<RequestLabels, Series>>>,
}

/// The series one request records into.
#[derive(Debug, Clone)]
struct Series {
    requests: Counter,
    duration: Histogram,
}

/// A histogram with the kit's latency buckets.
fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

impl HttpMetrics {
    /// Creates the families and registers them in `registry`. Call once per registry.
    pub fn register(registry: &Registry) -> Self {
        let metrics = Self {
            requests: Family::default(),
            duration: Family::new_with_constructor(latency_histogram),
            grpc: RouteName(GRPC_ROUTE.into()),
            unmatched: RouteName(UNMATCHED_ROUTE.into()),
            series: Arc::default(),
        };
        registry.register(
            REQUESTS,
            "Total number of HTTP requests answered by the gateway, by route template and status",
            metrics.requests.clone(),
        );
        registry.register(
            DURATION_SECONDS,
            "Histogram of the time (seconds) from an HTTP request to its response head, by route template",
            metrics.duration.clone(),
        );
        metrics
    }

    /// Records one answered request.
    fn record(&self, route: RouteName, method: &'static str, status: u16, seconds: f64) {
        let labels = RequestLabels {
            route,
            method,
            status,
        };
        let mut known = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let series = match known.get(&labels) {
            Some(series) => series,
            None => {
                let series = Series {
                    requests: self.requests.get_or_create(&labels).clone(),
                    duration: self
                        .duration
                        .get_or_create(&RouteLabels {
                            route: labels.route.clone(),
                            method,
                        })
                        .clone(),
                };
                known.entry(labels).or_insert(series)
            }
        };
        series.duration.observe(seconds);
        series.requests.inc();
    }
}

/// The label of a method: its name for the standard ones, `OTHER` otherwise (bounded).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Adds a span and metrics to every request; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    metrics: HttpMetrics,
}

impl ObserveLayer {
    /// A layer recording into `metrics`.
    pub fn new(metrics: HttpMetrics) -> Self {
        Self { metrics }
    }
}

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service [`ObserveLayer`] produces.
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    metrics: HttpMetrics,
}

impl<S, B, ResBody> tower::Service<Request<B>> for Observe<S>
where
    S: tower::Service<Request<B>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResBody>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let start = Instant::now();
        let method = method_label(request.method());
        let grpc = is_grpc(&request);
        let span = tracing::info_span!(
            "http.server",
            otel.name = Empty,
            otel.kind = "server",
            otel.status_code = Empty,
            http.request.method = method,
            http.route = Empty,
            http.response.status_code = Empty,
            url.path = request.uri().path(),
        );
        continue_trace(&span, request.headers_mut());
        let future = span.in_scope(|| self.inner.call(request));
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let result = future.instrument(span.clone()).await;
            let seconds = start.elapsed().as_secs_f64();
            let (route, status) = match &result {
                Ok(response) => {
                    let route = match response.extensions().get::<MatchedRoute>() {
                        Some(matched) => RouteName(matched.route.clone()),
                        None if grpc => metrics.grpc.clone(),
                        None => metrics.unmatched.clone(),
                    };
                    (route, response.status().as_u16())
                }
                Err(_) => (metrics.unmatched.clone(), 500),
            };
            // Only a span someone listens to is worth the formatting.
            if !span.is_disabled() {
                span.record("http.route", &*route.0);
                span.record("otel.name", format!("{method} {}", route.0));
                span.record("http.response.status_code", status);
                if status >= 500 {
                    span.record("otel.status_code", "ERROR");
                }
            }
            metrics.record(route, method, status, seconds);
            result
        })
    }
}
