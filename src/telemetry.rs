//! Logging: `tracing` to stderr (the journal, under systemd) as text or JSON.
//! Rocket 0.5 logs through the `log` crate; `init` also installs the bridge
//! that forwards those records here.
//!
//! When stderr is not a terminal, lines are collected and written together
//! at most every 100 ms (or once 32 KiB are waiting), as nginx's buffered
//! access log does: one write per request line would cost a tenth of the
//! throughput of a small response. Warnings and errors are written at once,
//! with everything before them; [`flush`] writes what is left at exit.

use std::io::{IsTerminal, Write};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

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
    let writer = Stderr { buffered: !ansi };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(ansi);
    let installed = match config.format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
    if installed.is_ok() && !ansi {
        start_flusher();
    }
}

/// Writes the log lines still waiting (call before exiting).
pub fn flush() {
    write_out(&mut pending());
}

/// Lines waiting to be written to stderr.
static PENDING: Mutex<Vec<u8>> = Mutex::new(Vec::new());
const FLUSH_EVERY: Duration = Duration::from_millis(100);
const FLUSH_AT: usize = 32 * 1024;

fn pending() -> MutexGuard<'static, Vec<u8>> {
    PENDING.lock().unwrap_or_else(PoisonError::into_inner)
}

fn write_out(pending: &mut Vec<u8>) {
    if !pending.is_empty() {
        // Nowhere to report a failure to write the log.
        let _ = std::io::stderr().lock().write_all(pending);
        pending.clear();
    }
}

fn start_flusher() {
    let spawned = std::thread::Builder::new().name("log-flush".into()).spawn(|| {
        loop {
            std::thread::sleep(FLUSH_EVERY);
            flush();
        }
    });
    if spawned.is_err() {
        eprintln!("notes-appliance: cannot start the log writer thread; log lines may be late");
    }
    // A panic's message goes straight to stderr: the lines before it first.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        flush();
        report(info);
    }));
}

/// stderr, buffered or not.
#[derive(Clone, Copy)]
struct Stderr {
    buffered: bool,
}

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line { text: Vec::new(), at_once: !self.buffered }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line {
        Line { text: Vec::with_capacity(256), at_once: !self.buffered || *meta.level() <= Level::WARN }
    }
}

/// One event's text, handed over whole when dropped.
struct Line {
    text: Vec<u8>,
    at_once: bool,
}

impl Write for Line {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let mut pending = pending();
        pending.extend_from_slice(&self.text);
        if self.at_once || pending.len() >= FLUSH_AT {
            write_out(&mut pending);
        }
    }
}
