//! The cart's typed settings.

use shop_common::{db::DEFAULT_MAX_CONNECTIONS, money::DEFAULT_CURRENCY};

/// Where the cart keeps its data by default: a SQLite file under `./data/`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite:data/cart.db";

/// Where the catalog is by default, for [`crate::run`] without discovery.
pub const DEFAULT_CATALOG_URL: &str = "http://127.0.0.1:50062";

/// The cart's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The database: `sqlite:PATH` (created when missing) or `postgres://...`.
    pub database_url: String,
    /// The most pooled database connections.
    pub max_connections: u32,
    /// The catalog's URL, used by [`crate::run`] (with discovery, the caller passes a balanced
    /// channel to [`crate::service()`] instead).
    pub catalog_url: String,
    /// The currency of an empty cart's total (the catalog's currency).
    pub currency: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            catalog_url: DEFAULT_CATALOG_URL.to_owned(),
            currency: DEFAULT_CURRENCY.to_owned(),
        }
    }
}

impl Config {
    /// The defaults with another database URL.
    pub fn with_database_url(url: impl Into<String>) -> Self {
        Self {
            database_url: url.into(),
            ..Self::default()
        }
    }
}
