//! Error mapping: every gRPC code to its HTTP status with a google.rpc.Status body, and the
//! gateway's own failures (404, 405, 413, 415, 400 naming the field).

use http::Request;
use http_body_util::Full;
use protomesh_gateway::TranscodeSettings;

use crate::support::{fixture, fixture_with, get, request, send};

/// Every non-OK gRPC code from the upstream becomes its HTTP status, with code and message.
#[tokio::test]
async fn every_code_maps_to_its_http_status() {
    let fx = fixture().await;
    let table = [
        (1, 499),
        (2, 500),
        (3, 400),
        (4, 504),
        (5, 404),
        (6, 409),
        (7, 403),
        (8, 429),
        (9, 400),
        (10, 409),
        (11, 400),
        (12, 501),
        (13, 500),
        (14, 503),
        (15, 500),
        (16, 401),
    ];
    for (code, http) in table {
        let reply = get(
            fx.gateway.addr,
            &format!("/v1/fail/{code}?message=boom{code}"),
        )
        .await;
        assert_eq!(reply.status.as_u16(), http, "code {code}");
        let json = reply.json();
        assert_eq!(json["code"], code, "code {code}");
        assert_eq!(json["message"], format!("boom{code}"));
        assert_eq!(reply.headers.get("grpc-metadata-x-failed").unwrap(), "yes");
    }
}

/// Upstream error details come through as Any JSON with @type.
#[tokio::test]
async fn details_render_with_type() {
    let fx = fixture().await;
    let json = get(fx.gateway.addr, "/v1/fail/3").await.json();
    assert_eq!(
        json["details"][0]["@type"],
        "type.googleapis.com/google.rpc.BadRequest"
    );
    assert_eq!(json["details"][0]["fieldViolations"][0]["field"], "code");
}

/// Gateway-side failures: status, gRPC code, and the field named in a BadRequest.
#[tokio::test]
async fn gateway_failures() {
    let fx = fixture().await;
    let addr = fx.gateway.addr;
    // (method, path, body, http, grpc code, field named in BadRequest)
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        u16,
        i32,
        Option<&'static str>,
    );
    let cases: &[Case] = &[
        ("GET", "/v2/nothing", "", 404, 5, None),
        ("DELETE", "/v1/echo/abc", "", 405, 3, None),
        ("POST", "/v1/echo/abc", "{not json", 400, 3, Some("body")),
        (
            "POST",
            "/v1/echo/abc",
            r#"{"nope":1}"#,
            400,
            3,
            Some("nope"),
        ),
        (
            "POST",
            "/v1/echo/abc",
            r#"{"kind":"KIND_NOPE"}"#,
            400,
            3,
            Some("kind"),
        ),
        // A malformed value is named by its path, into nested messages and lists.
        (
            "POST",
            "/v1/echo/abc",
            r#"{"nested":{"inner":{"level":"x"}}}"#,
            400,
            3,
            Some("nested.inner.level"),
        ),
        (
            "POST",
            "/v1/echo/abc",
            r#"{"nums":[1,"two"]}"#,
            400,
            3,
            Some("nums[1]"),
        ),
        (
            "POST",
            "/v1/echo/abc",
            r#"{"nested":{"zap":1}}"#,
            400,
            3,
            Some("nested.zap"),
        ),
        (
            "PUT",
            "/v1/echo/abc/note",
            r#"{"zap":1}"#,
            400,
            3,
            Some("note.zap"),
        ),
        (
            "GET",
            "/v1/deep/x/level/notanint",
            "",
            400,
            3,
            Some("nested.inner.level"),
        ),
        (
            "GET",
            "/v1/echo/abc?kind=KIND_NOPE",
            "",
            400,
            3,
            Some("kind"),
        ),
        ("GET", "/v1/echo/abc?kind=99", "", 400, 3, Some("kind")),
        ("GET", "/v1/echo/abc?big=1.5", "", 400, 3, Some("big")),
        (
            "GET",
            "/v1/echo/abc?when=yesterday",
            "",
            400,
            3,
            Some("when"),
        ),
        ("GET", "/v1/echo/abc?unknown=1", "", 400, 3, Some("unknown")),
        ("GET", "/v1/echo/abc?nested=1", "", 400, 3, Some("nested")),
        ("GET", "/v1/echo/abc?tags=%ZZ", "", 400, 3, Some("tags")),
        ("GET", "/v1/echo/%ZZ", "", 404, 5, None),
    ];
    for (method, path, body, http, code, field) in cases {
        let reply = send(addr, request(method, path, body)).await;
        assert_eq!(
            reply.status.as_u16(),
            *http,
            "{method} {path}: {:?}",
            reply.body
        );
        let json = reply.json();
        assert_eq!(json["code"], *code, "{method} {path}");
        if let Some(field) = field {
            assert_eq!(
                json["details"][0]["fieldViolations"][0]["field"], *field,
                "{method} {path}: {json}"
            );
        }
    }
}

/// Non-JSON bodies get 415; a bad Grpc-Timeout gets 400.
#[tokio::test]
async fn media_type_and_timeout_header() {
    let fx = fixture().await;
    let req = Request::post("/v1/echo/abc")
        .header("content-type", "text/plain")
        .body(Full::from("x"))
        .unwrap();
    let reply = send(fx.gateway.addr, req).await;
    assert_eq!(reply.status, 415);
    assert_eq!(reply.json()["code"], 3);
    let req = Request::get("/v1/echo/abc")
        .header("grpc-timeout", "soon")
        .body(Full::default())
        .unwrap();
    let reply = send(fx.gateway.addr, req).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json()["details"][0]["fieldViolations"][0]["field"],
        "Grpc-Timeout"
    );
}

/// A body over the limit gets 413; with discarding on, unknown fields and parameters pass.
#[tokio::test]
async fn limits_and_discarding() {
    let settings = TranscodeSettings {
        max_body_bytes: 64,
        discard_unknown_fields: true,
        ..Default::default()
    };
    let fx = fixture_with(settings).await;
    let big = format!(r#"{{"id":"{}"}}"#, "x".repeat(100));
    let reply = send(fx.gateway.addr, request("POST", "/v1/literal/only", &big)).await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.json()["code"], 8);
    let reply = send(
        fx.gateway.addr,
        request("POST", "/v1/echo/abc?x=1", r#"{"nope":1,"on":true}"#),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["request"]["on"], true);
    let reply = get(fx.gateway.addr, "/v1/echo/abc?nope=1&on=true").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["request"]["on"], true);
}

/// Grpc-Timeout is enforced by the gateway even when the upstream never answers: 504.
#[tokio::test(start_paused = true)]
async fn deadline_is_enforced() {
    let fx = fixture().await;
    let req = Request::get("/v1/fail/99")
        .header("grpc-timeout", "200m")
        .body(Full::default())
        .unwrap();
    let reply = send(fx.gateway.addr, req).await;
    assert_eq!(reply.status, 504);
    assert_eq!(reply.json()["code"], 4);
}

/// Responses carry the matched route template in their extensions (for metrics by route),
/// and none of the request's; unmatched requests carry none.
#[tokio::test]
async fn responses_name_their_route() {
    use protomesh_gateway::{Gateway, MatchedRoute, Transcoder, Upstreams};
    use tower::ServiceExt as _;
    #[derive(Clone)]
    struct FromTheRequest;
    let transcoder = Transcoder::new(crate::support::pool(), TranscodeSettings::default()).unwrap();
    let gateway = Gateway::new(transcoder, Upstreams::new());
    let mut request = Request::get("/v1/echo/x")
        .body(Full::<bytes::Bytes>::default())
        .unwrap();
    request.extensions_mut().insert(FromTheRequest);
    let response = gateway.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.extensions().get::<FromTheRequest>().is_none());
    let label = response
        .extensions()
        .get::<MatchedRoute>()
        .expect("route label");
    assert_eq!(&*label.template, "GET /v1/echo/{id}");
    assert_eq!(&*label.grpc_method, "gwtest.v1.Conformance.Echo");
    let response = gateway
        .oneshot(
            Request::get("/nowhere")
                .body(Full::<bytes::Bytes>::default())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.extensions().get::<MatchedRoute>().is_none());
}

/// A per-method timeout applies when the request sends no Grpc-Timeout.
#[tokio::test(start_paused = true)]
async fn method_timeout_applies() {
    let mut settings = TranscodeSettings::default();
    settings.method_timeouts.insert(
        "gwtest.v1.Conformance.Fail".into(),
        std::time::Duration::from_millis(300),
    );
    let fx = fixture_with(settings).await;
    let reply = get(fx.gateway.addr, "/v1/fail/99").await;
    assert_eq!(reply.status, 504);
    assert_eq!(reply.json()["message"], "no reply within 300ms");
}
