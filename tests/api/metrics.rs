//! `/metrics`: off by default, the allow list, the Prometheus exposition.
//! Every exposition is read by the Prometheus client library's own parser
//! (Python), so that what is asserted is what Prometheus would see.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use notes_appliance::app::build_rocket;
use notes_appliance::config::Sources;
use rocket::http::Status;
use rocket::local::asynchronous::Client;
use serde_json::Value;

use crate::helpers::*;

/// Another application on `app`'s database, configured by `configure`
/// on top of `/metrics` on.
async fn with_metrics(app: &TestApp, configure: impl FnOnce(Sources) -> Sources) -> Client {
    let sources = configure(app.store.sources().set("notes.metrics", true));
    let config = sources.load().unwrap();
    Client::untracked(build_rocket(sources.figment().clone(), config, app.db.clone())).await.unwrap()
}

async fn scrape(client: &Client, from: &str) -> Reply {
    let remote = SocketAddr::new(from.parse().unwrap(), 41_000);
    Reply::from(client.get("/metrics").remote(remote).dispatch().await).await
}

/// Scrapes from loopback, asserting a 200, and parses the answer.
async fn scrape_parsed(client: &Client) -> Exposition {
    let reply = scrape(client, "127.0.0.1").await;
    assert_eq!(reply.status, Status::Ok, "{}", reply.body);
    Exposition::parse(&reply.body)
}

/// Prints each family the parser finds, with its samples, as JSON.
const PARSER: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
print(json.dumps([
    {"name": f.name, "type": f.type, "help": f.documentation,
     "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]}
    for f in text_string_to_metric_families(sys.stdin.read())
]))
"#;

/// A `python3` that has the Prometheus client library: the one on `PATH`,
/// else Debian's, for which `python3-prometheus-client` installs (a pyenv or
/// virtualenv `python3` earlier on `PATH` does not see it).
fn python() -> &'static str {
    ["python3", "/usr/bin/python3"]
        .into_iter()
        .find(|python| {
            Command::new(python)
                .args(["-c", "import prometheus_client.parser"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        })
        .unwrap_or_else(|| {
            panic!(
                "these tests parse /metrics with the Prometheus client library for Python: run \
                 scripts/test.sh, which installs python3-prometheus-client, or apt-get install \
                 python3-prometheus-client"
            )
        })
}

/// The families of an exposition, as the Prometheus parser reads them.
struct Exposition(Vec<Value>);

impl Exposition {
    fn parse(text: &str) -> Self {
        let mut child = Command::new(python())
            .args(["-c", PARSER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "the parser refused the exposition: {stderr}\n{text}");
        let families: Value = serde_json::from_slice(&output.stdout).unwrap();
        Self(families.as_array().unwrap().clone())
    }

    fn family(&self, name: &str) -> &Value {
        self.0.iter().find(|f| f["name"] == name).unwrap_or_else(|| panic!("no family {name}: {:?}", self.0))
    }

    /// Name, labels and value of every sample of `family`.
    fn samples(&self, family: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
        self.family(family)["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let labels = serde_json::from_value(s["labels"].clone()).unwrap();
                (s["name"].as_str().unwrap().to_owned(), labels, s["value"].as_f64().unwrap())
            })
            .collect()
    }

    /// The value of the sample with exactly these labels.
    fn value(&self, family: &str, sample: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> =
            labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        self.samples(family).into_iter().find(|(name, l, _)| name == sample && *l == wanted).map(|(.., v)| v)
    }

    fn gauge(&self, name: &str) -> Option<f64> {
        self.value(name, name, &[])
    }
}

/// Every family, as the parser names it (a counter without `_total`), and
/// its type.
const FAMILIES: [(&str, &str); 11] = [
    ("notes_http_requests", "counter"),
    ("notes_http_request_duration_seconds", "histogram"),
    ("notes_db_connections", "gauge"),
    ("notes_db_connections_max", "gauge"),
    ("notes_database_up", "gauge"),
    ("notes_users", "gauge"),
    ("notes_notes", "gauge"),
    ("notes_backup_last_success_timestamp_seconds", "gauge"),
    ("notes_backup_age_seconds", "gauge"),
    ("notes_build_info", "gauge"),
    ("notes_start_time_seconds", "gauge"),
];

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

both_backends!(
    async fn metrics_are_off_by_default_and_the_address_is_an_ordinary_404(app) {
        let reply = scrape(&app.client, "127.0.0.1").await;
        reply.assert_error(Status::NotFound, "not_found");
        assert!(!app.client.rocket().routes().any(|r| r.uri.path() == "/metrics"));
    }
);

both_backends!(
    async fn loopback_clients_get_the_exposition_and_others_get_403(app) {
        let client = with_metrics(app, |s| s).await;
        for loopback in ["127.0.0.1", "::1", "127.8.9.10"] {
            let reply = scrape(&client, loopback).await;
            assert_eq!(reply.status, Status::Ok, "{loopback}: {}", reply.body);
            assert_eq!(reply.header("Content-Type"), Some("text/plain; version=0.0.4; charset=utf-8"));
            assert_eq!(reply.header("Cache-Control"), Some("no-store"));
            assert!(reply.body.contains("\nnotes_build_info{"), "{}", reply.body);
        }
        for outsider in ["192.0.2.10", "2001:db8::1", "::ffff:192.0.2.10"] {
            let reply = scrape(&client, outsider).await;
            reply.assert_error(Status::Forbidden, "forbidden");
            assert!(!reply.body.contains("notes_"), "{}", reply.body);
        }
        // A request with no known peer is nobody's to trust.
        let anonymous = Reply::from(client.get("/metrics").dispatch().await).await;
        anonymous.assert_error(Status::Forbidden, "forbidden");
    }
);

both_backends!(
    async fn metrics_allow_replaces_the_loopback_default(app) {
        let client = with_metrics(app, |s| s.set("notes.metrics_allow", ["192.0.2.0/24"])).await;
        assert_eq!(scrape(&client, "192.0.2.10").await.status, Status::Ok);
        scrape(&client, "127.0.0.1").await.assert_error(Status::Forbidden, "forbidden");
        scrape(&client, "198.51.100.1").await.assert_error(Status::Forbidden, "forbidden");
    }
);

both_backends!(
    async fn every_family_has_help_and_its_type(app) {
        let client = with_metrics(app, |s| s).await;
        let exposition = scrape_parsed(&client).await;
        for (name, kind) in FAMILIES {
            let family = exposition.family(name);
            assert_eq!(family["type"], kind, "{family}");
            assert!(family["help"].as_str().is_some_and(|h| !h.is_empty()), "{family}");
        }
        assert_eq!(exposition.0.len(), FAMILIES.len(), "{:?}", exposition.0);
    }
);

both_backends!(
    async fn requests_are_counted_by_route_template_method_and_status(app) {
        let client = with_metrics(app, |s| s).await;
        let alice = app.user("alice").await;
        let get = |path: String| {
            let request = client.get(path).header(bearer(&alice.token));
            async move { Reply::from(request.dispatch().await).await }
        };
        for _ in 0..3 {
            assert_eq!(get("/api/notes".into()).await.status, Status::Ok);
        }
        assert_eq!(get("/nowhere/at/all".into()).await.status, Status::NotFound);
        let created = client
            .post("/api/notes")
            .header(bearer(&alice.token))
            .header(rocket::http::ContentType::JSON)
            .body(r#"{"title":"counted"}"#)
            .dispatch()
            .await;
        assert_eq!(created.status(), Status::Created);
        let id = Reply::from(created).await.json()["id"].to_string();
        let id = id.trim_matches('"');
        assert_eq!(get(format!("/api/notes/{id}")).await.status, Status::Ok);
        let anonymous = Reply::from(client.get("/api/notes").dispatch().await).await;
        assert_eq!(anonymous.status, Status::Unauthorized);

        let first = scrape_parsed(&client).await;
        let requests = |route: &str, method: &str, status: &str| {
            first.value(
                "notes_http_requests",
                "notes_http_requests_total",
                &[("method", method), ("route", route), ("status", status)],
            )
        };
        assert_eq!(requests("/api/notes", "GET", "200"), Some(3.0));
        assert_eq!(requests("/api/notes", "GET", "401"), Some(1.0));
        assert_eq!(requests("/api/notes", "POST", "201"), Some(1.0));
        assert_eq!(requests("/api/notes/<id>", "GET", "200"), Some(1.0));
        assert_eq!(requests("unmatched", "GET", "404"), Some(1.0));
        // Nothing else: no raw paths, and this scrape is not in its own answer.
        assert_eq!(first.samples("notes_http_requests").len(), 5, "{:?}", first.samples("notes_http_requests"));

        let histogram = "notes_http_request_duration_seconds";
        let labels = [("method", "GET"), ("route", "/api/notes")];
        let count = first.value(histogram, &format!("{histogram}_count"), &labels);
        assert_eq!(count, Some(4.0), "the 200s and the 401");
        let sum = first.value(histogram, &format!("{histogram}_sum"), &labels).unwrap();
        assert!(sum > 0.0, "{sum}");
        let buckets: Vec<(String, f64)> = first
            .samples(histogram)
            .into_iter()
            .filter(|(name, l, _)| {
                name.ends_with("_bucket") && l["method"] == "GET" && l["route"] == "/api/notes"
            })
            .map(|(_, l, v)| (l["le"].clone(), v))
            .collect();
        let bounds: Vec<&str> = buckets.iter().map(|(le, _)| le.as_str()).collect();
        assert_eq!(
            bounds,
            [
                "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
                "10", "+Inf"
            ]
        );
        assert!(buckets.windows(2).all(|pair| pair[0].1 <= pair[1].1), "cumulative: {buckets:?}");
        assert_eq!(buckets.last().unwrap().1, 4.0);
        let unmatched = [("method", "GET"), ("route", "unmatched")];
        assert_eq!(first.value(histogram, &format!("{histogram}_count"), &unmatched), Some(1.0));

        let second = scrape_parsed(&client).await;
        let scrapes = [("method", "GET"), ("route", "/metrics"), ("status", "200")];
        assert_eq!(second.value("notes_http_requests", "notes_http_requests_total", &scrapes), Some(1.0));
        let forbidden = [("method", "GET"), ("route", "/metrics"), ("status", "403")];
        scrape(&client, "192.0.2.10").await.assert_error(Status::Forbidden, "forbidden");
        let third = scrape_parsed(&client).await;
        assert_eq!(third.value("notes_http_requests", "notes_http_requests_total", &forbidden), Some(1.0));
        assert_eq!(third.value("notes_http_requests", "notes_http_requests_total", &scrapes), Some(2.0));
    }
);

both_backends!(
    async fn the_gauges_are_the_real_counts_pool_build_and_start(app) {
        let started = now();
        let client = with_metrics(app, |s| s).await;
        let alice = app.user("alice").await;
        let bob = app.user("bob").await;
        for (user, title) in [(&alice, "one"), (&alice, "two"), (&bob, "three")] {
            app.create_note(user, title, "").await;
        }
        let exposition = scrape_parsed(&client).await;
        assert_eq!(exposition.gauge("notes_database_up"), Some(1.0));
        assert_eq!(exposition.gauge("notes_users"), Some(app.count("users").await as f64));
        assert_eq!(exposition.gauge("notes_users"), Some(2.0));
        assert_eq!(exposition.gauge("notes_notes"), Some(app.count("notes").await as f64));
        assert_eq!(exposition.gauge("notes_notes"), Some(3.0));

        let pool = app.db.pool_usage();
        let max = exposition.gauge("notes_db_connections_max").unwrap();
        assert_eq!(max, pool.max as f64);
        assert!(max >= 1.0);
        let in_use = exposition.value("notes_db_connections", "notes_db_connections", &[("state", "in_use")]);
        let idle = exposition.value("notes_db_connections", "notes_db_connections", &[("state", "idle")]);
        assert!(in_use.unwrap() + idle.unwrap() <= max, "{in_use:?} + {idle:?} <= {max}");

        let backend = match app.backend() {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        let build = [("version", env!("CARGO_PKG_VERSION")), ("backend", backend)];
        assert_eq!(exposition.value("notes_build_info", "notes_build_info", &build), Some(1.0));
        let start = exposition.gauge("notes_start_time_seconds").unwrap();
        assert!(start >= started - 1.0 && start <= now(), "{start} after {started}");
    }
);

both_backends!(
    async fn backup_gauges_appear_once_a_backup_exists(app) {
        let none = scrape_parsed(&with_metrics(app, |s| s).await).await;
        for family in ["notes_backup_last_success_timestamp_seconds", "notes_backup_age_seconds"] {
            assert!(none.samples(family).is_empty(), "{family}: {:?}", none.samples(family));
        }

        let backups = app.store.dir.path().join("backups");
        std::fs::create_dir_all(&backups).unwrap();
        // 2025-11-22T10:15:00.123Z, named as the scheduler names its files.
        let taken_at = 1_763_806_500.123;
        std::fs::write(backups.join("scheduled-20251122T101500.123Z.db"), b"a backup").unwrap();
        // Not a backup's name: ignored.
        std::fs::write(backups.join("scheduled-latest.db"), b"not a backup").unwrap();
        let exposition = scrape_parsed(&with_metrics(app, |s| s).await).await;
        let timestamp = exposition.gauge("notes_backup_last_success_timestamp_seconds").unwrap();
        assert!((timestamp - taken_at).abs() < 0.001, "{timestamp}");
        let age = exposition.gauge("notes_backup_age_seconds").unwrap();
        assert!((age - (now() - taken_at)).abs() < 60.0, "{age}");
    }
);

/// PostgreSQL only: a SQLite file cannot become unreachable while open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgresql_gone_a_scrape_still_answers_with_database_up_0() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else { return };
    let client = with_metrics(&app, |s| s).await;
    app.user("alice").await;
    assert_eq!(scrape_parsed(&client).await.gauge("notes_users"), Some(1.0));

    app.store.drop_database().await;

    let exposition = scrape_parsed(&client).await;
    assert_eq!(exposition.gauge("notes_database_up"), Some(0.0));
    assert!(exposition.samples("notes_users").is_empty());
    assert!(exposition.samples("notes_notes").is_empty());
    assert!(exposition.gauge("notes_db_connections_max").is_some());
    let build = exposition.samples("notes_build_info");
    assert_eq!(build.len(), 1, "{build:?}");
    drop(client);
    app.teardown().await;
}
