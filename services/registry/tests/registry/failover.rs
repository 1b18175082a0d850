//! Failover under steady load: a replica dies abruptly, or drains gracefully.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use protomesh::{
    client::BalancedChannel,
    contracts::shop::catalog::v1::{
        CreateProductRequest, GetProductRequest, catalog_service_client::CatalogServiceClient,
    },
};
use tokio::task::JoinHandle;

use crate::support::{Replica, client_config, static_client, wait_ready};

/// A bounded load generator: a few workers calling in a loop until stopped.
pub(crate) struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    workers: Vec<JoinHandle<Vec<String>>>,
}

impl Load {
    /// Starts `workers` loops; with `creates`, every other call is a non-idempotent create.
    pub(crate) fn start(channel: &BalancedChannel, workers: usize, creates: bool) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let workers = (0..workers)
            .map(|w| {
                let mut client = CatalogServiceClient::new(channel.clone());
                let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
                tokio::spawn(async move {
                    let mut errors = Vec::new();
                    let mut i = 0u64;
                    // Bounded: at most 20 000 calls per worker even if never stopped.
                    while !stop.load(Ordering::Relaxed) && i < 20_000 {
                        i += 1;
                        let result = if creates && i.is_multiple_of(2) {
                            client
                                .create_product(CreateProductRequest {
                                    sku: format!("sku-{w}-{i}"),
                                    ..CreateProductRequest::default()
                                })
                                .await
                                .map(drop)
                        } else {
                            client
                                .get_product(GetProductRequest {
                                    product_id: format!("p-{w}-{i}"),
                                })
                                .await
                                .map(drop)
                        };
                        match result {
                            Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                            Err(status) => {
                                errors.push(status.to_string());
                                failed.fetch_add(1, Ordering::Relaxed)
                            }
                        };
                        // A steady, bounded rate: about 500 calls/s per worker at most.
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    errors
                })
            })
            .collect();
        Self {
            stop,
            ok,
            failed,
            workers,
        }
    }

    /// Waits until `n` more calls succeeded (at most 10 s).
    pub(crate) async fn wait_for_calls(&self, n: u64) {
        let target = self.ok.load(Ordering::Relaxed) + n;
        let reached = tokio::time::timeout(Duration::from_secs(10), async {
            while self.ok.load(Ordering::Relaxed) < target {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        assert!(reached.is_ok(), "load stalled");
    }

    /// Stops the load; returns (succeeded, every error message).
    pub(crate) async fn finish(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let mut errors = Vec::new();
        for worker in self.workers {
            errors.extend(worker.await.unwrap());
        }
        assert_eq!(self.failed.load(Ordering::Relaxed), errors.len() as u64);
        (self.ok.load(Ordering::Relaxed), errors)
    }
}

/// Killing one of three replicas under steady idempotent load (default P2C balancer) fails
/// no call, and the dead endpoint leaves the ready set within a second (its health watch
/// breaks at once). The SIGKILL variant in `process` also proves calls were in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abrupt_death_fails_no_idempotent_call() {
    let mut replicas: Vec<Replica> = ["a", "b", "c"].into_iter().map(Replica::start).collect();
    for replica in &replicas {
        // Calls take a while, so some are in flight on the replica when it dies.
        replica.stats.delay_ms.store(20, Ordering::Relaxed);
    }
    let channel = static_client(&replicas.iter().collect::<Vec<_>>(), client_config());
    wait_ready(&channel, replicas.iter().map(Replica::address).collect()).await;
    let load = Load::start(&channel, 12, false);
    load.wait_for_calls(200).await;

    let dead = replicas[1].address();
    replicas[1].kill();
    let left = tokio::time::timeout(
        Duration::from_secs(1),
        channel.wait_for(|endpoints| endpoints.iter().any(|e| e.id == dead && !e.is_ready())),
    )
    .await;
    assert!(
        left.is_ok(),
        "dead endpoint still ready after 1 s: {:?}",
        channel.endpoints()
    );
    load.wait_for_calls(300).await;

    let (ok, errors) = load.finish().await;
    assert!(
        errors.is_empty(),
        "{} of {} calls failed: {:?}",
        errors.len(),
        ok,
        &errors[..errors.len().min(5)]
    );
    let mut alive = vec![replicas[0].address(), replicas[2].address()];
    alive.sort();
    assert_eq!(channel.ready_endpoints(), alive);
}

/// A graceful drain (NOT_SERVING first, stop once the client has moved away) fails no
/// call of any kind, non-idempotent creates included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_drain_fails_no_call() {
    let mut replicas: Vec<Replica> = ["a", "b", "c"].into_iter().map(Replica::start).collect();
    let channel = static_client(&replicas.iter().collect::<Vec<_>>(), client_config());
    wait_ready(&channel, replicas.iter().map(Replica::address).collect()).await;
    let load = Load::start(&channel, 4, true);
    load.wait_for_calls(200).await;

    replicas[0].set_serving(false).await;
    wait_ready(&channel, vec![replicas[1].address(), replicas[2].address()]).await;
    replicas[0].stop().await;
    load.wait_for_calls(300).await;

    let (ok, errors) = load.finish().await;
    assert!(
        errors.is_empty(),
        "{} of {} calls failed: {:?}",
        errors.len(),
        ok,
        &errors[..errors.len().min(5)]
    );
    let creates: u64 = replicas
        .iter()
        .map(|r| r.stats.creates.load(Ordering::Relaxed))
        .sum();
    assert!(creates > 0, "the load included non-idempotent calls");
}
