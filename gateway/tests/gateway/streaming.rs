//! Server streaming as NDJSON and as SSE, with errors mid-stream.

use http::Request;
use http_body_util::Full;

use crate::support::{fixture, get, send};

/// NDJSON: one JSON document per line, a final error line when the stream fails.
#[tokio::test]
async fn ndjson_with_error_line() {
    let fx = fixture().await;
    let reply = get(fx.gateway.addr, "/v1/count/3").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.headers.get("content-type").unwrap(),
        "application/x-ndjson"
    );
    assert_eq!(
        std::str::from_utf8(&reply.body).unwrap(),
        "{}\n{\"index\":1}\n{\"index\":2}\n"
    );

    let reply = get(fx.gateway.addr, "/v1/count/2?failCode=9").await;
    let lines: Vec<serde_json::Value> = std::str::from_utf8(&reply.body)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["index"], 1);
    assert_eq!(lines[2]["error"]["code"], 9);
    assert_eq!(lines[2]["error"]["message"], "stream failed");
}

/// SSE when asked for: data events, then an error event.
#[tokio::test]
async fn sse_with_error_event() {
    let fx = fixture().await;
    let req = Request::get("/v1/count/2?fail_code=14")
        .header("accept", "text/event-stream")
        .body(Full::default())
        .unwrap();
    let reply = send(fx.gateway.addr, req).await;
    assert_eq!(
        reply.headers.get("content-type").unwrap(),
        "text/event-stream"
    );
    let text = std::str::from_utf8(&reply.body).unwrap();
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.len(), 3, "{text}");
    assert_eq!(events[0], "data: {}");
    assert_eq!(events[1], "data: {\"index\":1}");
    assert!(
        events[2].starts_with("event: error\ndata: {"),
        "{}",
        events[2]
    );
    assert!(events[2].contains("\"code\":14"));
}
