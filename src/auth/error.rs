//! The errors of the auth module: why a token was refused, and why keys or policies could not
//! be loaded.

use tonic::Status;

/// Why an access token was refused. Each variant maps to UNAUTHENTICATED with a message that
/// says which check failed; none of them carries the token itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `authorization` metadata, or an empty token.
    #[error("missing access token: send `authorization: Bearer <token>`")]
    Missing,
    /// The token is not a well-formed EdDSA JWT with the expected claims.
    #[error("malformed access token: {0}")]
    Malformed(String),
    /// The token's signature does not verify with the key its `kid` names.
    #[error("access token signature is invalid")]
    BadSignature,
    /// The token names a key id this service does not know (rotated out, or never issued here).
    #[error("access token is signed by unknown key id {0:?}")]
    UnknownKey(String),
    /// The token's `exp` is in the past.
    #[error("access token has expired")]
    Expired,
    /// The token's `iss` is not the issuer this service trusts.
    #[error("access token has the wrong issuer")]
    WrongIssuer,
}

impl From<AuthError> for Status {
    fn from(error: AuthError) -> Self {
        Status::unauthenticated(error.to_string())
    }
}

/// A signing or public key could not be created, read, written or parsed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing a key file failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A key's text or bytes are not a valid key.
    #[error("invalid key: {0}")]
    Invalid(String),
    /// A key id is empty or contains a character the key list format reserves.
    #[error("invalid key id {0:?}: it must be non-empty, without ':' ',' or whitespace")]
    InvalidKeyId(String),
    /// Signing a token failed.
    #[error("signing failed: {0}")]
    Signing(String),
}

/// The access policies in a descriptor pool are not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The descriptor set bytes do not decode.
    #[error("descriptor set does not decode: {0}")]
    Descriptors(String),
    /// A method's policy option is malformed, such as ACCESS_ROLE without roles.
    #[error("method {method}: invalid access policy: {reason}")]
    Invalid {
        /// The gRPC path of the method, `/pkg.Service/Method`.
        method: String,
        /// What is wrong.
        reason: String,
    },
}
