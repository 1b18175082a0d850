//! The in-memory lease store: who is registered, until when, and who is watching.
//!
//! Time is tokio's clock, so lease logic is tested with `tokio::time::pause()`.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Mutex,
    time::Duration,
};

use protomesh::contracts::protomesh::registry::v1::{Instance, Removed, watch_response::Event};
use tokio::{sync::broadcast, time::Instant};

use crate::{config::RegistryConfig, error::RegistryError};

/// Events buffered per watched service before a slow watcher gets a fresh snapshot.
const WATCH_BUFFER: usize = 256;

/// Why an instance left the set, as sent in `Removed.reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveReason {
    /// The instance deregistered (it is draining).
    Deregistered,
    /// Its lease expired without a heartbeat.
    LeaseExpired,
    /// It failed the configured number of health checks in a row.
    HealthCheckFailed,
    /// The same instance id registered again with a new lease.
    Replaced,
}

impl RemoveReason {
    /// The reason as sent to watchers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deregistered => "deregistered",
            Self::LeaseExpired => "lease expired",
            Self::HealthCheckFailed => "health check failed",
            Self::Replaced => "replaced",
        }
    }
}

/// A granted lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The lease id to heartbeat and deregister with.
    pub lease_id: String,
    /// The granted lease time.
    pub ttl: Duration,
}

#[derive(Debug)]
struct Lease {
    instance: Instance,
    ttl: Duration,
    expires_at: Instant,
    health_failures: u32,
}

#[derive(Debug, Default)]
struct State {
    leases: HashMap<String, Lease>,
    /// (service, instance id) -> lease id.
    by_instance: BTreeMap<(String, String), String>,
    watchers: HashMap<String, broadcast::Sender<Event>>,
}

impl State {
    fn live(&self, service: &str) -> Vec<Instance> {
        self.by_instance
            .iter()
            .filter(|((s, _), _)| service.is_empty() || s == service)
            .filter_map(|(_, lease)| self.leases.get(lease))
            .map(|lease| lease.instance.clone())
            .collect()
    }

    fn publish(&mut self, service: &str, event: Event) {
        if let Some(sender) = self.watchers.get(service)
            && sender.send(event).is_err()
        {
            self.watchers.remove(service);
        }
    }

    fn remove(&mut self, lease_id: &str, reason: RemoveReason) -> Option<Instance> {
        let lease = self.leases.remove(lease_id)?;
        let instance = lease.instance;
        self.by_instance
            .remove(&(instance.service.clone(), instance.instance_id.clone()));
        if reason != RemoveReason::Replaced {
            let removed = Removed {
                instance_id: instance.instance_id.clone(),
                reason: reason.as_str().to_owned(),
            };
            self.publish(&instance.service.clone(), Event::Removed(removed));
        }
        Some(instance)
    }
}

/// The registry's state. Cheap operations under one lock; share it in an `Arc`.
#[derive(Debug)]
pub struct Store {
    default_ttl: Duration,
    min_ttl: Duration,
    max_ttl: Duration,
    health_failures: u32,
    state: Mutex<State>,
}

impl Store {
    /// An empty store granting leases as `config` says.
    pub fn new(config: &RegistryConfig) -> Self {
        Self {
            default_ttl: config.default_ttl,
            min_ttl: config.min_ttl,
            max_ttl: config.max_ttl.max(config.min_ttl),
            health_failures: config.health_failures.max(1),
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers `instance` (already validated), replacing an earlier registration of the
    /// same service and instance id, and tells watchers.
    pub fn register(&self, instance: Instance, ttl: Option<Duration>) -> Grant {
        let ttl = ttl
            .unwrap_or(self.default_ttl)
            .clamp(self.min_ttl, self.max_ttl);
        let lease_id = format!("{:032x}", fastrand::u128(..));
        let key = (instance.service.clone(), instance.instance_id.clone());
        let mut state = self.state();
        if let Some(old) = state.by_instance.get(&key).cloned() {
            state.remove(&old, RemoveReason::Replaced);
        }
        state.by_instance.insert(key, lease_id.clone());
        let service = instance.service.clone();
        state.leases.insert(
            lease_id.clone(),
            Lease {
                instance: instance.clone(),
                ttl,
                expires_at: Instant::now() + ttl,
                health_failures: 0,
            },
        );
        state.publish(&service, Event::Upserted(instance));
        Grant { lease_id, ttl }
    }

    /// Renews a lease; returns how long until it expires.
    pub fn heartbeat(&self, lease_id: &str) -> Result<Duration, RegistryError> {
        let mut state = self.state();
        let lease = state
            .leases
            .get_mut(lease_id)
            .ok_or(RegistryError::LeaseNotFound)?;
        lease.expires_at = Instant::now() + lease.ttl;
        Ok(lease.ttl)
    }

    /// Removes the instance holding `lease_id`; returns whether there was one.
    pub fn deregister(&self, lease_id: &str) -> bool {
        self.state()
            .remove(lease_id, RemoveReason::Deregistered)
            .is_some()
    }

    /// The live instances of `service` (every service when empty), by service then id.
    pub fn list(&self, service: &str) -> Vec<Instance> {
        self.state().live(service)
    }

    /// The live set of `service` and a receiver of every later change, taken under one
    /// lock so that no change falls between them.
    pub fn watch(&self, service: &str) -> (Vec<Instance>, broadcast::Receiver<Event>) {
        let mut state = self.state();
        let receiver = state
            .watchers
            .entry(service.to_owned())
            .or_insert_with(|| broadcast::channel(WATCH_BUFFER).0)
            .subscribe();
        (state.live(service), receiver)
    }

    /// Removes every lease past its expiry; returns how many.
    pub fn expire(&self) -> usize {
        let now = Instant::now();
        let mut state = self.state();
        let expired: Vec<String> = state
            .leases
            .iter()
            .filter(|(_, lease)| lease.expires_at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for lease_id in &expired {
            state.remove(lease_id, RemoveReason::LeaseExpired);
        }
        expired.len()
    }

    /// Every lease and the address to health-check it at.
    pub fn health_targets(&self) -> Vec<(String, String)> {
        self.state()
            .leases
            .iter()
            .map(|(id, lease)| (id.clone(), lease.instance.address.clone()))
            .collect()
    }

    /// Records one health check result; returns whether it removed the instance.
    pub fn record_health(&self, lease_id: &str, healthy: bool) -> bool {
        let mut state = self.state();
        let Some(lease) = state.leases.get_mut(lease_id) else {
            return false;
        };
        if healthy {
            lease.health_failures = 0;
            return false;
        }
        lease.health_failures += 1;
        if lease.health_failures < self.health_failures {
            return false;
        }
        state
            .remove(lease_id, RemoveReason::HealthCheckFailed)
            .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(id: &str) -> Instance {
        Instance {
            service: "catalog".into(),
            instance_id: id.into(),
            address: "127.0.0.1:1".into(),
            ..Instance::default()
        }
    }

    fn store() -> Store {
        Store::new(&RegistryConfig::default())
    }

    /// A lease expires one TTL after its last heartbeat, not before, and watchers hear why.
    #[tokio::test(start_paused = true)]
    async fn lease_expires_without_heartbeat() {
        let store = store();
        let (_, mut events) = store.watch("catalog");
        let grant = store.register(instance("c-1"), Some(Duration::from_secs(3)));
        assert_eq!(grant.ttl, Duration::from_secs(3));
        assert!(matches!(events.recv().await, Ok(Event::Upserted(i)) if i.instance_id == "c-1"));

        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(
            store.heartbeat(&grant.lease_id).unwrap(),
            Duration::from_secs(3)
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(store.expire(), 0, "the heartbeat renewed the lease");
        tokio::time::advance(Duration::from_millis(1001)).await;
        assert_eq!(store.expire(), 1);
        assert!(store.list("catalog").is_empty());
        let Ok(Event::Removed(removed)) = events.recv().await else {
            panic!("expected a removal")
        };
        assert_eq!(
            (removed.instance_id.as_str(), removed.reason.as_str()),
            ("c-1", "lease expired")
        );
        assert!(matches!(
            store.heartbeat(&grant.lease_id),
            Err(RegistryError::LeaseNotFound)
        ));
    }

    /// Requested TTLs are clamped to the configured bounds, and the default applies to none.
    #[test]
    fn ttl_is_clamped() {
        let store = store();
        let ttl = |t| store.register(instance("c"), t).ttl;
        assert_eq!(ttl(None), Duration::from_secs(10));
        assert_eq!(ttl(Some(Duration::from_millis(1))), Duration::from_secs(1));
        assert_eq!(
            ttl(Some(Duration::from_secs(3600))),
            Duration::from_secs(60)
        );
    }

    /// Registering the same instance id again replaces the old lease without a removal event.
    #[tokio::test]
    async fn re_registration_replaces_the_lease() {
        let store = store();
        let first = store.register(instance("c-1"), None);
        let (snapshot, mut events) = store.watch("catalog");
        assert_eq!(snapshot.len(), 1);
        let second = store.register(instance("c-1"), None);
        assert_ne!(first.lease_id, second.lease_id);
        assert!(matches!(
            store.heartbeat(&first.lease_id),
            Err(RegistryError::LeaseNotFound)
        ));
        assert_eq!(store.list("").len(), 1);
        assert!(matches!(events.recv().await, Ok(Event::Upserted(_))));
        assert!(events.try_recv().is_err(), "no removal for a replacement");
    }

    /// N failed health checks in a row remove an instance; a success resets the count.
    #[test]
    fn health_failures_remove_after_threshold() {
        let store = store();
        let grant = store.register(instance("c-1"), None);
        assert!(!store.record_health(&grant.lease_id, false));
        assert!(!store.record_health(&grant.lease_id, false));
        assert!(!store.record_health(&grant.lease_id, true));
        assert!(!store.record_health(&grant.lease_id, false));
        assert!(!store.record_health(&grant.lease_id, false));
        assert!(store.record_health(&grant.lease_id, false));
        assert!(store.list("catalog").is_empty());
        assert!(!store.record_health(&grant.lease_id, false));
    }

    /// Deregistration removes at once; an unknown lease is ignored.
    #[test]
    fn deregister_removes_and_ignores_unknown() {
        let store = store();
        let grant = store.register(instance("c-1"), None);
        store.register(
            Instance {
                service: "users".into(),
                ..instance("u-1")
            },
            None,
        );
        assert!(store.deregister(&grant.lease_id));
        assert!(!store.deregister(&grant.lease_id));
        let all: Vec<String> = store.list("").into_iter().map(|i| i.instance_id).collect();
        assert_eq!(all, ["u-1"]);
    }
}
