//! Typed registry settings with their defaults.

use std::time::Duration;

/// The lease time granted when a registration asks for none.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10);
/// The shortest lease granted; shorter requests are raised to it.
pub const DEFAULT_MIN_TTL: Duration = Duration::from_secs(1);
/// The longest lease granted; longer requests are cut to it.
pub const DEFAULT_MAX_TTL: Duration = Duration::from_secs(60);
/// How often expired leases are swept.
pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_millis(250);
/// How often every instance's grpc.health.v1 `Check` is called.
pub const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(2);
/// How long one health check may take before it counts as failed.
pub const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(1);
/// Failed health checks in a row that remove an instance.
pub const DEFAULT_HEALTH_FAILURES: u32 = 3;

/// How the registry grants leases and checks instances.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// The lease time granted when a registration asks for none.
    pub default_ttl: Duration,
    /// The shortest lease granted.
    pub min_ttl: Duration,
    /// The longest lease granted.
    pub max_ttl: Duration,
    /// How often expired leases are swept (expiry is late by at most this).
    pub sweep_interval: Duration,
    /// Actively check each instance with grpc.health.v1 `Check`.
    pub health_checks: bool,
    /// How often each instance is checked.
    pub health_interval: Duration,
    /// How long one check may take.
    pub health_timeout: Duration,
    /// Failed checks in a row that remove an instance.
    pub health_failures: u32,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            default_ttl: DEFAULT_TTL,
            min_ttl: DEFAULT_MIN_TTL,
            max_ttl: DEFAULT_MAX_TTL,
            sweep_interval: DEFAULT_SWEEP_INTERVAL,
            health_checks: true,
            health_interval: DEFAULT_HEALTH_INTERVAL,
            health_timeout: DEFAULT_HEALTH_TIMEOUT,
            health_failures: DEFAULT_HEALTH_FAILURES,
        }
    }
}
