//! [`Deadline`]: when a call must be answered, as handlers (and outgoing calls) see it.
//!
//! The server stack puts a `Deadline` into every call's extensions when the caller sent a
//! `grpc-timeout` or the configuration gives the method one; the kit's client reads it and
//! sends the remaining time downstream, so the whole chain shares one deadline.

use std::time::Duration;

use http::HeaderMap;
use tokio::time::Instant;

pub use crate::client::deadline::GRPC_TIMEOUT;

/// The instant by which a call must be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(Instant);

impl Deadline {
    /// A deadline at `instant`.
    pub fn at(instant: Instant) -> Self {
        Self(instant)
    }

    /// A deadline `timeout` from now.
    pub fn after(timeout: Duration) -> Self {
        Self(Instant::now() + timeout)
    }

    /// The instant.
    pub fn instant(self) -> Instant {
        self.0
    }

    /// Time left; zero once passed.
    pub fn remaining(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    /// Whether it has passed.
    pub fn is_expired(self) -> bool {
        Instant::now() >= self.0
    }

    /// The deadline of a call, when it has one.
    pub fn of<T>(request: &tonic::Request<T>) -> Option<Deadline> {
        request.extensions().get::<Deadline>().copied()
    }

    /// The `grpc-timeout` value for the time left, to send on an outgoing call.
    pub fn grpc_timeout(self) -> String {
        encode_grpc_timeout(self.remaining())
    }
}

/// Reads a `grpc-timeout` header (`100m`, `5S`, `2H`...); `None` when absent or malformed.
pub fn parse_grpc_timeout(headers: &HeaderMap) -> Option<Duration> {
    let text = crate::wire::get(headers, &crate::wire::GRPC_TIMEOUT)?
        .to_str()
        .ok()?;
    crate::client::deadline::parse_timeout(text)
}

/// Encodes a timeout as a `grpc-timeout` value: the finest unit whose count fits in the 8
/// digits the spec allows, rounded up.
pub fn encode_grpc_timeout(timeout: Duration) -> String {
    crate::client::deadline::format_timeout(timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every unit is read, malformed values are ignored, and encoding round-trips.
    #[test]
    fn parses_and_encodes_grpc_timeout() {
        let mut headers = HeaderMap::new();
        for (text, expected) in [
            ("100m", Some(Duration::from_millis(100))),
            ("5S", Some(Duration::from_secs(5))),
            ("2M", Some(Duration::from_secs(120))),
            ("1H", Some(Duration::from_secs(3600))),
            ("7u", Some(Duration::from_micros(7))),
            ("9n", Some(Duration::from_nanos(9))),
            ("5s", None),
            ("m", None),
            ("123456789S", None),
            ("-1S", None),
        ] {
            headers.insert(GRPC_TIMEOUT, text.parse().unwrap());
            assert_eq!(parse_grpc_timeout(&headers), expected, "{text}");
        }
        assert_eq!(encode_grpc_timeout(Duration::from_millis(250)), "250000u");
        assert_eq!(encode_grpc_timeout(Duration::from_secs(30)), "30000000u");
        assert_eq!(
            encode_grpc_timeout(Duration::from_secs(86_400)),
            "86400000m"
        );
    }
}
