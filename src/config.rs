//! Configuration: built-in defaults < `Rocket.toml` < `ROCKET_*` / `NOTES_*`
//! environment, merged with figment and extracted once into a validated
//! [`Config`]. This is the only module that reads the environment.
//!
//! Rocket's familiar `address` and `port` keys configure our own listener; the
//! application's keys live in the `notes` table, where an unknown key is an
//! error so that a typo never passes silently.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::{Figment, Profile};
use rocket::data::ByteUnit;
use serde::{Deserialize, Serialize};

/// Where the configuration file comes from when `--config` is not given.
const CONFIG_ENV: &str = "ROCKET_CONFIG";
const DEFAULT_CONFIG_FILE: &str = "Rocket.toml";

/// A configuration problem: the process exits with 78 (EX_CONFIG) so that
/// systemd does not restart it in a loop.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    FileNotFound(PathBuf),
    /// Values that could not be read: a syntax error in the file, a wrong
    /// type, an unknown key. Each message names the key and where it was set.
    #[error("{}", .0.join("; "))]
    Unreadable(Vec<String>),
    #[error("{key}: {message}")]
    Invalid { key: &'static str, message: String },
}

impl From<figment::Error> for ConfigError {
    fn from(error: figment::Error) -> Self {
        Self::Unreadable(error.into_iter().map(|e| describe_figment_error(&e)).collect())
    }
}

fn describe_figment_error(error: &figment::Error) -> String {
    let origin = error.metadata.as_ref().map(|metadata| origin(metadata, &error.path.join(".")));
    match (error.path.is_empty(), origin) {
        (true, Some(origin)) => format!("{origin}: {}", error.kind),
        (true, None) => error.kind.to_string(),
        (false, Some(origin)) => format!("{}: {} (set in {origin})", error.path.join("."), error.kind),
        (false, None) => format!("{}: {}", error.path.join("."), error.kind),
    }
}

/// Where a value came from, as the operator would look for it: the file,
/// or the environment variable's name.
fn origin(metadata: &figment::Metadata, key: &str) -> String {
    if let Some(figment::Source::File(path)) = &metadata.source {
        return path.display().to_string();
    }
    if metadata.name.contains("environment") {
        return match key.strip_prefix("notes.") {
            Some(rest) => format!("environment variable NOTES_{}", rest.to_ascii_uppercase()),
            None => format!("environment variable ROCKET_{}", key.to_ascii_uppercase()),
        };
    }
    metadata.name.to_string()
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key, message: message.into() }
}

/// The validated configuration, passed down from `main`; nothing else reads
/// the environment or the file.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: ListenConfig,
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    /// Which file was read, if any (for messages and `config show`).
    pub source_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct ListenConfig {
    pub address: SocketAddr,
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub body_limit: u64,
    pub shutdown_grace: Duration,
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: DatabaseUrl,
    /// Pool size: readers on SQLite (one more connection writes), all
    /// connections on PostgreSQL.
    pub max_connections: u32,
    /// How long boot waits for an unreachable database before giving up.
    pub connect_timeout: Duration,
    pub sqlite_synchronous: SqliteSynchronous,
}

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

/// SQLite's `synchronous` setting for the connection that writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// Every acknowledged write is fsynced: it survives a power cut.
    Full,
    /// Faster: survives a crash of the process but not a power cut.
    Normal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info` or `info,notes_appliance=debug`.
    pub level: String,
}

/// The `notes` table as written by the operator. Every field has a default.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawNotes {
    data_dir: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    database_max_connections: Option<u32>,
    database_connect_timeout: u64,
    sqlite_synchronous: SqliteSynchronous,
    log_format: LogFormat,
    log_level: String,
    header_read_timeout: u64,
    body_read_timeout: u64,
    idle_timeout: u64,
    max_connections: usize,
    body_limit: ByteUnit,
    shutdown_grace: u64,
}

impl Default for RawNotes {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            database_url: None,
            database_url_file: None,
            database_max_connections: None,
            database_connect_timeout: 60,
            sqlite_synchronous: SqliteSynchronous::Full,
            log_format: LogFormat::Text,
            log_level: "info".into(),
            header_read_timeout: 10,
            body_read_timeout: 30,
            idle_timeout: 60,
            max_connections: 1024,
            body_limit: ByteUnit::Mebibyte(1),
            shutdown_grace: 10,
        }
    }
}

/// Defaults that differ from Rocket's own.
#[derive(Serialize)]
struct Defaults {
    address: IpAddr,
    port: u16,
    /// No `Server: Rocket` header: the server does not advertise itself.
    ident: bool,
    notes: RawNotes,
}

/// The merged configuration sources, before extraction.
pub struct Sources {
    figment: Figment,
    file: Option<PathBuf>,
}

impl Sources {
    /// Collects the sources. `explicit` is the `--config` argument; without
    /// it, `ROCKET_CONFIG` names the file, else `./Rocket.toml` is read if it
    /// exists. A file that was named but does not exist is an error.
    pub fn new(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        let named =
            explicit.map(Path::to_path_buf).or_else(|| std::env::var_os(CONFIG_ENV).map(PathBuf::from));
        let file = match named {
            Some(path) if path.is_file() => Some(path),
            Some(path) => return Err(ConfigError::FileNotFound(path)),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.is_file()),
        };
        let mut figment = Self::defaults();
        if let Some(path) = &file {
            figment = figment.merge(Toml::file_exact(path).nested());
        }
        let figment = figment
            .merge(Env::prefixed("ROCKET_").ignore(&["PROFILE", "CONFIG"]).global())
            .merge(Env::prefixed("NOTES_").map(|key| format!("notes.{key}").into()).global())
            .select(Profile::from_env_or("ROCKET_PROFILE", rocket::Config::DEFAULT_PROFILE));
        Ok(Self { figment, file })
    }

    /// The built-in defaults alone: no file, no environment (for tests,
    /// which then add what they need with [`Sources::merge`]).
    pub fn builtin() -> Self {
        Self { figment: Self::defaults(), file: None }
    }

    fn defaults() -> Figment {
        let defaults = Defaults {
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8080,
            ident: false,
            notes: RawNotes::default(),
        };
        Figment::from(rocket::Config::default()).merge(Serialized::defaults(defaults))
    }

    /// Adds values on top of every other source.
    pub fn merge(self, provider: impl figment::Provider) -> Self {
        Self { figment: self.figment.merge(provider), file: self.file }
    }

    /// Adds one value on top of every other source, e.g.
    /// `set("notes.idle_timeout", 5)`.
    pub fn set(self, key: &str, value: impl Serialize) -> Self {
        self.merge(Serialized::global(key, value))
    }

    /// The figment handed to Rocket, so that its own keys (limits, log
    /// level, ...) come from the same sources.
    pub fn figment(&self) -> &Figment {
        &self.figment
    }

    pub fn load(&self) -> Result<Config, ConfigError> {
        let rocket: rocket::Config = self.figment.extract()?;
        // Extracted as a field (not with `extract_inner`) so that error paths
        // read `notes.key`.
        #[derive(Deserialize)]
        struct App {
            notes: RawNotes,
        }
        let App { notes: raw } = self.figment.extract()?;
        Config::validate(rocket, raw, self.file.clone()).map_err(|error| match error {
            ConfigError::Invalid { key, message } => {
                let message = match self.figment.find_metadata(key) {
                    Some(metadata) => format!("{message} (set in {})", origin(metadata, key)),
                    None => message,
                };
                ConfigError::Invalid { key, message }
            }
            other => other,
        })
    }
}

impl Config {
    /// Reads and validates the configuration from all sources.
    pub fn load(explicit: Option<&Path>) -> Result<(Self, Figment), ConfigError> {
        let sources = Sources::new(explicit)?;
        let config = sources.load()?;
        Ok((config, sources.figment))
    }

    fn validate(
        rocket: rocket::Config,
        raw: RawNotes,
        source_file: Option<PathBuf>,
    ) -> Result<Self, ConfigError> {
        if raw.data_dir.as_os_str().is_empty() {
            return Err(invalid("notes.data_dir", "must not be empty"));
        }
        let url = match (&raw.database_url, &raw.database_url_file) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "notes.database_url_file",
                    "set either notes.database_url or notes.database_url_file, not both",
                ));
            }
            (Some(url), None) => DatabaseUrl::parse(url).map_err(|m| invalid("notes.database_url", m))?,
            (None, Some(path)) => {
                let contents = std::fs::read_to_string(path).map_err(|e| {
                    invalid("notes.database_url_file", format!("cannot read {}: {e}", path.display()))
                })?;
                DatabaseUrl::parse(contents.trim()).map_err(|m| invalid("notes.database_url_file", m))?
            }
            (None, None) => DatabaseUrl::Sqlite(raw.data_dir.join("notes.db")),
        };
        let max_connections = match raw.database_max_connections {
            Some(n @ 1..=200) => n,
            Some(n) => {
                return Err(invalid("notes.database_max_connections", format!("must be 1..=200, got {n}")));
            }
            None if url.is_sqlite() => 4,
            None => 10,
        };
        if raw.log_level.parse::<tracing_subscriber::EnvFilter>().is_err() {
            return Err(invalid(
                "notes.log_level",
                format!("`{}` is not a valid filter (e.g. `info` or `info,sqlx=warn`)", raw.log_level),
            ));
        }
        let seconds = |key: &'static str, value: u64, max: u64| {
            if (1..=max).contains(&value) {
                Ok(Duration::from_secs(value))
            } else {
                Err(invalid(key, format!("must be 1..={max} seconds, got {value}")))
            }
        };
        let listen = ListenConfig {
            address: SocketAddr::new(rocket.address, rocket.port),
            header_read_timeout: seconds("notes.header_read_timeout", raw.header_read_timeout, 3600)?,
            body_read_timeout: seconds("notes.body_read_timeout", raw.body_read_timeout, 3600)?,
            idle_timeout: seconds("notes.idle_timeout", raw.idle_timeout, 86_400)?,
            max_connections: match raw.max_connections {
                n @ 1..=1_000_000 => n,
                n => return Err(invalid("notes.max_connections", format!("must be 1..=1000000, got {n}"))),
            },
            body_limit: match raw.body_limit.as_u64() {
                n @ 1024..=1_073_741_824 => n,
                _ => {
                    return Err(invalid(
                        "notes.body_limit",
                        format!("must be 1 KiB..=1 GiB, got {}", raw.body_limit),
                    ));
                }
            },
            shutdown_grace: seconds("notes.shutdown_grace", raw.shutdown_grace, 3600)?,
        };
        Ok(Self {
            listen,
            data_dir: raw.data_dir,
            database: DatabaseConfig {
                url,
                max_connections,
                connect_timeout: seconds(
                    "notes.database_connect_timeout",
                    raw.database_connect_timeout,
                    3600,
                )?,
                sqlite_synchronous: raw.sqlite_synchronous,
            },
            log: LogConfig { format: raw.log_format, level: raw.log_level },
            source_file,
        })
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        #[derive(Serialize)]
        struct Shown<'a> {
            address: IpAddr,
            port: u16,
            notes: ShownNotes<'a>,
        }
        #[derive(Serialize)]
        struct ShownNotes<'a> {
            data_dir: &'a Path,
            database_url: String,
            database_max_connections: u32,
            database_connect_timeout: u64,
            sqlite_synchronous: SqliteSynchronous,
            log_format: LogFormat,
            log_level: &'a str,
            header_read_timeout: u64,
            body_read_timeout: u64,
            idle_timeout: u64,
            max_connections: usize,
            body_limit: String,
            shutdown_grace: u64,
        }
        let listen = &self.listen;
        let shown = Shown {
            address: listen.address.ip(),
            port: listen.address.port(),
            notes: ShownNotes {
                data_dir: &self.data_dir,
                database_url: self.database.url.redacted(),
                database_max_connections: self.database.max_connections,
                database_connect_timeout: self.database.connect_timeout.as_secs(),
                sqlite_synchronous: self.database.sqlite_synchronous,
                log_format: self.log.format,
                log_level: &self.log.level,
                header_read_timeout: listen.header_read_timeout.as_secs(),
                body_read_timeout: listen.body_read_timeout.as_secs(),
                idle_timeout: listen.idle_timeout.as_secs(),
                max_connections: listen.max_connections,
                body_limit: ByteUnit::from(listen.body_limit).to_string(),
                shutdown_grace: listen.shutdown_grace.as_secs(),
            },
        };
        let source = match &self.source_file {
            Some(path) => format!("# read from {} and the environment\n", path.display()),
            None => "# no configuration file: built-in defaults and the environment\n".to_owned(),
        };
        match toml::to_string_pretty(&shown) {
            Ok(body) => source + &body,
            // Serializing plain strings and numbers cannot fail; say so if it ever does.
            Err(e) => format!("{source}# cannot render the configuration: {e}\n"),
        }
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
