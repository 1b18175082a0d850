//! The load rig of `scripts/bench`: servers and a balanced load client, one role per process,
//! so the harness can pin each to its own core and read its CPU time from `/proc`.
//!
//! ```text
//! bench_rig bare ADDR               RegistryService/ListInstances on a bare tonic server (as
//!                                   tonic's own generated code runs it)
//! bench_rig kit ADDR                the same service behind the kit's full ServerBuilder stack
//! bench_rig replica ADDR NAME MS    a kit server whose every call takes MS ms more; replies
//!                                   name the replica, so the client can count who served it
//! bench_rig load MODE TARGETS CONC WARMUP_S SECONDS
//!                                   closed-loop load: CONC callers, MODE = direct (one tonic
//!                                   Channel to the first target), p2c or rr (the kit's
//!                                   BalancedChannel over every comma-separated target);
//!                                   prints one JSON object
//! ```
//!
//! Build: `cargo build --release -p protomesh --example bench_rig`.

#[path = "echo.rs"]
mod echo;

use echo::Echo;
use std::{
    collections::BTreeMap,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use protomesh::{
    auth::{AuthLayer, PolicyTable, SigningKey, Verifier},
    client::{BalancedChannel, Balancer},
    config::ServerConfig,
    contracts::protomesh::registry::v1::{
        ListInstancesRequest,
        registry_service_client::RegistryServiceClient,
        registry_service_server::{RegistryService, RegistryServiceServer},
    },
    server::ServerBuilder,
};
use tokio::net::TcpListener;

#[global_allocator]
static ALLOCATOR: protomesh_allocator::MiMalloc = protomesh_allocator::MiMalloc;
use tonic::client::GrpcService;

/// Serves `echo` on `listener` on a bare tonic server, until ctrl-c.
async fn serve_bare(listener: TcpListener, echo: Echo) -> anyhow::Result<()> {
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_service(TonicRegistry(Arc::new(echo)))
        .serve_with_incoming_shutdown(incoming, ctrl_c())
        .await?;
    Ok(())
}

/// `echo`'s `ListInstances` run as tonic's own generated server runs a unary method (with
/// `tonic::server::Grpc`): the bare baseline. The kit's generated `RegistryServiceServer`
/// runs unary calls with `protomesh::server::grpc` instead, so it is not bare tonic.
#[derive(Clone)]
struct TonicRegistry(Arc<Echo>);

impl tonic::server::NamedService for TonicRegistry {
    const NAME: &'static str = "protomesh.registry.v1.RegistryService";
}

impl tower_service::Service<http::Request<tonic::body::Body>> for TonicRegistry {
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let echo = self.0.clone();
        Box::pin(async move {
            if request.uri().path() != "/protomesh.registry.v1.RegistryService/ListInstances" {
                return Ok(tonic::Status::unimplemented("").into_http());
            }
            let method = tower::service_fn(move |call| {
                let echo = echo.clone();
                async move { echo.list_instances(call).await }
            });
            let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
            Ok(grpc.unary(method, request).await)
        })
    }
}

/// Serves `echo` on `listener` behind the kit's whole stack (metrics, shedding, deadlines,
/// auth, limits, health, reflection), until ctrl-c.
async fn serve_kit(listener: TcpListener, echo: Echo) -> anyhow::Result<()> {
    let key = SigningKey::generate("bench")?;
    let auth = AuthLayer::new(PolicyTable::protomesh()?, Verifier::new(vec![key.public()]));
    ServerBuilder::new(ServerConfig::default())
        .auth(auth)
        .add_service(RegistryServiceServer::new(echo))
        .serve(listener, None, ctrl_c())
        .await?;
    Ok(())
}

async fn ctrl_c() {
    let _ = tokio::signal::ctrl_c().await;
}

/// What one closed-loop run measured.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    errors: u64,
    served_by: BTreeMap<String, u64>,
}

/// Runs `conc` callers through clones of `channel` for `warmup` (discarded), then `window`.
async fn closed_loop<C>(channel: C, conc: usize, warmup: Duration, window: Duration) -> (Tally, f64)
where
    C: GrpcService<tonic::body::Body> + Clone + Send + 'static,
    C::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    C::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <C::ResponseBody as http_body::Body>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
    C::Future: Send,
{
    let started = Instant::now();
    let measure_from = started + warmup;
    let end = measure_from + window;
    let workers: Vec<_> = (0..conc)
        .map(|_| {
            let mut client = RegistryServiceClient::new(channel.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                loop {
                    let begin = Instant::now();
                    if begin >= end {
                        break;
                    }
                    let result = client
                        .list_instances(ListInstancesRequest {
                            service: "bench".into(),
                        })
                        .await;
                    if begin < measure_from {
                        continue;
                    }
                    match result {
                        Ok(reply) => {
                            tally.latencies_us.push(begin.elapsed().as_micros() as u64);
                            let name = reply
                                .into_inner()
                                .instances
                                .pop()
                                .map(|i| i.instance_id)
                                .unwrap_or_default();
                            *tally.served_by.entry(name).or_default() += 1;
                        }
                        Err(_) => tally.errors += 1,
                    }
                }
                tally
            })
        })
        .collect();
    let mut total = Tally::default();
    for worker in workers {
        let tally = worker.await.expect("worker");
        total.latencies_us.extend(tally.latencies_us);
        total.errors += tally.errors;
        for (name, count) in tally.served_by {
            *total.served_by.entry(name).or_default() += count;
        }
    }
    let seconds = Instant::now()
        .min(end)
        .saturating_duration_since(measure_from)
        .as_secs_f64()
        .max(window.as_secs_f64());
    (total, seconds)
}

/// The load client: prints one JSON object with throughput, percentiles and who served.
async fn load(args: &[String]) -> anyhow::Result<()> {
    let [mode, targets, conc, warmup, seconds] = args else {
        anyhow::bail!("usage: bench_rig load MODE TARGETS CONC WARMUP_S SECONDS");
    };
    let conc: usize = conc.parse()?;
    let warmup = Duration::from_secs_f64(warmup.parse()?);
    let window = Duration::from_secs_f64(seconds.parse()?);
    let addresses: Vec<&str> = targets.split(',').collect();
    let (mut tally, seconds) = match mode.as_str() {
        "direct" => {
            let channel =
                tonic::transport::Endpoint::from_shared(format!("http://{}", addresses[0]))?
                    .connect()
                    .await?;
            closed_loop(channel, conc, warmup, window).await
        }
        "p2c" | "rr" => {
            let balancer = if mode == "p2c" {
                Balancer::P2cPeakEwma
            } else {
                Balancer::RoundRobin
            };
            let channel = BalancedChannel::builder(format!("static://{targets}"))
                .balancer(balancer)
                .build()?;
            let want = addresses.len();
            tokio::time::timeout(
                Duration::from_secs(10),
                channel.wait_for(|e| e.iter().filter(|e| e.is_ready()).count() == want),
            )
            .await
            .map_err(|_| anyhow::anyhow!("replicas never all ready"))?;
            closed_loop(channel, conc, warmup, window).await
        }
        other => anyhow::bail!("unknown load mode {other:?} (direct, p2c, rr)"),
    };
    tally.latencies_us.sort_unstable();
    let at = |q: f64| -> f64 {
        let v = &tally.latencies_us;
        if v.is_empty() {
            return 0.0;
        }
        v[((v.len() as f64 * q) as usize).min(v.len() - 1)] as f64 / 1000.0
    };
    let served: Vec<String> = tally
        .served_by
        .iter()
        .map(|(name, count)| format!("\"{name}\":{count}"))
        .collect();
    println!(
        "{{\"requests\":{},\"errors\":{},\"seconds\":{seconds:.3},\"rps\":{:.1},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"p999_ms\":{:.3},\"served_by\":{{{}}}}}",
        tally.latencies_us.len(),
        tally.errors,
        tally.latencies_us.len() as f64 / seconds,
        at(0.50),
        at(0.99),
        at(0.999),
        served.join(",")
    );
    Ok(())
}

async fn run(args: Vec<String>) -> anyhow::Result<()> {
    let mode = args.get(1).map(String::as_str).unwrap_or("");
    if mode == "load" {
        return load(&args[2..]).await;
    }
    let addr: SocketAddr = args
        .get(2)
        .ok_or_else(|| anyhow::anyhow!("missing ADDR"))?
        .parse()?;
    let listener = TcpListener::bind(addr).await?;
    match mode {
        "bare" => serve_bare(listener, echo("bare", 0)).await,
        "kit" => serve_kit(listener, echo("kit", 0)).await,
        "replica" => {
            let name = args.get(3).map(String::as_str).unwrap_or("replica");
            let ms = args.get(4).map(|m| m.parse()).transpose()?.unwrap_or(0);
            serve_kit(listener, echo(name, ms)).await
        }
        other => anyhow::bail!("unknown mode {other:?}: bare | kit | replica | load"),
    }
}

fn echo(name: &str, delay_ms: u64) -> Echo {
    Echo::new(name, Duration::from_millis(delay_ms))
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(std::env::args().collect()))
}
