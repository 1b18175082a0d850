//! One unary gRPC call, framed by hand: the request is a single length-prefixed frame in
//! one buffer, the response body is read whole and its one message handed back. tonic's
//! client (`Grpc::unary`) streams both ways, through an encoder body and a streaming decoder,
//! which a call of one message each way does not need.

use std::time::Duration;

use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Request, StatusCode, header, uri::PathAndQuery};
use http_body_util::{BodyExt as _, Full, Limited};
use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use tonic::{Status, metadata::MetadataMap};

use crate::upstream::{BoxError, GrpcUpstream};

/// The largest response message read (tonic's default decoding limit).
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// The length prefix of a gRPC message: a compression flag and a big-endian length.
const PREFIX: usize = 5;

/// The request message of a call.
#[derive(Debug)]
pub enum Outgoing {
    /// Already encoded (by [`crate::wirejson::to_wire`]).
    Wire(Vec<u8>),
    /// To encode.
    Message(DynamicMessage),
}

impl Outgoing {
    /// The message as a `DynamicMessage` of type `desc`.
    pub fn into_message(self, desc: MessageDescriptor) -> Result<DynamicMessage, Status> {
        match self {
            Outgoing::Message(message) => Ok(message),
            Outgoing::Wire(wire) => DynamicMessage::decode(desc, wire.as_slice())
                .map_err(|e| Status::internal(format!("re-reading the request: {e}"))),
        }
    }

    /// Appends the encoded message to `frame`.
    fn encode(&self, frame: &mut BytesMut) -> Result<(), Status> {
        match self {
            Outgoing::Wire(wire) => {
                frame.put_slice(wire);
                Ok(())
            }
            Outgoing::Message(message) => message
                .encode(frame)
                .map_err(|e| Status::internal(format!("encode: {e}"))),
        }
    }
}

/// Calls `path` on `upstream` with `message`, `metadata` and `extensions`, and a `grpc-timeout` of
/// `timeout` when given. Returns the response metadata (headers and trailers) and the encoded
/// reply message (see [`decode`]), or the call's status, with the same codes tonic's client
/// gives.
///
/// Not an `async fn`, whose arguments would take room twice in its future (as passed, and
/// moved into the body).
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn's future keeps its arguments twice"
)]
pub fn call<U: GrpcUpstream>(
    mut upstream: U,
    path: PathAndQuery,
    metadata: MetadataMap,
    extensions: http::Extensions,
    message: &Outgoing,
    timeout: Option<Duration>,
) -> impl Future<Output = Result<(MetadataMap, Bytes), Status>> {
    async move {
        // Framed before any await, and the request built only at the call: neither is kept in
        // the future past its use (a value moved out still takes room in every later state).
        let frame = frame(message)?;
        std::future::poll_fn(|cx| upstream.poll_ready(cx))
            .await
            .map_err(|e| Status::from_error(e.into()))?;
        let response = upstream
            .call(request(frame, path, metadata, extensions, timeout))
            .await
            .map_err(|e| Status::from_error(e.into()))?;
        let (
            http::response::Parts {
                status, headers, ..
            },
            body,
        ) = response.into_parts();
        // A trailers-only answer: the status came with the headers and there is no message.
        let in_headers = outcome(&headers)?;
        if status != StatusCode::OK {
            return Err(Status::new(
                code_of_http(status),
                format!("upstream answered HTTP {status}"),
            ));
        }
        let (mut data, trailers) = read_whole(body, PREFIX + MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| match e.downcast::<http_body_util::LengthLimitError>() {
                Ok(_) => Status::resource_exhausted(format!(
                    "response message over {MAX_RESPONSE_BYTES} bytes"
                )),
                Err(e) => Status::from_error(e),
            })?;
        let mut metadata = headers;
        let answered = match trailers {
            Some(trailers) => {
                let status = outcome(&trailers);
                // An OK call's trailers mostly hold its status alone, which never travels on as
                // metadata: nothing to merge.
                if !(matches!(status, Ok(true)) && trailers.len() == 1) {
                    metadata.extend(trailers);
                }
                if let Err(status) = status {
                    return Err(with_metadata(status, metadata));
                }
                status.unwrap_or(false)
            }
            None => false,
        };
        if !(answered || in_headers) {
            return Err(Status::internal(
                "the upstream ended the call without a status",
            ));
        }
        unframe(&mut data)?;
        Ok((MetadataMap::from_headers(metadata), data))
    }
}

/// `message` as one length-prefixed frame. The prefix is written after the message, whose
/// length `encode` works out (once: a dynamic message's length costs as much as a fair part
/// of its encoding).
fn frame(message: &Outgoing) -> Result<Bytes, Status> {
    let mut frame = BytesMut::with_capacity(256);
    frame.put_bytes(0, PREFIX);
    message.encode(&mut frame)?;
    let length = u32::try_from(frame.len() - PREFIX)
        .map_err(|_| Status::resource_exhausted("request message over 4 GiB"))?;
    frame[1..PREFIX].copy_from_slice(&length.to_be_bytes());
    Ok(frame.freeze())
}

/// The HTTP/2 request of a unary call of `path` carrying `frame`.
fn request(
    frame: Bytes,
    path: PathAndQuery,
    metadata: MetadataMap,
    extensions: http::Extensions,
    timeout: Option<Duration>,
) -> Request<tonic::body::Body> {
    let mut request = Request::new(tonic::body::Body::new(Full::new(frame)));
    *request.extensions_mut() = extensions;
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = http::Uri::from(path);
    let headers = request.headers_mut();
    *headers = metadata.into_headers();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert(header::TE, HeaderValue::from_static("trailers"));
    if let Some(timeout) = timeout {
        let value = protomesh::client::deadline::format_timeout(timeout);
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(protomesh::wire::GRPC_TIMEOUT, value);
        }
    }
    request
}

/// Whether `headers` carry a status: `Ok(true)` for OK, `Ok(false)` for none, the status
/// with `headers` as its metadata for an error. An OK status is recognised without parsing
/// the message and details, which only a failed call carries.
fn outcome(headers: &HeaderMap) -> Result<bool, Status> {
    match protomesh::wire::grpc_status(headers) {
        None => Ok(false),
        Some(tonic::Code::Ok) => Ok(true),
        Some(_) => match Status::from_header_map(headers) {
            Some(status) if status.code() != tonic::Code::Ok => {
                Err(with_metadata(status, headers.clone()))
            }
            _ => Ok(true),
        },
    }
}

/// Reads a body whole, up to `limit` bytes of data: its data (one buffer, not copied when it
/// came in one frame) and its trailers, which end it. Fails with the body's error, or with
/// `http_body_util::LengthLimitError` past `limit`.
pub(crate) async fn read_whole<B>(
    body: B,
    limit: usize,
) -> Result<(Bytes, Option<HeaderMap>), BoxError>
where
    B: http_body::Body<Data = Bytes, Error: Into<BoxError>>,
{
    let mut body = std::pin::pin!(Limited::new(body, limit));
    let mut data = protomesh::wire::Gathered::default();
    while let Some(frame) = body.frame().await {
        match frame?.into_data() {
            Ok(chunk) => data.push(chunk),
            // Trailers end a gRPC body: no need to poll it (through every layer of the stack
            // it came through) once more to see its end. Returned at once, not kept in a
            // variable that would take room in the future while it waits for frames.
            Err(frame) => {
                if let Ok(map) = frame.into_trailers() {
                    return Ok((data.finish(), Some(map)));
                }
            }
        }
    }
    Ok((data.finish(), None))
}

/// Strips the prefix of the one message a unary response body must hold.
fn unframe(data: &mut Bytes) -> Result<(), Status> {
    if data.len() < PREFIX {
        return Err(Status::internal("missing response message"));
    }
    if data.get_u8() != 0 {
        return Err(Status::internal(
            "the upstream sent a compressed message, which was not asked for",
        ));
    }
    let len = data.get_u32() as usize;
    if data.len() != len {
        return Err(Status::internal(format!(
            "a unary response must hold one message of {len} bytes, the body has {}",
            data.len()
        )));
    }
    Ok(())
}

/// The reply [`call`] returned, decoded as `output`.
pub fn decode(message: Bytes, output: MessageDescriptor) -> Result<DynamicMessage, Status> {
    DynamicMessage::decode(output.clone(), message)
        .map_err(|e| Status::internal(format!("decode {}: {e}", output.full_name())))
}

/// `status`, carrying the response's metadata (for `Grpc-Metadata-*` headers and details).
fn with_metadata(status: Status, headers: HeaderMap) -> Status {
    Status::with_details_and_metadata(
        status.code(),
        status.message().to_owned(),
        status.details().to_vec().into(),
        MetadataMap::from_headers(headers),
    )
}

/// The gRPC code of a non-200 HTTP answer, per gRPC's HTTP-to-gRPC status mapping.
fn code_of_http(status: StatusCode) -> tonic::Code {
    match status.as_u16() {
        400 => tonic::Code::Internal,
        401 => tonic::Code::Unauthenticated,
        403 => tonic::Code::PermissionDenied,
        404 => tonic::Code::Unimplemented,
        429 | 502..=504 => tonic::Code::Unavailable,
        _ => tonic::Code::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_type() -> MessageDescriptor {
        let pool = crate::status::with_rpc_types(prost_reflect::DescriptorPool::new()).unwrap();
        pool.get_message_by_name("google.rpc.Status").unwrap()
    }

    fn framed(flag: u8, declared: u32, payload: &[u8]) -> Bytes {
        let mut buf = BytesMut::new();
        buf.put_u8(flag);
        buf.put_u32(declared);
        buf.put_slice(payload);
        buf.freeze()
    }

    /// One whole uncompressed frame decodes; anything else is INTERNAL, with the reason.
    #[test]
    fn one_frame_decodes_and_bad_bodies_are_internal() {
        let output = status_type();
        let mut message = DynamicMessage::new(output.clone());
        message.set_field_by_name("code", prost_reflect::Value::I32(5));
        let payload = message.encode_to_vec();
        let len = u32::try_from(payload.len()).unwrap();
        let decode_one = |mut body: Bytes, output: MessageDescriptor| {
            unframe(&mut body).and_then(|()| decode(body, output))
        };
        let decoded = decode_one(framed(0, len, &payload), output.clone()).unwrap();
        assert_eq!(decoded, message);

        let cases = [
            (Bytes::from_static(b"\x00\x00"), "missing response message"),
            (framed(1, len, &payload), "compressed"),
            (framed(0, len + 1, &payload), "one message of"),
            (framed(0, 2, b"\xff\xff"), "decode google.rpc.Status"),
        ];
        for (body, reason) in cases {
            let status = decode_one(body, output.clone()).unwrap_err();
            assert_eq!(status.code(), tonic::Code::Internal, "{reason}");
            assert!(status.message().contains(reason), "{}", status.message());
        }
    }

    /// A reply in several frames is joined in order; the trailers come back; nothing after
    /// the trailers is read.
    #[tokio::test]
    async fn replies_in_several_frames_are_joined() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        let body = || {
            let frames: Vec<Result<http_body::Frame<Bytes>, BoxError>> = vec![
                Ok(http_body::Frame::data(Bytes::from_static(b"ab"))),
                Ok(http_body::Frame::data(Bytes::from_static(b"cd"))),
                Ok(http_body::Frame::data(Bytes::from_static(b"e"))),
                Ok(http_body::Frame::trailers(trailers.clone())),
                Err("read past the trailers".into()),
            ];
            http_body_util::StreamBody::new(futures_util::stream::iter(frames))
        };
        let (data, got) = read_whole(body(), 5).await.unwrap();
        assert_eq!(&data[..], b"abcde");
        assert_eq!(got, Some(trailers.clone()));
        // One byte over the limit.
        let error = read_whole(body(), 4).await.unwrap_err();
        assert!(error.is::<http_body_util::LengthLimitError>(), "{error}");
    }

    /// Non-200 answers map as gRPC's HTTP mapping says.
    #[test]
    fn http_answers_map_to_codes() {
        for (http, code) in [
            (400, tonic::Code::Internal),
            (401, tonic::Code::Unauthenticated),
            (403, tonic::Code::PermissionDenied),
            (404, tonic::Code::Unimplemented),
            (429, tonic::Code::Unavailable),
            (503, tonic::Code::Unavailable),
            (500, tonic::Code::Unknown),
        ] {
            assert_eq!(
                code_of_http(StatusCode::from_u16(http).unwrap()),
                code,
                "{http}"
            );
        }
    }
}
