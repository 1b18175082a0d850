//! The registry's gRPC API: leases, watch, validation, health checks, the announcer.

use std::time::Duration;

use protomesh::{
    contracts::protomesh::registry::v1::{
        DeregisterRequest, HeartbeatRequest, Instance, ListInstancesRequest, RegisterRequest,
        WatchRequest, WatchResponse, registry_service_client::RegistryServiceClient,
        watch_response::Event,
    },
    discovery::{AnnouncerConfig, RegistryAnnouncer},
    server::Announcer,
};
use tonic::{Code, Streaming, transport::Channel};
use tonic_types::StatusExt;

use crate::support::{Registry, Replica, registry_config};

async fn connect(registry: &Registry) -> RegistryServiceClient<Channel> {
    RegistryServiceClient::connect(format!("http://{}", registry.addr))
        .await
        .expect("connect to registry")
}

fn instance(id: &str, address: &str) -> Instance {
    Instance {
        service: "catalog".into(),
        instance_id: id.into(),
        address: address.into(),
        ..Instance::default()
    }
}

async fn next(stream: &mut Streaming<WatchResponse>) -> Event {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("watch event in time")
        .expect("watch stream healthy")
        .expect("watch stream open")
        .event
        .expect("event set")
}

/// Register, list, watch and deregister agree: snapshot first, then upsert and removal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_list_watch_deregister() {
    let registry = Registry::start(0, registry_config());
    let mut client = connect(&registry).await;
    let mut watch = client
        .watch(WatchRequest {
            service: "catalog".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next(&mut watch).await, Event::Snapshot(Default::default()));

    let granted = client
        .register(RegisterRequest {
            instance: Some(instance("c-1", "127.0.0.1:1")),
            ttl: Some(prost_types::Duration {
                seconds: 30,
                nanos: 0,
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(granted.ttl.unwrap().seconds, 30);
    assert_eq!(
        next(&mut watch).await,
        Event::Upserted(instance("c-1", "127.0.0.1:1"))
    );

    let listed = client
        .list_instances(ListInstancesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .instances;
    assert_eq!(listed, [instance("c-1", "127.0.0.1:1")]);
    client
        .heartbeat(HeartbeatRequest {
            lease_id: granted.lease_id.clone(),
        })
        .await
        .unwrap();

    client
        .deregister(DeregisterRequest {
            lease_id: granted.lease_id.clone(),
        })
        .await
        .unwrap();
    let Event::Removed(removed) = next(&mut watch).await else {
        panic!("expected a removal")
    };
    assert_eq!(
        (removed.instance_id.as_str(), removed.reason.as_str()),
        ("c-1", "deregistered")
    );
    let lost = client
        .heartbeat(HeartbeatRequest {
            lease_id: granted.lease_id,
        })
        .await
        .unwrap_err();
    assert_eq!(lost.code(), Code::NotFound);
}

/// Malformed requests get INVALID_ARGUMENT naming the field in a BadRequest detail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_bad_input_naming_the_field() {
    let registry = Registry::start(0, registry_config());
    let mut client = connect(&registry).await;
    let cases = [
        (None, "instance"),
        (Some(instance("", "127.0.0.1:1")), "instance.instance_id"),
        (Some(instance("c-1", "no-port")), "instance.address"),
        (
            Some(Instance {
                service: "bad name!".into(),
                ..instance("c-1", "127.0.0.1:1")
            }),
            "instance.service",
        ),
    ];
    for (instance, field) in cases {
        let status = client
            .register(RegisterRequest {
                instance,
                ttl: None,
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        let bad_request = status.get_details_bad_request().expect("BadRequest detail");
        assert_eq!(bad_request.field_violations[0].field, field);
    }
    let status = client
        .heartbeat(HeartbeatRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        status.get_details_bad_request().unwrap().field_violations[0].field,
        "lease_id"
    );
    assert!(
        client
            .list_instances(ListInstancesRequest::default())
            .await
            .unwrap()
            .into_inner()
            .instances
            .is_empty()
    );
}

/// An instance that reports NOT_SERVING to the registry's health checks is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_health_checks_remove_the_instance() {
    let registry = Registry::start(0, registry_config());
    let replica = Replica::start("c-1");
    let mut client = connect(&registry).await;
    let mut watch = client
        .watch(WatchRequest {
            service: "catalog".into(),
        })
        .await
        .unwrap()
        .into_inner();
    next(&mut watch).await;
    client
        .register(RegisterRequest {
            instance: Some(instance("c-1", &replica.address())),
            ttl: Some(prost_types::Duration {
                seconds: 60,
                nanos: 0,
            }),
        })
        .await
        .unwrap();
    assert!(matches!(next(&mut watch).await, Event::Upserted(_)));

    replica.set_serving(false).await;
    let Event::Removed(removed) = next(&mut watch).await else {
        panic!("expected a removal")
    };
    assert_eq!(removed.reason, "health check failed");
}

/// The announcer registers, registers again after the registry restarts (its heartbeat
/// gets NOT_FOUND), and deregisters on withdraw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announcer_survives_a_registry_restart() {
    let mut registry = Registry::start(0, registry_config());
    let port = registry.addr.port();
    let replica = Replica::start("c-1");
    let mut config = AnnouncerConfig::new("catalog", "c-1");
    config.ttl = Duration::from_secs(2);
    config.version = "1.2.3".into();
    let announcer = RegistryAnnouncer::new(&registry.addr.to_string(), config).unwrap();
    announcer.announce(replica.addr, None).await.unwrap();
    let listed = connect(&registry)
        .await
        .list_instances(ListInstancesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .instances;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].address.as_str(), listed[0].version.as_str()),
        (replica.address().as_str(), "1.2.3")
    );

    registry.kill();
    let registry = Registry::start(port, registry_config());
    let mut client = connect(&registry).await;
    let mut watch = client
        .watch(WatchRequest {
            service: "catalog".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut seen = match next(&mut watch).await {
        Event::Snapshot(s) => !s.instances.is_empty(),
        other => panic!("expected a snapshot, got {other:?}"),
    };
    while !seen {
        seen = matches!(next(&mut watch).await, Event::Upserted(i) if i.instance_id == "c-1");
    }

    announcer.withdraw().await;
    // On a very busy machine a heartbeat can come late, so a "lease expired" removal and a
    // fresh registration may come first; the deregistration must follow.
    loop {
        match next(&mut watch).await {
            Event::Removed(removed) if removed.reason == "deregistered" => break,
            Event::Removed(removed) => assert_eq!(removed.reason, "lease expired"),
            Event::Upserted(instance) => assert_eq!(instance.instance_id, "c-1"),
            Event::Snapshot(snapshot) => panic!("unexpected snapshot {snapshot:?}"),
        }
    }
    assert_eq!(announcer.lease_id(), None);
}
