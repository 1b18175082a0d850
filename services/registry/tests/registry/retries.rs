//! Retries: only idempotent calls, on another endpoint, within the budget.

use std::{sync::atomic::Ordering, time::Duration};

use protomesh::contracts::shop::catalog::v1::{
    CreateProductRequest, GetProductRequest, catalog_service_client::CatalogServiceClient,
};
use tonic::Code;

use crate::support::{Replica, client_config, served_by, static_client, wait_ready};

fn total(replicas: &[Replica], pick: impl Fn(&Replica) -> u64) -> u64 {
    replicas.iter().map(pick).sum()
}

/// A non-idempotent call answered UNAVAILABLE is never sent again, while an idempotent
/// read moves to a healthy replica and succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_idempotent_calls_are_retried() {
    let replicas: Vec<Replica> = ["a", "b", "c"].into_iter().map(Replica::start).collect();
    replicas[0].stats.unavailable.store(true, Ordering::Relaxed);
    let mut config = client_config();
    // Round-robin and no ejection: the unavailable replica keeps being offered calls.
    config.balancer = protomesh::client::Balancer::RoundRobin;
    config.outlier_failures = 0;
    let channel = static_client(&replicas.iter().collect::<Vec<_>>(), config);
    wait_ready(&channel, replicas.iter().map(Replica::address).collect()).await;
    let mut client = CatalogServiceClient::new(channel.clone());

    const CALLS: u64 = 60;
    let mut create_failures = 0;
    for i in 0..CALLS {
        let created = client
            .create_product(CreateProductRequest {
                sku: format!("sku-{i}"),
                ..CreateProductRequest::default()
            })
            .await;
        if let Err(status) = created {
            assert_eq!(status.code(), Code::Unavailable);
            create_failures += 1;
        }
    }
    let creates = total(&replicas, |r| r.stats.creates.load(Ordering::Relaxed));
    assert_eq!(creates, CALLS, "every create reached a server exactly once");
    assert_eq!(
        create_failures,
        replicas[0].stats.creates.load(Ordering::Relaxed),
        "creates on the unavailable replica failed instead of being retried"
    );
    assert!(
        create_failures > 0,
        "the unavailable replica got no create at all"
    );

    for i in 0..CALLS {
        let by = served_by(&mut client, &format!("p-{i}")).await;
        assert_ne!(by, "a");
    }
    let reads = total(&replicas, |r| r.stats.reads.load(Ordering::Relaxed));
    assert!(
        reads > CALLS,
        "reads on the unavailable replica were retried elsewhere"
    );
}

/// In a total outage the retry budget keeps extra load near its percentage instead of
/// multiplying every call by the attempt limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_caps_retries_in_a_total_outage() {
    let replicas: Vec<Replica> = ["a", "b", "c"].into_iter().map(Replica::start).collect();
    for replica in &replicas {
        replica.stats.unavailable.store(true, Ordering::Relaxed);
    }
    let mut config = client_config();
    config.outlier_failures = 0;
    config.max_retries = 2;
    config.retry_percent = 0.1;
    config.retry_min_per_sec = 1;
    config.retry_budget_ttl = Duration::from_secs(10);
    let channel = static_client(&replicas.iter().collect::<Vec<_>>(), config);
    wait_ready(&channel, replicas.iter().map(Replica::address).collect()).await;
    let mut client = CatalogServiceClient::new(channel.clone());

    const CALLS: u64 = 300;
    for i in 0..CALLS {
        let status = client
            .get_product(GetProductRequest {
                product_id: format!("p-{i}"),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
    }
    let attempts = total(&replicas, |r| r.stats.reads.load(Ordering::Relaxed));
    let stats = channel.stats();
    assert_eq!(stats.attempts, attempts);
    assert!(stats.retries > 0, "some retries were allowed");
    assert!(
        attempts <= CALLS + CALLS / 10 + 20,
        "{attempts} attempts for {CALLS} calls: the budget did not cap retries"
    );
    assert!(stats.budget_exhausted > CALLS / 2, "{stats:?}");
}
