//! Backup files in a directory: their names (`<kind>-<UTC time>.<db|jsonl>`),
//! finding them again, and keeping only the newest of a kind.
//!
//! A backup is written under a hidden temporary name, checked, synced and
//! only then renamed: every file with a backup's name is a good backup.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;

/// Why a backup was taken; the prefix of its file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `notes-appliance backup`.
    Manual,
    /// Taken by the server every `notes.backup_interval`; rotated.
    Scheduled,
    /// Taken by the server before a migration changes the schema.
    PreMigrate,
    /// Taken by `restore` before it replaces the database's content.
    PreRestore,
}

impl Kind {
    const ALL: [Self; 4] = [Self::Manual, Self::Scheduled, Self::PreMigrate, Self::PreRestore];

    fn prefix(self) -> &'static str {
        match self {
            Self::Manual => "backup",
            Self::Scheduled => "scheduled",
            Self::PreMigrate => "pre-migrate",
            Self::PreRestore => "pre-restore",
        }
    }
}

/// What a backup file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A copy of a SQLite database (`.db`).
    Sqlite,
    /// A portable export, see [`super::portable`] (`.jsonl`).
    Portable,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Self::Sqlite => "db",
            Self::Portable => "jsonl",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupFile {
    pub path: PathBuf,
    pub kind: Kind,
    pub taken_at: OffsetDateTime,
}

fn timestamp_format() -> Vec<BorrowedFormatItem<'static>> {
    // A constant, known-good description: parsing it cannot fail.
    time::format_description::parse_borrowed::<2>(
        "[year][month][day]T[hour][minute][second].[subsecond digits:3]Z",
    )
    .unwrap_or_default()
}

/// The file name for a backup of `kind` taken at `at`.
pub fn name(kind: Kind, format: Format, at: OffsetDateTime) -> String {
    let stamp = at.format(&timestamp_format()).unwrap_or_else(|_| at.unix_timestamp().to_string());
    format!("{}-{stamp}.{}", kind.prefix(), format.extension())
}

/// Reads a backup's kind and time from its file name.
pub fn parse(path: &Path) -> Option<BackupFile> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".db").or_else(|| name.strip_suffix(".jsonl"))?;
    Kind::ALL.iter().find_map(|&kind| {
        let stamp = stem.strip_prefix(kind.prefix())?.strip_prefix('-')?;
        let taken_at = time::PrimitiveDateTime::parse(stamp, &timestamp_format()).ok()?.assume_utc();
        Some(BackupFile { path: path.to_owned(), kind, taken_at })
    })
}

/// The backups in `dir`, oldest first; a missing directory has none.
pub fn list(dir: &Path) -> io::Result<Vec<BackupFile>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_file()
            && let Some(backup) = parse(&entry.path())
        {
            found.push(backup);
        }
    }
    found.sort_by_key(|b| b.taken_at);
    Ok(found)
}

/// Deletes all but the newest `keep` backups of `kind` in `dir`; returns
/// what it deleted.
pub fn rotate(dir: &Path, kind: Kind, keep: usize) -> io::Result<Vec<PathBuf>> {
    let of_kind: Vec<BackupFile> = list(dir)?.into_iter().filter(|b| b.kind == kind).collect();
    let excess = of_kind.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for backup in of_kind.into_iter().take(excess) {
        fs::remove_file(&backup.path)?;
        removed.push(backup.path);
    }
    Ok(removed)
}

/// Creates the backup directory (owner-only) if it does not exist.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Makes a finished file durable under its final name: syncs it, renames
/// it (never over an existing file) and syncs the directory.
pub fn publish(temporary: &Path, destination: &Path) -> io::Result<()> {
    fs::File::open(temporary)?.sync_all()?;
    // A hard link fails if the destination exists, where a rename would
    // replace it silently.
    fs::hard_link(temporary, destination)?;
    fs::remove_file(temporary)?;
    if let Some(parent) = destination.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// A hidden temporary path beside `destination`, removed on drop unless
/// it was published.
pub struct Temporary(PathBuf);

impl Temporary {
    pub fn beside(destination: &Path) -> Self {
        let name = destination.file_name().and_then(|n| n.to_str()).unwrap_or("backup");
        let path = destination.with_file_name(format!(".{name}.{}.partial", std::process::id()));
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_time() -> OffsetDateTime {
        time::Date::from_calendar_date(2026, time::Month::November, 22)
            .unwrap()
            .with_hms_milli(10, 15, 0, 123)
            .unwrap()
            .assume_utc()
    }

    #[test]
    fn names_parse_back() {
        let at = sample_time();
        for kind in Kind::ALL {
            for format in [Format::Sqlite, Format::Portable] {
                let name = name(kind, format, at);
                let parsed = parse(Path::new(&name)).unwrap();
                assert_eq!((parsed.kind, parsed.taken_at), (kind, at), "{name}");
            }
        }
        assert_eq!(name(Kind::Scheduled, Format::Sqlite, at), "scheduled-20261122T101500.123Z.db");
        assert!(parse(Path::new("notes.db")).is_none());
        assert!(parse(Path::new(".scheduled-20261122T101500.123Z.db.1.partial")).is_none());
    }

    #[test]
    fn rotation_keeps_the_newest_of_a_kind() {
        let dir = tempfile::tempdir().unwrap();
        let start = sample_time();
        for i in 0..5 {
            let at = start + time::Duration::minutes(i);
            fs::write(dir.path().join(name(Kind::Scheduled, Format::Sqlite, at)), b"x").unwrap();
        }
        fs::write(dir.path().join(name(Kind::Manual, Format::Sqlite, start)), b"x").unwrap();
        let removed = rotate(dir.path(), Kind::Scheduled, 2).unwrap();
        assert_eq!(removed.len(), 3);
        let left: Vec<_> = list(dir.path()).unwrap().into_iter().map(|b| (b.kind, b.taken_at)).collect();
        assert_eq!(
            left,
            [
                (Kind::Manual, start),
                (Kind::Scheduled, start + time::Duration::minutes(3)),
                (Kind::Scheduled, start + time::Duration::minutes(4)),
            ]
        );
    }
}
