//! Embedded mode: the transcoder as a tower layer in front of a server's own gRPC stack, so
//! one port serves gRPC and REST and every REST call runs through the same inner stack (auth,
//! metrics, tracing) as a gRPC call: it is transcoded into an in-process gRPC request and
//! handed to the inner service.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use futures_util::FutureExt as _;
use http::{Request, Response};
use tower::ServiceExt as _;

use crate::{gateway::is_grpc, transcoder::Transcoder, upstream::BoxError};

/// Wraps a gRPC service stack in [`RestOrGrpc`].
#[derive(Debug, Clone)]
pub struct RestLayer {
    transcoder: Transcoder,
}

impl RestLayer {
    /// A layer transcoding with `transcoder`; each call's gRPC request takes the REST
    /// request's extensions (see [`Transcoder::forwarding_extensions`]).
    pub fn new(transcoder: Transcoder) -> Self {
        Self {
            transcoder: transcoder.forwarding_extensions(),
        }
    }
}

impl<S> tower::Layer<S> for RestLayer {
    type Service = RestOrGrpc<S>;

    fn layer(&self, inner: S) -> RestOrGrpc<S> {
        RestOrGrpc {
            transcoder: self.transcoder.clone(),
            inner: Arc::new(inner),
        }
    }
}

/// gRPC requests go straight to `inner`; anything else is transcoded and sent to `inner` as a
/// gRPC request.
#[derive(Debug)]
pub struct RestOrGrpc<S> {
    transcoder: Transcoder,
    /// Shared: a server clones its service for every request, and each call clones `inner`
    /// once more to own it; the first clone then copies no stack.
    inner: Arc<S>,
}

impl<S> Clone for RestOrGrpc<S> {
    fn clone(&self) -> Self {
        Self {
            transcoder: self.transcoder.clone(),
            inner: self.inner.clone(),
        }
    }
}

impl<S, B, RB> tower::Service<Request<B>> for RestOrGrpc<S>
where
    S: tower::Service<Request<tonic::body::Body>, Response = Response<RB>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    RB: http_body::Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<BoxError> + Send,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<tonic::body::Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Each call drives its own clone of `inner` to readiness.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let inner = S::clone(&self.inner);
        let request = request.map(tonic::body::Body::new);
        if is_grpc(&request) {
            return Box::pin(async move {
                let response = inner.oneshot(request).await.map_err(Into::into)?;
                Ok(response.map(tonic::body::Body::new))
            });
        }
        // The transcoder's future as it is (a future around it would hold its own copies),
        // built in its box.
        let transcoder = &self.transcoder;
        protomesh::server::grpc::boxed(|| transcoder.handle(request, |_| Some(inner)).map(Ok))
    }
}
