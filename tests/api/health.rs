use rocket::http::Status;
use sea_orm::ConnectionTrait;

use crate::helpers::*;

both_backends!(
    async fn healthz_answers_ok(app) {
        let reply = app.get_anonymous("/healthz").await;
        assert_eq!(reply.status, Status::Ok);
        assert_eq!(reply.json(), serde_json::json!({ "status": "ok" }));
    }
);

both_backends!(
    async fn readyz_is_200_when_every_check_passes(app) {
        let reply = app.get_anonymous("/readyz").await;
        assert_eq!(reply.status, Status::Ok, "{}", reply.body);
        let json = reply.json();
        assert_eq!(json["status"], "ready");
        for check in ["database", "migrations", "data_dir"] {
            assert_eq!(json["checks"][check]["ok"], true, "{check}: {json}");
        }
    }
);

both_backends!(
    async fn readyz_is_503_naming_a_pending_migration(app) {
        app.db.admin().execute_unprepared("DELETE FROM seaql_migrations").await.unwrap();
        let reply = app.get_anonymous("/readyz").await;
        assert_eq!(reply.status, Status::ServiceUnavailable);
        let json = reply.json();
        assert_eq!(json["status"], "unavailable");
        assert_eq!(json["checks"]["migrations"]["ok"], false);
        assert!(json["checks"]["migrations"]["error"].as_str().unwrap().contains("m20261122_000001"), "{json}");
        assert_eq!(json["checks"]["database"]["ok"], true);
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_when_the_data_directory_is_not_writable() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(probe) = TestDb::new(backend).await else { continue };
        let missing = probe.dir.path().join("gone");
        drop(probe);
        let Some(app) = TestApp::spawn_with(backend, |s| s.set("notes.data_dir", &missing)).await else {
            continue;
        };
        let reply = app.get_anonymous("/readyz").await;
        assert_eq!(reply.status, Status::ServiceUnavailable, "{backend:?}");
        assert_eq!(reply.json()["checks"]["data_dir"]["ok"], false);
        assert_eq!(reply.json()["checks"]["database"]["ok"], true);
        app.teardown().await;
    }
}

/// PostgreSQL only: a SQLite file cannot become unreachable while open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_postgresql_is_gone_readyz_and_the_api_answer_503() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else { return };
    let alice = app.user("alice").await;
    assert_eq!(app.get("/api/notes", &alice).await.status, Status::Ok);

    app.store.drop_database().await;

    let ready = app.get_anonymous("/readyz").await;
    assert_eq!(ready.status, Status::ServiceUnavailable);
    assert_eq!(ready.json()["checks"]["database"]["ok"], false);
    let reply = app.get("/api/notes", &alice).await;
    reply.assert_error(Status::ServiceUnavailable, "unavailable");
    assert!(!reply.body.contains("postgres"), "no internals in the body: {}", reply.body);
    let created = app.post("/api/notes", &alice, r#"{"title":"lost?"}"#).await;
    created.assert_error(Status::ServiceUnavailable, "unavailable");
    app.teardown().await;
}

/// PostgreSQL only: the pool recovers by itself after the server restarts,
/// and an outage is answered with 503 until it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgresql_pool_recovers_after_a_restart_and_an_outage() {
    let Some(database) = PgDatabase::create().await else { return };
    let forwarder = crate::forwarder::Forwarder::start(crate::forwarder::target_of(&database.url)).await;
    let url = forwarder.url_for(&database.url);
    let app = TestApp::spawn_with(Backend::Postgres, |s| s.set("notes.database_url", &url)).await.unwrap();
    let alice = app.user("alice").await;
    app.create_note(&alice, "before", "").await;

    forwarder.cut();
    let after_restart = app.get("/api/notes", &alice).await;
    assert_eq!(after_restart.status, Status::Ok, "{}", after_restart.body);

    forwarder.down();
    app.get("/api/notes", &alice).await.assert_error(Status::ServiceUnavailable, "unavailable");
    assert_eq!(app.get_anonymous("/readyz").await.status, Status::ServiceUnavailable);

    forwarder.resume();
    assert_eq!(app.get_anonymous("/readyz").await.status, Status::Ok);
    app.create_note(&alice, "after", "").await;
    assert_eq!(app.get("/api/notes", &alice).await.json().as_array().unwrap().len(), 2);
    app.teardown().await;
    database.drop().await;
}
