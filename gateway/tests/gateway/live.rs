//! Routes added while the gateway runs: a service that is not compiled in gets its routes by
//! server reflection once its upstream answers ([`protomesh_gateway::live`]).

use std::time::Duration;

use protomesh_gateway::{
    TranscodeSettings, Transcoder, Upstreams, descriptors,
    live::{self, Reflected},
    upstream,
};
use tokio::{net::TcpListener, sync::oneshot};
use tonic::transport::Endpoint;

use crate::support::{TestUpstream, encoded_set, get, pool};

const RECOMMENDATIONS: &str = "shop.recommendations.v1.RecommendationService";

/// Whether `transcoder` binds `verb template`.
fn binds(transcoder: &Transcoder, verb: &str, template: &str) -> bool {
    transcoder
        .routes()
        .iter()
        .any(|r| r.http_method == verb && r.template == template)
}

/// `compiled_without` drops the named service's file and routes, and keeps the others.
#[test]
fn compiled_without_drops_only_the_named_services() {
    let all = Transcoder::compiled(TranscodeSettings::default()).unwrap();
    let pool = descriptors::compiled_without(&[RECOMMENDATIONS]).unwrap();
    assert!(pool.get_service_by_name(RECOMMENDATIONS).is_none());
    assert!(
        pool.get_service_by_name("shop.catalog.v1.CatalogService")
            .is_some()
    );
    let fewer = Transcoder::new(pool, TranscodeSettings::default()).unwrap();
    let route = "/v1/products/{product_id}/recommendations";
    assert!(binds(&all, "GET", route));
    assert!(!binds(&fewer, "GET", route));
    assert!(binds(&fewer, "GET", "/v1/products/{product_id}"));
    assert_eq!(fewer.routes().len() + 1, all.routes().len());
}

/// Serves the test contract with reflection v1 on `listener` until the sender is dropped.
fn serve_with_reflection(listener: TcpListener) -> oneshot::Sender<()> {
    let set = encoded_set();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(&set)
        .build_v1()
        .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TestUpstream::new(pool()))
            .add_service(reflection)
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                async {
                    let _ = stopped.await;
                },
            ),
    );
    stop
}

/// While the reflected service is down its routes are absent (404); once it answers, the
/// refresher adds them and REST calls reach it, answered from its own descriptors.
#[tokio::test]
async fn routes_appear_when_the_reflected_service_answers() {
    // Arrange: a gateway over the compiled contracts, and an upstream address with no server.
    let reserved = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_addr = reserved.local_addr().unwrap();
    drop(reserved);
    let channel = Endpoint::from_shared(format!("http://{upstream_addr}"))
        .unwrap()
        .connect_lazy();
    let reflected = vec![Reflected {
        name: "gwtest".into(),
        upstream: upstream(channel),
    }];
    let pool = descriptors::compiled_without(&[]).unwrap();
    let (gateway, mut refresher) = live::live(
        pool,
        TranscodeSettings::default(),
        Upstreams::new(),
        reflected,
    )
    .unwrap();
    refresher.retry = Duration::from_millis(50);
    refresher.attempt_timeout = Duration::from_millis(500);
    let refresh = tokio::spawn(refresher.run());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(protomesh_gateway::server::serve(listener, gateway, async {
        let _ = stopped.await;
    }));
    let before = get(addr, "/v1/echo/run?tags=a").await;
    assert_eq!(before.status, 404, "{:?}", before.body);

    // Act: the upstream comes up; the refresher returns once it has its routes.
    let stop_upstream = serve_with_reflection(TcpListener::bind(upstream_addr).await.unwrap());
    tokio::time::timeout(Duration::from_secs(10), refresh)
        .await
        .expect("routes added within 10 s")
        .unwrap();

    // Assert
    let after = get(addr, "/v1/echo/run?tags=a").await;
    assert_eq!(after.status, 200, "{:?}", after.body);
    assert_eq!(after.json()["request"]["tags"][0], "a");
    assert_eq!(after.json()["request"]["id"], "run");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    drop(stop_upstream);
}

/// An upstream failing with a gRPC status, as the kit's balanced client does when the service
/// has no ready endpoint, answers that status's HTTP code (503), not a 500.
#[tokio::test]
async fn an_upstream_failing_with_a_status_keeps_its_code() {
    // Arrange
    let failing = tower::service_fn(|_: http::Request<tonic::body::Body>| async {
        Err::<http::Response<tonic::body::Body>, _>(tonic::Status::unavailable(
            "registry://gwtest: no ready endpoint (0 known)",
        ))
    });
    let transcoder = Transcoder::new(pool(), TranscodeSettings::default()).unwrap();
    let gateway = protomesh_gateway::Gateway::new(transcoder, Upstreams::single(upstream(failing)));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(protomesh_gateway::server::serve(listener, gateway, async {
        let _ = stopped.await;
    }));

    // Act
    let reply = get(addr, "/v1/echo/run").await;

    // Assert
    assert_eq!(reply.status, 503, "{:?}", reply.body);
    assert_eq!(reply.json()["code"], 14);
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("no ready endpoint"),
        "{:?}",
        reply.body
    );
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
