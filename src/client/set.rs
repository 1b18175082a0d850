//! The live endpoint set: discovery changes in, an immutable snapshot out for each pick.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, RwLock},
};

use tokio::{sync::watch, task::JoinHandle, time::Instant};

use super::{
    ClientConfig,
    connection::{Connection, ConnectionSettings},
    endpoint::{Endpoint, EndpointStatus, Health},
    ewma::PeakEwma,
    health,
    observe::EndpointSeries,
    ring::Ring,
};
use crate::discovery::{Change, backoff::Backoff};

/// What a pick sees: every known endpoint (sorted by id) and the hash ring over them.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) endpoints: Vec<Arc<Endpoint>>,
    pub(crate) ring: Ring,
}

/// One member of the set with the task following its health (aborted on removal).
#[derive(Debug)]
struct Member {
    endpoint: Arc<Endpoint>,
    health: Option<JoinHandle<()>>,
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Some(task) = &self.health {
            task.abort();
        }
    }
}

/// The endpoint set of one balanced client.
#[derive(Debug)]
pub(crate) struct EndpointSet {
    config: Arc<ClientConfig>,
    /// Metric series slots per endpoint (one per method label index).
    method_slots: usize,
    members: Mutex<BTreeMap<String, Member>>,
    snapshot: RwLock<Arc<Snapshot>>,
    changed: Arc<watch::Sender<u64>>,
}

impl EndpointSet {
    pub(crate) fn new(config: Arc<ClientConfig>, method_slots: usize) -> Self {
        Self {
            config,
            method_slots,
            members: Mutex::new(BTreeMap::new()),
            snapshot: RwLock::new(Arc::default()),
            changed: Arc::new(watch::channel(0).0),
        }
    }

    /// The current snapshot.
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A receiver that sees a new value whenever membership or health changes.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The public view of every endpoint.
    pub(crate) fn statuses(&self) -> Vec<EndpointStatus> {
        let now = Instant::now();
        self.snapshot()
            .endpoints
            .iter()
            .map(|e| e.status(now))
            .collect()
    }

    /// Applies one discovery change. Must run within a tokio runtime.
    pub(crate) fn apply(&self, change: Change) {
        let mut members = self.members.lock().unwrap_or_else(|e| e.into_inner());
        match change {
            Change::Insert {
                id,
                address,
                metadata,
            } => {
                let unchanged = members.get(&id).is_some_and(|m| {
                    m.endpoint.address == address && m.endpoint.metadata == metadata
                });
                if unchanged {
                    return;
                }
                match self.member(id.clone(), address, metadata) {
                    Some(member) => {
                        members.insert(id, member);
                    }
                    None => {
                        members.remove(&id);
                    }
                }
            }
            Change::Remove { id } => {
                if members.remove(&id).is_none() {
                    return;
                }
            }
        }
        let endpoints: Vec<Arc<Endpoint>> = members.values().map(|m| m.endpoint.clone()).collect();
        let ring = Ring::build(
            endpoints.iter().map(|e| e.id.as_str()),
            self.config.ring_replicas,
        );
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) =
            Arc::new(Snapshot { endpoints, ring });
        drop(members);
        self.changed.send_modify(|version| *version += 1);
    }

    /// Creates a member: a lazy channel and, with health checks on, its health task.
    fn member(
        &self,
        id: String,
        address: String,
        metadata: BTreeMap<String, String>,
    ) -> Option<Member> {
        let config = &self.config;
        let settings = ConnectionSettings {
            connect_timeout: config.connect_timeout,
            keepalive_interval: config.keepalive_interval,
            keepalive_timeout: config.keepalive_timeout,
        };
        let channel = match Connection::lazy(&address, settings) {
            Ok(connection) => connection,
            Err(error) => {
                tracing::warn!(%id, %address, %error, "discovery gave an invalid address; ignored");
                return None;
            }
        };
        let ewma = PeakEwma::new(config.ewma_initial, config.ewma_decay, Instant::now());
        let series = EndpointSeries::new(&address, self.method_slots);
        let endpoint = Arc::new(Endpoint::new(id, address, metadata, channel, ewma, series));
        let health = if config.health_checks {
            let backoff = Backoff::new(config.discovery.backoff_min, config.discovery.backoff_max);
            Some(tokio::spawn(health::follow(
                endpoint.clone(),
                config.health_service.clone(),
                self.changed.clone(),
                backoff,
            )))
        } else {
            endpoint.set_health(Health::Serving);
            None
        };
        Some(Member { endpoint, health })
    }
}
