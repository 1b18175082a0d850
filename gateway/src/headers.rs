//! Which HTTP headers travel as gRPC metadata, and back.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use tonic::metadata::{AsciiMetadataKey, BinaryMetadataKey, MetadataMap};

/// The prefix that carries arbitrary metadata in either direction.
pub const METADATA_PREFIX: &str = "grpc-metadata-";
/// The request id header, generated when missing and echoed back (a name, not a string:
/// a map looks a string up by parsing it first).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Headers forwarded as-is (and the request id, see [`request_metadata`]).
const FORWARDED: [HeaderName; 3] = [
    http::header::AUTHORIZATION,
    HeaderName::from_static("traceparent"),
    HeaderName::from_static("tracestate"),
];

/// Forwarded headers whose values differ on every request: sent never-indexed, so they do not
/// churn the HPACK table of the upstream connection (each new value would evict older
/// entries and lengthen every later lookup). The request id is one too; [`request_metadata`]
/// adds it on its own.
const UNIQUE_PER_REQUEST: [HeaderName; 1] = [HeaderName::from_static("traceparent")];

/// Metadata never sent back as `Grpc-Metadata-*`: gRPC's own protocol headers, and `date`,
/// which the upstream's HTTP/2 server stamps on every response (hyper's does) and the
/// gateway's own response carries anyway.
const RESERVED: [&str; 9] = [
    "content-type",
    "date",
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
    /// The id with a counter of 0: the prefix's half never changes, so it is formatted once.
    template: [u8; uuid::fmt::Hyphenated::LENGTH],
    next: AtomicU64,
}

/// Where the counter's hex digits go in an id, most significant first (the last two groups).
const COUNTER_DIGITS: [usize; 16] = [
    19, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,
];

impl RequestIds {
    /// A generator with a fresh random prefix and starting point.
    pub fn new() -> Self {
        let (prefix, start) = uuid::Uuid::new_v4().as_u64_pair();
        let mut template = [0u8; uuid::fmt::Hyphenated::LENGTH];
        uuid::Uuid::from_u64_pair(prefix, 0)
            .hyphenated()
            .encode_lower(&mut template);
        Self {
            template,
            next: AtomicU64::new(start),
        }
    }

    /// The next id: the UUID of the prefix and the counter's next value. Its bytes are
    /// shared: a clone (one for the upstream, one for the response) counts a reference where
    /// a copied value's first clone would allocate.
    pub fn next(&self) -> HeaderValue {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut text = self.template;
        for (i, &at) in COUNTER_DIGITS.iter().enumerate() {
            text[at] = HEX[((n >> (60 - 4 * i)) & 0xf) as usize];
        }
        HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(text))
            .unwrap_or(HeaderValue::from_static("-"))
    }
}

impl Default for RequestIds {
    fn default() -> Self {
        Self::new()
    }
}

/// The request headers the transcoder itself reads (each one's first value), found in one
/// pass over the handful a request carries rather than one lookup each.
#[derive(Debug, Default, Clone, Copy)]
pub struct Known<'a> {
    /// `Content-Length`.
    pub content_length: Option<&'a HeaderValue>,
    /// `Content-Type`.
    pub content_type: Option<&'a HeaderValue>,
    /// `X-Request-Id`.
    pub request_id: Option<&'a HeaderValue>,
    /// `Grpc-Timeout`.
    pub grpc_timeout: Option<&'a HeaderValue>,
}

impl<'a> Known<'a> {
    /// Reads them from `headers`.
    pub fn read(headers: &'a HeaderMap) -> Self {
        let mut known = Self::default();
        for (name, value) in headers {
            let slot = if name == http::header::CONTENT_LENGTH {
                &mut known.content_length
            } else if name == http::header::CONTENT_TYPE {
                &mut known.content_type
            } else if name == REQUEST_ID {
                &mut known.request_id
            } else if name == protomesh::wire::GRPC_TIMEOUT {
                &mut known.grpc_timeout
            } else {
                continue;
            };
            slot.get_or_insert(value);
        }
        known
    }
}

/// The id of a request: its first `X-Request-Id` as sent (see [`Known`]), or a new one.
pub fn request_id(known: &Known<'_>, ids: &RequestIds) -> HeaderValue {
    match known.request_id {
        Some(value) => value.clone(),
        None => ids.next(),
    }
}

/// The metadata for the upstream call made for `headers`, carrying `request_id` (see
/// [`request_id`]).
///
/// One pass over the request's headers: a forwarded header's first value is kept (values
/// that are not printable ASCII are not forwarded, the request id included), `Grpc-Metadata-*`
/// headers become metadata without the prefix.
pub fn request_metadata(headers: &HeaderMap, request_id: &HeaderValue) -> MetadataMap {
    let mut out = HeaderMap::with_capacity(4);
    // Which of FORWARDED have been met.
    let mut seen = 0u8;
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix(METADATA_PREFIX) {
            if let Some(key) = metadata_key(key, value) {
                out.append(key, value.clone());
            }
            continue;
        }
        let Some(index) = FORWARDED.iter().position(|forwarded| forwarded == name) else {
            continue;
        };
        if seen & (1 << index) != 0 {
            continue;
        }
        seen |= 1 << index;
        if value.to_str().is_ok() {
            let mut value = value.clone();
            // Never indexed: see UNIQUE_PER_REQUEST.
            value.set_sensitive(UNIQUE_PER_REQUEST.contains(name));
            out.insert(name.clone(), value);
        }
    }
    if request_id.to_str().is_ok() {
        let mut sent = request_id.clone();
        // Never indexed: different on every request (see UNIQUE_PER_REQUEST).
        sent.set_sensitive(true);
        out.insert(REQUEST_ID, sent);
    }
    MetadataMap::from_headers(out)
}

/// The metadata key of a `Grpc-Metadata-<key>` header, if the key and value are valid
/// metadata (binary values travel base64-encoded, as the client sent them).
fn metadata_key(key: &str, value: &HeaderValue) -> Option<HeaderName> {
    let key = HeaderName::from_bytes(key.as_bytes()).ok()?;
    let valid = if key.as_str().ends_with("-bin") {
        BinaryMetadataKey::from_bytes(key.as_ref()).is_ok()
            && base64::engine::general_purpose::STANDARD
                .decode(value.as_bytes())
                .is_ok()
    } else {
        AsciiMetadataKey::from_bytes(key.as_ref()).is_ok() && value.to_str().is_ok()
    };
    valid.then_some(key)
}

/// Adds the response metadata to `headers` as `Grpc-Metadata-*` (binary values base64, as
/// they travel).
pub fn response_headers(metadata: &MetadataMap, headers: &mut HeaderMap) {
    let mut name_buf = [0u8; 128];
    for (key, value) in metadata.as_ref() {
        let key = key.as_str();
        if RESERVED.contains(&key) {
            continue;
        }
        let name = match name_buf.get_mut(..METADATA_PREFIX.len() + key.len()) {
            Some(buf) => {
                buf[..METADATA_PREFIX.len()].copy_from_slice(METADATA_PREFIX.as_bytes());
                buf[METADATA_PREFIX.len()..].copy_from_slice(key.as_bytes());
                HeaderName::from_bytes(buf)
            }
            None => HeaderName::from_bytes(format!("{METADATA_PREFIX}{key}").as_bytes()),
        };
        if let Ok(name) = name {
            headers.append(name, value.clone());
        }
    }
}

/// Parses a `Grpc-Timeout` value: up to 8 digits and a unit (H, M, S, m, u, n).
pub use protomesh::client::deadline::parse_timeout;

#[cfg(test)]
mod tests {
    use std::time::Duration;

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

    /// Request ids are the UUIDs of the process's prefix and a counter that steps by one.
    #[test]
    fn request_ids_count_up_as_uuids() {
        let ids = RequestIds::new();
        let first = uuid::Uuid::parse_str(ids.next().to_str().unwrap()).unwrap();
        let second = uuid::Uuid::parse_str(ids.next().to_str().unwrap()).unwrap();
        let (prefix, n) = first.as_u64_pair();
        assert_eq!(second.as_u64_pair(), (prefix, n.wrapping_add(1)));
        assert_eq!(
            ids.next().to_str().unwrap(),
            uuid::Uuid::from_u64_pair(prefix, n.wrapping_add(2))
                .hyphenated()
                .to_string()
        );
    }

    /// Forwarded headers and Grpc-Metadata-* become metadata; a request id is generated.
    #[test]
    fn request_headers_become_metadata() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer t"));
        headers.insert("grpc-metadata-tenant", HeaderValue::from_static("acme"));
        headers.insert("connection", HeaderValue::from_static("close"));
        let ids = RequestIds::new();
        let id = request_id(&Known::read(&headers), &ids);
        let map = request_metadata(&headers, &id);
        assert_eq!(map.get("authorization").unwrap(), "Bearer t");
        assert_eq!(map.get("tenant").unwrap(), "acme");
        assert!(map.get("connection").is_none());
        assert_eq!(
            map.get(REQUEST_ID.as_str()).unwrap().as_bytes(),
            id.as_bytes()
        );
        assert_eq!(id.len(), 36);
        assert!(uuid::Uuid::parse_str(id.to_str().unwrap()).is_ok());
        assert_ne!(id, request_id(&Known::read(&headers), &ids));
    }

    /// Only a forwarded header's first value counts; a client's request id is echoed as sent
    /// and forwarded never-indexed.
    #[test]
    fn first_values_and_a_given_request_id() {
        let mut headers = HeaderMap::new();
        headers.append("tracestate", HeaderValue::from_bytes(b"\xff").unwrap());
        headers.append("tracestate", HeaderValue::from_static("a=b"));
        headers.append("authorization", HeaderValue::from_static("Bearer one"));
        headers.append("authorization", HeaderValue::from_static("Bearer two"));
        headers.append("x-request-id", HeaderValue::from_static("req-7"));
        headers.append("x-request-id", HeaderValue::from_static("req-8"));
        let id = request_id(&Known::read(&headers), &RequestIds::new());
        let map = request_metadata(&headers, &id);
        assert!(map.get("tracestate").is_none());
        assert_eq!(map.get_all("authorization").iter().count(), 1);
        assert_eq!(map.get("authorization").unwrap(), "Bearer one");
        assert_eq!(id, "req-7");
        assert!(!id.is_sensitive());
        assert_eq!(map.get_all(REQUEST_ID.as_str()).iter().count(), 1);
        assert_eq!(map.get(REQUEST_ID.as_str()).unwrap(), "req-7");
        assert!(map.get(REQUEST_ID.as_str()).unwrap().is_sensitive());
        // A request id that is not printable ASCII is echoed but not forwarded.
        let odd = HeaderValue::from_bytes(b"r\xffq").unwrap();
        assert!(
            request_metadata(&headers, &odd)
                .get(REQUEST_ID.as_str())
                .is_none()
        );
    }

    /// Binary metadata passes only as valid base64; per-request values are never indexed;
    /// non-ASCII values are dropped.
    #[test]
    fn binary_metadata_and_indexing() {
        let mut headers = HeaderMap::new();
        headers.insert("grpc-metadata-blob-bin", HeaderValue::from_static("AAEC"));
        headers.insert("grpc-metadata-bad-bin", HeaderValue::from_static("%%%"));
        headers.insert("traceparent", HeaderValue::from_bytes(b"00-\xff").unwrap());
        headers.insert("tracestate", HeaderValue::from_static("a=b"));
        let map = request_metadata(
            &headers,
            &request_id(&Known::read(&headers), &RequestIds::new()),
        );
        assert_eq!(
            map.get_bin("blob-bin").unwrap().to_bytes().unwrap(),
            &[0, 1, 2][..]
        );
        assert!(map.get_bin("bad-bin").is_none());
        assert!(map.get("traceparent").is_none());
        assert!(!map.get("tracestate").unwrap().is_sensitive());
        assert!(map.get(REQUEST_ID.as_str()).unwrap().is_sensitive());
    }

    /// Response metadata comes back as Grpc-Metadata-*, without gRPC's protocol headers or
    /// the upstream's Date.
    #[test]
    fn response_metadata_becomes_headers() {
        let mut metadata = MetadataMap::new();
        metadata.insert("content-type", "application/grpc".parse().unwrap());
        metadata.insert("date", "Mon, 07 Dec 2026 13:01:16 GMT".parse().unwrap());
        metadata.insert("x-shard", "7".parse().unwrap());
        let long = "k".repeat(200);
        metadata.insert(
            AsciiMetadataKey::from_bytes(long.as_bytes()).unwrap(),
            "v".parse().unwrap(),
        );
        let mut out = HeaderMap::new();
        response_headers(&metadata, &mut out);
        assert_eq!(out["grpc-metadata-x-shard"], "7");
        assert_eq!(out[format!("grpc-metadata-{long}").as_str()], "v");
        assert!(out.get("grpc-metadata-content-type").is_none());
        assert!(out.get("grpc-metadata-date").is_none());
        assert_eq!(out.len(), 2);
    }
}
