//! Peak-EWMA latency: jumps up to a slow sample at once, decays down slowly.
//!
//! An endpoint that answers slowly is penalised immediately and forgiven over the decay
//! time; between samples the estimate decays towards zero so an idle slow endpoint is tried
//! again eventually (the same idea as Finagle's and linkerd's balancers).

use std::time::Duration;

use tokio::time::Instant;

/// The latency estimate of one endpoint.
#[derive(Debug, Clone)]
pub(crate) struct PeakEwma {
    estimate_ns: f64,
    updated: Instant,
    decay_ns: f64,
}

impl PeakEwma {
    /// A new estimate starting at `initial`, decaying with time constant `decay`.
    pub(crate) fn new(initial: Duration, decay: Duration, now: Instant) -> Self {
        Self {
            estimate_ns: initial.as_nanos() as f64,
            updated: now,
            decay_ns: decay.as_nanos().max(1) as f64,
        }
    }

    /// The estimate decayed to `now`.
    pub(crate) fn estimate(&self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.updated).as_nanos() as f64;
        self.estimate_ns * (-elapsed / self.decay_ns).exp()
    }

    /// Folds in one latency sample observed at `now`.
    pub(crate) fn observe(&mut self, sample: Duration, now: Instant) {
        let sample = sample.as_nanos() as f64;
        let current = self.estimate(now);
        self.estimate_ns = if sample > current {
            sample
        } else {
            let elapsed = now.saturating_duration_since(self.updated).as_nanos() as f64;
            let weight = (-elapsed / self.decay_ns).exp();
            current * weight + sample * (1.0 - weight)
        };
        self.updated = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A slow sample raises the estimate at once; fast samples bring it down only over the
    /// decay time.
    #[tokio::test(start_paused = true)]
    async fn peaks_fast_and_decays_slowly() {
        let decay = Duration::from_secs(10);
        let mut ewma = PeakEwma::new(Duration::from_millis(1), decay, Instant::now());
        ewma.observe(Duration::from_millis(50), Instant::now());
        assert_eq!(ewma.estimate(Instant::now()).round(), 50e6);

        tokio::time::advance(Duration::from_millis(100)).await;
        ewma.observe(Duration::from_millis(1), Instant::now());
        let after_fast = ewma.estimate(Instant::now());
        assert!(
            after_fast > 45e6,
            "one fast sample must not erase a peak: {after_fast}"
        );

        tokio::time::advance(Duration::from_secs(30)).await;
        let later = ewma.estimate(Instant::now());
        assert!(later < 3e6, "an idle estimate decays towards zero: {later}");
    }
}
