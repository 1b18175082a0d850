//! The metrics layer: counts every call when it starts and when it ends, by gRPC code, and
//! times it. The code comes from the `grpc-status` header of a trailers-only answer, or from
//! the trailers at the end of the body ([`crate::metrics::body`]), so streaming calls count
//! when their stream ends.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
    time::Instant,
};

use http::{Request, Response};
use tonic::{Code, body::Body};
use tower_layer::Layer;
use tower_service::Service;

use super::methods::{MethodInfo, MethodTable};
use crate::metrics::{
    ServerMetrics,
    body::{self, Finish, ObservedBody},
    codes::code_index,
};

/// What every metrics service shares.
#[derive(Debug)]
struct Shared {
    /// The metric families.
    metrics: ServerMetrics,
    /// The known methods.
    methods: Arc<MethodTable>,
}

/// Records `grpc_server_*` metrics for every call.
#[derive(Debug, Clone)]
pub(crate) struct MetricsLayer {
    /// Families and methods.
    shared: Arc<Shared>,
}

impl MetricsLayer {
    /// A layer recording into `metrics`, labelling by `methods`.
    pub(crate) fn new(metrics: ServerMetrics, methods: Arc<MethodTable>) -> Self {
        Self {
            shared: Arc::new(Shared { metrics, methods }),
        }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = Metrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Metrics {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service [`MetricsLayer`] makes.
#[derive(Debug, Clone)]
pub(crate) struct Metrics<S> {
    /// The rest of the stack.
    inner: S,
    /// Families and methods.
    shared: Arc<Shared>,
}

impl<S, B> Service<Request<Body>> for Metrics<S>
where
    S: Service<Request<Body>, Response = Response<B>>,
{
    type Response = Response<ObservedBody<Recorder, B>>;
    type Error = S::Error;
    type Future = MetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let method = self.shared.methods.lookup(request.uri().path()).clone();
        let metrics = &self.shared.metrics;
        method
            .series
            .started
            .get_or_init(|| metrics.started.get_or_create(&method.labels).clone())
            .inc();
        let recorder = Recorder {
            shared: Some(self.shared.clone()),
            method,
            start: Instant::now(),
        };
        MetricsFuture {
            inner: self.inner.call(request),
            recorder: Some(recorder),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`Metrics`]: hands the recorder to the response body, or
    /// records UNKNOWN when the stack below fails.
    pub(crate) struct MetricsFuture<F> {
        #[pin]
        inner: F,
        recorder: Option<Recorder>,
    }
}

impl<F, B, E> Future for MetricsFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ObservedBody<Recorder, B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let Some(recorder) = this.recorder.take() else {
            // Polled after completion: a bug of the caller; never resolve twice.
            return Poll::Pending;
        };
        Poll::Ready(match result {
            Ok(response) => Ok(body::observe(response, recorder)),
            Err(error) => {
                recorder.finish(Code::Unknown);
                Err(error)
            }
        })
    }
}

/// Records the end of one call exactly once; dropped unfinished, it records CANCELLED (the
/// client went away before the status was sent).
pub(crate) struct Recorder {
    /// Present until recorded.
    shared: Option<Arc<Shared>>,
    /// The call's method.
    method: Arc<MethodInfo>,
    /// When the call started.
    start: Instant,
}

impl Finish for Recorder {
    fn finish(mut self, code: Code) {
        self.record(code);
    }
}

impl Recorder {
    /// Increments handled and observes the latency, once.
    fn record(&mut self, code: Code) {
        if let Some(shared) = self.shared.take() {
            let (metrics, method) = (&shared.metrics, &self.method);
            let index = code_index(code);
            method.series.handled[index]
                .get_or_init(|| {
                    metrics
                        .handled
                        .get_or_create(&method.handled[index])
                        .clone()
                })
                .inc();
            method
                .series
                .handling
                .get_or_init(|| {
                    metrics
                        .handling_seconds
                        .get_or_create(&method.labels)
                        .clone()
                })
                .observe(self.start.elapsed().as_secs_f64());
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.record(Code::Cancelled);
    }
}
