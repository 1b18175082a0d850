//! Active health and passive outlier ejection as the client sees them.

use std::{sync::atomic::Ordering, time::Duration};

use protomesh::contracts::shop::catalog::v1::catalog_service_client::CatalogServiceClient;

use crate::support::{Replica, client_config, served_by, static_client, wait_ready};

/// NOT_SERVING takes an endpoint out of the ready set and SERVING brings it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_status_moves_endpoints_out_and_back() {
    let replicas: Vec<Replica> = ["a", "b"].into_iter().map(Replica::start).collect();
    let channel = static_client(&replicas.iter().collect::<Vec<_>>(), client_config());
    let mut both = vec![replicas[0].address(), replicas[1].address()];
    both.sort();
    wait_ready(&channel, both.clone()).await;

    replicas[0].set_serving(false).await;
    wait_ready(&channel, vec![replicas[1].address()]).await;
    let mut client = CatalogServiceClient::new(channel.clone());
    for i in 0..20 {
        assert_eq!(served_by(&mut client, &format!("p-{i}")).await, "b");
    }

    replicas[0].set_serving(true).await;
    wait_ready(&channel, both).await;
}

/// Consecutive UNAVAILABLE answers eject an endpoint; once its ejection time has passed
/// and it answers again, it is back in use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_endpoint_is_ejected_and_returns() {
    let replicas: Vec<Replica> = ["a", "b"].into_iter().map(Replica::start).collect();
    replicas[0].stats.unavailable.store(true, Ordering::Relaxed);
    let mut config = client_config();
    // Round-robin, so the failing replica keeps being offered calls until it is ejected.
    config.balancer = protomesh::client::Balancer::RoundRobin;
    config.outlier_failures = 2;
    config.outlier_base_ejection = Duration::from_secs(1);
    let channel = static_client(&replicas.iter().collect::<Vec<_>>(), config);
    let mut both = vec![replicas[0].address(), replicas[1].address()];
    both.sort();
    wait_ready(&channel, both).await;

    let mut client = CatalogServiceClient::new(channel.clone());
    for i in 0..40 {
        // Reads are retried on "b", so every call still succeeds.
        assert_eq!(served_by(&mut client, &format!("p-{i}")).await, "b");
    }
    let a = replicas[0].address();
    let status = |channel: &protomesh::client::BalancedChannel| {
        channel.endpoints().into_iter().find(|e| e.id == a).unwrap()
    };
    assert!(status(&channel).ejected, "{:?}", channel.endpoints());
    assert!(!channel.ready_endpoints().contains(&a));
    let failed_reads = replicas[0].stats.reads.load(Ordering::Relaxed);
    assert!(
        failed_reads <= 4,
        "{failed_reads} calls reached the failing replica"
    );

    replicas[0]
        .stats
        .unavailable
        .store(false, Ordering::Relaxed);
    let returned = tokio::time::timeout(Duration::from_secs(10), async {
        let mut i = 0;
        while served_by(&mut client, &format!("q-{i}")).await != "a" {
            i += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(returned.is_ok(), "the ejected replica never came back");
    assert!(!status(&channel).ejected);
}
