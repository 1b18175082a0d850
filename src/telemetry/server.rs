//! The server-side tracing layer: one span per call, named `pkg.Service/Method`, with the
//! OpenTelemetry RPC attributes (`rpc.system`, `rpc.service`, `rpc.method`,
//! `rpc.grpc.status_code`, `otel.kind = server`), parented by the caller's W3C trace context.
//!
//! When spans are exported, the span also carries a `trace_id` field, so every log line
//! written during the call names its trace. Put the layer outside the auth layer, so
//! refused calls are traced too.

use std::task::{Context, Poll};

use opentelemetry::trace::{TraceContextExt as _, TraceId};
use tower_layer::Layer;
use tower_service::Service;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::{
    propagation::extract_context,
    traced::{Side, TracedBody, TracedFuture, call_span},
};

/// Opens a server span per call; see the [module docs](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerTraceLayer;

impl ServerTraceLayer {
    /// The layer.
    pub fn new() -> Self {
        Self
    }
}

impl<S> Layer<S> for ServerTraceLayer {
    type Service = ServerTraceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ServerTraceService { inner }
    }
}

/// The service [`ServerTraceLayer`] produces.
#[derive(Debug, Clone)]
pub struct ServerTraceService<S> {
    inner: S,
}

impl<S, B, ResBody> Service<http::Request<B>> for ServerTraceService<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
{
    type Response = http::Response<TracedBody<ResBody>>;
    type Error = S::Error;
    type Future = TracedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let span = call_span(Side::Server, request.uri().path());
        let parent = extract_context(request.headers());
        if parent.span().span_context().is_valid() {
            // Fails only when no OpenTelemetry layer is installed; nothing to parent then.
            let _ = span.set_parent(parent);
        }
        // The trace id in every log line of the call, to jump from logs to the trace.
        if !span.is_disabled() {
            let trace_id = span.context().span().span_context().trace_id();
            if trace_id != TraceId::INVALID {
                span.record("trace_id", tracing::field::display(trace_id));
            }
        }
        let future = span.in_scope(|| self.inner.call(request));
        TracedFuture::new(future, span, Side::Server)
    }
}
