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
