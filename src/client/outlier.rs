//! Passive outlier ejection: consecutive failures take an endpoint out for a while.
//!
//! Each ejection in a row doubles the ejection time up to a maximum; a success resets both
//! the failure count and the streak.

use std::time::Duration;

use tokio::time::Instant;

/// The ejection state of one endpoint.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outlier {
    consecutive_failures: u32,
    ejections_in_a_row: u32,
    ejected_until: Option<Instant>,
}

/// Ejection thresholds, from the client config.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutlierPolicy {
    /// Consecutive failures that eject (0: never).
    pub(crate) failures: u32,
    /// The first ejection time.
    pub(crate) base: Duration,
    /// The longest ejection time.
    pub(crate) max: Duration,
}

impl Outlier {
    /// Whether the endpoint is ejected at `now`.
    pub(crate) fn is_ejected(&self, now: Instant) -> bool {
        self.ejected_until.is_some_and(|until| now < until)
    }

    /// Records a success: the endpoint is trusted again.
    pub(crate) fn success(&mut self) {
        self.consecutive_failures = 0;
        self.ejections_in_a_row = 0;
        self.ejected_until = None;
    }

    /// Records a failure; returns the ejection time when this failure ejects the endpoint.
    pub(crate) fn failure(&mut self, policy: OutlierPolicy, now: Instant) -> Option<Duration> {
        if policy.failures == 0 || self.is_ejected(now) {
            return None;
        }
        self.consecutive_failures += 1;
        if self.consecutive_failures < policy.failures {
            return None;
        }
        self.consecutive_failures = 0;
        let factor = 2u32.saturating_pow(self.ejections_in_a_row.min(16));
        let time = policy.base.saturating_mul(factor).min(policy.max);
        self.ejections_in_a_row += 1;
        self.ejected_until = Some(now + time);
        Some(time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: OutlierPolicy = OutlierPolicy {
        failures: 3,
        base: Duration::from_secs(1),
        max: Duration::from_secs(5),
    };

    /// N failures in a row eject; ejection time doubles per streak up to the cap; the
    /// endpoint returns when the time has passed, and a success resets the streak.
    #[tokio::test(start_paused = true)]
    async fn ejects_with_growing_backoff() {
        let mut outlier = Outlier::default();
        let now = Instant::now();
        assert_eq!(outlier.failure(POLICY, now), None);
        assert_eq!(outlier.failure(POLICY, now), None);
        assert_eq!(outlier.failure(POLICY, now), Some(Duration::from_secs(1)));
        assert!(outlier.is_ejected(Instant::now()));

        let mut times = Vec::new();
        for _ in 0..3 {
            tokio::time::advance(Duration::from_secs(10)).await;
            assert!(
                !outlier.is_ejected(Instant::now()),
                "returns after its time"
            );
            for _ in 0..3 {
                if let Some(time) = outlier.failure(POLICY, Instant::now()) {
                    times.push(time);
                }
            }
        }
        let secs: Vec<u64> = times.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [2, 4, 5]);

        outlier.success();
        assert!(!outlier.is_ejected(Instant::now()));
        for _ in 0..2 {
            assert_eq!(outlier.failure(POLICY, Instant::now()), None);
        }
        assert_eq!(
            outlier.failure(POLICY, Instant::now()),
            Some(Duration::from_secs(1)),
            "a success resets the streak"
        );
    }
}
