//! The methods a server knows, read from descriptor sets: their kind (unary or streaming)
//! and their metric labels. Paths no descriptor names collapse into one `unknown` entry, so
//! callers cannot grow the label set.

use std::sync::{Arc, OnceLock};

use foldhash::{HashMap, HashMapExt as _};

use prometheus_client::metrics::{counter::Counter, histogram::Histogram};
use prost::Message;
use prost_types::FileDescriptorSet;

use crate::metrics::server::{HandledLabels, MethodLabels};

/// The shape of a method's call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MethodKind {
    /// One request, one response.
    Unary,
    /// A request stream, one response.
    ClientStream,
    /// One request, a response stream.
    ServerStream,
    /// Streams both ways.
    BidiStream,
    /// A path no descriptor names.
    Unknown,
}

impl MethodKind {
    /// The `grpc_type` label value.
    pub(crate) fn label(self) -> &'static str {
        match self {
            MethodKind::Unary => "unary",
            MethodKind::ClientStream => "client_stream",
            MethodKind::ServerStream => "server_stream",
            MethodKind::BidiStream => "bidi_stream",
            MethodKind::Unknown => crate::metrics::server::UNKNOWN,
        }
    }
}

/// What the stack knows about one method.
#[derive(Debug)]
pub(crate) struct MethodInfo {
    /// Unary or streaming.
    pub(crate) kind: MethodKind,
    /// Its `grpc_server_started_total` / `grpc_server_handling_seconds` labels.
    pub(crate) labels: MethodLabels,
    /// Its `grpc_server_handled_total` labels, indexed by gRPC code number.
    pub(crate) handled: Vec<HandledLabels>,
    /// Its metric series, resolved on first use so later calls skip the label lookups.
    pub(crate) series: SeriesCache,
}

/// The metric series of one method, each resolved once from its family. Series are
/// created on first use, so `/metrics` lists only methods that were called.
#[derive(Debug)]
pub(crate) struct SeriesCache {
    /// `grpc_server_started_total` of the method.
    pub(crate) started: OnceLock<Counter>,
    /// `grpc_server_handling_seconds` of the method.
    pub(crate) handling: OnceLock<Histogram>,
    /// `grpc_server_handled_total` of the method, by code number.
    pub(crate) handled: [OnceLock<Counter>; 17],
}

impl Default for SeriesCache {
    fn default() -> Self {
        Self {
            started: OnceLock::new(),
            handling: OnceLock::new(),
            handled: std::array::from_fn(|_| OnceLock::new()),
        }
    }
}

impl MethodInfo {
    /// Builds the info and its labels once.
    fn new(kind: MethodKind, labels: MethodLabels) -> Self {
        let handled = labels.handled();
        Self {
            kind,
            labels,
            handled,
            series: SeriesCache::default(),
        }
    }
}

/// Every known method by path (`/package.Service/Method`).
#[derive(Debug)]
pub(crate) struct MethodTable {
    /// Known methods.
    by_path: HashMap<String, Arc<MethodInfo>>,
    /// The entry every unknown path maps to.
    unknown: Arc<MethodInfo>,
}

impl MethodTable {
    /// Reads every method of every service in the encoded descriptor sets; sets that do not
    /// decode are skipped (they only cost their methods' labels).
    pub(crate) fn from_descriptor_sets<'a>(sets: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut by_path = HashMap::new();
        for bytes in sets {
            let Ok(set) = FileDescriptorSet::decode(bytes) else {
                tracing::warn!("skipping a descriptor set that does not decode");
                continue;
            };
            for file in set.file {
                let package = file.package.unwrap_or_default();
                for service in file.service {
                    let service_name = match (package.as_str(), service.name()) {
                        ("", name) => name.to_string(),
                        (package, name) => format!("{package}.{name}"),
                    };
                    for method in service.method {
                        let kind = match (method.client_streaming(), method.server_streaming()) {
                            (false, false) => MethodKind::Unary,
                            (true, false) => MethodKind::ClientStream,
                            (false, true) => MethodKind::ServerStream,
                            (true, true) => MethodKind::BidiStream,
                        };
                        let labels = MethodLabels {
                            grpc_service: service_name.clone(),
                            grpc_method: method.name().to_string(),
                            grpc_type: kind.label(),
                        };
                        let path = format!("/{service_name}/{}", method.name());
                        by_path.insert(path, Arc::new(MethodInfo::new(kind, labels)));
                    }
                }
            }
        }
        Self {
            by_path,
            unknown: Arc::new(MethodInfo::new(
                MethodKind::Unknown,
                MethodLabels::unknown(),
            )),
        }
    }

    /// The method at `path`, or the shared unknown entry.
    pub(crate) fn lookup(&self, path: &str) -> &Arc<MethodInfo> {
        self.by_path.get(path).unwrap_or(&self.unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Methods of the compiled contracts are found with their kind; anything else is unknown.
    #[test]
    fn reads_kinds_and_collapses_unknown_paths() {
        let table = MethodTable::from_descriptor_sets([crate::FILE_DESCRIPTOR_SET]);
        let register = table.lookup("/protomesh.registry.v1.RegistryService/Register");
        assert_eq!(register.kind, MethodKind::Unary);
        assert_eq!(register.labels.grpc_method, "Register");
        let watch = table.lookup("/protomesh.registry.v1.RegistryService/Watch");
        assert_eq!(watch.kind, MethodKind::ServerStream);
        assert_eq!(watch.handled[5].grpc_code, "NotFound");
        let a = table.lookup("/x.Y/Z");
        let b = table.lookup("/evil/../path");
        assert!(Arc::ptr_eq(a, b));
        assert_eq!(a.labels.grpc_service, "unknown");
    }
}
