//! chromedriver and the headless Chromium it drives: finding and starting
//! the driver, the session's capabilities (trusting exactly one
//! certificate), and the two chromedriver extensions the tests need that
//! fantoccini has no method for: the browser console log and the Chrome
//! DevTools Protocol passthrough.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

/// The `chromedriver` on `PATH`; `None` (with a warning) when there is none
/// outside CI. Under CI the browser tests must run, so a missing driver fails.
pub fn chromedriver() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path).map(|dir| dir.join("chromedriver")).find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "CI is set but chromedriver is not installed: the browser tests must run (use scripts/test.sh)"
            );
        }
        static WARNING: std::sync::Once = std::sync::Once::new();
        // Straight to stderr: the test harness captures `eprintln!`.
        WARNING.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "WARNING: chromedriver not found: skipping the browser tests \
                 (install Debian's chromium and chromium-driver, or run scripts/test.sh as root)"
            );
        });
    }
    found
}

/// A running chromedriver, on its own loopback port, killed on drop.
pub struct ChromeDriver {
    child: Child,
    pub port: u16,
    /// The browser's profile (`--user-data-dir`), removed with the driver.
    profile: TempDir,
}

impl ChromeDriver {
    pub fn start(program: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut driver = Self { child, port, profile: tempfile::tempdir().unwrap() };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = driver.child.try_wait().unwrap() {
                panic!("chromedriver exited at start ({status})");
            }
            assert!(Instant::now() < deadline, "chromedriver did not listen on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        driver
    }

    /// A new headless session that trusts the certificate in `pem` (and no
    /// other one that would otherwise fail validation).
    pub async fn session(&self, pem: &Path) -> Client {
        let mut args = vec![
            "--headless=new".to_owned(),
            "--disable-gpu".to_owned(),
            "--window-size=1280,900".to_owned(),
            "--lang=en-US".to_owned(),
            "--no-first-run".to_owned(),
            // This machine's network is closed: without these, Chromium keeps
            // trying to reach Google's services in the background.
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            format!("--user-data-dir={}", self.profile.path().display()),
            // Chromium accepts the self-signed certificate whose public key
            // hashes to this value; the flag is honoured only together with
            // --user-data-dir. Unlike `acceptInsecureCerts`, any other bad
            // certificate still fails.
            format!("--ignore-certificate-errors-spki-list={}", spki_sha256(pem)),
        ];
        if running_as_root() {
            // Chromium refuses to start its sandbox as root (containers, CI).
            args.push("--no-sandbox".to_owned());
        }
        let capabilities = json!({
            "browserName": "chrome",
            "acceptInsecureCerts": false,
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {"args": args, "prefs": {"intl.accept_languages": "en-US,en"}},
        });
        let Json::Object(capabilities) = capabilities else { unreachable!() };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .unwrap_or_else(|e| panic!("could not start a Chromium session: {e}"))
    }

    /// Ends a session without the async client (from `Drop`), so that
    /// Chromium exits before chromedriver is killed.
    pub fn delete_session_blocking(&self, session_id: &str) {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else { return };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let request = format!(
            "DELETE /session/{session_id} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            self.port
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            let _ = stream.read_to_end(&mut Vec::new());
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn running_as_root() -> bool {
    let output = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

/// The base64 SHA-256 of the certificate's SubjectPublicKeyInfo, the form
/// `--ignore-certificate-errors-spki-list` takes.
pub fn spki_sha256(pem: &Path) -> String {
    let certificate = CertificateDer::from_pem_file(pem)
        .unwrap_or_else(|e| panic!("reading the certificate {}: {e}", pem.display()));
    let spki = subject_public_key_info(&certificate);
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(spki))
}

/// The SubjectPublicKeyInfo element of an X.509 certificate (RFC 5280 4.1):
/// Certificate = SEQUENCE { tbsCertificate, ... }, tbsCertificate = SEQUENCE
/// { [0] version OPTIONAL, serialNumber, signature, issuer, validity,
/// subject, subjectPublicKeyInfo, ... }.
fn subject_public_key_info(certificate: &[u8]) -> &[u8] {
    let (certificate, _) = der_element(certificate);
    let (tbs, _) = der_element(der_contents(certificate));
    let mut rest = der_contents(tbs);
    if rest.first() == Some(&0xa0) {
        rest = der_element(rest).1;
    }
    for _ in 0..5 {
        rest = der_element(rest).1;
    }
    let (spki, _) = der_element(rest);
    assert_eq!(spki[0], 0x30, "SubjectPublicKeyInfo is not a SEQUENCE");
    spki
}

/// Splits one DER element (tag, length, contents) off the front of `input`.
fn der_element(input: &[u8]) -> (&[u8], &[u8]) {
    let (header, length) = der_header(input);
    input.split_at(header + length)
}

fn der_contents(element: &[u8]) -> &[u8] {
    &element[der_header(element).0..]
}

/// (header length, contents length) of the element at the front of `input`.
fn der_header(input: &[u8]) -> (usize, usize) {
    match input[1] {
        short @ 0..=0x7f => (2, usize::from(short)),
        long => {
            let count = usize::from(long & 0x7f);
            let length = input[2..2 + count].iter().fold(0, |n, byte| (n << 8) | usize::from(*byte));
            (2 + count, length)
        }
    }
}

/// A chromedriver extension endpoint under the session: `POST
/// /session/{id}/{path}` with a JSON body.
#[derive(Debug)]
struct SessionPost {
    path: &'static str,
    body: Json,
}

impl WebDriverCompatibleCommand for SessionPost {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/{}", session_id.unwrap_or_default(), self.path))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

/// A Chrome DevTools Protocol command on the current page.
pub async fn cdp(client: &Client, command: &str, params: Json) -> Json {
    let body = json!({"cmd": command, "params": params});
    client
        .issue_cmd(SessionPost { path: "goog/cdp/execute", body })
        .await
        .unwrap_or_else(|e| panic!("CDP {command}: {e}"))
}

/// The browser console entries (`{level, message, source, timestamp}`)
/// logged since the previous call: chromedriver hands each out once.
pub async fn console_entries(client: &Client) -> Vec<Json> {
    let entries = client
        .issue_cmd(SessionPost { path: "se/log", body: json!({"type": "browser"}) })
        .await
        .unwrap_or_else(|e| panic!("reading the browser log: {e}"));
    match entries {
        Json::Array(entries) => entries,
        other => panic!("the browser log is not an array: {other}"),
    }
}
