//! The configuration error: which setting is bad, where its value came from, and why.

use std::path::PathBuf;

/// An error loading settings. Every variant names the setting or the file it is about, so a
/// process can print it and exit non-zero.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A settings file could not be read.
    #[error("cannot read settings file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A settings file is not valid TOML.
    #[error("settings file {origin} is not valid TOML: {message}")]
    Parse {
        /// The file (or the name given to an in-memory text).
        origin: String,
        /// What the parser said.
        message: String,
    },
    /// A setting has a value of the wrong shape, or is unknown.
    #[error("invalid setting `{setting}` (from {origin}): {message}")]
    Invalid {
        /// The dotted name of the setting, such as `server.grace_period`.
        setting: String,
        /// Where the value came from: `defaults`, `file x.toml`, `env PROTOMESH_...`, `flag`.
        origin: String,
        /// What is wrong with it.
        message: String,
    },
}

impl ConfigError {
    /// The dotted name of the bad setting, when the error is about one.
    pub fn setting(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { setting, .. } => Some(setting),
            _ => None,
        }
    }
}
