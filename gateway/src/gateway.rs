//! The standalone gateway service: REST requests are transcoded, gRPC requests
//! (`application/grpc*`) are forwarded untouched to the upstream of their service.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use futures_util::FutureExt as _;
use http::{Request, Response};
use tower::ServiceExt as _;

use crate::{
    transcoder::Transcoder,
    upstream::{BoxError, Upstreams, upstream},
};

/// The gateway as a tower service of HTTP requests (HTTP/1.1 or HTTP/2).
#[derive(Debug, Clone)]
pub struct Gateway {
    transcoder: Transcoder,
    upstreams: Arc<Upstreams>,
}

impl Gateway {
    /// A gateway transcoding with `transcoder` and calling `upstreams`.
    ///
    /// Unless `upstreams` maps them, the gateway answers gRPC server reflection (v1 and
    /// v1alpha) itself from the transcoder's descriptors: one listing of every service behind it.
    pub fn new(transcoder: Transcoder, mut upstreams: Upstreams) -> Self {
        let set = transcoder.pool().encode_to_vec();
        let builder = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(&set)
        };
        if !upstreams.has_service(REFLECTION_V1)
            && let Ok(service) = builder().build_v1()
        {
            upstreams = upstreams.with_service(REFLECTION_V1, upstream(service));
        }
        if !upstreams.has_service(REFLECTION_V1ALPHA)
            && let Ok(service) = builder().build_v1alpha()
        {
            upstreams = upstreams.with_service(REFLECTION_V1ALPHA, upstream(service));
        }
        Self {
            transcoder,
            upstreams: Arc::new(upstreams),
        }
    }
}

/// The reflection service names the gateway answers itself.
const REFLECTION_V1: &str = "grpc.reflection.v1.ServerReflection";
const REFLECTION_V1ALPHA: &str = "grpc.reflection.v1alpha.ServerReflection";

/// Whether the request is gRPC (so passes through, not transcoded).
pub fn is_grpc<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

impl<B> tower::Service<Request<B>> for Gateway
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let request = request.map(tonic::body::Body::new);
        if is_grpc(&request) {
            let this = self.clone();
            return Box::pin(async move { Ok(this.forward(request).await) });
        }
        let upstreams = self.upstreams.clone();
        // The transcoder's future as it is (a future around it would hold its own copies),
        // built in its box.
        let transcoder = &self.transcoder;
        protomesh::server::grpc::boxed(|| {
            transcoder
                .handle(request, move |service| upstreams.get(service))
                .map(Ok)
        })
    }
}

impl Gateway {
    /// Passes a gRPC request to the upstream of the service named in its path.
    async fn forward(&self, request: Request<tonic::body::Body>) -> Response<tonic::body::Body> {
        let service = request
            .uri()
            .path()
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("")
            .to_owned();
        let Some(upstream) = self.upstreams.get(&service) else {
            return tonic::Status::unimplemented(format!("no upstream for {service}")).into_http();
        };
        match upstream.oneshot(request).await {
            Ok(response) => response,
            Err(e) => tonic::Status::unavailable(format!("upstream: {e}")).into_http(),
        }
    }
}
