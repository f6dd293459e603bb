//! Applying migrations on boot without racing another instance.
//!
//! All pending migrations run in one transaction: both SQLite and
//! PostgreSQL have transactional DDL, so a failing migration leaves the
//! previous schema exactly as it was. Two processes never migrate at once:
//! on PostgreSQL the transaction takes an advisory lock first (instances
//! booting together wait for each other, then find nothing left to do); on
//! SQLite an exclusive lock on a file beside the database does the same for
//! processes sharing the file.
//!
//! Before migrations change an existing SQLite schema, a checked copy of
//! the database is taken into the backup directory and named in the log.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use anyhow::Context;
use notes_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::MigrationStatus;

use super::{Db, begin_write};

/// The advisory lock key: "notesapp" in ASCII, so that it is recognisable
/// in `pg_locks`.
const ADVISORY_LOCK_KEY: i64 = 0x6e6f_7465_7361_7070;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    pub name: String,
    pub applied: bool,
}

/// Applies this build's pending migrations; returns their names.
pub async fn migrate(db: &Db) -> anyhow::Result<Vec<String>> {
    migrate_with::<Migrator>(db).await
}

/// Applies the pending migrations of `M` (tests use a migrator with a
/// deliberately failing migration).
pub async fn migrate_with<M: MigratorTrait>(db: &Db) -> anyhow::Result<Vec<String>> {
    let _file_lock = match db.sqlite_path() {
        Some(path) => Some(lock_file(&lock_path(path)).await?),
        None => None,
    };
    let txn = begin_write(db.admin()).await.context("cannot begin the migration transaction")?;
    if db.backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({ADVISORY_LOCK_KEY})"))
            .await
            .context("cannot take the migration lock")?;
    }
    let pending: Vec<String> = M::get_pending_migrations(&txn)
        .await
        .context("cannot read the applied migrations")?
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    if pending.is_empty() {
        txn.rollback().await.context("cannot end the migration transaction")?;
        return Ok(pending);
    }
    let existing = M::migrations().len() > pending.len();
    let snapshot = match (db.sqlite_path(), db.snapshot_dir()) {
        (Some(database), Some(dir)) if existing => match snapshot(database, dir).await {
            Ok(path) => Some(path),
            Err(error) => {
                let _ = txn.rollback().await;
                anyhow::bail!(
                    "cannot take the snapshot before migrating, so nothing was migrated: {error:#}"
                );
            }
        },
        _ => None,
    };
    let restore_hint = match &snapshot {
        Some(path) => format!(
            "; to return to the data as it was before this upgrade, install the previous version and run              `notes-appliance restore {}`",
            path.display()
        ),
        None => String::new(),
    };
    if let Some(path) = &snapshot {
        tracing::info!(snapshot = %path.display(), "checked snapshot taken before migrating{restore_hint}");
    }
    for name in &pending {
        tracing::info!(migration = %name, "applying migration");
    }
    if let Err(error) = M::up(&txn, None).await {
        // Dropping the transaction would roll back too; say so explicitly.
        let rolled_back = txn.rollback().await;
        let outcome = match rolled_back {
            Ok(()) => "the schema is unchanged",
            Err(_) => "the transaction was abandoned and the database will roll it back",
        };
        let snapshot = match &snapshot {
            Some(path) => format!("; a checked snapshot from before the attempt is {}", path.display()),
            None => String::new(),
        };
        anyhow::bail!(
            "migration failed ({outcome}): {error}. The database is as it was: to roll back,              reinstall the previous version of notes-appliance{snapshot}"
        );
    }
    txn.commit().await.context("cannot commit the migrations; the schema is unchanged")?;
    Ok(pending)
}

/// How many snapshots taken before migrations are kept.
const KEEP_SNAPSHOTS: usize = 5;

/// A checked copy of the SQLite database in `dir`, before migrating it.
async fn snapshot(database: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    use crate::ops::files::{self, Format, Kind};
    files::create_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(files::name(Kind::PreMigrate, Format::Sqlite, crate::store::now()));
    let (source, destination) = (database.to_owned(), path.clone());
    tokio::task::spawn_blocking(move || crate::ops::sqlite::snapshot(&source, &destination))
        .await
        .context("the snapshot task failed")??;
    match files::rotate(dir, Kind::PreMigrate, KEEP_SNAPSHOTS) {
        Ok(removed) => {
            for old in removed {
                tracing::info!(snapshot = %old.display(), "removed an old snapshot");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot remove old snapshots"),
    }
    Ok(path)
}

/// Migrations not yet applied, without creating anything (for `/readyz`).
pub async fn pending_migrations(db: &Db) -> Result<Vec<String>, sea_orm::DbErr> {
    Ok(Migrator::get_pending_migrations_read_only(db.admin())
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect())
}

/// Every migration this build knows, and whether it is applied.
pub async fn migration_states(db: &Db) -> Result<Vec<MigrationState>, sea_orm::DbErr> {
    Ok(Migrator::get_migration_with_status_read_only(db.admin())
        .await?
        .iter()
        .map(|m| MigrationState {
            name: m.name().to_owned(),
            applied: m.status() == MigrationStatus::Applied,
        })
        .collect())
}

fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.file_name().unwrap_or_default().to_os_string();
    name.push(".migrate-lock");
    database.with_file_name(name)
}

/// Takes an exclusive lock on `path`, waiting (and saying so) while another
/// process holds it. The lock is released when the file is dropped.
///
/// A separate file, not the database: closing any descriptor of the
/// database file would drop SQLite's own POSIX locks held by this process.
async fn lock_file(path: &Path) -> anyhow::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open the migration lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => return Ok(file),
        Err(TryLockError::WouldBlock) => {
            tracing::info!(lock = %path.display(), "another process is migrating this database; waiting");
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        file.lock().with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(file)
    })
    .await
    .context("the migration lock task failed")?
}
