//! Retries: only idempotent calls, on another endpoint, within the budget.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;

use protomesh::client::BalancedChannel;
use protomesh::contracts::shop::catalog::v1::{
    CreateProductRequest, GetProductRequest, catalog_service_client::CatalogServiceClient,
};
use tonic::Code;

use crate::support::{Replica, client_config, served_by, static_client, wait_ready};

fn total(replicas: &[Replica], pick: impl Fn(&Replica) -> u64) -> u64 {
    replicas.iter().map(pick).sum()
}

/// Makes `calls` creates, one after another; returns how many failed, each UNAVAILABLE.
async fn creates(client: &mut CatalogServiceClient<BalancedChannel>, calls: u64) -> u64 {
    let mut failed = 0;
    for i in 0..calls {
        let created = client
            .create_product(CreateProductRequest {
                sku: format!("sku-{i}"),
                ..CreateProductRequest::default()
            })
            .await;
        if let Err(status) = created {
            assert_eq!(status.code(), Code::Unavailable, "{status:?}");
            failed += 1;
        }
    }
    failed
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
    let create_failures = creates(&mut client, CALLS).await;
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

/// A call whose connection cannot be made was never sent, so it goes to another endpoint even
/// when it is not idempotent, and each create reaches a server exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_could_not_connect_goes_elsewhere_even_when_not_idempotent() {
    let live = Replica::start("live");
    // A port bound but not listening: connecting is refused, and no other test's listener
    // can take the port while it is held.
    let held = tokio::net::TcpSocket::new_v4().expect("a socket");
    held.bind("127.0.0.1:0".parse().unwrap())
        .expect("a free port");
    let dead = held.local_addr().expect("its address");
    let mut config = client_config();
    // Round-robin, every endpoint offered calls: no health checks, no ejection.
    config.balancer = protomesh::client::Balancer::RoundRobin;
    config.health_checks = false;
    config.outlier_failures = 0;
    // A budget that allows every retry this test makes.
    config.retry_percent = 1.0;
    config.retry_min_per_sec = 100;
    let channel = BalancedChannel::builder(format!("static://{dead},{}", live.address()))
        .config(config)
        .build()
        .expect("client");
    let mut client = CatalogServiceClient::new(channel.clone());

    const CALLS: u64 = 20;
    let failed = creates(&mut client, CALLS).await;
    let stats = channel.stats();
    assert_eq!(failed, 0, "no create failed: {stats:?}");
    assert_eq!(live.stats.creates.load(Ordering::Relaxed), CALLS);
    assert_eq!(stats.calls, CALLS);
    assert!(
        stats.retries >= CALLS / 2 - 1,
        "calls offered to the dead endpoint were retried: {stats:?}"
    );
    assert_eq!(stats.attempts, stats.calls + stats.retries);
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

/// An HTTP/2 server that answers every call with its head and the first bytes of a gRPC
/// message, then drops the connection: a replica killed mid-reply. Counts the calls it cut.
async fn cut_mid_reply() -> (String, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let cut = Arc::new(AtomicU64::new(0));
    let count = cut.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let Ok(mut connection) = h2::server::handshake(socket).await else {
                    return;
                };
                let Some(Ok((_request, mut respond))) = connection.accept().await else {
                    return;
                };
                let head = http::Response::builder()
                    .header("content-type", "application/grpc")
                    .body(())
                    .unwrap();
                let mut reply = respond.send_response(head, false).unwrap();
                reply
                    .send_data(Bytes::from_static(b"\0\0\0\0\x10"), false)
                    .unwrap();
                // Drive the connection until the head and the bytes are written, then drop it.
                let _ = tokio::time::timeout(Duration::from_millis(50), connection.accept()).await;
                count.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    (address, cut)
}

/// A connection lost between a reply's head and its trailers: an idempotent read is
/// retried on another replica and succeeds; a create fails UNAVAILABLE (the connection is
/// gone, as gRPC's own clients report it) and is not sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_cut_off_mid_body_is_retried_only_when_idempotent() {
    let replica = Replica::start("a");
    let (cutter, cut) = cut_mid_reply().await;
    let mut config = client_config();
    // Round-robin, no ejection and no health checks: the cutting server keeps its turn.
    config.balancer = protomesh::client::Balancer::RoundRobin;
    config.outlier_failures = 0;
    config.health_checks = false;
    let channel = BalancedChannel::builder(format!("static://{},{}", replica.address(), cutter))
        .config(config)
        .build()
        .unwrap();
    wait_ready(&channel, vec![replica.address(), cutter.clone()]).await;
    let mut client = CatalogServiceClient::new(channel.clone());

    const CALLS: u64 = 20;
    for i in 0..CALLS {
        assert_eq!(served_by(&mut client, &format!("p-{i}")).await, "a");
    }
    let read_cuts = cut.load(Ordering::SeqCst);
    assert!(read_cuts > 0, "no read reached the cutting server");
    assert_eq!(channel.stats().retries, read_cuts, "{:?}", channel.stats());

    let failed = creates(&mut client, CALLS).await;
    assert!(failed > 0, "no create reached the cutting server");
    assert_eq!(cut.load(Ordering::SeqCst), read_cuts + failed);
    assert_eq!(
        replica.stats.creates.load(Ordering::Relaxed),
        CALLS - failed,
        "a cut create was sent again"
    );
    assert_eq!(channel.stats().retries, read_cuts);
}
