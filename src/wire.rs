//! The gRPC header names every call touches, parsed once: looking a header up by a string
//! parses and classifies the name on every call, a [`HeaderName`] constant does not. Also the
//! one reading of a call's status from its headers or trailers, and the one gathering of a
//! unary body's data ([`Gathered`]).

use bytes::{Bytes, BytesMut};
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

/// A body's data gathered into one buffer: the one chunk a unary body usually comes in is
/// kept as it is, not copied; chunks after it are joined to it.
#[derive(Debug, Default)]
pub struct Gathered {
    first: Bytes,
    joined: Option<BytesMut>,
}

impl Gathered {
    /// Adds the next chunk.
    #[inline]
    pub fn push(&mut self, chunk: Bytes) {
        match &mut self.joined {
            Some(buf) => buf.extend_from_slice(&chunk),
            None if self.first.is_empty() => self.first = chunk,
            None => {
                let mut buf = BytesMut::with_capacity(self.first.len() + chunk.len());
                buf.extend_from_slice(&self.first);
                buf.extend_from_slice(&chunk);
                self.joined = Some(buf);
            }
        }
    }

    /// The data so far.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        self.joined.as_deref().unwrap_or(&self.first)
    }

    /// All the data, in one buffer.
    #[inline]
    pub fn finish(self) -> Bytes {
        self.joined.map_or(self.first, BytesMut::freeze)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One chunk comes back as the same buffer; several are joined in order.
    #[test]
    fn gathers_chunks() {
        let one = Bytes::from_static(b"abc");
        let mut gathered = Gathered::default();
        gathered.push(one.clone());
        assert_eq!(gathered.as_slice(), b"abc");
        let data = gathered.finish();
        assert_eq!(data.as_ptr(), one.as_ptr(), "a single chunk is not copied");

        let mut gathered = Gathered::default();
        for chunk in [&b"ab"[..], b"", b"cd", b"e"] {
            gathered.push(Bytes::copy_from_slice(chunk));
        }
        assert_eq!(gathered.as_slice(), b"abcde");
        assert_eq!(&gathered.finish()[..], b"abcde");
    }

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
