//! The metrics layer: counts every call when it starts and when it ends, by gRPC code, and
//! times it. The code comes from the `grpc-status` header of a trailers-only answer, or from
//! the trailers at the end of the body, so streaming calls count when their stream ends.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
    time::Instant,
};

use http::{HeaderMap, Request, Response};
use http_body::{Frame, SizeHint};
use tonic::{Code, Status, body::Body};
use tower_layer::Layer;
use tower_service::Service;

use super::{BoxFuture, methods::MethodInfo, methods::MethodTable};
use crate::metrics::{ServerMetrics, codes::code_index};

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

impl<S> Service<Request<Body>> for Metrics<S>
where
    S: Service<Request<Body>, Response = Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<Body>, S::Error>>;

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
        let future = self.inner.call(request);
        Box::pin(async move {
            match future.await {
                Ok(response) => Ok(recorder.watch(response)),
                Err(error) => {
                    recorder.finish(Code::Unknown);
                    Err(error)
                }
            }
        })
    }
}

/// Records the end of one call exactly once; dropped unfinished, it records CANCELLED (the
/// client went away before the status was sent).
struct Recorder {
    /// Present until recorded.
    shared: Option<Arc<Shared>>,
    /// The call's method.
    method: Arc<MethodInfo>,
    /// When the call started.
    start: Instant,
}

impl Recorder {
    /// Records now when the response already carries its status (trailers-only), otherwise
    /// watches the body for the trailers.
    fn watch(self, response: Response<Body>) -> Response<Body> {
        match status_code(response.headers()) {
            Some(code) => {
                self.finish(code);
                response
            }
            None => response.map(|inner| {
                Body::new(ObservedBody {
                    inner,
                    recorder: Some(self),
                })
            }),
        }
    }

    /// Records the outcome.
    fn finish(mut self, code: Code) {
        self.record(code);
    }

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

/// The gRPC code in a header map's `grpc-status`, if there is one.
fn status_code(headers: &HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?;
    let number: i32 = value.to_str().ok()?.parse().ok()?;
    Some(Code::from_i32(number))
}

pin_project_lite::pin_project! {
    /// A response body that records the call when its trailers (or its end) pass by.
    struct ObservedBody {
        #[pin]
        inner: Body,
        recorder: Option<Recorder>,
    }
}

impl http_body::Body for ObservedBody {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        let code = match &frame {
            Some(Ok(frame)) => frame
                .trailers_ref()
                .map(|t| status_code(t).unwrap_or(Code::Unknown)),
            Some(Err(status)) => Some(status.code()),
            // A body that ends without trailers broke the protocol.
            None => Some(Code::Unknown),
        };
        if let Some(code) = code
            && let Some(recorder) = this.recorder.take()
        {
            recorder.finish(code);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.recorder.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
