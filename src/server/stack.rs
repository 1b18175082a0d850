//! The server stack: every cross-cutting concern between the connection and the handlers,
//! assembled in one place, outermost first.

use std::{convert::Infallible, sync::Arc};

use http::{Request, Response};
use tonic::body::Body;
use tower::ServiceBuilder;
use tower_service::Service;

use super::{
    dispatch::Dispatch, limit::MessageLimitLayer, methods::MethodTable, observe::MetricsLayer,
    shed::ShedLayer, timeout::DeadlineLayer,
};
use crate::{
    auth::AuthLayer, config::ServerConfig, metrics::ServerMetrics, telemetry::ServerTraceLayer,
};

/// Wraps the routes (every registered service, health and reflection) in the stack. Requests
/// pass the layers top to bottom; responses come back bottom to top.
pub(crate) fn stack(
    routes: Dispatch,
    config: &ServerConfig,
    metrics: ServerMetrics,
    methods: Arc<MethodTable>,
    auth: Option<AuthLayer>,
) -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ Sync
+ 'static {
    ServiceBuilder::new()
        // One response body type out of the stack, whatever the layers below wrap it in.
        .map_response(|response: Response<_>| response.map(Body::new))
        // Tracing: outermost, so the call's span (parented by the caller's W3C trace
        // context) covers every layer below, and everything they log lands in it; refused
        // calls are traced too.
        .layer(ServerTraceLayer::new())
        // Metrics: above everything that can refuse a call, so shed, timed-out and
        // unauthenticated calls are counted with their code like any other.
        .layer(MetricsLayer::new(metrics, methods.clone()))
        // Load shedding: before any per-call work, so refusing a call under overload costs
        // next to nothing and never queues.
        .layer(ShedLayer::new(config.concurrency_limit))
        // Deadlines: the clock starts here, so time spent in auth and in the handler counts
        // against the caller's deadline; handlers read it as a `Deadline` extension.
        .layer(DeadlineLayer::new(
            methods,
            config.default_deadline,
            config.method_deadlines.clone(),
        ))
        // Auth (when the server has an `AuthLayer`): below metrics and tracing, so refused
        // calls are still counted and traced; below shedding, so an overloaded server does
        // not spend time verifying tokens; above the handlers it guards.
        .option_layer(auth)
        // Message size: innermost, because it acts while the handler reads the body.
        .layer(MessageLimitLayer::new(config.max_message_size))
        .service(routes)
}
