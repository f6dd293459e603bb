use futures::future::join_all;
use notes_appliance::domain::{NewNote, NoteBody, NoteTitle, Password, Username};
use notes_appliance::store;
use rocket::http::Status;
use sea_orm::ConnectionTrait;

both_backends!(
    async fn concurrent_creates_all_succeed_and_are_all_stored(app) {
        let alice = app.user("alice").await;
        let replies = join_all((0..200).map(|i| {
            let body = format!(r#"{{"title":"note {i}","body":"concurrent"}}"#);
            let alice = &alice;
            async move { app.post("/api/notes", alice, &body).await }
        }))
        .await;

        let mut ids: Vec<i64> = replies
            .iter()
            .map(|r| {
                assert_eq!(r.status, Status::Created, "{}", r.body);
                r.json()["id"].as_i64().unwrap()
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 200);
        assert_eq!(app.count("notes").await, 200);
    }
);

both_backends!(
    async fn a_failing_write_does_not_take_concurrent_writes_down_with_it(app) {
        let alice = app.user("alice").await;
        let hash = Password::parse("another password".into()).unwrap().hash().unwrap();
        let name = Username::parse("dup").unwrap();
        let users = join_all((0..20).map(|_| store::users::create(&app.db, &name, hash.clone(), false)));
        let notes = join_all((0..20).map(|i| {
            let note = NewNote { title: NoteTitle::parse(&format!("n{i}")).unwrap(), body: NoteBody::default() };
            store::notes::create(&app.db, alice.id, note)
        }));

        let (users, notes) = tokio::join!(users, notes);

        assert_eq!(users.iter().filter(|r| r.is_ok()).count(), 1, "one user named dup");
        for failed in users.iter().filter_map(|r| r.as_ref().err()) {
            assert!(
                matches!(failed.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))),
                "a duplicate is reported as such: {failed}"
            );
        }
        assert!(notes.iter().all(Result::is_ok));
        assert_eq!(app.count("notes").await, 20);
        assert_eq!(app.count("users").await, 2);
    }
);

both_backends!(
    async fn writes_after_close_fail_instead_of_hanging(app) {
        let alice = app.user("alice").await;
        app.db.close().await;
        let note = NewNote { title: NoteTitle::parse("late").unwrap(), body: NoteBody::default() };
        let result = tokio::time::timeout(std::time::Duration::from_secs(10), store::notes::create(&app.db, alice.id, note)).await;
        assert!(result.expect("no hang").is_err());
    }
);

both_backends!(
    async fn a_write_is_acknowledged_exactly_when_it_was_committed_even_next_to_a_broken_one(app) {
        let alice = app.user("alice").await;
        let good = (0..60).map(|i| {
            let note = NewNote { title: NoteTitle::parse(&format!("good {i}")).unwrap(), body: NoteBody::default() };
            let db = &app.db;
            async move { (format!("good {i}"), store::notes::create(db, alice.id, note).await.is_ok()) }
        });
        // A write that fails for a reason other than a constraint, in the
        // middle of the others.
        let broken = app.db.write(|txn| {
            Box::pin(async move { txn.execute_unprepared("INSERT INTO no_such_table VALUES (1)").await.map(|_| ()) })
        });

        let (results, broken) = tokio::join!(join_all(good), broken);

        assert!(broken.is_err());
        let stored = app.query_strings("SELECT title FROM notes").await;
        for (title, acknowledged) in results {
            assert_eq!(stored.contains(&title), acknowledged, "{title}: acknowledged {acknowledged}, stored {}", !acknowledged);
        }
    }
);
