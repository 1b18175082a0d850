//! Active health checks: the registry calls every instance's grpc.health.v1 `Check` on an
//! interval; the configured number of failures in a row removes it.

use std::{collections::HashMap, sync::Arc, time::Duration};

use futures_util::future::join_all;
use tonic::{
    Code,
    transport::{Channel, Endpoint},
};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::{config::RegistryConfig, store::Store};

/// Checks every instance each interval until the task is aborted.
pub(crate) async fn run(store: Arc<Store>, config: RegistryConfig) {
    let mut channels: HashMap<String, (String, Channel)> = HashMap::new();
    let mut ticker = tokio::time::interval(config.health_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let targets = store.health_targets();
        channels
            .retain(|lease, (address, _)| targets.iter().any(|(l, a)| l == lease && a == address));
        let checks = targets.into_iter().map(|(lease, address)| {
            let channel = match channels.get(&lease) {
                Some((_, channel)) => Some(channel.clone()),
                None => lazy_channel(&address, config.health_timeout).inspect(|channel| {
                    channels.insert(lease.clone(), (address.clone(), channel.clone()));
                }),
            };
            let timeout = config.health_timeout;
            async move {
                let healthy = match channel {
                    Some(channel) => check(channel, timeout).await,
                    None => false,
                };
                (lease, address, healthy)
            }
        });
        for (lease, address, healthy) in join_all(checks).await {
            if store.record_health(&lease, healthy) {
                tracing::warn!(%address, "instance removed after failed health checks");
            }
        }
    }
}

fn lazy_channel(address: &str, timeout: Duration) -> Option<Channel> {
    let endpoint = Endpoint::from_shared(format!("http://{address}")).ok()?;
    Some(endpoint.connect_timeout(timeout).connect_lazy())
}

/// One check: SERVING, or no health service at all (UNIMPLEMENTED), counts as healthy.
async fn check(channel: Channel, timeout: Duration) -> bool {
    let mut client = HealthClient::new(channel);
    let call = client.check(HealthCheckRequest {
        service: String::new(),
    });
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(response)) => response.into_inner().status == ServingStatus::Serving as i32,
        Ok(Err(status)) => status.code() == Code::Unimplemented,
        Err(_) => false,
    }
}
