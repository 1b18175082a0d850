//! Embedded mode: one tonic server port serves gRPC and REST, and REST calls pass through the
//! same inner stack (here an auth interceptor) as gRPC calls.

use http::Request;
use http_body_util::Full;
use prost_reflect::{DynamicMessage, Value};
use protomesh_gateway::{RestLayer, TranscodeSettings, Transcoder, codec::DynamicCodec};
use tokio::{net::TcpListener, sync::oneshot};
use tonic::{Status, codegen::http::uri::PathAndQuery};

use crate::support::{TestUpstream, pool, send};

/// The inner policy: every call needs `authorization: Bearer ok`. It also passes on the
/// client's address as the connection gave it (`x-seen-peer`), which the test service echoes.
fn require_auth(mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
    if let Some(peer) = request.remote_addr() {
        let value = peer.to_string().parse().unwrap();
        request.metadata_mut().insert("x-seen-peer", value);
    }
    match request
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    {
        Some("Bearer ok") => Ok(request),
        _ => Err(Status::unauthenticated("no valid token")),
    }
}

async fn serve() -> (std::net::SocketAddr, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let transcoder = Transcoder::new(pool(), TranscodeSettings::default()).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tonic::transport::Server::builder()
        .accept_http1(true)
        // Outermost: REST is transcoded here, then runs through everything below as gRPC.
        .layer(RestLayer::new(transcoder))
        .layer(tonic::service::InterceptorLayer::new(require_auth))
        .add_service(TestUpstream::new(pool()))
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener),
            async {
                let _ = stopped.await;
            },
        );
    tokio::spawn(server);
    (addr, stop)
}

/// REST on the server's own port is transcoded and subject to the inner auth policy.
#[tokio::test]
async fn rest_goes_through_the_inner_stack() {
    let (addr, stop) = serve().await;
    let denied = send(
        addr,
        Request::get("/v1/echo/e1").body(Full::default()).unwrap(),
    )
    .await;
    assert_eq!(denied.status, 401);
    assert_eq!(denied.json()["code"], 16);
    let allowed = Request::get("/v1/echo/e1?tags=t")
        .header("authorization", "Bearer ok")
        .body(Full::default())
        .unwrap();
    let reply = send(addr, allowed).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.json()["request"]["id"], "e1");
    assert_eq!(reply.json()["metadata"]["authorization"], "Bearer ok");
    // The inner stack sees the REST client's connection, as it would a gRPC client's.
    let peer = reply.json()["metadata"]["x-seen-peer"].clone();
    let peer: std::net::SocketAddr = peer.as_str().unwrap().parse().unwrap();
    assert_eq!(peer.ip(), std::net::Ipv4Addr::LOCALHOST);
    let _ = stop.send(());
}

/// gRPC on the same port reaches the service untouched, through the same policy.
#[tokio::test]
async fn grpc_on_the_same_port() {
    let (addr, stop) = serve().await;
    let pool = pool();
    let method = pool
        .get_service_by_name("gwtest.v1.Conformance")
        .unwrap()
        .methods()
        .find(|m| m.name() == "Echo")
        .unwrap();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    let path = PathAndQuery::from_static("/gwtest.v1.Conformance/Echo");
    let mut message = DynamicMessage::new(method.input());
    message.set_field_by_name("id", Value::String("g1".into()));

    grpc.ready().await.unwrap();
    let denied = grpc
        .unary(
            tonic::Request::new(message.clone()),
            path.clone(),
            DynamicCodec::new(method.output()),
        )
        .await;
    assert_eq!(denied.unwrap_err().code(), tonic::Code::Unauthenticated);

    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", "Bearer ok".parse().unwrap());
    grpc.ready().await.unwrap();
    let reply = grpc
        .unary(request, path, DynamicCodec::new(method.output()))
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
        Some("g1")
    );
    let _ = stop.send(());
}

/// Embedded mode on the kit's own server, opted into with one line (`.front(RestLayer)`):
/// REST calls obey each method's declared policy exactly as gRPC calls do (authenticated,
/// role, public), and the kit's metrics count them like gRPC calls.
#[tokio::test]
async fn kit_auth_policy_applies_to_rest() {
    use protomesh::{
        auth::{AuthLayer, Issuer, PolicyTable, SigningKey, Verifier},
        config::ServerConfig,
        metrics::Registry,
        server::ServerBuilder,
    };
    let issuer = Issuer::new(SigningKey::generate("k1").unwrap(), "test");
    let verifier = Verifier::new(vec![issuer.public_key()]);
    let policies = PolicyTable::from_pool(&pool()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let transcoder = Transcoder::new(pool(), TranscodeSettings::default()).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let registry = Registry::new();
    let contracts: &'static [u8] = Box::leak(pool().encode_to_vec().into_boxed_slice());
    let config = ServerConfig {
        grace_period: std::time::Duration::ZERO,
        ..ServerConfig::default()
    };
    let server = ServerBuilder::new(config)
        .descriptor_set(contracts)
        .metrics_registry(registry.clone())
        .auth(AuthLayer::new(policies, verifier))
        .add_service(TestUpstream::new(pool()))
        .front(RestLayer::new(transcoder))
        .serve(listener, None, async {
            let _ = stopped.await;
        });
    let served = tokio::spawn(server);
    let customer = issuer
        .issue("u1", &["customer"], std::time::Duration::from_secs(60))
        .unwrap()
        .token;
    let call = |path: &str, token: Option<&str>| {
        let mut builder = Request::get(path);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        builder.body(Full::default()).unwrap()
    };
    // (path, token, HTTP status)
    let cases = [
        ("/v1/echo/a", None, 401),
        ("/v1/echo/a", Some("forged"), 401),
        ("/v1/echo/a", Some(customer.as_str()), 200),
        ("/v1/fail/5", Some(customer.as_str()), 403),
        ("/v1/count/1", None, 200),
    ];
    for (path, token, status) in cases {
        let reply = send(addr, call(path, token)).await;
        assert_eq!(
            reply.status.as_u16(),
            status,
            "{path} {token:?}: {:?}",
            reply.body
        );
    }
    // The REST calls reached the stack's metrics layer as gRPC calls, refused ones included.
    let metrics = registry.encode();
    for (method, kind, code, count) in [
        ("Echo", "unary", "OK", 1),
        ("Echo", "unary", "Unauthenticated", 2),
        ("Fail", "unary", "PermissionDenied", 1),
        ("Count", "server_stream", "OK", 1),
    ] {
        let series = format!(
            r#"grpc_server_handled_total{{grpc_service="gwtest.v1.Conformance",grpc_method="{method}",grpc_type="{kind}",grpc_code="{code}"}} {count}"#
        );
        assert!(metrics.contains(&series), "{series} in\n{metrics}");
    }
    let _ = stop.send(());
    served.await.unwrap().unwrap();
}
