//! Exponential backoff with jitter for reconnect loops.

use std::time::Duration;

/// Doubling waits between `min` and `max`, each with up to 20% random jitter subtracted so
/// that many clients do not reconnect in lockstep.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// A backoff starting at `min` and capped at `max`.
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        let max = max.max(min);
        Self {
            min,
            max,
            next: min,
        }
    }

    /// The wait before the next attempt; doubles the one after.
    pub(crate) fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        wait.mul_f64(1.0 - fastrand::f64() * 0.2)
    }

    /// Starts again from `min`, after a success.
    pub(crate) fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits double up to the cap, stay within 20% below the nominal value, and reset.
    #[test]
    fn doubles_up_to_the_cap() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let nominal = [100, 200, 400, 500, 500];
        for ms in nominal {
            let wait = backoff.next_wait();
            assert!(wait <= Duration::from_millis(ms), "{wait:?} > {ms}ms");
            assert!(
                wait >= Duration::from_millis(ms * 8 / 10),
                "{wait:?} < 0.8*{ms}ms"
            );
        }
        backoff.reset();
        assert!(backoff.next_wait() <= Duration::from_millis(100));
    }
}
