//! Server side of the kit: turns tonic services into a production server.
//!
//! # Layout
//! - [`announce`]: how a server tells discovery it is up, and that it is leaving.

pub mod announce;

pub use announce::Announcer;
