//! Deadlines, load shedding and the message size limit.

use std::time::Duration;

use protomesh::{
    config::ServerConfig,
    contracts::protomesh::registry::v1::{ListInstancesRequest, WatchRequest},
};
use tonic::{Code, Request};
use tonic_health::pb::health_check_response::ServingStatus;

use crate::support::{TestServer, health, raw_client, test_config};

/// A ListInstances request for `name` with an optional `grpc-timeout`.
fn list(name: &str, timeout: Option<Duration>) -> Request<ListInstancesRequest> {
    let mut request = Request::new(ListInstancesRequest {
        service: name.into(),
    });
    if let Some(timeout) = timeout {
        request.set_timeout(timeout);
    }
    request
}

/// The deadline the handler saw, in ms.
fn seen_deadline_ms(
    response: tonic::Response<protomesh::contracts::protomesh::registry::v1::ListInstancesResponse>,
) -> Option<u64> {
    response.into_inner().instances[0]
        .metadata
        .get("deadline_ms")
        .map(|ms| ms.parse().unwrap())
}

/// The caller's `grpc-timeout` reaches the handler as a `Deadline` and is enforced with
/// DEADLINE_EXCEEDED; without one, unary calls get the configured default.
#[tokio::test]
async fn deadlines_are_exposed_and_enforced() {
    let config = ServerConfig {
        default_deadline: Duration::from_secs(30),
        ..test_config()
    };
    let server = TestServer::start(config).await;
    let mut client = server.client().await;

    let caller = client
        .list_instances(list("", Some(Duration::from_secs(5))))
        .await;
    let ms = seen_deadline_ms(caller.unwrap()).unwrap();
    assert!(
        (4_000..=5_000).contains(&ms),
        "caller deadline seen as {ms} ms"
    );

    let default = client.list_instances(list("", None)).await;
    let ms = seen_deadline_ms(default.unwrap()).unwrap();
    assert!(
        (29_000..=30_000).contains(&ms),
        "default deadline seen as {ms} ms"
    );

    // A raw HTTP/2 client has no timer of its own: the answer is the server's.
    let late = raw_client(server.addr)
        .await
        .list_instances(list("forever", Some(Duration::from_millis(100))))
        .await;
    let late = late.unwrap_err();
    assert_eq!(late.code(), Code::DeadlineExceeded, "{late:?}");
    server.stop().await.unwrap();
}

/// The handler runs inside the call's deadline scope, so the kit's client propagates the
/// caller's remaining time to downstream calls without the handler doing anything.
#[tokio::test]
async fn handlers_run_in_the_deadline_scope() {
    let server = TestServer::start(test_config()).await;
    let mut client = server.client().await;
    let response = client
        .list_instances(list("", Some(Duration::from_secs(5))))
        .await
        .unwrap();
    let ms: u64 = response.into_inner().instances[0].metadata["scope_ms"]
        .parse()
        .unwrap();
    assert!((4_000..=5_000).contains(&ms), "scope deadline {ms} ms");
    server.stop().await.unwrap();
}

/// The configured default deadline ends a unary call the caller gave no deadline, and a
/// deadline ends a response stream that outlives it.
#[tokio::test]
async fn default_deadline_and_streams() {
    let config = ServerConfig {
        default_deadline: Duration::from_millis(100),
        ..test_config()
    };
    let server = TestServer::start(config).await;
    let mut client = server.client().await;

    let late = client.list_instances(list("forever", None)).await;
    assert_eq!(late.unwrap_err().code(), Code::DeadlineExceeded);

    let mut request = Request::new(WatchRequest::default());
    request.set_timeout(Duration::from_millis(150));
    let mut raw = raw_client(server.addr).await;
    let mut stream = raw.watch(request).await.unwrap().into_inner();
    assert!(stream.message().await.unwrap().is_some());
    assert_eq!(
        stream.message().await.unwrap_err().code(),
        Code::DeadlineExceeded
    );
    server.stop().await.unwrap();
}

/// Beyond the concurrency limit a call is refused at once with RESOURCE_EXHAUSTED (not
/// queued), health checks still answer, and capacity returns when calls finish.
#[tokio::test]
async fn overload_is_shed_immediately() {
    let config = ServerConfig {
        concurrency_limit: 1,
        ..test_config()
    };
    let server = TestServer::start(config).await;
    let mut client = server.client().await;
    let mut held_client = client.clone();
    let held = tokio::spawn(async move { held_client.list_instances(list("hold", None)).await });
    server.gate.entered().await;

    let shed = client.list_instances(list("", None)).await.unwrap_err();
    assert_eq!(shed.code(), Code::ResourceExhausted);
    let status = health(server.channel().await, "").await.unwrap();
    assert_eq!(status, ServingStatus::Serving);

    server.gate.release(1);
    assert!(held.await.unwrap().is_ok());
    assert!(client.list_instances(list("", None)).await.is_ok());
    server.stop().await.unwrap();
}

/// A request message above `max_message_size` is refused with RESOURCE_EXHAUSTED; one
/// below passes.
#[tokio::test]
async fn oversized_messages_are_refused() {
    let config = ServerConfig {
        max_message_size: 64,
        ..test_config()
    };
    let server = TestServer::start(config).await;
    let mut client = server.client().await;

    let big = client.list_instances(list(&"x".repeat(100), None)).await;
    let status = big.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(
        status.message().contains("limit of 64 bytes"),
        "{}",
        status.message()
    );
    assert!(
        client
            .list_instances(list(&"x".repeat(20), None))
            .await
            .is_ok()
    );
    server.stop().await.unwrap();
}

/// `header_read_timeout` is the server's: an HTTP/1.1 client (the port takes HTTP/1.1 with a
/// front layer) that sends half a request head is closed without an answer once it passes,
/// long before hyper's default of 30 s.
#[tokio::test]
async fn the_configured_header_read_timeout_closes_a_slow_http1_head() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let config = ServerConfig {
        header_read_timeout: Duration::from_millis(300),
        ..test_config()
    };
    let server = TestServer::start_with(config, None, |b| {
        b.front(tower::layer::util::Identity::new())
    })
    .await;
    // The limit counts from the connection's start.
    let started = std::time::Instant::now();
    let mut slow = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"POST /nothing.Here/Call HTTP/1.1\r\nhost:")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut answer)).await;
    let waited = started.elapsed();
    assert!(
        matches!(closed, Ok(Ok(0))),
        "not closed within 10 s: {closed:?}"
    );
    assert!(
        waited >= Duration::from_millis(300),
        "closed early: {waited:?}"
    );
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    server.stop().await.unwrap();
}
