//! Test parts: replicas and registries on their own runtimes (so they can die abruptly),
//! and client settings fast enough for tests.

use std::{
    future::Future,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use protomesh::{
    client::{BalancedChannel, ClientConfig},
    contracts::shop::catalog::v1::{
        CreateProductRequest, CreateProductResponse, GetProductRequest, GetProductResponse,
        ListProductsRequest, ListProductsResponse, Product, ReleaseStockRequest,
        ReleaseStockResponse, ReserveStockRequest, ReserveStockResponse, UpdateProductPriceRequest,
        UpdateProductPriceResponse,
        catalog_service_client::CatalogServiceClient,
        catalog_service_server::{CatalogService, CatalogServiceServer},
    },
};
use protomesh_registry::RegistryConfig;
use tokio::{runtime::Runtime, sync::oneshot};
use tonic::{Request, Response, Status, transport::server::TcpIncoming};
use tonic_health::{ServingStatus, server::HealthReporter};

/// A future running on its own runtime, standing for a separate process: [`Isolated::kill`]
/// drops every task and socket at once, like SIGKILL.
pub(crate) struct Isolated {
    runtime: Option<Runtime>,
}

impl Isolated {
    /// Runs `task` on a new one-thread runtime.
    pub(crate) fn spawn<F>(task: F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.spawn(task);
        Self {
            runtime: Some(runtime),
        }
    }

    /// Stops everything abruptly: tasks dropped, connections reset, the listener closed
    /// by the time this returns (so the port can be bound again).
    pub(crate) fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            tokio::task::block_in_place(|| runtime.shutdown_timeout(Duration::from_secs(5)));
        }
    }
}

impl Drop for Isolated {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Binds 127.0.0.1 on `port` (0: any) for a server that is started later.
pub(crate) fn bind(port: u16) -> std::net::TcpListener {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    listener
}

/// What one replica saw.
#[derive(Debug, Default)]
pub(crate) struct ReplicaStats {
    /// GetProduct/ListProducts calls received.
    pub(crate) reads: AtomicU64,
    /// CreateProduct calls received.
    pub(crate) creates: AtomicU64,
    /// Added latency per call, in milliseconds.
    pub(crate) delay_ms: AtomicU64,
    /// Answer every call with UNAVAILABLE.
    pub(crate) unavailable: AtomicBool,
    /// The `grpc-timeout` and `traceparent` of the last ListProducts.
    pub(crate) last_headers: Mutex<(Option<String>, Option<String>)>,
}

#[derive(Clone)]
struct Catalog {
    name: String,
    stats: Arc<ReplicaStats>,
}

impl Catalog {
    async fn enter(&self) -> Result<(), Status> {
        let delay = self.stats.delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if self.stats.unavailable.load(Ordering::Relaxed) {
            return Err(Status::unavailable(format!("{} is unavailable", self.name)));
        }
        Ok(())
    }

    fn product(&self, id: String) -> Product {
        Product {
            product_id: id,
            name: self.name.clone(),
            ..Product::default()
        }
    }
}

#[tonic::async_trait]
impl CatalogService for Catalog {
    async fn list_products(
        &self,
        request: Request<ListProductsRequest>,
    ) -> Result<Response<ListProductsResponse>, Status> {
        self.stats.reads.fetch_add(1, Ordering::Relaxed);
        let header = |name: &str| {
            request
                .metadata()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        *self.stats.last_headers.lock().unwrap() = (header("grpc-timeout"), header("traceparent"));
        self.enter().await?;
        Ok(Response::new(ListProductsResponse {
            products: vec![self.product(String::new())],
            next_page_token: String::new(),
        }))
    }

    async fn get_product(
        &self,
        request: Request<GetProductRequest>,
    ) -> Result<Response<GetProductResponse>, Status> {
        self.stats.reads.fetch_add(1, Ordering::Relaxed);
        self.enter().await?;
        Ok(Response::new(GetProductResponse {
            product: Some(self.product(request.into_inner().product_id)),
        }))
    }

    async fn create_product(
        &self,
        request: Request<CreateProductRequest>,
    ) -> Result<Response<CreateProductResponse>, Status> {
        self.stats.creates.fetch_add(1, Ordering::Relaxed);
        self.enter().await?;
        Ok(Response::new(CreateProductResponse {
            product: Some(self.product(request.into_inner().sku)),
        }))
    }

    async fn update_product_price(
        &self,
        _: Request<UpdateProductPriceRequest>,
    ) -> Result<Response<UpdateProductPriceResponse>, Status> {
        Err(Status::unimplemented("not in the test replica"))
    }

    async fn reserve_stock(
        &self,
        _: Request<ReserveStockRequest>,
    ) -> Result<Response<ReserveStockResponse>, Status> {
        Err(Status::unimplemented("not in the test replica"))
    }

    async fn release_stock(
        &self,
        _: Request<ReleaseStockRequest>,
    ) -> Result<Response<ReleaseStockResponse>, Status> {
        Err(Status::unimplemented("not in the test replica"))
    }
}

/// A catalog service answering as `name`, and what it sees.
pub(crate) fn catalog(
    name: &str,
) -> (CatalogServiceServer<impl CatalogService>, Arc<ReplicaStats>) {
    let stats = Arc::new(ReplicaStats::default());
    let catalog = Catalog {
        name: name.to_owned(),
        stats: stats.clone(),
    };
    (CatalogServiceServer::new(catalog), stats)
}

/// A catalog replica with grpc.health.v1, on 127.0.0.1, that names itself in every answer.
pub(crate) struct Replica {
    /// The name it answers with.
    pub(crate) name: String,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// What it saw.
    pub(crate) stats: Arc<ReplicaStats>,
    health: HealthReporter,
    stop: Option<oneshot::Sender<()>>,
    stopped: Option<oneshot::Receiver<()>>,
    process: Isolated,
}

impl Replica {
    /// Binds and starts serving; SERVING from the first call.
    pub(crate) fn start(name: &str) -> Self {
        let listener = bind(0);
        let addr = listener.local_addr().unwrap();
        let (catalog, stats) = catalog(name);
        let (health, health_service) = tonic_health::server::health_reporter();
        let (stop, stop_rx) = oneshot::channel();
        let (stopped_tx, stopped) = oneshot::channel();
        let process = Isolated::spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let _ = tonic::transport::Server::builder()
                .add_service(health_service)
                .add_service(catalog)
                .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                    let _ = stop_rx.await;
                })
                .await;
            let _ = stopped_tx.send(());
        });
        Self {
            name: name.to_owned(),
            addr,
            stats,
            health,
            stop: Some(stop),
            stopped: Some(stopped),
            process,
        }
    }

    /// `host:port` of this replica.
    pub(crate) fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Sets the whole server's health status.
    pub(crate) async fn set_serving(&self, serving: bool) {
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.health.set_service_status("", status).await;
    }

    /// Dies abruptly: every connection reset, nothing answered.
    pub(crate) fn kill(&mut self) {
        self.process.kill();
    }

    /// Stops gracefully: health watches end, in-flight calls finish, the listener closes.
    pub(crate) async fn stop(&mut self) {
        self.health.clear_service_status("").await;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(stopped) = self.stopped.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), stopped).await;
        }
        self.process.kill();
    }
}

/// A registry on its own runtime.
pub(crate) struct Registry {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    process: Isolated,
}

impl Registry {
    /// Starts a registry on `port` (0: any) with `config`.
    pub(crate) fn start(port: u16, config: RegistryConfig) -> Self {
        let listener = bind(port);
        let addr = listener.local_addr().unwrap();
        let process = Isolated::spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let _ = protomesh_registry::run(listener, config, std::future::pending()).await;
        });
        Self { addr, process }
    }

    /// Dies abruptly.
    pub(crate) fn kill(&mut self) {
        self.process.kill();
    }
}

/// Registry settings for tests: quick health checks.
pub(crate) fn registry_config() -> RegistryConfig {
    RegistryConfig {
        health_interval: Duration::from_millis(100),
        health_timeout: Duration::from_millis(500),
        health_failures: 2,
        ..RegistryConfig::default()
    }
}

/// Client settings for tests: quick reconnects.
pub(crate) fn client_config() -> ClientConfig {
    let mut config = ClientConfig::default();
    config.discovery.backoff_min = Duration::from_millis(20);
    config.discovery.backoff_max = Duration::from_millis(200);
    config.discovery.dns_interval = Duration::from_millis(200);
    config
}

/// A static-target client over these replicas.
pub(crate) fn static_client(replicas: &[&Replica], config: ClientConfig) -> BalancedChannel {
    let addresses: Vec<String> = replicas.iter().map(|r| r.address()).collect();
    BalancedChannel::builder(format!("static://{}", addresses.join(",")))
        .config(config)
        .build()
        .expect("client")
}

/// Waits (at most 10 s) until the client has exactly these ready endpoint ids.
pub(crate) async fn wait_ready(channel: &BalancedChannel, mut ids: Vec<String>) {
    ids.sort();
    let waited = tokio::time::timeout(
        Duration::from_secs(10),
        channel.wait_for(|endpoints| {
            let ready: Vec<&str> = endpoints
                .iter()
                .filter(|e| e.is_ready())
                .map(|e| e.id.as_str())
                .collect();
            ready == ids.iter().map(String::as_str).collect::<Vec<_>>()
        }),
    )
    .await;
    assert!(
        waited.is_ok(),
        "ready set never became {ids:?}: {:?}",
        channel.endpoints()
    );
}

/// Which replica answered a GetProduct for `id`.
pub(crate) async fn served_by(
    client: &mut CatalogServiceClient<BalancedChannel>,
    id: &str,
) -> String {
    client
        .get_product(GetProductRequest {
            product_id: id.to_owned(),
        })
        .await
        .expect("get_product")
        .into_inner()
        .product
        .expect("product")
        .name
}
