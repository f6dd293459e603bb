//! `/healthz` (the process answers; no I/O) and `/readyz` (requests would
//! succeed: database reachable, schema current, data directory writable).

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State, get, routes};
use serde::Serialize;

use crate::config::Config;
use crate::db::{self, Db};
use crate::ops::{BackupReport, BackupStatus};

#[derive(Serialize)]
pub struct Liveness {
    status: &'static str,
}

#[get("/healthz")]
fn healthz() -> Json<Liveness> {
    Json(Liveness { status: "ok" })
}

#[derive(Serialize)]
pub struct Readiness {
    /// `ready`, or `unavailable` when a check failed.
    status: &'static str,
    checks: Checks,
    /// Reported, not checked: a stale backup does not stop the server
    /// from serving.
    details: Details,
}

#[derive(Serialize)]
struct Details {
    backups: BackupReport,
}

#[derive(Serialize)]
struct Checks {
    database: Check,
    migrations: Check,
    data_dir: Check,
}

#[derive(Serialize)]
struct Check {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Check {
    fn from(result: Result<(), String>) -> Self {
        match result {
            Ok(()) => Self { ok: true, error: None },
            Err(error) => Self { ok: false, error: Some(error) },
        }
    }
}

#[get("/readyz")]
async fn readyz(
    db: &State<Db>,
    config: &State<Config>,
    backups: &State<BackupStatus>,
) -> (Status, Json<Readiness>) {
    let database = db.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness: database unreachable");
        "the database is unreachable".to_owned()
    });
    let migrations = match &database {
        Ok(()) => match db::pending_migrations(db).await {
            Ok(pending) if pending.is_empty() => Ok(()),
            Ok(pending) => Err(format!("{} migration(s) pending: {}", pending.len(), pending.join(", "))),
            Err(e) => {
                tracing::warn!(error = %e, "readiness: cannot read the applied migrations");
                Err("cannot read the applied migrations".to_owned())
            }
        },
        Err(_) => Err("not checked: the database is unreachable".to_owned()),
    };
    let data_dir = check_writable(config.data_dir.clone()).await;
    let checks = Checks {
        database: Check::from(database),
        migrations: Check::from(migrations),
        data_dir: Check::from(data_dir),
    };
    let ready = checks.database.ok && checks.migrations.ok && checks.data_dir.ok;
    let status = if ready { Status::Ok } else { Status::ServiceUnavailable };
    let details = Details { backups: backups.report() };
    (status, Json(Readiness { status: if ready { "ready" } else { "unavailable" }, checks, details }))
}

/// Creates and removes a file: proves the directory exists, is writable and
/// the disk is not full.
async fn check_writable(dir: std::path::PathBuf) -> Result<(), String> {
    let probe = move || -> std::io::Result<()> {
        let path = dir.join(".readyz-probe");
        std::fs::write(&path, b"ok")?;
        std::fs::remove_file(&path)
    };
    match tokio::task::spawn_blocking(probe).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the data directory is not writable");
            Err(format!("the data directory is not writable: {e}"))
        }
        Err(e) => Err(format!("the check did not complete: {e}")),
    }
}

pub fn routes() -> Vec<Route> {
    routes![healthz, readyz]
}
