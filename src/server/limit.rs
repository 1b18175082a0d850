//! The message size limit: reads the 5-byte gRPC length prefix of every request message as
//! it arrives and fails the call with RESOURCE_EXHAUSTED as soon as one announces more than
//! the limit, before its bytes are buffered.
//!
//! A body whose size is known to be at most the limit (an in-process call's one buffer, such
//! as embedded REST's) cannot carry a message over it, and goes through unwrapped. A prefix in
//! it that announces more than it holds is then tonic's to refuse, as a truncated message.

use std::{
    pin::Pin,
    task::{Context, Poll, ready},
};

use http::Request;
use http_body::{Frame, SizeHint};
use tonic::{Status, body::Body};
use tower_layer::Layer;
use tower_service::Service;

/// Limits request messages to `max` bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MessageLimitLayer {
    /// The largest message accepted, in bytes.
    max: usize,
}

impl MessageLimitLayer {
    /// A layer accepting messages up to `max` bytes.
    pub(crate) fn new(max: usize) -> Self {
        Self { max }
    }
}

impl<S> Layer<S> for MessageLimitLayer {
    type Service = MessageLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MessageLimit {
            inner,
            max: self.max,
        }
    }
}

/// The service [`MessageLimitLayer`] makes.
#[derive(Debug, Clone)]
pub(crate) struct MessageLimit<S> {
    /// The rest of the stack.
    inner: S,
    /// The largest message accepted, in bytes.
    max: usize,
}

impl<S> Service<Request<Body>> for MessageLimit<S>
where
    S: Service<Request<Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let max = self.max;
        let small = http_body::Body::size_hint(request.body())
            .upper()
            .is_some_and(|upper| upper <= max as u64);
        if small {
            return self.inner.call(request);
        }
        self.inner
            .call(request.map(|inner| Body::new(LimitedBody::new(inner, max))))
    }
}

pin_project_lite::pin_project! {
    /// A request body that checks each message's length prefix.
    struct LimitedBody {
        #[pin]
        inner: Body,
        max: usize,
        // The prefix bytes read so far of the next message.
        prefix: [u8; 5],
        prefix_len: usize,
        // Payload bytes of the current message still to come.
        payload_left: u64,
    }
}

impl LimitedBody {
    /// Wraps `inner`.
    fn new(inner: Body, max: usize) -> Self {
        Self {
            inner,
            max,
            prefix: [0; 5],
            prefix_len: 0,
            payload_left: 0,
        }
    }
}

impl http_body::Body for LimitedBody {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if let Some(Ok(data)) = &frame
            && let Some(data) = data.data_ref()
        {
            let mut rest: &[u8] = data;
            while !rest.is_empty() {
                if *this.payload_left > 0 {
                    let n = rest
                        .len()
                        .min(usize::try_from(*this.payload_left).unwrap_or(usize::MAX));
                    *this.payload_left -= n as u64;
                    rest = &rest[n..];
                    continue;
                }
                let start = *this.prefix_len;
                let take = (5 - start).min(rest.len());
                this.prefix[start..start + take].copy_from_slice(&rest[..take]);
                *this.prefix_len += take;
                rest = &rest[take..];
                if *this.prefix_len == 5 {
                    *this.prefix_len = 0;
                    let [_, a, b, c, d] = *this.prefix;
                    let len = u32::from_be_bytes([a, b, c, d]);
                    if len as usize > *this.max {
                        return Poll::Ready(Some(Err(Status::resource_exhausted(format!(
                            "request message of {len} bytes is larger than the limit of {} bytes",
                            this.max
                        )))));
                    }
                    *this.payload_left = u64::from(len);
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http_body_util::{BodyExt as _, Full, StreamBody};
    use tower::{ServiceExt as _, service_fn};

    use super::*;

    /// What the service behind the limit reads of `body`: its bytes, or the code it failed with.
    async fn read_behind_limit(body: Body, max: usize) -> Result<Bytes, tonic::Code> {
        let reader = service_fn(|request: Request<Body>| async move {
            let read = request.into_body().collect().await;
            Ok::<_, std::convert::Infallible>(read.map(|c| c.to_bytes()).map_err(|s| s.code()))
        });
        let mut limited = MessageLimitLayer::new(max).layer(reader);
        limited
            .ready()
            .await
            .unwrap()
            .call(Request::new(body))
            .await
            .unwrap()
    }

    /// A message announcing more than the limit: refused while streaming in, whatever it
    /// holds; a body known to fit the limit is passed on as it is.
    #[tokio::test]
    async fn streamed_bodies_are_checked_and_small_known_ones_pass() {
        let huge = Bytes::from_static(&[0, 0x40, 0, 0, 0, 1, 2, 3]);
        let streamed = || {
            let frames = futures_util::stream::iter([Ok::<_, Status>(Frame::data(huge.clone()))]);
            Body::new(StreamBody::new(frames))
        };
        assert_eq!(
            read_behind_limit(streamed(), 1024).await,
            Err(tonic::Code::ResourceExhausted)
        );
        // The same bytes in a buffer of known size under the limit reach the service.
        let buffered = Body::new(Full::new(huge.clone()));
        assert_eq!(read_behind_limit(buffered, 1024).await, Ok(huge.clone()));
        // A known size over the limit is still checked.
        let big = Body::new(Full::new(huge.clone()));
        assert_eq!(
            read_behind_limit(big, 4).await,
            Err(tonic::Code::ResourceExhausted)
        );
    }
}
