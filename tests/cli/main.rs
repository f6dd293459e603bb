//! CLI tests: the compiled `notes-appliance` binary, run as an operator
//! would run it, in a temporary working directory with a clean environment.
//! Server tests run on SQLite and on PostgreSQL (`TEST_DATABASE_URL`, set by
//! scripts/test.sh; required when `CI` is set).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// Shared with the API tests, which use all of it.
#[allow(dead_code)]
#[path = "../support/forwarder.rs"]
mod forwarder;
#[path = "../support/postgres.rs"]
mod postgres;
mod support;
#[allow(dead_code)]
#[path = "../support/tls.rs"]
mod tls;

/// `user` and `token`, and a script using the token against the server.
mod admin;
mod backup;
/// `config check|show` and configuration errors (exit 78).
mod config;
/// TLS certificates (generated, configured, reloaded), the redirect, proxies.
mod edge;
/// `/metrics` over HTTPS from the real binary, on and off.
mod metrics;
/// `migrate up|status`, concurrent migrations, an unreachable database.
mod migrate;
/// `serve`: boot, readiness, the access log, signals.
mod serve;
/// First run: the setup link, claimed over HTTPS; a session through the listener.
mod setup;
/// `Type=notify`: READY, the watchdog fed while the database answers, STOPPING.
mod systemd;
