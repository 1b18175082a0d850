//! The layered settings loader: defaults < file < environment < flags.

use std::{collections::HashMap, path::Path};

use serde::de::DeserializeOwned;
use toml::{Table, Value};

use super::ConfigError;

/// The prefix of environment variables the loader reads.
pub const ENV_PREFIX: &str = "PROTOMESH_";

/// Environment variables with the prefix that are not settings (the CLI reads them itself).
const RESERVED_ENV: &[&str] = &["PROTOMESH_CONFIG"];

/// Collects layers of settings and deserializes them into a role's settings struct. Later
/// layers win; the struct's `Default` supplies everything no layer sets.
#[derive(Debug, Default, Clone)]
pub struct Loader {
    /// The merged values so far.
    merged: Table,
    /// Where each dotted key's value came from, for error messages.
    origins: HashMap<String, String>,
}

impl Loader {
    /// An empty loader: only the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a TOML settings file.
    pub fn file(self, path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        self.toml(&path.display().to_string(), &text)
    }

    /// Adds TOML text; `origin` names it in errors (usually the file name).
    pub fn toml(mut self, origin: &str, text: &str) -> Result<Self, ConfigError> {
        let table: Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Parse {
                origin: origin.to_string(),
                message: e.message().to_string(),
            })?;
        let origin = format!("file {origin}");
        merge(&mut self.merged, table, "", &origin, &mut self.origins);
        Ok(self)
    }

    /// Adds the `PROTOMESH_*` variables among `vars` (pass `std::env::vars()` in a binary,
    /// a literal list in tests). `PROTOMESH_SERVER__GRACE_PERIOD` sets `server.grace_period`.
    pub fn env(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        for (name, raw) in vars {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if RESERVED_ENV.contains(&name.as_str()) || rest.is_empty() {
                continue;
            }
            let key = rest.to_ascii_lowercase().replace("__", ".");
            self.set(&key, parse_value(&raw), &format!("env {name}"));
        }
        self
    }

    /// Adds one command-line flag, by dotted setting name: `flag("server.listen_addr", "...")`.
    pub fn flag(mut self, key: &str, raw: &str) -> Self {
        self.set(key, parse_value(raw), &format!("flag {key}"));
        self
    }

    /// Deserializes the merged layers into `T`. An error names the bad setting and the layer
    /// that set it.
    pub fn load<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let value = Value::Table(self.merged.clone());
        serde_path_to_error::deserialize(value).map_err(|error| {
            let setting = error.path().to_string();
            let origin = self.origin_of(&setting);
            ConfigError::Invalid {
                setting,
                origin,
                message: error.into_inner().message().to_string(),
            }
        })
    }

    /// Sets one dotted key, creating the tables on the way.
    fn set(&mut self, key: &str, value: Value, origin: &str) {
        let mut table = &mut self.merged;
        let mut parts = key.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                table.insert(part.to_string(), value);
                break;
            }
            let entry = table
                .entry(part.to_string())
                .or_insert_with(|| Value::Table(Table::new()));
            if !entry.is_table() {
                *entry = Value::Table(Table::new());
            }
            table = entry.as_table_mut().expect("made a table above");
        }
        self.origins.insert(key.to_string(), origin.to_string());
    }

    /// Where a dotted key was set: the key itself, a key below it, or the nearest table
    /// above it that a layer set whole.
    fn origin_of(&self, setting: &str) -> String {
        if let Some(origin) = self.origins.get(setting) {
            return origin.clone();
        }
        let prefix = format!("{setting}.");
        if let Some((_, origin)) = self
            .origins
            .iter()
            .find(|(key, _)| key.starts_with(&prefix))
        {
            return origin.clone();
        }
        let mut ancestor = setting;
        while let Some((parent, _)) = ancestor.rsplit_once('.') {
            if let Some(origin) = self.origins.get(parent) {
                return origin.clone();
            }
            ancestor = parent;
        }
        "defaults".to_string()
    }
}

/// Reads a raw environment or flag value as a TOML value when it is one, else as a string.
fn parse_value(raw: &str) -> Value {
    format!("v = {raw}")
        .parse::<Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(raw.to_string()))
}

/// Deep-merges `layer` into `base`: tables merge key by key, anything else replaces.
fn merge(
    base: &mut Table,
    layer: Table,
    prefix: &str,
    origin: &str,
    origins: &mut HashMap<String, String>,
) {
    for (key, value) in layer {
        let dotted = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (base.get_mut(&key), value) {
            (Some(Value::Table(existing)), Value::Table(inner)) => {
                merge(existing, inner, &dotted, origin, origins)
            }
            (_, value) => {
                base.insert(key, value);
                origins.insert(dotted, origin.to_string());
            }
        }
    }
}
