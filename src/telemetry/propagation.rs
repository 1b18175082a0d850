//! W3C trace context (`traceparent`, `tracestate`) read from and written to HTTP/2 headers,
//! which is where gRPC metadata lives. No global propagator is involved.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::{
    Context,
    propagation::{Extractor, Injector, TextMapPropagator as _},
};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The remote parent named by `headers`; an empty context when there is none or it is
/// malformed.
pub fn extract_context(headers: &HeaderMap) -> Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

/// Writes the span context of `context` into `headers` (nothing when it has no valid span).
pub fn inject_context(context: &Context, headers: &mut HeaderMap) {
    TraceContextPropagator::new().inject_context(context, &mut HeaderInjector(headers));
}

/// Writes the context of the current `tracing` span into `headers`, for a hand-made
/// outgoing request (the gateway, or a client without [`super::ClientTraceLayer`]).
pub fn inject_current_context(headers: &mut HeaderMap) {
    inject_context(&tracing::Span::current().context(), headers);
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
    };

    use super::*;

    /// A context written into headers reads back identical, and junk reads as no parent.
    #[test]
    fn round_trip() {
        let span = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::from_key_value([("vendor", "x")]).unwrap(),
        );
        let mut headers = HeaderMap::new();
        inject_context(
            &Context::new().with_remote_span_context(span.clone()),
            &mut headers,
        );
        assert_eq!(
            headers["traceparent"],
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        assert_eq!(headers["tracestate"], "vendor=x");
        let read = extract_context(&headers);
        assert_eq!(read.span().span_context(), &span);

        let mut junk = HeaderMap::new();
        junk.insert("traceparent", HeaderValue::from_static("00-zz-yy-01"));
        assert!(!extract_context(&junk).span().span_context().is_valid());
        assert!(
            !extract_context(&HeaderMap::new())
                .span()
                .span_context()
                .is_valid()
        );
    }

    /// Without a span there is nothing to inject.
    #[test]
    fn no_span_no_header() {
        let mut headers = HeaderMap::new();
        inject_current_context(&mut headers);
        assert!(headers.is_empty());
    }
}
