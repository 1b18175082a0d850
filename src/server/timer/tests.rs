use std::time::{Duration, Instant};

use http::{Request, Response};
use hyper::{body::Incoming, rt::Timer as _};
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
};

use super::*;

/// A sleep ends after its deadline, within about a tick of it, and leaves the table when
/// dropped; one dropped before its deadline never ends.
#[tokio::test]
async fn sleeps_end_after_their_deadline_and_leave_when_dropped() {
    let timer = CoarseTimer::new();
    let started = Instant::now();
    let mut short = timer.sleep(Duration::from_millis(100));
    let mut long = timer.sleep(Duration::from_secs(60));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(long.as_mut().poll(&mut cx).is_pending());
    assert_eq!(timer.waiting(), 1);

    short.as_mut().await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(100), "{took:?}");
    assert!(took < Duration::from_millis(100) + 8 * TICK, "{took:?}");
    drop(short);
    assert_eq!(timer.waiting(), 1, "the long sleep still waits");
    assert!(long.as_mut().poll(&mut cx).is_pending());
    drop(long);
    assert_eq!(timer.waiting(), 0);
}

/// A sleep whose deadline has passed is ready at once, without waiting in the table.
#[tokio::test]
async fn a_past_deadline_is_ready_at_once() {
    let timer = CoarseTimer::new();
    let mut sleep = timer.sleep_until(Instant::now() - Duration::from_millis(1));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(sleep.as_mut().poll(&mut cx).is_ready());
    assert_eq!(timer.waiting(), 0);
}

/// As hyper's HTTP/1.1 timer: a client that sends half a request head is cut off once the
/// header read timeout passes, while whole requests on a keep-alive connection are answered.
#[tokio::test]
async fn hyper_cuts_off_a_slow_request_head() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let timer = CoarseTimer::new();
    let server = tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = hyper::service::service_fn(|_: Request<Incoming>| async {
                Ok::<_, std::convert::Infallible>(Response::new(http_body_util::Full::new(
                    bytes::Bytes::from_static(b"ok"),
                )))
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(timer.clone())
                .header_read_timeout(Duration::from_millis(300))
                .serve_connection(TokioIo::new(stream), service);
            tokio::spawn(connection);
        }
    });

    let mut good = TcpStream::connect(address).await.unwrap();
    for _ in 0..3 {
        good.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0; 1024];
        let n = good.read(&mut buf).await.unwrap();
        assert!(
            buf[..n].ends_with(b"ok"),
            "{}",
            String::from_utf8_lossy(&buf[..n])
        );
    }

    let mut slow = TcpStream::connect(address).await.unwrap();
    let started = Instant::now();
    slow.write_all(b"GET / HTTP/1.1\r\nhost:").await.unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the slow client was never cut off");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "cut off early: {took:?}"
    );
    server.abort();
}
