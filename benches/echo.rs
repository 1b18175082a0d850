//! The trivial service every server benchmark calls: the registry contract's `ListInstances`,
//! answered with one instance named after the server, optionally after a delay. Shared by
//! `server_stack.rs` and `rig.rs` through `#[path]`.

use std::time::Duration;

use protomesh::contracts::protomesh::registry::v1::{
    DeregisterRequest, DeregisterResponse, HeartbeatRequest, HeartbeatResponse, Instance,
    ListInstancesRequest, ListInstancesResponse, RegisterRequest, RegisterResponse, WatchRequest,
    WatchResponse, registry_service_server::RegistryService,
};
use tonic::{Request, Response, Status};

/// Answers `ListInstances` with one instance named after this server, after `delay`.
pub(crate) struct Echo {
    name: String,
    delay: Duration,
}

impl Echo {
    /// An echo answering as `name` after `delay`.
    pub(crate) fn new(name: &str, delay: Duration) -> Self {
        Self {
            name: name.to_owned(),
            delay,
        }
    }
}

#[tonic::async_trait]
impl RegistryService for Echo {
    async fn register(
        &self,
        _: Request<RegisterRequest>,
    ) -> Result<Response<RegisterResponse>, Status> {
        Err(Status::unimplemented(""))
    }

    async fn heartbeat(
        &self,
        _: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        Err(Status::unimplemented(""))
    }

    async fn deregister(
        &self,
        _: Request<DeregisterRequest>,
    ) -> Result<Response<DeregisterResponse>, Status> {
        Err(Status::unimplemented(""))
    }

    async fn list_instances(
        &self,
        request: Request<ListInstancesRequest>,
    ) -> Result<Response<ListInstancesResponse>, Status> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        Ok(Response::new(ListInstancesResponse {
            instances: vec![Instance {
                service: request.into_inner().service,
                instance_id: self.name.clone(),
                ..Default::default()
            }],
        }))
    }

    type WatchStream = tokio_stream::Pending<Result<WatchResponse, Status>>;

    async fn watch(&self, _: Request<WatchRequest>) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented(""))
    }
}
