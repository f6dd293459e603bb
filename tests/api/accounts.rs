use rocket::http::{Method, Status};

use crate::helpers::*;

both_backends!(
    async fn an_admin_adds_lists_and_disables_accounts_through_the_api(app) {
        app.account("root", true).await;
        let admin = app.browser("root").await;
        let add = |body: &'static str| app.with_session(Method::Post, "/api/users", &admin, true, Some(body));

        let created = add(r#"{"username":"Bob","password":"bob's password"}"#).await;
        assert_eq!(created.status, Status::Created, "{}", created.body);
        assert_eq!(created.json()["username"], "bob");
        assert_eq!(created.json()["is_admin"], false);
        assert!(created.json().get("password_hash").is_none());
        add(r#"{"username":"bob","password":"another one"}"#).await.assert_error(Status::Conflict, "conflict");
        add(r#"{"username":"no way","password":"bob's password"}"#).await.assert_error(Status::UnprocessableEntity, "invalid");
        add(r#"{"username":"carol","password":"short"}"#).await.assert_error(Status::UnprocessableEntity, "invalid");
        add(r#"{"username":"carol","password":"long enough","role":"god"}"#).await.assert_error(Status::UnprocessableEntity, "invalid");
        let listed = app.with_session(Method::Get, "/api/users", &admin, false, None).await;
        let names: Vec<_> = listed.json().as_array().unwrap().iter().map(|u| u["username"].clone()).collect();
        assert_eq!(names, ["bob", "root"]);

        let bob = app.browser_with("bob", "bob's password").await;
        let path = format!("/api/users/{}", created.json()["id"]);
        let disabled = app.with_session(Method::Patch, &path, &admin, true, Some(r#"{"disabled":true}"#)).await;
        assert_eq!(disabled.status, Status::Ok, "{}", disabled.body);
        assert_eq!(disabled.json()["disabled"], true);
        app.with_session(Method::Get, "/api/notes", &bob, false, None).await.assert_error(Status::Unauthorized, "unauthorized");
        app.log_in("bob", "bob's password").await.assert_error(Status::Unauthorized, "unauthorized");

        let enabled = app.with_session(Method::Patch, &path, &admin, true, Some(r#"{"disabled":false}"#)).await;
        assert_eq!(enabled.json()["disabled"], false);
        assert_eq!(app.log_in("bob", "bob's password").await.status, Status::Ok);
    }
);

both_backends!(
    async fn an_admin_resets_a_password_and_cannot_lock_themselves_out(app) {
        let root = app.account("root", true).await;
        app.account("bob", false).await;
        let admin = app.browser("root").await;
        let bob = app.browser("bob").await;
        let bob_id = app.query_strings("SELECT id FROM users WHERE username = 'bob'").await[0].clone();
        let patch = |path: String, body: &'static str| {
            let admin = admin.clone();
            async move { app.with_session(Method::Patch, &path, &admin, true, Some(body)).await }
        };

        let reset = patch(format!("/api/users/{bob_id}"), r#"{"password":"a fresh password"}"#).await;
        assert_eq!(reset.status, Status::Ok, "{}", reset.body);
        app.with_session(Method::Get, "/api/notes", &bob, false, None).await.assert_error(Status::Unauthorized, "unauthorized");
        assert_eq!(app.log_in("bob", "a fresh password").await.status, Status::Ok);

        patch(format!("/api/users/{root}"), r#"{"disabled":true}"#).await.assert_error(Status::Conflict, "conflict");
        patch("/api/users/999999".into(), r#"{"disabled":true}"#).await.assert_error(Status::NotFound, "not_found");
        patch("/api/users/abc".into(), r#"{"disabled":true}"#).await.assert_error(Status::NotFound, "not_found");
        patch(format!("/api/users/{bob_id}"), "{}").await.assert_error(Status::UnprocessableEntity, "invalid");
        patch(format!("/api/users/{bob_id}"), r#"{"disabled":null}"#).await.assert_error(Status::UnprocessableEntity, "invalid");
        patch(format!("/api/users/{bob_id}"), r#"{"disabled":true,"password":"short"}"#)
            .await
            .assert_error(Status::UnprocessableEntity, "invalid");
        let bob_now = app.with_session(Method::Get, "/api/users", &admin, false, None).await;
        assert!(bob_now.json().as_array().unwrap().iter().all(|u| u["disabled"] == false), "a refused change changes nothing");
    }
);

both_backends!(
    async fn only_admins_manage_accounts(app) {
        app.account("root", true).await;
        let user = app.user("bob").await;
        let bob = app.browser("bob").await;
        for (method, path, body) in [
            (Method::Get, "/api/users", None),
            (Method::Post, "/api/users", Some(r#"{"username":"eve","password":"eve's password"}"#)),
            (Method::Patch, "/api/users/1", Some(r#"{"disabled":true}"#)),
        ] {
            app.with_session(method, path, &bob, true, body).await.assert_error(Status::Forbidden, "forbidden");
        }
        app.get("/api/users", &user).await.assert_error(Status::Forbidden, "forbidden");
        app.get_anonymous("/api/users").await.assert_error(Status::Unauthorized, "unauthorized");
        assert_eq!(app.count("users").await, 2);
        assert_eq!(app.query_strings("SELECT COUNT(*) FROM users WHERE disabled").await, ["0"]);
    }
);

both_backends!(
    async fn users_create_list_and_revoke_their_own_tokens(app) {
        app.account("alice", false).await;
        let bob = app.user("bob").await;
        let alice = app.browser("alice").await;

        let created = app.with_session(Method::Post, "/api/tokens", &alice, true, Some(r#"{"name":"laptop script"}"#)).await;
        assert_eq!(created.status, Status::Created, "{}", created.body);
        let json = created.json();
        let secret = json["token"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("na_"));
        assert_eq!(created.header("Location").unwrap(), format!("/api/tokens/{}", json["id"]));

        let listed = app.with_session(Method::Get, "/api/tokens", &alice, false, None).await;
        let tokens = listed.json();
        assert_eq!(tokens.as_array().unwrap().len(), 1);
        assert_eq!(tokens[0]["name"], "laptop script");
        assert!(tokens[0].get("token").is_none(), "the secret is shown once");

        let script = TestUser { id: bob.id, token: secret };
        assert_eq!(app.get("/api/me", &script).await.json()["username"], "alice");
        let path = format!("/api/tokens/{}", json["id"]);
        app.delete(&path, &bob).await.assert_error(Status::NotFound, "not_found");
        assert_eq!(app.get("/api/me", &script).await.status, Status::Ok, "bob cannot revoke alice's token");

        let revoked = app.with_session(Method::Delete, &path, &alice, true, None).await;
        assert_eq!(revoked.status, Status::NoContent);
        app.get("/api/me", &script).await.assert_error(Status::Unauthorized, "unauthorized");
        app.with_session(Method::Delete, &path, &alice, true, None).await.assert_error(Status::NotFound, "not_found");
        for bad in [r#"{"name":""}"#, r#"{"name":"x","extra":1}"#, r#"{"name":5}"#] {
            app.with_session(Method::Post, "/api/tokens", &alice, true, Some(bad)).await.assert_error(Status::UnprocessableEntity, "invalid");
        }
        let long = format!(r#"{{"name":"{}"}}"#, "x".repeat(65));
        app.with_session(Method::Post, "/api/tokens", &alice, true, Some(&long)).await.assert_error(Status::UnprocessableEntity, "invalid");
    }
);
