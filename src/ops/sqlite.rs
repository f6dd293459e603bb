//! SQLite copies: a consistent copy of a live database (`VACUUM INTO`,
//! which reads one snapshot while writers go on) and the checks a copy
//! must pass before it counts as a backup or is restored from.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use rusqlite::{Connection, OpenFlags};

use super::files::{self, Temporary};

/// The first bytes of every SQLite database file.
pub const MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Copies the database at `source` into `destination` (which must not
/// exist), checks the copy and only then gives it its name. Blocking.
pub fn snapshot(source: &Path, destination: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(source.is_file(), "there is no database at {}", source.display());
    let temporary = Temporary::beside(destination);
    {
        let connection = Connection::open_with_flags(
            source,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("cannot open {}", source.display()))?;
        connection.busy_timeout(Duration::from_secs(30))?;
        let target = temporary.path().to_str().context("the backup path is not valid UTF-8")?;
        connection.execute("VACUUM INTO ?1", [target]).with_context(|| {
            format!("cannot copy {} into {}", source.display(), temporary.path().display())
        })?;
    }
    {
        // A copy of a WAL database says WAL in its header; a backup is one
        // self-contained file.
        let copy = Connection::open_with_flags(temporary.path(), OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        copy.pragma_update(None, "journal_mode", "DELETE")?;
        seal(&copy).context("cannot record the copy's checksum")?;
    }
    check(temporary.path()).context("the copy failed its check")?;
    files::publish(temporary.path(), destination)
        .with_context(|| format!("cannot write {}", destination.display()))?;
    Ok(())
}

/// Checks a SQLite file as a notes-appliance database: readable,
/// `integrity_check` clean, no broken references; returns the migrations
/// it has applied. Blocking.
pub fn check(path: &Path) -> anyhow::Result<Vec<String>> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {}", path.display()))?;
    let problems: Vec<String> = connection
        .prepare("PRAGMA integrity_check")
        .and_then(|mut statement| statement.query_map([], |row| row.get::<_, String>(0))?.collect())
        .map_err(|e| anyhow::anyhow!("it is not a readable SQLite database: {e}"))?;
    if problems != ["ok"] {
        let shown: Vec<&str> = problems.iter().take(3).map(String::as_str).collect();
        anyhow::bail!("SQLite's integrity check failed: {}", shown.join("; "));
    }
    let broken: i64 = connection
        .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |row| row.get(0))
        .context("cannot check its references")?;
    anyhow::ensure!(broken == 0, "{broken} rows refer to rows that do not exist");
    if let Some(recorded) = recorded_digest(&connection)? {
        let actual = content_digest(&connection).context("cannot read its content")?;
        anyhow::ensure!(
            recorded == actual,
            "its content does not match the checksum recorded when it was taken: the file was changed or damaged"
        );
    }
    let applied: Vec<String> = connection
        .prepare("SELECT version FROM seaql_migrations ORDER BY version")
        .and_then(|mut statement| statement.query_map([], |row| row.get::<_, String>(0))?.collect())
        .map_err(|_| anyhow::anyhow!("it is a SQLite database, but not one of notes-appliance"))?;
    Ok(applied)
}

/// The table a backup records its checksum in. A plain copy of a database
/// file has none; it is then checked by SQLite's checks alone.
const SEAL_TABLE: &str = "notes_appliance_backup";

/// Records the SHA-256 of the copy's schema and rows in the copy itself.
fn seal(connection: &Connection) -> anyhow::Result<()> {
    let digest = content_digest(connection)?;
    connection.execute_batch(&format!(
        "CREATE TABLE {SEAL_TABLE} (content_sha256 TEXT NOT NULL, taken_at TEXT NOT NULL, app_version TEXT NOT NULL)"
    ))?;
    let taken_at = crate::store::now().format(&time::format_description::well_known::Rfc3339)?;
    connection.execute(
        &format!("INSERT INTO {SEAL_TABLE} VALUES (?1, ?2, ?3)"),
        [digest.as_str(), taken_at.as_str(), env!("CARGO_PKG_VERSION")],
    )?;
    Ok(())
}

fn recorded_digest(connection: &Connection) -> anyhow::Result<Option<String>> {
    let sealed: i64 = connection.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [SEAL_TABLE],
        |row| row.get(0),
    )?;
    if sealed == 0 {
        return Ok(None);
    }
    let digest = connection
        .query_row(&format!("SELECT content_sha256 FROM {SEAL_TABLE}"), [], |row| row.get(0))
        .context("its recorded checksum cannot be read")?;
    Ok(Some(digest))
}

/// SHA-256 over the schema and every row of every ordinary table (the
/// full-text indexes' own tables included), in a fixed order.
fn content_digest(connection: &Connection) -> anyhow::Result<String> {
    use rusqlite::types::ValueRef;
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    let mut schema = connection.prepare(
        "SELECT type, name, COALESCE(sql, '') FROM sqlite_master \
         WHERE name NOT LIKE 'sqlite_%' AND name <> ?1 ORDER BY type, name",
    )?;
    let objects: Vec<(String, String, String)> = schema
        .query_map([SEAL_TABLE], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (kind, name, sql) in &objects {
        for part in [kind, name, sql] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part.as_bytes());
        }
        if kind != "table" || sql.starts_with("CREATE VIRTUAL") {
            continue;
        }
        let quoted = name.replace('"', "\"\"");
        // Ordered by every column: some of FTS5's tables have no rowid.
        let columns = connection.prepare(&format!("SELECT * FROM \"{quoted}\" LIMIT 0"))?.column_count();
        let order: Vec<String> = (1..=columns).map(|i| i.to_string()).collect();
        let mut rows =
            connection.prepare(&format!("SELECT * FROM \"{quoted}\" ORDER BY {}", order.join(", ")))?;
        let mut cursor = rows.query([])?;
        while let Some(row) = cursor.next()? {
            for index in 0..columns {
                match row.get_ref(index)? {
                    ValueRef::Null => hash.update([0]),
                    ValueRef::Integer(i) => {
                        hash.update([1]);
                        hash.update(i.to_le_bytes());
                    }
                    ValueRef::Real(f) => {
                        hash.update([2]);
                        hash.update(f.to_le_bytes());
                    }
                    ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
                        hash.update([3]);
                        hash.update((bytes.len() as u64).to_le_bytes());
                        hash.update(bytes);
                    }
                }
            }
        }
    }
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_row_in_a_sealed_copy_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("live.db");
        let live = Connection::open(&source).unwrap();
        live.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE seaql_migrations (version TEXT PRIMARY KEY, applied_at INTEGER);
             CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
             INSERT INTO notes (body) VALUES ('the first note'), ('the second note');",
        )
        .unwrap();
        let copy = dir.path().join("copy.db");
        snapshot(&source, &copy).unwrap();
        check(&copy).unwrap();

        let mut bytes = std::fs::read(&copy).unwrap();
        let at = bytes.windows(6).position(|w| w == b"second").unwrap();
        bytes[at] = b'S';
        std::fs::write(&copy, &bytes).unwrap();
        let error = check(&copy).unwrap_err().to_string();
        assert!(error.contains("does not match the checksum"), "{error}");
    }
}
