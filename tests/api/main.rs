//! API tests: the real Rocket application, built by `build_rocket` on a
//! fresh database per test, driven in-process. Every behavioural test runs
//! on SQLite and on PostgreSQL (`both_backends!`); the PostgreSQL variant
//! needs `TEST_DATABASE_URL` (scripts/test.sh sets it) and fails without it
//! when `CI` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod helpers;
#[path = "../support/forwarder.rs"]
mod forwarder;
#[path = "../support/postgres.rs"]
mod postgres;
// Shared with the CLI tests, which use all of it.
#[allow(dead_code)]
#[path = "../support/tls.rs"]
mod tls;

/// Account management for admins and API tokens, through the JSON API.
mod accounts;
/// The embedded web UI: variants, caching, ETags, 404s; the build's rewriting.
mod assets;
/// Bearer tokens: missing, garbage, revoked, a disabled user's.
mod auth;
/// API responses compressed by `Accept-Encoding`.
mod compression;
/// The HTTPS edge: TLS versions and suites, the redirect, security headers,
/// the handshake timeout, certificate reload.
mod edge;
/// `/healthz` and `/readyz`.
mod health;
/// The listener: body cap, timeouts, HEAD, HTTP/2 by ALPN, shutdown.
mod listener;
/// Listing order, paging with cursors and `Link` headers.
mod listing;
/// `/metrics`: off by default, the allow list, the Prometheus exposition.
mod metrics;
/// Migrations: applied once under a lock, a failing one changes nothing.
mod migrations;
/// Export, import and restore: between backends, damaged files, replacing content.
mod moves;
/// Create, read, update, replace and delete, and who may do it.
mod notes;
/// `/openapi.json` describes exactly the mounted routes.
mod openapi;
/// Full-text search on both backends.
mod search;
/// Browser sessions: the cookie, CSRF, logging out, expiry, login limits.
mod session;
/// First-run setup: the one-time link creates the first admin, once.
mod setup;
/// Bad input of every kind is refused with the right status and is never stored.
mod validation;
/// Durable writes on SQLite: concurrent writes share commits, failures stay apart.
mod writes;
