//! Load shedding: at most `limit` calls run at once; a call beyond it is answered
//! RESOURCE_EXHAUSTED at once instead of waiting in a queue, so an overloaded server stays
//! fast and callers can go elsewhere. Health checks are never shed, so an instance under
//! load is not mistaken for a dead one.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::{Request, Response};
use http_body::{Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::{Status, body::Body};
use tower_layer::Layer;
use tower_service::Service;

use super::BoxFuture;

/// The message of a shed call.
pub(crate) const SHED_MESSAGE: &str = "server overloaded: too many calls in flight, retry later";

/// Paths that are never shed.
const EXEMPT_PREFIX: &str = "/grpc.health.v1.Health/";

/// Sheds calls beyond a concurrency limit; `None` disables it.
#[derive(Debug, Clone)]
pub(crate) struct ShedLayer {
    /// One permit per call in flight.
    permits: Option<Arc<Semaphore>>,
}

impl ShedLayer {
    /// A layer allowing `limit` calls at once; 0 means no limit.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            permits: (limit > 0).then(|| Arc::new(Semaphore::new(limit))),
        }
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
    permits: Option<Arc<Semaphore>>,
}

impl<S> Service<Request<Body>> for Shed<S>
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
        let permit = match &self.permits {
            Some(permits) if !request.uri().path().starts_with(EXEMPT_PREFIX) => {
                match permits.clone().try_acquire_owned() {
                    Ok(permit) => Some(permit),
                    Err(_) => {
                        let response = Status::resource_exhausted(SHED_MESSAGE).into_http();
                        return Box::pin(async move { Ok(response) });
                    }
                }
            }
            _ => None,
        };
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            Ok(match permit {
                // The permit is held until the response body (a stream, maybe) is done.
                Some(permit) => response.map(|inner| {
                    Body::new(PermitBody {
                        inner,
                        _permit: permit,
                    })
                }),
                None => response,
            })
        })
    }
}

pin_project_lite::pin_project! {
    /// A response body that holds its call's permit until it is dropped.
    struct PermitBody {
        #[pin]
        inner: Body,
        _permit: OwnedSemaphorePermit,
    }
}

impl http_body::Body for PermitBody {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
