//! The cost of the kit's server stack: the same unary call on a bare tonic server and on a
//! `ServerBuilder` server (metrics, shedding, deadlines, auth, message limit, health and
//! reflection routes), in one run. Criterion reports each; the run ends with the throughput
//! ratio (target: the stack keeps at least 85% of bare tonic's throughput).
//!
//! `cargo bench -p protomesh --bench server_stack`

#[path = "echo.rs"]
mod echo;

use echo::Echo;
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use criterion::{Criterion, Throughput};
use protomesh::{
    auth::{AuthLayer, PolicyTable, SigningKey, Verifier},
    config::ServerConfig,
    contracts::protomesh::registry::v1::{
        ListInstancesRequest, registry_service_client::RegistryServiceClient,
        registry_service_server::RegistryServiceServer,
    },
    server::ServerBuilder,
};
use tokio::{net::TcpListener, runtime::Runtime, task::JoinSet};
use tonic::transport::Channel;

/// Calls in flight per measured batch.
const CONCURRENCY: usize = 32;

/// Starts a bare tonic server on `server_rt`.
fn start_bare(server_rt: &Runtime) -> SocketAddr {
    server_rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(RegistryServiceServer::new(Echo::new(
                    "stack",
                    Duration::ZERO,
                )))
                .serve_with_incoming(incoming),
        );
        addr
    })
}

/// Starts the same service behind the kit's full stack on `server_rt`.
fn start_stack(server_rt: &Runtime) -> SocketAddr {
    server_rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let key = SigningKey::generate("bench").unwrap();
        let auth = AuthLayer::new(
            PolicyTable::protomesh().unwrap(),
            Verifier::new(vec![key.public()]),
        );
        let builder = ServerBuilder::new(ServerConfig::default())
            .auth(auth)
            .add_service(RegistryServiceServer::new(Echo::new(
                "stack",
                Duration::ZERO,
            )));
        tokio::spawn(builder.serve(listener, None, std::future::pending()));
        addr
    })
}

/// A client connected to `addr`.
fn client(rt: &Runtime, addr: SocketAddr) -> RegistryServiceClient<Channel> {
    rt.block_on(async {
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        RegistryServiceClient::new(channel)
    })
}

/// One batch of [`CONCURRENCY`] calls in flight at once.
async fn batch(client: &RegistryServiceClient<Channel>) {
    let mut calls = JoinSet::new();
    for _ in 0..CONCURRENCY {
        let mut client = client.clone();
        calls.spawn(async move {
            client
                .list_instances(ListInstancesRequest {
                    service: "catalog".into(),
                })
                .await
                .expect("call succeeds")
        });
    }
    while let Some(done) = calls.join_next().await {
        done.expect("call task");
    }
}

/// Calls per second over `window`, in batches.
fn throughput(rt: &Runtime, client: &RegistryServiceClient<Channel>, window: Duration) -> f64 {
    rt.block_on(async {
        let start = Instant::now();
        let mut calls = 0usize;
        while start.elapsed() < window {
            batch(client).await;
            calls += CONCURRENCY;
        }
        calls as f64 / start.elapsed().as_secs_f64()
    })
}

fn main() {
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let bare = client(&client_rt, start_bare(&server_rt));
    let stack = client(&client_rt, start_stack(&server_rt));

    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("unary_call");
    group.throughput(Throughput::Elements(CONCURRENCY as u64));
    group.bench_function("bare_tonic", |b| {
        b.iter(|| client_rt.block_on(batch(&bare)))
    });
    group.bench_function("full_stack", |b| {
        b.iter(|| client_rt.block_on(batch(&stack)))
    });
    group.finish();
    criterion.final_summary();

    // The ratio, from interleaved rounds (alternating which goes first) so drift on a
    // shared machine hits both alike.
    let window = Duration::from_secs(2);
    let rounds = 4;
    let (mut bare_total, mut stack_total) = (0.0, 0.0);
    for round in 0..rounds {
        if round % 2 == 0 {
            bare_total += throughput(&client_rt, &bare, window);
            stack_total += throughput(&client_rt, &stack, window);
        } else {
            stack_total += throughput(&client_rt, &stack, window);
            bare_total += throughput(&client_rt, &bare, window);
        }
    }
    println!(
        "throughput: bare tonic {:.0} calls/s, full stack {:.0} calls/s, ratio {:.1}%",
        bare_total / f64::from(rounds),
        stack_total / f64::from(rounds),
        100.0 * stack_total / bare_total
    );
}
