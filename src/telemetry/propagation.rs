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
    // Most requests from outside carry no trace context: skip the propagator for them.
    if crate::wire::get(headers, &crate::wire::TRACEPARENT).is_none() {
        return Context::new();
    }
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

/// For a hop that forwards a request (the REST gateway): parents `span` by the W3C context in
/// `headers`, if any, and, when spans are exported, writes `span`'s own context over it, so
/// the next hop is the span's child. With no OpenTelemetry layer installed `headers` are left
/// as they came, and the caller's context still travels on.
pub fn continue_trace(span: &tracing::Span, headers: &mut HeaderMap) {
    use opentelemetry::trace::TraceContextExt as _;
    let parent = extract_context(headers);
    if parent.span().span_context().is_valid() {
        // Fails only when no OpenTelemetry layer is installed; nothing to parent then.
        let _ = span.set_parent(parent);
    }
    if span.is_disabled() {
        return;
    }
    let own = span.context();
    if own.span().span_context().is_valid() {
        inject_context(&own, headers);
    }
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

    /// A forwarding hop continues the caller's trace and hands on its own span; with no
    /// OpenTelemetry layer the caller's context passes through untouched.
    #[test]
    fn continue_trace_makes_the_next_hop_a_child() {
        use opentelemetry::trace::TracerProvider as _;
        use tracing_subscriber::layer::SubscriberExt as _;

        let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let headers = || {
            let mut headers = HeaderMap::new();
            headers.insert("traceparent", HeaderValue::from_static(caller));
            headers
        };

        let mut untouched = headers();
        continue_trace(&tracing::info_span!("hop"), &mut untouched);
        assert_eq!(untouched["traceparent"], caller);

        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("hop");
            let mut forwarded = headers();
            continue_trace(&span, &mut forwarded);
            let own = span.context().span().span_context().clone();
            assert_eq!(
                own.trace_id(),
                TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()
            );
            assert_ne!(own.span_id(), SpanId::from_hex("00f067aa0ba902b7").unwrap());
            assert_eq!(
                forwarded["traceparent"],
                format!("00-{}-{}-01", own.trace_id(), own.span_id()).as_str()
            );
        });
    }
}
