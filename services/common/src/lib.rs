//! Shared building blocks of the reference shop's services (users, catalog, cart, orders).
//!
//! Everything here is storage or wire plumbing that would otherwise be copied four times; the
//! domain logic stays in each service crate.
//!
//! # Layout
//! - [`db`]: one sqlx `Any` pool for SQLite (default, a WAL file) or PostgreSQL (by URL),
//!   with embedded migrations run at start-up.
//! - [`violations`]: INVALID_ARGUMENT with `google.rpc.BadRequest` field violations.
//! - [`page`]: opaque, validated page tokens.
//! - [`money`]: exact amounts in minor units.
//! - [`time`]: timestamps stored as microseconds since the Unix epoch.
//! - `testing` (feature `testing`): a fresh SQLite file or PostgreSQL database per test.

pub mod db;
pub mod money;
pub mod page;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
pub mod violations;

pub use db::{Db, DbError};
pub use violations::Violations;

/// An error and its causes joined with ": ", for a log line.
pub fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
