//! Per-method call policy from the contracts: may a call be retried, may its body be
//! buffered for replay; and each method's metric labels, looked up by the same path.
//!
//! Read from descriptor sets (`protomesh::FILE_DESCRIPTOR_SET` plus any extra pools a
//! client adds): a method is idempotent when its contract says `option idempotency_level =
//! NO_SIDE_EFFECTS` or `IDEMPOTENT`. Methods unknown to every pool are never retried, and
//! share one `unknown` label set, so callers cannot grow the label set.

use std::sync::Arc;

use foldhash::{HashMap, HashMapExt as _};

use prost_reflect::{DescriptorError, DescriptorPool};
use prost_types::method_options::IdempotencyLevel;

/// What the contract says about one method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MethodPolicy {
    /// `NO_SIDE_EFFECTS` or `IDEMPOTENT`: safe to send again after a failure.
    pub idempotent: bool,
    /// The client streams requests: the body cannot be buffered for a replay.
    pub client_streaming: bool,
    /// The server streams replies: a reply is handed on as it arrives, never held.
    pub server_streaming: bool,
}

/// The metric labels of one method, shared so that making a series copies no string.
#[derive(Debug, Clone)]
pub(crate) struct MethodLabels {
    /// The fully-qualified service.
    pub(crate) grpc_service: Arc<str>,
    /// The method name.
    pub(crate) grpc_method: Arc<str>,
    /// `unary`, `client_stream`, `server_stream`, `bidi_stream` or `unknown`.
    pub(crate) grpc_type: &'static str,
}

impl MethodLabels {
    /// The labels every unknown path shares.
    fn unknown() -> Self {
        let unknown: Arc<str> = Arc::from(crate::metrics::server::UNKNOWN);
        Self {
            grpc_service: unknown.clone(),
            grpc_method: unknown,
            grpc_type: crate::metrics::server::UNKNOWN,
        }
    }
}

/// The `grpc_type` label of a method.
fn grpc_type(client_streaming: bool, server_streaming: bool) -> &'static str {
    match (client_streaming, server_streaming) {
        (false, false) => "unary",
        (true, false) => "client_stream",
        (false, true) => "server_stream",
        (true, true) => "bidi_stream",
    }
}

/// Policies keyed by gRPC path, `/package.Service/Method` (hashed with foldhash: every call
/// looks its path up, and the keys are fixed when the table is built).
#[derive(Debug, Clone)]
pub struct MethodPolicies {
    /// Policy and index into `labels` by path.
    methods: HashMap<String, (MethodPolicy, usize)>,
    /// Metric labels by method index; the last entry stands for every unknown path.
    labels: Vec<MethodLabels>,
}

impl Default for MethodPolicies {
    fn default() -> Self {
        Self {
            methods: HashMap::new(),
            labels: vec![MethodLabels::unknown()],
        }
    }
}

impl MethodPolicies {
    /// Reads every method of every service in the encoded descriptor sets.
    pub fn from_descriptor_sets<'a>(
        sets: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Self, DescriptorError> {
        let mut methods: HashMap<String, (MethodPolicy, usize)> = HashMap::new();
        let mut labels = Vec::new();
        for set in sets {
            let pool = DescriptorPool::decode(set)?;
            for service in pool.services() {
                for method in service.methods() {
                    let level = method
                        .method_descriptor_proto()
                        .options
                        .as_ref()
                        .map(|o| o.idempotency_level())
                        .unwrap_or(IdempotencyLevel::IdempotencyUnknown);
                    let policy = MethodPolicy {
                        idempotent: matches!(
                            level,
                            IdempotencyLevel::NoSideEffects | IdempotencyLevel::Idempotent
                        ),
                        client_streaming: method.is_client_streaming(),
                        server_streaming: method.is_server_streaming(),
                    };
                    let path = format!("/{}/{}", service.full_name(), method.name());
                    let index = match methods.get(&path) {
                        Some((_, index)) => *index,
                        None => {
                            labels.push(MethodLabels {
                                grpc_service: Arc::from(service.full_name()),
                                grpc_method: Arc::from(method.name()),
                                grpc_type: grpc_type(
                                    method.is_client_streaming(),
                                    method.is_server_streaming(),
                                ),
                            });
                            labels.len() - 1
                        }
                    };
                    methods.insert(path, (policy, index));
                }
            }
        }
        labels.push(MethodLabels::unknown());
        Ok(Self { methods, labels })
    }

    /// The policy of the method at `path`, if any pool knows it.
    pub fn get(&self, path: &str) -> Option<MethodPolicy> {
        self.methods.get(path).map(|(policy, _)| *policy)
    }

    /// The policy of the method at `path` (if known) and its metric label index, in one
    /// lookup; unknown paths get the shared `unknown` index.
    pub(crate) fn lookup(&self, path: &str) -> (Option<MethodPolicy>, usize) {
        match self.methods.get(path) {
            Some((policy, index)) => (Some(*policy), *index),
            None => (None, self.labels.len() - 1),
        }
    }

    /// The metric labels of method `index` (from [`lookup`](Self::lookup)).
    pub(crate) fn labels(&self, index: usize) -> &MethodLabels {
        &self.labels[index]
    }

    /// How many label indexes there are (every method plus `unknown`).
    pub(crate) fn label_count(&self) -> usize {
        self.labels.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shop's contracts mark reads and idempotent writes as retryable and creations not.
    #[test]
    fn reads_idempotency_from_the_contracts() {
        let policies = MethodPolicies::from_descriptor_sets([crate::FILE_DESCRIPTOR_SET]).unwrap();
        let idempotent = |path: &str| policies.get(path).map(|p| p.idempotent);
        assert_eq!(
            idempotent("/shop.catalog.v1.CatalogService/GetProduct"),
            Some(true)
        );
        assert_eq!(
            idempotent("/shop.catalog.v1.CatalogService/UpdateProductPrice"),
            Some(true)
        );
        assert_eq!(
            idempotent("/shop.catalog.v1.CatalogService/CreateProduct"),
            Some(false)
        );
        assert_eq!(idempotent("/shop.catalog.v1.CatalogService/Nope"), None);
        let watch = policies
            .get("/protomesh.registry.v1.RegistryService/Watch")
            .unwrap();
        assert!(watch.idempotent && !watch.client_streaming);
    }

    /// Each method has its labels; every unknown path shares the last index.
    #[test]
    fn labels_methods_and_collapses_unknown_paths() {
        let policies = MethodPolicies::from_descriptor_sets([crate::FILE_DESCRIPTOR_SET]).unwrap();
        let (_, watch) = policies.lookup("/protomesh.registry.v1.RegistryService/Watch");
        let labels = policies.labels(watch);
        assert_eq!(
            &*labels.grpc_service,
            "protomesh.registry.v1.RegistryService"
        );
        assert_eq!(&*labels.grpc_method, "Watch");
        assert_eq!(labels.grpc_type, "server_stream");
        let (policy, a) = policies.lookup("/x.Y/Z");
        let (_, b) = policies.lookup("/evil/../path");
        assert_eq!((policy, a, b), (None, policies.label_count() - 1, a));
        assert_eq!(&*policies.labels(a).grpc_method, "unknown");
    }
}
