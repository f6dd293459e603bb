//! Taking a backup while the server keeps serving: on SQLite a checked
//! copy of the database file, on PostgreSQL a portable export read in one
//! REPEATABLE READ transaction and read back in full before it is named.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::Context;
use sea_orm::DbBackend;

use super::files::{self, BackupFile, Format, Kind, Temporary};
use super::portable::{self, Counts, Header};
use super::sqlite;
use super::transfer::DbReader;
use crate::db::Db;

/// The format a backup of this database is written in.
pub fn format_of(db: &Db) -> Format {
    match db.backend() {
        DbBackend::Postgres => Format::Portable,
        _ => Format::Sqlite,
    }
}

/// Takes a backup of `kind` into `dir` under its standard name.
pub async fn take(db: &Db, kind: Kind, dir: &Path) -> anyhow::Result<BackupFile> {
    files::create_dir(dir)
        .with_context(|| format!("cannot create the backup directory {}", dir.display()))?;
    let taken_at = crate::store::now();
    let path = dir.join(files::name(kind, format_of(db), taken_at));
    write(db, &path).await?;
    Ok(BackupFile { path, kind, taken_at })
}

/// Writes a backup of `db` to `destination`, which must not exist yet.
pub async fn write(db: &Db, destination: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        !destination.exists(),
        "{} already exists; choose another name (a backup never replaces a file)",
        destination.display()
    );
    match db.sqlite_path() {
        Some(source) => {
            let (source, destination) = (source.to_owned(), destination.to_owned());
            tokio::task::spawn_blocking(move || sqlite::snapshot(&source, &destination))
                .await
                .context("the backup task failed")?
        }
        None => {
            let temporary = Temporary::beside(destination);
            export_to_file(db, temporary.path()).await?;
            let checked = temporary.path().to_owned();
            tokio::task::spawn_blocking(move || portable::verify(&checked))
                .await
                .context("the check task failed")?
                .map_err(|e| anyhow::anyhow!("the export failed its check: {e}"))?;
            files::publish(temporary.path(), destination)
                .with_context(|| format!("cannot write {}", destination.display()))
        }
    }
}

/// Exports `db` into a new file at `path`.
pub async fn export_to_file(db: &Db, path: &Path) -> anyhow::Result<Counts> {
    let file = File::options()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let (counts, out) = export(db, BufWriter::new(file)).await?;
    out.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|file| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(counts)
}

/// Writes every user, token and note of `db` in the portable format.
pub async fn export<W: std::io::Write>(db: &Db, out: W) -> anyhow::Result<(Counts, W)> {
    let mut reader = DbReader::begin(db).await.context("cannot begin reading the database")?;
    let mut writer =
        portable::Writer::new(out, &Header::new(db.backend_name())).context("cannot write the export")?;
    while let Some(record) = reader.next_record().await.context("cannot read the database")? {
        writer.record(&record).context("cannot write the export")?;
    }
    reader.finish().await.context("cannot end the read transaction")?;
    writer.finish().context("cannot write the export")
}

/// The path a manual backup goes to by default.
pub fn default_path(db: &Db, dir: &Path) -> PathBuf {
    dir.join(files::name(Kind::Manual, format_of(db), crate::store::now()))
}
