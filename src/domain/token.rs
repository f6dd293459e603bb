use std::fmt;

use time::OffsetDateTime;

use super::{ValidationError, reject_nul, secret};
use crate::domain::UserId;

/// The prefix makes a leaked token recognisable to secret scanners and people.
const PREFIX: &str = "na_";

/// An API token in clear: shown once when created, never stored. The
/// database keeps its SHA-256 (see [`secret`]).
pub struct TokenSecret(String);

impl TokenSecret {
    pub fn generate() -> Self {
        Self(format!("{PREFIX}{}", secret::random()))
    }

    /// Takes a token as presented by a client. Returns `None` for anything
    /// that cannot be a token, without touching the database.
    pub fn from_presented(raw: &str) -> Option<Self> {
        secret::is_well_formed(raw.strip_prefix(PREFIX)?).then(|| Self(raw.to_owned()))
    }

    pub fn hash(&self) -> String {
        secret::sha256_hex(self.0.as_bytes())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(***)")
    }
}

/// A label so that a user can tell their tokens apart: 1..=64 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenName(String);

impl TokenName {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let name = raw.trim();
        if name.is_empty() || name.chars().count() > Self::MAX_CHARS || name.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "name",
                format!("must be 1 to {} characters without control characters", Self::MAX_CHARS),
            ));
        }
        reject_nul("name", name)?;
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What authenticating a token yields.
#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: UserId,
    pub last_used_at: Option<OffsetDateTime>,
}

/// A token as listed to its owner (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSummary {
    pub id: i64,
    pub user_id: UserId,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_round_trip_and_hash_stably() {
        let token = TokenSecret::generate();
        let presented = TokenSecret::from_presented(token.expose()).unwrap();
        assert_eq!(token.hash(), presented.hash());
        assert_eq!(token.hash().len(), 64);
        assert_ne!(token.expose(), TokenSecret::generate().expose());
    }

    #[test]
    fn garbage_is_not_a_token() {
        for bad in [
            "",
            "na_",
            "abc",
            "na_short",
            &format!("xx_{}", "a".repeat(43)),
            &format!("na_{}!", "a".repeat(42)),
        ] {
            assert!(TokenSecret::from_presented(bad).is_none(), "{bad}");
        }
    }
}
