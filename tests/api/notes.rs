use rocket::http::Status;
use serde_json::json;

use crate::helpers::*;

both_backends!(
    async fn creating_a_note_returns_201_with_location_and_stores_it(app) {
        let alice = app.user("alice").await;

        let reply = app.post("/api/notes", &alice, r#"{"title":"Groceries","body":"eggs, milk"}"#).await;

        assert_eq!(reply.status, Status::Created, "{}", reply.body);
        let note = reply.json();
        let id = note["id"].as_i64().unwrap();
        assert_eq!(reply.header("Location"), Some(format!("/api/notes/{id}").as_str()));
        assert_eq!(note["title"], "Groceries");
        assert_eq!(note["body"], "eggs, milk");
        assert_eq!(note["created_at"], note["updated_at"]);
        let stored = app.query_strings(&format!("SELECT title FROM notes WHERE id = {id}")).await;
        assert_eq!(stored, ["Groceries"]);
        let read = app.get(&format!("/api/notes/{id}"), &alice).await;
        assert_eq!(read.status, Status::Ok);
        assert_eq!(read.json(), note, "a note reads back exactly as it was returned");
    }
);

both_backends!(
    async fn a_note_without_a_body_is_an_empty_note(app) {
        let alice = app.user("alice").await;
        let reply = app.post("/api/notes", &alice, r#"{"title":"Just a title"}"#).await;
        assert_eq!(reply.status, Status::Created);
        assert_eq!(reply.json()["body"], "");
    }
);

both_backends!(
    async fn patch_changes_only_the_given_fields_and_updated_at(app) {
        let alice = app.user("alice").await;
        let note = app.create_note(&alice, "Plan", "first draft").await;
        let path = format!("/api/notes/{}", note["id"]);

        let reply = app.patch(&path, &alice, r#"{"body":"second draft"}"#).await;

        assert_eq!(reply.status, Status::Ok, "{}", reply.body);
        let updated = reply.json();
        assert_eq!(updated["title"], "Plan");
        assert_eq!(updated["body"], "second draft");
        assert_eq!(updated["created_at"], note["created_at"]);
        assert!(updated["updated_at"].as_str() > note["updated_at"].as_str());
        assert_eq!(app.get(&path, &alice).await.json(), updated);

        let retitled = app.patch(&path, &alice, r#"{"title":"Final plan"}"#).await.json();
        assert_eq!((retitled["title"].as_str(), retitled["body"].as_str()), (Some("Final plan"), Some("second draft")));
    }
);

both_backends!(
    async fn put_replaces_title_and_body(app) {
        let alice = app.user("alice").await;
        let note = app.create_note(&alice, "Old", "old body").await;
        let path = format!("/api/notes/{}", note["id"]);

        let reply = app.put(&path, &alice, r#"{"title":"New"}"#).await;

        assert_eq!(reply.status, Status::Ok, "{}", reply.body);
        assert_eq!((reply.json()["title"].as_str(), reply.json()["body"].as_str()), (Some("New"), Some("")));
    }
);

both_backends!(
    async fn deleting_a_note_answers_204_and_removes_it(app) {
        let alice = app.user("alice").await;
        let note = app.create_note(&alice, "Temporary", "").await;
        let path = format!("/api/notes/{}", note["id"]);

        let reply = app.delete(&path, &alice).await;

        assert_eq!(reply.status, Status::NoContent);
        assert_eq!(reply.body, "");
        app.get(&path, &alice).await.assert_error(Status::NotFound, "not_found");
        app.delete(&path, &alice).await.assert_error(Status::NotFound, "not_found");
        assert_eq!(app.count("notes").await, 0);
    }
);

both_backends!(
    async fn another_users_note_is_a_404_like_a_missing_one_and_stays_untouched(app) {
        let alice = app.user("alice").await;
        let mallory = app.user("mallory").await;
        let note = app.create_note(&alice, "Private", "alice's secret").await;
        let path = format!("/api/notes/{}", note["id"]);
        let missing = app.get("/api/notes/999999", &mallory).await;

        let read = app.get(&path, &mallory).await;
        let patched = app.patch(&path, &mallory, r#"{"title":"owned"}"#).await;
        let replaced = app.put(&path, &mallory, r#"{"title":"owned","body":""}"#).await;
        let deleted = app.delete(&path, &mallory).await;

        for reply in [&read, &patched, &replaced, &deleted] {
            reply.assert_error(Status::NotFound, "not_found");
            assert_eq!(reply.body, missing.body, "indistinguishable from a missing note");
        }
        assert_eq!(app.get(&path, &alice).await.json(), note);
        assert!(app.get("/api/notes", &mallory).await.json().as_array().unwrap().is_empty());
    }
);

both_backends!(
    async fn unknown_and_malformed_ids_are_404(app) {
        let alice = app.user("alice").await;
        for id in ["424242", "0", "-1", "abc", "1.5", "99999999999999999999999"] {
            app.get(&format!("/api/notes/{id}"), &alice).await.assert_error(Status::NotFound, "not_found");
            app.patch(&format!("/api/notes/{id}"), &alice, r#"{"title":"x"}"#)
                .await
                .assert_error(Status::NotFound, "not_found");
            app.delete(&format!("/api/notes/{id}"), &alice).await.assert_error(Status::NotFound, "not_found");
        }
    }
);

both_backends!(
    async fn sql_and_html_metacharacters_are_stored_and_returned_verbatim(app) {
        let alice = app.user("alice").await;
        let title = r#"'; DROP TABLE notes; -- <script>alert("x")</script> & %_\"#;
        let body = "Robert'); DELETE FROM users;--\n<img src=x onerror=alert(1)>\t\\ \"quoted\" %s {} $1 ?1";

        let note = app.create_note(&alice, title, body).await;

        assert_eq!((note["title"].as_str(), note["body"].as_str()), (Some(title), Some(body)));
        let read = app.get(&format!("/api/notes/{}", note["id"]), &alice).await.json();
        assert_eq!((read["title"].as_str(), read["body"].as_str()), (Some(title), Some(body)));
        assert_eq!(app.count("users").await, 1);
        assert_eq!(app.count("notes").await, 1);
    }
);

both_backends!(
    async fn unicode_survives_the_round_trip(app) {
        let alice = app.user("alice").await;
        let title = "가".repeat(160);
        let body = "배포를 금요일에 🚀 naïve café ∑ 𝄞";
        let note = app.create_note(&alice, &title, body).await;
        let read = app.get(&format!("/api/notes/{}", note["id"]), &alice).await.json();
        assert_eq!(read, json!({
            "id": note["id"], "title": title, "body": body,
            "created_at": note["created_at"], "updated_at": note["updated_at"],
        }));
    }
);

both_backends!(
    async fn notes_created_through_one_instance_are_seen_by_another(app) {
        let alice = app.user("alice").await;
        let note = app.create_note(&alice, "Shared", "").await;
        let other = app.another_instance().await;
        let reply =
            Reply::from(other.get(format!("/api/notes/{}", note["id"])).header(bearer(&alice.token)).dispatch().await)
                .await;
        assert_eq!(reply.status, Status::Ok);
        assert_eq!(reply.json(), note);
    }
);
