//! The server's router: a call goes to its service by the first segment of its path
//! (`/pkg.Service/Method`), found with one hash lookup.
//!
//! tonic's own `Routes` is an axum router: it matches a path pattern per service, and boxes
//! each request body twice and each response body once on the way. Every service here is a
//! gRPC service keyed by its full name, so a map from that name is all the routing there is.

use std::{
    convert::Infallible,
    sync::Arc,
    task::{Context, Poll},
};

use foldhash::HashMap;
use http::{Request, Response};
use tonic::{Status, body::Body, server::NamedService};
use tower_service::Service;

/// The response future of every routed call.
type CallFuture = super::shared::CallFuture<Infallible>;

/// Calls one service: clones it (tonic services are cheap handles) and calls the clone.
type Handler = Box<dyn Fn(Request<Body>) -> CallFuture + Send + Sync>;

/// The registered services by full name; see the [module docs](self).
#[derive(Clone, Default)]
pub(crate) struct Dispatch {
    /// Handlers by service name.
    services: Arc<HashMap<&'static str, Handler>>,
}

impl std::fmt::Debug for Dispatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatch")
            .field("services", &self.services.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A gRPC service the kit's server can route to: any generated `FooServiceServer` (also
/// wrapped in an interceptor), health and reflection included.
pub trait RoutedService:
    Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future: Send + 'static>
    + NamedService
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> RoutedService for S where
    S: Service<
            Request<Body>,
            Response = Response<Body>,
            Error = Infallible,
            Future: Send + 'static,
        > + NamedService
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// Collects the services of a [`Dispatch`].
#[derive(Default)]
pub(crate) struct DispatchBuilder {
    /// Handlers by service name.
    services: HashMap<&'static str, Handler>,
}

impl DispatchBuilder {
    /// Routes calls to `S::NAME` to `service` (a later service of the same name replaces it).
    pub(crate) fn add<S: RoutedService>(&mut self, service: S) {
        let handler: Handler = Box::new(move |request| {
            let mut service = service.clone();
            super::shared::call_boxed(&mut service, request)
        });
        self.services.insert(S::NAME, handler);
    }

    /// The router.
    pub(crate) fn build(self) -> Dispatch {
        Dispatch {
            services: Arc::new(self.services),
        }
    }
}

impl Service<Request<Body>> for Dispatch {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = CallFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Generated tonic services are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // `/package.Service/Method`: a byte scan, which costs a fraction of `split_once('/')`
        // on a path this short.
        let service = request.uri().path().strip_prefix('/').and_then(|path| {
            let end = path.bytes().position(|b| b == b'/')?;
            Some(&path[..end])
        });
        match service.and_then(|name| self.services.get(name)) {
            Some(handler) => handler(request),
            None => Box::pin(std::future::ready(
                Ok(Status::unimplemented("").into_http()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str) -> Request<Body> {
        Request::builder()
            .uri(path)
            .header("content-type", "application/grpc")
            .body(Body::empty())
            .unwrap()
    }

    fn status(response: &Response<Body>) -> Option<&str> {
        response
            .headers()
            .get("grpc-status")
            .map(|v| v.to_str().unwrap())
    }

    /// A registered service gets its calls; other paths are UNIMPLEMENTED, as from tonic's
    /// router.
    #[tokio::test]
    async fn routes_by_service_name() {
        let (_reporter, health) = tonic_health::server::health_reporter();
        let mut builder = DispatchBuilder::default();
        builder.add(health);
        let mut dispatch = builder.build();
        for path in [
            "/x.Y/Z",
            "/",
            "/grpc.health.v1.Health",
            "/grpc.health.v1/Check",
        ] {
            let response = dispatch.call(request(path)).await.unwrap();
            assert_eq!(status(&response), Some("12"), "{path}");
        }
        // Reached the health service: its codec finds no request message in the empty body.
        let response = dispatch
            .call(request("/grpc.health.v1.Health/Check"))
            .await
            .unwrap();
        assert_ne!(status(&response), Some("12"));
    }
}
