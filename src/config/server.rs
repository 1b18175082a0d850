//! [`ServerConfig`]: the settings every protomesh gRPC server shares.

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf, time::Duration};

use serde::Deserialize;

use super::ConfigError;
use crate::telemetry::LogFormat;

/// Default gRPC listen address.
pub const DEFAULT_LISTEN_ADDR: &str = "127.0.0.1:50051";
/// Default grace period between leaving discovery and closing the listener.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(2);
/// Default bound on waiting for in-flight calls once the listener is closed.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time an HTTP/1.1 connection may wait for a request head (hyper's).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default deadline of a unary call whose caller sent none.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);
/// Default number of calls served at once before new ones are shed.
pub const DEFAULT_CONCURRENCY_LIMIT: usize = 1024;
/// Default largest request message accepted, in bytes (tonic's own default).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// The settings of one gRPC server (the `[server]` section of a role's settings).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address the gRPC listener binds ([`DEFAULT_LISTEN_ADDR`]); port 0 picks a free one.
    pub listen_addr: SocketAddr,
    /// Address of the admin HTTP port (`/metrics`, `/healthz`, `/readyz`); none by default.
    pub admin_addr: Option<SocketAddr>,
    /// How long the server keeps serving after it turned NOT_SERVING and left discovery, so
    /// balancers move away before the listener closes ([`DEFAULT_GRACE_PERIOD`]).
    #[serde(with = "super::duration")]
    pub grace_period: Duration,
    /// How long in-flight calls may take to finish once the listener closed
    /// ([`DEFAULT_DRAIN_TIMEOUT`]); calls still running then are cut.
    #[serde(with = "super::duration")]
    pub drain_timeout: Duration,
    /// How long an HTTP/1.1 connection (REST, embedded or through the gateway) may write
    /// nothing: past it (by up to a quarter) the connection closes, after the response in
    /// progress if there is one, so a client sending a head slowly or an idle keep-alive
    /// connection does not hold it; HTTP/2 connections stay open (see
    /// [`IdleLimit`](crate::server::idle::IdleLimit); [`DEFAULT_HEADER_READ_TIMEOUT`]). Behind
    /// a load balancer, make it longer than the balancer's idle timeout.
    #[serde(with = "super::duration")]
    pub header_read_timeout: Duration,
    /// Deadline of a unary call whose caller sent no `grpc-timeout`; `0s` for none
    /// ([`DEFAULT_DEADLINE`]). Streaming calls get none unless `method_deadlines` names them.
    #[serde(with = "super::duration")]
    pub default_deadline: Duration,
    /// Deadlines per method, by full path (`"/shop.catalog.v1.CatalogService/GetProduct"`),
    /// overriding `default_deadline`. A caller's shorter `grpc-timeout` still wins.
    #[serde(with = "super::duration::map")]
    pub method_deadlines: BTreeMap<String, Duration>,
    /// Calls served at once; beyond it new calls are answered RESOURCE_EXHAUSTED at once
    /// instead of queueing ([`DEFAULT_CONCURRENCY_LIMIT`]); 0 for no limit. Health checks
    /// are never shed.
    pub concurrency_limit: usize,
    /// Largest request message accepted, in bytes ([`DEFAULT_MAX_MESSAGE_SIZE`]); larger
    /// ones are answered RESOURCE_EXHAUSTED. Tonic's generated servers also refuse messages
    /// above their own limit (4 MiB unless raised on the generated server).
    pub max_message_size: usize,
    /// TLS for the gRPC listener; plaintext when absent.
    pub tls: Option<TlsConfig>,
    /// How logs are written.
    pub log_format: LogFormat,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen_addr: DEFAULT_LISTEN_ADDR.parse().expect("valid default address"),
            admin_addr: None,
            grace_period: DEFAULT_GRACE_PERIOD,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            default_deadline: DEFAULT_DEADLINE,
            method_deadlines: BTreeMap::new(),
            concurrency_limit: DEFAULT_CONCURRENCY_LIMIT,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            tls: None,
            log_format: LogFormat::default(),
        }
    }
}

impl ServerConfig {
    /// Checks what deserialization cannot; `section` is where this struct sits in the role's
    /// settings (usually `"server"`), so errors name the full setting.
    pub fn validate(&self, section: &str) -> Result<(), ConfigError> {
        let invalid = |field: &str, message: &str| ConfigError::Invalid {
            setting: format!("{section}.{field}"),
            origin: "validation".to_string(),
            message: message.to_string(),
        };
        if self.header_read_timeout.is_zero() {
            return Err(invalid("header_read_timeout", "must be longer than 0s"));
        }
        if self.max_message_size == 0 {
            return Err(invalid("max_message_size", "must be at least 1 byte"));
        }
        if let Some(path) = self.method_deadlines.keys().find(|k| !is_method_path(k)) {
            return Err(invalid(
                "method_deadlines",
                &format!("`{path}` is not a method path like /pkg.Service/Method"),
            ));
        }
        if let Some(tls) = &self.tls {
            for (field, path) in [("tls.cert", Some(&tls.cert)), ("tls.key", Some(&tls.key))]
                .into_iter()
                .chain([("tls.client_ca", tls.client_ca.as_ref())])
            {
                if let Some(path) = path.filter(|p| !p.is_file()) {
                    return Err(invalid(field, &format!("no file at {}", path.display())));
                }
            }
        }
        Ok(())
    }
}

/// Whether `path` looks like `/package.Service/Method`.
fn is_method_path(path: &str) -> bool {
    let mut parts = path.strip_prefix('/').unwrap_or("").split('/');
    matches!((parts.next(), parts.next(), parts.next()), (Some(s), Some(m), None) if !s.is_empty() && !m.is_empty())
}

/// TLS files of a server, PEM encoded.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The server's certificate chain.
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
    /// CA certificates client certificates must chain to; when set, clients without a valid
    /// certificate are refused (mutual TLS).
    pub client_ca: Option<PathBuf>,
}
