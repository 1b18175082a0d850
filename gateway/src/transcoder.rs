//! The transcoder: one REST request in, one gRPC call to an upstream, one REST response out.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use prost_reflect::DescriptorPool;
use tonic::client::Grpc;

use crate::{
    Error,
    codec::DynamicCodec,
    config::TranscodeSettings,
    cors::CorsSettings,
    headers, openapi,
    ratelimit::Limiter,
    router::Match,
    routes::{BodyRule, Route, RouteTable},
    status::{self, StatusRenderer},
    stream::{self, Framing},
    unary::Outgoing,
    upstream::GrpcUpstream,
};

/// A failed request: the HTTP status to answer and the `google.rpc.Status` to put in the body.
#[derive(Debug)]
struct Failure {
    http: StatusCode,
    status: tonic::Status,
    /// Seconds for a `Retry-After` header.
    retry_after: Option<u64>,
}

impl From<tonic::Status> for Failure {
    fn from(status: tonic::Status) -> Self {
        Self {
            http: status::http_status(status.code()),
            status,
            retry_after: None,
        }
    }
}

impl Failure {
    fn http(http: StatusCode, message: impl Into<String>) -> Self {
        Self {
            http,
            status: tonic::Status::new(status::grpc_code(http), message),
            retry_after: None,
        }
    }
}

/// What [`Transcoder::route`] made of a request.
enum Routed<'a> {
    /// The answer, with no call.
    Answer(Result<Response<tonic::body::Body>, Failure>),
    /// The route to call, with the values its path template captured.
    Call(&'a Route, Vec<String>),
}

/// What a call is made with besides the body: the request's head, the headers the transcoder
/// reads, and the request's id.
struct Head<'a> {
    parts: &'a http::request::Parts,
    known: headers::Known<'a>,
    request_id: HeaderValue,
}

/// The route table, descriptors and settings, shared by every request (cheap to clone).
#[derive(Debug, Clone)]
pub struct Transcoder {
    inner: Arc<Inner>,
    /// Whether each call's gRPC request takes the REST request's extensions (embedded mode:
    /// handlers see the client's connection, as a gRPC call's do). A remote upstream would
    /// never see them.
    forward_extensions: bool,
}

#[derive(Debug)]
struct Inner {
    pool: DescriptorPool,
    table: RouteTable,
    renderer: StatusRenderer,
    openapi: Bytes,
    settings: TranscodeSettings,
    ids: headers::RequestIds,
    limiter: Option<Limiter>,
}

/// One exposed binding, for listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// The HTTP method.
    pub http_method: Method,
    /// The path template as written.
    pub template: String,
    /// The gRPC method's full name.
    pub grpc_method: String,
}

impl Transcoder {
    /// Builds the route table from `pool`; fails on a bad or conflicting rule.
    pub fn new(pool: DescriptorPool, settings: TranscodeSettings) -> Result<Self, Error> {
        let pool = status::with_rpc_types(pool).map_err(|e| Error::Descriptors(e.to_string()))?;
        let table = RouteTable::build(&pool)?;
        let renderer = StatusRenderer::new(&pool)
            .ok_or_else(|| Error::Descriptors("google.rpc.Status missing".into()))?;
        let openapi = Bytes::from(openapi::document(&table).to_string());
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                table,
                renderer,
                openapi,
                limiter: settings.rate_limit.map(Limiter::new),
                settings,
                ids: headers::RequestIds::new(),
            }),
            forward_extensions: false,
        })
    }

    /// This transcoder, giving each call's gRPC request the REST request's extensions (what
    /// the connection put there: the client's address, its certificates), for an upstream in
    /// the same process ([`RestLayer`](crate::RestLayer) does so).
    pub fn forwarding_extensions(mut self) -> Self {
        self.forward_extensions = true;
        self
    }

    /// The transcoder for every contract compiled into protomesh.
    pub fn compiled(settings: TranscodeSettings) -> Result<Self, Error> {
        let pool = DescriptorPool::decode(protomesh::FILE_DESCRIPTOR_SET)
            .map_err(|e| Error::Descriptors(e.to_string()))?;
        Self::new(pool, settings)
    }

    /// Every exposed binding.
    pub fn routes(&self) -> Vec<RouteInfo> {
        self.inner
            .table
            .routes
            .iter()
            .map(|r| RouteInfo {
                http_method: r.http_method.clone(),
                template: r.template_text.clone(),
                grpc_method: r.method.full_name().to_owned(),
            })
            .collect()
    }

    /// The descriptors served: the upstreams' contracts plus the `google.rpc` error model.
    pub fn pool(&self) -> &DescriptorPool {
        &self.inner.pool
    }

    /// The OpenAPI 3.1 document of every route, as JSON.
    pub fn openapi_json(&self) -> Bytes {
        self.inner.openapi.clone()
    }

    /// Serves one REST request, calling the upstream `upstream_for` picks by service name.
    ///
    /// Not an `async fn`, whose arguments would take room twice in its future (as passed,
    /// and moved into the body): the future is an `async` block over the request's parts,
    /// owning what it needs (a clone of the transcoder, a reference count), so a caller can
    /// return it as it is, with no future around it.
    pub fn handle<U, F>(
        &self,
        request: Request<tonic::body::Body>,
        upstream_for: F,
    ) -> impl Future<Output = Response<tonic::body::Body>> + use<U, F>
    where
        U: GrpcUpstream,
        F: FnOnce(&str) -> Option<U>,
    {
        let this = self.clone();
        let (mut parts, body) = request.into_parts();
        async move {
            let cors = this.inner.settings.cors.as_ref();
            let origin = cors.and_then(|c| c.allowed_origin(&parts.headers));
            let routed = this.route(&parts, cors, origin);
            let extensions = if this.forward_extensions {
                std::mem::take(&mut parts.extensions)
            } else {
                http::Extensions::new()
            };
            // In a block: what is read from the headers is kept once, in `head`.
            let head = {
                let known = headers::Known::read(&parts.headers);
                Head {
                    parts: &parts,
                    request_id: headers::request_id(&known, &this.inner.ids),
                    known,
                }
            };
            let (route, values) = match routed {
                Routed::Answer(result) => return this.finish(result, origin, head.request_id),
                Routed::Call(route, values) => (route, values),
            };
            let result = this
                .call_route(route, &values, &head, extensions, body, upstream_for)
                .await;
            let request_id = head.request_id;
            let mut response = result.unwrap_or_else(|failure| this.error_response(&failure));
            // The route's label goes into the request's own map of extensions, emptied, when
            // it was not forwarded: the connection put its addresses there, so the map is
            // already allocated.
            let mut extensions = std::mem::take(&mut parts.extensions);
            extensions.clear();
            extensions.extend(std::mem::take(response.extensions_mut()));
            extensions.insert(route.label.clone());
            *response.extensions_mut() = extensions;
            this.finish(Ok(response), origin, request_id)
        }
    }

    /// The response to a request: `result`, or its failure's error response, with the CORS
    /// headers for `origin` and the request id.
    fn finish(
        &self,
        result: Result<Response<tonic::body::Body>, Failure>,
        origin: Option<&HeaderValue>,
        request_id: HeaderValue,
    ) -> Response<tonic::body::Body> {
        let mut response = result.unwrap_or_else(|failure| self.error_response(&failure));
        if let (Some(cors), Some(origin)) = (self.inner.settings.cors.as_ref(), origin) {
            cors.response_headers(origin, response.headers_mut());
        }
        response
            .headers_mut()
            .insert(headers::REQUEST_ID, request_id);
        response
    }

    /// Applies the per-client rate limit.
    fn admit(&self, parts: &http::request::Parts) -> Result<(), Failure> {
        // The peer's address is looked up only when a limit is set.
        let Some(limiter) = &self.inner.limiter else {
            return Ok(());
        };
        let Some(client) = peer_ip(&parts.extensions) else {
            return Ok(());
        };
        limiter.check(client).map_err(|wait| {
            let status = tonic::Status::resource_exhausted("rate limit exceeded; retry later");
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            Failure {
                retry_after: Some(secs),
                ..Failure::from(status)
            }
        })
    }

    /// Answers a CORS preflight for a route that exists with the requested method.
    fn preflight(
        &self,
        cors: &CorsSettings,
        origin: &HeaderValue,
        parts: &http::request::Parts,
    ) -> Result<Response<tonic::body::Body>, Failure> {
        let requested = parts
            .headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
            .ok_or_else(|| {
                Failure::http(StatusCode::BAD_REQUEST, "bad Access-Control-Request-Method")
            })?;
        match self.inner.table.router.find(&requested, parts.uri.path()) {
            Match::Found { .. } => {
                let mut response = Response::new(tonic::body::Body::empty());
                *response.status_mut() = StatusCode::NO_CONTENT;
                cors.preflight_headers(origin, &requested, response.headers_mut());
                Ok(response)
            }
            Match::MethodNotAllowed => Err(Failure::http(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed",
            )),
            Match::NotFound => Err(Failure::http(StatusCode::NOT_FOUND, "no such route")),
        }
    }

    /// What to do with a request: answer it at once (refused by the rate limit, a CORS
    /// preflight, the OpenAPI document, no such route or method), or call a route.
    fn route<'a>(
        &'a self,
        parts: &http::request::Parts,
        cors: Option<&CorsSettings>,
        origin: Option<&HeaderValue>,
    ) -> Routed<'a> {
        if let Err(failure) = self.admit(parts) {
            return Routed::Answer(Err(failure));
        }
        if let (Some(cors), Some(origin)) = (cors, origin)
            && CorsSettings::is_preflight(&parts.method, &parts.headers)
        {
            return Routed::Answer(self.preflight(cors, origin, parts));
        }
        let inner = &*self.inner;
        let path = parts.uri.path();
        if parts.method == Method::GET && inner.settings.openapi_path.as_deref() == Some(path) {
            return Routed::Answer(Ok(json_response(StatusCode::OK, inner.openapi.clone())));
        }
        let failure = match inner.table.router.find(&parts.method, path) {
            Match::Found { route, values } => {
                return Routed::Call(&inner.table.routes[route], values);
            }
            Match::MethodNotAllowed => Failure::http(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{} not allowed on {path}", parts.method),
            ),
            Match::NotFound => Failure::http(StatusCode::NOT_FOUND, format!("no route for {path}")),
        };
        Routed::Answer(Err(failure))
    }

    /// Transcodes and makes the call of one matched route.
    ///
    /// Not an `async fn`, whose arguments would take room twice in its future.
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn's future keeps its arguments twice"
    )]
    fn call_route<U: GrpcUpstream>(
        &self,
        route: &Route,
        values: &[String],
        head: &Head<'_>,
        extensions: http::Extensions,
        body: tonic::body::Body,
        upstream_for: impl FnOnce(&str) -> Option<U>,
    ) -> impl Future<Output = Result<Response<tonic::body::Body>, Failure>> {
        async move {
            let Head {
                parts,
                known,
                request_id,
            } = head;
            let inner = &*self.inner;
            let bytes = self.read_body(route, known, body).await?;
            // Made in a function: the body's bytes, once transcoded, take no room in the
            // future while the call is made.
            let message = self.outgoing(route, values, parts, bytes)?;
            let service = route.method.parent_service();
            let upstream = upstream_for(service.full_name()).ok_or_else(|| {
                tonic::Status::unavailable(format!("no upstream for {}", service.full_name()))
            })?;
            let timeout = match known.grpc_timeout {
                Some(value) => Some(
                    value
                        .to_str()
                        .ok()
                        .and_then(headers::parse_timeout)
                        .ok_or_else(|| {
                            status::bad_field(
                                "Grpc-Timeout",
                                "not a gRPC timeout such as 5S or 100m",
                            )
                        })?,
                ),
                None => inner
                    .settings
                    .method_timeouts
                    .get(route.method.full_name())
                    .copied()
                    .or(inner.settings.default_timeout),
            };
            if route.server_streaming() {
                // Boxed: tonic's streaming call is a large future, which would otherwise size
                // (and be copied with) every unary call's future too.
                let metadata = headers::request_metadata(&parts.headers, request_id);
                let head = tonic::Request::from_parts(metadata, extensions, ());
                let call = self.call_streaming(route, parts, head, timeout, upstream, message);
                return Box::pin(call).await;
            }
            // The deadline holds even when the upstream ignores grpc-timeout; an expiry is
            // DEADLINE_EXCEEDED (an upstream may report its own expiry as CANCELLED).
            let unary = crate::unary::call(
                upstream,
                route.grpc_path.clone(),
                // Made here rather than carried from the start: it would take room in every
                // future between.
                headers::request_metadata(&parts.headers, request_id),
                extensions,
                &message,
                timeout,
            );
            let (meta, reply) = match timeout {
                // Boxed: the call and the call with its timer, side by side in every call's
                // future, would size it past the allocator's small blocks (1 KiB).
                Some(limit) => Box::pin(within(limit, unary)).await?,
                None => unary.await?,
            };
            let direct = route
                .direct_response
                .then(|| crate::wirejson::to_json(&route.method.output(), &reply))
                .flatten();
            let json = match direct {
                Some(json) => json,
                None => {
                    let message = crate::unary::decode(reply, route.method.output())?;
                    crate::transcode::response(route, &message)?
                }
            };
            let mut response = json_response(StatusCode::OK, Bytes::from(json));
            headers::response_headers(&meta, response.headers_mut());
            Ok(response)
        }
    }

    /// Makes the call of a server-streaming route and answers with its stream.
    async fn call_streaming<U: GrpcUpstream>(
        &self,
        route: &Route,
        parts: &http::request::Parts,
        // The call's metadata and extensions.
        head: tonic::Request<()>,
        timeout: Option<std::time::Duration>,
        upstream: U,
        message: Outgoing,
    ) -> Result<Response<tonic::body::Body>, Failure> {
        let mut grpc = Grpc::new(upstream);
        grpc.ready().await.map_err(|e| {
            let e: crate::upstream::BoxError = e.into();
            tonic::Status::unavailable(format!("upstream not ready: {e}"))
        })?;
        let message = message.into_message(route.method.input())?;
        let (metadata, extensions, ()) = head.into_parts();
        let mut request = tonic::Request::from_parts(metadata, extensions, message);
        if let Some(timeout) = timeout {
            request.set_timeout(timeout);
        }
        let codec = DynamicCodec::new(route.method.output());
        let reply = grpc
            .server_streaming(request, route.grpc_path.clone(), codec)
            .await?;
        let (meta, messages, _) = reply.into_parts();
        let framing = Framing::from_accept(parts.headers.get(header::ACCEPT));
        let mut response = stream::respond(
            route.clone(),
            self.inner.renderer.clone(),
            messages,
            framing,
        );
        headers::response_headers(&meta, response.headers_mut());
        Ok(response)
    }

    /// The request message of `route` from the body's `bytes`, `values` (the path's) and the
    /// query. A unary call of a plain message skips the dynamic message (`wirejson`), which
    /// declines to prost-reflect's path whatever it does not take as it is.
    fn outgoing(
        &self,
        route: &Route,
        values: &[String],
        parts: &http::request::Parts,
        bytes: Bytes,
    ) -> Result<Outgoing, Failure> {
        let discard = self.inner.settings.discard_unknown_fields;
        let direct = route
            .direct_request
            .then(|| crate::wirejson::to_wire(&route.method.input(), &bytes, discard))
            .flatten();
        Ok(match direct {
            Some(wire) => Outgoing::Wire(wire),
            None => Outgoing::Message(crate::transcode::request(
                route,
                values,
                parts.uri.query(),
                &bytes,
                discard,
            )?),
        })
    }

    async fn read_body(
        &self,
        route: &Route,
        known: &headers::Known<'_>,
        body: tonic::body::Body,
    ) -> Result<Bytes, Failure> {
        let limit = self.inner.settings.max_body_bytes;
        let declared = known
            .content_length
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(Failure::http(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body over {limit} bytes"),
            ));
        }
        if matches!(route.body, BodyRule::None) {
            return Ok(Bytes::new());
        }
        if let Some(kind) = known.content_type {
            let kind = media_type(kind);
            if !is_json(kind) {
                return Err(Failure::http(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!("content type {} is not JSON", kind.to_ascii_lowercase()),
                ));
            }
        }
        match crate::unary::read_whole(body, limit).await {
            Ok((bytes, _trailers)) => Ok(bytes),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(Failure::http(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body over {limit} bytes"),
            )),
            Err(e) => Err(Failure::http(
                StatusCode::BAD_REQUEST,
                format!("reading body: {e}"),
            )),
        }
    }

    fn error_response(&self, failure: &Failure) -> Response<tonic::body::Body> {
        if failure.http.is_server_error() {
            tracing::warn!(code = ?failure.status.code(), message = failure.status.message(), "request failed");
        } else {
            tracing::debug!(code = ?failure.status.code(), message = failure.status.message(), "request refused");
        }
        let mut response = json_response(failure.http, self.inner.renderer.body(&failure.status));
        headers::response_headers(failure.status.metadata(), response.headers_mut());
        if let Some(secs) = failure.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The media type of a `Content-Type` value: before any parameters, trimmed (empty when the
/// value is not text).
fn media_type(value: &HeaderValue) -> &str {
    let text = value.to_str().unwrap_or("");
    // A byte scan: `split_once(';')` costs several times more on a value this short.
    let end = text.bytes().position(|b| b == b';').unwrap_or(text.len());
    text[..end].trim()
}

/// Whether a media type is JSON (`application/json` or any `+json` type, in any case), or
/// is left unsaid.
fn is_json(kind: &str) -> bool {
    const SUFFIX: &str = "+json";
    kind.is_empty()
        || kind.eq_ignore_ascii_case("application/json")
        || (kind.len() >= SUFFIX.len()
            && kind.as_bytes()[kind.len() - SUFFIX.len()..].eq_ignore_ascii_case(SUFFIX.as_bytes()))
}

/// The client's address: from [`crate::server::PeerAddr`] (standalone) or tonic's connect info
/// (embedded in a tonic server).
fn peer_ip(extensions: &http::Extensions) -> Option<std::net::IpAddr> {
    if let Some(peer) = extensions.get::<crate::server::PeerAddr>() {
        return Some(peer.0.ip());
    }
    extensions
        .get::<tonic::transport::server::TcpConnectInfo>()
        .and_then(|info| info.remote_addr())
        .map(|addr| addr.ip())
}

/// `call`, bounded by `limit`: past it, or cancelled by the upstream once it has passed,
/// DEADLINE_EXCEEDED (an upstream may report its own expiry as CANCELLED).
async fn within<T>(
    limit: std::time::Duration,
    call: impl Future<Output = Result<T, tonic::Status>>,
) -> Result<T, tonic::Status> {
    let started = tokio::time::Instant::now();
    let expired = || tonic::Status::deadline_exceeded(format!("no reply within {limit:?}"));
    match tokio::time::timeout(limit, call).await {
        Err(_) => Err(expired()),
        Ok(Err(status))
            if status.code() == tonic::Code::Cancelled && started.elapsed() >= limit =>
        {
            Err(expired())
        }
        Ok(result) => result,
    }
}

fn json_response(code: StatusCode, body: Bytes) -> Response<tonic::body::Body> {
    let mut response = Response::new(tonic::body::Body::new(Full::new(body)));
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// JSON media types are recognised in any case, with or without parameters; anything
    /// else is not JSON.
    #[test]
    fn json_media_types() {
        let json = |value: &'static str| is_json(media_type(&HeaderValue::from_static(value)));
        for value in [
            "application/json",
            "Application/JSON; charset=utf-8",
            " application/json ;q=1",
            "application/merge-patch+json",
            "APPLICATION/VND.API+JSON",
            "",
            "; charset=utf-8",
        ] {
            assert!(json(value), "{value:?} is JSON");
        }
        for value in [
            "text/plain",
            "application/jsonx",
            "application/x-www-form-urlencoded",
            "json",
            "application/json+xml",
        ] {
            assert!(!json(value), "{value:?} is not JSON");
        }
        // A value that is not text reads as no type at all, as before.
        let binary = HeaderValue::from_bytes(b"\xffapplication/xml").unwrap();
        assert_eq!(media_type(&binary), "");
    }
}
