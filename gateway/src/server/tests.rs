use std::{
    convert::Infallible,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::Full;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

use super::*;

/// A client that sends half a request head is cut off once the header read timeout passes,
/// no sooner, while whole requests on another keep-alive connection are answered meanwhile;
/// that connection is closed too once it has been idle as long. An HTTP/2 connection idle
/// as long is not.
#[tokio::test]
async fn a_slow_request_head_is_cut_off_and_whole_requests_are_answered() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let service = tower::service_fn(|_: Request<Incoming>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
    });
    let limits = Limits {
        drain_timeout: Some(Duration::from_secs(1)),
        header_read_timeout: Duration::from_millis(300),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with(
        listener,
        service,
        async {
            let _ = stopped.await;
        },
        limits,
    ));

    // The limit counts from the connection's start.
    let started = Instant::now();
    let mut slow = TcpStream::connect(address).await.unwrap();
    slow.write_all(b"POST /v1/echo HTTP/1.1\r\nhost:")
        .await
        .unwrap();

    // A well-behaved client on one keep-alive connection meanwhile.
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(
        TcpStream::connect(address).await.unwrap(),
    ))
    .await
    .unwrap();
    let mut client = tokio::spawn(connection);
    for _ in 0..3 {
        let request = Request::post("/v1/echo")
            .header("host", "gateway")
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), http::StatusCode::OK);
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(&body[..], b"ok");
    }

    // hyper closes the connection without an answer once the timeout passes.
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut answer)).await;
    let waited = started.elapsed();
    assert!(
        matches!(closed, Ok(Ok(0))),
        "the slow client was never cut off: {closed:?}"
    );
    assert!(
        waited >= Duration::from_millis(300),
        "cut off early: {waited:?}"
    );
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));

    // The keep-alive connection, idle since its last answer, is closed by the server.
    let ended = tokio::time::timeout(Duration::from_secs(10), &mut client).await;
    assert!(matches!(ended, Ok(Ok(Ok(())))), "{ended:?}");
    assert!(sender.is_closed());

    // An HTTP/2 connection idle for twice the limit still takes a request.
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        TokioIo::new(TcpStream::connect(address).await.unwrap()),
    )
    .await
    .unwrap();
    let client = tokio::spawn(connection);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let request = Request::post("http://gateway/v1/echo")
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), http::StatusCode::OK);
    assert!(!client.is_finished());

    drop(sender);
    let _ = client.await;
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
