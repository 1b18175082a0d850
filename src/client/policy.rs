//! Per-method call policy from the contracts: may a call be retried, may its body be
//! buffered for replay.
//!
//! Read from descriptor sets (`protomesh::FILE_DESCRIPTOR_SET` plus any extra pools a
//! client adds): a method is idempotent when its contract says `option idempotency_level =
//! NO_SIDE_EFFECTS` or `IDEMPOTENT`. Methods unknown to every pool are never retried.

use std::collections::HashMap;

use prost_reflect::{DescriptorError, DescriptorPool};
use prost_types::method_options::IdempotencyLevel;

/// What the contract says about one method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MethodPolicy {
    /// `NO_SIDE_EFFECTS` or `IDEMPOTENT`: safe to send again after a failure.
    pub idempotent: bool,
    /// The client streams requests: the body cannot be buffered for a replay.
    pub client_streaming: bool,
}

/// Policies keyed by gRPC path, `/package.Service/Method`.
#[derive(Debug, Clone, Default)]
pub struct MethodPolicies {
    methods: HashMap<String, MethodPolicy>,
}

impl MethodPolicies {
    /// Reads every method of every service in the encoded descriptor sets.
    pub fn from_descriptor_sets<'a>(
        sets: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Self, DescriptorError> {
        let mut methods = HashMap::new();
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
                    };
                    methods.insert(
                        format!("/{}/{}", service.full_name(), method.name()),
                        policy,
                    );
                }
            }
        }
        Ok(Self { methods })
    }

    /// The policy of the method at `path`, if any pool knows it.
    pub fn get(&self, path: &str) -> Option<MethodPolicy> {
        self.methods.get(path).copied()
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
}
