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
/// no sooner, while whole requests on another keep-alive connection are answered meanwhile.
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

    let mut slow = TcpStream::connect(address).await.unwrap();
    let started = Instant::now();
    slow.write_all(b"POST /v1/echo HTTP/1.1\r\nhost:")
        .await
        .unwrap();

    let mut good = TcpStream::connect(address).await.unwrap();
    for _ in 0..3 {
        good.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0; 1024];
        let n = good.read(&mut buf).await.unwrap();
        let answer = String::from_utf8_lossy(&buf[..n]);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("ok"), "{answer}");
    }

    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the slow client was never cut off");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "cut off early: {took:?}"
    );
    assert!(
        !String::from_utf8_lossy(&rest).contains("200 OK"),
        "answered a half head"
    );

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
