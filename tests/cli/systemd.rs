//! `Type=notify`: the server tells systemd it is ready once it listens,
//! feeds the watchdog while the database answers, and says when it stops.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::support::*;

/// A stand-in for systemd's notification socket.
struct NotifySocket {
    socket: UnixDatagram,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl NotifySocket {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        Self { socket, path, _dir: dir }
    }

    /// The messages that arrive within `window`.
    fn messages_within(&self, window: Duration) -> Vec<String> {
        let deadline = Instant::now() + window;
        let mut messages = Vec::new();
        let mut buffer = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.socket.recv(&mut buffer) {
                messages.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
            }
        }
        messages
    }

    /// Waits up to 10 s for a message containing `text`; returns it.
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            for message in self.messages_within(Duration::from_millis(100)) {
                if message.contains(text) {
                    return message;
                }
                seen.push(message);
            }
        }
        panic!("no {text:?} from the server; got {seen:?}");
    }
}

fn watchdog_pings(messages: &[String]) -> usize {
    messages.iter().filter(|m| m.lines().any(|l| l == "WATCHDOG=1")).count()
}

#[test]
fn the_server_notifies_ready_feeds_the_watchdog_and_notifies_stopping() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime.block_on(Sandbox::new(Backend::Sqlite)).unwrap();
    let notify = NotifySocket::new();
    let server = sandbox.serve_with(|c| c.env("NOTIFY_SOCKET", &notify.path).env("WATCHDOG_USEC", "400000"));

    let ready = notify.wait_for("READY=1");
    assert!(ready.contains(&format!("STATUS=serving https://127.0.0.1:{}", server.port)), "{ready}");
    assert!(watchdog_pings(&notify.messages_within(Duration::from_millis(900))) >= 3, "pinged every 200 ms");

    assert_eq!(server.stop("TERM"), Some(0));
    let stopping = notify.wait_for("STOPPING=1");
    assert!(!stopping.contains("READY=1"), "{stopping}");
    runtime.block_on(sandbox.teardown());
}

#[test]
fn readiness_waits_for_migrations_and_a_wrong_watchdog_pid_is_ignored() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime.block_on(Sandbox::new(Backend::Sqlite)).unwrap();
    let notify = NotifySocket::new();
    // The variables were meant for another process (as after a fork).
    let server = sandbox.serve_with(|c| {
        c.env("NOTIFY_SOCKET", &notify.path).env("WATCHDOG_USEC", "200000").env("WATCHDOG_PID", "1")
    });
    notify.wait_for("READY=1");
    let log = server.log();
    assert!(log.find("migration applied").unwrap() < log.find("listening on").unwrap(), "{log}");
    assert_eq!(watchdog_pings(&notify.messages_within(Duration::from_millis(600))), 0);
    assert_eq!(server.stop("TERM"), Some(0));
    runtime.block_on(sandbox.teardown());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdog_is_fed_only_while_the_database_answers() {
    let Some(sandbox) = Sandbox::new(Backend::Postgres).await else { return };
    let forwarder =
        crate::forwarder::Forwarder::start(crate::forwarder::target_of(&sandbox.database_url)).await;
    let url = forwarder.url_for(&sandbox.database_url);
    let notify = NotifySocket::new();
    let server = tokio::task::block_in_place(|| {
        sandbox.serve_with(|c| {
            c.env("NOTES_DATABASE_URL", &url)
                .env("NOTIFY_SOCKET", &notify.path)
                .env("WATCHDOG_USEC", "400000")
        })
    });
    tokio::task::block_in_place(|| {
        notify.wait_for("READY=1");
        notify.wait_for("WATCHDOG=1");
    });

    forwarder.down();
    forwarder.cut();
    let log = tokio::task::block_in_place(|| server.wait_for_log("not feeding the watchdog"));
    assert!(log.contains("database"), "{log}");
    // Anything sent before the outage was noticed has arrived by now.
    tokio::task::block_in_place(|| notify.messages_within(Duration::from_millis(300)));
    let during = tokio::task::block_in_place(|| notify.messages_within(Duration::from_millis(1200)));
    assert_eq!(watchdog_pings(&during), 0, "{during:?}");

    forwarder.resume();
    tokio::task::block_in_place(|| notify.wait_for("WATCHDOG=1"));
    assert_eq!(tokio::task::block_in_place(|| server.stop("TERM")), Some(0));
    sandbox.teardown().await;
}
