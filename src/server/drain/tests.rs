use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
};

use super::*;

/// Serves one HTTP/1.1 connection accepted on `listener`, watched by `connections`.
async fn serve_one(
    listener: &TcpListener,
    connections: &Connections,
) -> tokio::task::JoinHandle<()> {
    let (stream, _) = listener.accept().await.expect("accept");
    let service = hyper::service::service_fn(|_: Request<Incoming>| async {
        Ok::<_, std::convert::Infallible>(Response::new(http_body_util::Full::new(
            bytes::Bytes::from_static(b"ok"),
        )))
    });
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::spawn(connections.watch(connection).map(|_| ()))
}

use futures_util::FutureExt as _;

/// Sends one keep-alive request on `client` and reads its whole response.
async fn request(client: &mut TcpStream) -> String {
    client
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = vec![0; 1024];
    let n = client.read(&mut buf).await.expect("read");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Asserts that a drain of `connections` is still waiting 200 ms on, and that it ends soon
/// after `release` lets the last connection go.
async fn drain_waits_for(connections: &Connections, release: impl FnOnce()) {
    let drain = connections.clone();
    let mut drained = tokio::spawn(async move { drain.drain().await });
    assert!(
        tokio::time::timeout(Duration::from_millis(200), &mut drained)
            .await
            .is_err(),
        "the drain resolved with a connection open"
    );
    release();
    tokio::time::timeout(Duration::from_secs(5), drained)
        .await
        .expect("the drain ended once the last connection was let go")
        .unwrap();
}

/// A listener on a free port and a client connected to it (not yet accepted).
async fn listener_and_client() -> (TcpListener, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    (listener, client)
}

/// An idle keep-alive connection is closed by the drain, which then resolves; the table of
/// connections is empty again.
#[tokio::test]
async fn a_drain_closes_idle_connections_and_waits_for_them() {
    let (listener, mut client) = listener_and_client().await;
    let connections = Connections::new();
    let task = serve_one(&listener, &connections).await;
    assert!(request(&mut client).await.ends_with("ok"));
    assert_eq!(connections.count(), 1);

    tokio::time::timeout(Duration::from_secs(5), connections.drain())
        .await
        .expect("the drain ended");
    assert_eq!(connections.count(), 0);
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut rest)).await;
    assert_eq!(
        read.expect("closed in time").expect("read"),
        0,
        "the server closed it"
    );
    task.await.unwrap();
}

/// A drain with nothing open resolves at once, and a connection watched after it began is
/// told to finish on its first poll: still idle, it closes without reading a request.
#[tokio::test]
async fn a_connection_watched_after_the_drain_finishes_at_once() {
    let connections = Connections::new();
    tokio::time::timeout(Duration::from_secs(1), connections.drain())
        .await
        .expect("nothing to wait for");

    let (listener, mut client) = listener_and_client().await;
    client
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let task = serve_one(&listener, &connections).await;
    let mut all = Vec::new();
    // Closed with the request unread: an end of stream, or a reset for the unread bytes.
    let _ = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut all))
        .await
        .expect("closed in time");
    assert!(all.is_empty(), "{}", String::from_utf8_lossy(&all));
    task.await.unwrap();
    assert_eq!(connections.count(), 0);
}

/// A busy connection is waited for: the drain resolves only once it has ended.
#[tokio::test]
async fn the_drain_waits_for_open_connections() {
    let (listener, mut client) = listener_and_client().await;
    let connections = Connections::new();
    // Half a request: the connection stays open, reading its head.
    client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let task = serve_one(&listener, &connections).await;
    tokio::task::yield_now().await;

    drain_waits_for(&connections, || drop(client)).await;
    task.await.unwrap();
    assert_eq!(connections.count(), 0);
}

/// A slot taken for a connection not yet served (a TLS handshake under way) holds the drain
/// open until it is dropped.
#[tokio::test]
async fn a_slot_holds_the_drain_until_dropped() {
    let connections = Connections::new();
    let slot = connections.slot();
    assert_eq!(connections.count(), 1);
    drain_waits_for(&connections, || drop(slot)).await;
    assert_eq!(connections.count(), 0);
}
