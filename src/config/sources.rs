//! Where configuration comes from: built-in defaults, the TOML file, the
//! environment; and, when a value is wrong, where it was set.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::magic::RelativePathBuf;
use figment::{Figment, Profile};
use rocket::data::ByteUnit;
use serde::{Deserialize, Serialize};

use super::{Config, ConfigError, LogFormat, SqliteSynchronous};

/// Where the configuration file comes from when `--config` is not given.
const CONFIG_ENV: &str = "ROCKET_CONFIG";
const DEFAULT_CONFIG_FILE: &str = "Rocket.toml";

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

/// The `notes` table as written by the operator. Every field has a default.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotes {
    pub(super) data_dir: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) database_url_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) database_max_connections: Option<u32>,
    pub(super) database_connect_timeout: u64,
    pub(super) sqlite_synchronous: SqliteSynchronous,
    pub(super) log_format: LogFormat,
    pub(super) log_level: String,
    pub(super) header_read_timeout: u64,
    pub(super) body_read_timeout: u64,
    pub(super) idle_timeout: u64,
    pub(super) max_connections: usize,
    pub(super) body_limit: ByteUnit,
    pub(super) shutdown_grace: u64,
    pub(super) tls_handshake_timeout: u64,
    pub(super) http_port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) public_url: Option<String>,
    pub(super) hsts_include_subdomains: bool,
    pub(super) trusted_proxies: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) backup_dir: Option<PathBuf>,
    pub(super) backup_interval: RawInterval,
    pub(super) backup_keep: u32,
    pub(super) metrics: bool,
    pub(super) metrics_allow: Vec<String>,
}

/// A period: seconds, or a number with a unit (`90s`, `30m`, `12h`, `1d`);
/// `0` or `off` turns the feature off.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub(super) enum RawInterval {
    Seconds(u64),
    Text(String),
}

impl RawInterval {
    /// The period, or `None` when it is off.
    pub(super) fn parse(&self) -> Result<Option<std::time::Duration>, String> {
        let seconds = match self {
            Self::Seconds(seconds) => *seconds,
            Self::Text(text) => {
                let text = text.trim();
                if text == "off" {
                    return Ok(None);
                }
                let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
                let (number, unit) = text.split_at(split);
                let bad = || format!("`{text}` is not a period like 3600, 90s, 30m, 12h, 1d or off");
                let number: u64 = number.parse().map_err(|_| bad())?;
                let unit = match unit.trim() {
                    "" | "s" => 1,
                    "m" => 60,
                    "h" => 3600,
                    "d" => 86_400,
                    _ => return Err(bad()),
                };
                number.checked_mul(unit).ok_or_else(bad)?
            }
        };
        Ok((seconds > 0).then(|| std::time::Duration::from_secs(seconds)))
    }
}

/// Rocket's `tls` table: `certs` (a PEM chain) and `key` (a PEM private key).
/// As in Rocket, a relative path in a file is relative to that file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    pub(super) certs: RelativePathBuf,
    pub(super) key: RelativePathBuf,
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
            tls_handshake_timeout: 10,
            http_port: 8080,
            public_url: None,
            hsts_include_subdomains: true,
            trusted_proxies: Vec::new(),
            backup_dir: None,
            backup_interval: RawInterval::Text("1d".into()),
            backup_keep: 7,
            metrics: false,
            metrics_allow: vec!["127.0.0.0/8".into(), "::1".into()],
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
    /// Rocket would take the client address from `X-Real-IP`, which any
    /// client can send; the listener decides it (see `notes.trusted_proxies`).
    ip_header: bool,
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
            port: 8443,
            ident: false,
            ip_header: false,
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

    pub fn into_figment(self) -> Figment {
        self.figment
    }

    pub fn load(&self) -> Result<Config, ConfigError> {
        let rocket: rocket::Config = self.figment.extract()?;
        // Extracted as a field (not with `extract_inner`) so that error paths
        // read `notes.key`.
        #[derive(Deserialize)]
        struct App {
            notes: RawNotes,
            tls: Option<RawTls>,
        }
        let App { notes: raw, tls } = self.figment.extract()?;
        Config::validate(rocket, raw, tls, self.file.clone()).map_err(|error| match error {
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
