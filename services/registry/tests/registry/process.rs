//! Failover when a replica running as a separate process is killed with SIGKILL.

use std::{process::Stdio, sync::atomic::Ordering, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

use crate::{
    failover::Load,
    support::{Replica, catalog, client_config, wait_ready},
};

/// Names the replica a child process serves; set only on the child's command.
const CHILD_NAME: &str = "PROTOMESH_TEST_REPLICA_NAME";
/// Milliseconds the child adds to every call.
const CHILD_DELAY: &str = "PROTOMESH_TEST_REPLICA_DELAY_MS";

/// Not a test by itself: the body of the replica process the SIGKILL test spawns. It
/// prints `PORT <n>` and serves until killed; without its variable it does nothing.
#[test]
#[ignore = "run as a child process by sigkill_of_a_replica_process_fails_no_idempotent_call"]
fn replica_process() {
    let Ok(name) = std::env::var(CHILD_NAME) else {
        return;
    };
    let delay: u64 = std::env::var(CHILD_DELAY)
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("PORT {}", listener.local_addr().unwrap().port());
        let (service, stats) = catalog(&name);
        stats.delay_ms.store(delay, Ordering::Relaxed);
        let (_health, health_service) = tonic_health::server::health_reporter();
        tonic::transport::Server::builder()
            .add_service(health_service)
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .unwrap();
    });
}

/// SIGKILL of a replica process under steady idempotent load fails no call, and the dead
/// endpoint leaves the ready set within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_a_replica_process_fails_no_idempotent_call() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "process::replica_process",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_NAME, "b")
        .env(CHILD_DELAY, "20")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn replica process");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(port) = line.strip_prefix("PORT ") {
                return port.trim().parse::<u16>().unwrap();
            }
        }
        panic!("child exited before printing its port");
    })
    .await
    .expect("child printed its port");
    let child_address = format!("127.0.0.1:{port}");

    let replicas: Vec<Replica> = ["a", "c"].into_iter().map(Replica::start).collect();
    for replica in &replicas {
        replica.stats.delay_ms.store(20, Ordering::Relaxed);
    }
    let channel = protomesh::client::BalancedChannel::builder(format!(
        "static://{},{},{}",
        replicas[0].address(),
        child_address,
        replicas[1].address()
    ))
    .config({
        // Round-robin keeps calls in flight on every replica, the killed one included.
        let mut config = client_config();
        config.balancer = protomesh::client::Balancer::RoundRobin;
        config
    })
    .build()
    .unwrap();
    let mut all = vec![
        replicas[0].address(),
        child_address.clone(),
        replicas[1].address(),
    ];
    all.sort();
    wait_ready(&channel, all).await;

    let load = Load::start(&channel, 12, false);
    load.wait_for_calls(200).await;
    child.start_kill().expect("SIGKILL");
    let left = tokio::time::timeout(
        Duration::from_secs(1),
        channel.wait_for(|endpoints| {
            endpoints
                .iter()
                .any(|e| e.id == child_address && !e.is_ready())
        }),
    )
    .await;
    assert!(
        left.is_ok(),
        "killed process still ready after 1 s: {:?}",
        channel.endpoints()
    );
    load.wait_for_calls(300).await;
    let (ok, errors) = load.finish().await;
    let _ = child.wait().await;
    assert!(
        errors.is_empty(),
        "{} of {} calls failed: {:?}",
        errors.len(),
        ok,
        &errors[..errors.len().min(5)]
    );
    assert!(
        channel.stats().retries > 0,
        "no call was in flight on the killed process"
    );
}
