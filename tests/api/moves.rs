use notes_appliance::db::Db;
use notes_appliance::ops::portable::Record;
use notes_appliance::ops::transfer::DbReader;
use notes_appliance::ops::{backup, restore};
use rocket::http::Status;
use serde_json::Value;

use crate::helpers::*;

/// Every record of a database, as an export would hold them.
pub async fn records(db: &Db) -> Vec<Record> {
    let mut reader = DbReader::begin(db).await.unwrap();
    let mut records = Vec::new();
    while let Some(record) = reader.next_record().await.unwrap() {
        records.push(record);
    }
    reader.finish().await.unwrap();
    records
}

/// Waits until every token's first use is recorded: a write nobody waits
/// for, which must not land while a test compares (later uses within a
/// minute are not recorded). Every token must have been used.
pub async fn settle(app: &TestApp) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let used =
            records(&app.db).await.iter().all(|r| !matches!(r, Record::Token(t) if t.last_used_at.is_none()));
        if used {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the tokens' last use was never recorded");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Two users with tokens, an admin, notes in English and Korean, and a gap
/// in the ids where a note was deleted.
async fn populate(app: &TestApp) -> (TestUser, TestUser) {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.account("root", true).await;
    app.create_note(&alice, "Deployment checklist", "deploy the release; 배포를 준비한다").await;
    let gone = app.create_note(&alice, "Scratch", "to be deleted").await;
    app.create_note(&alice, "Meeting notes", "meetings on Tuesday\nline two \"quoted\"").await;
    app.create_note(&bob, "Bob's deployment", "bob deploys too").await;
    let reply = app.delete(&format!("/api/notes/{}", gone["id"]), &alice).await;
    assert_eq!(reply.status, Status::NoContent);
    settle(app).await;
    (alice, bob)
}

async fn search_ids(app: &TestApp, user: &TestUser, query: &str) -> Vec<i64> {
    let reply = app.get(&format!("/api/notes?q={query}"), user).await;
    assert_eq!(reply.status, Status::Ok, "{}", reply.body);
    let mut ids: Vec<i64> =
        reply.json().as_array().unwrap().iter().map(|n| n["id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    ids
}

/// Moves everything from `from` into the empty `to` through an export file.
async fn export_import(from: &TestApp, to: &TestApp) {
    let file = from.store.dir.path().join(format!("export-{}.jsonl", records(&from.db).await.len()));
    let _ = std::fs::remove_file(&file);
    backup::export_to_file(&from.db, &file).await.unwrap();
    let outcome = restore::import(&to.db, &file, to.store.dir.path()).await.unwrap();
    let notes = records(&from.db).await.iter().filter(|r| matches!(r, Record::Note(_))).count();
    assert_eq!((outcome.counts.users, outcome.counts.tokens, outcome.counts.notes), (3, 2, notes as u64));
}

async fn assert_same_installation(original: &TestApp, copy: &TestApp, alice: &TestUser, bob: &TestUser) {
    let rows = records(&original.db).await;
    assert!(rows.len() >= 3 + 2 + 3, "three users, two tokens, three notes or more: {rows:?}");
    assert_eq!(records(&copy.db).await, rows, "every row, with ids and timestamps");
    for query in ["deploy", "%EB%B0%B0%ED%8F%AC", "meeting", "Tuesday"] {
        let expected = search_ids(original, alice, query).await;
        assert!(!expected.is_empty(), "{query} finds something");
        assert_eq!(search_ids(copy, alice, query).await, expected, "search for {query}");
    }
    assert_eq!(search_ids(copy, bob, "deploy").await.len(), 1, "bob still sees only his note");
    // The password hash came along: alice can log in with her password.
    assert_eq!(copy.log_in("alice", "correct horse battery").await.status, Status::Ok);
    // New ids never collide with the ones that came along.
    let max =
        rows.iter().filter_map(|r| if let Record::Note(n) = r { Some(n.id) } else { None }).max().unwrap();
    let fresh = copy.create_note(alice, "After the move", "").await;
    assert!(fresh["id"].as_i64().unwrap() > max, "{fresh} after {max}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_and_back() {
    let Some(postgres) = TestApp::spawn(Backend::Postgres).await else { return };
    let sqlite = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (alice, bob) = populate(&sqlite).await;

    export_import(&sqlite, &postgres).await;
    assert_same_installation(&sqlite, &postgres, &alice, &bob).await;

    let back = TestApp::spawn(Backend::Sqlite).await.unwrap();
    export_import(&postgres, &back).await;
    assert_same_installation(&postgres, &back, &alice, &bob).await;

    // A SQLite backup (a database file, not an export) goes into PostgreSQL too.
    let backups = sqlite.store.dir.path().join("backups");
    let file = backup::take(&sqlite.db, notes_appliance::ops::files::Kind::Manual, &backups).await.unwrap();
    assert!(std::fs::read(&file.path).unwrap().starts_with(b"SQLite format 3\0"));
    let from_file = TestApp::spawn(Backend::Postgres).await.unwrap();
    restore::import(&from_file.db, &file.path, from_file.store.dir.path()).await.unwrap();
    assert_eq!(records(&from_file.db).await, records(&sqlite.db).await);

    for app in [sqlite, postgres, back, from_file] {
        app.teardown().await;
    }
}

both_backends!(
    async fn a_damaged_export_is_refused_and_changes_nothing(app) {
        let (alice, _) = populate(app).await;
        let file = app.store.dir.path().join("good.jsonl");
        backup::export_to_file(&app.db, &file).await.unwrap();
        let good = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = good.lines().collect();
        let before = records(&app.db).await;

        let variants: Vec<(&str, String, &str)> = vec![
            ("no-end.jsonl", lines[..lines.len() - 1].join("\n") + "\n", "truncated"),
            ("cut.jsonl", good[..good.len() * 2 / 3].to_owned(), "truncated"),
            ("changed.jsonl", good.replacen("meetings on Tuesday", "meetings on Thursday", 1), "checksum"),
            ("extra.jsonl", format!("{good}{}\n", lines[1]), "after the `end` line"),
            ("foreign.jsonl", "{\"notes\": []}\n".to_owned(), "not a notes-appliance export"),
            ("empty.jsonl", String::new(), "is empty"),
        ];
        for (name, contents, expected) in variants {
            let path = app.store.dir.path().join(name);
            std::fs::write(&path, contents).unwrap();
            let error = format!("{:#}", restore::restore(&app.db, &path, app.store.dir.path()).await.unwrap_err());
            assert!(error.contains(expected), "{name}: {error}");
            assert_eq!(records(&app.db).await, before, "{name} changed nothing");
        }
        assert!(
            !std::fs::read_dir(app.store.dir.path()).unwrap().any(|e| {
                e.unwrap().file_name().to_string_lossy().starts_with("pre-restore")
            }),
            "a refused file is refused before the current content is backed up"
        );
        assert_eq!(app.get("/api/notes", &alice).await.json().as_array().unwrap().len(), 2);

        // Into an empty installation, a damaged file leaves it empty.
        let empty = TestApp::spawn(app.backend()).await.unwrap();
        let path = app.store.dir.path().join("no-end.jsonl");
        assert!(restore::import(&empty.db, &path, empty.store.dir.path()).await.is_err());
        assert!(records(&empty.db).await.is_empty());
        empty.teardown().await;
    }
);

both_backends!(
    async fn restore_replaces_the_content_and_keeps_what_it_replaced(app) {
        let (alice, _) = populate(app).await;
        let before = records(&app.db).await;
        let backups = app.store.dir.path().join("backups");
        let taken = backup::take(&app.db, notes_appliance::ops::files::Kind::Manual, &backups).await.unwrap();
        let later = app.create_note(&alice, "Written after the backup", "").await;
        let browser = app.browser("alice").await;

        let outcome = restore::restore(&app.db, &taken.path, &backups).await.unwrap();

        assert_eq!(records(&app.db).await, before, "exactly the content of the backup");
        assert_eq!(app.get(&format!("/api/notes/{}", later["id"]), &alice).await.status, Status::NotFound);
        let previous = outcome.previous.expect("the replaced content was backed up");
        let replaced = TestApp::spawn(app.backend()).await.unwrap();
        restore::import(&replaced.db, &previous.path, replaced.store.dir.path()).await.unwrap();
        let titles: Vec<Value> = replaced.get("/api/notes", &alice).await.json().as_array().unwrap().iter().map(|n| n["title"].clone()).collect();
        assert!(titles.contains(&Value::from("Written after the backup")), "{titles:?}");
        replaced.teardown().await;
        let reply = app.with_session(rocket::http::Method::Get, "/api/me", &browser, false, None).await;
        assert_eq!(reply.status, Status::Unauthorized, "sessions end with a restore");
        // A second restore of the same file gives the same content again.
        restore::restore(&app.db, &taken.path, &backups).await.unwrap();
        assert_eq!(records(&app.db).await, before);
    }
);
