//! [`RegistryAnnouncer`]: a server's registration in the embedded registry.
//!
//! On [`Announcer::announce`] it registers the instance with a lease and heartbeats at a
//! third of the granted TTL; a `NOT_FOUND` heartbeat (the lease expired, or the registry
//! restarted) registers again. [`Announcer::withdraw`] stops heartbeating and deregisters.
//! The heartbeat task is stopped between calls, never inside one, so a registration in
//! flight is always recorded and then deregistered rather than left to expire.

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{sync::watch, task::JoinHandle};
use tonic::{Code, transport::Channel};

use super::{DiscoveryError, registry::registry_channel};
use crate::{
    contracts::protomesh::registry::v1::{
        DeregisterRequest, HeartbeatRequest, Instance, RegisterRequest,
        registry_service_client::RegistryServiceClient,
    },
    server::announce::{AnnounceError, Announcer, BoxFuture},
};

/// The lease time an announcer asks for.
pub const DEFAULT_ANNOUNCE_TTL: Duration = Duration::from_secs(10);
/// How long a withdrawal waits for the registry before giving up (the lease then expires).
pub const DEFAULT_WITHDRAW_TIMEOUT: Duration = Duration::from_secs(2);

/// What an instance registers as.
#[derive(Debug, Clone)]
pub struct AnnouncerConfig {
    /// The logical service name clients ask for, such as `catalog`.
    pub service: String,
    /// Unique per instance, such as `catalog-1`.
    pub instance_id: String,
    /// The version the instance runs.
    pub version: String,
    /// Free-form labels, such as a zone.
    pub metadata: BTreeMap<String, String>,
    /// The lease time to ask for; the registry may shorten it.
    pub ttl: Duration,
    /// The host to advertise instead of the bound IP (needed when bound to `0.0.0.0`;
    /// an unspecified IP with no advertise host is announced as `127.0.0.1`).
    pub advertise_host: Option<String>,
    /// How long [`Announcer::withdraw`] waits for the registry.
    pub withdraw_timeout: Duration,
}

impl AnnouncerConfig {
    /// A configuration for `service`/`instance_id` with default TTL and no metadata.
    pub fn new(service: impl Into<String>, instance_id: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            instance_id: instance_id.into(),
            version: String::new(),
            metadata: BTreeMap::new(),
            ttl: DEFAULT_ANNOUNCE_TTL,
            advertise_host: None,
            withdraw_timeout: DEFAULT_WITHDRAW_TIMEOUT,
        }
    }
}

/// Registers a server in the registry and keeps its lease alive; plug it into the server
/// builder as its [`Announcer`].
#[derive(Debug, Clone)]
pub struct RegistryAnnouncer {
    client: RegistryServiceClient<Channel>,
    config: Arc<AnnouncerConfig>,
    running: Arc<Mutex<Option<Running>>>,
}

/// The live registration: the current lease, the heartbeat task and its stop signal.
#[derive(Debug)]
struct Running {
    lease: Arc<Mutex<String>>,
    stop: watch::Sender<bool>,
    heartbeat: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

impl RegistryAnnouncer {
    /// An announcer talking to the registry at `registry_address` (`host:port` or a URI).
    /// Connects lazily; must be called within a tokio runtime.
    pub fn new(registry_address: &str, config: AnnouncerConfig) -> Result<Self, DiscoveryError> {
        Ok(Self {
            client: RegistryServiceClient::new(registry_channel(registry_address)?),
            config: Arc::new(config),
            running: Arc::new(Mutex::new(None)),
        })
    }

    /// The lease currently held, if announced.
    pub fn lease_id(&self) -> Option<String> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running
            .as_ref()
            .map(|r| r.lease.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    fn instance(&self, grpc: SocketAddr, admin: Option<SocketAddr>) -> Instance {
        let config = &self.config;
        let host_of = |addr: SocketAddr| match &config.advertise_host {
            Some(host) => host.clone(),
            None if addr.ip().is_unspecified() => "127.0.0.1".to_owned(),
            None => addr.ip().to_string(),
        };
        let format = |addr: SocketAddr| {
            let host = host_of(addr);
            if host.contains(':') {
                format!("[{host}]:{}", addr.port())
            } else {
                format!("{host}:{}", addr.port())
            }
        };
        Instance {
            service: config.service.clone(),
            instance_id: config.instance_id.clone(),
            address: format(grpc),
            admin_address: admin.map(format).unwrap_or_default(),
            version: config.version.clone(),
            metadata: config
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<HashMap<_, _>>(),
        }
    }
}

/// Registers once; returns the lease and the granted TTL.
async fn register(
    client: &mut RegistryServiceClient<Channel>,
    instance: &Instance,
    ttl: Duration,
) -> Result<(String, Duration), tonic::Status> {
    let response = client
        .register(RegisterRequest {
            instance: Some(instance.clone()),
            ttl: prost_types::Duration::try_from(ttl).ok(),
        })
        .await?
        .into_inner();
    let granted = response
        .ttl
        .and_then(|d| Duration::try_from(d).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(ttl);
    Ok((response.lease_id, granted))
}

/// Heartbeats at a third of the TTL until `stop` turns true (checked between calls);
/// registers again on `NOT_FOUND`.
async fn heartbeat_loop(
    mut client: RegistryServiceClient<Channel>,
    instance: Instance,
    requested_ttl: Duration,
    mut ttl: Duration,
    lease: Arc<Mutex<String>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            () = tokio::time::sleep(ttl / 3) => {}
        }
        let lease_id = lease.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let beat = client.heartbeat(HeartbeatRequest { lease_id }).await;
        match beat {
            Ok(_) => {}
            Err(status) if status.code() == Code::NotFound => {
                match register(&mut client, &instance, requested_ttl).await {
                    Ok((new_lease, granted)) => {
                        tracing::info!(instance = %instance.instance_id, "lease lost; registered again");
                        *lease.lock().unwrap_or_else(|e| e.into_inner()) = new_lease;
                        ttl = granted;
                    }
                    Err(status) => {
                        tracing::warn!(instance = %instance.instance_id, %status, "registering again failed");
                    }
                }
            }
            Err(status) => {
                tracing::warn!(instance = %instance.instance_id, %status, "heartbeat failed");
            }
        }
    }
}

impl Announcer for RegistryAnnouncer {
    fn announce(
        &self,
        grpc: SocketAddr,
        admin: Option<SocketAddr>,
    ) -> BoxFuture<Result<(), AnnounceError>> {
        let this = self.clone();
        Box::pin(async move {
            let instance = this.instance(grpc, admin);
            let mut client = this.client.clone();
            let (lease_id, granted) = register(&mut client, &instance, this.config.ttl).await?;
            tracing::info!(instance = %instance.instance_id, address = %instance.address, "registered");
            let lease = Arc::new(Mutex::new(lease_id));
            let (stop, stopped) = watch::channel(false);
            let heartbeat = tokio::spawn(heartbeat_loop(
                client,
                instance,
                this.config.ttl,
                granted,
                lease.clone(),
                stopped,
            ));
            let previous = this
                .running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .replace(Running {
                    lease,
                    stop,
                    heartbeat,
                });
            drop(previous);
            Ok(())
        })
    }

    fn withdraw(&self) -> BoxFuture<()> {
        let this = self.clone();
        Box::pin(async move {
            let running = this
                .running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            let Some(mut running) = running else { return };
            // Let a heartbeat or re-registration in flight finish so its lease is the one
            // deregistered; past the timeout the task is aborted and the lease expires.
            running.stop.send_replace(true);
            let timeout = this.config.withdraw_timeout;
            if tokio::time::timeout(timeout, &mut running.heartbeat)
                .await
                .is_err()
            {
                running.heartbeat.abort();
            }
            let lease_id = running
                .lease
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let mut client = this.client.clone();
            let deregister = client.deregister(DeregisterRequest { lease_id });
            match tokio::time::timeout(this.config.withdraw_timeout, deregister).await {
                Ok(Ok(_)) => tracing::info!(instance = %this.config.instance_id, "deregistered"),
                Ok(Err(status)) => {
                    tracing::warn!(instance = %this.config.instance_id, %status, "deregistering failed; the lease will expire")
                }
                Err(_) => {
                    tracing::warn!(instance = %this.config.instance_id, "deregistering timed out; the lease will expire")
                }
            }
        })
    }
}
