//! Putting a backup or an export into a database: `restore` replaces the
//! content, `import` fills a new installation. The file is checked in full
//! before the target is touched, and the target changes in one
//! transaction, so a bad file or a failure halfway leaves it as it was.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::Context;
use notes_migrations::{Migrator, MigratorTrait};

use super::files::{self, BackupFile, Format, Kind, Temporary};
use super::portable::{self, Counts, Reader};
use super::sqlite;
use super::transfer::{self, DbReader, Mode, Source};
use crate::config::{DatabaseConfig, DatabaseUrl, SqliteSynchronous};
use crate::db::{self, Db};

/// What a file holds, from its first bytes.
pub fn detect(path: &Path) -> anyhow::Result<Format> {
    let mut start = [0u8; 16];
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let read =
        read_up_to(&mut file, &mut start).with_context(|| format!("cannot read {}", path.display()))?;
    match &start[..read] {
        [] => anyhow::bail!("{} is empty", path.display()),
        bytes if bytes == sqlite::MAGIC => Ok(Format::Sqlite),
        [b'{', ..] => Ok(Format::Portable),
        _ => anyhow::bail!(
            "{} is neither a notes-appliance backup (a SQLite file) nor an export (JSON Lines)",
            path.display()
        ),
    }
}

fn read_up_to(file: &mut File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// What a restore or import did.
#[derive(Debug)]
pub struct Outcome {
    pub counts: Counts,
    /// The backup of the replaced content (`restore` of a non-empty database).
    pub previous: Option<BackupFile>,
}

/// Replaces the content of `target` with that of the backup or export at
/// `path`. The replaced content is backed up into `backup_dir` first.
pub async fn restore(target: &Db, path: &Path, backup_dir: &Path) -> anyhow::Result<Outcome> {
    let mut opened = Opened::open(path, backup_dir).await?;
    let previous = if has_content(target).await? {
        let taken = super::backup::take(target, Kind::PreRestore, backup_dir)
            .await
            .context("cannot back up the current content before replacing it; nothing was changed")?;
        tracing::info!(backup = %taken.path.display(), "backed up the content being replaced");
        Some(taken)
    } else {
        None
    };
    let result = transfer::load(target, &mut opened.source, Mode::Replace).await;
    opened.close().await;
    Ok(Outcome { counts: result?, previous })
}

/// Loads the backup or export at `path` into `target`, which must have no
/// accounts and no notes.
pub async fn import(target: &Db, path: &Path, work_dir: &Path) -> anyhow::Result<Outcome> {
    let mut opened = Opened::open(path, work_dir).await?;
    let result = transfer::load(target, &mut opened.source, Mode::IntoEmpty).await;
    opened.close().await;
    Ok(Outcome { counts: result?, previous: None })
}

async fn has_content(db: &Db) -> anyhow::Result<bool> {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let users = crate::entity::user::Entity::find().count(db.admin()).await?;
    Ok(users > 0)
}

/// A checked file, ready to be read record by record.
struct Opened {
    source: Source<BufReader<File>>,
    /// A SQLite backup is read from a migrated copy, removed at the end.
    copy: Option<(Db, Temporary)>,
}

impl Opened {
    async fn open(path: &Path, work_dir: &Path) -> anyhow::Result<Self> {
        match detect(path)? {
            Format::Portable => {
                let checked = path.to_owned();
                let (header, counts) = tokio::task::spawn_blocking(move || portable::verify(&checked))
                    .await
                    .context("the check task failed")?
                    .map_err(|e| anyhow::anyhow!("{} cannot be used: {e}", path.display()))?;
                tracing::info!(
                    file = %path.display(),
                    version = header.version,
                    source = %header.source,
                    created_at = %header.created_at,
                    %counts,
                    "export checked"
                );
                let reader = Reader::open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                Ok(Self { source: Source::File(Box::new(reader)), copy: None })
            }
            Format::Sqlite => Self::open_sqlite(path, work_dir).await,
        }
    }

    /// Copies a SQLite backup (never changing the original), checks the
    /// copy, and brings its schema up to this version's.
    async fn open_sqlite(path: &Path, work_dir: &Path) -> anyhow::Result<Self> {
        files::create_dir(work_dir).with_context(|| format!("cannot create {}", work_dir.display()))?;
        let name = format!("restore-{}.db", std::process::id());
        let copy = Temporary::beside(&work_dir.join(name));
        std::fs::copy(path, copy.path())
            .with_context(|| format!("cannot copy {} to {}", path.display(), copy.path().display()))?;
        let checked = copy.path().to_owned();
        let applied = tokio::task::spawn_blocking(move || sqlite::check(&checked))
            .await
            .context("the check task failed")?
            .map_err(|e| anyhow::anyhow!("{} cannot be used: {e:#}", path.display()))?;
        let known: Vec<String> = Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
        if let Some(unknown) = applied.iter().find(|name| !known.contains(name)) {
            anyhow::bail!(
                "{} was made by a newer version of notes-appliance (its schema has migration {unknown}, \
                 which this version does not know): restore it with that version or a later one",
                path.display()
            );
        }
        let config = DatabaseConfig {
            url: DatabaseUrl::Sqlite(copy.path().to_owned()),
            max_connections: 1,
            connect_timeout: std::time::Duration::from_secs(5),
            sqlite_synchronous: SqliteSynchronous::Normal,
            snapshot_dir: None,
        };
        let db = Db::connect(&config).await.context("cannot open the copy of the backup")?;
        for name in db::migrate(&db).await.context("cannot bring the backup's schema up to date")? {
            tracing::info!(migration = %name, "applied to the copy of the backup");
        }
        let reader = DbReader::begin(&db).await.context("cannot read the backup")?;
        Ok(Self { source: Source::Db(reader), copy: Some((db, copy)) })
    }

    async fn close(self) {
        if let Source::Db(reader) = self.source {
            let _ = reader.finish().await;
        }
        if let Some((db, copy)) = self.copy {
            db.close().await;
            for suffix in ["-wal", "-shm", ".migrate-lock"] {
                let mut side = copy.path().as_os_str().to_owned();
                side.push(suffix);
                let _ = std::fs::remove_file(side);
            }
            drop(copy);
        }
    }
}
