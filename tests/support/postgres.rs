//! Fresh PostgreSQL databases for tests, on the server `TEST_DATABASE_URL`
//! names (scripts/test.sh starts a private one). Shared by the test binaries.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering};

use sea_orm::sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

/// The maintenance database URL, or `None` (and a notice) when there is no
/// server outside CI. Under CI a missing server fails the test run.
pub fn admin_url() -> Option<&'static str> {
    static URL: LazyLock<Option<String>> = LazyLock::new(|| match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!(
                "CI is set but TEST_DATABASE_URL is not: the PostgreSQL tests must run (use scripts/test.sh)"
            )
        }
        _ => {
            eprintln!(
                "TEST_DATABASE_URL is not set: skipping the PostgreSQL variants (scripts/test.sh sets it)"
            );
            None
        }
    });
    URL.as_deref()
}

/// A new, empty database; `drop` removes it.
pub struct PgDatabase {
    admin: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create() -> Option<Self> {
        let admin = admin_url()?;
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let name =
            format!("notes_test_{}_{}_{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let mut conn = PgConnection::connect(admin).await.expect("connect to TEST_DATABASE_URL");
        conn.execute(AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).await.unwrap();
        conn.close().await.unwrap();
        let mut url = url::Url::parse(admin).unwrap();
        url.set_path(&name);
        Some(Self { admin: admin.to_owned(), name, url: url.to_string() })
    }

    pub async fn drop(&self) {
        let mut conn = PgConnection::connect(&self.admin).await.unwrap();
        conn.execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name)))
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
}
