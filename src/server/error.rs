//! [`ServerError`]: why a server could not start or stopped abnormally.

use std::path::PathBuf;

use super::announce::AnnounceError;

/// Why [`super::ServerBuilder::serve`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A listener's local address could not be read.
    #[error("cannot read the listener's address: {0}")]
    Listener(#[source] std::io::Error),
    /// A TLS file could not be read.
    #[error("cannot read TLS file {path}: {source}")]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TLS settings were refused (bad certificate or key).
    #[error("invalid TLS settings: {0}")]
    Tls(String),
    /// A descriptor set given for reflection does not decode.
    #[error("cannot build reflection from the descriptor sets: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The announcer could not register the instance with discovery.
    #[error("cannot announce the server to discovery: {0}")]
    Announce(#[source] AnnounceError),
    /// The admin HTTP server failed.
    #[error("admin HTTP server failed: {0}")]
    Admin(#[source] std::io::Error),
}
