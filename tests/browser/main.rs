//! Browser tests: the compiled binary serving HTTPS, driven by a headless
//! Chromium through chromedriver as a user would drive the web UI. Each test
//! has its own server, data directory and browser, trusts exactly the
//! server's self-signed certificate, and ends by checking that no page broke
//! the Content-Security-Policy or logged a console error.
//!
//! Needs `chromedriver` and Chromium (Debian: `chromium`, `chromium-driver`;
//! scripts/test.sh installs them). Without them the tests are skipped with a
//! warning, unless `CI` is set. The UI is what is under test, so they run on
//! SQLite only; tests/api and tests/cli cover both database backends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/postgres.rs"]
mod postgres;
// Shared with the CLI tests; the browser tests use the sandbox and server.
#[allow(dead_code, unused_imports, unused_macros)]
#[path = "../cli/support.rs"]
mod support;
#[allow(dead_code)]
#[path = "../support/tls.rs"]
mod tls;

mod app;
mod browser;
mod driver;
mod ui;

/// The UI on a phone's screen, and with the keyboard alone.
mod access;
/// An admin adds a user; each user sees only their own notes.
mod accounts;
/// The harness itself: the page loads over HTTPS trusting exactly the
/// server's certificate, under its CSP, and screenshots work.
mod edge;
/// Search with a Korean input method; the Korean translation.
mod korean;
/// Claiming the service, then writing, editing, searching and deleting
/// notes, logging out.
mod notes;
/// The login form under the server's rate limit.
mod rate_limit;
/// Notes with HTML and script render as text and sanitised Markdown.
mod xss;
