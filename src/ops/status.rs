//! What the server knows about its backups: the newest good one in the
//! backup directory and the last scheduled attempt that failed, for
//! `/readyz` and `/metrics`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use super::files::{self, BackupFile};
use crate::config::BackupConfig;

/// Shared between the scheduler, the health check and the metrics; clones
/// share one state.
#[derive(Debug, Clone)]
pub struct BackupStatus(Arc<Mutex<State>>);

#[derive(Debug)]
struct State {
    interval: Option<Duration>,
    newest: Option<BackupFile>,
    failure: Option<(OffsetDateTime, String)>,
}

/// The backups as `/readyz` reports them.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BackupReport {
    /// `ok`; `none` (scheduled, none taken yet); `stale` (the newest is
    /// older than twice the interval); `failed` (the last attempt failed);
    /// `off` (not scheduled and none found).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub taken_at: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl BackupStatus {
    /// The state found in the backup directory (nothing if it is missing
    /// or unreadable: the scheduler reports that when it first runs).
    pub fn scan(config: &BackupConfig) -> Self {
        let newest =
            files::list(&config.dir).ok().and_then(|found| found.into_iter().max_by_key(|f| f.taken_at));
        Self(Arc::new(Mutex::new(State { interval: config.interval, newest, failure: None })))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The newest good backup.
    pub fn newest(&self) -> Option<BackupFile> {
        self.state().newest.clone()
    }

    /// How long ago the newest good backup was taken.
    pub fn age(&self) -> Option<Duration> {
        let taken_at = self.state().newest.as_ref()?.taken_at;
        let age = OffsetDateTime::now_utc() - taken_at;
        Some(age.try_into().unwrap_or(Duration::ZERO))
    }

    pub fn record_success(&self, backup: BackupFile) {
        let mut state = self.state();
        if state.newest.as_ref().is_none_or(|newest| newest.taken_at <= backup.taken_at) {
            state.newest = Some(backup);
        }
        state.failure = None;
    }

    pub fn record_failure(&self, error: String) {
        self.state().failure = Some((OffsetDateTime::now_utc(), error));
    }

    pub fn report(&self) -> BackupReport {
        let age = self.age();
        let state = self.state();
        let status = match (&state.failure, &state.newest, state.interval) {
            (Some(_), _, _) => "failed",
            (None, None, None) => "off",
            (None, None, Some(_)) => "none",
            (None, Some(_), Some(interval)) if age.is_some_and(|age| age > interval * 2) => "stale",
            (None, Some(_), _) => "ok",
        };
        BackupReport {
            status,
            newest: state.newest.as_ref().map(|n| n.path.clone()),
            taken_at: state.newest.as_ref().map(|n| n.taken_at),
            age_seconds: age.map(|age| age.as_secs()),
            interval_seconds: state.interval.map(|i| i.as_secs()),
            error: state.failure.as_ref().map(|(at, e)| format!("{e} (at {at})")),
        }
    }
}
