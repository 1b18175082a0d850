//! Browser-facing settings: CORS preflight and headers, and the per-client rate limit.

use http::Request;
use http_body_util::Full;
use protomesh_gateway::{CorsSettings, RateLimit, TranscodeSettings};

use crate::support::{fixture_with, get, send};

/// An allowed origin gets preflight answers and CORS headers; another origin gets neither.
#[tokio::test]
async fn cors_for_allowed_origins_only() {
    let cors = CorsSettings {
        allowed_origins: vec!["https://shop.example".into()],
        ..Default::default()
    };
    let fx = fixture_with(TranscodeSettings {
        cors: Some(cors),
        ..Default::default()
    })
    .await;
    let preflight = |origin: &str, method: &str, path: &str| {
        Request::options(path)
            .header("origin", origin)
            .header("access-control-request-method", method)
            .body(Full::default())
            .unwrap()
    };
    let reply = send(
        fx.gateway.addr,
        preflight("https://shop.example", "POST", "/v1/echo/abc"),
    )
    .await;
    assert_eq!(reply.status, 204);
    assert_eq!(
        reply.headers["access-control-allow-origin"],
        "https://shop.example"
    );
    assert_eq!(reply.headers["access-control-allow-methods"], "POST");
    assert!(
        reply.headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );

    let reply = send(
        fx.gateway.addr,
        preflight("https://shop.example", "DELETE", "/v1/echo/abc"),
    )
    .await;
    assert_eq!(reply.status, 405);

    let reply = send(
        fx.gateway.addr,
        preflight("https://evil.example", "POST", "/v1/echo/abc"),
    )
    .await;
    assert!(reply.headers.get("access-control-allow-origin").is_none());
    assert_eq!(reply.status, 405);

    let req = Request::get("/v1/echo/abc")
        .header("origin", "https://shop.example")
        .body(Full::default())
        .unwrap();
    let reply = send(fx.gateway.addr, req).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.headers["access-control-allow-origin"],
        "https://shop.example"
    );
    assert_eq!(
        reply.headers["access-control-expose-headers"],
        "x-request-id"
    );
}

/// A client over its burst gets 429 RESOURCE_EXHAUSTED with Retry-After.
#[tokio::test]
async fn rate_limit_per_client() {
    let limit = RateLimit {
        per_second: 0.01,
        burst: 2,
    };
    let fx = fixture_with(TranscodeSettings {
        rate_limit: Some(limit),
        ..Default::default()
    })
    .await;
    assert_eq!(get(fx.gateway.addr, "/v1/echo/1").await.status, 200);
    assert_eq!(get(fx.gateway.addr, "/v1/echo/2").await.status, 200);
    let reply = get(fx.gateway.addr, "/v1/echo/3").await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.json()["code"], 8);
    assert_eq!(reply.headers["retry-after"], "100");
}
