//! A test service and helpers to run it behind the kit's server.

use std::{pin::Pin, sync::Arc, time::Duration};

use protomesh::{
    config::ServerConfig,
    contracts::protomesh::registry::v1::{
        DeregisterRequest, DeregisterResponse, HeartbeatRequest, HeartbeatResponse, Instance,
        ListInstancesRequest, ListInstancesResponse, RegisterRequest, RegisterResponse, Snapshot,
        WatchRequest, WatchResponse,
        registry_service_client::RegistryServiceClient,
        registry_service_server::{RegistryService, RegistryServiceServer},
        watch_response::Event,
    },
    error::{invalid_argument, not_found},
    server::{Announcer, Deadline, ServerBuilder, ServerError},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{Semaphore, mpsc, oneshot},
    task::JoinHandle,
};
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, transport::Channel};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// The registered name of the test service.
pub(crate) const SERVICE: &str = "protomesh.registry.v1.RegistryService";

/// Lets a test hold calls inside the handler and release them.
#[derive(Clone)]
pub(crate) struct Gate {
    /// Receives one message per call that entered a held handler.
    entered: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<()>>>,
    /// Permits held calls to finish.
    release: Arc<Semaphore>,
}

impl Gate {
    /// Waits until one held call has entered its handler.
    pub(crate) async fn entered(&self) {
        self.entered
            .lock()
            .await
            .recv()
            .await
            .expect("service alive");
    }

    /// Lets `n` held calls finish.
    pub(crate) fn release(&self, n: usize) {
        self.release.add_permits(n);
    }
}

/// A registry-contract service whose behaviour the request picks, by `service` name:
/// `""` answers at once (echoing the call's deadline), `missing` is NOT_FOUND,
/// `unavailable` is UNAVAILABLE, `hold` waits
/// for the gate, `forever` never answers. `Register` without an instance is
/// INVALID_ARGUMENT. `Watch` sends a snapshot then waits forever (`fail`: then DATA_LOSS).
struct Probe {
    /// Tells the gate a held call entered.
    entered: mpsc::UnboundedSender<()>,
    /// Released by the gate.
    release: Arc<Semaphore>,
}

/// An instance named `name` carrying the call's remaining deadline, in ms.
fn instance(name: &str, deadline: Option<Deadline>) -> Instance {
    let mut instance = Instance {
        service: name.to_string(),
        ..Default::default()
    };
    if let Some(deadline) = deadline {
        instance.metadata.insert(
            "deadline_ms".into(),
            deadline.remaining().as_millis().to_string(),
        );
    }
    instance
}

#[tonic::async_trait]
impl RegistryService for Probe {
    async fn register(
        &self,
        request: Request<RegisterRequest>,
    ) -> Result<Response<RegisterResponse>, Status> {
        match request.into_inner().instance {
            None => Err(invalid_argument("instance", "is required")),
            Some(_) => Ok(Response::new(RegisterResponse::default())),
        }
    }

    async fn heartbeat(
        &self,
        _: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        Err(Status::unimplemented("not in the probe"))
    }

    async fn deregister(
        &self,
        _: Request<DeregisterRequest>,
    ) -> Result<Response<DeregisterResponse>, Status> {
        Err(Status::unimplemented("not in the probe"))
    }

    async fn list_instances(
        &self,
        request: Request<ListInstancesRequest>,
    ) -> Result<Response<ListInstancesResponse>, Status> {
        let deadline = Deadline::of(&request);
        let name = request.into_inner().service;
        match name.as_str() {
            "missing" => return Err(not_found("service", "missing")),
            "unavailable" => return Err(Status::unavailable("asked to be unavailable")),
            "hold" => {
                let _ = self.entered.send(());
                self.release
                    .acquire()
                    .await
                    .expect("gate never closes")
                    .forget();
            }
            "forever" => std::future::pending::<()>().await,
            _ => {}
        }
        let mut instance = instance(&name, deadline);
        // The deadline outgoing calls through the kit's client would carry.
        if let Some(at) = protomesh::client::deadline::current() {
            let ms = at
                .saturating_duration_since(tokio::time::Instant::now())
                .as_millis();
            instance.metadata.insert("scope_ms".into(), ms.to_string());
        }
        Ok(Response::new(ListInstancesResponse {
            instances: vec![instance],
        }))
    }

    type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchResponse, Status>> + Send>>;

    async fn watch(
        &self,
        request: Request<WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let snapshot = Ok(WatchResponse {
            event: Some(Event::Snapshot(Snapshot::default())),
        });
        let first = tokio_stream::iter([snapshot]);
        let stream: Self::WatchStream = if request.into_inner().service == "fail" {
            Box::pin(first.chain(tokio_stream::iter([Err(Status::data_loss("lost"))])))
        } else {
            Box::pin(first.chain(tokio_stream::pending()))
        };
        Ok(Response::new(stream))
    }
}

/// A config for tests: no grace period, a short drain bound.
pub(crate) fn test_config() -> ServerConfig {
    ServerConfig {
        grace_period: Duration::ZERO,
        drain_timeout: Duration::from_secs(5),
        ..ServerConfig::default()
    }
}

/// A running test server.
pub(crate) struct TestServer {
    /// The gRPC address.
    pub(crate) addr: std::net::SocketAddr,
    /// The admin HTTP address.
    pub(crate) admin: std::net::SocketAddr,
    /// Holds and releases calls.
    pub(crate) gate: Gate,
    /// Starts the drain.
    shutdown: Option<oneshot::Sender<()>>,
    /// The serve task.
    task: JoinHandle<Result<(), ServerError>>,
}

impl TestServer {
    /// Starts the probe behind the kit with `config`.
    pub(crate) async fn start(config: ServerConfig) -> Self {
        Self::start_with(config, None, |b| b).await
    }

    /// Starts the probe with an announcer and a hook on the builder.
    pub(crate) async fn start_with(
        config: ServerConfig,
        announcer: Option<Arc<dyn Announcer>>,
        hook: impl FnOnce(ServerBuilder) -> ServerBuilder,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (addr, admin_addr) = (listener.local_addr().unwrap(), admin.local_addr().unwrap());
        let (entered_tx, entered_rx) = mpsc::unbounded_channel();
        let release = Arc::new(Semaphore::new(0));
        let probe = Probe {
            entered: entered_tx,
            release: release.clone(),
        };
        let mut builder = ServerBuilder::new(config).add_service(RegistryServiceServer::new(probe));
        if let Some(announcer) = announcer {
            builder = builder.announcer(announcer);
        }
        let builder = hook(builder);
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(builder.serve(listener, Some(admin), async {
            let _ = stop.await;
        }));
        Self {
            addr,
            admin: admin_addr,
            gate: Gate {
                entered: Arc::new(tokio::sync::Mutex::new(entered_rx)),
                release,
            },
            shutdown: Some(shutdown),
            task,
        }
    }

    /// A channel to the server.
    pub(crate) async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// A client of the probe.
    pub(crate) async fn client(&self) -> RegistryServiceClient<Channel> {
        RegistryServiceClient::new(self.channel().await)
    }

    /// Starts the drain (the shutdown future completes).
    pub(crate) fn begin_shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }

    /// Starts the drain and waits for `serve` to return (at most 10 s).
    pub(crate) async fn stop(mut self) -> Result<(), ServerError> {
        self.begin_shutdown();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("serve returns within its drain bound")
            .expect("serve task does not panic")
    }
}

/// The health status of `service` on `channel`.
pub(crate) async fn health(channel: Channel, service: &str) -> Result<ServingStatus, Status> {
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_string(),
        })
        .await?;
    Ok(ServingStatus::try_from(response.into_inner().status).unwrap())
}

/// A plain HTTP/1.1 GET; returns the status code and the body.
pub(crate) async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap();
    (code, body.to_string())
}

/// A raw HTTP/2 connection as a gRPC transport. Unlike tonic's `Channel` it has no timer of
/// its own for `grpc-timeout`, so tests see exactly what the server answers at a deadline.
#[derive(Clone)]
pub(crate) struct RawH2(hyper::client::conn::http2::SendRequest<tonic::body::Body>);

impl tower::Service<http::Request<tonic::body::Body>> for RawH2 {
    type Response = http::Response<hyper::body::Incoming>;
    type Error = hyper::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(self.0.send_request(request))
    }
}

/// A probe client over a [`RawH2`] connection to `addr`.
pub(crate) async fn raw_client(addr: std::net::SocketAddr) -> RegistryServiceClient<RawH2> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (send, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let origin = format!("http://{addr}").parse().unwrap();
    RegistryServiceClient::with_origin(RawH2(send), origin)
}
