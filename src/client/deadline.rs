//! Deadline propagation: the deadline of the call being served travels to the calls it
//! makes.
//!
//! A server runs each handler inside [`scope`] (the [`DeadlineLayer`] does it from the
//! incoming `grpc-timeout`; [`propagate`] does it by hand from a `tonic::Request`). Every
//! balanced-client call made inside sets `grpc-timeout` to the time that remains, and fails
//! at once with DEADLINE_EXCEEDED when none does. The deadline is task-local: a spawned task
//! does not inherit it.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use http::HeaderMap;
use tokio::{task::futures::TaskLocalFuture, time::Instant};
use tower::{Layer, Service};

tokio::task_local! {
    static DEADLINE: Instant;
}

/// The gRPC header carrying a call's timeout.
pub const GRPC_TIMEOUT: &str = "grpc-timeout";

/// The deadline of the current task, if it runs inside [`scope`].
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// Runs `fut` with `deadline` (or the enclosing deadline, when that is earlier).
pub async fn scope<F: Future>(deadline: Instant, fut: F) -> F::Output {
    scoped(deadline, fut).await
}

/// [`scope`] as a nameable future, for a tower layer's response future. The enclosing
/// deadline is the one current when this is called.
pub(crate) fn scoped<F: Future>(deadline: Instant, fut: F) -> TaskLocalFuture<Instant, F> {
    let deadline = current().map_or(deadline, |outer| outer.min(deadline));
    DEADLINE.scope(deadline, fut)
}

/// Runs `fut` with the deadline the request carries, if any: the server stack's
/// [`crate::server::Deadline`] extension, else its `grpc-timeout`.
pub async fn propagate<T, F: Future>(request: &tonic::Request<T>, fut: F) -> F::Output {
    let deadline = crate::server::Deadline::of(request)
        .map(crate::server::Deadline::instant)
        .or_else(|| from_headers(request.metadata().as_ref()));
    match deadline {
        Some(deadline) => scope(deadline, fut).await,
        None => fut.await,
    }
}

/// The deadline a `grpc-timeout` header sets, counted from now.
pub fn from_headers(headers: &HeaderMap) -> Option<Instant> {
    let value = crate::wire::get(headers, &crate::wire::GRPC_TIMEOUT)?
        .to_str()
        .ok()?;
    Some(Instant::now() + parse_timeout(value)?)
}

/// Parses a `grpc-timeout` value: up to 8 digits and a unit (H, M, S, m, u, n).
pub fn parse_timeout(value: &str) -> Option<Duration> {
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Formats a timeout as a `grpc-timeout` value in the finest unit that fits 8 digits,
/// rounding up so a remaining time is never reported as zero.
pub fn format_timeout(timeout: Duration) -> String {
    const MAX: u128 = 99_999_999;
    let nanos = timeout.as_nanos();
    let units: [(u128, &str); 6] = [
        (1, "n"),
        (1_000, "u"),
        (1_000_000, "m"),
        (1_000_000_000, "S"),
        (60_000_000_000, "M"),
        (3_600_000_000_000, "H"),
    ];
    for (per, unit) in units {
        let value = nanos.div_ceil(per);
        if value <= MAX {
            return format!("{value}{unit}");
        }
    }
    format!("{MAX}H")
}

/// A server-side layer that runs each request inside [`scope`] with the deadline of its
/// `grpc-timeout`, so balanced-client calls from the handler inherit it.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeadlineLayer;

impl<S> Layer<S> for DeadlineLayer {
    type Service = DeadlineService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DeadlineService { inner }
    }
}

/// The service [`DeadlineLayer`] makes.
#[derive(Debug, Clone)]
pub struct DeadlineService<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for DeadlineService<S>
where
    S: Service<http::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let deadline = from_headers(request.headers());
        let future = self.inner.call(request);
        match deadline {
            Some(deadline) => Box::pin(scope(deadline, future)),
            None => Box::pin(future),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Timeouts round-trip through the header format in the finest unit that fits.
    #[test]
    fn formats_and_parses_timeouts() {
        let cases = [
            (Duration::from_nanos(5), "5n"),
            (Duration::from_millis(250), "250000u"),
            (Duration::from_secs(30), "30000000u"),
            (Duration::from_secs(200), "200000m"),
            (Duration::from_secs(200_000), "200000S"),
        ];
        for (timeout, text) in cases {
            assert_eq!(format_timeout(timeout), text);
            assert_eq!(parse_timeout(text), Some(timeout));
        }
        for bad in ["", "5", "m", "123456789m", "5x", "-5m", "1.5S"] {
            assert_eq!(parse_timeout(bad), None, "{bad:?}");
        }
    }

    /// A nested scope keeps the earlier deadline; outside any scope there is none.
    #[tokio::test(start_paused = true)]
    async fn nested_scope_keeps_the_earlier_deadline() {
        assert_eq!(current(), None);
        let soon = Instant::now() + Duration::from_secs(1);
        let later = soon + Duration::from_secs(5);
        let seen = scope(soon, scope(later, async { current() })).await;
        assert_eq!(seen, Some(soon));
    }
}
