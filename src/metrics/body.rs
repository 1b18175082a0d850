//! Where a gRPC call's status is, for both sides: the `grpc-status` header of a trailers-only
//! answer, or the trailers at the end of the body. [`ObservedBody`] hands the code to a
//! [`Finish`] when the trailers (or the end, or an error) pass by, so streaming calls count
//! when their stream ends.

use std::{
    pin::Pin,
    task::{Context, Poll, ready},
};

use http_body::{Frame, SizeHint};
use tonic::{Code, Status, body::Body};

use crate::wire::grpc_status;

/// Records the end of one call. Implementors record a dropped, unfinished call themselves
/// (in their `Drop`), as CANCELLED.
pub(crate) trait Finish: Send + 'static {
    /// The call ended with `code`.
    fn finish(self, code: Code);
}

/// Finishes `recorder` now when the response already carries its status (trailers-only),
/// otherwise wraps the body so it finishes when the trailers pass by.
pub(crate) fn watch<F: Finish>(
    response: http::Response<Body>,
    recorder: F,
) -> http::Response<Body> {
    observe(response, recorder).map(Body::new)
}

/// [`watch`] without boxing the body, for a stack that boxes once at its top.
pub(crate) fn observe<F: Finish, B>(
    response: http::Response<B>,
    recorder: F,
) -> http::Response<ObservedBody<F, B>> {
    let recorder = match grpc_status(response.headers()) {
        Some(code) => {
            recorder.finish(code);
            None
        }
        None => Some(recorder),
    };
    response.map(|inner| ObservedBody { inner, recorder })
}

pin_project_lite::pin_project! {
    /// A response body that finishes its recorder when its trailers (or its end) pass by.
    pub(crate) struct ObservedBody<F, B> {
        #[pin]
        inner: B,
        recorder: Option<F>,
    }
}

impl<F, B> http_body::Body for ObservedBody<F, B>
where
    F: Finish,
    B: http_body::Body<Data = bytes::Bytes, Error = Status>,
{
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
                .map(|t| grpc_status(t).unwrap_or(Code::Unknown)),
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
