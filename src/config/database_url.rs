//! The database URL: which backend, where, and how to show it without its
//! password.

use std::fmt;
use std::path::PathBuf;

#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    /// The full URL; it may hold a password, so it is never printed as is.
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if let Some(rest) = raw.strip_prefix("sqlite:") {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            if path.is_empty() || path == ":memory:" || query.contains("mode=memory") {
                return Err("an in-memory SQLite database would lose every note; give a file path, \
                            e.g. sqlite:///var/lib/notes-appliance/notes.db"
                    .into());
            }
            // `mode=rwc` is what many SQLite URLs carry; the server opens the
            // file read-write and creates it anyway. Other options are set by
            // the server (journal mode, synchronous, timeouts) and not taken
            // from the URL, so refuse them rather than ignore them.
            if let Some(option) = query.split('&').find(|o| !o.is_empty() && *o != "mode=rwc") {
                return Err(format!(
                    "the SQLite URL option `{option}` is not supported; use the notes.sqlite_* keys"
                ));
            }
            Ok(Self::Sqlite(PathBuf::from(path)))
        } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            let url = url::Url::parse(raw).map_err(|e| format!("not a valid PostgreSQL URL: {e}"))?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err("the PostgreSQL URL has no host".into());
            }
            Ok(Self::Postgres(raw.to_owned()))
        } else {
            let scheme = raw.split(':').next().unwrap_or_default();
            Err(format!("unsupported database URL scheme `{scheme}`; expected sqlite:// or postgres://"))
        }
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, Self::Sqlite(_))
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(raw) => match url::Url::parse(raw) {
                Ok(mut url) => {
                    if url.password().is_some() {
                        // Cannot fail: the URL has a host, checked in `parse`.
                        let _ = url.set_password(Some("***"));
                    }
                    url.to_string()
                }
                Err(_) => "postgres://***".into(),
            },
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_take_the_path() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://./data/n.db").unwrap(),
            DatabaseUrl::Sqlite("./data/n.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/n.db?mode=rwc").unwrap(),
            DatabaseUrl::Sqlite("/var/lib/n.db".into())
        );
        assert_eq!(DatabaseUrl::parse("sqlite:n.db").unwrap(), DatabaseUrl::Sqlite("n.db".into()));
    }

    #[test]
    fn in_memory_sqlite_and_unknown_schemes_are_refused() {
        assert!(DatabaseUrl::parse("sqlite::memory:").is_err());
        assert!(DatabaseUrl::parse("sqlite://x.db?mode=memory").is_err());
        assert!(DatabaseUrl::parse("sqlite://x.db?cache=shared").is_err());
        assert!(DatabaseUrl::parse("mysql://db/x").unwrap_err().contains("`mysql`"));
    }

    #[test]
    fn postgres_passwords_are_redacted() {
        let url = DatabaseUrl::parse("postgres://notes:s3cret@db.example:5432/notes").unwrap();
        let shown = url.redacted();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("notes:***@db.example"), "{shown}");
        assert!(!format!("{url:?}").contains("s3cret"));
    }
}
