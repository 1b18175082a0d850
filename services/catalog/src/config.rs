//! The catalog's typed settings.

use shop_common::{db::DEFAULT_MAX_CONNECTIONS, money::DEFAULT_CURRENCY};

/// Where the catalog keeps its data by default: a SQLite file under `./data/`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite:data/catalog.db";

/// The catalog's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The database: `sqlite:PATH` (created when missing) or `postgres://...`.
    pub database_url: String,
    /// The most pooled database connections.
    pub max_connections: u32,
    /// The one currency every price is in (ISO 4217), such as "USD".
    pub currency: String,
    /// Whether to seed the demo products when the database has no product.
    pub seed_demo: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            currency: DEFAULT_CURRENCY.to_owned(),
            seed_demo: true,
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
