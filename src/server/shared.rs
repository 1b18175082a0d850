//! [`SharedService`]: a type-erased service that a server clones for every request at the
//! cost of a reference count.
//!
//! tower's `BoxCloneSyncService` allocates a new box on every clone, and boxes every call's
//! future again even when the service already returns it boxed. A server clones its service
//! once per request, and a front layer's service wraps another boxed service, so both costs
//! are paid several times per call. A `SharedService` holds its service behind an `Arc`, and
//! hands on a future that already is a [`CallFuture`] as it is.

use std::{
    any::{Any, TypeId},
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, Waker},
};

use futures_util::TryFutureExt as _;
use http::{Request, Response};
use tonic::body::Body;
use tower::{Service, ServiceExt as _};

/// The response future of a [`SharedService`] failing with `E`.
pub type CallFuture<E> = Pin<Box<dyn Future<Output = Result<Response<Body>, E>> + Send>>;

/// Calls `service`, its future as a [`CallFuture`]: as it is when it already is one (tonic's
/// generated servers and the gateway's REST layer return their calls boxed; boxing them again
/// would cost an allocation and a copy per call); otherwise written, its error converted, into
/// a box allocated before the call (`server::grpc::boxed`), so the compiler can build the
/// future in the box rather than on the stack and copy it there (a server stack's future runs
/// to hundreds of bytes).
pub(crate) fn call_boxed<S, E>(service: &mut S, request: Request<Body>) -> CallFuture<E>
where
    S: Service<Request<Body>, Response = Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Into<E> + 'static,
    E: Send + 'static,
{
    if TypeId::of::<S::Future>() == TypeId::of::<CallFuture<E>>() {
        let mut call = Some(service.call(request));
        if let Some(call) = (&mut call as &mut dyn Any)
            .downcast_mut::<Option<CallFuture<E>>>()
            .and_then(Option::take)
        {
            return call;
        }
        unreachable!("a future of the same TypeId as CallFuture is one");
    }
    super::grpc::boxed(|| service.call(request).map_err(Into::into))
}

/// Calls a clone of the shared service.
type Call<E> = dyn Fn(Request<Body>) -> CallFuture<E> + Send + Sync;

/// A cloneable, type-erased service of gRPC-over-HTTP requests failing with `E`; see the
/// [module docs](self).
pub struct SharedService<E> {
    call: Arc<Call<E>>,
}

impl<E: Send + 'static> SharedService<E> {
    /// Erases `service`'s type. Each call clones `service` and calls the clone: at once
    /// when it is ready at once (every layer of the kit's stack is), after waiting for it
    /// otherwise.
    pub fn new<S>(service: S) -> Self
    where
        S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<E> + 'static,
    {
        let call = move |request: Request<Body>| -> CallFuture<E> {
            let mut service = service.clone();
            match service.poll_ready(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(Ok(())) => call_boxed(&mut service, request),
                Poll::Ready(Err(e)) => Box::pin(std::future::ready(Err(e.into()))),
                // Polled again, with the caller's waker, by the future.
                Poll::Pending => {
                    Box::pin(async move { service.oneshot(request).await.map_err(Into::into) })
                }
            }
        };
        Self {
            call: Arc::new(call),
        }
    }
}

impl<E> Clone for SharedService<E> {
    fn clone(&self) -> Self {
        Self {
            call: self.call.clone(),
        }
    }
}

impl<E> std::fmt::Debug for SharedService<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedService").finish_non_exhaustive()
    }
}

impl<E> Service<Request<Body>> for SharedService<E> {
    type Response = Response<Body>;
    type Error = E;
    type Future = CallFuture<E>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        // Each call drives its own clone of the service to readiness.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> CallFuture<E> {
        (self.call)(request)
    }
}

#[cfg(test)]
mod tests {
    use std::{
        convert::Infallible,
        sync::atomic::{AtomicUsize, Ordering},
    };

    use super::*;

    fn ok() -> Result<Response<Body>, Infallible> {
        Ok(Response::new(Body::empty()))
    }

    /// `call_boxed` passes a service's `CallFuture` on as it is and boxes any other future,
    /// its error converted.
    #[tokio::test]
    async fn calls_are_boxed_once() {
        let made = Arc::new(std::sync::Mutex::new(None));
        let seen = made.clone();
        let mut already = tower::service_fn(move |_: Request<Body>| {
            let call: CallFuture<Infallible> = Box::pin(std::future::ready(ok()));
            *seen.lock().unwrap() = Some(std::ptr::from_ref(&*call).cast::<()>() as usize);
            call
        });
        let call = call_boxed::<_, Infallible>(&mut already, Request::new(Body::empty()));
        let address = std::ptr::from_ref(&*call).cast::<()>() as usize;
        assert_eq!(Some(address), *made.lock().unwrap());
        assert!(call.await.is_ok());
        let mut plain = tower::service_fn(|request: Request<Body>| {
            std::future::ready(if request.uri().path() == "/ok" {
                Ok(Response::new(Body::empty()))
            } else {
                Err("refused")
            })
        });
        let ok_request = Request::builder().uri("/ok").body(Body::empty()).unwrap();
        assert!(
            call_boxed::<_, tower::BoxError>(&mut plain, ok_request)
                .await
                .is_ok()
        );
        let error = call_boxed::<_, tower::BoxError>(&mut plain, Request::new(Body::empty()))
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "refused");
    }

    /// Not ready on its first poll (the one with no waker), then ready: a service a front
    /// layer could wrap, were it rate-limited, say.
    #[derive(Clone)]
    struct Slow {
        polls: Arc<AtomicUsize>,
    }

    impl Service<Request<Body>> for Slow {
        type Response = Response<Body>;
        type Error = &'static str;
        type Future = std::future::Ready<Result<Response<Body>, &'static str>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), &'static str>> {
            if self.polls.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request<Body>) -> Self::Future {
            let ok = request.uri().path() == "/ok";
            std::future::ready(if ok {
                Ok(Response::new(Body::empty()))
            } else {
                Err("refused")
            })
        }
    }

    /// A service that is not ready at once is waited for, its errors are converted, and
    /// clones share it.
    #[tokio::test]
    async fn waits_for_readiness_and_converts_errors() {
        let polls = Arc::new(AtomicUsize::new(0));
        let shared = SharedService::<tower::BoxError>::new(Slow {
            polls: polls.clone(),
        });
        let mut clone = shared.clone();
        let request = |path: &str| Request::builder().uri(path).body(Body::empty()).unwrap();
        let response = clone.call(request("/ok")).await.unwrap();
        assert_eq!(response.status(), http::StatusCode::OK);
        assert_eq!(
            polls.load(Ordering::SeqCst),
            2,
            "a second poll, with a waker"
        );
        let error = shared.clone().call(request("/no")).await.unwrap_err();
        assert_eq!(error.to_string(), "refused");
    }
}
