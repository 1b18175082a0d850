//! Discovery sources seen through the client's endpoint set.

use std::time::Duration;

use protomesh::{
    client::BalancedChannel,
    contracts::shop::catalog::v1::catalog_service_client::CatalogServiceClient,
    discovery::{AnnouncerConfig, RegistryAnnouncer},
    server::Announcer,
};

use crate::support::{Registry, Replica, client_config, registry_config, served_by, wait_ready};

fn announcer(registry: &Registry, id: &str) -> RegistryAnnouncer {
    let mut config = AnnouncerConfig::new("catalog", id);
    config.ttl = Duration::from_secs(1);
    RegistryAnnouncer::new(&registry.addr.to_string(), config).unwrap()
}

fn ids(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

/// With `registry://`, endpoints appear as instances register, leave the set when one
/// drains (deregisters), and stop getting calls when one dies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_target_follows_register_drain_and_death() {
    let registry = Registry::start(0, registry_config());
    let mut replicas: Vec<Replica> = ["c-1", "c-2", "c-3"]
        .into_iter()
        .map(Replica::start)
        .collect();
    let announcers: Vec<RegistryAnnouncer> = replicas
        .iter()
        .map(|r| announcer(&registry, &r.name))
        .collect();
    let channel = BalancedChannel::builder("registry://catalog")
        .registry(registry.addr.to_string())
        .config({
            let mut c = client_config();
            c.discovery.registry_address = registry.addr.to_string();
            c
        })
        .build()
        .unwrap();
    assert!(channel.endpoints().is_empty());

    for (announcer, replica) in announcers.iter().zip(&replicas) {
        announcer.announce(replica.addr, None).await.unwrap();
    }
    wait_ready(&channel, ids(&["c-1", "c-2", "c-3"])).await;

    announcers[0].withdraw().await;
    let waited = tokio::time::timeout(
        Duration::from_secs(10),
        channel.wait_for(|endpoints| endpoints.iter().all(|e| e.id != "c-1")),
    )
    .await;
    assert!(
        waited.is_ok(),
        "drained instance still known: {:?}",
        channel.endpoints()
    );

    replicas[1].kill();
    wait_ready(&channel, ids(&["c-3"])).await;
    let mut client = CatalogServiceClient::new(channel.clone());
    for i in 0..10 {
        assert_eq!(served_by(&mut client, &format!("p-{i}")).await, "c-3");
    }
    // The registry's own health checks drop the dead instance from the set entirely.
    let waited = tokio::time::timeout(
        Duration::from_secs(10),
        channel.wait_for(|endpoints| endpoints.iter().all(|e| e.id != "c-2")),
    )
    .await;
    assert!(
        waited.is_ok(),
        "dead instance still known: {:?}",
        channel.endpoints()
    );
}

/// When the registry dies the client keeps its last known set and keeps calling; when a
/// registry is back it reconnects and sees new instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_the_last_known_set_while_the_registry_is_down() {
    let mut registry = Registry::start(0, registry_config());
    let port = registry.addr.port();
    let first = Replica::start("c-1");
    let first_announcer = announcer(&registry, "c-1");
    first_announcer.announce(first.addr, None).await.unwrap();
    let mut config = client_config();
    config.discovery.registry_address = registry.addr.to_string();
    let channel = BalancedChannel::builder("registry://catalog")
        .config(config)
        .build()
        .unwrap();
    wait_ready(&channel, ids(&["c-1"])).await;

    registry.kill();
    let mut client = CatalogServiceClient::new(channel.clone());
    for i in 0..20 {
        assert_eq!(served_by(&mut client, &format!("p-{i}")).await, "c-1");
    }
    assert_eq!(channel.ready_endpoints(), ids(&["c-1"]));

    let registry = Registry::start(port, registry_config());
    let second = Replica::start("c-2");
    announcer(&registry, "c-2")
        .announce(second.addr, None)
        .await
        .unwrap();
    // c-1's announcer registers again on its next heartbeat (NOT_FOUND), so both come back.
    wait_ready(&channel, ids(&["c-1", "c-2"])).await;
}

/// `dns://localhost:port` resolves to the replica on 127.0.0.1 and calls reach it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_target_resolves_every_address() {
    let replica = Replica::start("c-1");
    let target = format!("dns://localhost:{}", replica.addr.port());
    let channel = BalancedChannel::builder(target)
        .config(client_config())
        .build()
        .unwrap();
    let expected = replica.address();
    let waited = tokio::time::timeout(
        Duration::from_secs(10),
        channel.wait_for(|endpoints| endpoints.iter().any(|e| e.id == expected && e.is_ready())),
    )
    .await;
    assert!(
        waited.is_ok(),
        "dns never found {expected}: {:?}",
        channel.endpoints()
    );
    let mut client = CatalogServiceClient::new(channel);
    assert_eq!(served_by(&mut client, "p-1").await, "c-1");
}
