//! Ed25519 keys: the private [`SigningKey`] the users service signs tokens with, and the
//! [`PublicKey`]s every service verifies them with. Each key carries a key id (`kid`), so
//! several keys can be trusted at once while one is rotated out.
//!
//! A signing key file is a PKCS#8 PEM block (as `openssl genpkey -algorithm ed25519` writes
//! it) preceded by a `key-id: <kid>` line. A list of public keys in configuration reads
//! `kid:base64,kid2:base64`, with the 32 raw key bytes in standard base64.

use std::{fmt, fs, io::Write, path::Path, str::FromStr};

use base64::{Engine, engine::general_purpose::STANDARD};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use jsonwebtoken::EncodingKey;

use super::error::KeyError;
use crate::contracts::shop::users::v1 as users;

/// The signature algorithm of every protomesh token, as named in the JWT `alg` header and in
/// `shop.users.v1.SigningKey.algorithm`.
pub const ALGORITHM: &str = "EdDSA";

/// The line before the PEM block of a key file that names the key id.
const KEY_ID_PREFIX: &str = "key-id:";

/// A private Ed25519 key with its key id. Only the token issuer (the users service) holds one.
#[derive(Clone)]
pub struct SigningKey {
    key_id: String,
    key: ed25519_dalek::SigningKey,
    encoding: EncodingKey,
}

impl SigningKey {
    /// A fresh random key with the given key id.
    pub fn generate(key_id: impl Into<String>) -> Result<Self, KeyError> {
        let key = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
        Self::from_dalek(key_id.into(), key)
    }

    /// The key with the given 32-byte seed (the private scalar's source) and key id.
    pub fn from_seed(key_id: impl Into<String>, seed: [u8; 32]) -> Result<Self, KeyError> {
        Self::from_dalek(key_id.into(), ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    fn from_dalek(key_id: String, key: ed25519_dalek::SigningKey) -> Result<Self, KeyError> {
        check_key_id(&key_id)?;
        let der = key
            .to_pkcs8_der()
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        let encoding = EncodingKey::from_ed_der(der.as_bytes());
        Ok(Self {
            key_id,
            key,
            encoding,
        })
    }

    /// The key id, written into the `kid` header of every token this key signs.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public half, to publish (users' `ListSigningKeys`) and to verify with.
    pub fn public(&self) -> PublicKey {
        PublicKey {
            key_id: self.key_id.clone(),
            bytes: self.key.verifying_key().to_bytes(),
        }
    }

    /// The key as file text: a `key-id:` line, then the PKCS#8 PEM block.
    pub fn to_pem(&self) -> Result<String, KeyError> {
        let pem = self
            .key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        Ok(format!("{KEY_ID_PREFIX} {}\n{}", self.key_id, pem.as_str()))
    }

    /// Parses the text [`SigningKey::to_pem`] writes.
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let start = text
            .find("-----BEGIN")
            .ok_or_else(|| KeyError::Invalid("no PEM block".into()))?;
        let key_id = text[..start]
            .lines()
            .find_map(|line| line.trim().strip_prefix(KEY_ID_PREFIX))
            .map(str::trim)
            .ok_or_else(|| KeyError::Invalid(format!("no `{KEY_ID_PREFIX}` line")))?;
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&text[start..])
            .map_err(|e| KeyError::Invalid(format!("not an Ed25519 PKCS#8 key: {e}")))?;
        Self::from_dalek(key_id.to_owned(), key)
    }

    /// Reads a key file written by [`SigningKey::to_file`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let text = fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_pem(&text)
    }

    /// Writes the key to `path` (creating parent folders), readable by the owner only.
    pub fn to_file(&self, path: impl AsRef<Path>) -> Result<(), KeyError> {
        let path = path.as_ref();
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(io)?;
        }
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(io)?;
        file.write_all(self.to_pem()?.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    /// Reads the key at `path`, or generates one with `key_id` and writes it there when the
    /// file does not exist yet (first start).
    pub fn load_or_generate(path: impl AsRef<Path>, key_id: &str) -> Result<Self, KeyError> {
        let path = path.as_ref();
        if path.exists() {
            return Self::from_file(path);
        }
        let key = Self::generate(key_id)?;
        key.to_file(path)?;
        Ok(key)
    }

    pub(super) fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// A public Ed25519 key with its key id: what a service needs to verify tokens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PublicKey {
    key_id: String,
    bytes: [u8; 32],
}

impl PublicKey {
    /// A key from its id and 32 raw bytes; fails on a bad id, length or curve point.
    pub fn new(key_id: impl Into<String>, bytes: &[u8]) -> Result<Self, KeyError> {
        let key_id = key_id.into();
        check_key_id(&key_id)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| {
            KeyError::Invalid(format!("key {key_id:?}: {} bytes, not 32", bytes.len()))
        })?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|_| KeyError::Invalid(format!("key {key_id:?}: not an Ed25519 point")))?;
        Ok(Self { key_id, bytes })
    }

    /// The key id tokens name in their `kid` header.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The 32 raw key bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Parses a configuration list `kid:base64,kid2:base64` (spaces around items allowed;
    /// an empty string is an empty list).
    pub fn parse_list(text: &str) -> Result<Vec<Self>, KeyError> {
        text.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::parse)
            .collect()
    }

    /// Formats keys as the list [`PublicKey::parse_list`] reads.
    pub fn format_list(keys: &[Self]) -> String {
        keys.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.key_id, STANDARD.encode(self.bytes))
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    /// Parses one `kid:base64` item.
    fn from_str(item: &str) -> Result<Self, KeyError> {
        let (key_id, encoded) = item
            .split_once(':')
            .ok_or_else(|| KeyError::Invalid(format!("{item:?} is not `kid:base64`")))?;
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|e| KeyError::Invalid(format!("key {key_id:?}: bad base64: {e}")))?;
        Self::new(key_id.trim(), &bytes)
    }
}

impl From<&PublicKey> for users::SigningKey {
    fn from(key: &PublicKey) -> Self {
        users::SigningKey {
            key_id: key.key_id.clone(),
            algorithm: ALGORITHM.to_owned(),
            public_key: key.bytes.to_vec(),
        }
    }
}

impl TryFrom<&users::SigningKey> for PublicKey {
    type Error = KeyError;

    fn try_from(key: &users::SigningKey) -> Result<Self, KeyError> {
        if key.algorithm != ALGORITHM {
            return Err(KeyError::Invalid(format!(
                "key {:?}: algorithm {:?}, expected {ALGORITHM:?}",
                key.key_id, key.algorithm
            )));
        }
        Self::new(key.key_id.clone(), &key.public_key)
    }
}

/// Key ids go into JWT headers and the `kid:base64` list format.
fn check_key_id(key_id: &str) -> Result<(), KeyError> {
    let ok = !key_id.is_empty()
        && key_id.len() <= 128
        && key_id
            .chars()
            .all(|c| c.is_ascii_graphic() && c != ':' && c != ',');
    if ok {
        Ok(())
    } else {
        Err(KeyError::InvalidKeyId(key_id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key survives a round trip through its file, keeping its id and public half.
    #[test]
    fn key_file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/signing.pem");
        let key = SigningKey::generate("k1").unwrap();
        key.to_file(&path).unwrap();
        let read = SigningKey::from_file(&path).unwrap();
        assert_eq!(read.key_id(), "k1");
        assert_eq!(read.public(), key.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = SigningKey::load_or_generate(&path, "other").unwrap();
        assert_eq!(again.public(), key.public());
    }

    /// A fresh file is written on first start, and a broken one is an error, not a panic.
    #[test]
    fn load_or_generate_and_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing.pem");
        let key = SigningKey::load_or_generate(&path, "first").unwrap();
        assert_eq!(key.key_id(), "first");
        assert!(path.exists());
        fs::write(&path, "key-id: x\n-----BEGIN PRIVATE KEY-----\nAAAA\n").unwrap();
        assert!(matches!(
            SigningKey::from_file(&path),
            Err(KeyError::Invalid(_))
        ));
        assert!(matches!(
            SigningKey::from_file(dir.path().join("none.pem")),
            Err(KeyError::Io { .. })
        ));
        let pem = key.to_pem().unwrap();
        let without_id = &pem[pem.find("-----").unwrap()..];
        assert!(SigningKey::from_pem(without_id).is_err());
    }

    /// The configuration list parses back to the same keys, and bad items name the problem.
    #[test]
    fn public_key_list() {
        let a = SigningKey::from_seed("a", [1; 32]).unwrap().public();
        let b = SigningKey::from_seed("b-2", [2; 32]).unwrap().public();
        let text = PublicKey::format_list(&[a.clone(), b.clone()]);
        assert_eq!(PublicKey::parse_list(&text).unwrap(), vec![a, b]);
        assert_eq!(PublicKey::parse_list(" ").unwrap(), vec![]);
        assert!(PublicKey::parse_list("nocolon").is_err());
        assert!(PublicKey::parse_list("k:!!!").is_err());
        assert!(PublicKey::parse_list("k:AAAA").is_err());
        assert!(matches!(
            SigningKey::generate("bad id"),
            Err(KeyError::InvalidKeyId(_))
        ));
    }

    /// Keys convert to and from the users service's published `SigningKey` message.
    #[test]
    fn contract_conversion() {
        let key = SigningKey::from_seed("k", [7; 32]).unwrap().public();
        let message = users::SigningKey::from(&key);
        assert_eq!(message.algorithm, "EdDSA");
        assert_eq!(message.public_key.len(), 32);
        assert_eq!(PublicKey::try_from(&message).unwrap(), key);
        let wrong = users::SigningKey {
            algorithm: "RS256".into(),
            ..message
        };
        assert!(PublicKey::try_from(&wrong).is_err());
    }

    /// Debug output of a signing key never shows key material.
    #[test]
    fn debug_hides_secret() {
        let key = SigningKey::from_seed("k", [9; 32]).unwrap();
        assert_eq!(format!("{key:?}"), "SigningKey { key_id: \"k\", .. }");
    }
}
