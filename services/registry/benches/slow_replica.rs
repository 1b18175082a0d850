//! Slow-replica benchmark: one of three replicas adds 50 ms to every call.
//!
//! Compares the latency a client sees with P2C over peak-EWMA (the default) and with
//! round-robin, then the overhead of the balanced client against a plain tonic `Channel`
//! to one replica. Real tonic servers on 127.0.0.1, a closed-loop load of concurrent
//! workers. Run: `cargo bench -p protomesh-registry --bench slow_replica`.

#[allow(dead_code, unreachable_pub)]
#[path = "../tests/registry/support.rs"]
mod support;

use std::{
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use protomesh::{
    client::Balancer,
    contracts::shop::catalog::v1::{
        GetProductRequest, catalog_service_client::CatalogServiceClient,
    },
};
use support::{Replica, client_config, static_client, wait_ready};
use tonic::client::GrpcService;

/// Concurrent callers.
const WORKERS: usize = 8;
/// Calls per worker in a measured run.
const CALLS_PER_WORKER: usize = 500;
/// Calls per worker before measuring (connections up, estimates settled).
const WARMUP_PER_WORKER: usize = 50;

/// Latency summary of one run.
struct Summary {
    p50: Duration,
    p99: Duration,
    mean: Duration,
    throughput: f64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:>8.2?}  p99 {:>8.2?}  mean {:>8.2?}  {:>7.0} calls/s",
            self.p50, self.p99, self.mean, self.throughput
        )
    }
}

/// Runs `WORKERS` closed-loop callers through clones of `channel`; returns the summary.
async fn run<C>(channel: C, per_worker: usize) -> Summary
where
    C: GrpcService<tonic::body::Body> + Clone + Send + 'static,
    C::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    C::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <C::ResponseBody as http_body::Body>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
    C::Future: Send,
{
    let started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let mut client = CatalogServiceClient::new(channel.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_worker);
                for i in 0..per_worker {
                    let begin = Instant::now();
                    client
                        .get_product(GetProductRequest {
                            product_id: format!("p-{w}-{i}"),
                        })
                        .await
                        .expect("call");
                    latencies.push(begin.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.expect("worker"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Summary {
        p50: at(0.50),
        p99: at(0.99),
        mean: latencies.iter().sum::<Duration>() / latencies.len() as u32,
        throughput: latencies.len() as f64 / elapsed.as_secs_f64(),
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        println!(
            "slow replica: 3 replicas, one adds 50 ms; {WORKERS} workers x {CALLS_PER_WORKER} calls"
        );
        let mut p99 = Vec::new();
        for balancer in [Balancer::P2cPeakEwma, Balancer::RoundRobin] {
            let replicas: Vec<Replica> =
                ["a", "b", "slow"].into_iter().map(Replica::start).collect();
            replicas[2].stats.delay_ms.store(50, Ordering::Relaxed);
            let mut config = client_config();
            config.balancer = balancer;
            let channel = static_client(&replicas.iter().collect::<Vec<_>>(), config);
            wait_ready(&channel, replicas.iter().map(Replica::address).collect()).await;
            run(channel.clone(), WARMUP_PER_WORKER).await;
            let summary = run(channel, CALLS_PER_WORKER).await;
            let slow_share = replicas[2].stats.reads.load(Ordering::Relaxed) as f64
                / replicas
                    .iter()
                    .map(|r| r.stats.reads.load(Ordering::Relaxed))
                    .sum::<u64>() as f64;
            println!(
                "  {:<12} {summary}  slow replica got {:.1}% of calls",
                format!("{balancer:?}"),
                slow_share * 100.0
            );
            p99.push(summary.p99);
        }
        println!(
            "  round-robin p99 / P2C peak-EWMA p99 = {:.1}x",
            p99[1].as_secs_f64() / p99[0].as_secs_f64()
        );

        println!("overhead: one replica, {WORKERS} workers x {CALLS_PER_WORKER} calls");
        let replica = Replica::start("solo");
        let direct =
            tonic::transport::Endpoint::from_shared(format!("http://{}", replica.address()))
                .expect("uri")
                .connect()
                .await
                .expect("connect");
        let balanced = static_client(&[&replica], client_config());
        wait_ready(&balanced, vec![replica.address()]).await;
        run(direct.clone(), WARMUP_PER_WORKER).await;
        run(balanced.clone(), WARMUP_PER_WORKER).await;
        println!("  direct Channel   {}", run(direct, CALLS_PER_WORKER).await);
        println!(
            "  BalancedChannel  {}",
            run(balanced, CALLS_PER_WORKER).await
        );
    });
}
