//! Scheduled backups: one every `notes.backup_interval` into the backup
//! directory, keeping the newest `notes.backup_keep`.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::BackupStatus;
use super::backup;
use super::files::{self, Kind};
use crate::config::BackupConfig;
use crate::db::Db;

/// The first backup after boot waits at most this long (less with a
/// shorter interval), so that a restart loop does not back up in a loop.
const FIRST_DELAY: Duration = Duration::from_secs(60);
/// After a failure the next attempt comes sooner than a whole interval.
const RETRY: Duration = Duration::from_secs(300);

/// Starts the schedule, if backups are scheduled.
pub fn spawn(db: Db, config: BackupConfig, status: BackupStatus) -> Option<JoinHandle<()>> {
    let interval = config.interval?;
    Some(tokio::spawn(async move {
        let overdue_after = interval.min(FIRST_DELAY);
        let remaining = status.age().map(|age| interval.saturating_sub(age)).unwrap_or_default();
        let mut next = Instant::now() + remaining.max(overdue_after);
        loop {
            tokio::time::sleep_until(next).await;
            next = match run_once(&db, &config, &status).await {
                Ok(()) => Instant::now() + interval,
                Err(()) => Instant::now() + interval.min(RETRY),
            };
        }
    }))
}

/// Takes one scheduled backup and removes the oldest beyond `keep`.
pub async fn run_once(db: &Db, config: &BackupConfig, status: &BackupStatus) -> Result<(), ()> {
    let started = Instant::now();
    match backup::take(db, Kind::Scheduled, &config.dir).await {
        Ok(taken) => {
            let bytes = std::fs::metadata(&taken.path).map(|m| m.len()).unwrap_or_default();
            tracing::info!(
                backup = %taken.path.display(),
                bytes,
                duration_ms = started.elapsed().as_millis() as u64,
                "scheduled backup written and checked"
            );
            status.record_success(taken);
        }
        Err(error) => {
            let message = format!("{error:#}");
            tracing::error!(error = %message, "scheduled backup failed");
            status.record_failure(message);
            return Err(());
        }
    }
    match files::rotate(&config.dir, Kind::Scheduled, config.keep as usize) {
        Ok(removed) => {
            for old in removed {
                tracing::info!(backup = %old.display(), "removed an old scheduled backup");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot remove old scheduled backups"),
    }
    Ok(())
}
