//! The drain sequence of a kit server.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use protomesh::{
    contracts::protomesh::registry::v1::ListInstancesRequest,
    server::{
        Announcer,
        announce::{AnnounceError, BoxFuture},
    },
};
use tonic_health::{
    pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
        health_server::Health,
    },
    server::{HealthReporter, HealthService},
};

use crate::support::{TestServer, http_get, test_config};

/// Records the announcer calls and the server's health at withdraw time.
struct Recorder {
    /// The server's health, read at withdraw.
    health: Mutex<Option<Arc<HealthService>>>,
    /// What happened, in order.
    events: Arc<Mutex<Vec<String>>>,
}

impl Announcer for Recorder {
    fn announce(
        &self,
        _grpc: std::net::SocketAddr,
        admin: Option<std::net::SocketAddr>,
    ) -> BoxFuture<Result<(), AnnounceError>> {
        self.events
            .lock()
            .unwrap()
            .push(format!("announce admin={}", admin.is_some()));
        Box::pin(async { Ok(()) })
    }

    fn withdraw(&self) -> BoxFuture<()> {
        let health = self.health.lock().unwrap().clone().unwrap();
        let events = self.events.clone();
        Box::pin(async move {
            let request = tonic::Request::new(HealthCheckRequest::default());
            let status = health.check(request).await.unwrap().into_inner().status;
            let status = ServingStatus::try_from(status).unwrap();
            events
                .lock()
                .unwrap()
                .push(format!("withdraw while {}", status.as_str_name()));
        })
    }
}

/// Shutdown turns health NOT_SERVING (Watch sees it), withdraws from discovery after that,
/// keeps serving during the grace period, closes the listener, lets the in-flight call finish,
/// ends health watches, and `serve` returns Ok.
#[tokio::test]
async fn drain_runs_in_order_and_finishes_in_flight_calls() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let recorder = Arc::new(Recorder {
        health: Mutex::new(None),
        events: events.clone(),
    });
    let config = protomesh::config::ServerConfig {
        grace_period: Duration::from_millis(300),
        ..test_config()
    };
    let hook_recorder = recorder.clone();
    let mut server = TestServer::start_with(config, Some(recorder), move |builder| {
        let reporter: HealthReporter = builder.health_reporter();
        *hook_recorder.health.lock().unwrap() =
            Some(Arc::new(HealthService::from_health_reporter(reporter)));
        builder
    })
    .await;
    let channel = server.channel().await;
    let mut watch = HealthClient::new(channel.clone())
        .watch(HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap().status;
    assert_eq!(first, ServingStatus::Serving as i32);

    // A call in flight when the drain starts.
    let mut client = server.client().await;
    let in_flight = tokio::spawn(async move {
        client
            .list_instances(ListInstancesRequest {
                service: "hold".into(),
            })
            .await
    });
    server.gate.entered().await;
    server.begin_shutdown();

    let next = watch.message().await.unwrap().unwrap().status;
    assert_eq!(next, ServingStatus::NotServing as i32);
    let (ready, _) = http_get(server.admin, "/readyz").await;
    assert_eq!(ready, 503);

    // After the grace period the listener closes: new connections are refused.
    let addr = server.addr;
    tokio::time::timeout(Duration::from_secs(5), async {
        while tokio::net::TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("listener closes after the grace period");
    // Health watches end rather than holding the drain open.
    assert!(watch.message().await.map(|m| m.is_none()).unwrap_or(true));

    // The accepted call still completes.
    server.gate.release(1);
    let response = in_flight.await.unwrap().unwrap().into_inner();
    assert_eq!(response.instances[0].service, "hold");
    server.stop().await.unwrap();
    assert_eq!(
        *events.lock().unwrap(),
        vec!["announce admin=true", "withdraw while NOT_SERVING"]
    );
}

/// A call that never finishes cannot hold the drain open past `drain_timeout`.
#[tokio::test]
async fn drain_is_bounded() {
    let config = protomesh::config::ServerConfig {
        drain_timeout: Duration::from_millis(200),
        ..test_config()
    };
    let server = TestServer::start(config).await;
    let mut client = server.client().await;
    let stuck = tokio::spawn(async move {
        client
            .list_instances(ListInstancesRequest {
                service: "hold".into(),
            })
            .await
    });
    server.gate.entered().await;

    // Never released: `stop` panics if serve does not return within 10 s.
    server.stop().await.unwrap();
    assert!(stuck.await.unwrap().is_err());
}
