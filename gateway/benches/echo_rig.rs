//! The benchmark rig: the peers' echo contract (`peers.echo.v1.Echo/Say`, `POST /v1/echo`)
//! served by the protomesh gateway, so `benches/peers.sh` can load it beside the peer rigs.
//!
//! ```text
//! echo_rig standalone ADDR BACKEND   REST on ADDR -> gateway as `protomesh serve gateway`
//!                                    runs it (thread per core, metrics and tracing layer,
//!                                    health, drain, the kit's balanced client) -> gRPC
//!                                    upstream at BACKEND
//! echo_rig embedded ADDR             one kit server: gRPC Echo + REST via `.front(RestLayer)`
//! echo_rig upstream ADDR             a dynamic-message gRPC echo upstream
//! ```
//! Environment: `PEERS_PROTO` (default `/work/shared/peers/proto`), `PROTO_ROOT` (the
//! project's `proto/`, for google/api), `RIG_RUNTIME=current` for a current-thread runtime
//! (the standalone gateway always uses one per thread, as the `protomesh` binary does),
//! `RIG_RUNTIME=multi` for a multi-thread one.

use std::{convert::Infallible, future::Future, pin::Pin, task::Poll};

use http::{Request, Response};
use prost_reflect::DescriptorPool;
use protomesh_gateway::{
    Gateway, RestLayer, TranscodeSettings, Transcoder, Upstreams, standalone, upstream,
};
use tokio::net::TcpListener;

#[global_allocator]
static ALLOCATOR: protomesh_allocator::MiMalloc = protomesh_allocator::MiMalloc;

fn pool() -> DescriptorPool {
    let peers = std::env::var("PEERS_PROTO").unwrap_or_else(|_| "/work/shared/peers/proto".into());
    let root = std::env::var("PROTO_ROOT")
        .unwrap_or_else(|_| format!("{}/../proto", env!("CARGO_MANIFEST_DIR")));
    let mut compiler = protox::Compiler::new([peers, root]).expect("include paths");
    compiler.include_imports(true);
    compiler
        .open_files(["echo.proto"])
        .expect("echo.proto compiles");
    DescriptorPool::decode(compiler.encode_file_descriptor_set().as_slice()).expect("pool")
}

/// `peers.echo.v1.EchoRequest`, as prost-build generates it.
#[derive(Clone, PartialEq, prost::Message)]
struct EchoRequest {
    #[prost(string, tag = "1")]
    message: String,
}

/// `peers.echo.v1.EchoReply`, as prost-build generates it.
#[derive(Clone, PartialEq, prost::Message)]
struct EchoReply {
    #[prost(string, tag = "1")]
    message: String,
    #[prost(string, tag = "2")]
    server: String,
}

/// The echo service as the kit's generated servers run it (prost messages, unary calls on
/// `protomesh::server::grpc`, the call's future boxed by `server::grpc::boxed`): replies
/// with the message and a fixed server tag.
#[derive(Clone)]
struct Echo;

impl tonic::server::NamedService for Echo {
    const NAME: &'static str = "peers.echo.v1.Echo";
}

impl tower::Service<Request<tonic::body::Body>> for Echo {
    type Response = Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<tonic::body::Body>) -> Self::Future {
        protomesh::server::grpc::boxed(move || async move {
            let mut grpc = protomesh::server::grpc::Grpc::new(tonic_prost::ProstCodec::default());
            let say = tower::service_fn(|req: tonic::Request<EchoRequest>| async move {
                let reply = EchoReply {
                    message: req.into_inner().message,
                    server: "protomesh".into(),
                };
                Ok::<_, tonic::Status>(tonic::Response::new(reply))
            });
            Ok(grpc.unary(say, request).await)
        })
    }
}

async fn main_async(args: Vec<String>) {
    let mode = args.get(1).map(String::as_str).unwrap_or("");
    let addr = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listener = TcpListener::bind(&addr).await.expect("bind");
    let pool = pool();
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match mode {
        "standalone" => {
            let backend = args
                .get(3)
                .cloned()
                .unwrap_or_else(|| "127.0.0.1:50052".into());
            let transcoder = Transcoder::new(pool, TranscodeSettings::default()).expect("routes");
            let (reporter, health) = standalone::health();
            let registry = protomesh::metrics::Registry::new();
            let metrics = registry.clone();
            // As `protomesh serve gateway` serves it: thread per core, each thread with its
            // own balanced client of the kit (with its metrics, health checks and balancing),
            // behind the metrics and span layer, with health and drain.
            let make = move || {
                let client =
                    protomesh::client::BalancedChannel::builder(format!("static://{backend}"))
                        .service_name("echo")
                        .metrics_registry(metrics.clone())
                        .build()?;
                let upstreams = Upstreams::single(upstream(client))
                    .with_service(standalone::HEALTH_SERVICE, health.clone());
                Ok::<_, protomesh_gateway::BoxError>(Gateway::new(transcoder.clone(), upstreams))
            };
            let shards = standalone::Shards {
                workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
                make,
            };
            let serving = standalone::Serving {
                grace_period: std::time::Duration::ZERO,
                drain_timeout: std::time::Duration::from_secs(5),
                ..standalone::Serving::default()
            };
            standalone::serve_sharded(
                listener, None, shards, reporter, registry, serving, shutdown,
            )
            .await
            .expect("serve");
        }
        "embedded" => {
            // As a protomesh service serves it: the kit's server stack, REST opted in with
            // its one line. No auth layer, like the peers' rigs.
            let transcoder =
                Transcoder::new(pool.clone(), TranscodeSettings::default()).expect("routes");
            protomesh::server::ServerBuilder::new(protomesh::config::ServerConfig::default())
                .add_service(Echo)
                .front(RestLayer::new(transcoder))
                .serve(listener, None, shutdown)
                .await
                .expect("serve");
        }
        "upstream" => {
            tonic::transport::Server::builder()
                .add_service(Echo)
                .serve_with_incoming_shutdown(
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                    shutdown,
                )
                .await
                .expect("serve");
        }
        _ => eprintln!("usage: echo_rig standalone ADDR BACKEND | embedded ADDR | upstream ADDR"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let current = match std::env::var("RIG_RUNTIME").as_deref() {
        Ok("current") => true,
        Ok("multi") => false,
        _ => args.get(1).map(String::as_str) == Some("standalone"),
    };
    let mut builder = if current {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = builder.enable_all().build().expect("runtime");
    runtime.block_on(main_async(args));
}
