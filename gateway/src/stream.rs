//! Server-streaming responses as newline-delimited JSON, or as server-sent events when the
//! client asks for `text/event-stream`. A mid-stream error becomes the last item: an
//! `{"error": <google.rpc.Status>}` line, or an `error` event carrying the status.

use std::convert::Infallible;

use bytes::Bytes;
use futures_util::stream;
use http::{HeaderValue, Response, header::CONTENT_TYPE};
use http_body::Frame;
use http_body_util::StreamBody;
use prost_reflect::DynamicMessage;
use tonic::Streaming;

use crate::{routes::Route, status::StatusRenderer, transcode};

/// How the stream is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One JSON document per line (`application/x-ndjson`).
    NdJson,
    /// Server-sent events (`text/event-stream`), one `data:` event per message.
    Sse,
}

impl Framing {
    /// SSE when `accept` names `text/event-stream`, NDJSON otherwise.
    pub fn from_accept(accept: Option<&HeaderValue>) -> Self {
        match accept.and_then(|v| v.to_str().ok()) {
            Some(text) if text.contains("text/event-stream") => Framing::Sse,
            _ => Framing::NdJson,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Framing::NdJson => "application/x-ndjson",
            Framing::Sse => "text/event-stream",
        }
    }

    fn message(self, json: Vec<u8>) -> Bytes {
        match self {
            Framing::NdJson => {
                let mut out = json;
                out.push(b'\n');
                out.into()
            }
            Framing::Sse => {
                let mut out = Vec::with_capacity(json.len() + 8);
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(&json);
                out.extend_from_slice(b"\n\n");
                out.into()
            }
        }
    }

    fn error(self, status: serde_json::Value) -> Bytes {
        match self {
            Framing::NdJson => format!("{}\n", serde_json::json!({ "error": status })).into(),
            Framing::Sse => format!("event: error\ndata: {status}\n\n").into(),
        }
    }
}

/// The HTTP response streaming `messages` out in `framing`.
pub fn respond(
    route: Route,
    renderer: StatusRenderer,
    messages: Streaming<DynamicMessage>,
    framing: Framing,
) -> Response<tonic::body::Body> {
    let frames = stream::unfold(Some(messages), move |state| {
        let route = route.clone();
        let renderer = renderer.clone();
        async move {
            let mut messages = state?;
            let chunk = match messages.message().await {
                Ok(Some(msg)) => match transcode::response(&route, &msg) {
                    Ok(json) => (framing.message(json), Some(messages)),
                    Err(status) => (framing.error(renderer.json(&status)), None),
                },
                Ok(None) => return None,
                Err(status) => (framing.error(renderer.json(&status)), None),
            };
            Some((Ok::<_, Infallible>(Frame::data(chunk.0)), chunk.1))
        }
    });
    let mut response = Response::new(tonic::body::Body::new(StreamBody::new(frames)));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(framing.content_type()),
    );
    response
}
