//! Which HTTP headers travel as gRPC metadata, and back.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use tonic::metadata::{
    AsciiMetadataKey, AsciiMetadataValue, BinaryMetadataKey, BinaryMetadataValue, KeyAndValueRef,
    MetadataMap,
};

/// The prefix that carries arbitrary metadata in either direction.
pub const METADATA_PREFIX: &str = "grpc-metadata-";
/// The request id header, generated when missing and echoed back.
pub const REQUEST_ID: &str = "x-request-id";

/// Headers forwarded as-is.
const FORWARDED: [&str; 4] = ["authorization", "traceparent", "tracestate", REQUEST_ID];

/// Metadata never sent back as `Grpc-Metadata-*`: gRPC's own protocol headers.
const RESERVED: [&str; 8] = [
    "content-type",
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "grpc-encoding",
    "grpc-accept-encoding",
    "te",
    "trailer",
];

/// Generates request ids: a random 64-bit prefix per process and a counter, UUID-shaped.
/// (A syscall for randomness per request would cost more than the rest of the id handling.)
#[derive(Debug)]
pub struct RequestIds {
    prefix: u64,
    next: AtomicU64,
}

impl RequestIds {
    /// A generator with a fresh random prefix and starting point.
    pub fn new() -> Self {
        let (prefix, start) = uuid::Uuid::new_v4().as_u64_pair();
        Self {
            prefix,
            next: AtomicU64::new(start),
        }
    }

    /// The next id.
    pub fn next(&self) -> HeaderValue {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let id = uuid::Uuid::from_u64_pair(self.prefix, n)
            .hyphenated()
            .to_string();
        HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("-"))
    }
}

impl Default for RequestIds {
    fn default() -> Self {
        Self::new()
    }
}

/// The metadata for the upstream call made for `headers`, and the request id used.
pub fn request_metadata(headers: &HeaderMap, ids: &RequestIds) -> (MetadataMap, HeaderValue) {
    let mut map = MetadataMap::with_capacity(4);
    for name in FORWARDED {
        if let Some(value) = headers
            .get(name)
            .and_then(|v| AsciiMetadataValue::try_from(v.as_bytes()).ok())
        {
            map.insert(AsciiMetadataKey::from_static(name), value);
        }
    }
    for (name, value) in headers {
        let Some(key) = name.as_str().strip_prefix(METADATA_PREFIX) else {
            continue;
        };
        if key.ends_with("-bin") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(value.as_bytes())
                .ok();
            if let (Ok(key), Some(bytes)) = (BinaryMetadataKey::from_bytes(key.as_bytes()), decoded)
            {
                map.append_bin(key, BinaryMetadataValue::from_bytes(&bytes));
            }
        } else if let (Ok(key), Ok(value)) = (
            AsciiMetadataKey::from_bytes(key.as_bytes()),
            AsciiMetadataValue::try_from(value.as_bytes()),
        ) {
            map.append(key, value);
        }
    }
    let request_id = match headers.get(REQUEST_ID) {
        Some(id) => id.clone(),
        None => {
            let value = ids.next();
            if let Ok(meta) = AsciiMetadataValue::try_from(value.as_bytes()) {
                map.insert(AsciiMetadataKey::from_static(REQUEST_ID), meta);
            }
            value
        }
    };
    (map, request_id)
}

/// Adds the response metadata to `headers` as `Grpc-Metadata-*` (binary values base64).
pub fn response_headers(metadata: &MetadataMap, headers: &mut HeaderMap) {
    for entry in metadata.iter() {
        let (key, value) = match entry {
            KeyAndValueRef::Ascii(key, value) => (
                key.as_str(),
                HeaderValue::from_bytes(value.as_encoded_bytes()).ok(),
            ),
            KeyAndValueRef::Binary(key, value) => (
                key.as_str(),
                HeaderValue::from_bytes(value.as_encoded_bytes()).ok(),
            ),
        };
        if RESERVED.contains(&key) || key.starts_with(':') {
            continue;
        }
        let name = HeaderName::from_bytes(format!("{METADATA_PREFIX}{key}").as_bytes());
        if let (Ok(name), Some(value)) = (name, value) {
            headers.append(name, value);
        }
    }
}

/// Parses a `Grpc-Timeout` value: up to 8 digits and a unit (H, M, S, m, u, n).
pub fn parse_timeout(text: &str) -> Option<Duration> {
    if text.len() < 2 || text.len() > 9 {
        return None;
    }
    let (digits, unit) = text.split_at(text.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Grpc-Timeout parses every unit and rejects malformed values.
    #[test]
    fn timeouts_parse() {
        assert_eq!(parse_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_timeout("150m"), Some(Duration::from_millis(150)));
        assert_eq!(parse_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_timeout("5x"), None);
        assert_eq!(parse_timeout("S"), None);
        assert_eq!(parse_timeout("123456789S"), None);
    }

    /// Forwarded headers and Grpc-Metadata-* become metadata; a request id is generated.
    #[test]
    fn request_headers_become_metadata() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer t"));
        headers.insert("grpc-metadata-tenant", HeaderValue::from_static("acme"));
        headers.insert("connection", HeaderValue::from_static("close"));
        let ids = RequestIds::new();
        let (map, id) = request_metadata(&headers, &ids);
        assert_eq!(map.get("authorization").unwrap(), "Bearer t");
        assert_eq!(map.get("tenant").unwrap(), "acme");
        assert!(map.get("connection").is_none());
        assert_eq!(map.get(REQUEST_ID).unwrap().as_bytes(), id.as_bytes());
        assert_eq!(id.len(), 36);
        let (_, second) = request_metadata(&headers, &ids);
        assert_ne!(id, second);
    }
}
