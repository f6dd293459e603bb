//! The database: connecting (pool sizes, SQLite pragmas, waiting for an
//! unreachable PostgreSQL), reading (in-process on SQLite, see
//! [`sqlite_reader`]), writing (see [`writer`]), migrating under a lock (see
//! [`migrate`]) and pinging.

mod migrate;
mod sqlite_reader;
mod writer;

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sea_orm::sqlx::Connection;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait, QuerySelect, QueryTrait, Select,
    SelectTwo, SqlxPostgresConnector, SqlxSqliteConnector, Statement, TransactionTrait, TryIntoModel,
};
use tokio::time::Instant;

use crate::config::{DatabaseConfig, DatabaseUrl, SqliteSynchronous as Synchronous};

pub use migrate::{MigrationState, migrate, migrate_with, migration_states, pending_migrations};
use sqlite_reader::SqliteReader;
use writer::Writer;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How long a request waits for a pooled connection before it is answered
/// with 503: a database that is down must not hold clients for minutes.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long SQLite waits for another process's write lock (a CLI command
/// writing while the server runs).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A connected database: where reads go, how writes are committed, and a
/// connection for schema work. Cheap to clone: clones share everything.
#[derive(Clone)]
pub struct Db(Arc<Inner>);

struct Inner {
    /// PostgreSQL: the pool, for everything. SQLite: the writing connection,
    /// for schema work and maintenance; reads go to `sqlite`.
    admin: DatabaseConnection,
    writer: Writer,
    backend: DbBackend,
    sqlite: Option<(std::path::PathBuf, SqliteReader)>,
    max_connections: u32,
    snapshot_dir: Option<std::path::PathBuf>,
}

/// A snapshot of the connection pool, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    pub in_use: usize,
    pub idle: usize,
    pub max: usize,
}

impl Db {
    /// Connects, waiting for an unreachable PostgreSQL with bounded backoff
    /// (each retry is logged) up to `connect_timeout`.
    pub async fn connect(config: &DatabaseConfig) -> anyhow::Result<Self> {
        match &config.url {
            DatabaseUrl::Sqlite(path) => connect_sqlite(config, path).await,
            DatabaseUrl::Postgres(url) => connect_postgres(config, url).await,
        }
    }

    /// A connection for schema work and for statements outside the store's
    /// reads and writes (migrations, their status, counts, maintenance).
    pub fn admin(&self) -> &DatabaseConnection {
        &self.0.admin
    }

    /// The models a SELECT finds (in-process on SQLite, see [`sqlite_reader`]).
    pub async fn find_all<E>(&self, select: Select<E>) -> Result<Vec<E::Model>, DbErr>
    where
        E: EntityTrait,
        E::Model: Send + Sync,
        E::ActiveModel: TryIntoModel<E::Model>,
    {
        match &self.0.sqlite {
            Some((_, reader)) => reader.models::<E>(&select.build(DbBackend::Sqlite)),
            None => select.all(&self.0.admin).await,
        }
    }

    pub async fn find_one<E>(&self, select: Select<E>) -> Result<Option<E::Model>, DbErr>
    where
        E: EntityTrait,
        E::Model: Send + Sync,
        E::ActiveModel: TryIntoModel<E::Model>,
    {
        Ok(self.find_all(select.limit(1)).await?.into_iter().next())
    }

    /// The models a raw SELECT of `E`'s columns finds.
    pub async fn find_raw<E>(&self, statement: Statement) -> Result<Vec<E::Model>, DbErr>
    where
        E: EntityTrait,
        E::Model: Send + Sync,
        E::ActiveModel: TryIntoModel<E::Model>,
    {
        match &self.0.sqlite {
            Some((_, reader)) => reader.models::<E>(&statement),
            None => E::find().from_raw_sql(statement).all(&self.0.admin).await,
        }
    }

    /// The first pair a `find_also_related` SELECT finds.
    pub async fn find_one_with_related<E, F>(
        &self,
        select: SelectTwo<E, F>,
    ) -> Result<Option<(E::Model, Option<F::Model>)>, DbErr>
    where
        E: EntityTrait,
        F: EntityTrait,
        E::Model: Send + Sync,
        F::Model: Send + Sync,
        E::ActiveModel: TryIntoModel<E::Model>,
        F::ActiveModel: TryIntoModel<F::Model>,
    {
        match &self.0.sqlite {
            Some((_, reader)) => {
                Ok(reader.model_pairs::<E, F>(&select.limit(1).build(DbBackend::Sqlite))?.into_iter().next())
            }
            None => select.one(&self.0.admin).await,
        }
    }

    pub fn backend(&self) -> DbBackend {
        self.0.backend
    }

    /// `sqlite` or `postgres`, as exports and the metrics name it.
    pub fn backend_name(&self) -> &'static str {
        match self.0.backend {
            DbBackend::Postgres => "postgres",
            _ => "sqlite",
        }
    }

    /// The SQLite database file, if that is the backend.
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        self.0.sqlite.as_ref().map(|(path, _)| path.as_path())
    }

    /// Runs `work` in a transaction and returns once it is committed; on
    /// SQLite with `synchronous = full`, once it is on disk. Concurrent writes
    /// on SQLite share one commit (see [`writer`]), so `work` must either be
    /// one statement or run its statements in a nested transaction
    /// (`txn.transaction(...)`), so that a failure leaves nothing behind.
    pub async fn write<T, F>(&self, work: F) -> Result<T, DbErr>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<T, DbErr>> + Send + 'static,
    {
        self.0.writer.write(&self.0.admin, work).await
    }

    /// Queues a write whose outcome nobody waits for (bookkeeping such as a
    /// token's last use); a failure is logged.
    pub fn write_detached<F>(&self, what: &'static str, work: F)
    where
        F: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<(), DbErr>> + Send + 'static,
    {
        self.0.writer.write_detached(&self.0.admin, what, work);
    }

    /// How many connections are open, in use and idle, and the most the
    /// pool opens (SQLite: the readers plus the one that writes).
    pub fn pool_usage(&self) -> PoolUsage {
        match &self.0.sqlite {
            Some((_, reader)) => {
                let writer = self.0.admin.get_sqlite_connection_pool();
                let (busy, idle) = reader.usage();
                let (writer_busy, writer_idle) = sqlx_usage(writer.size(), writer.num_idle());
                PoolUsage {
                    in_use: busy.saturating_add(writer_busy),
                    idle: idle.saturating_add(writer_idle),
                    max: self.0.max_connections as usize + 1,
                }
            }
            None => {
                let pool = self.0.admin.get_postgres_connection_pool();
                let (in_use, idle) = sqlx_usage(pool.size(), pool.num_idle());
                PoolUsage { in_use, idle, max: self.0.max_connections as usize }
            }
        }
    }

    /// A transaction for bulk work outside the request path (import,
    /// restore); on SQLite it takes the write lock at once.
    pub async fn begin_bulk(&self) -> Result<DatabaseTransaction, DbErr> {
        begin_write(&self.0.admin).await
    }

    /// Where the checked snapshot before a migration goes (SQLite only).
    pub fn snapshot_dir(&self) -> Option<&std::path::Path> {
        self.0.snapshot_dir.as_deref()
    }

    pub async fn ping(&self) -> Result<(), DbErr> {
        match &self.0.sqlite {
            Some((_, reader)) => reader.ping(),
            None => self.0.admin.ping().await,
        }
    }

    /// Commits queued writes and closes every connection (SQLite then
    /// checkpoints its WAL into the database file). Writes after this fail.
    pub async fn close(&self) {
        if let Some((_, reader)) = &self.0.sqlite {
            reader.close();
        }
        self.0.writer.close().await;
        if let Err(e) = self.0.admin.close_by_ref().await {
            tracing::warn!(error = %e, "closing the database pool");
        }
    }
}

async fn connect_sqlite(config: &DatabaseConfig, path: &std::path::Path) -> anyhow::Result<Db> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        anyhow::ensure!(
            parent.is_dir(),
            "cannot open the SQLite database {}: directory {} does not exist",
            path.display(),
            parent.display()
        );
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(match config.sqlite_synchronous {
            Synchronous::Full => SqliteSynchronous::Full,
            Synchronous::Normal => SqliteSynchronous::Normal,
        })
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true);
    // One connection does all the writing, so that writers never wait on
    // each other's locks and concurrent writes can share a commit. Opening
    // it creates the file and turns on WAL before any reader opens.
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open the SQLite database {}", path.display()))?;
    let writer = SqlxSqliteConnector::from_sqlx_sqlite_pool(writer);
    let reader = SqliteReader::new(path.to_owned(), SQLITE_BUSY_TIMEOUT, config.max_connections as usize);
    Ok(Db(Arc::new(Inner {
        admin: writer.clone(),
        writer: Writer::group_commit(writer),
        backend: DbBackend::Sqlite,
        sqlite: Some((path.to_owned(), reader)),
        max_connections: config.max_connections,
        snapshot_dir: config.snapshot_dir.clone(),
    })))
}

async fn connect_postgres(config: &DatabaseConfig, url: &str) -> anyhow::Result<Db> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| anyhow::anyhow!("notes.database_url: {}", redact(&e.to_string(), url)))?;
    let deadline = Instant::now() + config.connect_timeout;
    let mut delay = Duration::from_millis(250);
    let mut attempt = 1u32;
    // Probe with single connections (the pool would retry silently on its
    // own), logging every failed attempt; then build the pool.
    loop {
        let probe = tokio::time::timeout(ACQUIRE_TIMEOUT, PgConnection::connect_with(&options)).await;
        let error = match probe {
            Ok(Ok(connection)) => {
                let _ = connection.close().await;
                break;
            }
            Ok(Err(e)) => redact(&e.to_string(), url),
            Err(_) => format!("no answer within {} s", ACQUIRE_TIMEOUT.as_secs()),
        };
        if Instant::now() + delay >= deadline {
            anyhow::bail!(
                "PostgreSQL at {} was not reachable within {} s ({attempt} attempts): {error}",
                DatabaseUrl::Postgres(url.to_owned()).redacted(),
                config.connect_timeout.as_secs(),
            );
        }
        tracing::warn!(attempt, retry_in_ms = delay.as_millis() as u64, %error, "PostgreSQL is not reachable yet; retrying");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
        attempt += 1;
    }
    let pool = PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // Connections are tested before use, so that the pool recovers by
        // itself after the server restarts.
        .test_before_acquire(true)
        .connect_lazy_with(options);
    let pool = SqlxPostgresConnector::from_sqlx_postgres_pool(pool);
    Ok(Db(Arc::new(Inner {
        admin: pool,
        writer: Writer::Direct,
        backend: DbBackend::Postgres,
        sqlite: None,
        max_connections: config.max_connections,
        snapshot_dir: config.snapshot_dir.clone(),
    })))
}

/// (in use, idle) of a sqlx pool. sqlx counts idle connections apart from
/// the queue that holds them, and its count can briefly underflow (read as
/// `usize::MAX`) while a connection is handed back: clamp it to the size.
fn sqlx_usage(size: u32, idle: usize) -> (usize, usize) {
    let size = size as usize;
    let idle = idle.min(size);
    (size - idle, idle)
}

/// Driver errors may quote the URL; never let its password reach a log.
fn redact(message: &str, url: &str) -> String {
    match url::Url::parse(url).ok().and_then(|u| u.password().map(str::to_owned)) {
        Some(password) if !password.is_empty() => message.replace(&password, "***"),
        _ => message.to_owned(),
    }
}

/// Whether an error means the database could not be reached (as opposed to
/// a query that failed), which the API answers with 503.
pub fn is_unavailable(error: &DbErr) -> bool {
    matches!(error, DbErr::ConnectionAcquire(_) | DbErr::Conn(_))
}

/// Begins the transaction that writes on behalf of one or more requests.
async fn begin_write(conn: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions};
    // IMMEDIATE takes SQLite's write lock at BEGIN, so a transaction never
    // fails halfway when another process (a CLI command) writes too.
    conn.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}
