use std::net::SocketAddr;

use rocket::http::{ContentType, Header, Method, Status};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use notes_appliance::entity::session;
use notes_appliance::store;
use notes_appliance::store::users::Account;

use crate::helpers::*;

fn sha256_hex(value: &str) -> String {
    Sha256::digest(value.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

both_backends!(
    async fn logging_in_sets_a_host_prefixed_cookie_and_stores_only_its_hash(app) {
        app.account("alice", false).await;
        let reply = app.log_in("Alice", PASSWORD).await;
        assert_eq!(reply.status, Status::Ok, "{}", reply.body);
        let json = reply.json();
        assert_eq!(json["user"]["username"], "alice");
        assert_eq!(json["user"]["is_admin"], false);
        let set_cookie = reply.header("Set-Cookie").unwrap();
        assert!(set_cookie.starts_with("__Host-notes_session="), "{set_cookie}");
        for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=2592000"] {
            assert!(set_cookie.split("; ").any(|a| a == attribute), "{attribute} in {set_cookie}");
        }
        assert!(!set_cookie.contains("Domain"), "{set_cookie}");

        let browser = reply.browser();
        assert_eq!(browser.cookie.len(), 43);
        let stored = app.query_strings("SELECT secret_hash FROM sessions").await;
        assert_eq!(stored, [sha256_hex(&browser.cookie)], "only the secret's SHA-256 is stored");
        assert_ne!(browser.csrf, browser.cookie);
    }
);

both_backends!(
    async fn a_session_reads_only_its_owners_notes_and_tells_who_is_logged_in(app) {
        app.account("alice", false).await;
        let bob = app.user("bob").await;
        app.create_note(&bob, "bob's secret", "").await;
        let alice = app.browser("alice").await;

        let created = app.with_session(Method::Post, "/api/notes", &alice, true, Some(r#"{"title":"alice's"}"#)).await;
        assert_eq!(created.status, Status::Created, "{}", created.body);
        let listed = app.with_session(Method::Get, "/api/notes", &alice, false, None).await;
        assert_eq!(listed.status, Status::Ok);
        let titles: Vec<_> = listed.json().as_array().unwrap().iter().map(|n| n["title"].clone()).collect();
        assert_eq!(titles, ["alice's"]);

        let current = app.with_session(Method::Get, "/api/session", &alice, false, None).await;
        assert_eq!(current.status, Status::Ok);
        assert_eq!(current.json()["user"]["username"], "alice");
        assert_eq!(current.json()["csrf_token"], alice.csrf.as_str());
        let me = app.with_session(Method::Get, "/api/me", &alice, false, None).await;
        assert_eq!(me.json()["username"], "alice");
        let me = app.get("/api/me", &bob).await;
        assert_eq!(me.json()["username"], "bob");
    }
);

both_backends!(
    async fn an_unknown_user_and_a_wrong_password_get_the_same_answer(app) {
        app.account("alice", false).await;
        let wrong_password = app.log_in("alice", "not the password").await;
        let unknown_user = app.log_in("mallory", "not the password").await;
        let impossible_name = app.log_in("no such name!", "not the password").await;
        for reply in [&wrong_password, &unknown_user, &impossible_name] {
            reply.assert_error(Status::Unauthorized, "unauthorized");
            assert_eq!(reply.body, wrong_password.body);
            assert!(reply.header("Set-Cookie").is_none());
        }
        assert_eq!(app.count("sessions").await, 0);
    }
);

both_backends!(
    async fn malformed_logins_are_refused_with_clear_errors(app) {
        let send = |body: &'static str| async move {
            let request = app.client.post("/api/session").header(ContentType::JSON).body(body);
            Reply::from(request.dispatch().await).await
        };
        send("{").await.assert_error(Status::BadRequest, "bad_request");
        send(r#"{"username": 1, "password": "x"}"#).await.assert_error(Status::UnprocessableEntity, "invalid");
        send(r#"{"username": "alice"}"#).await.assert_error(Status::UnprocessableEntity, "invalid");
        let long = format!(r#"{{"username": "alice", "password": "{}"}}"#, "x".repeat(1025));
        let request = app.client.post("/api/session").header(ContentType::JSON).body(long);
        Reply::from(request.dispatch().await).await.assert_error(Status::UnprocessableEntity, "invalid");
    }
);

both_backends!(
    async fn a_cookie_request_that_changes_something_needs_the_csrf_token(app) {
        app.account("alice", false).await;
        let alice = app.browser("alice").await;
        let note = app.with_session(Method::Post, "/api/notes", &alice, true, Some(r#"{"title":"kept"}"#)).await;
        let path = format!("/api/notes/{}", note.json()["id"]);

        let without = app.with_session(Method::Post, "/api/notes", &alice, false, Some(r#"{"title":"x"}"#)).await;
        without.assert_error(Status::Forbidden, "csrf");
        for (method, body) in [(Method::Patch, Some(r#"{"title":"changed"}"#)), (Method::Put, Some(r#"{"title":"changed"}"#)), (Method::Delete, None)] {
            app.with_session(method, &path, &alice, false, body).await.assert_error(Status::Forbidden, "csrf");
        }
        let wrong = Browser { csrf: "A".repeat(43), ..alice.clone() };
        app.with_session(Method::Delete, &path, &wrong, true, None).await.assert_error(Status::Forbidden, "csrf");
        app.with_session(Method::Delete, "/api/session", &wrong, true, None).await.assert_error(Status::Forbidden, "csrf");

        assert_eq!(app.count("notes").await, 1);
        assert_eq!(app.with_session(Method::Get, &path, &alice, false, None).await.json()["title"], "kept");
        assert_eq!(app.count("sessions").await, 1, "a forged logout did not log out");
    }
);

both_backends!(
    async fn a_cookie_request_from_another_site_is_refused_even_with_the_token(app) {
        app.account("alice", false).await;
        let alice = app.browser("alice").await;
        let send = |headers: Vec<Header<'static>>| {
            let alice = alice.clone();
            async move {
                let mut request = app
                    .client
                    .post("/api/notes")
                    .cookie((SESSION_COOKIE, alice.cookie.clone()))
                    .header(Header::new("X-CSRF-Token", alice.csrf.clone()))
                    .header(Header::new("Host", "notes.example"))
                    .header(ContentType::JSON)
                    .body(r#"{"title":"x"}"#);
                for header in headers {
                    request = request.header(header);
                }
                Reply::from(request.dispatch().await).await
            }
        };
        for headers in [
            vec![Header::new("Sec-Fetch-Site", "cross-site")],
            vec![Header::new("Sec-Fetch-Site", "same-site")],
            vec![Header::new("Origin", "https://evil.example")],
            vec![Header::new("Origin", "http://notes.example")],
            vec![Header::new("Origin", "null")],
        ] {
            send(headers.clone()).await.assert_error(Status::Forbidden, "csrf");
        }
        assert_eq!(app.count("notes").await, 0);
        let same_origin = send(vec![Header::new("Sec-Fetch-Site", "same-origin"), Header::new("Origin", "https://notes.example")]).await;
        assert_eq!(same_origin.status, Status::Created, "{}", same_origin.body);
        // A client that is not a browser sends neither header.
        assert_eq!(send(vec![]).await.status, Status::Created);
    }
);

both_backends!(
    async fn bearer_requests_need_no_csrf_token_and_win_over_a_cookie(app) {
        let bob = app.user("bob").await;
        app.account("alice", false).await;
        let alice = app.browser("alice").await;
        let request = app
            .client
            .post("/api/notes")
            .header(bearer(&bob.token))
            .cookie((SESSION_COOKIE, alice.cookie.clone()))
            .header(ContentType::JSON)
            .body(r#"{"title":"bob's"}"#);
        let reply = Reply::from(request.dispatch().await).await;
        assert_eq!(reply.status, Status::Created, "{}", reply.body);
        assert_eq!(app.get("/api/notes", &bob).await.json()[0]["title"], "bob's");
        let alices = app.with_session(Method::Get, "/api/notes", &alice, false, None).await;
        assert_eq!(alices.json().as_array().unwrap().len(), 0);
    }
);

both_backends!(
    async fn logging_in_from_another_sites_page_is_refused(app) {
        app.account("alice", false).await;
        for header in [Header::new("Sec-Fetch-Site", "cross-site"), Header::new("Origin", "https://evil.example")] {
            let request = app
                .client
                .post("/api/session")
                .header(ContentType::JSON)
                .header(header)
                .body(format!(r#"{{"username":"alice","password":"{PASSWORD}"}}"#));
            Reply::from(request.dispatch().await).await.assert_error(Status::Forbidden, "csrf");
        }
        // A form post (what another site can send without asking) is not JSON.
        let form = app
            .client
            .post("/api/session")
            .header(ContentType::Form)
            .body(format!("username=alice&password={PASSWORD}"));
        assert_eq!(Reply::from(form.dispatch().await).await.status, Status::UnsupportedMediaType);
        assert_eq!(app.count("sessions").await, 0);
    }
);

both_backends!(
    async fn logging_out_ends_the_session_on_the_server(app) {
        let id = app.account("alice", false).await;
        let alice = app.browser("alice").await;
        let other = app.browser("alice").await;

        let reply = app.with_session(Method::Delete, "/api/session", &alice, true, None).await;
        assert_eq!(reply.status, Status::NoContent, "{}", reply.body);
        let removal = reply.header("Set-Cookie").unwrap();
        assert!(removal.starts_with("__Host-notes_session=;") && removal.contains("Max-Age=0"), "{removal}");

        let after = app.with_session(Method::Get, "/api/notes", &alice, false, None).await;
        after.assert_error(Status::Unauthorized, "unauthorized");
        assert_eq!(app.sessions_of(id).await, 1, "only that session ended");
        assert_eq!(app.with_session(Method::Get, "/api/notes", &other, false, None).await.status, Status::Ok);
    }
);

both_backends!(
    async fn a_garbage_or_unknown_session_cookie_is_401(app) {
        app.account("alice", false).await;
        for value in ["", "garbage", &"A".repeat(43), "../../etc/passwd"] {
            let browser = Browser { cookie: value.to_owned(), csrf: String::new() };
            app.with_session(Method::Get, "/api/notes", &browser, false, None)
                .await
                .assert_error(Status::Unauthorized, "unauthorized");
        }
    }
);

both_backends!(
    async fn an_expired_or_idle_session_is_refused(app) {
        app.account("alice", false).await;
        let expired = app.browser("alice").await;
        let idle = app.browser("alice").await;
        let now = OffsetDateTime::now_utc();
        let age = |browser: &Browser, column: session::Column, at: OffsetDateTime| {
            session::Entity::update_many()
                .col_expr(column, Expr::value(at))
                .filter(session::Column::SecretHash.eq(sha256_hex(&browser.cookie)))
                .exec(app.db.admin())
        };
        age(&expired, session::Column::ExpiresAt, now - Duration::seconds(1)).await.unwrap();
        age(&idle, session::Column::LastSeenAt, now - Duration::days(7) - Duration::seconds(1)).await.unwrap();

        for browser in [&expired, &idle] {
            app.with_session(Method::Get, "/api/notes", browser, false, None)
                .await
                .assert_error(Status::Unauthorized, "unauthorized");
        }
        assert_eq!(store::sessions::purge_expired(&app.db).await.unwrap(), 2);
        assert_eq!(app.count("sessions").await, 0);
    }
);

both_backends!(
    async fn failed_logins_from_one_address_are_limited_with_retry_after(app) {
        app.account("alice", false).await;
        for i in 0..10 {
            let reply = app.log_in(&format!("user{i}"), "wrong password").await;
            reply.assert_error(Status::Unauthorized, "unauthorized");
        }
        let limited = app.log_in("alice", PASSWORD).await;
        limited.assert_error(Status::TooManyRequests, "too_many_requests");
        let retry: u64 = limited.header("Retry-After").unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        assert_eq!(app.count("sessions").await, 0, "not even the right password gets in meanwhile");
    }
);

both_backends!(
    async fn failed_logins_for_one_username_are_limited_across_addresses(app) {
        app.account("alice", false).await;
        app.account("bob", false).await;
        let log_in = |last: u8, username: &'static str, password: &'static str| async move {
            let request = app
                .client
                .post("/api/session")
                .remote(SocketAddr::from(([198, 51, 100, last], 40000)))
                .header(ContentType::JSON)
                .body(serde_json::json!({ "username": username, "password": password }).to_string());
            Reply::from(request.dispatch().await).await
        };
        for i in 0..10 {
            log_in(i, "alice", "wrong password").await.assert_error(Status::Unauthorized, "unauthorized");
        }
        log_in(200, "alice", PASSWORD).await.assert_error(Status::TooManyRequests, "too_many_requests");
        assert_eq!(log_in(200, "bob", PASSWORD).await.status, Status::Ok, "other accounts are not affected");
    }
);

both_backends!(
    async fn changing_the_password_ends_the_other_sessions(app) {
        let id = app.account("alice", false).await;
        let here = app.browser("alice").await;
        let elsewhere = app.browser("alice").await;
        let change = |current: &str, new: &str| serde_json::json!({ "current_password": current, "new_password": new }).to_string();

        let wrong = app.with_session(Method::Put, "/api/me/password", &here, true, Some(&change("wrong password", "a new password"))).await;
        wrong.assert_error(Status::Forbidden, "forbidden");
        let short = app.with_session(Method::Put, "/api/me/password", &here, true, Some(&change(PASSWORD, "short"))).await;
        short.assert_error(Status::UnprocessableEntity, "invalid");
        assert_eq!(app.sessions_of(id).await, 2, "a refused change changes nothing");

        let reply = app.with_session(Method::Put, "/api/me/password", &here, true, Some(&change(PASSWORD, "a new password"))).await;
        assert_eq!(reply.status, Status::NoContent, "{}", reply.body);
        assert_eq!(app.with_session(Method::Get, "/api/notes", &here, false, None).await.status, Status::Ok);
        app.with_session(Method::Get, "/api/notes", &elsewhere, false, None).await.assert_error(Status::Unauthorized, "unauthorized");
        app.log_in("alice", PASSWORD).await.assert_error(Status::Unauthorized, "unauthorized");
        assert_eq!(app.log_in("alice", "a new password").await.status, Status::Ok);
    }
);

both_backends!(
    async fn a_password_set_or_an_account_disabled_from_the_cli_ends_its_sessions(app) {
        let id = app.account("alice", false).await;
        app.browser("alice").await;
        let name = notes_appliance::domain::Username::parse("alice").unwrap();
        let hash = notes_appliance::domain::Password::parse("another password".into()).unwrap().hash().unwrap();
        assert!(store::users::set_password(&app.db, Account::Name(name.clone()), hash, None).await.unwrap());
        assert_eq!(app.sessions_of(id).await, 0);

        let session = app.browser_with("alice", "another password").await;
        assert!(store::users::set_disabled(&app.db, Account::Name(name), true).await.unwrap());
        assert_eq!(app.sessions_of(id).await, 0);
        app.with_session(Method::Get, "/api/notes", &session, false, None).await.assert_error(Status::Unauthorized, "unauthorized");
        let refused = app.log_in("alice", "another password").await;
        refused.assert_error(Status::Unauthorized, "unauthorized");
        assert!(refused.body.contains("disabled"), "{}", refused.body);
    }
);
