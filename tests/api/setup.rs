use rocket::http::{ContentType, Header, Method, Status};
use sea_orm::{EntityTrait, sea_query::Expr};
use time::{Duration, OffsetDateTime};

use notes_appliance::entity::setup_token;
use notes_appliance::store;

use crate::helpers::*;

async fn claim(app: &TestApp, token: &str, username: &str, password: &str) -> Reply {
    let body = serde_json::json!({ "token": token, "username": username, "password": password }).to_string();
    let request = app
        .client
        .post("/api/setup")
        .header(ContentType::JSON)
        .header(Header::new("Sec-Fetch-Site", "same-origin"))
        .body(body);
    Reply::from(request.dispatch().await).await
}

both_backends!(
    async fn the_setup_link_creates_the_first_admin_once_and_logs_them_in(app) {
        let token = store::setup::create(&app.db).await.unwrap();
        let page = app.get_anonymous("/setup").await;
        assert_eq!(page.status, Status::Ok);
        assert_eq!(page.header("Content-Type"), Some("text/html; charset=utf-8"));

        let reply = claim(app, token.expose(), "Owner", PASSWORD).await;
        assert_eq!(reply.status, Status::Created, "{}", reply.body);
        assert_eq!(reply.json()["user"]["username"], "owner");
        assert_eq!(reply.json()["user"]["is_admin"], true);
        let owner = reply.browser();
        let me = app.with_session(Method::Get, "/api/me", &owner, false, None).await;
        assert_eq!(me.json()["username"], "owner");

        let again = claim(app, token.expose(), "second", PASSWORD).await;
        again.assert_error(Status::Conflict, "conflict");
        assert_eq!(app.count("users").await, 1);
        assert_eq!(app.count("setup_tokens").await, 0, "no token outlives setup");
        let gone = app.get_anonymous("/setup").await;
        assert_eq!(gone.status, Status::SeeOther);
        assert_eq!(gone.header("Location"), Some("/"));
    }
);

both_backends!(
    async fn a_wrong_malformed_or_expired_setup_token_is_refused(app) {
        let token = store::setup::create(&app.db).await.unwrap();
        let forged = "A".repeat(43);
        for wrong in ["", "garbage", forged.as_str()] {
            claim(app, wrong, "owner", PASSWORD).await.assert_error(Status::Forbidden, "forbidden");
        }
        // Bad input is refused before the token is spent.
        claim(app, token.expose(), "no spaces allowed", PASSWORD).await.assert_error(Status::UnprocessableEntity, "invalid");
        claim(app, token.expose(), "owner", "short").await.assert_error(Status::UnprocessableEntity, "invalid");
        assert_eq!(app.count("users").await, 0);

        setup_token::Entity::update_many()
            .col_expr(setup_token::Column::ExpiresAt, Expr::value(OffsetDateTime::now_utc() - Duration::seconds(1)))
            .exec(app.db.admin())
            .await
            .unwrap();
        let expired = claim(app, token.expose(), "owner", PASSWORD).await;
        expired.assert_error(Status::Forbidden, "forbidden");
        assert!(expired.body.contains("restart"), "{}", expired.body);
        assert_eq!(app.count("users").await, 0);
        assert_eq!(app.get_anonymous("/setup").await.status, Status::Ok, "setup stays open");
    }
);

both_backends!(
    async fn setup_is_closed_once_an_account_exists(app) {
        let token = store::setup::create(&app.db).await.unwrap();
        app.account("made-with-the-cli", true).await;
        claim(app, token.expose(), "owner", PASSWORD).await.assert_error(Status::Conflict, "conflict");
        assert_eq!(app.count("users").await, 1);
        assert_eq!(app.get_anonymous("/setup").await.status, Status::SeeOther);
    }
);

both_backends!(
    async fn racing_claims_create_exactly_one_account(app) {
        // Two boots (or two instances) each logged a link.
        let first = store::setup::create(&app.db).await.unwrap();
        let second = store::setup::create(&app.db).await.unwrap();
        let claims = (0..6).map(|i| {
            let token = if i % 2 == 0 { first.expose() } else { second.expose() };
            claim(app, token, Box::leak(format!("owner{i}").into_boxed_str()), PASSWORD)
        });
        let replies = futures::future::join_all(claims).await;
        let created = replies.iter().filter(|r| r.status == Status::Created).count();
        assert_eq!(created, 1, "{replies:?}");
        assert!(replies.iter().all(|r| matches!(r.status.code, 201 | 403 | 409)), "{replies:?}");
        assert_eq!(app.count("users").await, 1);
    }
);

both_backends!(
    async fn setup_from_another_sites_page_is_refused(app) {
        let token = store::setup::create(&app.db).await.unwrap();
        let body = serde_json::json!({ "token": token.expose(), "username": "owner", "password": PASSWORD }).to_string();
        let request = app
            .client
            .post("/api/setup")
            .header(ContentType::JSON)
            .header(Header::new("Origin", "https://evil.example"))
            .body(body);
        Reply::from(request.dispatch().await).await.assert_error(Status::Forbidden, "csrf");
        assert_eq!(app.count("users").await, 0);
    }
);
