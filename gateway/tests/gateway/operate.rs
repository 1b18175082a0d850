//! The standalone gateway process as an operator sees it: route-labelled metrics and
//! readiness on the admin port, gRPC health on the front door, and the drain sequence.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use protomesh::metrics::Registry;
use protomesh_gateway::{
    Gateway, TranscodeSettings, Transcoder, Upstreams,
    standalone::{self, HEALTH_SERVICE, Serving},
    upstream,
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::support::{get, pool, request, send, spawn_upstream};

/// A standalone gateway (with its admin port) in front of the test upstream.
struct Process {
    addr: SocketAddr,
    admin: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    _upstream: crate::support::Running,
}

async fn start(grace_period: Duration) -> Process {
    let pool = pool();
    let (upstream_server, channel) = spawn_upstream(&pool).await;
    let transcoder = Transcoder::new(pool, TranscodeSettings::default()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (addr, admin_addr) = (listener.local_addr().unwrap(), admin.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = Serving {
        grace_period,
        drain_timeout: Duration::from_secs(5),
        ..Serving::default()
    };
    let (reporter, health) = standalone::health();
    let upstreams = Upstreams::single(upstream(channel)).with_service(HEALTH_SERVICE, health);
    let task = tokio::spawn(standalone::serve(
        listener,
        Some(admin),
        Gateway::new(transcoder, upstreams),
        reporter,
        Registry::new(),
        serving,
        async {
            let _ = stopped.await;
        },
    ));
    Process {
        addr,
        admin: admin_addr,
        stop: Some(stop),
        task,
        _upstream: upstream_server,
    }
}

/// The value of the series `line_start` (name and labels as exposed), if present.
fn series(metrics: &str, line_start: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(line_start)?.trim().parse().ok())
}

/// Requests are counted by route template, method and status, never by raw path; gRPC passed
/// through and unmatched paths get their own bounded labels; gRPC health answers on the port.
#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let process = start(Duration::from_millis(100)).await;
    for id in ["abc", "xyz"] {
        let reply = get(process.addr, &format!("/v1/echo/{id}")).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    let reply = send(process.addr, request("POST", "/v1/echo/abc:cancel", "{}")).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(get(process.addr, "/v1/made-up/123").await.status, 404);

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", process.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let health = HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(health.status, ServingStatus::Serving as i32);

    let metrics = get(process.admin, "/metrics").await;
    assert_eq!(metrics.status, 200);
    let text = String::from_utf8(metrics.body.to_vec()).unwrap();
    let requests = |labels: &str| series(&text, &format!("http_server_requests_total{{{labels}}}"));
    assert_eq!(
        requests(r#"route="/v1/echo/{id}",method="GET",status="200""#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        requests(r#"route="/v1/echo/{id}:cancel",method="POST",status="200""#),
        Some(1.0)
    );
    assert_eq!(
        requests(r#"route="unmatched",method="GET",status="404""#),
        Some(1.0)
    );
    assert_eq!(
        requests(r#"route="grpc",method="POST",status="200""#),
        Some(1.0)
    );
    assert_eq!(
        series(
            &text,
            r#"http_server_request_duration_seconds_count{route="/v1/echo/{id}",method="GET"}"#
        ),
        Some(2.0)
    );
    assert!(!text.contains("/v1/echo/abc"), "a raw path became a label");
    assert!(!text.contains("made-up"), "a raw path became a label");
}

/// On shutdown the gateway turns not ready at once, keeps serving through the grace period,
/// then closes its port and returns.
#[tokio::test]
async fn drain_turns_not_ready_then_closes() {
    let mut process = start(Duration::from_secs(2)).await;
    assert_eq!(get(process.admin, "/readyz").await.status, 200);
    assert_eq!(get(process.admin, "/healthz").await.status, 200);

    process.stop.take().unwrap().send(()).unwrap();
    let mut ready = 200;
    for _ in 0..50 {
        ready = get(process.admin, "/readyz").await.status.as_u16();
        if ready == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(ready, 503, "not ready once draining");
    // Still serving during the grace period: load balancers are only now moving away.
    assert_eq!(get(process.addr, "/v1/echo/abc").await.status, 200);

    let result = tokio::time::timeout(Duration::from_secs(5), &mut process.task)
        .await
        .expect("the gateway returns after the drain")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert!(tokio::net::TcpStream::connect(process.addr).await.is_err());
}

/// Thread per core: every worker thread builds its own gateway (with its own upstream
/// channel) and accepts on the shared port; requests on any thread are served and counted in
/// the one registry, and the drain stops every thread.
#[tokio::test]
async fn sharded_gateway_serves_from_every_thread_and_drains() {
    let pool = pool();
    let (upstream_server, _) = spawn_upstream(&pool).await;
    let target = format!("http://{}", upstream_server.addr);
    let transcoder = Transcoder::new(pool, TranscodeSettings::default()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (addr, admin_addr) = (listener.local_addr().unwrap(), admin.local_addr().unwrap());
    let built = Arc::new(Mutex::new(Vec::new()));
    let make = {
        let built = built.clone();
        move || {
            built
                .lock()
                .unwrap()
                .push(std::thread::current().name().map(str::to_owned));
            let channel = tonic::transport::Endpoint::from_shared(target.clone())?.connect_lazy();
            let upstreams = Upstreams::single(upstream(channel));
            Ok::<_, protomesh_gateway::BoxError>(Gateway::new(transcoder.clone(), upstreams))
        }
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let (reporter, _) = standalone::health();
    let task = tokio::spawn(standalone::serve_sharded(
        listener,
        Some(admin),
        standalone::Shards { workers: 3, make },
        reporter,
        Registry::new(),
        Serving {
            grace_period: Duration::ZERO,
            drain_timeout: Duration::from_secs(5),
            ..Serving::default()
        },
        async {
            let _ = stopped.await;
        },
    ));

    // Each `get` opens its own connection, so the threads take turns accepting.
    for i in 0..30 {
        let reply = get(addr, &format!("/v1/echo/n{i}")).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    let threads = built.lock().unwrap().clone();
    assert_eq!(threads.len(), 3, "one gateway per worker: {threads:?}");
    for name in ["gateway-1", "gateway-2"] {
        assert!(threads.contains(&Some(name.to_owned())), "{threads:?}");
    }
    let metrics = get(admin_addr, "/metrics").await;
    let text = String::from_utf8(metrics.body.to_vec()).unwrap();
    assert_eq!(
        series(
            &text,
            r#"http_server_requests_total{route="/v1/echo/{id}",method="GET",status="200"}"#
        ),
        Some(30.0),
        "{text}"
    );

    stop.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("every thread drains and the gateway returns")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
