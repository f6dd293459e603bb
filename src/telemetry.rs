//! Logging: `tracing` to stderr (the journal, under systemd) as text or JSON.
//! Rocket 0.5 logs through the `log` crate; `init` also installs the bridge
//! that forwards those records here.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Libraries that are chatty; the operator's filter can still raise them
/// (`notes.log_level = "info,sqlx=info"`). Rocket warns about every failed
/// guard and catcher it runs, which are ordinary 4xx answers here (the
/// access log has them), so only its errors are kept.
const QUIET: &[&str] = &["rocket=error", "_=error", "sqlx=warn", "sea_orm=warn", "sea_orm_migration=warn"];

/// Installs the global subscriber. Safe to call more than once (later calls
/// do nothing), which the tests rely on.
pub fn init(config: &LogConfig) {
    let directives = QUIET.iter().copied().chain(std::iter::once(config.level.as_str())).collect::<Vec<_>>();
    let filter = EnvFilter::try_new(directives.join(",")).unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal();
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let _already_installed = match config.format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
}
