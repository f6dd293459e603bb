//! The test application: a fresh database per test (a SQLite file in a
//! temporary directory, or a new PostgreSQL database), migrated by the same
//! code as `serve`, and the application built by `build_rocket`.

use std::sync::Once;

use notes_appliance::app::build_rocket;
use notes_appliance::config::Sources;
use notes_appliance::db::{self, Db};
use notes_appliance::domain::{Password, TokenName, UserId, Username};
use notes_appliance::store;
use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::Value;
use tempfile::TempDir;

pub use crate::postgres::PgDatabase;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once on SQLite and once on PostgreSQL.
macro_rules! both_backends {
    ($(#[$meta:meta])* async fn $name:ident($app:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: &$crate::helpers::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await.unwrap();
                run(&app).await;
                app.teardown().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await {
                    run(&app).await;
                    app.teardown().await;
                }
            }
        }
    };
}

static TRACING: Once = Once::new();

/// Logs go to the test output only with `TEST_LOG=1`.
fn init_tracing() {
    TRACING.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter("info,notes_appliance=debug")
                .with_test_writer()
                .try_init();
        }
    });
}

/// A fresh, empty database that is removed at teardown.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    pub dir: TempDir,
    postgres: Option<PgDatabase>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Option<Self> {
        init_tracing();
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("notes.db").display());
                Some(Self { backend, url, dir, postgres: None })
            }
            Backend::Postgres => {
                let database = PgDatabase::create().await?;
                Some(Self { backend, url: database.url.clone(), dir, postgres: Some(database) })
            }
        }
    }

    /// Configuration sources for an application on this database: built-in
    /// defaults (no file, no environment) plus the database and data dir.
    pub fn sources(&self) -> Sources {
        Sources::builtin()
            .set("notes.database_url", &self.url)
            .set("notes.data_dir", self.dir.path())
            .set("log_level", "off")
    }

    pub async fn drop_database(&self) {
        if let Some(database) = &self.postgres {
            database.drop().await;
        }
    }
}

pub struct TestApp {
    pub client: Client,
    pub db: Db,
    pub store: TestDb,
}

/// A user with an API token.
pub struct TestUser {
    pub id: UserId,
    pub token: String,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |sources| sources).await
    }

    /// Like `spawn`, with configuration changes.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(Sources) -> Sources) -> Option<Self> {
        let store = TestDb::new(backend).await?;
        let sources = configure(store.sources());
        let config = sources.load().expect("test configuration");
        let db = Db::connect(&config.database).await.expect("connect");
        db::migrate(&db).await.expect("migrate");
        let client = Client::untracked(build_rocket(sources.figment().clone(), config.clone(), db.clone()))
            .await
            .expect("valid application");
        Some(Self { client, db, store })
    }

    pub fn backend(&self) -> Backend {
        self.store.backend
    }

    /// A second, independent application on the same database (another
    /// instance, as behind a load balancer).
    pub async fn another_instance(&self) -> Client {
        let sources = self.store.sources();
        let config = sources.load().unwrap();
        let db = Db::connect(&config.database).await.unwrap();
        Client::untracked(build_rocket(sources.figment().clone(), config, db)).await.unwrap()
    }

    pub async fn teardown(self) {
        drop(self.client);
        self.db.close().await;
        self.store.drop_database().await;
    }

    /// Creates a user and a token for them.
    pub async fn user(&self, name: &str) -> TestUser {
        let username = Username::parse(name).unwrap();
        let hash = Password::parse("correct horse battery".into()).unwrap().hash().unwrap();
        let user = store::users::create(&self.db, &username, hash, false).await.unwrap();
        let (_, secret) =
            store::tokens::create(&self.db, user.id, TokenName::parse("test").unwrap()).await.unwrap();
        TestUser { id: user.id, token: secret.expose().to_owned() }
    }

    pub async fn get(&self, path: &str, user: &TestUser) -> Reply {
        Reply::from(self.client.get(path.to_owned()).header(bearer(&user.token)).dispatch().await).await
    }

    pub async fn get_anonymous(&self, path: &str) -> Reply {
        Reply::from(self.client.get(path.to_owned()).dispatch().await).await
    }

    pub async fn get_with_token(&self, path: &str, authorization: &str) -> Reply {
        let request =
            self.client.get(path.to_owned()).header(Header::new("Authorization", authorization.to_owned()));
        Reply::from(request.dispatch().await).await
    }

    pub async fn post(&self, path: &str, user: &TestUser, json: &str) -> Reply {
        self.send(rocket::http::Method::Post, path, user, json.as_bytes()).await
    }

    pub async fn patch(&self, path: &str, user: &TestUser, json: &str) -> Reply {
        self.send(rocket::http::Method::Patch, path, user, json.as_bytes()).await
    }

    pub async fn put(&self, path: &str, user: &TestUser, json: &str) -> Reply {
        self.send(rocket::http::Method::Put, path, user, json.as_bytes()).await
    }

    pub async fn delete(&self, path: &str, user: &TestUser) -> Reply {
        Reply::from(self.client.delete(path.to_owned()).header(bearer(&user.token)).dispatch().await).await
    }

    /// A JSON request with raw body bytes.
    pub async fn send(
        &self,
        method: rocket::http::Method,
        path: &str,
        user: &TestUser,
        body: &[u8],
    ) -> Reply {
        let request = self
            .client
            .req(method, path.to_owned())
            .header(bearer(&user.token))
            .header(ContentType::JSON)
            .body(body);
        Reply::from(request.dispatch().await).await
    }

    /// Creates a note through the API and returns its JSON.
    pub async fn create_note(&self, user: &TestUser, title: &str, body: &str) -> Value {
        let reply = self
            .post("/api/notes", user, &serde_json::json!({ "title": title, "body": body }).to_string())
            .await;
        assert_eq!(reply.status, Status::Created, "{}", reply.body);
        reply.json()
    }

    /// Runs a query and returns the first column of each row as text.
    pub async fn query_strings(&self, sql: &str) -> Vec<String> {
        let backend = self.db.backend();
        let rows =
            self.db.admin().query_all_raw(Statement::from_string(backend, sql.to_owned())).await.unwrap();
        rows.iter()
            .map(|row| {
                row.try_get_by_index::<String>(0)
                    .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
                    .unwrap()
            })
            .collect()
    }

    pub async fn count(&self, table: &str) -> i64 {
        self.query_strings(&format!("SELECT COUNT(*) FROM {table}")).await[0].parse().unwrap()
    }
}

/// A browser's view of a session: the cookie's secret and the CSRF token.
#[derive(Debug, Clone)]
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
}

pub const SESSION_COOKIE: &str = "__Host-notes_session";
pub const PASSWORD: &str = "correct horse battery";

impl TestApp {
    /// Creates an account with [`PASSWORD`] (no token).
    pub async fn account(&self, name: &str, admin: bool) -> UserId {
        let username = Username::parse(name).unwrap();
        let hash = Password::parse(PASSWORD.into()).unwrap().hash().unwrap();
        store::users::create(&self.db, &username, hash, admin).await.unwrap().id
    }

    /// `POST /api/session` as a same-origin page would send it.
    pub async fn log_in(&self, username: &str, password: &str) -> Reply {
        let body = serde_json::json!({ "username": username, "password": password }).to_string();
        let request = self
            .client
            .post("/api/session")
            .header(ContentType::JSON)
            .header(Header::new("Sec-Fetch-Site", "same-origin"))
            .body(body);
        Reply::from(request.dispatch().await).await
    }

    /// Logs in and returns the session, asserting that it worked.
    pub async fn browser(&self, username: &str) -> Browser {
        self.browser_with(username, PASSWORD).await
    }

    pub async fn browser_with(&self, username: &str, password: &str) -> Browser {
        let reply = self.log_in(username, password).await;
        assert_eq!(reply.status, Status::Ok, "{}", reply.body);
        reply.browser()
    }

    /// A request with the session cookie and, if `csrf`, its CSRF token.
    pub async fn with_session(
        &self,
        method: rocket::http::Method,
        path: &str,
        browser: &Browser,
        csrf: bool,
        body: Option<&str>,
    ) -> Reply {
        let mut request = self
            .client
            .req(method, path.to_owned())
            .cookie((SESSION_COOKIE, browser.cookie.clone()))
            .header(Header::new("Sec-Fetch-Site", "same-origin"));
        if csrf {
            request = request.header(Header::new("X-CSRF-Token", browser.csrf.clone()));
        }
        if let Some(body) = body {
            request = request.header(ContentType::JSON).body(body);
        }
        Reply::from(request.dispatch().await).await
    }

    pub async fn sessions_of(&self, user: UserId) -> u64 {
        store::sessions::count(&self.db, user).await.unwrap()
    }
}

pub fn bearer(token: &str) -> Header<'static> {
    Header::new("Authorization", format!("Bearer {token}"))
}

/// A response, read completely.
#[derive(Debug)]
pub struct Reply {
    pub status: Status,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub async fn from(response: LocalResponse<'_>) -> Self {
        let status = response.status();
        let headers =
            response.headers().iter().map(|h| (h.name().to_string(), h.value().to_string())).collect();
        let body = response.into_string().await.unwrap_or_default();
        Self { status, headers, body }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The session a login or setup answer started.
    #[track_caller]
    pub fn browser(&self) -> Browser {
        let cookie = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("Set-Cookie"))
            .find_map(|(_, v)| v.strip_prefix(&format!("{SESSION_COOKIE}=")))
            .and_then(|rest| rest.split(';').next())
            .unwrap_or_else(|| panic!("no session cookie: {self:?}"))
            .to_owned();
        let csrf = self.json()["csrf_token"].as_str().unwrap().to_owned();
        Browser { cookie, csrf }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Asserts the status and the JSON error shape, and returns the code.
    #[track_caller]
    pub fn assert_error(&self, status: Status, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.body);
        let json = self.json();
        assert_eq!(json["error"]["code"], code, "body: {}", self.body);
        assert!(json["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "body: {}", self.body);
        assert_eq!(self.header("Content-Type"), Some("application/json"), "{self:?}");
    }
}
