//! Start-up: descriptor sources (compiled in, image file, server reflection), conflicting and
//! malformed rules, and `run` end to end.

use std::io::Write as _;

use protomesh_gateway::{DescriptorSource, Error, GatewayConfig, TranscodeSettings, Transcoder};
use tokio::{net::TcpListener, sync::oneshot};

use crate::support::{TestUpstream, encoded_set, get, pool};

/// The compiled-in shop contracts expose their REST routes, the order watch included.
#[test]
fn compiled_contracts_build_routes() {
    let transcoder = Transcoder::compiled(TranscodeSettings::default()).expect("shop routes build");
    let routes = transcoder.routes();
    let has = |verb: &str, template: &str| {
        routes
            .iter()
            .any(|r| r.http_method == verb && r.template == template)
    };
    assert!(has("POST", "/v1/orders"));
    assert!(has("GET", "/v1/orders/{order_id}:watch"));
    assert!(has("POST", "/v1/orders/{order_id}:cancel"));
}

/// Compiles a one-file contract from text.
fn compile(text: &str) -> Result<prost_reflect::DescriptorPool, String> {
    let dir = tempfile::tempdir().unwrap();
    let mut file = std::fs::File::create(dir.path().join("t.proto")).unwrap();
    file.write_all(text.as_bytes()).unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let mut compiler =
        protox::Compiler::new([dir.path().to_path_buf(), format!("{root}/../proto").into()])
            .unwrap();
    compiler.include_imports(true);
    compiler
        .open_files(["t.proto"])
        .map_err(|e| e.to_string())?;
    prost_reflect::DescriptorPool::decode(compiler.encode_file_descriptor_set().as_slice())
        .map_err(|e| e.to_string())
}

const HEADER: &str = r#"syntax = "proto3"; package t; import "google/api/annotations.proto";
message R { string id = 1; string other = 2; }"#;

/// Two rules binding one method and path shape are reported at start-up, naming both methods.
#[test]
fn conflicting_rules_name_both_methods() {
    let pool = compile(&format!(
        r#"{HEADER} service S {{
          rpc A(R) returns (R) {{ option (google.api.http) = {{get: "/v1/x/{{id}}"}}; }}
          rpc B(R) returns (R) {{ option (google.api.http) = {{get: "/v1/x/{{other}}"}}; }}
        }}"#
    ))
    .unwrap();
    match Transcoder::new(pool, TranscodeSettings::default()) {
        Err(Error::Conflict {
            first,
            second,
            binding,
        }) => {
            assert_eq!((first.as_str(), second.as_str()), ("t.S.A", "t.S.B"));
            assert_eq!(binding, "GET /v1/x/{other}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// Malformed templates and unknown fields in rules are start-up errors naming the method.
#[test]
fn malformed_rules_are_rejected() {
    for rule in [
        r#"get: "v1/no-slash""#,
        r#"get: "/v1/{missing}""#,
        r#"post: "/v1/x" body: "nope""#,
        r#"get: "/v1/**/x""#,
    ] {
        let pool = compile(&format!(
            r#"{HEADER} service S {{ rpc A(R) returns (R) {{ option (google.api.http) = {{{rule}}}; }} }}"#
        ))
        .unwrap();
        match Transcoder::new(pool, TranscodeSettings::default()) {
            Err(Error::Rule { method, .. }) => assert_eq!(method, "t.S.A", "{rule}"),
            other => panic!("{rule}: expected a rule error, got {other:?}"),
        }
    }
}

/// Serves the test upstream with reflection v1alpha only when `v1alpha`, else v1 only.
async fn upstream_with_reflection(v1alpha: bool) -> (std::net::SocketAddr, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let set = encoded_set();
    let builder =
        tonic_reflection::server::Builder::configure().register_encoded_file_descriptor_set(&set);
    let (v1, v1alpha) = if v1alpha {
        (None, Some(builder.build_v1alpha().unwrap()))
    } else {
        (Some(builder.build_v1().unwrap()), None)
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tonic::transport::Server::builder()
        .add_service(TestUpstream::new(pool()))
        .add_optional_service(v1)
        .add_optional_service(v1alpha)
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener),
            async {
                let _ = stopped.await;
            },
        );
    tokio::spawn(server);
    (addr, stop)
}

/// Runs `run` with `descriptors` in front of a reflection-enabled upstream and checks one call.
async fn run_with(descriptors: DescriptorSource, v1alpha: bool) {
    let (upstream, stop_upstream) = upstream_with_reflection(v1alpha).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = GatewayConfig {
        descriptors,
        default_upstream: Some(format!("http://{upstream}")),
        ..Default::default()
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let gateway = tokio::spawn(protomesh_gateway::run(listener, config, async {
        let _ = stopped.await;
    }));
    let reply = get(addr, "/v1/echo/run?tags=a").await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.json()["request"]["tags"][0], "a");
    stop.send(()).unwrap();
    gateway.await.unwrap().expect("gateway stops cleanly");
    let _ = stop_upstream.send(());
}

/// `run` with descriptors from a `buf build`-style image file serves REST.
#[tokio::test]
async fn run_with_image_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image.binpb");
    std::fs::write(&path, encoded_set()).unwrap();
    run_with(DescriptorSource::Image(path), false).await;
}

/// `run` with descriptors fetched by server reflection v1 serves REST.
#[tokio::test]
async fn run_with_reflection() {
    run_with(DescriptorSource::Reflection, false).await;
}

/// Reflection falls back to v1alpha when the upstream only speaks that.
#[tokio::test]
async fn run_with_reflection_v1alpha() {
    run_with(DescriptorSource::Reflection, true).await;
}
