//! The orders service's typed settings.

use std::time::Duration;

use shop_common::{db::DEFAULT_MAX_CONNECTIONS, money::DEFAULT_CURRENCY};

/// Where the orders service keeps its data by default: a SQLite file under `./data/`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite:data/orders.db";
/// Where the cart is by default, for [`crate::run`] without discovery.
pub const DEFAULT_CART_URL: &str = "http://127.0.0.1:50071";
/// Where the catalog is by default, for [`crate::run`] without discovery.
pub const DEFAULT_CATALOG_URL: &str = "http://127.0.0.1:50062";
/// How old a PENDING order must be before the sweeper fails it (its placing process died).
pub const DEFAULT_PENDING_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the sweeper runs.
pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(15);

/// How often an open WatchOrder stream re-reads its order, for changes other processes made.
pub const DEFAULT_WATCH_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// The orders service's settings.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// The database: `sqlite:PATH` (created when missing) or `postgres://...`.
    pub database_url: String,
    /// The most pooled database connections.
    pub max_connections: u32,
    /// The cart's URL, used by [`crate::run`] (with discovery, the caller passes balanced
    /// channels to [`crate::service()`] instead).
    pub cart_url: String,
    /// The catalog's URL, used by [`crate::run`].
    pub catalog_url: String,
    /// A bearer token with the role "service", sent to the catalog's ReserveStock and
    /// ReleaseStock. It must stay valid as long as the process runs.
    pub service_token: String,
    /// The currency of an order's total (the catalog's currency).
    pub currency: String,
    /// How old a PENDING order must be before the sweeper fails it and releases its stock.
    /// Must exceed the longest time a create can take (three upstream calls).
    pub pending_timeout: Duration,
    /// How often the sweeper looks for stale PENDING orders and unreleased stock.
    pub sweep_interval: Duration,
    /// How often an open WatchOrder stream re-reads its order (changes made in this process
    /// arrive at once; those of other replicas within this time).
    pub watch_poll_interval: Duration,
}

impl Config {
    /// The defaults over the database at `database_url`, calling the catalog with
    /// `service_token`.
    pub fn new(database_url: impl Into<String>, service_token: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            cart_url: DEFAULT_CART_URL.to_owned(),
            catalog_url: DEFAULT_CATALOG_URL.to_owned(),
            service_token: service_token.into(),
            currency: DEFAULT_CURRENCY.to_owned(),
            pending_timeout: DEFAULT_PENDING_TIMEOUT,
            sweep_interval: DEFAULT_SWEEP_INTERVAL,
            watch_poll_interval: DEFAULT_WATCH_POLL_INTERVAL,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &self.database_url)
            .field("max_connections", &self.max_connections)
            .field("cart_url", &self.cart_url)
            .field("catalog_url", &self.catalog_url)
            .field("service_token", &"<redacted>")
            .field("currency", &self.currency)
            .field("pending_timeout", &self.pending_timeout)
            .field("sweep_interval", &self.sweep_interval)
            .field("watch_poll_interval", &self.watch_poll_interval)
            .finish()
    }
}
