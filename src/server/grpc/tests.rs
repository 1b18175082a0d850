//! The plain unary path against tonic's own, call by call: every body, good or bad, gets the
//! same reply from both (headers, message bytes, status code and message).

use bytes::{BufMut as _, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue};
use http_body_util::{BodyExt as _, Full, StreamBody};
use prost::Message as _;
use tonic::{Code, Status, body::Body};
use tonic_prost::ProstCodec;

use super::Grpc;
use crate::contracts::protomesh::registry::v1::{
    Instance, ListInstancesRequest, ListInstancesResponse,
};

/// Answers with one instance named after the request's service, with the request's
/// `x-echo` metadata (and a reserved header a handler may not set) in the reply metadata;
/// a request for service `fail` fails NOT_FOUND with metadata.
async fn handler(
    request: tonic::Request<ListInstancesRequest>,
) -> Result<tonic::Response<ListInstancesResponse>, Status> {
    let echo = request.metadata().get("x-echo").cloned();
    let trailer = request.metadata().get("x-trailer").cloned();
    let service = request.into_inner().service;
    if service == "fail" {
        let mut status = Status::not_found("no such service: fail");
        status
            .metadata_mut()
            .insert("x-why", "because".parse().unwrap());
        return Err(status);
    }
    let mut response = tonic::Response::new(ListInstancesResponse {
        instances: vec![Instance {
            service,
            ..Instance::default()
        }],
    });
    for value in [echo, trailer].into_iter().flatten() {
        response.metadata_mut().append("x-echo", value);
    }
    response
        .metadata_mut()
        .insert("grpc-status", "13".parse().unwrap());
    Ok(response)
}

/// What a client sees of a reply.
#[derive(Debug, PartialEq)]
struct Seen {
    headers: HeaderMap,
    data: Bytes,
    code: Code,
    message: String,
    trailers: Option<HeaderMap>,
}

async fn seen(response: http::Response<Body>) -> Seen {
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.expect("reply body");
    let trailers = collected.trailers().cloned();
    let status = Status::from_header_map(&parts.headers)
        .or_else(|| trailers.as_ref().and_then(Status::from_header_map))
        .expect("a status");
    Seen {
        headers: parts.headers,
        data: collected.to_bytes(),
        code: status.code(),
        message: status.message().to_owned(),
        trailers,
    }
}

type Codec = ProstCodec<ListInstancesResponse, ListInstancesRequest>;

/// Runs a body (its frames, then its trailers or an error of that code) through both paths
/// with `limits`.
async fn both(
    frames: &[Bytes],
    end: Option<Result<HeaderMap, Code>>,
    limits: (Option<usize>, Option<usize>),
) -> (Seen, Seen) {
    let request = || {
        let mut items: Vec<Result<http_body::Frame<Bytes>, Status>> = frames
            .iter()
            .cloned()
            .map(|f| Ok(http_body::Frame::data(f)))
            .collect();
        match &end {
            Some(Ok(trailers)) => items.push(Ok(http_body::Frame::trailers(trailers.clone()))),
            Some(Err(code)) => items.push(Err(Status::new(*code, "the body failed"))),
            None => {}
        }
        let mut request = http::Request::new(StreamBody::new(futures_util::stream::iter(items)));
        request
            .headers_mut()
            .insert("x-echo", HeaderValue::from_static("hello"));
        request
    };
    let ours = Grpc::new(Codec::default())
        .apply_max_message_size_config(limits.0, limits.1)
        .unary(tower::service_fn(handler), request())
        .await;
    let tonic = tonic::server::Grpc::new(Codec::default())
        .apply_max_message_size_config(limits.0, limits.1)
        .unary(tower::service_fn(handler), request())
        .await;
    (seen(ours).await, seen(tonic).await)
}

fn framed(flag: u8, declared: u32, payload: &[u8]) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_u8(flag);
    buf.put_u32(declared);
    buf.put_slice(payload);
    buf.freeze()
}

fn message(service: &str) -> Vec<u8> {
    ListInstancesRequest {
        service: service.into(),
    }
    .encode_to_vec()
}

fn len(payload: &[u8]) -> u32 {
    u32::try_from(payload.len()).unwrap()
}

#[tokio::test]
async fn every_body_gets_the_reply_tonic_gives() {
    let ok = message("catalog");
    let whole = framed(0, len(&ok), &ok);
    let split = [whole.slice(..3), whole.slice(3..8), whole.slice(8..)];
    let two = [whole.clone(), framed(0, len(&message("x")), &message("x"))];
    let mut trailers = HeaderMap::new();
    trailers.insert("x-trailer", HeaderValue::from_static("late"));
    let fail = message("fail");
    type Case = (
        &'static str,
        Vec<Bytes>,
        Option<Result<HeaderMap, Code>>,
        Option<usize>,
        Option<usize>,
    );
    let cases: Vec<Case> = vec![
        ("one frame", vec![whole.clone()], None, None, None),
        ("split frames", split.to_vec(), None, None, None),
        ("two messages", two.to_vec(), None, None, None),
        (
            "request trailers",
            vec![whole.clone()],
            Some(Ok(trailers)),
            None,
            None,
        ),
        (
            "body error",
            vec![whole.slice(..8)],
            Some(Err(Code::ResourceExhausted)),
            None,
            None,
        ),
        (
            "body cancelled",
            vec![whole.clone()],
            Some(Err(Code::Cancelled)),
            None,
            None,
        ),
        (
            "handler error",
            vec![framed(0, len(&fail), &fail)],
            None,
            None,
            None,
        ),
        ("empty body", vec![], None, None, None),
        (
            "short prefix",
            vec![Bytes::from_static(b"\0\0")],
            None,
            None,
            None,
        ),
        (
            "truncated message",
            vec![framed(0, len(&ok) + 3, &ok)],
            None,
            None,
            None,
        ),
        (
            "compressed flag",
            vec![framed(1, len(&ok), &ok)],
            None,
            None,
            None,
        ),
        ("bad flag", vec![framed(7, len(&ok), &ok)], None, None, None),
        (
            "bad protobuf",
            vec![framed(0, 2, b"\xff\xff")],
            None,
            None,
            None,
        ),
        (
            "over the decoding limit",
            vec![whole.clone()],
            None,
            Some(4),
            None,
        ),
    ];
    for (name, frames, end, decoding, encoding) in cases {
        let (ours, tonic) = both(&frames, end, (decoding, encoding)).await;
        assert_eq!(ours, tonic, "{name}");
    }
}

/// A reply over the encoding limit fails OUT_OF_RANGE in its trailers, as tonic's does; but
/// where tonic also sends a frame of the message behind an unfilled (zero) prefix, the plain
/// path sends no data at all.
#[tokio::test]
async fn a_reply_over_the_encoding_limit_sends_no_data() {
    let ok = message("catalog");
    let (ours, tonic) = both(&[framed(0, len(&ok), &ok)], None, (None, Some(3))).await;
    assert_eq!(ours.code, Code::OutOfRange);
    assert_eq!(
        ours.message,
        "Error, encoded message length too large: found 11 bytes, the limit is: 3 bytes"
    );
    assert!(ours.data.is_empty());
    assert_eq!(&tonic.data[..5], b"\0\0\0\0\0", "tonic's frame changed");
    assert_eq!(
        Seen {
            data: Bytes::new(),
            ..tonic
        },
        ours
    );
}

/// The plain path answers what the handler said: the message in one frame, OK, and the
/// metadata without the reserved header the handler tried to set.
#[tokio::test]
async fn a_good_call_is_answered_in_one_frame() {
    let ok = message("catalog");
    let (ours, _) = both(&[framed(0, len(&ok), &ok)], None, (None, None)).await;
    assert_eq!(ours.code, Code::Ok);
    assert_eq!(ours.headers["content-type"], "application/grpc");
    assert_eq!(ours.headers["x-echo"], "hello");
    assert!(ours.headers.get("grpc-status").is_none());
    let reply = ListInstancesResponse::decode(&ours.data[5..]).unwrap();
    assert_eq!(reply.instances[0].service, "catalog");
    assert_eq!(ours.trailers.unwrap().len(), 1);
}

/// A request that names a compression goes to tonic, which refuses what it cannot decode.
#[tokio::test]
async fn compressed_requests_go_to_tonic() {
    let ok = message("catalog");
    let mut request = http::Request::new(Full::new(framed(1, len(&ok), &ok)));
    request
        .headers_mut()
        .insert("grpc-encoding", HeaderValue::from_static("gzip"));
    let response = Grpc::new(Codec::default())
        .unary(tower::service_fn(handler), request)
        .await;
    let seen = seen(response).await;
    assert_eq!(seen.code, Code::Unimplemented, "{}", seen.message);
}
