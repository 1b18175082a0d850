//! protomesh-gateway: REST for any gRPC service, driven by the `google.api.http` rules in its
//! descriptors (like Envoy's transcoder, no per-service code generation).
//!
//! # Layout
//! - [`run`]: the standalone gateway on a bound listener ([`GatewayConfig`]).
//! - [`Transcoder`]: route table + JSON mapping + settings ([`TranscodeSettings`]), shared by
//!   both modes; cheap to clone.
//! - [`Gateway`]: the standalone tower service (REST transcoded, gRPC forwarded by service).
//! - [`RestLayer`] / [`RestOrGrpc`]: embedded mode, in front of a server's own gRPC stack.
//! - [`Upstreams`] / [`upstream()`]: which gRPC service goes where; any cloneable tower service
//!   of `http::Request<tonic::body::Body>` plugs in (a `Channel`, the kit's balanced client).
//! - modules: [`template`] (path grammar), [`router`] (matching), [`routes`] (rules from
//!   descriptors), [`transcode`] and [`fields`] (JSON and text to messages and back),
//!   [`wirejson`] (JSON straight to the wire and back, for plain unary messages),
//!   [`status`] (code table, error bodies), [`headers`], [`stream`] (NDJSON / SSE),
//!   [`observe`] (span and route-labelled metrics per request), [`openapi`], [`cors`],
//!   [`ratelimit`], [`reflection`], [`descriptors`], [`codec`], [`live`] (routes added at run
//!   time by reflection from services not compiled in), [`server`] (HTTP/1.1 + h2c serving
//!   with drain), [`standalone`] (the gateway process: observability, health, admin port,
//!   drain sequence).
//!
//! # Embedded mode
//! A service built with the kit's `ServerBuilder` opts in with one line; REST calls then
//! run through its whole stack (tracing, metrics, shedding, deadlines, auth) as gRPC calls:
//! ```ignore
//! ServerBuilder::new(config)
//!     .auth(auth_layer)
//!     .add_service(my_service)
//!     .front(RestLayer::new(Transcoder::compiled(TranscodeSettings::default())?))
//!     .serve(listener, admin, shutdown)
//!     .await?;
//! ```
//! Any other tower-based server works the same way: put [`RestLayer`] outermost and accept
//! HTTP/1.1 (with tonic's `Server`: `.accept_http1(true).layer(RestLayer::new(transcoder))`).

pub mod codec;
pub mod config;
pub mod cors;
pub mod descriptors;
pub mod embedded;
pub mod fields;
pub mod gateway;
pub mod headers;
pub mod live;
pub mod observe;
pub mod openapi;
pub mod ratelimit;
pub mod reflection;
pub mod router;
pub mod routes;
pub mod server;
pub mod standalone;
pub mod status;
pub mod stream;
pub mod template;
pub mod transcode;
pub mod transcoder;
pub mod unary;
pub mod upstream;
pub mod wirejson;

use std::future::Future;

use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};

pub use config::{
    DEFAULT_MAX_BODY_BYTES, DEFAULT_OPENAPI_PATH, DescriptorSource, GatewayConfig,
    TranscodeSettings,
};
pub use cors::CorsSettings;
pub use embedded::{RestLayer, RestOrGrpc};
pub use gateway::Gateway;
pub use observe::{HttpMetrics, ObserveLayer};
pub use ratelimit::RateLimit;
pub use routes::MatchedRoute;
pub use transcoder::{RouteInfo, Transcoder};
pub use upstream::{BoxError, Upstream, UpstreamError, Upstreams, upstream};

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The descriptors do not decode or are incomplete.
    #[error("descriptors: {0}")]
    Descriptors(String),
    /// A `google.api.http` rule is malformed.
    #[error("bad google.api.http rule on {method}: {reason}")]
    Rule {
        /// The method carrying the rule.
        method: String,
        /// What is wrong.
        reason: String,
    },
    /// Two rules bind the same HTTP method and path shape.
    #[error("conflicting google.api.http rules: {first} and {second} both bind {binding}")]
    Conflict {
        /// The method bound first.
        first: String,
        /// The method whose rule clashes with it.
        second: String,
        /// The clashing binding, `VERB /template`.
        binding: String,
    },
    /// An upstream target is not a valid URI.
    #[error("upstream target {target:?}: {reason}")]
    Upstream {
        /// The configured target.
        target: String,
        /// What is wrong.
        reason: String,
    },
    /// Server reflection failed.
    #[error("reflection from {target}: {reason}")]
    Reflection {
        /// The upstream asked.
        target: String,
        /// What failed.
        reason: String,
    },
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Runs the standalone gateway on `listener` until `shutdown` resolves, then drains.
///
/// Upstreams are lazily connected `tonic::transport::Channel`s, one per distinct target.
pub async fn run(
    listener: TcpListener,
    config: GatewayConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let mut channels = Vec::new();
    for target in config.targets() {
        let endpoint = Endpoint::from_shared(target.clone()).map_err(|e| Error::Upstream {
            target: target.clone(),
            reason: e.to_string(),
        })?;
        channels.push((target, endpoint.connect_lazy()));
    }
    let channel_of = |target: &str| -> Option<Channel> {
        channels
            .iter()
            .find(|(t, _)| t == target)
            .map(|(_, c)| c.clone())
    };
    let pool = descriptors::load(&config.descriptors, &channels).await?;
    let transcoder = Transcoder::new(pool, config.transcode.clone())?;
    let mut upstreams = Upstreams::new();
    for (service, target) in &config.upstreams {
        if let Some(channel) = channel_of(target) {
            upstreams = upstreams.with_service(service.clone(), upstream(channel));
        }
    }
    if let Some(channel) = config.default_upstream.as_deref().and_then(channel_of) {
        upstreams = upstreams.with_fallback(upstream(channel));
    }
    for route in transcoder.routes() {
        tracing::debug!(method = %route.http_method, template = route.template, grpc = route.grpc_method, "route");
    }
    let gateway = Gateway::new(transcoder, upstreams);
    server::serve(listener, gateway, shutdown)
        .await
        .map_err(|source| Error::Io {
            path: "listener".into(),
            source,
        })
}
