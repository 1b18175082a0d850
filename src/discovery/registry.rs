//! `registry://service`: the embedded registry's `Watch` stream.
//!
//! The first event of every watch is a full snapshot; the source diffs it against the set it
//! knows, so a reconnect emits only real changes. When the registry is unreachable, the last
//! known set stays in place and the source reconnects with backoff.

use std::collections::BTreeMap;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};

use super::{
    Change, Changes, Discover, DiscoveryConfig, DiscoveryError, backoff::Backoff, http_uri,
    known::Known,
};
use crate::contracts::protomesh::registry::v1::{
    Instance, WatchRequest, registry_service_client::RegistryServiceClient, watch_response::Event,
};

/// Watches one logical service in the registry.
#[derive(Debug, Clone)]
pub struct RegistryWatch {
    channel: Channel,
    service: String,
    backoff: Backoff,
}

impl RegistryWatch {
    /// A source for `service`, watched at the registry at `registry_address` (`host:port` or
    /// a URI). Connects lazily; must be called within a tokio runtime.
    pub fn new(
        registry_address: &str,
        service: String,
        config: &DiscoveryConfig,
    ) -> Result<Self, DiscoveryError> {
        Ok(Self {
            channel: registry_channel(registry_address)?,
            service,
            backoff: Backoff::new(config.backoff_min, config.backoff_max),
        })
    }
}

/// A lazily connected channel to the registry.
pub(crate) fn registry_channel(address: &str) -> Result<Channel, DiscoveryError> {
    let endpoint = Endpoint::from_shared(http_uri(address))
        .map_err(|_| DiscoveryError::InvalidRegistryAddress(address.to_owned()))?
        .tcp_nodelay(true)
        .connect_timeout(std::time::Duration::from_secs(2));
    Ok(endpoint.connect_lazy())
}

/// The source-level view of an instance: id, address and metadata (the version and the
/// admin address travel as `version` and `admin_address` metadata when set).
fn entry(instance: Instance) -> (String, String, BTreeMap<String, String>) {
    let mut metadata: BTreeMap<String, String> = instance.metadata.into_iter().collect();
    if !instance.version.is_empty() {
        metadata.insert("version".to_owned(), instance.version);
    }
    if !instance.admin_address.is_empty() {
        metadata.insert("admin_address".to_owned(), instance.admin_address);
    }
    (instance.instance_id, instance.address, metadata)
}

impl Discover for RegistryWatch {
    fn changes(self: Box<Self>) -> Changes {
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(watch_loop(*self, tx));
        Box::pin(ReceiverStream::new(rx))
    }
}

/// Watches until the receiving side is dropped, reconnecting with backoff.
async fn watch_loop(source: RegistryWatch, tx: mpsc::Sender<Change>) {
    let RegistryWatch {
        channel,
        service,
        mut backoff,
    } = source;
    let mut client = RegistryServiceClient::new(channel);
    let mut known = Known::default();
    loop {
        let request = WatchRequest {
            service: service.clone(),
        };
        let watched = tokio::select! {
            watched = client.watch(request) => watched,
            () = tx.closed() => return,
        };
        match watched {
            Ok(response) => {
                let mut stream = response.into_inner();
                loop {
                    let message = tokio::select! {
                        message = stream.message() => message,
                        () = tx.closed() => return,
                    };
                    let event = match message {
                        Ok(Some(message)) => message.event,
                        Ok(None) => break,
                        Err(status) => {
                            tracing::warn!(%service, %status, "registry watch broke; keeping the last known set");
                            break;
                        }
                    };
                    backoff.reset();
                    let changes = match event {
                        Some(Event::Snapshot(snapshot)) => {
                            known.replace_all(snapshot.instances.into_iter().map(entry))
                        }
                        Some(Event::Upserted(instance)) => {
                            let (id, address, metadata) = entry(instance);
                            known.upsert(id, address, metadata).into_iter().collect()
                        }
                        Some(Event::Removed(removed)) => {
                            known.remove(&removed.instance_id).into_iter().collect()
                        }
                        None => Vec::new(),
                    };
                    for change in changes {
                        if tx.send(change).await.is_err() {
                            return;
                        }
                    }
                }
            }
            Err(status) => {
                tracing::debug!(%service, %status, "registry unreachable; keeping the last known set");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff.next_wait()) => {}
            () = tx.closed() => return,
        }
    }
}
