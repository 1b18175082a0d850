//! A per-client token bucket: each client address may make `per_second` requests a second on
//! average, in bursts of up to `burst`; beyond that the gateway answers 429.

use std::{collections::HashMap, net::IpAddr, sync::Mutex, time::Duration};

use tokio::time::Instant;

/// Buckets kept before idle ones are dropped.
const MAX_CLIENTS: usize = 65_536;

/// The per-client limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second per client.
    pub per_second: f64,
    /// Requests a client may make at once after being idle.
    pub burst: u32,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The buckets of every client seen recently.
#[derive(Debug)]
pub struct Limiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl Limiter {
    /// A limiter enforcing `limit`.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `client`; on refusal, how long until one is available.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let burst = f64::from(self.limit.burst.max(1));
        let rate = self.limit.per_second.max(f64::MIN_POSITIVE);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(&client) {
            // Full buckets are the same as no bucket: dropping them forgets nothing.
            buckets
                .retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * rate < burst);
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let refilled = now.duration_since(bucket.last).as_secs_f64() * rate;
        bucket.tokens = (bucket.tokens + refilled).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client gets its burst, is refused, and gets a token back after 1/rate seconds;
    /// other clients are unaffected.
    #[tokio::test(start_paused = true)]
    async fn bucket_refills_at_the_rate() {
        let limiter = Limiter::new(RateLimit {
            per_second: 2.0,
            burst: 3,
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(limiter.check(a).is_ok());
        }
        let wait = limiter.check(a).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert!(limiter.check(b).is_ok());
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(a).is_err());
    }
}
