//! Load shedding: at most `limit` calls run at once; a call beyond it is answered
//! RESOURCE_EXHAUSTED at once instead of waiting in a queue, so an overloaded server stays
//! fast and callers can go elsewhere. Health checks are never shed, so an instance under
//! load is not mistaken for a dead one.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll, ready},
};

use http::{Request, Response};
use http_body::{Frame, SizeHint};
use tonic::{Status, body::Body};
use tower_layer::Layer;
use tower_service::Service;

/// The message of a shed call.
pub(crate) const SHED_MESSAGE: &str = "server overloaded: too many calls in flight, retry later";

/// Paths that are never shed.
const EXEMPT_PREFIX: &str = "/grpc.health.v1.Health/";

/// Sheds calls beyond a concurrency limit; `None` disables it.
#[derive(Debug, Clone)]
pub(crate) struct ShedLayer {
    /// The calls in flight.
    permits: Option<Arc<InFlight>>,
}

impl ShedLayer {
    /// A layer allowing `limit` calls at once; 0 means no limit.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            permits: (limit > 0).then(|| {
                Arc::new(InFlight {
                    count: AtomicUsize::new(0),
                    limit,
                })
            }),
        }
    }
}

/// A counter of calls in flight: nothing ever waits on it, so a counter does what a
/// semaphore would, without its lock.
#[derive(Debug)]
pub(crate) struct InFlight {
    /// Calls in flight (briefly one more while a refused call backs out).
    count: AtomicUsize,
    /// The most calls at once.
    limit: usize,
}

impl InFlight {
    /// A permit for one more call, unless `limit` calls are in flight.
    fn try_acquire(self: &Arc<Self>) -> Option<Permit> {
        if self.count.fetch_add(1, Ordering::AcqRel) >= self.limit {
            self.count.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Permit(self.clone()))
    }
}

/// One call's place in [`InFlight`], given back on drop.
#[derive(Debug)]
pub(crate) struct Permit(Arc<InFlight>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<S> Layer<S> for ShedLayer {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Shed {
            inner,
            permits: self.permits.clone(),
        }
    }
}

/// The service [`ShedLayer`] makes.
#[derive(Debug, Clone)]
pub(crate) struct Shed<S> {
    /// The rest of the stack.
    inner: S,
    /// One permit per call in flight.
    permits: Option<Arc<InFlight>>,
}

impl<S, B> Service<Request<Body>> for Shed<S>
where
    S: Service<Request<Body>, Response = Response<B>>,
{
    type Response = Response<PermitBody<B>>;
    type Error = S::Error;
    type Future = ShedFuture<S::Future, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let permit = match &self.permits {
            Some(permits) if !request.uri().path().starts_with(EXEMPT_PREFIX) => {
                match permits.try_acquire() {
                    Some(permit) => Some(permit),
                    None => {
                        let response = Status::resource_exhausted(SHED_MESSAGE).into_http();
                        return ShedFuture::Shed {
                            response: Some(response),
                        };
                    }
                }
            }
            _ => None,
        };
        ShedFuture::Admitted {
            inner: self.inner.call(request),
            permit,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`Shed`]: the call with its permit, or the refusal.
    #[project = ShedProj]
    pub(crate) enum ShedFuture<F, B> {
        /// Admitted; the permit moves into the response body.
        Admitted { #[pin] inner: F, permit: Option<Permit> },
        /// Refused at once.
        Shed { response: Option<Response<PermitBody<B>>> },
    }
}

impl<F, B, E> Future for ShedFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<PermitBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ShedProj::Admitted { inner, permit } => {
                let response = ready!(inner.poll(cx))?;
                // The permit is held until the response body (a stream, maybe) is done.
                let permit = permit.take();
                Poll::Ready(Ok(response.map(|inner| PermitBody {
                    inner: Some(inner),
                    _permit: permit,
                })))
            }
            // Polled again after completion: never resolve twice.
            ShedProj::Shed { response } => response
                .take()
                .map_or(Poll::Pending, |r| Poll::Ready(Ok(r))),
        }
    }
}

pin_project_lite::pin_project! {
    /// A response body that holds its call's permit until it is dropped; empty for a shed
    /// call (its status is in the headers).
    pub(crate) struct PermitBody<B> {
        #[pin]
        inner: Option<B>,
        _permit: Option<Permit>,
    }
}

impl<B> Default for PermitBody<B> {
    fn default() -> Self {
        Self {
            inner: None,
            _permit: None,
        }
    }
}

impl<B: http_body::Body> http_body::Body for PermitBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().inner.as_pin_mut() {
            Some(inner) => inner.poll_frame(cx),
            None => Poll::Ready(None),
        }
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
