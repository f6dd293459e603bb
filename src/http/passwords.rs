//! Hashing and checking passwords for requests: off the async threads, and
//! a few at a time, since each argon2id run holds 19 MiB and tens of
//! milliseconds of a core (see [`Password::hash`]).

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::domain::{Password, PasswordHash};
use crate::error::AppError;

/// At most this many hashes run at once: 4 × 19 MiB stays affordable on a
/// Raspberry Pi, and further logins queue rather than exhaust memory.
const CONCURRENT_HASHES: usize = 4;

/// A hash of a random password made with the parameters `Password::hash`
/// uses. A login for an unknown username is checked against it, so that it
/// costs what a wrong password costs and the timing does not tell whether
/// the username exists.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$EH4IsqB+rZ2FV24LZ0a24Q$PWg1qA4NASOWqIz3Z6KKJ7fgEKk109C+NA9bUeRdd0w";

#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
}

impl Default for Passwords {
    fn default() -> Self {
        Self { permits: Arc::new(Semaphore::new(CONCURRENT_HASHES)) }
    }
}

impl Passwords {
    pub async fn hash(&self, password: Password) -> Result<PasswordHash, AppError> {
        self.run(move || password.hash())
            .await?
            .map_err(|e| AppError::Internal(anyhow::anyhow!("cannot hash a password: {e}")))
    }

    /// Checks `password` against `hash`, or against a dummy hash when there
    /// is no account, taking the same time either way.
    pub async fn verify(&self, password: Password, hash: Option<PasswordHash>) -> Result<bool, AppError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| PasswordHash::from_stored(DUMMY_HASH.to_owned()));
        let matches = self.run(move || password.verify(&hash)).await?;
        Ok(known && matches)
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AppError::Internal(anyhow::anyhow!("password checks: {e}")))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| AppError::Internal(anyhow::anyhow!("the password task failed: {e}")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let real = Password::parse("correct horse battery".into()).unwrap().hash().unwrap();
        let params = |hash: &str| hash.split('$').nth(3).unwrap().to_owned();
        assert_eq!(params(DUMMY_HASH), params(real.as_str()));
        assert!(DUMMY_HASH.starts_with("$argon2id$v=19$"));
    }

    #[tokio::test]
    async fn an_unknown_account_never_matches() {
        let passwords = Passwords::default();
        let password = Password::parse("correct horse battery".into()).unwrap();
        assert!(!passwords.verify(password.clone(), None).await.unwrap());
        let hash = passwords.hash(password.clone()).await.unwrap();
        assert!(passwords.verify(password, Some(hash)).await.unwrap());
    }
}
