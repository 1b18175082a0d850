//! The connection against a real HTTP/2 server (h2's) on 127.0.0.1.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures_util::stream;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::Frame;
use http_body_util::{BodyExt as _, StreamBody};
use tokio::net::TcpListener;

use super::*;

/// Serves every connection: each request's body is read whole (its window released), then
/// answered with `reply_bytes` of data and `grpc-status: 0` trailers; a response header
/// `received` carries how many body bytes came. After `close_after` calls a connection is
/// shut down gracefully (GOAWAY, then closed once its calls are answered). Returns the
/// address and the count of accepted connections.
async fn server(reply_bytes: usize, close_after: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut connection = h2::server::handshake(socket).await.unwrap();
                let mut calls = 0;
                while let Some(Ok((request, respond))) = connection.accept().await {
                    tokio::spawn(answer(request, respond, reply_bytes));
                    calls += 1;
                    if calls == close_after {
                        connection.graceful_shutdown();
                    }
                }
            });
        }
    });
    (address, accepted)
}

async fn answer(
    request: Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    reply_bytes: usize,
) {
    let mut body = request.into_body();
    let mut received = 0;
    while let Some(Ok(data)) = body.data().await {
        received += data.len();
        let _ = body.flow_control().release_capacity(data.len());
    }
    let mut head = Response::new(());
    head.headers_mut()
        .insert("received", HeaderValue::from(received));
    let mut send = respond.send_response(head, false).unwrap();
    send.send_data(Bytes::from(vec![7u8; reply_bytes]), false)
        .unwrap();
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    send.send_trailers(trailers).unwrap();
}

fn connection(address: &str) -> Connection {
    Connection::lazy(address, ConnectionSettings::unused()).unwrap()
}

/// Reads a response: the `received` header, the data length and the grpc-status trailer.
async fn read(response: Response<Body>) -> (usize, usize, Option<HeaderValue>) {
    let received = response.headers()["received"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let collected = response.into_body().collect().await.unwrap();
    let status = collected
        .trailers()
        .and_then(|t| t.get("grpc-status"))
        .cloned();
    (received, collected.to_bytes().len(), status)
}

/// A streamed request body past the server's 64 KiB window and a response past the client's
/// windows (2 MiB per call, 5 MiB per connection) arrive whole: the pipe waits for capacity,
/// the response body releases it as it is read.
#[tokio::test]
async fn bodies_past_the_window_arrive_whole_both_ways() {
    let (address, _) = server(6_000_000, usize::MAX).await;
    let connection = connection(&address);
    let frames =
        (0..3).map(|_| Ok::<_, tonic::Status>(Frame::data(Bytes::from(vec![1u8; 100_000]))));
    let body = Body::new(StreamBody::new(stream::iter(frames)));
    let request = Request::post("/x.Y/Z").body(body).unwrap();
    let response = connection.send(request).await.unwrap();
    assert_eq!(
        read(response).await,
        (300_000, 6_000_000, Some(HeaderValue::from_static("0")))
    );

    // A one-frame unary body goes out with the headers' stream at once.
    let request = Request::post("/x.Y/Z")
        .body(Body::new(http_body_util::Full::new(Bytes::from_static(
            b"hello",
        ))))
        .unwrap();
    let response = connection.send(request).await.unwrap();
    assert_eq!(read(response).await.0, 5);
    assert_eq!(connection.inner.streams.load(Ordering::SeqCst), 0);
}

/// After the server closes the connection, the next call makes a new one and succeeds.
#[tokio::test]
async fn a_closed_connection_is_made_again() {
    let (address, accepted) = server(10, 1).await;
    let connection = connection(&address);
    for round in 1..=3 {
        let request = Request::post("/x.Y/Z")
            .body(Body::new(http_body_util::Full::new(Bytes::from_static(
                b"abc",
            ))))
            .unwrap();
        let response = connection.send(request).await.unwrap();
        assert_eq!(
            read(response).await,
            (3, 10, Some(HeaderValue::from_static("0")))
        );
        // Give the server's close time to arrive.
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(accepted.load(Ordering::SeqCst), round);
    }
}

/// Nothing listening: a connect error (the request was never sent), naming the address.
#[tokio::test]
async fn nothing_listening_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let request = Request::post("/x.Y/Z").body(Body::empty()).unwrap();
    let error = connection(&address).send(request).await.unwrap_err();
    assert!(matches!(error, ConnectionError::Connect { .. }), "{error}");
    assert!(error.to_string().contains(&address), "{error}");
}

/// Addresses with a path or another scheme are refused up front.
#[test]
fn only_plain_http_addresses() {
    assert!(Connection::lazy("127.0.0.1:1", ConnectionSettings::unused()).is_ok());
    assert!(Connection::lazy("http://127.0.0.1:1", ConnectionSettings::unused()).is_ok());
    assert!(Connection::lazy("https://127.0.0.1:1", ConnectionSettings::unused()).is_err());
    assert!(Connection::lazy("http://127.0.0.1:1/x", ConnectionSettings::unused()).is_err());
}

/// A server that stops answering (here: stops reading its connection, so pings go unacked)
/// fails the open call once a keepalive ping goes unanswered, instead of leaving it hanging.
#[tokio::test]
async fn an_unanswered_ping_closes_the_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut connection = h2::server::handshake(socket).await.unwrap();
        let call = connection.accept().await;
        // Hold the connection and the call without reading anything more.
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop((connection, call));
    });
    let settings = ConnectionSettings {
        connect_timeout: Duration::from_secs(1),
        keepalive_interval: Duration::from_millis(100),
        keepalive_timeout: Duration::from_millis(100),
    };
    let connection = Connection::lazy(&address, settings).unwrap();
    let request = Request::post("/x.Y/Z")
        .body(Body::new(http_body_util::Full::new(Bytes::from_static(
            b"abc",
        ))))
        .unwrap();
    let result = tokio::time::timeout(Duration::from_secs(5), connection.send(request))
        .await
        .expect("the call ends once the ping goes unanswered");
    assert!(
        matches!(result, Err(ConnectionError::Call(_))),
        "{result:?}"
    );
    server.abort();
}
