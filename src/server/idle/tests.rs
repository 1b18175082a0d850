use std::time::Duration;

use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    time::{Instant, sleep},
};

use super::*;

const LIMIT: Duration = Duration::from_millis(400);

/// Polls until `idle` expires, waiting for its wake in between.
async fn expiry(idle: &Idle) {
    std::future::poll_fn(|cx| {
        idle.register(cx.waker());
        if idle.expired() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Waits for `idle` to expire, and checks it did between one and one and a quarter limits
/// after `since`.
async fn expires_a_limit_after(idle: &Idle, since: Instant) {
    tokio::time::timeout(2 * LIMIT, expiry(idle)).await.unwrap();
    let quiet = since.elapsed();
    assert!(quiet >= LIMIT && quiet <= LIMIT + LIMIT / 4, "{quiet:?}");
}

/// A connection that writes nothing expires once the limit has passed, not before, and its
/// task is woken for it.
#[tokio::test(start_paused = true)]
async fn a_silent_connection_expires_after_the_limit() {
    let (io, _client) = tokio::io::duplex(64);
    let started = Instant::now();
    let (_io, idle) = IdleLimit::new(LIMIT).watch(io);
    sleep(LIMIT - Duration::from_millis(10)).await;
    assert!(!idle.expired());
    expires_a_limit_after(&idle, started).await;
}

/// Writes keep a connection; once they stop it expires between one and one and a quarter
/// limits after the last.
#[tokio::test(start_paused = true)]
async fn writes_keep_a_connection_until_they_stop() {
    let (io, mut client) = tokio::io::duplex(1024);
    let (mut io, idle) = IdleLimit::new(LIMIT).watch(io);
    for _ in 0..10 {
        sleep(LIMIT / 2).await;
        io.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        assert!(!idle.expired());
    }
    let mut read = [0; 1024];
    assert!(client.read(&mut read).await.unwrap() > 0);
    expires_a_limit_after(&idle, Instant::now()).await;
}

/// A client that opens with the HTTP/2 preface (even split over reads) is never expired; one
/// that only starts like it is.
#[tokio::test(start_paused = true)]
async fn http2_connections_are_left_alone() {
    let (io, mut client) = tokio::io::duplex(1024);
    let (mut io, idle) = IdleLimit::new(LIMIT).watch(io);
    let mut read = [0; 64];
    client.write_all(&PREFACE[..5]).await.unwrap();
    assert_eq!(io.read(&mut read).await.unwrap(), 5);
    client.write_all(&PREFACE[5..]).await.unwrap();
    io.read_exact(&mut read[..PREFACE.len() - 5]).await.unwrap();
    sleep(5 * LIMIT).await;
    assert!(!idle.expired());

    let (io, mut client) = tokio::io::duplex(1024);
    let (mut io, idle) = IdleLimit::new(LIMIT).watch(io);
    client.write_all(b"PRI /x HTTP/1.1\r\n").await.unwrap();
    let _ = io.read(&mut read).await.unwrap();
    sleep(2 * LIMIT).await;
    assert!(idle.expired());
}

/// Once expired, a connection still waiting for its first request head fails its reads; one
/// whose first head came in reads on (its request may still be under way).
#[tokio::test(start_paused = true)]
async fn only_a_connection_without_a_first_head_fails_its_reads() {
    let mut read = [0; 64];
    let (io, mut client) = tokio::io::duplex(1024);
    let (mut io, idle) = IdleLimit::new(LIMIT).watch(io);
    client
        .write_all(b"POST /v1/echo HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    assert!(io.read(&mut read).await.unwrap() > 0);
    tokio::time::timeout(2 * LIMIT, expiry(&idle))
        .await
        .unwrap();
    let error = io.read(&mut read).await.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::TimedOut);

    let (io, mut client) = tokio::io::duplex(1024);
    let (mut io, idle) = IdleLimit::new(LIMIT).watch(io);
    // The head's end split over two reads.
    client
        .write_all(b"POST /v1/echo HTTP/1.1\r\nhost: x\r")
        .await
        .unwrap();
    assert!(io.read(&mut read).await.unwrap() > 0);
    client.write_all(b"\n\r\n{}").await.unwrap();
    assert_eq!(io.read(&mut read).await.unwrap(), 5);
    tokio::time::timeout(2 * LIMIT, expiry(&idle))
        .await
        .unwrap();
    client.write_all(b"more").await.unwrap();
    assert_eq!(io.read(&mut read).await.unwrap(), 4);
}

/// The watchdog ends with its connection.
#[tokio::test(start_paused = true)]
async fn the_watchdog_ends_with_the_connection() {
    let (io, _client) = tokio::io::duplex(64);
    let (io, idle) = IdleLimit::new(LIMIT).watch(io);
    let state = Arc::downgrade(&idle.state);
    drop((io, idle));
    assert!(state.upgrade().is_none());
    sleep(LIMIT).await;
    let metrics = tokio::runtime::Handle::current().metrics();
    assert_eq!(metrics.num_alive_tasks(), 0);
}
