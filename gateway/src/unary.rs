//! One unary gRPC call made by hand: the request framed into a single buffer, the response
//! body collected whole. Cheaper than tonic's streaming client machinery for the one-message
//! calls that make up most REST traffic; server streams still go through `tonic::client::Grpc`.

use std::time::Duration;

use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};
use http::{HeaderValue, Method, Request, StatusCode, Uri, header, uri::PathAndQuery};
use http_body_util::{BodyExt as _, Full, Limited};
use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use tonic::{Code, Status, metadata::MetadataMap};
use tower::ServiceExt as _;

use crate::upstream::Upstream;

/// The largest response message accepted (tonic's default decoding limit).
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// Calls `path` on `upstream` with `message`, returning the response metadata (headers and
/// trailers) and the decoded `output` message, or the call's status.
pub async fn call(
    upstream: Upstream,
    path: &PathAndQuery,
    metadata: MetadataMap,
    message: &DynamicMessage,
    output: MessageDescriptor,
    timeout: Option<Duration>,
) -> Result<(MetadataMap, DynamicMessage), Status> {
    let len = message.encoded_len();
    let mut frame = BytesMut::with_capacity(5 + len);
    frame.put_u8(0);
    frame.put_u32(u32::try_from(len).map_err(|_| Status::resource_exhausted("request too large"))?);
    message
        .encode(&mut frame)
        .map_err(|e| Status::internal(format!("encode: {e}")))?;

    let mut request = Request::new(tonic::body::Body::new(Full::new(frame.freeze())));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = Uri::from(path.clone());
    let headers = request.headers_mut();
    *headers = metadata.into_headers();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert(header::TE, HeaderValue::from_static("trailers"));
    if let Some(timeout) = timeout.and_then(encode_timeout) {
        headers.insert("grpc-timeout", timeout);
    }

    let response = upstream
        .oneshot(request)
        .await
        .map_err(|e| Status::unavailable(format!("upstream: {e}")))?;
    let (parts, body) = response.into_parts();
    if parts.status != StatusCode::OK {
        return Err(http_status_error(parts.status));
    }
    // Trailers-only responses carry the status in the headers.
    if let Some(status) = Status::from_header_map(&parts.headers)
        && status.code() != Code::Ok
    {
        return Err(status);
    }
    let collected = Limited::new(body, MAX_RESPONSE_BYTES + 5)
        .collect()
        .await
        .map_err(|e| Status::unavailable(format!("reading the response: {e}")))?;
    let trailers = collected.trailers().cloned().unwrap_or_default();
    match Status::from_header_map(&trailers) {
        Some(status) if status.code() != Code::Ok => return Err(status),
        Some(_) => {}
        None => return Err(Status::internal("the upstream sent no grpc-status")),
    }
    let mut data = collected.to_bytes();
    let reply = decode_frame(&mut data, output)?;
    let mut metadata = MetadataMap::from_headers(parts.headers);
    for (name, value) in trailers.iter() {
        metadata.as_mut().append(name.clone(), value.clone());
    }
    Ok((metadata, reply))
}

/// Decodes the one length-prefixed message of a unary response.
fn decode_frame(data: &mut Bytes, output: MessageDescriptor) -> Result<DynamicMessage, Status> {
    if data.remaining() < 5 {
        return Err(Status::internal("the upstream sent no response message"));
    }
    let compressed = data.get_u8();
    let len = data.get_u32() as usize;
    if compressed != 0 {
        return Err(Status::internal("compressed responses are not supported"));
    }
    if len > data.remaining() {
        return Err(Status::internal("truncated response message"));
    }
    DynamicMessage::decode(output, data.split_to(len))
        .map_err(|e| Status::internal(format!("decoding the response: {e}")))
}

/// The gRPC code of a non-200 HTTP answer, as the gRPC HTTP/2 spec maps them.
fn http_status_error(status: StatusCode) -> Status {
    let code = match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502 | 503 | 504 => Code::Unavailable,
        _ => Code::Unknown,
    };
    Status::new(code, format!("upstream answered HTTP {status}"))
}

/// A `grpc-timeout` value: at most 8 digits in the finest unit that fits.
fn encode_timeout(timeout: Duration) -> Option<HeaderValue> {
    const MAX: u128 = 99_999_999;
    let nanos = timeout.as_nanos();
    let (value, unit) = [
        (1u128, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
        (3_600_000_000_000, 'H'),
    ]
    .into_iter()
    .map(|(per, unit)| (nanos.div_ceil(per), unit))
    .find(|(value, _)| *value <= MAX)?;
    HeaderValue::from_str(&format!("{value}{unit}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Timeouts encode in the finest unit that fits eight digits.
    #[test]
    fn timeouts_encode() {
        assert_eq!(encode_timeout(Duration::from_secs(5)).unwrap(), "5000000u");
        assert_eq!(
            encode_timeout(Duration::from_millis(20)).unwrap(),
            "20000000n"
        );
        assert_eq!(
            encode_timeout(Duration::from_secs(3600)).unwrap(),
            "3600000m"
        );
        assert_eq!(
            encode_timeout(Duration::from_secs(86_400 * 400)).unwrap(),
            "34560000S"
        );
        assert_eq!(
            encode_timeout(Duration::from_secs(3600 * 100_000)).unwrap(),
            "6000000M"
        );
    }
}
