//! `backup`, `restore`, `export` and `import` (see [`crate::ops`]).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::config::{Config, DatabaseUrl};
use crate::db::{self, Db};
use crate::ops::{backup as backups, restore as restores};

/// Connects without creating or migrating anything: a backup or an export
/// reads the database as it is.
async fn open_existing(config: &Config) -> anyhow::Result<Db> {
    super::prepare_data_dir(config)?;
    if let DatabaseUrl::Sqlite(path) = &config.database.url {
        anyhow::ensure!(path.is_file(), "there is no database at {} yet: nothing to back up", path.display());
    }
    Db::connect(&config.database).await
}

/// The export reads with this version's schema, so it must be current.
async fn ensure_current(db: &Db) -> anyhow::Result<()> {
    let pending = db::pending_migrations(db).await.context("cannot read the applied migrations")?;
    anyhow::ensure!(
        pending.is_empty(),
        "the database's schema is older than this version of notes-appliance ({} migration(s) pending): \
         run `notes-appliance migrate up` first",
        pending.len()
    );
    Ok(())
}

pub async fn backup(out: Option<&Path>, config: &Config) -> anyhow::Result<ExitCode> {
    let db = open_existing(config).await?;
    let result = async {
        if db.sqlite_path().is_none() {
            ensure_current(&db).await?;
        }
        let path = match out {
            Some(path) => path.to_owned(),
            None => {
                crate::ops::files::create_dir(&config.backups.dir)
                    .with_context(|| format!("cannot create {}", config.backups.dir.display()))?;
                backups::default_path(&db, &config.backups.dir)
            }
        };
        backups::write(&db, &path).await?;
        Ok::<_, anyhow::Error>(path)
    }
    .await;
    db.close().await;
    let path = result?;
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or_default();
    tracing::info!(file = %path.display(), bytes, "backup written and checked");
    println!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}

pub async fn export(out: Option<&Path>, config: &Config) -> anyhow::Result<ExitCode> {
    let db = open_existing(config).await?;
    let result = async {
        ensure_current(&db).await?;
        match out {
            Some(path) => backups::export_to_file(&db, path).await,
            None => {
                let stdout = std::io::stdout().lock();
                let (counts, mut out) = backups::export(&db, std::io::BufWriter::new(stdout)).await?;
                out.flush().context("cannot write to standard output")?;
                Ok(counts)
            }
        }
    }
    .await;
    db.close().await;
    let counts = result?;
    tracing::info!(%counts, "exported");
    if let Some(path) = out {
        eprintln!("exported {counts} to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn restore(file: &Path, config: &Config) -> anyhow::Result<ExitCode> {
    let db = super::open_db(config).await?;
    let result = restores::restore(&db, file, &config.backups.dir).await;
    db.close().await;
    let outcome = result.with_context(|| format!("nothing was restored from {}", file.display()))?;
    println!("restored {} from {}", outcome.counts, file.display());
    if let Some(previous) = outcome.previous {
        println!("the content it replaced is backed up in {}", previous.path.display());
    }
    println!("everyone must log in again: sessions end with a restore");
    Ok(ExitCode::SUCCESS)
}

pub async fn import(file: &Path, config: &Config) -> anyhow::Result<ExitCode> {
    let db = super::open_db(config).await?;
    let result = restores::import(&db, file, &config.backups.dir).await;
    db.close().await;
    let outcome = result.with_context(|| format!("nothing was imported from {}", file.display()))?;
    println!("imported {} from {}", outcome.counts, file.display());
    Ok(ExitCode::SUCCESS)
}
