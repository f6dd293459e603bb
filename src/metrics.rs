//! The metrics registry and the Prometheus text exposition (format 0.0.4),
//! written by hand: request counters and duration histograms by label set,
//! and the rendering of a scrape. `http::metrics` feeds and serves them.

use std::collections::HashMap;
use std::fmt::{self, Display, Write as _};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rocket::http::Method;

use crate::db::PoolUsage;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds of the duration buckets, in seconds: Prometheus' defaults,
/// with two more below 5 ms, where most of this service's answers fall.
pub const BUCKETS: [f64; 13] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The request counters and the time the application was built; clones
/// share them.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    /// By route template, then a few methods each: a lookup borrows the
    /// request's `&str`, so only a new label set allocates.
    http: Mutex<HashMap<Box<str>, Vec<Series>>>,
    started: SystemTime,
}

/// The responses of one method on one route.
#[derive(Clone)]
struct Series {
    method: Method,
    statuses: Vec<(u16, u64)>,
    /// Per bucket, not cumulative; the `+Inf` bucket is `count`.
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// What a scrape reads besides the request counters.
pub struct Gauges {
    pub pool: PoolUsage,
    /// Users and notes; `None` when the database did not answer.
    pub counts: Option<(u64, u64)>,
    /// When the newest good backup was taken (Unix time) and its age, in
    /// seconds; `None` when there is none.
    pub backup: Option<(f64, f64)>,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
}

impl Default for Metrics {
    fn default() -> Self {
        Self(Arc::new(Inner { http: Mutex::default(), started: SystemTime::now() }))
    }
}

impl Metrics {
    /// Counts one response.
    pub fn record(&self, method: Method, route: &str, status: u16, elapsed: Duration) {
        let mut http = self.0.http.lock().unwrap_or_else(PoisonError::into_inner);
        if !http.contains_key(route) {
            http.insert(route.into(), Vec::new());
        }
        let Some(methods) = http.get_mut(route) else { return };
        let index = match methods.iter().position(|series| series.method == method) {
            Some(index) => index,
            None => {
                let series =
                    Series { method, statuses: Vec::new(), buckets: [0; BUCKETS.len()], sum: 0.0, count: 0 };
                methods.push(series);
                methods.len() - 1
            }
        };
        let series = &mut methods[index];
        match series.statuses.iter_mut().find(|(code, _)| *code == status) {
            Some((_, count)) => *count += 1,
            None => series.statuses.push((status, 1)),
        }
        let seconds = elapsed.as_secs_f64();
        if let Some(bucket) = BUCKETS.iter().position(|le| seconds <= *le) {
            series.buckets[bucket] += 1;
        }
        series.sum += seconds;
        series.count += 1;
    }

    /// The whole exposition: the counters so far and `gauges`.
    pub fn render(&self, gauges: &Gauges) -> String {
        let started = self.0.started.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64();
        Scrape { http: self.http_series(), gauges, started }.to_string()
    }

    /// The series, sorted, copied out so that rendering holds no lock.
    fn http_series(&self) -> Vec<(Box<str>, Series)> {
        let http = self.0.http.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<_> = http
            .iter()
            .flat_map(|(route, methods)| methods.iter().map(|series| (route.clone(), series.clone())))
            .collect();
        drop(http);
        all.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.method.as_str().cmp(y.method.as_str())));
        for (_, series) in &mut all {
            series.statuses.sort_unstable();
        }
        all
    }
}

struct Scrape<'a> {
    http: Vec<(Box<str>, Series)>,
    gauges: &'a Gauges,
    started: f64,
}

impl Display for Scrape<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const REQUESTS: &str = "notes_http_requests_total";
        const DURATION: &str = "notes_http_request_duration_seconds";
        const BUCKET: &str = "notes_http_request_duration_seconds_bucket";
        family(f, REQUESTS, "counter", "HTTP responses, by method, route template and status.")?;
        for (route, series) in &self.http {
            let method = series.method.as_str();
            for (status, count) in &series.statuses {
                let status = status.to_string();
                sample(f, REQUESTS, &[("method", method), ("route", route), ("status", &status)], count)?;
            }
        }
        let help = "Time from a request's arrival to its response, by method and route template.";
        family(f, DURATION, "histogram", help)?;
        for (route, series) in &self.http {
            let method = series.method.as_str();
            let mut cumulative = 0;
            for (le, count) in BUCKETS.iter().zip(series.buckets) {
                cumulative += count;
                let le = le.to_string();
                sample(f, BUCKET, &[("method", method), ("route", route), ("le", &le)], cumulative)?;
            }
            sample(f, BUCKET, &[("method", method), ("route", route), ("le", "+Inf")], series.count)?;
            let labels = [("method", method), ("route", &**route)];
            sample(f, "notes_http_request_duration_seconds_sum", &labels, series.sum)?;
            sample(f, "notes_http_request_duration_seconds_count", &labels, series.count)?;
        }

        let Gauges { pool, counts, backup, backend } = self.gauges;
        family(f, "notes_db_connections", "gauge", "Open database connections, by state.")?;
        sample(f, "notes_db_connections", &[("state", "in_use")], pool.in_use)?;
        sample(f, "notes_db_connections", &[("state", "idle")], pool.idle)?;
        let max = "The most database connections the pool opens (on SQLite, the readers and the writer).";
        family(f, "notes_db_connections_max", "gauge", max)?;
        sample(f, "notes_db_connections_max", &[], pool.max)?;

        let up = "1 if the database answered this scrape's counts, 0 if not.";
        family(f, "notes_database_up", "gauge", up)?;
        sample(f, "notes_database_up", &[], u8::from(counts.is_some()))?;
        family(f, "notes_users", "gauge", "Accounts, enabled or not.")?;
        if let Some((users, _)) = counts {
            sample(f, "notes_users", &[], users)?;
        }
        family(f, "notes_notes", "gauge", "Notes, of all users.")?;
        if let Some((_, notes)) = counts {
            sample(f, "notes_notes", &[], notes)?;
        }

        let taken = "When the newest good backup was taken, as a Unix time.";
        family(f, "notes_backup_last_success_timestamp_seconds", "gauge", taken)?;
        if let Some((taken_at, _)) = backup {
            sample(f, "notes_backup_last_success_timestamp_seconds", &[], taken_at)?;
        }
        family(f, "notes_backup_age_seconds", "gauge", "How long ago the newest good backup was taken.")?;
        if let Some((_, age)) = backup {
            sample(f, "notes_backup_age_seconds", &[], age)?;
        }

        family(f, "notes_build_info", "gauge", "The version and the database backend; always 1.")?;
        let build = [("version", env!("CARGO_PKG_VERSION")), ("backend", backend)];
        sample(f, "notes_build_info", &build, 1)?;
        family(f, "notes_start_time_seconds", "gauge", "When the application was started, as a Unix time.")?;
        sample(f, "notes_start_time_seconds", &[], self.started)
    }
}

fn family(f: &mut fmt::Formatter<'_>, name: &str, kind: &str, help: &str) -> fmt::Result {
    writeln!(f, "# HELP {name} {help}")?;
    writeln!(f, "# TYPE {name} {kind}")
}

fn sample(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    labels: &[(&str, &str)],
    value: impl Display,
) -> fmt::Result {
    f.write_str(name)?;
    for (i, (label, value)) in labels.iter().enumerate() {
        f.write_char(if i == 0 { '{' } else { ',' })?;
        write!(f, "{label}=\"{}\"", Escaped(value))?;
    }
    if !labels.is_empty() {
        f.write_char('}')?;
    }
    writeln!(f, " {value}")
}

/// A label value as the format wants it: backslash, double quote and
/// newline escaped.
struct Escaped<'a>(&'a str);

impl Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '"' => f.write_str("\\\"")?,
                '\n' => f.write_str("\\n")?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        assert_eq!(Escaped("a\\b\"c\nd/<id>").to_string(), "a\\\\b\\\"c\\nd/<id>");
    }

    #[test]
    fn durations_fall_in_the_first_bucket_that_holds_them() {
        let metrics = Metrics::default();
        for millis in [0, 1, 2, 7, 20_000] {
            metrics.record(Method::Get, "/x", 200, Duration::from_millis(millis));
        }
        metrics.record(Method::Get, "/x", 404, Duration::from_millis(1));
        let series = metrics.http_series();
        assert_eq!(series.len(), 1);
        let (route, series) = &series[0];
        assert_eq!(&**route, "/x");
        assert_eq!(series.statuses, [(200, 5), (404, 1)]);
        // 0, 1 and 1 ms ≤ 0.001; 2 ms ≤ 0.0025; 7 ms ≤ 0.01; 20 s only in +Inf.
        assert_eq!(series.buckets, [3, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(series.count, 6);
    }

    #[test]
    fn buckets_are_cumulative_and_end_with_inf() {
        let metrics = Metrics::default();
        metrics.record(Method::Get, "/x", 200, Duration::from_millis(2));
        metrics.record(Method::Get, "/x", 200, Duration::from_secs(20));
        let gauges = Gauges {
            pool: PoolUsage { in_use: 0, idle: 0, max: 0 },
            counts: None,
            backup: None,
            backend: "sqlite",
        };
        let text = metrics.render(&gauges);
        let bucket = |le: &str| {
            let prefix = format!(
                "notes_http_request_duration_seconds_bucket{{method=\"GET\",route=\"/x\",le=\"{le}\"}} "
            );
            text.lines().find_map(|line| line.strip_prefix(&prefix)).unwrap().to_owned()
        };
        assert_eq!([bucket("0.001"), bucket("0.0025"), bucket("10"), bucket("+Inf")], ["0", "1", "1", "2"]);
        assert!(text.contains("notes_database_up 0\n"), "{text}");
        assert!(!text.contains("\nnotes_users "), "{text}");
    }
}
