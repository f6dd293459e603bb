//! `GET /metrics` and the fairing that feeds it: every response the
//! application makes is counted by method, route template and status, with
//! its duration (see [`crate::metrics`]). The route is mounted only when
//! `notes.metrics` is on, and answers only clients in `notes.metrics_allow`.

use std::io::Cursor;
use std::time::{Duration, Instant};

use rocket::fairing::{Fairing, Info, Kind};
use rocket::request::{FromRequest, Outcome};
use rocket::response::{self, Responder};
use rocket::{Data, Request, Response, Route, State, get, routes};
use sea_orm::DbErr;

use super::catchers::GuardError;
use crate::config::Config;
use crate::db::Db;
use crate::error::AppError;
use crate::metrics::{CONTENT_TYPE, Gauges, Metrics};
use crate::ops::BackupStatus;
use crate::store;

/// The `route` label of a response no route produced (the 404 catcher, a
/// wrong method): the raw path would make one series per address tried.
pub const UNMATCHED: &str = "unmatched";

/// A scrape must answer before Prometheus gives up on it (10 s by default)
/// with what it has, database or not; the pool alone waits 5 s for a
/// connection.
const COUNT_TIMEOUT: Duration = Duration::from_secs(3);

/// When the request arrived, kept in the request's local cache.
struct Arrived(Instant);

#[rocket::async_trait]
impl Fairing for Metrics {
    fn info(&self) -> Info {
        Info { name: "Metrics", kind: Kind::Request | Kind::Response }
    }

    async fn on_request(&self, request: &mut Request<'_>, _: &mut Data<'_>) {
        request.local_cache(|| Arrived(Instant::now()));
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let arrived = request.local_cache(|| Arrived(Instant::now())).0;
        // A route that forwarded or whose guard failed still names the
        // request: its template is as bounded as the routes are.
        let route = request.route().map_or(UNMATCHED, |route| route.uri.path());
        self.record(request.method(), route, response.status().code, arrived.elapsed());
    }
}

/// A client in `notes.metrics_allow`; anyone else is answered 403.
pub struct Scraper;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Scraper {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ()> {
        // The peer the listener resolved, trusted proxies honoured: Rocket's
        // own `X-Real-IP` is off.
        let allowed = request.rocket().state::<Config>().is_some_and(|config| {
            request.client_ip().is_some_and(|ip| config.metrics.allow.iter().any(|net| net.contains(ip)))
        });
        if allowed {
            return Outcome::Success(Scraper);
        }
        let error = AppError::Forbidden("the metrics are not served to this address");
        Outcome::Error((GuardError::stash(request, error), ()))
    }
}

#[get("/metrics")]
async fn metrics(
    _scraper: Scraper,
    metrics: &State<Metrics>,
    db: &State<Db>,
    backups: &State<BackupStatus>,
) -> Exposition {
    // Before the counts, which use the pool themselves.
    let pool = db.pool_usage();
    let counts =
        async { Ok::<_, DbErr>((store::users::count(db).await?, store::notes::count_all(db).await?)) };
    let counts = match tokio::time::timeout(COUNT_TIMEOUT, counts).await {
        Ok(Ok(counts)) => Some(counts),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: cannot count users and notes");
            None
        }
        Err(_) => {
            tracing::warn!("metrics: counting users and notes took too long");
            None
        }
    };
    let backup = backups.newest().map(|newest| {
        let age = backups.age().unwrap_or_default();
        (newest.taken_at.unix_timestamp_nanos() as f64 / 1e9, age.as_secs_f64())
    });
    Exposition(metrics.render(&Gauges { pool, counts, backup, backend: db.backend_name() }))
}

/// The exposition, never cached.
pub struct Exposition(String);

impl<'r> Responder<'r, 'static> for Exposition {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Response::build()
            .raw_header("Content-Type", CONTENT_TYPE)
            .raw_header("Cache-Control", "no-store")
            .sized_body(self.0.len(), Cursor::new(self.0))
            .ok()
    }
}

pub fn routes() -> Vec<Route> {
    routes![metrics]
}
