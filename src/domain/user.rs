use std::fmt;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use time::OffsetDateTime;

use super::{ValidationError, reject_nul};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(i64);

impl UserId {
    pub fn new(id: i64) -> Self {
        Self(id)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A username: 1..=32 of `a-z 0-9 . _ -`, starting with a letter or digit.
/// Input is lowercased, so `Alice` and `alice` are one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub const MAX_CHARS: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let name = raw.trim().to_lowercase();
        let valid_start = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        let valid_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if name.is_empty() || name.len() > Self::MAX_CHARS || !valid_start || !valid_chars {
            return Err(ValidationError::new(
                "username",
                format!(
                    "must be 1 to {} characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit",
                    Self::MAX_CHARS
                ),
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password in clear, only on its way to being hashed or checked. Its
/// `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 1024;

    pub fn parse(raw: String) -> Result<Self, ValidationError> {
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(ValidationError::new(
                "password",
                format!("must be at least {} characters", Self::MIN_CHARS),
            ));
        }
        if chars > Self::MAX_CHARS {
            return Err(ValidationError::new(
                "password",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        reject_nul("password", &raw)?;
        Ok(Self(raw))
    }

    /// A password offered to log in: only the checks that keep absurd input
    /// away from the hasher. A password that breaks today's rules for new
    /// ones simply does not match.
    pub fn candidate(raw: String) -> Result<Self, ValidationError> {
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new(
                "password",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        reject_nul("password", &raw)?;
        Ok(Self(raw))
    }

    /// Hashes with argon2id at OWASP's recommended minimum: 19 MiB of
    /// memory, 2 passes, 1 lane. That is about 25 ms on a current x86 core
    /// and a few times that on a Raspberry Pi 4, with 19 MiB held per hash
    /// in progress, which a Pi can afford for several logins at once.
    /// CPU-heavy: call it from a blocking thread in async code.
    pub fn hash(&self) -> Result<PasswordHash, argon2::password_hash::Error> {
        let salt = SaltString::generate(&mut OsRng);
        let hash = hasher()?.hash_password(self.0.as_bytes(), &salt)?;
        Ok(PasswordHash(hash.to_string()))
    }

    /// Checks the password against a stored hash (whatever parameters it was
    /// made with). CPU-heavy, like `hash`.
    pub fn verify(&self, hash: &PasswordHash) -> bool {
        let Ok(parsed) = argon2::PasswordHash::new(&hash.0) else { return false };
        Argon2::default().verify_password(self.0.as_bytes(), &parsed).is_ok()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

fn hasher() -> Result<Argon2<'static>, argon2::password_hash::Error> {
    let params = Params::new(19 * 1024, 2, 1, None)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// A PHC-format argon2id hash as stored in the database.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercased_and_checked() {
        assert_eq!(Username::parse(" Alice ").unwrap().as_str(), "alice");
        assert_eq!(Username::parse("bob.smith-2_x").unwrap().as_str(), "bob.smith-2_x");
        for bad in ["", "-bob", ".x", "a b", "ünï", "a/b", &"a".repeat(33)] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let password = Password::parse("correct horse battery".into()).unwrap();
        let hash = password.hash().unwrap();
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", hash.as_str());
        assert!(password.verify(&hash));
        assert!(!Password::parse("wrong password".into()).unwrap().verify(&hash));
        assert!(!password.verify(&PasswordHash::from_stored("garbage".into())));
    }

    #[test]
    fn passwords_have_length_limits_and_hide_in_debug() {
        assert!(Password::parse("short".into()).is_err());
        assert!(Password::parse("x".repeat(1025)).is_err());
        assert_eq!(format!("{:?}", Password::parse("secret-secret".into()).unwrap()), "Password(***)");
    }
}
