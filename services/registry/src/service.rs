//! The gRPC implementation of `protomesh.registry.v1.RegistryService`.

use std::{pin::Pin, sync::Arc, time::Duration};

use futures_util::{Stream, stream};
use protomesh::contracts::protomesh::registry::v1::{
    DeregisterRequest, DeregisterResponse, HeartbeatRequest, HeartbeatResponse, Instance,
    ListInstancesRequest, ListInstancesResponse, RegisterRequest, RegisterResponse, Snapshot,
    WatchRequest, WatchResponse, registry_service_server, watch_response::Event,
};
use tokio::sync::{broadcast, watch};
use tonic::{Request, Response, Status};

use crate::{error::RegistryError, store::Store};

/// The registry's gRPC service over a shared [`Store`].
#[derive(Debug, Clone)]
pub struct RegistryService {
    store: Arc<Store>,
    shutdown: watch::Receiver<bool>,
}

impl RegistryService {
    /// A service over `store`; open watch streams end when `shutdown` turns true (so a
    /// graceful shutdown does not wait on them forever).
    pub fn new(store: Arc<Store>, shutdown: watch::Receiver<bool>) -> Self {
        Self { store, shutdown }
    }
}

fn invalid(field: &'static str, reason: &'static str) -> Status {
    RegistryError::InvalidArgument { field, reason }.into()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Checks a registration's instance: names, and a `host:port` address.
fn validate(instance: Option<Instance>) -> Result<Instance, Status> {
    let instance = instance.ok_or_else(|| invalid("instance", "is required"))?;
    if !valid_name(&instance.service) {
        return Err(invalid(
            "instance.service",
            "must be 1-128 of [A-Za-z0-9-_.]",
        ));
    }
    if instance.instance_id.is_empty() || instance.instance_id.len() > 256 {
        return Err(invalid("instance.instance_id", "must be 1-256 characters"));
    }
    let address_ok = |a: &str| {
        a.rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
    };
    if !address_ok(&instance.address) {
        return Err(invalid("instance.address", "must be host:port"));
    }
    if !instance.admin_address.is_empty() && !address_ok(&instance.admin_address) {
        return Err(invalid(
            "instance.admin_address",
            "must be host:port or empty",
        ));
    }
    Ok(instance)
}

fn lease_id(lease_id: &str) -> Result<&str, Status> {
    if lease_id.is_empty() {
        return Err(invalid("lease_id", "is required"));
    }
    Ok(lease_id)
}

fn snapshot(instances: Vec<Instance>) -> WatchResponse {
    WatchResponse {
        event: Some(Event::Snapshot(Snapshot { instances })),
    }
}

/// What a watch stream carries between events.
struct WatchState {
    first: Option<Vec<Instance>>,
    events: broadcast::Receiver<Event>,
    store: Arc<Store>,
    service: String,
    shutdown: watch::Receiver<bool>,
}

/// The next message of a watch stream, or `None` at shutdown.
async fn next_event(mut state: WatchState) -> Option<(Result<WatchResponse, Status>, WatchState)> {
    if let Some(instances) = state.first.take() {
        return Some((Ok(snapshot(instances)), state));
    }
    let event = tokio::select! {
        _ = state.shutdown.wait_for(|stop| *stop) => return None,
        event = state.events.recv() => event,
    };
    match event {
        Ok(event) => Some((Ok(WatchResponse { event: Some(event) }), state)),
        Err(broadcast::error::RecvError::Lagged(_)) => {
            // Too slow to follow every change: start over from a fresh snapshot.
            let (instances, events) = state.store.watch(&state.service);
            state.events = events;
            Some((Ok(snapshot(instances)), state))
        }
        Err(broadcast::error::RecvError::Closed) => None,
    }
}

#[tonic::async_trait]
impl registry_service_server::RegistryService for RegistryService {
    async fn register(
        &self,
        request: Request<RegisterRequest>,
    ) -> Result<Response<RegisterResponse>, Status> {
        let request = request.into_inner();
        let instance = validate(request.instance)?;
        let ttl = match request.ttl {
            Some(ttl) => {
                Some(Duration::try_from(ttl).map_err(|_| invalid("ttl", "must not be negative"))?)
            }
            None => None,
        };
        let (service, id) = (instance.service.clone(), instance.instance_id.clone());
        let grant = self.store.register(instance, ttl);
        tracing::info!(%service, instance = %id, ttl = ?grant.ttl, "registered");
        Ok(Response::new(RegisterResponse {
            lease_id: grant.lease_id,
            ttl: prost_types::Duration::try_from(grant.ttl).ok(),
        }))
    }

    async fn heartbeat(
        &self,
        request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        let request = request.into_inner();
        let ttl = self.store.heartbeat(lease_id(&request.lease_id)?)?;
        let expire_time = std::time::SystemTime::now() + ttl;
        Ok(Response::new(HeartbeatResponse {
            expire_time: Some(expire_time.into()),
        }))
    }

    async fn deregister(
        &self,
        request: Request<DeregisterRequest>,
    ) -> Result<Response<DeregisterResponse>, Status> {
        let request = request.into_inner();
        if self.store.deregister(lease_id(&request.lease_id)?) {
            tracing::info!("deregistered");
        }
        Ok(Response::new(DeregisterResponse {}))
    }

    async fn list_instances(
        &self,
        request: Request<ListInstancesRequest>,
    ) -> Result<Response<ListInstancesResponse>, Status> {
        let service = request.into_inner().service;
        Ok(Response::new(ListInstancesResponse {
            instances: self.store.list(&service),
        }))
    }

    type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchResponse, Status>> + Send>>;

    async fn watch(
        &self,
        request: Request<WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let service = request.into_inner().service;
        if !valid_name(&service) {
            return Err(invalid("service", "must be 1-128 of [A-Za-z0-9-_.]"));
        }
        let (instances, events) = self.store.watch(&service);
        let state = WatchState {
            first: Some(instances),
            events,
            store: self.store.clone(),
            service,
            shutdown: self.shutdown.clone(),
        };
        Ok(Response::new(Box::pin(stream::unfold(state, next_event))))
    }
}
