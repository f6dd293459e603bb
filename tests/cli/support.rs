//! Running the binary: a temporary working directory (so that no
//! `Rocket.toml` or environment of the developer leaks in), a server process
//! that reports its port, and a small HTTPS (and plain HTTP) client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::postgres::PgDatabase;
use crate::tls;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A place to run the binary: its own directory and database.
pub struct Sandbox {
    pub dir: TempDir,
    pub database_url: String,
    postgres: Option<PgDatabase>,
}

impl Sandbox {
    /// `None` when PostgreSQL is asked for and there is none (outside CI).
    pub async fn new(backend: Backend) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let (database_url, postgres) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", dir.path().join("data/notes.db").display()), None),
            Backend::Postgres => {
                let database = PgDatabase::create().await?;
                (database.url.clone(), Some(database))
            }
        };
        Some(Self { dir, database_url, postgres })
    }

    pub async fn teardown(self) {
        if let Some(database) = &self.postgres {
            database.drop().await;
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The binary, in this sandbox, with only the variables set here.
    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_notes-appliance"));
        command
            .current_dir(self.dir.path())
            .env_clear()
            .env("NOTES_DATA_DIR", self.dir.path().join("data"))
            .env("NOTES_DATABASE_URL", &self.database_url)
            // Tests run in parallel: no plain-HTTP listener on the fixed
            // default port unless a test asks for one.
            .env("NOTES_HTTP_PORT", "0")
            .stdin(Stdio::null());
        command
    }

    /// Runs the binary with `args` to completion.
    pub fn run(&self, args: &[&str]) -> Outcome {
        Outcome::from(self.command().args(args).output().unwrap())
    }

    /// Writes a new password file and returns its path.
    pub fn password_file(&self, password: &str) -> String {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = self.dir.path().join(format!("password-{n}"));
        std::fs::write(&path, format!("{password}\n")).unwrap();
        path.display().to_string()
    }

    /// Creates a user and a token; returns the token.
    pub fn user_with_token(&self, name: &str) -> String {
        let password = self.password_file("correct horse battery");
        self.run(&["user", "add", name, "--password-file", &password]).success();
        let token = self.run(&["token", "create", "--user", name]).success();
        token.stdout.trim().to_owned()
    }

    /// Starts `serve` on a free loopback port and waits until it listens.
    pub fn serve(&self) -> Server {
        self.serve_with(|command| command)
    }

    pub fn serve_with(&self, configure: impl FnOnce(&mut Command) -> &mut Command) -> Server {
        let mut command = self.command();
        command.arg("serve").env("ROCKET_PORT", "0").stdout(Stdio::null()).stderr(Stdio::piped());
        configure(&mut command);
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(port) = listening_port(&line) {
                    let _ = port_tx.send(port);
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        match port_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(port) => {
                let certificate = tls::certificate_in(&self.dir.path().join("data"));
                Server { child, port, log, certificate }
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not start:\n{}", log.lock().unwrap());
            }
        }
    }
}

/// A loopback port on which nothing listens (it was free a moment ago).
pub fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The port from the "listening on https://127.0.0.1:PORT" line (text or JSON logs).
fn listening_port(line: &str) -> Option<u16> {
    let rest = &line[line.find("listening on https://")? + "listening on https://".len()..];
    let address: String = rest.chars().take_while(|c| !c.is_whitespace() && *c != '"').collect();
    address.rsplit(':').next()?.parse().ok()
}

/// A finished run of the binary.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Outcome {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Outcome {
    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(self.code, Some(0), "{self:#?}");
        self
    }

    #[track_caller]
    pub fn fails_with(self, code: i32, message: &str) -> Self {
        assert_eq!(self.code, Some(code), "{self:#?}");
        assert!(self.stderr.contains(message), "stderr should mention {message:?}: {self:#?}");
        self
    }
}

/// A running `serve` process; killed if the test does not stop it.
pub struct Server {
    pub child: Child,
    pub port: u16,
    log: Arc<Mutex<String>>,
    /// The certificate the server presents (generated in the data directory).
    pub certificate: PathBuf,
}

impl Server {
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// One HTTPS request on a new connection, trusting the server's certificate.
    pub fn request(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> HttpReply {
        let request = request_bytes(self.port, method, path, token, body);
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let response = tls::blocking_exchange(address, tls::http1_client(&self.certificate), &request);
        HttpReply::parse(&response)
    }

    /// Like `request`, with extra header lines (`Name: value`).
    pub fn request_with(
        &self,
        method: &str,
        path: &str,
        headers: &[String],
        body: Option<&str>,
    ) -> HttpReply {
        let mut request = request_bytes(self.port, method, path, None, body);
        let at = request.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
        let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
        request.splice(at..at, extra.into_bytes());
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let response = tls::blocking_exchange(address, tls::http1_client(&self.certificate), &request);
        HttpReply::parse(&response)
    }

    /// Sends `signal` and returns the exit code (within 15 s).
    pub fn stop(mut self, signal: &str) -> Option<i32> {
        self.terminate(signal)
    }

    /// Like [`Server::stop`], keeping the server for its log.
    pub fn terminate(&mut self, signal: &str) -> Option<i32> {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-s", signal, &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "the server did not exit after {signal}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for a line containing `text` in the log.
    pub fn wait_for_log(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if log.contains(text) {
                return log;
            }
            assert!(Instant::now() < deadline, "no {text:?} in the log:\n{log}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl HttpReply {
    fn parse(response: &[u8]) -> Self {
        let response = String::from_utf8_lossy(response);
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        HttpReply { status, head: head.to_owned(), body: body.to_owned() }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_owned())
    }
}

/// One plain HTTP/1.1 request on a new connection.
pub fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> HttpReply {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(&request_bytes(port, method, path, token, body)).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    HttpReply::parse(&response)
}

fn request_bytes(port: u16, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Vec<u8> {
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if let Some(body) = body {
        request.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body.unwrap_or_default());
    request.into_bytes()
}

/// Runs a test body on SQLite and on PostgreSQL.
macro_rules! both_backends {
    ($(#[$meta:meta])* fn $name:ident($sandbox:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn run($sandbox: &$crate::support::Sandbox) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let sandbox = $crate::support::Sandbox::new($crate::support::Backend::Sqlite).await.unwrap();
                tokio::task::block_in_place(|| run(&sandbox));
                sandbox.teardown().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(sandbox) = $crate::support::Sandbox::new($crate::support::Backend::Postgres).await {
                    tokio::task::block_in_place(|| run(&sandbox));
                    sandbox.teardown().await;
                }
            }
        }
    };
}
pub(crate) use both_backends;
