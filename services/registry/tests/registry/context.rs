//! Deadline propagation and the request hook (trace-context injection).

use std::{sync::atomic::Ordering, time::Duration};

use protomesh::{
    client::{BalancedChannel, deadline},
    contracts::shop::catalog::v1::{
        ListProductsRequest, catalog_service_client::CatalogServiceClient,
    },
};
use tokio::time::Instant;
use tonic::Code;

use crate::support::{Replica, client_config, wait_ready};

/// A call made inside a deadline scope carries the remaining time as grpc-timeout, the
/// request hook's traceparent arrives, and a passed deadline fails without a call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_and_trace_context_travel_downstream() {
    let replica = Replica::start("a");
    let channel = BalancedChannel::builder(format!("static://{}", replica.address()))
        .config(client_config())
        .request_hook(|headers| {
            headers.insert(
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
                    .parse()
                    .unwrap(),
            );
        })
        .build()
        .unwrap();
    wait_ready(&channel, vec![replica.address()]).await;
    let mut client = CatalogServiceClient::new(channel);

    let deadline_at = Instant::now() + Duration::from_secs(5);
    deadline::scope(
        deadline_at,
        client.list_products(ListProductsRequest::default()),
    )
    .await
    .unwrap();
    let (timeout, traceparent) = replica.stats.last_headers.lock().unwrap().clone();
    let timeout = deadline::parse_timeout(&timeout.expect("grpc-timeout sent")).unwrap();
    assert!(
        timeout <= Duration::from_secs(5) && timeout > Duration::from_secs(3),
        "grpc-timeout {timeout:?} is not the remaining time"
    );
    assert_eq!(
        traceparent.as_deref(),
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    );

    // A server `Deadline` copied into the outgoing request's extensions works the same.
    let mut request = tonic::Request::new(ListProductsRequest::default());
    request
        .extensions_mut()
        .insert(protomesh::server::Deadline::after(Duration::from_secs(2)));
    client.list_products(request).await.unwrap();
    let (timeout, _) = replica.stats.last_headers.lock().unwrap().clone();
    let timeout = deadline::parse_timeout(&timeout.expect("grpc-timeout sent")).unwrap();
    assert!(timeout <= Duration::from_secs(2) && timeout > Duration::from_secs(1));

    let reads = replica.stats.reads.load(Ordering::Relaxed);
    let passed = Instant::now() - Duration::from_millis(1);
    let status = deadline::scope(passed, client.list_products(ListProductsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert_eq!(
        replica.stats.reads.load(Ordering::Relaxed),
        reads,
        "no call was sent"
    );
}
