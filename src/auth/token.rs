//! Access tokens: the [`Issuer`] signs them (users service), the [`Verifier`] checks them
//! locally in every service.
//!
//! A token is a JWT signed with Ed25519 (`alg: EdDSA`) whose `kid` header names the signing
//! key, with the claims `sub`, `roles`, `iat`, `exp` and `iss`.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use super::{
    Principal,
    error::{AuthError, KeyError},
    keys::{PublicKey, SigningKey},
};

/// How long a token lives when the issuer's caller has no reason to choose otherwise.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(60 * 60);

/// How far a verifier's clock may lag the issuer's before a fresh token looks expired.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// The longest token a verifier reads; anything longer is refused as malformed unparsed.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// How many verified tokens a verifier remembers, so a caller's repeated token costs a hash
/// lookup instead of a signature check (about 47 µs each, measured in release). When full,
/// the cache starts over.
pub const DEFAULT_CACHE_CAPACITY: usize = 4096;

/// The claims of a protomesh access token.
#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
    iat: u64,
    exp: u64,
    iss: String,
}

/// A freshly signed token and when it stops being valid.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The compact JWT, to send as `authorization: Bearer <token>`.
    pub token: String,
    /// The `exp` claim as a time (whole seconds).
    pub expires_at: SystemTime,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Signs access tokens with one [`SigningKey`] in the name of one issuer.
#[derive(Debug, Clone)]
pub struct Issuer {
    key: SigningKey,
    issuer: String,
}

impl Issuer {
    /// An issuer that signs with `key` and writes `issuer` into the `iss` claim.
    pub fn new(key: SigningKey, issuer: impl Into<String>) -> Self {
        Self {
            key,
            issuer: issuer.into(),
        }
    }

    /// The `iss` claim this issuer writes.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The public key that verifies this issuer's tokens.
    pub fn public_key(&self) -> PublicKey {
        self.key.public()
    }

    /// Signs a token for `subject` with `roles`, valid for `ttl` from now.
    pub fn issue<R: AsRef<str>>(
        &self,
        subject: &str,
        roles: &[R],
        ttl: Duration,
    ) -> Result<IssuedToken, KeyError> {
        self.issue_at(subject, roles, ttl, SystemTime::now())
    }

    /// Signs a token for another service, `service`, holding the role
    /// [`super::roles::SERVICE`] (for service-to-service methods such as `ReserveStock`).
    pub fn issue_service_token(
        &self,
        service: &str,
        ttl: Duration,
    ) -> Result<IssuedToken, KeyError> {
        self.issue(service, &[super::roles::SERVICE], ttl)
    }

    /// Signs a token as if the clock read `now` (a seam for tests and replays).
    pub fn issue_at<R: AsRef<str>>(
        &self,
        subject: &str,
        roles: &[R],
        ttl: Duration,
        now: SystemTime,
    ) -> Result<IssuedToken, KeyError> {
        let iat = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let exp = iat.saturating_add(ttl.as_secs());
        let claims = Claims {
            sub: subject.to_owned(),
            roles: roles.iter().map(|r| r.as_ref().to_owned()).collect(),
            iat,
            exp,
            iss: self.issuer.clone(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.key.key_id().to_owned());
        let token = jsonwebtoken::encode(&header, &claims, self.key.encoding_key())
            .map_err(|e| KeyError::Signing(e.to_string()))?;
        Ok(IssuedToken {
            token,
            expires_at: UNIX_EPOCH + Duration::from_secs(exp),
        })
    }
}

/// Verifies access tokens against a set of trusted public keys, chosen by the token's `kid`.
/// Cheap to clone; clones share the key set, so [`Verifier::replace_keys`] reaches them all.
///
/// Tokens that verified are remembered (keyed by the whole token, signature included) until
/// they expire, the keys change, or [`DEFAULT_CACHE_CAPACITY`] is reached.
#[derive(Clone)]
pub struct Verifier {
    keys: Arc<RwLock<HashMap<String, DecodingKey>>>,
    validation: Arc<Validation>,
    cache: Arc<Mutex<Cache>>,
}

/// Verified tokens, and the key generation they were verified under.
#[derive(Default)]
struct Cache {
    /// Bumped by every key change; a verification that began under an older generation is
    /// not remembered.
    generation: u64,
    entries: HashMap<String, Verified>,
}

/// What a verified token said, as remembered by the cache.
struct Verified {
    subject: String,
    roles: Vec<String>,
    exp: u64,
}

impl Verifier {
    /// A verifier trusting `keys` (several during a rotation), any issuer, with
    /// [`DEFAULT_LEEWAY`].
    pub fn new(keys: Vec<PublicKey>) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.validate_aud = false;
        validation.leeway = DEFAULT_LEEWAY.as_secs();
        Self {
            keys: Arc::new(RwLock::new(key_map(keys))),
            validation: Arc::new(validation),
            cache: Arc::default(),
        }
    }

    /// Also requires the `iss` claim to equal `issuer`.
    pub fn with_issuer(self, issuer: &str) -> Self {
        self.with_validation(|v| v.set_issuer(&[issuer]))
    }

    /// Sets how far clocks may disagree on expiry.
    pub fn with_leeway(self, leeway: Duration) -> Self {
        self.with_validation(|v| v.leeway = leeway.as_secs())
    }

    fn with_validation(mut self, change: impl FnOnce(&mut Validation)) -> Self {
        let mut validation = (*self.validation).clone();
        change(&mut validation);
        self.validation = Arc::new(validation);
        // Tokens verified under the old rules prove nothing under the new ones.
        self.cache = Arc::default();
        self
    }

    /// Replaces the trusted keys, for every clone of this verifier (key rotation), and
    /// forgets every token verified with the old ones.
    pub fn replace_keys(&self, keys: Vec<PublicKey>) {
        let map = key_map(keys);
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = map;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.generation += 1;
        cache.entries.clear();
    }

    /// The ids of the trusted keys, sorted.
    pub fn key_ids(&self) -> Vec<String> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<String> = keys.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Checks a token's shape, key, signature, expiry and issuer, and returns its caller.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::Malformed("token too long".into()));
        }
        let generation = match self.remembered(token)? {
            Ok(principal) => return Ok(principal),
            Err(generation) => generation,
        };
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError::Malformed("not a JWT".into()))?;
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::Malformed(format!(
                "algorithm {:?} is not EdDSA",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthError::Malformed("no key id (kid) in the header".into()))?;
        let key = {
            let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
            keys.get(&kid).cloned()
        }
        .ok_or(AuthError::UnknownKey(kid))?;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation).map_err(|e| {
            match e.into_kind() {
                ErrorKind::InvalidSignature => AuthError::BadSignature,
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
                ErrorKind::MissingRequiredClaim(claim) => {
                    AuthError::Malformed(format!("missing claim {claim:?}"))
                }
                _ => AuthError::Malformed("undecodable token".into()),
            }
        })?;
        let claims = data.claims;
        self.remember(token, &claims, generation);
        Ok(Principal {
            subject: claims.sub,
            roles: claims.roles,
            token: token.to_owned(),
        })
    }

    /// The principal of a token verified before (`Expired` once its time is up), or the
    /// current key generation when the token is new.
    fn remembered(&self, token: &str) -> Result<Result<Principal, u64>, AuthError> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let Some(verified) = cache.entries.get(token) else {
            return Ok(Err(cache.generation));
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        if verified.exp.saturating_add(self.validation.leeway) < now {
            cache.entries.remove(token);
            return Err(AuthError::Expired);
        }
        Ok(Ok(Principal {
            subject: verified.subject.clone(),
            roles: verified.roles.clone(),
            token: token.to_owned(),
        }))
    }

    /// Remembers a verified token, unless the keys changed since its verification began.
    fn remember(&self, token: &str, claims: &Claims, generation: u64) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.generation != generation {
            return;
        }
        if cache.entries.len() >= DEFAULT_CACHE_CAPACITY {
            cache.entries.clear();
        }
        cache.entries.insert(
            token.to_owned(),
            Verified {
                subject: claims.sub.clone(),
                roles: claims.roles.clone(),
                exp: claims.exp,
            },
        );
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("key_ids", &self.key_ids())
            .finish_non_exhaustive()
    }
}

fn key_map(keys: Vec<PublicKey>) -> HashMap<String, DecodingKey> {
    keys.into_iter()
        .map(|k| {
            let decoding = DecodingKey::from_ed_der(k.bytes());
            (k.key_id().to_owned(), decoding)
        })
        .collect()
}

#[cfg(test)]
mod tests;
