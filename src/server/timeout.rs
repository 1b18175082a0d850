//! The deadline layer: gives each call its [`Deadline`] (the caller's `grpc-timeout`, or the
//! configured default, whichever is sooner), exposes it to the handler, and answers
//! DEADLINE_EXCEEDED when it passes, for unary calls and for streams alike.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
    time::Duration,
};

use foldhash::HashMap;
use http::{Request, Response};
use http_body::{Frame, SizeHint};
use tokio::{
    task::futures::TaskLocalFuture,
    time::{Instant, Sleep, sleep_until},
};
use tonic::{Code, Status, body::Body};
use tower_layer::Layer;
use tower_service::Service;

use super::{
    deadline::{Deadline, parse_grpc_timeout},
    methods::{MethodKind, MethodTable},
};
use crate::client::deadline::scoped;

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

impl<S, B> Service<Request<Body>> for DeadlineService<S>
where
    S: Service<Request<Body>, Response = Response<B>>,
{
    type Response = Response<DeadlineBody<B>>;
    type Error = S::Error;
    type Future = DeadlineFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let Some(timeout) = self.policy.timeout(&request) else {
            return DeadlineFuture::Unbounded {
                inner: self.inner.call(request),
            };
        };
        let deadline = Deadline::after(timeout);
        request.extensions_mut().insert(deadline);
        // The handler runs inside the deadline's scope, so every call it makes through the
        // kit's client carries the remaining time as `grpc-timeout`.
        DeadlineFuture::Bounded {
            inner: scoped(deadline.instant(), self.inner.call(request)),
            timer: Some(Timer::new(deadline.instant())),
        }
    }
}

/// The deadline's timer, armed only once the call has to wait: a call answered in its
/// first poll never touches the runtime's timer wheel.
struct Timer {
    /// When the call must be answered.
    at: Instant,
    /// The armed timer.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Timer {
    /// A timer for `at`, not armed yet.
    fn new(at: Instant) -> Self {
        Self { at, sleep: None }
    }

    /// Whether the deadline has passed; arms the timer (and registers `cx`) when it has not.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        let at = self.at;
        let sleep = self.sleep.get_or_insert_with(|| Box::pin(sleep_until(at)));
        sleep.as_mut().poll(cx).is_ready()
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`DeadlineService`]: answers DEADLINE_EXCEEDED when the
    /// deadline passes first; the timer moves on into the response body.
    #[project = DeadlineProj]
    pub(crate) enum DeadlineFuture<F> {
        /// No deadline applies.
        Unbounded { #[pin] inner: F },
        /// The call in its deadline's scope, and the timer (taken when done).
        Bounded {
            #[pin]
            inner: TaskLocalFuture<Instant, F>,
            timer: Option<Timer>,
        },
    }
}

impl<F, B, E> Future for DeadlineFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<DeadlineBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            DeadlineProj::Unbounded { inner } => {
                let response = ready!(inner.poll(cx))?;
                Poll::Ready(Ok(response.map(|inner| DeadlineBody::new(inner, None))))
            }
            DeadlineProj::Bounded { inner, timer } => {
                if let Poll::Ready(result) = inner.poll(cx) {
                    let timer = timer.take();
                    return Poll::Ready(
                        result
                            .map(|response| response.map(|inner| DeadlineBody::new(inner, timer))),
                    );
                }
                if timer.as_mut().is_some_and(|t| t.poll_expired(cx)) {
                    *timer = None;
                    return Poll::Ready(Ok(exceeded().into_http()));
                }
                Poll::Pending
            }
        }
    }
}

/// The status of a call whose deadline passed.
fn exceeded() -> Status {
    Status::new(Code::DeadlineExceeded, "deadline exceeded")
}

pin_project_lite::pin_project! {
    /// A response body that ends with DEADLINE_EXCEEDED trailers if the deadline passes
    /// while it still streams; empty for a call answered DEADLINE_EXCEEDED outright.
    pub(crate) struct DeadlineBody<B> {
        #[pin]
        inner: Option<B>,
        timer: Option<Timer>,
    }
}

impl<B> DeadlineBody<B> {
    /// `inner`, bounded by `timer` when there is one.
    fn new(inner: B, timer: Option<Timer>) -> Self {
        Self {
            inner: Some(inner),
            timer,
        }
    }
}

impl<B> Default for DeadlineBody<B> {
    fn default() -> Self {
        Self {
            inner: None,
            timer: None,
        }
    }
}

impl<B> http_body::Body for DeadlineBody<B>
where
    B: http_body::Body<Data = bytes::Bytes, Error = Status>,
{
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            return Poll::Ready(None);
        };
        if let Poll::Ready(frame) = inner.poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if let Some(timer) = this.timer
            && timer.poll_expired(cx)
        {
            // The stream ends here: no frame of the inner body follows the trailers.
            this.inner.set(None);
            let trailers = exceeded().into_http::<()>().into_parts().0.headers;
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(|inner| inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |inner| inner.size_hint())
    }
}
