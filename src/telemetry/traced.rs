//! The span of one gRPC call, and the future and body that keep it open until the call's
//! status is known, then record it.
//!
//! A unary gRPC response carries its status in the trailers, after the body, so the span
//! lives in the response body and ends when the trailers pass (or at once for a
//! trailers-only error response). Inner futures and bodies are polled inside the span, so
//! handler logs and outgoing calls are its children.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tonic::Code;
use tracing::{Span, field::Empty};

use crate::wire::grpc_status;

/// Which end of a call a span describes; decides which codes mark the span as an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The server end (`otel.kind = server`).
    Server,
    /// The client end (`otel.kind = client`).
    Client,
}

/// Opens the span of a call to `path` (`/pkg.Service/Method`) with the OpenTelemetry RPC
/// attributes; `rpc.grpc.status_code` is recorded when the call ends.
pub fn call_span(side: Side, path: &str) -> Span {
    // The names are worked out only when spans at this level can be enabled at all.
    let (name, (service, method)) = if tracing::level_enabled!(tracing::Level::INFO) {
        let bare = path.strip_prefix('/');
        let parts = bare.and_then(|p| p.split_once('/')).unwrap_or(("", path));
        (bare.unwrap_or(path), parts)
    } else {
        (path, ("", path))
    };
    match side {
        Side::Server => tracing::info_span!(
            "grpc.server",
            trace_id = Empty,
            otel.name = name,
            otel.kind = "server",
            otel.status_code = Empty,
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
            rpc.grpc.status_code = Empty,
        ),
        Side::Client => tracing::info_span!(
            "grpc.client",
            otel.name = name,
            otel.kind = "client",
            otel.status_code = Empty,
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
            rpc.grpc.status_code = Empty,
        ),
    }
}

/// Records a call's gRPC status on its span, marking errors as OpenTelemetry's semantic
/// conventions say: any non-OK code on a client; only codes that blame the server on a server.
pub fn record_status(span: &Span, side: Side, code: Code) {
    span.record("rpc.grpc.status_code", code as i64);
    let error = match side {
        Side::Client => code != Code::Ok,
        Side::Server => matches!(
            code,
            Code::Unknown
                | Code::DeadlineExceeded
                | Code::Unimplemented
                | Code::Internal
                | Code::Unavailable
                | Code::DataLoss
        ),
    };
    if error {
        span.record("otel.status_code", "ERROR");
    }
}

pin_project! {
    /// A response future polled inside its call's span; its response body carries the span on.
    pub struct TracedFuture<F> {
        #[pin]
        inner: F,
        span: Option<Span>,
        side: Side,
    }
}

impl<F> TracedFuture<F> {
    /// Wraps `inner`, the call's response future, with its `span`.
    pub fn new(inner: F, span: Span, side: Side) -> Self {
        Self {
            inner,
            span: Some(span),
            side,
        }
    }
}

impl<F, B, E> Future for TracedFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = Result<http::Response<TracedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let inner = this.inner;
        let poll = match this.span.as_ref() {
            Some(span) => span.in_scope(|| inner.poll(cx)),
            None => inner.poll(cx),
        };
        let Poll::Ready(result) = poll else {
            return Poll::Pending;
        };
        let span = this.span.take().unwrap_or_else(Span::none);
        let side = *this.side;
        Poll::Ready(match result {
            Ok(response) => match grpc_status(response.headers()) {
                // Trailers-only response: the call is over.
                Some(code) => {
                    record_status(&span, side, code);
                    Ok(response.map(|body| TracedBody::new(body, None, side)))
                }
                None => Ok(response.map(|body| TracedBody::new(body, Some(span), side))),
            },
            Err(error) => {
                span.record("otel.status_code", "ERROR");
                Err(error)
            }
        })
    }
}

pin_project! {
    /// A response body that keeps its call's span open until the trailers (or the end).
    pub struct TracedBody<B> {
        #[pin]
        inner: B,
        span: Option<Span>,
        side: Side,
    }
}

impl<B> TracedBody<B> {
    fn new(inner: B, span: Option<Span>, side: Side) -> Self {
        Self { inner, span, side }
    }
}

impl<B: Default> Default for TracedBody<B> {
    fn default() -> Self {
        Self::new(B::default(), None, Side::Server)
    }
}

impl<B: Body> Body for TracedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let inner = this.inner;
        let poll = match this.span.as_ref() {
            Some(span) => span.in_scope(|| inner.poll_frame(cx)),
            None => inner.poll_frame(cx),
        };
        match &poll {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref()
                    && let Some(span) = this.span.take()
                    && let Some(code) = grpc_status(trailers)
                {
                    record_status(&span, *this.side, code);
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(span) = this.span.take() {
                    span.record("otel.status_code", "ERROR");
                }
            }
            Poll::Ready(None) => {
                this.span.take();
            }
            Poll::Pending => {}
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
