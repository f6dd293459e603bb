use std::fmt;

use time::{Duration, OffsetDateTime};

use super::{UserId, secret};

/// The secret a session cookie carries. The database keeps its SHA-256;
/// the CSRF token is derived from it (see [`SessionSecret::csrf_token`]).
pub struct SessionSecret(String);

impl SessionSecret {
    pub fn generate() -> Self {
        Self(secret::random())
    }

    /// Takes a cookie value as presented. `None` for anything that cannot be
    /// a session, without touching the database.
    pub fn from_presented(raw: &str) -> Option<Self> {
        secret::is_well_formed(raw).then(|| Self(raw.to_owned()))
    }

    pub fn hash(&self) -> String {
        secret::sha256_hex(self.0.as_bytes())
    }

    /// The token a cookie-authenticated request that changes something must
    /// echo in `X-CSRF-Token`. Derived from the secret, so it needs no
    /// storage and changes with the session; another site can neither read
    /// it (no CORS) nor compute it (it never sees the cookie).
    pub fn csrf_token(&self) -> String {
        let mut input = b"notes-appliance csrf\0".to_vec();
        input.extend_from_slice(self.0.as_bytes());
        secret::sha256_base64(&input)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionSecret(***)")
    }
}

/// A browser session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: i64,
    pub user_id: UserId,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl Session {
    /// A session ends this long after login, however active.
    pub const LIFETIME: Duration = Duration::days(30);
    /// A session unused this long ends.
    pub const IDLE_TIMEOUT: Duration = Duration::days(7);

    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        now < self.expires_at && now - self.last_seen_at < Self::IDLE_TIMEOUT
    }
}

/// The secret of a first-run setup link (`/setup#<token>`).
pub struct SetupToken(String);

impl SetupToken {
    /// How long a link works; each boot without an account makes a new one.
    pub const VALIDITY: Duration = Duration::minutes(30);

    pub fn generate() -> Self {
        Self(secret::random())
    }

    pub fn from_presented(raw: &str) -> Option<Self> {
        secret::is_well_formed(raw.trim()).then(|| Self(raw.trim().to_owned()))
    }

    pub fn hash(&self) -> String {
        secret::sha256_hex(self.0.as_bytes())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SetupToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SetupToken(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_secrets_round_trip_and_derive_a_stable_csrf_token() {
        let secret = SessionSecret::generate();
        let presented = SessionSecret::from_presented(secret.expose()).unwrap();
        assert_eq!(secret.hash(), presented.hash());
        assert_eq!(secret.csrf_token(), presented.csrf_token());
        assert_ne!(secret.csrf_token(), SessionSecret::generate().csrf_token());
        assert_ne!(secret.csrf_token(), secret.expose());
        for bad in ["", "short", &"a".repeat(44), &format!("{}!", "a".repeat(42))] {
            assert!(SessionSecret::from_presented(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_session_ends_at_its_expiry_or_when_idle() {
        let now = OffsetDateTime::now_utc();
        let session = Session {
            id: 1,
            user_id: UserId::new(1),
            created_at: now,
            last_seen_at: now,
            expires_at: now + Session::LIFETIME,
        };
        assert!(session.is_live(now + Duration::days(6)));
        assert!(!session.is_live(now + Session::IDLE_TIMEOUT));
        let active = Session { last_seen_at: now + Duration::days(29), ..session.clone() };
        assert!(active.is_live(now + Duration::days(29)));
        assert!(!active.is_live(now + Session::LIFETIME));
    }
}
