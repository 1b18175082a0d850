//! Load spreading and consistent hashing across three replicas.

use std::{collections::BTreeMap, sync::atomic::Ordering};

use protomesh::{
    client::Balancer,
    contracts::shop::catalog::v1::{
        GetProductRequest, catalog_service_client::CatalogServiceClient,
    },
};

use crate::support::{Replica, client_config, served_by, static_client, wait_ready};

/// Under uniform concurrent load no replica gets more than 1.5x its fair share, with P2C
/// peak-EWMA and with round-robin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spreads_uniform_load_fairly() {
    for balancer in [Balancer::P2cPeakEwma, Balancer::RoundRobin] {
        let replicas: Vec<Replica> = ["a", "b", "c"].into_iter().map(Replica::start).collect();
        for replica in &replicas {
            // Equal replicas: a uniform service time that dominates scheduling noise on a
            // busy test machine.
            replica.stats.delay_ms.store(5, Ordering::Relaxed);
        }
        let mut config = client_config();
        config.balancer = balancer;
        // Forgive a scheduling hiccup of the busy test machine within the run (the default
        // decay, 10 s, would keep punishing it for longer than the test lasts).
        config.ewma_decay = std::time::Duration::from_millis(100);
        let channel = static_client(&replicas.iter().collect::<Vec<_>>(), config);
        wait_ready(&channel, replicas.iter().map(Replica::address).collect()).await;

        const WORKERS: usize = 12;
        const CALLS_PER_WORKER: usize = 50;
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let mut client = CatalogServiceClient::new(channel.clone());
                tokio::spawn(async move {
                    for i in 0..CALLS_PER_WORKER {
                        served_by(&mut client, &format!("p-{w}-{i}")).await;
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.await.unwrap();
        }
        let counts: Vec<u64> = replicas
            .iter()
            .map(|r| r.stats.reads.load(Ordering::Relaxed))
            .collect();
        let total = (WORKERS * CALLS_PER_WORKER) as u64;
        assert_eq!(counts.iter().sum::<u64>(), total);
        for count in &counts {
            assert!(
                *count * 2 <= total,
                "{balancer:?}: {counts:?} has a replica above 1.5x its fair share"
            );
        }
    }
}

async fn owner(
    client: &mut CatalogServiceClient<protomesh::client::BalancedChannel>,
    key: &str,
) -> String {
    let mut request = tonic::Request::new(GetProductRequest {
        product_id: key.to_owned(),
    });
    request
        .metadata_mut()
        .insert("x-protomesh-hash-key", key.parse().unwrap());
    client
        .get_product(request)
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap()
        .name
}

/// A hash key always lands on the same replica, and when one replica leaves only its keys
/// move (about a third of them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ring_hash_keeps_keys_and_moves_only_the_leavers() {
    let replicas: Vec<Replica> = ["a", "b", "c"].into_iter().map(Replica::start).collect();
    let mut config = client_config();
    config.balancer = Balancer::RingHash;
    let channel = static_client(&replicas.iter().collect::<Vec<_>>(), config);
    wait_ready(&channel, replicas.iter().map(Replica::address).collect()).await;
    let mut client = CatalogServiceClient::new(channel.clone());

    const KEYS: usize = 300;
    let mut before = BTreeMap::new();
    for k in 0..KEYS {
        let key = format!("user-{k}");
        let first = owner(&mut client, &key).await;
        assert_eq!(
            owner(&mut client, &key).await,
            first,
            "{key} changed replica"
        );
        before.insert(key, first);
    }

    replicas[2].set_serving(false).await;
    wait_ready(&channel, vec![replicas[0].address(), replicas[1].address()]).await;
    let mut moved = 0;
    for (key, was) in &before {
        let now = owner(&mut client, key).await;
        if was == "c" {
            assert_ne!(now, "c");
            moved += 1;
        } else {
            assert_eq!(&now, was, "{key} moved though its replica stayed");
        }
    }
    assert!(
        (KEYS * 15 / 100..=KEYS * 55 / 100).contains(&moved),
        "{moved} of {KEYS} keys moved; expected about a third"
    );
}

/// A hash-key function (here: a user id header under another name) pins each user to one
/// replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hash_key_function_gives_affinity() {
    let replicas: Vec<Replica> = ["a", "b", "c"].into_iter().map(Replica::start).collect();
    let addresses: Vec<String> = replicas.iter().map(Replica::address).collect();
    let mut config = client_config();
    config.balancer = Balancer::RingHash;
    let channel =
        protomesh::client::BalancedChannel::builder(format!("static://{}", addresses.join(",")))
            .config(config)
            .hash_key(|headers| {
                headers
                    .get("x-user")
                    .map(|v| protomesh::client::hash_key_of(v.as_bytes()))
            })
            .build()
            .unwrap();
    wait_ready(&channel, addresses).await;
    let mut client = CatalogServiceClient::new(channel);
    let mut owners = std::collections::BTreeSet::new();
    for user in 0..30 {
        let mut first = None;
        for call in 0..5 {
            let mut request = tonic::Request::new(GetProductRequest {
                product_id: format!("p-{call}"),
            });
            request
                .metadata_mut()
                .insert("x-user", user.to_string().parse().unwrap());
            let by = client
                .get_product(request)
                .await
                .unwrap()
                .into_inner()
                .product
                .unwrap()
                .name;
            assert_eq!(
                first.get_or_insert_with(|| by.clone()),
                &by,
                "user {user} moved"
            );
        }
        owners.insert(first.unwrap());
    }
    assert!(owners.len() > 1, "30 users all on one replica: {owners:?}");
}
