//! Token keys for one machine: the signing key lives in the data directory (created on the
//! first start); on a cluster, the public keys and the service token come from the
//! environment (a Secret) instead.

use std::{path::Path, time::Duration};

use protomesh::auth::{Issuer, PublicKey, SigningKey, Verifier};

/// The issuer name in every token.
pub(crate) const ISSUER: &str = "protomesh";
/// The key id of a key created on first start.
const FIRST_KEY_ID: &str = "k1";
/// How long a service token minted at start-up lasts.
const SERVICE_TOKEN_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

/// The signing key at `data_dir/signing-key.pem`, created when missing.
pub(crate) fn signing_key(data_dir: &Path) -> anyhow::Result<SigningKey> {
    Ok(SigningKey::load_or_generate(
        data_dir.join("signing-key.pem"),
        FIRST_KEY_ID,
    )?)
}

/// The verifier: keys from `PROTOMESH_TOKEN_PUBLIC_KEYS` (`kid:base64,...`), else the
/// public half of the local signing key.
pub(crate) fn verifier(data_dir: &Path) -> anyhow::Result<Verifier> {
    let keys = match std::env::var("PROTOMESH_TOKEN_PUBLIC_KEYS") {
        Ok(list) => PublicKey::parse_list(&list)?,
        Err(_) => vec![signing_key(data_dir)?.public()],
    };
    Ok(Verifier::new(keys).with_issuer(ISSUER))
}

/// A token with the `service` role for service-to-service calls: `PROTOMESH_SERVICE_TOKEN`,
/// else minted with the local signing key.
pub(crate) fn service_token(data_dir: &Path, service: &str) -> anyhow::Result<String> {
    if let Ok(token) = std::env::var("PROTOMESH_SERVICE_TOKEN") {
        return Ok(token);
    }
    let issuer = Issuer::new(signing_key(data_dir)?, ISSUER);
    Ok(issuer
        .issue_service_token(service, SERVICE_TOKEN_TTL)?
        .token)
}
