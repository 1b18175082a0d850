//! The balanced client's metrics in the `/metrics` of the process that owns it: attempts per
//! method, endpoint and code, retries the budget refused, endpoints by state; and every name
//! the deploy assets query (deploy/metrics.txt) in that exposition.

use std::{collections::BTreeMap, time::Duration};

use protomesh::{
    client::{BalancedChannel, Balancer, ClientConfig, Health},
    contracts::protomesh::registry::v1::{
        ListInstancesRequest, WatchRequest, registry_service_client::RegistryServiceClient,
    },
    metrics::Registry,
};
use tonic::Code;

use crate::support::{TestServer, http_get, test_config};

/// One sample of a metrics text: its name, labels and value.
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Every sample line of an OpenMetrics text (label values here never hold `,` or `"`).
fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').expect("label=value");
                    (key.to_string(), value.trim_matches('"').to_string())
                })
                .collect();
            Sample {
                name: name.to_string(),
                labels,
                value: value.parse().expect("a numeric value"),
            }
        })
        .collect()
}

/// The sum of every `name` sample whose labels include all of `matching`.
fn sum(samples: &[Sample], name: &str, matching: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            matching
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

const LIST: (&str, &str) = ("grpc_method", "ListInstances");

/// Calls through a balanced client over two live replicas and a dead address are counted per
/// endpoint and code in the owning process's `/metrics` (streams by their trailers, a dropped
/// stream as Canceled); a retry the budget refuses is counted; the endpoint gauge shows one
/// ready, one ejected (it answered UNAVAILABLE) and one unhealthy (nothing listens there).
#[tokio::test]
async fn client_metrics_count_attempts_budget_and_endpoints() {
    // Arrange: the process's registry, served by `owner`'s admin port, shared with the client.
    let registry = Registry::new();
    let owner = TestServer::start_with(test_config(), None, |b| {
        b.metrics_registry(registry.clone())
    })
    .await;
    let other = TestServer::start(test_config()).await;
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let config = ClientConfig {
        balancer: Balancer::RoundRobin,
        // No retry is ever affordable: the first wanted retry exhausts the budget.
        retry_min_per_sec: 0,
        retry_percent: 0.0,
        // One UNAVAILABLE ejects, for longer than the test.
        outlier_failures: 1,
        outlier_base_ejection: Duration::from_secs(300),
        ..ClientConfig::default()
    };
    let channel =
        BalancedChannel::builder(format!("static://{},{},{dead}", owner.addr, other.addr))
            .config(config)
            .service_name("probe")
            .metrics_registry(registry.clone())
            .build()
            .unwrap();
    let settled = channel.wait_for(|endpoints| {
        let count = |h: Health| endpoints.iter().filter(|e| e.health == h).count();
        count(Health::Serving) == 2 && count(Health::Unreachable) == 1
    });
    tokio::time::timeout(Duration::from_secs(10), settled)
        .await
        .expect("two replicas serve and the dead address is unreachable");
    let (_, before) = http_get(owner.admin, "/metrics").await;
    let before = samples(&before);
    let gauge = |s: &[Sample], state: &str| {
        sum(
            s,
            "protomesh_client_endpoints",
            &[("service", "probe"), ("state", state)],
        )
    };
    assert_eq!(
        ["ready", "pending", "unhealthy", "ejected"].map(|state| gauge(&before, state)),
        [2.0, 0.0, 1.0, 0.0]
    );
    assert_eq!(
        sum(
            &before,
            "protomesh_client_retry_budget_exhausted_total",
            &[("service", "probe")]
        ),
        0.0
    );

    // Act: 4 OK, 1 NOT_FOUND, a stream ending in DATA_LOSS, a stream dropped after its first
    // message, and 1 UNAVAILABLE whose retry the budget refuses.
    let mut client = RegistryServiceClient::new(channel.clone());
    let list = |service: &str| ListInstancesRequest {
        service: service.into(),
    };
    for _ in 0..4 {
        client.list_instances(list("")).await.unwrap();
    }
    let missing = client.list_instances(list("missing")).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let watch = |service: &str| WatchRequest {
        service: service.into(),
    };
    let mut failing = client.watch(watch("fail")).await.unwrap().into_inner();
    assert!(failing.message().await.unwrap().is_some());
    assert_eq!(failing.message().await.unwrap_err().code(), Code::DataLoss);
    let mut dropped = client.watch(watch("")).await.unwrap().into_inner();
    assert!(dropped.message().await.unwrap().is_some());
    drop(dropped);
    let unavailable = client
        .list_instances(list("unavailable"))
        .await
        .unwrap_err();
    assert_eq!(unavailable.code(), Code::Unavailable);

    // Assert: counts by code, per endpoint, in the owner's exposition.
    let (status, text) = http_get(owner.admin, "/metrics").await;
    assert_eq!(status, 200);
    let after = samples(&text);
    let handled = |code: &str| {
        sum(
            &after,
            "grpc_client_handled_total",
            &[LIST, ("grpc_type", "unary"), ("grpc_code", code)],
        )
    };
    assert_eq!(sum(&after, "grpc_client_started_total", &[LIST]), 6.0);
    assert_eq!(
        ["OK", "NotFound", "Unavailable"].map(handled),
        [4.0, 1.0, 1.0]
    );
    assert_eq!(
        sum(&after, "grpc_client_handling_seconds_count", &[LIST]),
        6.0
    );
    let watch_code = |code: &str| {
        sum(
            &after,
            "grpc_client_handled_total",
            &[
                ("grpc_method", "Watch"),
                ("grpc_type", "server_stream"),
                ("grpc_code", code),
            ],
        )
    };
    assert_eq!(["DataLoss", "Canceled"].map(watch_code), [1.0, 1.0]);
    // Round-robin: the first four calls went two to each replica; nothing to the dead one.
    for replica in [owner.addr, other.addr] {
        let endpoint = replica.to_string();
        let ok = [LIST, ("grpc_code", "OK"), ("endpoint", endpoint.as_str())];
        assert_eq!(sum(&after, "grpc_client_handled_total", &ok), 2.0);
    }
    let dead = dead.to_string();
    assert!(
        after
            .iter()
            .all(|s| s.labels.get("endpoint") != Some(&dead)),
        "no attempt went to the unhealthy endpoint"
    );
    assert_eq!(
        sum(
            &after,
            "protomesh_client_retry_budget_exhausted_total",
            &[("service", "probe")]
        ),
        1.0
    );
    assert_eq!(channel.stats().budget_exhausted, 1);
    assert_eq!(
        ["ready", "pending", "unhealthy", "ejected"].map(|state| gauge(&after, state)),
        [1.0, 0.0, 1.0, 1.0]
    );
    // The owner's own server families share the exposition.
    assert!(sum(&after, "grpc_server_handled_total", &[LIST]) >= 1.0);

    // Every name the deploy assets query, except the catalog's own (checked by the catalog's
    // tests with a real refused reservation), is in this process's exposition.
    let contract =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/metrics.txt"))
            .unwrap();
    let names: Vec<&str> = contract
        .lines()
        .map(str::trim)
        .filter(|n| !n.is_empty() && !n.starts_with("protomesh_catalog_"))
        .collect();
    assert!(
        names.len() >= 8,
        "metrics.txt lists the kit's names: {names:?}"
    );
    let missing: Vec<&&str> = names
        .iter()
        .filter(|name| !after.iter().any(|s| s.name == **name))
        .collect();
    assert!(missing.is_empty(), "not in /metrics: {missing:?}\n{text}");

    drop(client);
    drop(channel);
    owner.stop().await.unwrap();
    other.stop().await.unwrap();
}

/// A client given no registry still records, into one of its own; a client dropped leaves
/// the endpoint gauge of the registry it recorded into.
#[tokio::test]
async fn clients_record_by_default_and_leave_the_gauge_when_dropped() {
    let server = TestServer::start(test_config()).await;
    let channel = BalancedChannel::builder(format!("static://{}", server.addr))
        .service_name("alone")
        .build()
        .unwrap();
    let mut client = RegistryServiceClient::new(channel.clone());
    client
        .list_instances(ListInstancesRequest::default())
        .await
        .unwrap();
    let own = samples(&channel.metrics_registry().encode());
    let ok = [LIST, ("grpc_code", "OK")];
    assert_eq!(sum(&own, "grpc_client_handled_total", &ok), 1.0);
    assert_eq!(
        sum(
            &own,
            "protomesh_client_endpoints",
            &[("service", "alone"), ("state", "ready")]
        ),
        1.0
    );

    let registry = channel.metrics_registry().clone();
    drop(client);
    drop(channel);
    let gone = samples(&registry.encode());
    assert_eq!(
        gone.iter()
            .filter(|s| s.name == "protomesh_client_endpoints")
            .count(),
        0
    );
    // The counters stay: Prometheus rates need them monotonic across a client's life.
    assert_eq!(sum(&gone, "grpc_client_handled_total", &ok), 1.0);
    server.stop().await.unwrap();
}
