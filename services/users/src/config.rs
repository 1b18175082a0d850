//! The users service's typed settings.

use std::time::Duration;

use protomesh::auth::{PublicKey, SigningKey, token::DEFAULT_TOKEN_TTL};
use shop_common::db::DEFAULT_MAX_CONNECTIONS;

/// Where the users service keeps its data by default: a SQLite file under `./data/`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite:data/users.db";

/// The `iss` claim written into tokens by default.
pub const DEFAULT_ISSUER: &str = "protomesh";

/// The display name of the admin account created from configuration.
pub const DEFAULT_ADMIN_NAME: &str = "Administrator";

/// The users service's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The database: `sqlite:PATH` (created when missing) or `postgres://...`.
    pub database_url: String,
    /// The most pooled database connections.
    pub max_connections: u32,
    /// The private key that signs access tokens (its key id goes into each token's `kid`).
    pub signing_key: SigningKey,
    /// Older public keys still published by `ListSigningKeys` while their tokens live out
    /// (key rotation).
    pub previous_keys: Vec<PublicKey>,
    /// The `iss` claim of issued tokens; verifiers must expect the same.
    pub issuer: String,
    /// How long an access token is valid.
    pub token_ttl: Duration,
    /// The admin account to create at start when no account has its email
    /// (the CLI fills it from `PROTOMESH_ADMIN_EMAIL` / `PROTOMESH_ADMIN_PASSWORD`).
    pub admin: Option<AdminAccount>,
}

/// An administrator account to ensure at start.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminAccount {
    /// The admin's email.
    pub email: String,
    /// The admin's password (8 to 128 characters).
    pub password: String,
}

impl std::fmt::Debug for AdminAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminAccount")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Config {
    /// The defaults, signing with `signing_key`, over the database at `database_url`.
    pub fn new(database_url: impl Into<String>, signing_key: SigningKey) -> Self {
        Self {
            database_url: database_url.into(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            signing_key,
            previous_keys: Vec::new(),
            issuer: DEFAULT_ISSUER.to_owned(),
            token_ttl: DEFAULT_TOKEN_TTL,
            admin: None,
        }
    }
}
