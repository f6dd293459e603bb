//! The service under test: the compiled binary serving HTTPS on a free
//! loopback port from its own temporary data directory (SQLite), as
//! tests/cli runs it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{Backend, Sandbox, Server};

/// A password that every account the tests make shares.
pub const PASSWORD: &str = "correct horse battery";

pub struct App {
    // Declared first so that the server stops before its directory goes.
    pub server: Server,
    sandbox: Sandbox,
}

impl App {
    /// A fresh service with no account: it logs a setup link.
    pub async fn unclaimed() -> Self {
        Self::with_users(&[]).await
    }

    /// A fresh service with these (non-admin) accounts, made with the CLI
    /// before it starts, each with [`PASSWORD`].
    pub async fn with_users(names: &[&str]) -> Self {
        let sandbox = Sandbox::new(Backend::Sqlite).await.unwrap();
        for name in names {
            let password = sandbox.password_file(PASSWORD);
            sandbox.run(&["user", "add", name, "--password-file", &password]).success();
        }
        let server = sandbox.serve();
        Self { server, sandbox }
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// The certificate the server presents.
    pub fn certificate(&self) -> &Path {
        &self.server.certificate
    }

    /// The first-run link the server logs (`https://host:port/setup#token`),
    /// found without assuming the log's format: the URL around "/setup#".
    pub fn setup_link(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.server.log();
            if let Some(link) = setup_link_in(&log) {
                return link;
            }
            assert!(
                Instant::now() < deadline,
                "no setup link (\"https://.../setup#<token>\") in the log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- server log ({}) ---\n{}", self.sandbox.path().display(), self.server.log());
        }
    }
}

fn setup_link_in(log: &str) -> Option<String> {
    const MARKER: &str = "/setup#";
    let in_url =
        |c: char| !(c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '\\' | '<' | '>'));
    log.match_indices(MARKER).find_map(|(marker, _)| {
        let start = log[..marker].rfind("https://")?;
        let token = &log[marker + MARKER.len()..];
        let token = &token[..token.find(|c| !in_url(c)).unwrap_or(token.len())];
        (log[start..marker].chars().all(in_url) && !token.is_empty())
            .then(|| format!("{}{MARKER}{token}", &log[start..marker]))
    })
}

/// Where the tests leave files for people to look at:
/// `$CARGO_TARGET_DIR/browser-artifacts`, or `target/browser-artifacts`.
pub fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_setup_link_is_found_in_text_and_json_logs() {
    let text = "2025-01-01T00:00:00Z  INFO notes_appliance: open https://127.0.0.1:8443/setup#abc-DEF_123 to create the first account\n";
    assert_eq!(setup_link_in(text).as_deref(), Some("https://127.0.0.1:8443/setup#abc-DEF_123"));
    let json =
        r#"{"level":"INFO","fields":{"message":"first run","setup_url":"https://localhost:8443/setup#tok"}}"#;
    assert_eq!(setup_link_in(json).as_deref(), Some("https://localhost:8443/setup#tok"));
    assert_eq!(setup_link_in("listening on https://127.0.0.1:1\nGET /setup# 404"), None);
}
