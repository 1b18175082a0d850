//! Authentication and authorization: who the caller is, and whether they may call a method.
//!
//! The users service signs access tokens with a private Ed25519 key ([`Issuer`]); every
//! service verifies them locally with the public keys ([`Verifier`]), so no service but the
//! issuer holds a secret. Each method declares who may call it in its contract
//! (`option (protomesh.auth.v1.policy)`), read at start-up into a [`PolicyTable`], and one
//! tower layer ([`AuthLayer`]) enforces it before the handler runs; a method with no declared
//! policy is denied.
//!
//! ```no_run
//! use std::time::Duration;
//! use protomesh::auth::{AuthLayer, Issuer, PolicyTable, SigningKey, Verifier};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = SigningKey::load_or_generate("data/signing-key.pem", "k1")?;
//! let verifier = Verifier::new(vec![key.public()]).with_issuer("protomesh");
//! let issuer = Issuer::new(key, "protomesh");
//! let token = issuer.issue("user-1", &["customer"], Duration::from_secs(3600))?;
//! let layer = AuthLayer::new(PolicyTable::protomesh()?, verifier);
//! // tonic::transport::Server::builder().layer(layer).add_service(...)
//! # let _ = (token, layer);
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//! - [`principal`]: the verified identity handlers receive.
//! - [`keys`]: Ed25519 signing and public keys, key files, key lists in configuration.
//! - [`token`]: issuing and verifying access tokens.
//! - [`policy`]: the per-method policy table read from the contracts.
//! - [`layer`]: the tower layer that enforces it.
//! - [`error`]: why a token, key or policy was refused.
//! - [`roles`]: the role names.

pub mod error;
pub mod keys;
pub mod layer;
pub mod policy;
pub mod principal;
pub mod token;

/// The role names the contracts' policies use and tokens carry.
pub mod roles {
    /// A shopper (users' `ROLE_CUSTOMER`).
    pub const CUSTOMER: &str = "customer";
    /// A shop administrator (users' `ROLE_ADMIN`): creates products, changes prices.
    pub const ADMIN: &str = "admin";
    /// A service calling another on its own behalf, such as orders reserving stock.
    pub const SERVICE: &str = "service";
}

pub use error::{AuthError, KeyError, PolicyError};
pub use keys::{PublicKey, SigningKey};
pub use layer::{AuthLayer, AuthService};
pub use policy::{MethodPolicy, PolicyTable};
pub use principal::Principal;
pub use token::{IssuedToken, Issuer, Verifier};
