//! The client-side tracing layer: one span per outgoing call (`otel.kind = client`, with the
//! same RPC attributes as the server side), whose context is written into the request as
//! W3C `traceparent`/`tracestate`, so the server's span becomes its child.
//!
//! Wrap a channel with it: `ClientTraceLayer::new().layer(channel)`, then build the generated
//! client on top (`FooServiceClient::new(traced)`).

use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::{
    propagation::inject_context,
    traced::{Side, TracedBody, TracedFuture, call_span},
};

/// Opens a client span per call and propagates it; see the [module docs](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientTraceLayer;

impl ClientTraceLayer {
    /// The layer.
    pub fn new() -> Self {
        Self
    }
}

impl<S> Layer<S> for ClientTraceLayer {
    type Service = ClientTraceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClientTraceService { inner }
    }
}

/// The service [`ClientTraceLayer`] produces.
#[derive(Debug, Clone)]
pub struct ClientTraceService<S> {
    inner: S,
}

impl<S, B, ResBody> Service<http::Request<B>> for ClientTraceService<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
{
    type Response = http::Response<TracedBody<ResBody>>;
    type Error = S::Error;
    type Future = TracedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let span = call_span(Side::Client, request.uri().path());
        inject_context(&span.context(), request.headers_mut());
        let future = span.in_scope(|| self.inner.call(request));
        TracedFuture::new(future, span, Side::Client)
    }
}
