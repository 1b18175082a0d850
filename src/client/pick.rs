//! Picking an endpoint for one attempt: P2C over peak-EWMA cost, round-robin, or ring hash.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use tokio::time::Instant;

use super::{Balancer, endpoint::Endpoint, endpoint::Health, set::Snapshot};

/// Chooses an endpoint among the eligible ones, or `None` when no endpoint is SERVING.
///
/// Eligible: SERVING, not ejected, not yet tried by this call. When that leaves nothing,
/// tried endpoints come back, then ejected ones (better a suspect endpoint than none).
pub(crate) fn pick(
    snapshot: &Snapshot,
    balancer: Balancer,
    key: Option<u64>,
    tried: &[Arc<Endpoint>],
    next: &AtomicUsize,
) -> Option<Arc<Endpoint>> {
    let now = Instant::now();
    let endpoints = &snapshot.endpoints;
    let fresh = |e: &Arc<Endpoint>| !tried.iter().any(|t| Arc::ptr_eq(t, e));
    let mut candidates: Vec<usize> = Vec::with_capacity(endpoints.len());
    for tier in 0..3 {
        let eligible = |i: usize| {
            let e = &endpoints[i];
            e.health() == Health::Serving
                && (tier == 2 || !e.is_ejected(now))
                && (tier >= 1 || fresh(e))
        };
        let chosen = match (balancer, key) {
            (Balancer::RingHash, Some(key)) => snapshot.ring.walk(key).find(|i| eligible(*i)),
            _ => {
                candidates.clear();
                candidates.extend((0..endpoints.len()).filter(|i| eligible(*i)));
                match balancer {
                    Balancer::RoundRobin if !candidates.is_empty() => {
                        Some(candidates[next.fetch_add(1, Ordering::Relaxed) % candidates.len()])
                    }
                    Balancer::RoundRobin => None,
                    _ => p2c(endpoints, &candidates, now),
                }
            }
        };
        if let Some(index) = chosen {
            return Some(endpoints[index].clone());
        }
    }
    None
}

/// Two random distinct candidates; the cheaper one wins.
fn p2c(endpoints: &[Arc<Endpoint>], candidates: &[usize], now: Instant) -> Option<usize> {
    match candidates.len() {
        0 => None,
        1 => Some(candidates[0]),
        n => {
            let a = fastrand::usize(..n);
            let b = (a + 1 + fastrand::usize(..n - 1)) % n;
            let (a, b) = (candidates[a], candidates[b]);
            Some(if endpoints[b].cost(now) < endpoints[a].cost(now) {
                b
            } else {
                a
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{collections::BTreeMap, time::Duration};

    use super::*;
    use crate::client::{
        ewma::PeakEwma,
        outlier::OutlierPolicy,
        ring::{Ring, hash},
    };

    fn snapshot(ids: &[&str]) -> Snapshot {
        let endpoints: Vec<Arc<Endpoint>> = ids
            .iter()
            .map(|id| {
                let channel = crate::client::connection::Connection::lazy(
                    "127.0.0.1:9",
                    crate::client::connection::ConnectionSettings::unused(),
                )
                .expect("address");
                let ewma = PeakEwma::new(
                    Duration::from_millis(1),
                    Duration::from_secs(10),
                    Instant::now(),
                );
                let endpoint = Endpoint::new(
                    (*id).into(),
                    "127.0.0.1:9".into(),
                    BTreeMap::new(),
                    channel,
                    ewma,
                    crate::client::observe::EndpointSeries::new("127.0.0.1:9", 1),
                );
                endpoint.set_health(Health::Serving);
                Arc::new(endpoint)
            })
            .collect();
        let ring = Ring::build(ids.iter().copied(), 64);
        Snapshot { endpoints, ring }
    }

    fn pick_id(
        s: &Snapshot,
        balancer: Balancer,
        key: Option<u64>,
        tried: &[Arc<Endpoint>],
    ) -> Option<String> {
        pick(s, balancer, key, tried, &AtomicUsize::new(0)).map(|e| e.id.clone())
    }

    /// P2C over two endpoints always takes the one with the lower latency estimate.
    #[tokio::test(start_paused = true)]
    async fn p2c_takes_the_cheaper_endpoint() {
        let s = snapshot(&["fast", "slow"]);
        s.endpoints[1].record_success(Duration::from_millis(50), Instant::now());
        for _ in 0..50 {
            assert_eq!(
                pick_id(&s, Balancer::P2cPeakEwma, None, &[]).as_deref(),
                Some("fast")
            );
        }
    }

    /// Only SERVING endpoints are picked; retries avoid tried endpoints while others exist;
    /// ejected endpoints come back only when nothing else is left.
    #[tokio::test(start_paused = true)]
    async fn tiers_prefer_fresh_healthy_endpoints() {
        let s = snapshot(&["a", "b", "c"]);
        s.endpoints[2].set_health(Health::NotServing);
        let tried = [s.endpoints[0].clone()];
        for _ in 0..20 {
            assert_eq!(
                pick_id(&s, Balancer::RoundRobin, None, &tried).as_deref(),
                Some("b")
            );
        }
        let policy = OutlierPolicy {
            failures: 1,
            base: Duration::from_secs(5),
            max: Duration::from_secs(5),
        };
        s.endpoints[1].record_failure(policy, Instant::now());
        assert_eq!(
            pick_id(&s, Balancer::P2cPeakEwma, None, &tried).as_deref(),
            Some("a")
        );
        s.endpoints[0].record_failure(policy, Instant::now());
        assert!(
            pick_id(&s, Balancer::P2cPeakEwma, None, &[]).is_some(),
            "all ejected: still pick"
        );
        s.endpoints[0].set_health(Health::Unreachable);
        s.endpoints[1].set_health(Health::Pending);
        assert_eq!(pick_id(&s, Balancer::P2cPeakEwma, None, &[]), None);
    }

    /// Ring hash sends a key to the same endpoint every time, and a retry to the next one.
    #[tokio::test]
    async fn ring_hash_is_sticky_and_retries_elsewhere() {
        let s = snapshot(&["a", "b", "c"]);
        let key = Some(hash(b"user-7"));
        let first = pick(&s, Balancer::RingHash, key, &[], &AtomicUsize::new(0)).unwrap();
        for _ in 0..10 {
            assert_eq!(
                pick_id(&s, Balancer::RingHash, key, &[]).as_deref(),
                Some(first.id.as_str())
            );
        }
        let retry = pick_id(&s, Balancer::RingHash, key, std::slice::from_ref(&first)).unwrap();
        assert_ne!(retry, first.id);
    }
}
