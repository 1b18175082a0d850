//! `/metrics`, `/healthz` and `/readyz` on the admin port.

use http::uri::PathAndQuery;
use protomesh::contracts::protomesh::registry::v1::{ListInstancesRequest, WatchRequest};
use tonic::Code;

use crate::support::{TestServer, http_get, test_config};

/// The value of the series `name{labels}` in a metrics text, if present.
fn value(text: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{name}{{{labels}}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|v| v.parse().unwrap())
}

/// Calls are counted when started and when handled, by code, for unary and streaming calls;
/// unknown paths collapse into one `unknown` series.
#[tokio::test]
async fn metrics_count_calls_by_code() {
    let server = TestServer::start(test_config()).await;
    let mut client = server.client().await;

    for name in ["", "a", "missing"] {
        let _ = client
            .list_instances(ListInstancesRequest {
                service: name.into(),
            })
            .await;
    }
    let mut stream = client
        .watch(WatchRequest {
            service: "fail".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(stream.message().await.unwrap().is_some());
    assert_eq!(stream.message().await.unwrap_err().code(), Code::DataLoss);
    for path in ["/made.Up/Thing", "/another.Made.Up/Thing"] {
        let mut grpc = tonic::client::Grpc::new(server.channel().await);
        grpc.ready().await.unwrap();
        let status = grpc
            .unary::<_, (), _>(
                tonic::Request::new(()),
                PathAndQuery::from_static(path),
                tonic_prost::ProstCodec::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unimplemented);
    }

    let (code, text) = http_get(server.admin, "/metrics").await;
    assert_eq!(code, 200);
    let list = r#"grpc_service="protomesh.registry.v1.RegistryService",grpc_method="ListInstances",grpc_type="unary""#;
    assert_eq!(value(&text, "grpc_server_started_total", list), Some(3.0));
    let ok = format!(r#"{list},grpc_code="OK""#);
    assert_eq!(value(&text, "grpc_server_handled_total", &ok), Some(2.0));
    let not_found = format!(r#"{list},grpc_code="NotFound""#);
    assert_eq!(
        value(&text, "grpc_server_handled_total", &not_found),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "grpc_server_handling_seconds_count", list),
        Some(3.0)
    );
    let watch = r#"grpc_service="protomesh.registry.v1.RegistryService",grpc_method="Watch",grpc_type="server_stream",grpc_code="DataLoss""#;
    assert_eq!(value(&text, "grpc_server_handled_total", watch), Some(1.0));
    let unknown = r#"grpc_service="unknown",grpc_method="unknown",grpc_type="unknown",grpc_code="Unimplemented""#;
    assert_eq!(
        value(&text, "grpc_server_handled_total", unknown),
        Some(2.0)
    );
    assert!(
        !text.contains("made.Up"),
        "made-up paths never become labels"
    );
    server.stop().await.unwrap();
}

/// `/healthz` and `/readyz` answer 200 while serving, and `/metrics` serves a registry the
/// process shares with other parts (here a counter of its own).
#[tokio::test]
async fn admin_probes_answer_while_serving() {
    let registry = protomesh::metrics::Registry::new();
    let custom = prometheus_client::metrics::counter::Counter::<u64>::default();
    registry.register("app_widgets", "Widgets made", custom.clone());
    custom.inc_by(7);
    let shared = registry.clone();
    let server = TestServer::start_with(test_config(), None, |b| b.metrics_registry(shared)).await;
    let status = crate::support::health(server.channel().await, "").await;
    assert!(status.is_ok());
    let (_, text) = http_get(server.admin, "/metrics").await;
    assert!(text.contains("app_widgets_total 7"), "{text}");
    let check = r#"grpc_server_started_total{grpc_service="grpc.health.v1.Health",grpc_method="Check",grpc_type="unary"} 1"#;
    assert!(text.contains(check), "{text}");
    assert_eq!(
        http_get(server.admin, "/healthz").await,
        (200, "ok\n".into())
    );
    assert_eq!(
        http_get(server.admin, "/readyz").await,
        (200, "ready\n".into())
    );
    assert_eq!(http_get(server.admin, "/nope").await.0, 404);
    server.stop().await.unwrap();
}
