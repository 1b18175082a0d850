//! The gateway's typed configuration.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use crate::{cors::CorsSettings, ratelimit::RateLimit};

/// Where the route table's descriptors come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DescriptorSource {
    /// `protomesh::FILE_DESCRIPTOR_SET`, every contract compiled into protomesh.
    #[default]
    Compiled,
    /// A `buf build` image (or any encoded `FileDescriptorSet`) read from this file.
    Image(PathBuf),
    /// Fetched from every configured upstream by gRPC server reflection (v1, then v1alpha).
    Reflection,
}

/// Everything [`crate::run`] needs.
#[derive(Debug, Clone, Default)]
pub struct GatewayConfig {
    /// Where the descriptors come from.
    pub descriptors: DescriptorSource,
    /// Fully-qualified gRPC service name to upstream target URI (`http://127.0.0.1:50051`).
    pub upstreams: BTreeMap<String, String>,
    /// The target of services without an entry in `upstreams`.
    pub default_upstream: Option<String>,
    /// How requests are transcoded.
    pub transcode: TranscodeSettings,
}

impl GatewayConfig {
    /// Every distinct upstream target.
    pub fn targets(&self) -> Vec<String> {
        let mut targets: Vec<String> = self
            .upstreams
            .values()
            .chain(self.default_upstream.iter())
            .cloned()
            .collect();
        targets.sort();
        targets.dedup();
        targets
    }
}

/// The default request body limit: 4 MiB, gRPC's default message limit.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// The default path of the generated OpenAPI document.
pub const DEFAULT_OPENAPI_PATH: &str = "/openapi.json";

/// How requests are transcoded.
#[derive(Debug, Clone)]
pub struct TranscodeSettings {
    /// Drop unknown JSON fields and query parameters instead of answering 400.
    pub discard_unknown_fields: bool,
    /// The largest request body accepted; larger bodies get 413.
    pub max_body_bytes: usize,
    /// The deadline of calls whose request has no `Grpc-Timeout` header; `None` for none.
    pub default_timeout: Option<Duration>,
    /// Per-method deadlines (by full gRPC method name, `shop.orders.v1.OrderService.CreateOrder`)
    /// that replace `default_timeout` for that method.
    pub method_timeouts: BTreeMap<String, Duration>,
    /// Where the OpenAPI document is served (GET); `None` to not serve it.
    pub openapi_path: Option<String>,
    /// CORS for browser clients; `None` sends no CORS headers.
    pub cors: Option<CorsSettings>,
    /// A per-client request rate limit (429 beyond it); `None` for no limit.
    pub rate_limit: Option<RateLimit>,
}

impl Default for TranscodeSettings {
    fn default() -> Self {
        Self {
            discard_unknown_fields: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            default_timeout: None,
            method_timeouts: BTreeMap::new(),
            openapi_path: Some(DEFAULT_OPENAPI_PATH.to_owned()),
            cors: None,
            rate_limit: None,
        }
    }
}
