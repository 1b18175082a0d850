//! A hook for `benches/hot_paths.rs` (hidden, not part of the API): the endpoint pick of
//! one attempt over a fixed set of SERVING endpoints, without a network.

use std::{
    collections::BTreeMap,
    sync::{Arc, atomic::AtomicUsize},
    time::Duration,
};

use tokio::time::Instant;

use super::{
    Balancer,
    endpoint::{Endpoint, Health},
    ewma::PeakEwma,
    pick::pick,
    ring::Ring,
    set::Snapshot,
};

/// `endpoints` SERVING endpoints with different latency estimates and one balancer.
#[derive(Debug)]
pub struct PickBench {
    snapshot: Snapshot,
    balancer: Balancer,
    next: AtomicUsize,
}

impl PickBench {
    /// Builds the endpoint set; call inside a tokio runtime (each endpoint holds a lazy
    /// channel that is never used).
    pub fn new(endpoints: usize, balancer: Balancer) -> Self {
        let now = Instant::now();
        let ids: Vec<String> = (0..endpoints).map(|i| format!("e{i}")).collect();
        let endpoints = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let channel = super::connection::Connection::lazy(
                    "127.0.0.1:9",
                    super::connection::ConnectionSettings::unused(),
                )
                .expect("address");
                let ewma = PeakEwma::new(Duration::from_millis(1), Duration::from_secs(10), now);
                let endpoint = Endpoint::new(
                    id.clone(),
                    "127.0.0.1:9".into(),
                    BTreeMap::new(),
                    channel,
                    ewma,
                    super::observe::EndpointSeries::new("127.0.0.1:9", 1),
                );
                endpoint.set_health(Health::Serving);
                endpoint.record_success(Duration::from_micros(200 * (i as u64 + 1)), now);
                Arc::new(endpoint)
            })
            .collect();
        let ring = Ring::build(ids.iter().map(String::as_str), 64);
        Self {
            snapshot: Snapshot { endpoints, ring },
            balancer,
            next: AtomicUsize::new(0),
        }
    }

    /// One pick (with `key` for ring hash); whether an endpoint was chosen.
    pub fn pick(&self, key: Option<u64>) -> bool {
        pick(&self.snapshot, self.balancer, key, &[], &self.next).is_some()
    }
}
