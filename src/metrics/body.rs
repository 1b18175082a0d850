//! Where a gRPC call's status is, for both sides: the `grpc-status` header of a trailers-only
//! answer, or the trailers at the end of the body. [`ObservedBody`] hands the code to a
//! [`Finish`] when the trailers (or the end, or an error) pass by, so streaming calls count
//! when their stream ends.

use std::{
    pin::Pin,
    task::{Context, Poll, ready},
};

use http::HeaderMap;
use http_body::{Frame, SizeHint};
use tonic::{Code, Status, body::Body};

/// Records the end of one call. Implementors record a dropped, unfinished call themselves
/// (in their `Drop`), as CANCELLED.
pub(crate) trait Finish: Send + 'static {
    /// The call ended with `code`.
    fn finish(self, code: Code);
}

/// The gRPC code in a header map's `grpc-status`, if there is one.
pub(crate) fn status_code(headers: &HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?;
    let number: i32 = value.to_str().ok()?.parse().ok()?;
    Some(Code::from_i32(number))
}

/// Finishes `recorder` now when the response already carries its status (trailers-only),
/// otherwise wraps the body so it finishes when the trailers pass by.
pub(crate) fn watch<F: Finish>(
    response: http::Response<Body>,
    recorder: F,
) -> http::Response<Body> {
    match status_code(response.headers()) {
        Some(code) => {
            recorder.finish(code);
            response
        }
        None => response.map(|inner| {
            Body::new(ObservedBody {
                inner,
                recorder: Some(recorder),
            })
        }),
    }
}

pin_project_lite::pin_project! {
    /// A response body that finishes its recorder when its trailers (or its end) pass by.
    pub(crate) struct ObservedBody<F> {
        #[pin]
        inner: Body,
        recorder: Option<F>,
    }
}

impl<F: Finish> http_body::Body for ObservedBody<F> {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        let code = match &frame {
            Some(Ok(frame)) => frame
                .trailers_ref()
                .map(|t| status_code(t).unwrap_or(Code::Unknown)),
            Some(Err(status)) => Some(status.code()),
            // A body that ends without trailers broke the protocol.
            None => Some(Code::Unknown),
        };
        if let Some(code) = code
            && let Some(recorder) = this.recorder.take()
        {
            recorder.finish(code);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.recorder.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
