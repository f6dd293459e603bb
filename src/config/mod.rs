//! Configuration: built-in defaults < `Rocket.toml` < `ROCKET_*` / `NOTES_*`
//! environment, merged with figment and extracted once into a validated
//! [`Config`]. This is the only module that reads the environment.
//!
//! Rocket's familiar `address` and `port` keys configure our own listener; the
//! application's keys live in the `notes` table, where an unknown key is an
//! error so that a typo never passes silently.

mod database_url;
mod edge;
mod sources;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use rocket::data::ByteUnit;
use serde::{Deserialize, Serialize};

pub use database_url::DatabaseUrl;
pub use edge::{Network, PublicUrl};
pub use sources::Sources;
use sources::{RawNotes, RawTls};

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

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key, message: message.into() }
}

/// The validated configuration, passed down from `main`; nothing else reads
/// the environment or the file.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: ListenConfig,
    pub tls: TlsConfig,
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub backups: BackupConfig,
    pub metrics: MetricsConfig,
    /// Which file was read, if any (for messages and `config show`).
    pub source_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct ListenConfig {
    /// The HTTPS listener.
    pub address: SocketAddr,
    /// The plain-HTTP listener that redirects to HTTPS (`notes.http_port`,
    /// on the same address); `None` when the port is 0.
    pub redirect_address: Option<SocketAddr>,
    /// Where redirects point; without it, the listening address (or, on a
    /// wildcard address, the request's checked `Host`) with the HTTPS port.
    pub public_url: Option<PublicUrl>,
    /// Peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<Network>,
    pub tls_handshake_timeout: Duration,
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub body_limit: u64,
    pub shutdown_grace: Duration,
}

#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub certificate: CertificateSource,
    /// Names the self-signed certificate is made for: the public host,
    /// the listening address if it is a specific one, and localhost.
    pub self_signed_names: Vec<String>,
    pub hsts_include_subdomains: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateSource {
    /// The operator's PEM files (`tls.certs`, `tls.key`), e.g. certbot's.
    Files { certs: PathBuf, key: PathBuf },
    /// A self-signed pair generated on first boot into this directory.
    SelfSigned { dir: PathBuf },
}

/// Where backups go and how often the server takes one.
#[derive(Debug, Clone)]
pub struct BackupConfig {
    /// `notes.backup_dir`, default `<data_dir>/backups`.
    pub dir: PathBuf,
    /// `notes.backup_interval`; `None` when scheduled backups are off.
    pub interval: Option<Duration>,
    /// `notes.backup_keep`: how many scheduled backups are kept.
    pub keep: u32,
}

/// `GET /metrics`: off unless `notes.metrics`, and then only for clients in
/// `notes.metrics_allow` (loopback by default).
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    pub enabled: bool,
    pub allow: Vec<Network>,
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
    /// Where the checked snapshot of a SQLite database taken before a
    /// migration goes (the backup directory); `None`: no snapshot.
    pub snapshot_dir: Option<PathBuf>,
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

impl Config {
    /// Reads and validates the configuration from all sources.
    pub fn load(explicit: Option<&Path>) -> Result<(Self, Figment), ConfigError> {
        let sources = Sources::new(explicit)?;
        let config = sources.load()?;
        Ok((config, sources.into_figment()))
    }

    fn validate(
        rocket: rocket::Config,
        raw: RawNotes,
        tls: Option<RawTls>,
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
        let address = SocketAddr::new(rocket.address, rocket.port);
        let redirect_address = match raw.http_port {
            0 => None,
            port if port == rocket.port => {
                return Err(invalid("notes.http_port", format!("{port} is also the HTTPS port (`port`)")));
            }
            port => Some(SocketAddr::new(rocket.address, port)),
        };
        let public_url = match &raw.public_url {
            Some(raw) => Some(PublicUrl::parse(raw).map_err(|m| invalid("notes.public_url", m))?),
            None => None,
        };
        let trusted_proxies = raw
            .trusted_proxies
            .iter()
            .map(|network| Network::parse(network))
            .collect::<Result<_, _>>()
            .map_err(|m| invalid("notes.trusted_proxies", m))?;
        let certificate = match tls {
            Some(RawTls { certs, key }) => {
                let (certs, key) = (certs.relative(), key.relative());
                for (key_name, path) in [("tls.certs", &certs), ("tls.key", &key)] {
                    if !path.is_file() {
                        return Err(invalid(key_name, format!("{} is not a readable file", path.display())));
                    }
                }
                CertificateSource::Files { certs, key }
            }
            None => CertificateSource::SelfSigned { dir: raw.data_dir.join("tls") },
        };
        let mut self_signed_names = Vec::new();
        if let Some(url) = &public_url {
            self_signed_names.push(url.host().to_owned());
        }
        if !rocket.address.is_unspecified() {
            self_signed_names.push(rocket.address.to_string());
        }
        for name in ["localhost", "127.0.0.1", "::1"] {
            if !self_signed_names.iter().any(|n| n == name) {
                self_signed_names.push(name.to_owned());
            }
        }
        let backups = BackupConfig {
            dir: raw.backup_dir.clone().unwrap_or_else(|| raw.data_dir.join("backups")),
            interval: raw.backup_interval.parse().map_err(|m| invalid("notes.backup_interval", m))?,
            keep: match raw.backup_keep {
                n @ 1..=1000 => n,
                n => return Err(invalid("notes.backup_keep", format!("must be 1..=1000, got {n}"))),
            },
        };
        if backups.dir.as_os_str().is_empty() {
            return Err(invalid("notes.backup_dir", "must not be empty"));
        }
        let metrics = MetricsConfig {
            enabled: raw.metrics,
            allow: raw
                .metrics_allow
                .iter()
                .map(|network| Network::parse(network))
                .collect::<Result<_, _>>()
                .map_err(|m| invalid("notes.metrics_allow", m))?,
        };
        let tls = TlsConfig {
            certificate,
            self_signed_names,
            hsts_include_subdomains: raw.hsts_include_subdomains,
        };
        let listen = ListenConfig {
            address,
            redirect_address,
            public_url,
            trusted_proxies,
            tls_handshake_timeout: seconds("notes.tls_handshake_timeout", raw.tls_handshake_timeout, 3600)?,
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
            tls,
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
                snapshot_dir: Some(backups.dir.clone()),
            },
            log: LogConfig { format: raw.log_format, level: raw.log_level },
            backups,
            metrics,
            source_file,
        })
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        #[derive(Serialize)]
        struct Shown<'a> {
            address: IpAddr,
            port: u16,
            #[serde(skip_serializing_if = "Option::is_none")]
            tls: Option<ShownTls<'a>>,
            notes: ShownNotes<'a>,
        }
        #[derive(Serialize)]
        struct ShownTls<'a> {
            certs: &'a Path,
            key: &'a Path,
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
            tls_handshake_timeout: u64,
            http_port: u16,
            #[serde(skip_serializing_if = "Option::is_none")]
            public_url: Option<String>,
            hsts_include_subdomains: bool,
            trusted_proxies: Vec<String>,
            backup_dir: &'a Path,
            backup_interval: String,
            backup_keep: u32,
            metrics: bool,
            metrics_allow: Vec<String>,
        }
        let listen = &self.listen;
        let shown = Shown {
            address: listen.address.ip(),
            port: listen.address.port(),
            tls: match &self.tls.certificate {
                CertificateSource::Files { certs, key } => Some(ShownTls { certs, key }),
                CertificateSource::SelfSigned { .. } => None,
            },
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
                tls_handshake_timeout: listen.tls_handshake_timeout.as_secs(),
                http_port: listen.redirect_address.map_or(0, |a| a.port()),
                public_url: listen.public_url.as_ref().map(ToString::to_string),
                hsts_include_subdomains: self.tls.hsts_include_subdomains,
                trusted_proxies: listen.trusted_proxies.iter().map(ToString::to_string).collect(),
                backup_dir: &self.backups.dir,
                backup_interval: match self.backups.interval {
                    Some(interval) => format!("{}s", interval.as_secs()),
                    None => "off".to_owned(),
                },
                backup_keep: self.backups.keep,
                metrics: self.metrics.enabled,
                metrics_allow: self.metrics.allow.iter().map(ToString::to_string).collect(),
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
