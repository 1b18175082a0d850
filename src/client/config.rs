//! Typed client settings with their defaults.

use std::time::Duration;

use crate::discovery::DiscoveryConfig;

/// The header whose value is the consistent-hash key.
pub const DEFAULT_HASH_HEADER: &str = "x-protomesh-hash-key";
/// Virtual nodes per endpoint on the hash ring.
pub const DEFAULT_RING_REPLICAS: usize = 160;
/// Time constant of the peak-EWMA latency decay.
pub const DEFAULT_EWMA_DECAY: Duration = Duration::from_secs(10);
/// The latency assumed for an endpoint before it has answered anything.
pub const DEFAULT_EWMA_INITIAL: Duration = Duration::from_millis(1);
/// The most extra attempts one call makes.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// Retries allowed as a fraction of calls (0.2 = at most 20% extra load).
pub const DEFAULT_RETRY_PERCENT: f32 = 0.2;
/// Retries always allowed per second, so that a quiet client can still retry.
pub const DEFAULT_RETRY_MIN_PER_SEC: u32 = 10;
/// The window over which the retry budget counts calls.
pub const DEFAULT_RETRY_BUDGET_TTL: Duration = Duration::from_secs(10);
/// Consecutive failures that eject an endpoint.
pub const DEFAULT_OUTLIER_FAILURES: u32 = 5;
/// The first ejection time; each ejection in a row doubles it.
pub const DEFAULT_OUTLIER_BASE_EJECTION: Duration = Duration::from_secs(1);
/// The longest ejection time.
pub const DEFAULT_OUTLIER_MAX_EJECTION: Duration = Duration::from_secs(30);
/// How long a call waits for a ready endpoint when none is (bounded by its deadline).
pub const DEFAULT_WAIT_FOR_READY: Duration = Duration::from_secs(5);
/// TCP connect timeout per endpoint.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// HTTP/2 keep-alive ping interval, to notice dead peers that send no reset.
pub const DEFAULT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// How long a keep-alive ping may go unanswered before the connection is dropped.
pub const DEFAULT_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// How a call picks its endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Balancer {
    /// Power of two random choices, comparing peak-EWMA latency times outstanding calls.
    #[default]
    P2cPeakEwma,
    /// Each ready endpoint in turn.
    RoundRobin,
    /// A ring hash on the request key (see [`ClientConfig::hash_header`]); calls without a
    /// key fall back to P2C.
    RingHash,
}

/// Everything a balanced client can be tuned with.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The endpoint picking strategy.
    pub balancer: Balancer,
    /// Where endpoints come from (registry address, DNS interval, reconnect backoff).
    pub discovery: DiscoveryConfig,
    /// Follow each endpoint's grpc.health.v1 `Watch`; only SERVING endpoints get calls.
    pub health_checks: bool,
    /// The grpc.health.v1 service name to watch; empty means the whole server.
    pub health_service: String,
    /// The metadata header carrying the consistent-hash key.
    pub hash_header: String,
    /// Virtual nodes per endpoint on the hash ring.
    pub ring_replicas: usize,
    /// Time constant of the peak-EWMA decay.
    pub ewma_decay: Duration,
    /// Latency assumed for an endpoint with no sample yet.
    pub ewma_initial: Duration,
    /// The most extra attempts of one call.
    pub max_retries: u32,
    /// Retries allowed as a fraction of calls.
    pub retry_percent: f32,
    /// Retries always allowed per second.
    pub retry_min_per_sec: u32,
    /// The window the retry budget counts over.
    pub retry_budget_ttl: Duration,
    /// Consecutive failures that eject an endpoint (0 turns ejection off).
    pub outlier_failures: u32,
    /// The first ejection time.
    pub outlier_base_ejection: Duration,
    /// The longest ejection time.
    pub outlier_max_ejection: Duration,
    /// How long a call waits for a ready endpoint.
    pub wait_for_ready: Duration,
    /// TCP connect timeout per endpoint.
    pub connect_timeout: Duration,
    /// HTTP/2 keep-alive ping interval.
    pub keepalive_interval: Duration,
    /// HTTP/2 keep-alive ping timeout.
    pub keepalive_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            balancer: Balancer::default(),
            discovery: DiscoveryConfig::default(),
            health_checks: true,
            health_service: String::new(),
            hash_header: DEFAULT_HASH_HEADER.to_owned(),
            ring_replicas: DEFAULT_RING_REPLICAS,
            ewma_decay: DEFAULT_EWMA_DECAY,
            ewma_initial: DEFAULT_EWMA_INITIAL,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_percent: DEFAULT_RETRY_PERCENT,
            retry_min_per_sec: DEFAULT_RETRY_MIN_PER_SEC,
            retry_budget_ttl: DEFAULT_RETRY_BUDGET_TTL,
            outlier_failures: DEFAULT_OUTLIER_FAILURES,
            outlier_base_ejection: DEFAULT_OUTLIER_BASE_EJECTION,
            outlier_max_ejection: DEFAULT_OUTLIER_MAX_EJECTION,
            wait_for_ready: DEFAULT_WAIT_FOR_READY,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            keepalive_interval: DEFAULT_KEEPALIVE_INTERVAL,
            keepalive_timeout: DEFAULT_KEEPALIVE_TIMEOUT,
        }
    }
}
