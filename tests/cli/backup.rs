//! `backup` and `restore` as an operator uses them: a backup taken while a
//! client keeps writing restores to exactly what had been written when it
//! was taken; a damaged file is refused before anything changes; the
//! server's schedule keeps the newest backups and reports them in `/readyz`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use crate::support::*;

/// The first bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";
/// How a portable export begins.
const EXPORT_HEADER: &str = r#"{"format":"notes-appliance-export","version":1"#;

fn is_sqlite(sandbox: &Sandbox) -> bool {
    sandbox.database_url.starts_with("sqlite:")
}

fn backup_dir(sandbox: &Sandbox) -> PathBuf {
    sandbox.path().join("data/backups")
}

/// The names in `dir`, sorted (none if it does not exist).
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().file_name().into_string().unwrap()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("cannot list {}: {e}", dir.display()),
    };
    names.sort();
    names
}

/// Polls `done` until it holds; fails after `timeout`.
#[track_caller]
fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "waited {timeout:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every note `token` can see, following the `Link: <...>; rel="next"` pages.
fn all_notes(server: &Server, token: &str) -> Vec<serde_json::Value> {
    let mut notes = Vec::new();
    let mut next = Some("/api/notes?limit=100".to_owned());
    while let Some(path) = next.take() {
        assert!(notes.len() < 100_000, "the pages do not end");
        let page = server.request("GET", &path, Some(token), None);
        assert_eq!(page.status, 200, "{page:?}");
        notes.extend(page.json().as_array().unwrap().iter().cloned());
        next = page.header("Link").map(|link| {
            assert!(link.ends_with("rel=\"next\""), "{link}");
            link[link.find('<').unwrap() + 1..link.find('>').unwrap()].to_owned()
        });
    }
    notes
}

/// The records of an `export` to standard output: every line but the
/// header and the `end` line, which carry the time of the export.
fn exported_records(sandbox: &Sandbox) -> Vec<String> {
    let export = sandbox.run(&["export"]).success();
    let lines: Vec<&str> = export.stdout.lines().collect();
    assert!(lines.len() >= 2 && lines[0].starts_with(EXPORT_HEADER), "{export:?}");
    assert!(lines[lines.len() - 1].starts_with(r#"{"type":"end""#), "{export:?}");
    lines[1..lines.len() - 1].iter().map(|l| (*l).to_owned()).collect()
}

/// Sets the flag when dropped, so that a failing test stops its writer
/// thread instead of waiting for it forever.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

fn title_of(n: usize) -> String {
    format!("n-{n:04}")
}

/// Quotes, a line break and Hangul: what must survive the round trip.
fn body_of(n: usize) -> String {
    format!("note {n}: \"quoted\"\n배포 줄 {n}")
}

both_backends!(
    fn backup_while_a_writer_inserts_then_restore(sandbox) {
        let token = sandbox.user_with_token("alice");
        let server = sandbox.serve();
        let acknowledged = &AtomicUsize::new(0);
        let stop = &AtomicBool::new(false);
        let (serving, token) = (&server, token.as_str());

        let (before, backup, after, ids) = std::thread::scope(|scope| {
            let _stop = StopOnDrop(stop);
            // Notes n-0001, n-0002, ... one after the other: note n is sent
            // only once note n-1 was acknowledged (201, so committed).
            let writer = scope.spawn(move || {
                let mut ids = Vec::new();
                while !stop.load(SeqCst) {
                    let n = ids.len() + 1;
                    let payload = serde_json::json!({ "title": title_of(n), "body": body_of(n) }).to_string();
                    let created = serving.request("POST", "/api/notes", Some(token), Some(&payload));
                    assert_eq!(created.status, 201, "note {n} while a backup may run: {created:?}");
                    ids.push(created.json()["id"].as_i64().unwrap());
                    acknowledged.store(n, SeqCst);
                }
                ids
            });
            let written = |at_least: usize| {
                assert!(!writer.is_finished(), "the writer stopped early");
                acknowledged.load(SeqCst) >= at_least
            };
            wait_until("30 acknowledged notes", Duration::from_secs(60), || written(30));
            // Every note up to `before` is committed before the backup starts.
            let before = acknowledged.load(SeqCst);
            let backup = sandbox.run(&["backup"]).success();
            // Note `after + 1` may be committed but not yet acknowledged;
            // note `after + 2` has not been sent yet.
            let after = acknowledged.load(SeqCst);
            wait_until("10 notes after the backup", Duration::from_secs(60), || written(after + 10));
            stop.store(true, SeqCst);
            (before, PathBuf::from(backup.stdout.trim()), after, writer.join().unwrap())
        });
        eprintln!(
            "{} notes written; {before} acknowledged when the backup began, {after} when it ended",
            ids.len()
        );

        let name = backup.file_name().unwrap().to_str().unwrap().to_owned();
        let extension = if is_sqlite(sandbox) { ".db" } else { ".jsonl" };
        assert!(name.starts_with("backup-") && name.ends_with(extension), "{}", backup.display());
        assert_eq!(backup.parent(), Some(backup_dir(sandbox).as_path()));
        let bytes = std::fs::read(&backup).unwrap();
        if is_sqlite(sandbox) {
            assert!(bytes.starts_with(SQLITE_MAGIC), "a SQLite file: {}", backup.display());
        } else {
            assert!(bytes.starts_with(EXPORT_HEADER.as_bytes()), "an export: {}", backup.display());
        }

        // The server keeps running; the writer has stopped.
        let backup_arg = backup.to_str().unwrap();
        let restored = sandbox.run(&["restore", backup_arg]).success();
        let counted = restored
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("restored 1 users, 1 tokens, "))
            .and_then(|rest| rest.strip_suffix(&format!(" notes from {backup_arg}")))
            .unwrap_or_else(|| panic!("{restored:#?}"));
        let previous = restored
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("the content it replaced is backed up in "))
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("{restored:#?}"));
        let previous_name = previous.file_name().unwrap().to_str().unwrap();
        assert!(previous_name.starts_with("pre-restore-"), "{restored:?}");
        assert!(previous_name.ends_with(extension), "{restored:?}");
        assert!(previous.is_file(), "{}", previous.display());

        // The token existed before the backup, so it was restored with it.
        let mut notes = all_notes(&server, token);
        notes.sort_by_key(|note| note["id"].as_i64().unwrap());
        let k = notes.len();
        assert_eq!(counted, k.to_string(), "{restored:?}");
        assert!(
            (before..=after + 1).contains(&k),
            "restored {k} notes; the backup began after note {before} and ended before note {}",
            after + 2
        );
        assert!(ids.len() > k, "notes written after the backup are gone");
        for (index, note) in notes.iter().enumerate() {
            let n = index + 1;
            assert_eq!(note["title"], title_of(n), "the titles are n-0001..=n-{k:04}, in order: {note}");
            assert_eq!(note["body"], body_of(n), "{note}");
            assert_eq!(note["id"], ids[index], "a note keeps its id: {note}");
        }

        // An id handed out before the restore is never given to a new note.
        let created =
            server.request("POST", "/api/notes", Some(token), Some(r#"{"title":"after the restore"}"#));
        assert_eq!(created.status, 201, "{created:?}");
        let id = created.json()["id"].as_i64().unwrap();
        assert!(id > *ids.iter().max().unwrap(), "new id {id}, ids given out before up to {ids:?}");
        assert_eq!(all_notes(&server, token).len(), k + 1);
        assert_eq!(server.stop("TERM"), Some(0));
    }
);

/// Text in one note only, with punctuation around it so that neither of
/// SQLite's search indexes holds it as it is: changed, it is changed in the
/// note alone, where no structural check can see it.
const MARKER: &str = "[the quokka marker]";
/// The same length, one word changed.
const MARKER_CHANGED: &str = "[the QUOKKA marker]";

/// What a restore of a damaged file must say after "nothing was restored from FILE: ".
struct Damaged {
    path: PathBuf,
    problem: &'static str,
}

/// Damaged copies of the export at `export`, in `dir`.
fn damaged_exports(export: &Path, dir: &Path) -> Vec<Damaged> {
    std::fs::create_dir_all(dir).unwrap();
    let text = std::fs::read_to_string(export).unwrap();
    assert!(text.starts_with(EXPORT_HEADER), "{text}");
    let end = text.trim_end_matches('\n').rfind('\n').unwrap() + 1;
    assert!(text[end..].starts_with(r#"{"type":"end""#), "{text}");
    assert_eq!(text.matches(MARKER).count(), 1, "{text}");
    let changed = text.replace(MARKER, MARKER_CHANGED);
    let variants = [
        ("changed.jsonl", changed, "its checksum does not match"),
        // Cut inside the last note, before the `end` line.
        ("cut.jsonl", text[..end - 10].to_owned(), "the file is truncated"),
        ("no-end-line.jsonl", text[..end].to_owned(), "the file is truncated"),
    ];
    write_variants(dir, variants)
}

/// Writes each `(file name, content, expected problem)` into `dir`.
fn write_variants<C: AsRef<[u8]>>(
    dir: &Path,
    variants: impl IntoIterator<Item = (&'static str, C, &'static str)>,
) -> Vec<Damaged> {
    variants
        .into_iter()
        .map(|(name, content, problem)| {
            let path = dir.join(name);
            std::fs::write(&path, content).unwrap();
            Damaged { path, problem }
        })
        .collect()
}

/// Damaged copies of the SQLite backup at `backup`, in `dir`.
fn damaged_sqlite_backups(backup: &Path, dir: &Path) -> Vec<Damaged> {
    std::fs::create_dir_all(dir).unwrap();
    let bytes = std::fs::read(backup).unwrap();
    assert!(bytes.starts_with(SQLITE_MAGIC));
    let mut changed = bytes.clone();
    let mut found = 0;
    for at in 0..changed.len() - MARKER.len() {
        if &changed[at..at + MARKER.len()] == MARKER.as_bytes() {
            changed[at..at + MARKER.len()].copy_from_slice(MARKER_CHANGED.as_bytes());
            found += 1;
        }
    }
    assert!(found > 0, "the marker is in the backup");
    let variants = [
        // In every copy of the text, so that no copy gives the change away
        // but the checksum sealed in the backup.
        ("changed.db", changed, "does not match the checksum"),
        ("half.db", bytes[..bytes.len() / 2].to_vec(), "is not a readable SQLite database"),
    ];
    write_variants(dir, variants)
}

both_backends!(
    fn a_corrupt_or_truncated_backup_is_refused_and_changes_nothing(sandbox) {
        let token = sandbox.user_with_token("alice");
        let server = sandbox.serve();
        for n in 1..=5 {
            let body = if n == 3 { format!("note {n} with {MARKER} in it") } else { format!("note {n}") };
            let payload = serde_json::json!({ "title": format!("note {n}"), "body": body }).to_string();
            assert_eq!(server.request("POST", "/api/notes", Some(&token), Some(&payload)).status, 201);
        }
        let backup = PathBuf::from(sandbox.run(&["backup"]).success().stdout.trim());
        let damaged_dir = sandbox.path().join("damaged");
        std::fs::create_dir(&damaged_dir).unwrap();
        let export = damaged_dir.join("export.jsonl");
        sandbox.run(&["export", "--out", export.to_str().unwrap()]).success();

        let mut variants = damaged_exports(&export, &damaged_dir.join("export"));
        if is_sqlite(sandbox) {
            variants.extend(damaged_sqlite_backups(&backup, &damaged_dir.join("backup")));
        } else {
            variants.extend(damaged_exports(&backup, &damaged_dir.join("backup")));
        }
        let empty = damaged_dir.join("empty");
        std::fs::write(&empty, b"").unwrap();
        variants.push(Damaged { path: empty, problem: "is empty" });
        // Not random: a failure must be reproducible. Never starts with `{`.
        let noise: Vec<u8> =
            (0..8192u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x80).collect();
        let random = damaged_dir.join("random.bin");
        std::fs::write(&random, noise).unwrap();
        variants.push(Damaged {
            path: random,
            problem: "is neither a notes-appliance backup (a SQLite file) nor an export",
        });
        variants.push(Damaged { path: damaged_dir.join("missing.db"), problem: "cannot open" });

        let notes_before = all_notes(&server, &token);
        let records_before = exported_records(sandbox);
        let files_before = names_in(&backup_dir(sandbox));
        for damaged in &variants {
            let path = damaged.path.to_str().unwrap();
            let refused = sandbox.run(&["restore", path]);
            let refused = refused.fails_with(1, &format!("nothing was restored from {path}: "));
            let problem = damaged.problem;
            assert!(refused.stderr.contains(problem), "{path} is refused for {problem:?}: {refused:#?}");
            assert!(refused.stdout.is_empty(), "{refused:?}");
            let files = names_in(&backup_dir(sandbox));
            assert_eq!(files, files_before, "no pre-restore backup, no leftovers: {path}");
        }
        assert_eq!(exported_records(sandbox), records_before, "the database is unchanged");
        assert_eq!(all_notes(&server, &token), notes_before);

        // The good backup it was made from is accepted.
        let restored = sandbox.run(&["restore", backup.to_str().unwrap()]).success();
        assert!(restored.stdout.contains("restored 1 users, 1 tokens, 5 notes"), "{restored:?}");
        assert_eq!(all_notes(&server, &token), notes_before);
        assert_eq!(server.stop("TERM"), Some(0));
    }
);

/// The files of the "scheduled backup written and checked" log lines, in order.
fn scheduled_in_log(log: &str) -> Vec<PathBuf> {
    log.lines()
        .filter(|l| l.contains("scheduled backup written and checked"))
        .map(|l| {
            let field =
                l.split_whitespace().find_map(|w| w.strip_prefix("backup=")).unwrap_or_else(|| panic!("{l}"));
            PathBuf::from(field.trim_matches('"'))
        })
        .collect()
}

both_backends!(
    fn scheduled_backups_rotate(sandbox) {
        sandbox.user_with_token("alice");
        sandbox.run(&["seed", "--count", "3", "--user", "alice"]).success();
        let manual = PathBuf::from(sandbox.run(&["backup"]).success().stdout.trim());
        let dir = backup_dir(sandbox);
        let extension = if is_sqlite(sandbox) { ".db" } else { ".jsonl" };

        let mut server =
            sandbox.serve_with(|c| c.env("NOTES_BACKUP_INTERVAL", "1").env("NOTES_BACKUP_KEEP", "2"));
        let taken = || scheduled_in_log(&server.log()).len();
        wait_until("4 scheduled backups", Duration::from_secs(30), || taken() >= 4);
        let ready = server.request("GET", "/readyz", None, None);
        assert_eq!(ready.status, 200, "{ready:?}");
        let reported = ready.json()["details"]["backups"].clone();
        assert_eq!(reported["status"], "ok", "{reported}");
        assert_eq!(reported["interval_seconds"], 1, "{reported}");
        assert!(reported["age_seconds"].as_u64().unwrap() <= 5, "{reported}");
        assert!(reported["taken_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{reported}");
        let newest = PathBuf::from(reported["newest"].as_str().unwrap());
        assert_eq!(newest.parent(), Some(dir.as_path()), "{reported}");
        assert!(newest.is_file(), "{reported}");
        // Stopped within moments of a backup, a second before the next:
        // none is under way.
        assert_eq!(server.terminate("TERM"), Some(0));

        let logged: Vec<String> = scheduled_in_log(&server.log())
            .iter()
            .map(|path| {
                assert_eq!(path.parent(), Some(dir.as_path()));
                path.file_name().unwrap().to_str().unwrap().to_owned()
            })
            .collect();
        assert!(logged.len() >= 4 && newest.ends_with(&logged[logged.len() - 1]), "{logged:?} {reported}");
        let names = names_in(&dir);
        let scheduled: Vec<&String> = names.iter().filter(|n| n.starts_with("scheduled-")).collect();
        let newest_two: Vec<&String> = logged[logged.len() - 2..].iter().collect();
        assert_eq!(scheduled, newest_two, "the newest two remain: {names:?}");
        assert!(scheduled.iter().all(|n| n.ends_with(extension)), "{names:?}");
        assert!(manual.is_file(), "the manual backup is not rotated: {names:?}");
        assert!(names.iter().all(|n| !n.starts_with('.')), "no partial files linger: {names:?}");

        for name in scheduled {
            let path = dir.join(name);
            let restored = sandbox.run(&["restore", path.to_str().unwrap()]).success();
            assert!(restored.stdout.contains("restored 1 users, 1 tokens, 3 notes from"), "{restored:?}");
        }
    }
);

both_backends!(
    fn readyz_reports_no_backup_yet(sandbox) {
        let backups = |server: &Server| {
            let ready = server.request("GET", "/readyz", None, None);
            assert_eq!(ready.status, 200, "{ready:?}");
            ready.json()["details"]["backups"].clone()
        };

        let server = sandbox.serve();
        let reported = backups(&server);
        assert_eq!(reported["status"], "none", "{reported}");
        assert_eq!(reported["interval_seconds"], 86400, "{reported}");
        for absent in ["newest", "taken_at", "age_seconds", "error"] {
            assert!(reported.get(absent).is_none(), "{absent}: {reported}");
        }
        assert_eq!(server.stop("TERM"), Some(0));

        for off in ["off", "0"] {
            let server = sandbox.serve_with(|c| c.env("NOTES_BACKUP_INTERVAL", off));
            let reported = backups(&server);
            assert_eq!(reported["status"], "off", "NOTES_BACKUP_INTERVAL={off}: {reported}");
            assert!(reported.get("interval_seconds").is_none(), "{reported}");
            assert_eq!(server.stop("TERM"), Some(0));
        }
        assert!(names_in(&backup_dir(sandbox)).is_empty(), "no backup was taken");
    }
);

both_backends!(
    fn backup_refuses_to_overwrite(sandbox) {
        sandbox.run(&["migrate", "up"]).success();
        let existing = sandbox.path().join("existing-file");
        std::fs::write(&existing, b"not to be lost\n").unwrap();
        let before = names_in(sandbox.path());

        let refused = sandbox.run(&["backup", "--out", existing.to_str().unwrap()]);

        let refused = refused.fails_with(1, "existing-file already exists");
        assert!(refused.stdout.is_empty(), "{refused:?}");
        assert_eq!(std::fs::read(&existing).unwrap(), b"not to be lost\n");
        assert_eq!(names_in(sandbox.path()), before, "nothing was left beside it");

        // Nor a backup by another backup.
        let first = sandbox.path().join("first-backup");
        sandbox.run(&["backup", "--out", first.to_str().unwrap()]).success();
        let taken = std::fs::read(&first).unwrap();
        sandbox.run(&["backup", "--out", first.to_str().unwrap()]).fails_with(1, "already exists");
        assert_eq!(std::fs::read(&first).unwrap(), taken);
    }
);
