//! What the generated servers run a method with: tonic's `server::Grpc`, except for a unary
//! call of uncompressed protobuf, which is what every protomesh call is unless a service
//! turns compression on.
//!
//! tonic runs a unary call through its streaming machinery: a frame decoder over the request
//! body, and an encoder body over a one-message stream for the reply. Here the request
//! body is read whole (an in-process call's body, as embedded REST makes it, is already one
//! buffer), its one message decoded, and the reply encoded into one buffer and sent with
//! `grpc-status: 0` trailers. The protocol is tonic's: the same codes and messages for a bad
//! frame, the same reply headers. Everything else (compression, streaming methods) goes to
//! tonic as it is.
//!
//! `build.rs` points the generated servers here.

use std::pin::pin;

use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};
use futures_util::future::Either;
use http::{HeaderMap, HeaderName, HeaderValue, header::CONTENT_TYPE};
use http_body::Frame;
use http_body_util::BodyExt as _;
use tonic::{
    Code, Status,
    body::Body,
    codec::{Codec, EnabledCompressionEncodings},
    metadata::MetadataMap,
    server::{ClientStreamingService, ServerStreamingService, StreamingService, UnaryService},
};
use tonic_prost::ProstCodec;

/// The length prefix of a gRPC message: a compression flag and a big-endian length.
const PREFIX: usize = 5;
/// tonic's default limit on a decoded message.
const DEFAULT_MAX_DECODING: usize = 4 * 1024 * 1024;
/// The content type of every reply.
const GRPC_CONTENT_TYPE: HeaderValue = HeaderValue::from_static("application/grpc");
/// Headers a handler's reply metadata may not set (tonic removes the same ones).
const RESERVED: [HeaderName; 5] = [
    HeaderName::from_static("te"),
    CONTENT_TYPE,
    HeaderName::from_static("grpc-message"),
    HeaderName::from_static("grpc-message-type"),
    Status::GRPC_STATUS,
];

/// The future `make` returns, in a box allocated before `make` runs, so the compiler can
/// build the future in the box rather than on the stack and copy it there (a call's future
/// is hundreds of bytes). The generated servers box every call's future with it, as do the
/// server's stack and the gateway's REST calls.
pub fn boxed<F, Fut>(make: F) -> std::pin::Pin<Box<Fut>>
where
    F: FnOnce() -> Fut,
{
    let slot = Box::new_uninit();
    Box::into_pin(Box::write(slot, make()))
}

/// Runs one call of a generated server's method: a drop-in for `tonic::server::Grpc`.
#[derive(Debug)]
pub struct Grpc<C> {
    tonic: tonic::server::Grpc<C>,
    /// No compression accepted or sent: unary calls take the plain path.
    plain: bool,
    max_decoding: Option<usize>,
    max_encoding: Option<usize>,
}

impl<C: Codec> Grpc<C> {
    /// Runs calls with `codec`.
    pub fn new(codec: C) -> Self {
        Self {
            tonic: tonic::server::Grpc::new(codec),
            plain: true,
            max_decoding: None,
            max_encoding: None,
        }
    }

    /// The compression the service accepts and sends (as tonic's method of the same name).
    #[doc(hidden)]
    pub fn apply_compression_config(
        mut self,
        accept: EnabledCompressionEncodings,
        send: EnabledCompressionEncodings,
    ) -> Self {
        self.plain = accept.is_empty() && send.is_empty();
        self.tonic = self.tonic.apply_compression_config(accept, send);
        self
    }

    /// The service's message size limits (as tonic's method of the same name).
    #[doc(hidden)]
    pub fn apply_max_message_size_config(
        mut self,
        decoding: Option<usize>,
        encoding: Option<usize>,
    ) -> Self {
        self.max_decoding = decoding;
        self.max_encoding = encoding;
        self.tonic = self.tonic.apply_max_message_size_config(decoding, encoding);
        self
    }

    /// A server-streaming call, run by tonic.
    pub async fn server_streaming<S, B>(
        &mut self,
        service: S,
        request: http::Request<B>,
    ) -> http::Response<Body>
    where
        S: ServerStreamingService<C::Decode, Response = C::Encode>,
        S::ResponseStream: Send + 'static,
        B: http_body::Body + Send + 'static,
        B::Error: Into<tonic::codegen::StdError> + Send,
    {
        self.tonic.server_streaming(service, request).await
    }

    /// A client-streaming call, run by tonic.
    pub async fn client_streaming<S, B>(
        &mut self,
        service: S,
        request: http::Request<B>,
    ) -> http::Response<Body>
    where
        S: ClientStreamingService<C::Decode, Response = C::Encode>,
        B: http_body::Body + Send + 'static,
        B::Error: Into<tonic::codegen::StdError> + Send + 'static,
    {
        self.tonic.client_streaming(service, request).await
    }

    /// A bidirectional streaming call, run by tonic.
    pub async fn streaming<S, B>(
        &mut self,
        service: S,
        request: http::Request<B>,
    ) -> http::Response<Body>
    where
        S: StreamingService<C::Decode, Response = C::Encode> + Send,
        S::ResponseStream: Send + 'static,
        B: http_body::Body + Send + 'static,
        B::Error: Into<tonic::codegen::StdError> + Send,
    {
        self.tonic.streaming(service, request).await
    }
}

impl<E, D> Grpc<ProstCodec<E, D>>
where
    E: prost::Message + Send + 'static,
    D: prost::Message + Default + Send + 'static,
{
    /// A unary call: on the plain path unless compression is in play.
    ///
    /// Not an `async fn`: the request is taken apart before the returned future exists, so
    /// the future keeps only what the call still needs (body, headers, extensions), not the
    /// whole request for its whole life. Generated servers box this future on every call,
    /// so its size is copied on every call.
    pub fn unary<S, B>(
        &mut self,
        mut service: S,
        request: http::Request<B>,
    ) -> impl Future<Output = http::Response<Body>>
    where
        S: UnaryService<D, Response = E>,
        B: http_body::Body + Send + 'static,
        B::Error: Into<tonic::codegen::StdError> + Send,
    {
        if !self.plain || crate::wire::get(request.headers(), &crate::wire::GRPC_ENCODING).is_some()
        {
            // Boxed: tonic's unary future is large, and would otherwise size (and be copied
            // with) every call's future on the plain path too.
            return Either::Left(Box::pin(self.tonic.unary(service, request)));
        }
        let (
            http::request::Parts {
                mut headers,
                extensions,
                ..
            },
            body,
        ) = request.into_parts();
        let limit = self.max_decoding.unwrap_or(DEFAULT_MAX_DECODING);
        let max_encoding = self.max_encoding;
        Either::Right(async move {
            let message = match read_request::<D, B>(body, &mut headers, limit).await {
                Ok(message) => message,
                Err(status) => return status.into_http(),
            };
            let metadata = MetadataMap::from_headers(headers);
            let request = tonic::Request::from_parts(metadata, extensions, message);
            match service.call(request).await {
                Ok(response) => reply(response, max_encoding),
                Err(status) => status.into_http(),
            }
        })
    }
}

/// Reads a unary request body whole and decodes its message; the request's trailers, if
/// any, join `headers` (as tonic merges them into the metadata).
///
/// Not an `async fn`, whose arguments would take room twice in its future; `headers` is
/// borrowed, so the caller's future holds the map once.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn's future keeps its arguments twice"
)]
fn read_request<D, B>(
    body: B,
    headers: &mut HeaderMap,
    limit: usize,
) -> impl Future<Output = Result<D, Status>>
where
    D: prost::Message + Default,
    B: http_body::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send,
{
    async move {
        let mut body = pin!(body);
        let mut gathered = crate::wire::Gathered::default();
        let mut prefix_checked = false;
        while let Some(frame) = body.frame().await {
            let frame = match frame {
                Ok(frame) => frame,
                Err(error) => {
                    let status = Status::from_error(error.into());
                    // A client that cancels its request stream has ended it (as tonic reads it).
                    if status.code() == Code::Cancelled {
                        break;
                    }
                    return Err(status);
                }
            };
            match frame.into_data() {
                Ok(mut chunk) => {
                    gathered.push(chunk.copy_to_bytes(chunk.remaining()));
                    // A first message over the limit is refused as soon as its prefix is in.
                    let seen = gathered.as_slice();
                    if !prefix_checked && seen.len() >= PREFIX {
                        frame_length(&seen[..PREFIX], limit)?;
                        prefix_checked = true;
                    }
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        headers.extend(trailers);
                        break;
                    }
                }
            }
        }
        let mut data = gathered.finish();
        let mut first = None;
        while !data.is_empty() {
            if data.len() < PREFIX {
                return Err(Status::internal("Unexpected EOF decoding stream."));
            }
            let len = frame_length(&data[..PREFIX], limit)?;
            data.advance(PREFIX);
            if data.len() < len {
                return Err(Status::internal("Unexpected EOF decoding stream."));
            }
            let message =
                D::decode(data.split_to(len)).map_err(|e| Status::internal(e.to_string()))?;
            // Messages after the first are read and dropped, as tonic's unary path does.
            first.get_or_insert(message);
        }
        let message = first.ok_or_else(|| Status::internal("Missing request message."))?;
        Ok(message)
    }
}

/// The length a frame's prefix announces, checked against `limit`; its flag must say
/// uncompressed (no compression is accepted on this path).
fn frame_length(prefix: &[u8], limit: usize) -> Result<usize, Status> {
    match prefix[0] {
        0 => {}
        1 => {
            return Err(Status::internal(
                "protocol error: received message with compressed-flag but no grpc-encoding was specified",
            ));
        }
        flag => {
            return Err(Status::internal(format!(
                "protocol error: received message with invalid compression flag: {flag} (valid flags are 0 and 1), while sending request"
            )));
        }
    }
    let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
    if len > limit {
        return Err(Status::out_of_range(format!(
            "Error, decoded message length too large: found {len} bytes, the limit is: {limit} bytes"
        )));
    }
    Ok(len)
}

/// The reply of a handled call: its metadata as headers (less the reserved ones), the
/// message in one frame, then `grpc-status: 0`, or the status of a message over `limit`.
fn reply<E: prost::Message>(
    response: tonic::Response<E>,
    limit: Option<usize>,
) -> http::Response<Body> {
    let (metadata, message, extensions) = response.into_parts();
    let mut headers = metadata.into_headers();
    if !headers.is_empty() {
        for name in &RESERVED {
            headers.remove(name);
        }
    }
    headers.insert(CONTENT_TYPE, GRPC_CONTENT_TYPE);
    let len = message.encoded_len();
    let mut trailers = HeaderMap::with_capacity(1);
    let data = match limit.filter(|&limit| len > limit) {
        Some(limit) => {
            let status = Status::out_of_range(format!(
                "Error, encoded message length too large: found {len} bytes, the limit is: {limit} bytes"
            ));
            // Only an invalid metadata value fails here, and this status carries none.
            let _ = status.add_header(&mut trailers);
            None
        }
        None => {
            let mut frame = BytesMut::with_capacity(PREFIX + len);
            frame.put_u8(0);
            // A message over 4 GiB cannot be framed; tonic's encoder refuses it too.
            let Ok(prefix) = u32::try_from(len) else {
                return Status::out_of_range("reply message over 4 GiB").into_http();
            };
            frame.put_u32(prefix);
            // Cannot fail: the buffer holds the whole message.
            let _ = message.encode(&mut frame);
            trailers.insert(Status::GRPC_STATUS, HeaderValue::from_static("0"));
            Some(frame.freeze())
        }
    };
    let mut response = http::Response::new(Body::new(Reply {
        data,
        trailers: Some(trailers),
    }));
    *response.headers_mut() = headers;
    *response.extensions_mut() = extensions;
    response
}

/// A unary reply body: at most one data frame, then the trailers.
#[derive(Debug)]
struct Reply {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl http_body::Body for Reply {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Status>>> {
        let frame = match self.data.take() {
            Some(data) => Some(Frame::data(data)),
            None => self.trailers.take().map(Frame::trailers),
        };
        std::task::Poll::Ready(frame.map(Ok))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }
}

#[cfg(test)]
mod tests;
