//! The per-method access policy table, read from the `protomesh.auth.v1.policy` option of
//! every method in one or more descriptor pools, keyed by gRPC path (`/pkg.Service/Method`).
//!
//! A method whose contract declares no policy is [`MethodPolicy::Undeclared`] and denied; a
//! path no pool knows is not in the table at all. The standard health and reflection services
//! are public by design (probes and grpcurl call them without tokens), see
//! [`PUBLIC_SERVICES`].

use foldhash::HashMap;

use prost_reflect::{DescriptorPool, Value};

use super::error::PolicyError;
use crate::contracts::protomesh::auth::v1::{Access, AccessPolicy};

/// The full name of the method option that declares a policy.
pub const POLICY_OPTION: &str = "protomesh.auth.v1.policy";

/// Services every method of which is public without any declaration: gRPC health checking
/// and both versions of server reflection.
pub const PUBLIC_SERVICES: &[&str] = &[
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// Who may call one method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MethodPolicy {
    /// Anyone, with or without a token. A valid token still yields a principal.
    Public,
    /// Any caller with a valid token.
    Authenticated,
    /// A caller with a valid token holding at least one of these roles.
    Roles(Vec<String>),
    /// The contract declares no policy: every call is denied.
    Undeclared,
}

/// The built-in answer for [`PUBLIC_SERVICES`].
static PUBLIC: MethodPolicy = MethodPolicy::Public;

/// Access policies by gRPC path. Cheap to share behind an `Arc` (the layer does).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyTable {
    methods: HashMap<String, MethodPolicy>,
}

impl PolicyTable {
    /// An empty table: only [`PUBLIC_SERVICES`] are reachable.
    pub fn new() -> Self {
        Self::default()
    }

    /// The policies of every protomesh contract ([`crate::FILE_DESCRIPTOR_SET`]).
    pub fn protomesh() -> Result<Self, PolicyError> {
        Self::from_descriptor_set(crate::FILE_DESCRIPTOR_SET)
    }

    /// The policies of an encoded `FileDescriptorSet`.
    pub fn from_descriptor_set(bytes: &[u8]) -> Result<Self, PolicyError> {
        let pool =
            DescriptorPool::decode(bytes).map_err(|e| PolicyError::Descriptors(e.to_string()))?;
        Self::from_pool(&pool)
    }

    /// The policies of every method in `pool`.
    pub fn from_pool(pool: &DescriptorPool) -> Result<Self, PolicyError> {
        let mut table = Self::new();
        table.add_pool(pool)?;
        Ok(table)
    }

    /// Adds the policies of every method in `pool` (replacing entries for the same path).
    pub fn add_pool(&mut self, pool: &DescriptorPool) -> Result<(), PolicyError> {
        let option = pool.get_extension_by_name(POLICY_OPTION);
        for service in pool.services() {
            for method in service.methods() {
                let path = format!("/{}/{}", service.full_name(), method.name());
                let options = method.options();
                let declared = option
                    .as_ref()
                    .filter(|ext| options.has_extension(ext))
                    .map(|ext| options.get_extension(ext).into_owned());
                let policy = match declared {
                    None => MethodPolicy::Undeclared,
                    Some(value) => parse_policy(&path, value)?,
                };
                self.methods.insert(path, policy);
            }
        }
        Ok(())
    }

    /// Sets the policy of one path, `/pkg.Service/Method` (for services without descriptors).
    pub fn insert(&mut self, path: impl Into<String>, policy: MethodPolicy) {
        self.methods.insert(path.into(), policy);
    }

    /// The policy of a gRPC path; `None` when no pool declares that method.
    pub fn get(&self, path: &str) -> Option<&MethodPolicy> {
        if let Some(policy) = self.methods.get(path) {
            return Some(policy);
        }
        let service = path.strip_prefix('/')?.split_once('/')?.0;
        PUBLIC_SERVICES.contains(&service).then_some(&PUBLIC)
    }

    /// The number of methods in the table (the built-in public services not counted).
    pub fn len(&self) -> usize {
        self.methods.len()
    }

    /// Whether the table has no methods.
    pub fn is_empty(&self) -> bool {
        self.methods.is_empty()
    }
}

fn parse_policy(path: &str, value: Value) -> Result<MethodPolicy, PolicyError> {
    let invalid = |reason: String| PolicyError::Invalid {
        method: path.to_owned(),
        reason,
    };
    let Value::Message(message) = value else {
        return Err(invalid("the option is not a message".into()));
    };
    let policy: AccessPolicy = message.transcode_to().map_err(|e| invalid(e.to_string()))?;
    let access = Access::try_from(policy.access)
        .map_err(|_| invalid(format!("unknown access value {}", policy.access)))?;
    let roles = policy.roles;
    if access != Access::Role && !roles.is_empty() {
        return Err(invalid("roles are only allowed with ACCESS_ROLE".into()));
    }
    Ok(match access {
        Access::Unspecified => MethodPolicy::Undeclared,
        Access::Public => MethodPolicy::Public,
        Access::Authenticated => MethodPolicy::Authenticated,
        Access::Role if roles.is_empty() || roles.iter().any(String::is_empty) => {
            return Err(invalid(
                "ACCESS_ROLE needs at least one non-empty role".into(),
            ));
        }
        Access::Role => MethodPolicy::Roles(roles),
    })
}

#[cfg(test)]
mod tests;
