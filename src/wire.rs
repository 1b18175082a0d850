//! The gRPC header names every call touches, parsed once: looking a header up by a string
//! parses and classifies the name on every call, a [`HeaderName`] constant does not. Also the
//! one reading of a call's status from its headers or trailers.

use http::{HeaderMap, HeaderName, HeaderValue};
use tonic::Code;

/// `grpc-status`: the call's code, in a trailers-only answer's headers or in the trailers.
pub const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");

/// `grpc-timeout`: the caller's timeout.
pub const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");

/// `traceparent`: the caller's W3C trace context.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// `grpc-encoding`: the compression of the messages that follow.
pub const GRPC_ENCODING: HeaderName = HeaderName::from_static("grpc-encoding");

/// The gRPC code in `headers` (a trailers-only answer's headers, or trailers), if there is
/// one; a value that is not a code number reads as UNKNOWN.
#[inline]
pub fn grpc_status(headers: &HeaderMap) -> Option<Code> {
    // Every call's status is read three to six times on its way through the layers.
    get(headers, &GRPC_STATUS).map(|value| Code::from_bytes(value.as_bytes()))
}

/// The first value of `name` in `headers`. The maps a call's headers and trailers come in
/// hold a handful of entries: comparing their names costs less than hashing the one looked
/// for, which a map lookup does.
#[inline]
pub fn get<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a HeaderValue> {
    if headers.len() <= SCAN_LIMIT {
        headers
            .iter()
            .find_map(|(key, value)| (key == name).then_some(value))
    } else {
        headers.get(name)
    }
}

/// Up to how many entries [`grpc_status`] scans rather than hashes.
const SCAN_LIMIT: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    /// The code is read from its number; garbage reads as UNKNOWN, absence as none.
    #[test]
    fn reads_the_status() {
        let mut headers = HeaderMap::new();
        assert_eq!(grpc_status(&headers), None);
        headers.insert("grpc-status", "5".parse().unwrap());
        assert_eq!(grpc_status(&headers), Some(Code::NotFound));
        headers.insert("grpc-status", "x".parse().unwrap());
        assert_eq!(grpc_status(&headers), Some(Code::Unknown));
        // Found among many entries too (looked up by hash there).
        for i in 0..2 * SCAN_LIMIT {
            headers.insert(
                HeaderName::from_bytes(format!("x-{i}").as_bytes()).unwrap(),
                "v".parse().unwrap(),
            );
        }
        headers.insert("grpc-status", "14".parse().unwrap());
        assert_eq!(grpc_status(&headers), Some(Code::Unavailable));
        headers.remove("grpc-status");
        assert_eq!(grpc_status(&headers), None);
    }
}
