//! Scheduled backups: one every `notes.backup_interval` into the backup
//! directory, keeping the newest `notes.backup_keep`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
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

/// The running schedule.
pub struct Schedule {
    task: JoinHandle<()>,
    stop: Arc<Notify>,
}

impl Schedule {
    /// Stops the schedule; a backup under way is finished first (it is a
    /// copy that a blocking thread makes, which could not be interrupted
    /// anyway), so that it is logged and counted for rotation.
    pub async fn stop(self) {
        self.stop.notify_one();
        let _ = self.task.await;
    }
}

/// Starts the schedule, if backups are scheduled.
pub fn spawn(db: Db, config: BackupConfig, status: BackupStatus) -> Option<Schedule> {
    let interval = config.interval?;
    let stop = Arc::new(Notify::new());
    let stopped = stop.clone();
    let task = tokio::spawn(async move {
        remove_abandoned(&config.dir);
        let overdue_after = interval.min(FIRST_DELAY);
        let remaining = status.age().map(|age| interval.saturating_sub(age)).unwrap_or_default();
        let mut next = Instant::now() + remaining.max(overdue_after);
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(next) => {}
                () = stopped.notified() => return,
            }
            next = match run_once(&db, &config, &status).await {
                Ok(()) => Instant::now() + interval,
                Err(()) => Instant::now() + interval.min(RETRY),
            };
        }
    });
    Some(Schedule { task, stop })
}

/// Removes temporary files of backups whose process is gone (killed while
/// writing one): `.<name>.<pid>.partial`.
fn remove_abandoned(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix('.')
            .and_then(|n| n.strip_suffix(".partial"))
            .and_then(|n| n.rsplit('.').next())
        else {
            continue;
        };
        let alive =
            pid.parse::<u32>().is_ok_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
        if !alive && std::fs::remove_file(entry.path()).is_ok() {
            tracing::info!(file = %entry.path().display(), "removed an unfinished backup left by a stopped process");
        }
    }
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

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_unfinished_files_of_gone_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join(".scheduled-20261122T101500.123Z.db.4294967295.partial");
        let running =
            dir.path().join(format!(".backup-20261122T101500.123Z.db.{}.partial", std::process::id()));
        let finished = dir.path().join("scheduled-20261122T101500.123Z.db");
        for path in [&gone, &running, &finished] {
            std::fs::write(path, b"x").unwrap();
        }
        super::remove_abandoned(dir.path());
        assert!(!gone.exists());
        assert!(running.exists() && finished.exists());
    }
}
