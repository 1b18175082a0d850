//! The deadline layer: gives each call its [`Deadline`] (the caller's `grpc-timeout`, or the
//! configured default, whichever is sooner), exposes it to the handler, and answers
//! DEADLINE_EXCEEDED when it passes, for unary calls and for streams alike.

use std::{
    collections::HashMap,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use http::{Request, Response};
use http_body::{Frame, SizeHint};
use tokio::time::{Sleep, sleep_until};
use tonic::{Code, Status, body::Body};
use tower_layer::Layer;
use tower_service::Service;

use super::{
    BoxFuture,
    deadline::{Deadline, parse_grpc_timeout},
    methods::{MethodKind, MethodTable},
};

/// Taken off a caller's `grpc-timeout`, so this layer answers DEADLINE_EXCEEDED before
/// tonic's own transport timer (which reads the same header and answers CANCELLED) fires:
/// two ticks of tokio's millisecond timer.
const CALLER_MARGIN: Duration = Duration::from_millis(2);

/// The configured deadlines.
#[derive(Debug)]
struct Policy {
    /// Known methods (the default applies to unary ones only).
    methods: Arc<MethodTable>,
    /// Default for unary calls; `None` for no default.
    default: Option<Duration>,
    /// Per-path overrides.
    per_method: HashMap<String, Duration>,
}

/// Applies deadlines.
#[derive(Debug, Clone)]
pub(crate) struct DeadlineLayer {
    /// The configured deadlines.
    policy: Arc<Policy>,
}

impl DeadlineLayer {
    /// A layer with a default for unary calls (zero: none) and per-path overrides.
    pub(crate) fn new(
        methods: Arc<MethodTable>,
        default: Duration,
        per_method: impl IntoIterator<Item = (String, Duration)>,
    ) -> Self {
        Self {
            policy: Arc::new(Policy {
                methods,
                default: (!default.is_zero()).then_some(default),
                per_method: per_method.into_iter().collect(),
            }),
        }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = DeadlineService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DeadlineService {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// The service [`DeadlineLayer`] makes.
#[derive(Debug, Clone)]
pub(crate) struct DeadlineService<S> {
    /// The rest of the stack.
    inner: S,
    /// The configured deadlines.
    policy: Arc<Policy>,
}

impl Policy {
    /// The timeout of a call: the sooner of the caller's and the configured one.
    fn timeout(&self, request: &Request<Body>) -> Option<Duration> {
        let path = request.uri().path();
        let configured = self.per_method.get(path).copied().or_else(|| {
            (self.methods.lookup(path).kind == MethodKind::Unary)
                .then_some(self.default)
                .flatten()
        });
        let caller = parse_grpc_timeout(request.headers()).map(|t| t.saturating_sub(CALLER_MARGIN));
        match (caller, configured) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl<S> Service<Request<Body>> for DeadlineService<S>
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

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let Some(timeout) = self.policy.timeout(&request) else {
            return Box::pin(self.inner.call(request));
        };
        let deadline = Deadline::after(timeout);
        request.extensions_mut().insert(deadline);
        // The handler runs inside the deadline's scope, so every call it makes through the
        // kit's client carries the remaining time as `grpc-timeout`.
        let future = crate::client::deadline::scope(deadline.instant(), self.inner.call(request));
        Box::pin(async move {
            let mut sleep = Box::pin(sleep_until(deadline.instant()));
            tokio::select! {
                biased;
                response = future => Ok(response?.map(|inner| {
                    Body::new(DeadlineBody { inner, sleep: Some(sleep) })
                })),
                () = &mut sleep => Ok(exceeded().into_http()),
            }
        })
    }
}

/// The status of a call whose deadline passed.
fn exceeded() -> Status {
    Status::new(Code::DeadlineExceeded, "deadline exceeded")
}

pin_project_lite::pin_project! {
    /// A response body that ends with DEADLINE_EXCEEDED trailers if the deadline passes
    /// while it still streams.
    struct DeadlineBody {
        #[pin]
        inner: Body,
        sleep: Option<Pin<Box<Sleep>>>,
    }
}

impl http_body::Body for DeadlineBody {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let Some(sleep) = this.sleep.as_mut() else {
            return Poll::Ready(None);
        };
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if sleep.as_mut().poll(cx).is_ready() {
            *this.sleep = None;
            let trailers = exceeded().into_http::<()>().into_parts().0.headers;
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.sleep.is_none() || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
