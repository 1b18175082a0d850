//! Active health: follow an endpoint's grpc.health.v1 `Watch` for as long as it is in the
//! set. SERVING makes it a candidate; NOT_SERVING, SERVICE_UNKNOWN, a failed connect or a
//! broken stream take it out until it reports SERVING again. A server without the health
//! service (UNIMPLEMENTED) counts as serving.

use std::sync::Arc;

use tokio::sync::watch;
use tonic::Code;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use super::endpoint::{Endpoint, Health};
use crate::discovery::backoff::Backoff;

/// Follows `endpoint`'s health until aborted, bumping `changed` on every change.
pub(crate) async fn follow(
    endpoint: Arc<Endpoint>,
    service: String,
    changed: Arc<watch::Sender<u64>>,
    mut backoff: Backoff,
) {
    let set = |health: Health| {
        if endpoint.set_health(health) {
            tracing::debug!(endpoint = %endpoint.id, ?health, "endpoint health changed");
            changed.send_modify(|version| *version += 1);
        }
    };
    let mut client = HealthClient::new(endpoint.channel.clone());
    loop {
        let request = HealthCheckRequest {
            service: service.clone(),
        };
        match client.watch(request).await {
            Ok(response) => {
                let mut stream = response.into_inner();
                loop {
                    match stream.message().await {
                        Ok(Some(message)) => {
                            backoff.reset();
                            set(match ServingStatus::try_from(message.status) {
                                Ok(ServingStatus::Serving) => Health::Serving,
                                _ => Health::NotServing,
                            });
                        }
                        Ok(None) | Err(_) => {
                            set(Health::Unreachable);
                            break;
                        }
                    }
                }
            }
            Err(status) if status.code() == Code::Unimplemented => {
                set(Health::Serving);
                return;
            }
            Err(_) => set(Health::Unreachable),
        }
        tokio::time::sleep(backoff.next_wait()).await;
    }
}
