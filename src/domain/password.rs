//! argon2id password hashing. Hashing is deliberately slow and memory-hard
//! (19 MiB each), so it runs on tokio's blocking pool, never stalling the
//! async workers, and at most [`MAX_CONCURRENT`] at a time, so a flood of
//! logins queues instead of exhausting memory.

use std::sync::LazyLock;

use tokio::sync::Semaphore;

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash as Phc},
};

use crate::{
    domain::values::Password,
    error::{AppError, AppResult},
};

/// A PHC-format argon2id hash (`$argon2id$v=19$...`).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

/// Hashes computed at once: twice the cores, at least two.
pub static MAX_CONCURRENT: LazyLock<usize> = LazyLock::new(|| {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get() * 2)
        .max(2)
});

static PERMITS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(*MAX_CONCURRENT));

/// Runs `work` on the blocking pool under a hashing permit.
async fn bounded<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    let _permit = PERMITS
        .acquire()
        .await
        .map_err(|err| AppError::Internal(anyhow::anyhow!("hashing permits closed: {err}")))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| AppError::Internal(err.into()))
}

fn hash_blocking(password: &str) -> AppResult<PasswordHash> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|phc| PasswordHash(phc.to_string()))
        .map_err(|err| AppError::Internal(anyhow::anyhow!("argon2 hashing failed: {err}")))
}

/// Hashes a new password with a fresh salt.
pub async fn hash(password: &Password) -> AppResult<PasswordHash> {
    let password = password.expose().to_owned();
    bounded(move || hash_blocking(&password)).await?
}

/// True when `password` matches the stored hash. A malformed stored hash
/// never matches.
pub async fn verify(password: &str, stored: &str) -> bool {
    let password = password.to_owned();
    let stored = stored.to_owned();
    tokio::task::spawn_blocking(move || {
        Phc::new(&stored)
            .map(|phc| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &phc)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A hash nobody's password matches, to verify against when the account
/// does not exist, so that case takes as long as a wrong password.
static DUMMY: LazyLock<String> = LazyLock::new(|| {
    hash_blocking("samvad-timing-equaliser")
        .map(|h| h.0)
        .unwrap_or_default()
});

/// Spends the time of one verification.
pub async fn burn_time() {
    let _ = bounded(|| {
        let _ = Phc::new(&DUMMY).map(|phc| Argon2::default().verify_password(b"x", &phc));
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hashed_password_verifies_and_others_do_not() {
        let hash = hash(&Password::parse("correct horse").unwrap())
            .await
            .unwrap();
        assert!(hash.as_str().starts_with("$argon2id$"));
        assert!(verify("correct horse", hash.as_str()).await);
        assert!(!verify("wrong horse", hash.as_str()).await);
        assert!(!verify("correct horse", "not a hash").await);
    }

    #[tokio::test]
    async fn the_same_password_hashes_differently_each_time() {
        let pw = Password::parse("same password").unwrap();
        assert_ne!(hash(&pw).await.unwrap(), hash(&pw).await.unwrap());
    }
}
