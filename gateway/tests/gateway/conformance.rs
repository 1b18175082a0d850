//! The HttpRule conformance table: templates, percent-encoding, `**`, verbs, body variants,
//! query parameters, additional_bindings, response_body, WKTs and headers.

use http::Request;
use http_body_util::Full;
use serde_json::{Value, json};

use crate::support::{fixture, get, request, send};

/// One case: a request and the JSON pointer values expected in the response.
struct Case {
    method: &'static str,
    path: &'static str,
    body: &'static str,
    expect: &'static [(&'static str, Value)],
}

fn cases() -> Vec<Case> {
    let c = |method, path, body, expect| Case {
        method,
        path,
        body,
        expect,
    };
    vec![
        // Literal + single variable.
        c(
            "GET",
            "/v1/echo/abc",
            "",
            leak(vec![("/request/id", json!("abc"))]),
        ),
        // Single-segment variables decode everything, %2F included.
        c(
            "GET",
            "/v1/echo/a%20b%2Fc",
            "",
            leak(vec![("/request/id", json!("a b/c"))]),
        ),
        c(
            "GET",
            "/v1/echo/%C3%A9t%C3%A9",
            "",
            leak(vec![("/request/id", json!("été"))]),
        ),
        // Nested field with a multi-segment sub-template.
        c(
            "GET",
            "/v1/shelves/s1/books/b2",
            "",
            leak(vec![("/request/nested/name", json!("shelves/s1/books/b2"))]),
        ),
        // `**` captures the rest; %2F stays encoded in it, other escapes decode.
        c(
            "GET",
            "/v1/files/a/b/c.txt",
            "",
            leak(vec![("/request/path", json!("a/b/c.txt"))]),
        ),
        c(
            "GET",
            "/v1/files/a%2Fb/c%20d",
            "",
            leak(vec![("/request/path", json!("a%2Fb/c d"))]),
        ),
        c(
            "GET",
            "/v1/files/",
            "",
            leak(vec![("/request/path", Value::Null)]),
        ),
        // Two variables, nested two levels, typed.
        c(
            "GET",
            "/v1/deep/x/level/7",
            "",
            leak(vec![
                ("/request/nested/inner/deep", json!("x")),
                ("/request/nested/inner/level", json!(7)),
            ]),
        ),
        // Wildcard literal segment.
        c(
            "GET",
            "/v1/wild/anything/x/w1",
            "",
            leak(vec![("/request/id", json!("w1"))]),
        ),
        // Custom verb with body "*".
        c(
            "POST",
            "/v1/echo/abc:cancel",
            r#"{"note":{"text":"t"}}"#,
            leak(vec![
                ("/request/id", json!("abc")),
                ("/request/note/text", json!("t")),
            ]),
        ),
        // body "*": the path wins over the body; int64 and enums in JSON form; both names in.
        c(
            "POST",
            "/v1/echo/abc",
            r#"{"id":"ignored","big":"12345678901234","kind":"KIND_SECOND","nested":{"inner":{"level":2}}}"#,
            leak(vec![
                ("/request/id", json!("abc")),
                ("/request/big", json!("12345678901234")),
                ("/request/kind", json!("KIND_SECOND")),
                ("/request/nested/inner/level", json!(2)),
            ]),
        ),
        // body "*" ignores the query string.
        c(
            "POST",
            "/v1/echo/abc?tags=q",
            "{}",
            leak(vec![("/request/tags", Value::Null)]),
        ),
        // body "field": the body is that field; the query fills the rest.
        c(
            "PUT",
            "/v1/echo/abc/note?tags=x&nested.name=n",
            r#"{"text":"hello"}"#,
            leak(vec![
                ("/request/note/text", json!("hello")),
                ("/request/tags", json!(["x"])),
                ("/request/nested/name", json!("n")),
            ]),
        ),
        // body "field" for a repeated field.
        c(
            "PATCH",
            "/v1/echo/abc/tags",
            r#"["a","b"]"#,
            leak(vec![("/request/tags", json!(["a", "b"]))]),
        ),
        // A fully literal template.
        c(
            "POST",
            "/v1/literal/only",
            r#"{"id":"lit"}"#,
            leak(vec![("/request/id", json!("lit"))]),
        ),
        // Query: repeated, enums by name and number, nested, scalars, WKT string forms.
        c(
            "GET",
            "/v1/echo/q?tags=x&tags=y&kind=2&kinds=KIND_FIRST&kinds=2&nested.inner.level=3&big=-5&on=true&ratio=1.5&nums=1&nums=2&blob=aGk%3D",
            "",
            leak(vec![
                ("/request/tags", json!(["x", "y"])),
                ("/request/kind", json!("KIND_SECOND")),
                ("/request/kinds", json!(["KIND_FIRST", "KIND_SECOND"])),
                ("/request/nested/inner/level", json!(3)),
                ("/request/big", json!("-5")),
                ("/request/on", json!(true)),
                ("/request/ratio", json!(1.5)),
                ("/request/nums", json!([1, 2])),
                ("/request/blob", json!("aGk=")),
            ]),
        ),
        c(
            "GET",
            "/v1/echo/q?when=2024-01-02T03:04:05Z&wait=1.500s&mask=a.b,cD&maybe=7&flag=false",
            "",
            leak(vec![
                ("/request/when", json!("2024-01-02T03:04:05Z")),
                ("/request/wait", json!("1.500s")),
                ("/request/mask", json!("a.b,cD")),
                ("/request/maybe", json!(7)),
                ("/request/flag", json!(false)),
            ]),
        ),
        // `+` is a space in the query; escapes decode.
        c(
            "GET",
            "/v1/echo/q?nested.name=a+b%21",
            "",
            leak(vec![("/request/nested/name", json!("a b!"))]),
        ),
        // A path-bound field is not overwritten by the query.
        c(
            "GET",
            "/v1/echo/p?id=other",
            "",
            leak(vec![("/request/id", json!("p"))]),
        ),
        // response_body: a message field, then a repeated field.
        c(
            "GET",
            "/v1/echo/r/nested?nested.name=n",
            "",
            leak(vec![("/name", json!("n"))]),
        ),
        c(
            "GET",
            "/v1/echo/r/tags?tags=a&tags=b",
            "",
            leak(vec![("", json!(["a", "b"]))]),
        ),
    ]
}

fn leak(v: Vec<(&'static str, Value)>) -> &'static [(&'static str, Value)] {
    Box::leak(v.into_boxed_slice())
}

/// Every case of the conformance table reaches the upstream as the spec says.
#[tokio::test]
async fn conformance_table() {
    let fx = fixture().await;
    let mut failures = Vec::new();
    for case in cases() {
        let reply = send(fx.gateway.addr, request(case.method, case.path, case.body)).await;
        if reply.status != 200 {
            failures.push(format!(
                "{} {}: HTTP {} {:?}",
                case.method, case.path, reply.status, reply.body
            ));
            continue;
        }
        let json = reply.json();
        for (pointer, want) in case.expect {
            let got = json.pointer(pointer).cloned().unwrap_or(Value::Null);
            if got != *want {
                failures.push(format!(
                    "{} {} {pointer}: got {got}, want {want}",
                    case.method, case.path
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A custom-verb binding (HEAD) routes; the method without a rule is not routable.
#[tokio::test]
async fn custom_kind_and_unexposed_method() {
    let fx = fixture().await;
    let head = send(fx.gateway.addr, request("HEAD", "/v1/head/h", "")).await;
    assert_eq!(head.status, 200);
    let hidden = get(fx.gateway.addr, "/gwtest.v1.Conformance/Hidden").await;
    assert_eq!(hidden.status, 404);
    assert!(
        fx.transcoder
            .routes()
            .iter()
            .all(|r| !r.grpc_method.ends_with("Hidden"))
    );
    assert_eq!(fx.transcoder.routes().len(), 16);
}

/// Authorization, trace context, Grpc-Metadata-* and Grpc-Timeout travel as metadata; hop-by-hop
/// headers do not; a request id is generated and echoed; response metadata comes back.
#[tokio::test]
async fn headers_travel_both_ways() {
    let fx = fixture().await;
    let req = Request::get("/v1/echo/h")
        .header("host", "test")
        .header("authorization", "Bearer tok")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .header("grpc-metadata-tenant", "acme")
        .header("grpc-timeout", "5S")
        .header("connection", "keep-alive")
        .body(Full::default())
        .unwrap();
    let reply = send(fx.gateway.addr, req).await;
    assert_eq!(reply.status, 200);
    let json = reply.json();
    let meta = &json["metadata"];
    assert_eq!(meta["authorization"], "Bearer tok");
    assert_eq!(
        meta["traceparent"],
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    );
    assert_eq!(meta["tenant"], "acme");
    assert_eq!(meta["grpc-timeout"], "5000000u");
    assert!(meta.get("connection").is_none());
    let id = reply
        .headers
        .get("x-request-id")
        .expect("request id echoed")
        .to_str()
        .unwrap();
    assert_eq!(meta["x-request-id"], id);
    assert_eq!(reply.headers.get("grpc-metadata-x-echo").unwrap(), "yes");

    let req = Request::get("/v1/echo/h")
        .header("x-request-id", "given-1")
        .body(Full::default())
        .unwrap();
    let reply = send(fx.gateway.addr, req).await;
    assert_eq!(reply.headers.get("x-request-id").unwrap(), "given-1");
    assert_eq!(reply.json()["metadata"]["x-request-id"], "given-1");
}

/// Responses use the proto3 JSON mapping: lowerCamelCase out, int64 as strings.
#[tokio::test]
async fn response_uses_json_mapping() {
    let fx = fixture().await;
    let reply = get(fx.gateway.addr, "/v1/count/1?fail_code=0").await;
    assert_eq!(reply.status, 200);
    let reply = send(
        fx.gateway.addr,
        request("POST", "/v1/echo/m", r#"{"big":9007199254740993}"#),
    )
    .await;
    assert_eq!(reply.json()["request"]["big"], "9007199254740993");
    assert_eq!(
        reply.headers.get("content-type").unwrap(),
        "application/json"
    );
}

/// gRPC requests to the gateway's port are forwarded to the upstream untouched (the native
/// gRPC front door), including methods with no HTTP rule.
#[tokio::test]
async fn grpc_is_forwarded() {
    let fx = fixture().await;
    let pool = crate::support::pool();
    let method = pool
        .get_service_by_name("gwtest.v1.Conformance")
        .and_then(|s| s.methods().find(|m| m.name() == "Hidden"))
        .unwrap();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", fx.gateway.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    let mut message = prost_reflect::DynamicMessage::new(method.input());
    message.set_field_by_name("id", prost_reflect::Value::String("fwd".into()));
    grpc.ready().await.unwrap();
    let reply = grpc
        .unary(
            tonic::Request::new(message),
            tonic::codegen::http::uri::PathAndQuery::from_static("/gwtest.v1.Conformance/Hidden"),
            protomesh_gateway::codec::DynamicCodec::new(method.output()),
        )
        .await
        .unwrap()
        .into_inner();
    let echoed = reply.get_field_by_name("request").unwrap();
    assert_eq!(
        echoed
            .as_message()
            .unwrap()
            .get_field_by_name("id")
            .unwrap()
            .as_str(),
        Some("fwd")
    );
}

/// The gateway answers gRPC server reflection itself, listing every service behind it.
#[tokio::test]
async fn gateway_serves_reflection() {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let fx = fixture().await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", fx.gateway.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = client
        .server_reflection_info(futures_util::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let reply = replies.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("unexpected reply {reply:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"gwtest.v1.Conformance".to_owned()),
        "{names:?}"
    );
}

/// A unary call of plain messages, transcoded straight to and from the wire: the JSON
/// mapping holds both ways (either field name in, lowerCamelCase out, int64 as a string,
/// enums by name, bytes as base64, defaults left out), spellings the direct path leaves to
/// prost-reflect give the same call, and unknown fields are still refused with their name.
#[tokio::test]
async fn plain_messages_go_straight_to_the_wire() {
    let fx = fixture().await;
    let route = fx
        .transcoder
        .routes()
        .into_iter()
        .find(|r| r.template == "/v1/plain")
        .expect("the plain route");
    assert_eq!(route.grpc_method, "gwtest.v1.Conformance.Plain");

    let body = r#"{"id": "p1", "big": "9007199254740993", "nums": [1, -2], "kind": "KIND_SECOND",
        "inner": {"deep": "d", "level": 3}, "blob": "AQI=", "ratio": 0.5,
        "inners": [{"level": 1}, {}], "nope": null}"#;
    let want = r#"{"request":{"id":"p1","big":"9007199254740993","nums":[1,-2],"kind":"KIND_SECOND","inner":{"deep":"d","level":3},"blob":"AQI=","ratio":0.5,"inners":[{"level":1},{}]},"server":"test"}"#;
    let unknown = send(fx.gateway.addr, request("POST", "/v1/plain", body)).await;
    let text = String::from_utf8_lossy(&unknown.body);
    assert_eq!(unknown.status, 400, "{text}");
    assert!(text.contains("nope"), "{text}");

    let body = body.replace(r#", "nope": null"#, "");
    let reply = send(fx.gateway.addr, request("POST", "/v1/plain", &body)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(String::from_utf8_lossy(&reply.body), want);

    // Proto names, a number in a string, an unpadded base64 and an integral float: the
    // direct path declines these, prost-reflect's path reads them the same.
    let other = r#"{"id": "p1", "big": 9007199254740993, "nums": [1.0, "-2"], "kind": 2,
        "inner": {"deep": "d", "level": 3}, "blob": "AQI", "ratio": 0.5,
        "inners": [{"level": 1}, {}], "id": "p1"}"#;
    let reply = send(fx.gateway.addr, request("POST", "/v1/plain", other)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(String::from_utf8_lossy(&reply.body), want);

    let bad = send(
        fx.gateway.addr,
        request("POST", "/v1/plain", r#"{"big": "x"}"#),
    )
    .await;
    let text = String::from_utf8_lossy(&bad.body);
    assert_eq!(bad.status, 400, "{text}");
    assert!(text.contains("big"), "{text}");
}
