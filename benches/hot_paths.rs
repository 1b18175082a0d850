//! Criterion micro-benchmarks of the kit's per-call hot paths: the balancer's endpoint pick
//! (P2C over peak-EWMA, round-robin, ring hash) and the server's metrics recording.
//!
//! `cargo bench -p protomesh --bench hot_paths` (`scripts/bench` runs it and keeps the
//! estimates).

use std::{hint::black_box, time::Duration};

use criterion::Criterion;
use protomesh::{
    client::{Balancer, bench::PickBench, hash_key_of},
    metrics::{
        Registry, ServerMetrics,
        server::{HandledLabels, MethodLabels},
    },
};

fn balancer_pick(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _guard = runtime.enter();
    let mut group = c.benchmark_group("balancer_pick");
    for endpoints in [3, 16] {
        for (name, balancer) in [
            ("p2c_peak_ewma", Balancer::P2cPeakEwma),
            ("round_robin", Balancer::RoundRobin),
            ("ring_hash", Balancer::RingHash),
        ] {
            let bench = PickBench::new(endpoints, balancer);
            let key = (balancer == Balancer::RingHash).then(|| hash_key_of(b"user-42"));
            group.bench_function(format!("{name}/{endpoints}"), |b| {
                b.iter(|| assert!(bench.pick(black_box(key))))
            });
        }
    }
    group.finish();
}

/// What the server's observe layer does per unary call: count it started, count it handled
/// with its code, observe its latency.
fn metrics_recording(c: &mut Criterion) {
    let registry = Registry::new();
    let metrics = ServerMetrics::register(&registry);
    let method = MethodLabels {
        grpc_service: "shop.catalog.v1.CatalogService".into(),
        grpc_method: "GetProduct".into(),
        grpc_type: "unary",
    };
    let handled = HandledLabels {
        grpc_service: method.grpc_service.clone(),
        grpc_method: method.grpc_method.clone(),
        grpc_type: "unary",
        grpc_code: "OK",
    };
    let mut group = c.benchmark_group("metrics_recording");
    group.bench_function("unary_call_lookup", |b| {
        b.iter(|| {
            metrics.started.get_or_create(black_box(&method)).inc();
            metrics.handled.get_or_create(black_box(&handled)).inc();
            metrics
                .handling_seconds
                .get_or_create(black_box(&method))
                .observe(black_box(0.000_42));
        })
    });
    // The layer caches each method's series handles, so per call it is this:
    let started = metrics.started.get_or_create(&method).clone();
    let ok = metrics.handled.get_or_create(&handled).clone();
    let seconds = metrics.handling_seconds.get_or_create(&method).clone();
    group.bench_function("unary_call_cached", |b| {
        b.iter(|| {
            started.inc();
            ok.inc();
            seconds.observe(black_box(0.000_42));
        })
    });
    group.bench_function("encode_scrape", |b| b.iter(|| registry.encode().len()));
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .configure_from_args();
    balancer_pick(&mut criterion);
    metrics_recording(&mut criterion);
    criterion.final_summary();
}
