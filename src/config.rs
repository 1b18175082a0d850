//! Typed settings, layered: defaults < file (TOML) < environment (`PROTOMESH_*`) < flags.
//!
//! Each role declares one settings struct (`#[serde(default)]`, a doc comment per field,
//! named `DEFAULT_*` constants) and loads it with a [`Loader`]. The loader is generic, so a
//! role adds its own section beside the shared [`ServerConfig`]:
//!
//! ```
//! use protomesh::config::{Loader, ServerConfig};
//!
//! #[derive(Debug, Default, serde::Deserialize)]
//! #[serde(default, deny_unknown_fields)]
//! struct CatalogSettings {
//!     /// The gRPC server.
//!     server: ServerConfig,
//!     /// Where the catalog keeps its data.
//!     database_url: String,
//! }
//!
//! let settings: CatalogSettings = Loader::new()
//!     .toml("catalog.toml", "database_url = \"sqlite://catalog.db\"")?
//!     .env([("PROTOMESH_SERVER__CONCURRENCY_LIMIT".to_string(), "64".to_string())])
//!     .flag("server.listen_addr", "127.0.0.1:7001")
//!     .load()?;
//! assert_eq!(settings.server.concurrency_limit, 64);
//! assert_eq!(settings.server.listen_addr.port(), 7001);
//! assert_eq!(settings.database_url, "sqlite://catalog.db");
//! # Ok::<(), protomesh::config::ConfigError>(())
//! ```
//!
//! Environment keys drop the `PROTOMESH_` prefix, use `__` between sections and are
//! case-insensitive: `PROTOMESH_SERVER__GRACE_PERIOD=5s` sets `server.grace_period`. Values
//! from the environment and flags are read as TOML values when they parse as one (`64`,
//! `true`, `["a"]`), as plain strings otherwise (`127.0.0.1:7001`, `5s`).
//! `PROTOMESH_CONFIG` is not a setting: the CLI reads it as the settings file's path. Keys
//! that contain dots themselves (the method paths of `server.method_deadlines`) can only be
//! set in the file.
//!
//! # Layout
//! - [`loader`]: the layered [`Loader`].
//! - [`server`]: [`ServerConfig`], the settings every gRPC server shares.
//! - [`duration`]: human durations (`250ms`, `5s`, `1m`) for settings.
//! - [`error`]: [`ConfigError`], naming the bad setting and where it came from.

pub mod duration;
pub mod error;
pub mod loader;
pub mod server;

pub use crate::telemetry::LogFormat;
pub use error::ConfigError;
pub use loader::{ENV_PREFIX, Loader};
pub use server::{ServerConfig, TlsConfig};
