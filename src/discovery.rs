//! Where a client's endpoints come from.
//!
//! Every source yields the same stream of [`Change`]s: an endpoint was inserted (or its
//! address or metadata changed), or it was removed. A client applies the changes to its
//! endpoint set in order. Sources are picked by target string:
//!
//! - `static://127.0.0.1:50062,127.0.0.1:50063`: a fixed list ([`StaticList`]);
//! - `dns://catalog.shop.svc.cluster.local:50051`: every A/AAAA record of a name, resolved
//!   again on an interval ([`Dns`]), the Kubernetes headless-Service path;
//! - `registry://catalog`: the embedded registry's `Watch` stream ([`RegistryWatch`]).
//!
//! [`RegistryAnnouncer`] is the other half of the registry path: it implements
//! [`crate::server::Announcer`] so a server registers itself, heartbeats and withdraws.
//!
//! # Layout
//! - [`target`]: parsing target strings.
//! - [`static_list`], [`dns`], [`registry`]: the three sources.
//! - [`announcer`]: the registry announcer for servers.
//! - `backoff`: the reconnect backoff every loop here shares.

pub mod announcer;
pub(crate) mod backoff;
pub mod dns;
pub(crate) mod known;
pub mod registry;
pub mod static_list;
pub mod target;

use std::{collections::BTreeMap, pin::Pin, time::Duration};

use futures_util::Stream;

pub use announcer::{AnnouncerConfig, RegistryAnnouncer};
pub use dns::Dns;
pub use registry::RegistryWatch;
pub use static_list::StaticList;
pub use target::Target;

/// The registry address a `registry://` target uses when none is configured.
pub const DEFAULT_REGISTRY_ADDRESS: &str = "127.0.0.1:50051";
/// How often a `dns://` target is resolved again.
pub const DEFAULT_DNS_INTERVAL: Duration = Duration::from_secs(5);
/// The first wait before reconnecting to the registry; it doubles up to the maximum.
pub const DEFAULT_BACKOFF_MIN: Duration = Duration::from_millis(100);
/// The longest wait between reconnection attempts.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// One change to a service's endpoint set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An endpoint joined, or changed its address or metadata (same id: replace it).
    Insert {
        /// Stable id of the endpoint (the instance id, or the address for static and DNS).
        id: String,
        /// The gRPC address, `host:port`.
        address: String,
        /// Labels from discovery, such as a zone or a version.
        metadata: BTreeMap<String, String>,
    },
    /// The endpoint with this id left.
    Remove {
        /// Id of the endpoint that left.
        id: String,
    },
}

/// A stream of endpoint changes, as every source yields.
pub type Changes = Pin<Box<dyn Stream<Item = Change> + Send + 'static>>;

/// A source of endpoint changes. The stream ends only when the source has nothing more to
/// say (a static list); watching sources run until the stream is dropped.
pub trait Discover: Send + 'static {
    /// Starts the source (spawning its task on the current tokio runtime) and returns its
    /// changes.
    fn changes(self: Box<Self>) -> Changes;
}

/// Settings shared by the discovery sources.
#[derive(Debug, Clone)]
pub struct DiscoveryConfig {
    /// Address (`host:port` or `http://host:port`) of the registry for `registry://` targets.
    pub registry_address: String,
    /// How often `dns://` targets are resolved again.
    pub dns_interval: Duration,
    /// First reconnect wait after the registry is unreachable; doubles each attempt.
    pub backoff_min: Duration,
    /// Longest reconnect wait.
    pub backoff_max: Duration,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        Self {
            registry_address: DEFAULT_REGISTRY_ADDRESS.to_owned(),
            dns_interval: DEFAULT_DNS_INTERVAL,
            backoff_min: DEFAULT_BACKOFF_MIN,
            backoff_max: DEFAULT_BACKOFF_MAX,
        }
    }
}

/// What can go wrong setting discovery up.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The target string is not `static://`, `dns://` or `registry://` with a valid rest.
    #[error("invalid target {target:?}: {reason}")]
    InvalidTarget {
        /// The target as given.
        target: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The registry address is not a valid URI.
    #[error("invalid registry address {0:?}")]
    InvalidRegistryAddress(String),
}

/// Builds the source a target names.
pub fn source(
    target: &Target,
    config: &DiscoveryConfig,
) -> Result<Box<dyn Discover>, DiscoveryError> {
    Ok(match target {
        Target::Static(addresses) => Box::new(StaticList::new(addresses.clone())),
        Target::Dns { host, port } => Box::new(Dns::new(host.clone(), *port, config.dns_interval)),
        Target::Registry { service } => Box::new(RegistryWatch::new(
            &config.registry_address,
            service.clone(),
            config,
        )?),
    })
}

/// Turns `host:port` into `http://host:port`, leaving URIs with a scheme alone.
pub(crate) fn http_uri(address: &str) -> String {
    if address.contains("://") {
        address.to_owned()
    } else {
        format!("http://{address}")
    }
}
