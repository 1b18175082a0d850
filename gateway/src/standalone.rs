//! The standalone gateway process: a gateway service ([`crate::Gateway`] or
//! [`crate::live::LiveGateway`]) behind [`ObserveLayer`], `grpc.health.v1` on the front door
//! (add [`health`]'s service to the upstreams), the kit's admin port (`/metrics`, `/healthz`, `/readyz`) and the kit's drain
//! sequence: on shutdown, health turns `NOT_SERVING` (so `/readyz` answers 503 and load
//! balancers stop sending), the grace period passes, the listener closes, and requests in flight
//! get up to the drain timeout to finish.
//!
//! [`serve_sharded`] runs the same process thread per core: each extra worker thread has a
//! current-thread runtime and a gateway of its own (its own upstream connections), and
//! accepts on the same listening socket. Requests on one thread never wake another, and the
//! upstream writes of all the requests a thread has in hand go out together.

use std::{future::Future, io, sync::Arc, time::Duration};

use protomesh::{
    metrics::Registry,
    server::{HealthReporter, serve_admin},
};
use tokio::net::TcpListener;
use tonic_health::ServingStatus;
use tower::Layer as _;

use crate::{
    HttpMetrics, ObserveLayer, Upstream,
    server::{self, HttpService, ResponseBody},
    upstream,
    upstream::BoxError,
};

/// The gRPC name of the health service [`health`] gives, for [`crate::Upstreams::with_service`].
pub const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

/// The gRPC health service name the gateway reports under (the empty name: the whole process).
const OVERALL: &str = "";

/// How the standalone gateway holds its connections and leaves on shutdown.
#[derive(Debug, Clone, Copy)]
pub struct Serving {
    /// Time between turning `NOT_SERVING` and closing the listener.
    pub grace_period: Duration,
    /// Bound on waiting for requests in flight once the listener is closed.
    pub drain_timeout: Duration,
    /// How long an HTTP/1.1 connection may write nothing (see
    /// [`server::Limits::header_read_timeout`]).
    pub header_read_timeout: Duration,
}

impl Default for Serving {
    /// The kit server's defaults.
    fn default() -> Self {
        Self {
            grace_period: protomesh::config::server::DEFAULT_GRACE_PERIOD,
            drain_timeout: protomesh::config::server::DEFAULT_DRAIN_TIMEOUT,
            header_read_timeout: protomesh::config::server::DEFAULT_HEADER_READ_TIMEOUT,
        }
    }
}

impl Serving {
    /// The limits of each listening thread.
    fn limits(&self) -> server::Limits {
        server::Limits {
            drain_timeout: Some(self.drain_timeout),
            header_read_timeout: self.header_read_timeout,
        }
    }
}

/// The gateway process's health: the reporter [`serve`] drives, and the `grpc.health.v1`
/// service reading it, to mount as the upstream of [`HEALTH_SERVICE`].
pub fn health() -> (HealthReporter, Upstream) {
    let reporter = HealthReporter::new();
    let service = health_of(&reporter);
    (reporter, service)
}

/// Another `grpc.health.v1` service reading `reporter`, for another gateway of the process
/// (see [`serve_sharded`]).
pub fn health_of(reporter: &HealthReporter) -> Upstream {
    upstream(tonic_health::pb::health_server::HealthServer::new(
        tonic_health::server::HealthService::from_health_reporter(reporter.clone()),
    ))
}

/// Serves `gateway` on `listener` and, when given, the admin routes on `admin`, until
/// `shutdown` resolves; then drains as the [module docs](self) say. `reporter` (from
/// [`health`]) turns `SERVING` now and `NOT_SERVING` on shutdown; metrics go to `registry`.
pub async fn serve<S, B>(
    listener: TcpListener,
    admin: Option<TcpListener>,
    gateway: S,
    reporter: HealthReporter,
    registry: Registry,
    serving: Serving,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()>
where
    S: HttpService<B>,
    B: ResponseBody,
{
    let shards = Shards {
        workers: 1,
        make: move || Ok::<_, BoxError>(gateway.clone()),
    };
    serve_sharded(
        listener, admin, shards, reporter, registry, serving, shutdown,
    )
    .await
}

/// How many gateways serve the port, and how each is made.
#[derive(Debug, Clone)]
pub struct Shards<F> {
    /// Threads serving requests, the caller's included (at least 1); one per core is the
    /// usual choice ([`std::thread::available_parallelism`]).
    pub workers: usize,
    /// Builds one gateway. Called once on the caller's runtime, then once on each extra
    /// thread inside its own runtime, so what the gateway spawns (upstream connections,
    /// discovery, route refreshers) runs on that thread.
    pub make: F,
}

/// [`serve`], thread per core: the caller's task serves the first gateway, and each of
/// `shards.workers - 1` threads runs a current-thread runtime with a gateway of its own,
/// accepting on a clone of `listener`. The health, the metrics, the admin port and the
/// drain sequence are shared; `serve` returns once every thread has drained.
pub async fn serve_sharded<F, S, B>(
    listener: TcpListener,
    admin: Option<TcpListener>,
    shards: Shards<F>,
    reporter: HealthReporter,
    registry: Registry,
    serving: Serving,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()>
where
    F: Fn() -> Result<S, BoxError> + Send + Sync + 'static,
    S: HttpService<B>,
    B: ResponseBody,
{
    let metrics = HttpMetrics::register(&registry);
    let first = (shards.make)().map_err(io::Error::other)?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let make = Arc::new(shards.make);
    let mut threads = Vec::new();
    for index in 1..shards.workers.max(1) {
        let socket = clone_listener(&listener)?;
        threads.push(spawn_shard(
            index,
            socket,
            make.clone(),
            metrics.clone(),
            stopped.clone(),
            serving.limits(),
        )?);
    }
    reporter
        .set_service_status(OVERALL, ServingStatus::Serving)
        .await;
    let service = ObserveLayer::new(metrics).layer(first);

    let (admin_stop, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    let admin_task = admin.map(|listener| {
        let stopped = async {
            let _ = admin_stopped.await;
        };
        tokio::spawn(serve_admin(listener, registry, reporter.clone(), stopped))
    });

    let leaving = async {
        shutdown.await;
        reporter
            .set_service_status(OVERALL, ServingStatus::NotServing)
            .await;
        tracing::info!(grace = ?serving.grace_period, "not serving; draining");
        tokio::time::sleep(serving.grace_period).await;
        let _ = stop.send(true);
    };
    let result = server::serve_with(listener, service, leaving, serving.limits()).await;
    for thread in threads {
        let _ = thread.await;
    }
    let _ = admin_stop.send(());
    if let Some(task) = admin_task {
        let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
    }
    result
}

/// Another handle on the listening socket, for a thread of its own.
fn clone_listener(listener: &TcpListener) -> io::Result<std::net::TcpListener> {
    use std::os::fd::AsFd as _;
    let socket = std::net::TcpListener::from(listener.as_fd().try_clone_to_owned()?);
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Starts gateway thread `index`: a current-thread runtime serving a gateway from `make` on
/// `socket` until `stopped` turns true, then draining, within `limits`. A thread
/// that cannot start or serve logs why at once. The receiver resolves when the thread is done.
fn spawn_shard<F, S, B>(
    index: usize,
    socket: std::net::TcpListener,
    make: Arc<F>,
    metrics: HttpMetrics,
    mut stopped: tokio::sync::watch::Receiver<bool>,
    limits: server::Limits,
) -> io::Result<tokio::sync::oneshot::Receiver<()>>
where
    F: Fn() -> Result<S, BoxError> + Send + Sync + 'static,
    S: HttpService<B>,
    B: ResponseBody,
{
    let (done, finished) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(format!("gateway-{index}"))
        .spawn(move || {
            let run = || -> io::Result<()> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(socket)?;
                    let gateway = make().map_err(io::Error::other)?;
                    let service = ObserveLayer::new(metrics).layer(gateway);
                    let stop = async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    };
                    server::serve_with(listener, service, stop, limits).await
                })
            };
            if let Err(e) = run() {
                tracing::error!(error = %e, thread = index, "a gateway thread stopped serving");
            }
            let _ = done.send(());
        })?;
    Ok(finished)
}
