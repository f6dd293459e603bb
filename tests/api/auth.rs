use rocket::http::Status;

use notes_appliance::domain::Username;
use notes_appliance::store;
use notes_appliance::store::users::Account;

use crate::helpers::*;

#[track_caller]
fn assert_unauthorized(reply: &Reply) {
    reply.assert_error(Status::Unauthorized, "unauthorized");
    assert_eq!(reply.header("WWW-Authenticate"), Some("Bearer"));
}

both_backends!(
    async fn every_notes_route_requires_a_token(app) {
        let alice = app.user("alice").await;
        let note = app.create_note(&alice, "mine", "").await;
        let path = format!("/api/notes/{}", note["id"]);
        assert_unauthorized(&app.get_anonymous("/api/notes").await);
        assert_unauthorized(&app.get_anonymous(&path).await);
        for (method, path) in [("POST", "/api/notes"), ("PATCH", path.as_str()), ("PUT", path.as_str()), ("DELETE", path.as_str())] {
            let method = method.parse().unwrap();
            let request = app.client.req(method, path.to_owned()).body(r#"{"title":"x"}"#);
            assert_unauthorized(&Reply::from(request.dispatch().await).await);
        }
        assert_eq!(app.count("notes").await, 1);
    }
);

both_backends!(
    async fn garbage_and_malformed_authorization_is_401(app) {
        let alice = app.user("alice").await;
        let forged = format!("na_{}", "A".repeat(43));
        for header in [
            "Bearer".to_owned(),
            "Bearer ".to_owned(),
            "Bearer garbage".to_owned(),
            format!("Bearer {forged}"),
            format!("Basic {}", alice.token),
            alice.token.clone(),
            format!("Bearer {}x", alice.token),
        ] {
            assert_unauthorized(&app.get_with_token("/api/notes", &header).await);
        }
        assert_eq!(app.get_with_token("/api/notes", &format!("bearer {}", alice.token)).await.status, Status::Ok);
    }
);

both_backends!(
    async fn a_revoked_token_stops_working_at_once(app) {
        let alice = app.user("alice").await;
        assert_eq!(app.get("/api/notes", &alice).await.status, Status::Ok);
        let tokens = store::tokens::list(&app.db, alice.id).await.unwrap();

        assert!(store::tokens::revoke(&app.db, alice.id, tokens[0].id).await.unwrap());

        assert_unauthorized(&app.get("/api/notes", &alice).await);
    }
);

both_backends!(
    async fn a_disabled_users_token_is_401_and_works_again_when_enabled(app) {
        let alice = app.user("alice").await;
        let name = Username::parse("alice").unwrap();

        store::users::set_disabled(&app.db, Account::Name(name.clone()), true).await.unwrap();
        let reply = app.get("/api/notes", &alice).await;
        assert_unauthorized(&reply);
        assert!(reply.body.contains("disabled"), "{}", reply.body);
        let post = app.post("/api/notes", &alice, r#"{"title":"x"}"#).await;
        assert_unauthorized(&post);

        store::users::set_disabled(&app.db, Account::Name(name.clone()), false).await.unwrap();
        assert_eq!(app.get("/api/notes", &alice).await.status, Status::Ok);
        assert_eq!(app.count("notes").await, 0);
    }
);

both_backends!(
    async fn using_a_token_records_its_last_use_and_tokens_are_stored_hashed(app) {
        let alice = app.user("alice").await;
        assert!(store::tokens::list(&app.db, alice.id).await.unwrap()[0].last_used_at.is_none());

        app.get("/api/notes", &alice).await;

        let mut last_used = None;
        for _ in 0..100 {
            last_used = store::tokens::list(&app.db, alice.id).await.unwrap()[0].last_used_at;
            if last_used.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(last_used.is_some(), "last use recorded");
        let stored = app.query_strings("SELECT token_hash FROM api_tokens").await;
        assert_eq!(stored.len(), 1);
        assert_ne!(stored[0], alice.token);
        assert!(!stored[0].contains(&alice.token[3..]), "the token is not stored in clear");
    }
);
