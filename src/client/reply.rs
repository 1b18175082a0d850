//! A retryable unary reply read to its end before the call returns it. A connection lost
//! between the reply's head and its trailers (a replica killed mid-reply) then fails an
//! attempt, which the call may retry elsewhere, rather than the call its caller already has.

use std::{
    collections::VecDeque,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt as _;
use tonic::{Status, body::Body};

/// The most reply data held back. A larger reply is handed on from this point as it
/// arrives, and a failure after it reaches the caller (gRPC's own limit on a message is
/// 4 MiB, so this covers every unary reply of a default server).
const MAX_HELD: usize = 4 * 1024 * 1024 + 5;

/// Reads `body` to its end (or past [`MAX_HELD`] bytes of data) and returns a body that
/// replays what was read. Fails with the body's error if it fails before.
pub(crate) async fn hold(mut body: Body) -> Result<Body, Status> {
    let mut frames = VecDeque::new();
    let mut held = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        held += frame.data_ref().map_or(0, Bytes::len);
        frames.push_back(frame);
        if held > MAX_HELD {
            return Ok(Body::new(Held {
                frames,
                rest: Some(body),
            }));
        }
    }
    Ok(Body::new(Held { frames, rest: None }))
}

/// A reply read ahead: its frames, then what was not read yet.
struct Held {
    frames: VecDeque<Frame<Bytes>>,
    rest: Option<Body>,
}

impl http_body::Body for Held {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if let Some(frame) = self.frames.pop_front() {
            return Poll::Ready(Some(Ok(frame)));
        }
        match &mut self.rest {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty() && self.rest.as_ref().is_none_or(|rest| rest.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        let held: usize = self
            .frames
            .iter()
            .filter_map(|f| f.data_ref().map(Bytes::len))
            .sum();
        let held = held as u64;
        match &self.rest {
            None => SizeHint::with_exact(held),
            Some(rest) => {
                let rest = rest.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(held + rest.lower());
                if let Some(upper) = rest.upper() {
                    hint.set_upper(held + upper);
                }
                hint
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;
    use http_body::Body as _;

    use super::*;

    /// A body of the given frames, then `end` (an error, or nothing).
    fn body(frames: Vec<Frame<Bytes>>, end: Option<Status>) -> Body {
        let items: Vec<Result<Frame<Bytes>, Status>> =
            frames.into_iter().map(Ok).chain(end.map(Err)).collect();
        Body::new(http_body_util::StreamBody::new(futures_util::stream::iter(
            items,
        )))
    }

    fn trailers(code: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert("grpc-status", code.parse().unwrap());
        map
    }

    #[tokio::test]
    async fn a_whole_reply_is_replayed_with_its_trailers() {
        let reply = body(
            vec![
                Frame::data(Bytes::from_static(b"\0\0\0\0\x02hi")),
                Frame::data(Bytes::from_static(b"!")),
                Frame::trailers(trailers("0")),
            ],
            None,
        );
        let held = hold(reply).await.expect("reply held");
        assert_eq!(held.size_hint().exact(), Some(8));
        let collected = held.collect().await.expect("replayed");
        assert_eq!(collected.trailers(), Some(&trailers("0")));
        assert_eq!(&collected.to_bytes()[..], b"\0\0\0\0\x02hi!");
    }

    #[tokio::test]
    async fn a_reply_cut_off_fails_before_the_caller_has_it() {
        let reply = body(
            vec![Frame::data(Bytes::from_static(b"\0\0\0\0\x02hi"))],
            Some(Status::unavailable("connection lost mid-reply")),
        );
        let error = hold(reply).await.expect_err("the cut is seen");
        assert_eq!(error.code(), tonic::Code::Unavailable);
        assert_eq!(error.message(), "connection lost mid-reply");
    }

    #[tokio::test]
    async fn a_large_reply_is_handed_on_past_the_limit() {
        let chunk = Bytes::from(vec![7u8; 1024 * 1024]);
        let frames = (0..5).map(|_| Frame::data(chunk.clone())).collect();
        let reply = body(
            frames,
            Some(Status::unavailable("connection lost mid-reply")),
        );
        // Past the limit the reply is the caller's: the later failure reaches it.
        let held = hold(reply).await.expect("handed on past the limit");
        let mut held = std::pin::pin!(held);
        let mut data = 0;
        let error = loop {
            match held.frame().await {
                Some(Ok(frame)) => data += frame.into_data().map_or(0, |d| d.len()),
                Some(Err(status)) => break status,
                None => panic!("the failure was lost"),
            }
        };
        assert_eq!(data, 5 * chunk.len());
        assert_eq!(error.code(), tonic::Code::Unavailable);
    }
}
