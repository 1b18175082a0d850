//! Which upstream serves which gRPC service. An upstream is any cloneable tower service of
//! gRPC-over-HTTP requests (a `tonic::transport::Channel`, the kit's balanced client, or an
//! in-process server stack in embedded mode), boxed once into [`Upstream`].

use bytes::Bytes;
use foldhash::HashMap;
use tower::{ServiceExt as _, util::BoxCloneSyncService};

/// The boxed error type of upstream services and bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The error of an [`Upstream`]: whatever the boxed service failed with.
///
/// A named type rather than `BoxError` itself keeps the call futures `Send`-checkable. The
/// boxed error is its `source()`, so a `tonic::Status` inside (the kit's balanced client fails
/// with UNAVAILABLE when no endpoint is ready) reaches the caller with its own code.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UpstreamError(#[from] BoxError);

/// A boxed, cloneable gRPC upstream.
pub type Upstream = BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    UpstreamError,
>;

/// What the transcoder can call: any gRPC-over-HTTP tower service whose futures and bodies
/// can cross threads. [`Upstream`] is one; in embedded mode the server's own stack is called
/// as it is, without boxing it per request.
pub trait GrpcUpstream:
    tonic::client::GrpcService<
        tonic::body::Body,
        Future: Send,
        Error: Into<BoxError>,
        ResponseBody: http_body::Body<Data = Bytes, Error: Into<BoxError> + Send> + Send + 'static,
    > + Send
    + 'static
{
}

impl<T> GrpcUpstream for T where
    T: tonic::client::GrpcService<
            tonic::body::Body,
            Future: Send,
            Error: Into<BoxError>,
            ResponseBody: http_body::Body<Data = Bytes, Error: Into<BoxError> + Send>
                              + Send
                              + 'static,
        > + Send
        + 'static
{
}

/// Boxes any gRPC service into an [`Upstream`], e.g. `upstream(channel)`.
pub fn upstream<S, B>(service: S) -> Upstream
where
    S: tower::Service<http::Request<tonic::body::Body>, Response = http::Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    BoxCloneSyncService::new(
        service
            .map_response(|response: http::Response<B>| response.map(tonic::body::Body::new))
            .map_err(|e: S::Error| UpstreamError(e.into())),
    )
}

/// gRPC service name (`shop.orders.v1.OrderService`) to upstream, with an optional fallback.
#[derive(Clone, Default)]
pub struct Upstreams {
    // Looked up on every request, with keys fixed when the table is built: a fast hasher.
    by_service: HashMap<String, Upstream>,
    fallback: Option<Upstream>,
}

impl std::fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstreams")
            .field("services", &self.by_service.keys().collect::<Vec<_>>())
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

impl Upstreams {
    /// No upstreams: every call fails UNAVAILABLE until some are added.
    pub fn new() -> Self {
        Self::default()
    }

    /// One upstream for every service.
    pub fn single(upstream: Upstream) -> Self {
        Self {
            by_service: HashMap::default(),
            fallback: Some(upstream),
        }
    }

    /// Routes calls to `service` (a fully-qualified gRPC service name) to `upstream`.
    pub fn with_service(mut self, service: impl Into<String>, upstream: Upstream) -> Self {
        self.by_service.insert(service.into(), upstream);
        self
    }

    /// Routes calls to services without their own entry to `upstream`.
    pub fn with_fallback(mut self, upstream: Upstream) -> Self {
        self.fallback = Some(upstream);
        self
    }

    /// Whether `service` has its own entry.
    pub fn has_service(&self, service: &str) -> bool {
        self.by_service.contains_key(service)
    }

    /// The upstream for `service`.
    pub fn get(&self, service: &str) -> Option<Upstream> {
        self.by_service
            .get(service)
            .or(self.fallback.as_ref())
            .cloned()
    }
}
