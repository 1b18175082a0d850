//! Password hashing with argon2id (the argon2 crate's default algorithm and OWASP-recommended
//! parameters), run on the blocking pool so a hash never stalls the async threads.

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};

/// A password hashing or checking failure (never a wrong password: that is `Ok(false)`).
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// argon2 refused.
    #[error("password hashing: {0}")]
    Hash(String),
    /// The blocking task died.
    #[error("password hashing task failed")]
    Task(#[from] tokio::task::JoinError),
}

/// Hashes `password` into a PHC string (`$argon2id$v=19$...`) with a fresh random salt.
pub async fn hash(password: String) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        let hashed = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| PasswordError::Hash(e.to_string()));
        // The hash's working memory (19 MiB) goes back to the OS now, not when this pool
        // thread next works: otherwise it stays resident in an idle service.
        protomesh_allocator::release_freed_memory();
        hashed
    })
    .await?
}

/// Whether `password` matches the PHC string `stored`.
pub async fn verify(password: String, stored: String) -> Result<bool, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&stored).map_err(|e| PasswordError::Hash(e.to_string()))?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        // As in `hash`.
        protomesh_allocator::release_freed_memory();
        Ok(matches)
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hash is argon2id, salted (two hashes differ), and verifies only its own password.
    #[tokio::test]
    async fn hashes_and_verifies() {
        let a = hash("correct horse".into()).await.unwrap();
        let b = hash("correct horse".into()).await.unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b);
        assert!(verify("correct horse".into(), a.clone()).await.unwrap());
        assert!(!verify("wrong horse".into(), a).await.unwrap());
        assert!(verify("x".into(), "not a hash".into()).await.is_err());
    }
}
