//! The HTTPS edge of the running binary: the self-signed certificate on
//! first boot, operator certificates and their reload on SIGHUP, the
//! plain-HTTP redirect, trusted proxies in the access log.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

use crate::support::*;
use crate::tls;

fn sandbox() -> (tokio::runtime::Runtime, Sandbox) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime.block_on(Sandbox::new(Backend::Sqlite)).unwrap();
    (runtime, sandbox)
}

/// The certificate a new connection is shown, trusting `trusted`.
fn presented(port: u16, trusted: &Path) -> CertificateDer<'static> {
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut connection = rustls::ClientConnection::new(tls::http1_client(trusted), name).unwrap();
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    while connection.is_handshaking() {
        connection.complete_io(&mut tcp).unwrap();
    }
    connection.peer_certificates().unwrap()[0].clone().into_owned()
}

fn fingerprint_of(certificate: &CertificateDer<'_>) -> String {
    Sha256::digest(certificate.as_ref()).iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// Writes a new self-signed pair for `localhost` under `stem`.crt/.key.
fn write_pair(dir: &Path, stem: &str) {
    let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.join(format!("{stem}.crt")), pair.cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{stem}.key")), pair.signing_key.serialize_pem()).unwrap();
}

#[test]
fn the_self_signed_certificate_is_made_on_first_boot_logged_and_reused() {
    use std::os::unix::fs::PermissionsExt;
    let (_runtime, sandbox) = sandbox();
    let server = sandbox.serve();
    let served = presented(server.port, &server.certificate);
    let log = server.wait_for_log("TLS certificate");
    assert!(log.contains(r#"origin="self-signed, generated""#), "{log}");
    assert!(log.contains(&fingerprint_of(&served)), "the log names the SHA-256 fingerprint: {log}");
    let key = sandbox.path().join("data/tls/self-signed.key");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(server.stop("TERM"), Some(0));

    let again = sandbox.serve();
    assert_eq!(presented(again.port, &again.certificate), served, "reused on the next boot");
    assert!(again.wait_for_log("TLS certificate").contains(r#"origin="self-signed""#));
    assert_eq!(again.stop("TERM"), Some(0));
}

#[test]
fn sighup_reloads_renewed_certificate_files_and_keeps_the_process() {
    let (_runtime, sandbox) = sandbox();
    let dir = sandbox.path();
    write_pair(dir, "first");
    write_pair(dir, "second");
    std::fs::copy(dir.join("first.crt"), dir.join("live.crt")).unwrap();
    std::fs::copy(dir.join("first.key"), dir.join("live.key")).unwrap();
    let tls_setting = format!("{{certs=\"{0}/live.crt\",key=\"{0}/live.key\"}}", dir.display());
    let mut server = sandbox.serve_with(|c| c.env("ROCKET_TLS", &tls_setting));
    let pid = server.child.id();
    let first = CertificateDer::from_pem_file(dir.join("first.crt")).unwrap();
    let second = CertificateDer::from_pem_file(dir.join("second.crt")).unwrap();
    assert_eq!(presented(server.port, &dir.join("first.crt")), first);
    assert!(server.log().contains(r#"origin="configured""#), "{}", server.log());

    // Renewal: the files change, then the server is told.
    std::fs::copy(dir.join("second.crt"), dir.join("live.crt")).unwrap();
    std::fs::copy(dir.join("second.key"), dir.join("live.key")).unwrap();
    let hup = std::process::Command::new("kill").args(["-HUP", &pid.to_string()]).status().unwrap();
    assert!(hup.success());
    server.wait_for_log("TLS certificate reloaded");
    assert_eq!(presented(server.port, &dir.join("second.crt")), second);
    server.certificate = dir.join("second.crt");
    assert_eq!(server.request("GET", "/healthz", None, None).status, 200);

    // A broken renewal is logged and the certificate in use stays.
    std::fs::write(dir.join("live.key"), "-----BEGIN PRIVATE KEY-----\nnope\n").unwrap();
    let hup = std::process::Command::new("kill").args(["-HUP", &pid.to_string()]).status().unwrap();
    assert!(hup.success());
    server.wait_for_log("TLS certificate not reloaded");
    assert_eq!(presented(server.port, &dir.join("second.crt")), second);
    assert_eq!(server.child.id(), pid);
    assert_eq!(server.stop("TERM"), Some(0));
}

#[test]
fn certificate_files_that_are_missing_or_do_not_match_are_configuration_errors() {
    let (_runtime, sandbox) = sandbox();
    let dir = sandbox.path();
    let missing = format!("{{certs=\"{0}/nope.crt\",key=\"{0}/nope.key\"}}", dir.display());
    let check = sandbox.command().args(["config", "check"]).env("ROCKET_TLS", &missing).output().unwrap();
    Outcome::from(check).fails_with(78, "tls.certs");

    write_pair(dir, "one");
    write_pair(dir, "two");
    let mismatched = format!("{{certs=\"{0}/one.crt\",key=\"{0}/two.key\"}}", dir.display());
    let serve =
        sandbox.command().arg("serve").env("ROCKET_PORT", "0").env("ROCKET_TLS", &mismatched).output();
    Outcome::from(serve.unwrap()).fails_with(78, "does not fit");
}

#[test]
fn the_plain_port_redirects_to_https_and_answers_healthz() {
    let (_runtime, sandbox) = sandbox();
    let plain = unused_port();
    let server = sandbox.serve_with(|c| c.env("NOTES_HTTP_PORT", plain.to_string()));
    server.wait_for_log(&format!("redirecting http://127.0.0.1:{plain} to HTTPS"));

    let moved = http(plain, "GET", "/api/notes?limit=5", None, None);
    assert_eq!(moved.status, 301, "{moved:?}");
    let location = format!("https://127.0.0.1:{}/api/notes?limit=5", server.port);
    assert_eq!(moved.header("location"), Some(location));
    assert!(moved.header("strict-transport-security").is_some(), "{moved:?}");
    assert_eq!(http(plain, "GET", "/healthz", None, None).status, 200);
    assert_eq!(server.stop("TERM"), Some(0));
}

/// The access log's client for a request with `X-Forwarded-For`.
fn logged_client(trusted: Option<&str>) -> String {
    let (_runtime, sandbox) = sandbox();
    let server = sandbox.serve_with(|c| {
        c.env("NOTES_LOG_FORMAT", "json");
        match trusted {
            Some(networks) => c.env("NOTES_TRUSTED_PROXIES", networks),
            None => c,
        }
    });
    let request = b"GET /healthz?proxied HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.5\r\nConnection: close\r\n\r\n";
    let address = SocketAddr::from(([127, 0, 0, 1], server.port));
    tls::blocking_exchange(address, tls::http1_client(&server.certificate), request);
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        let log = server.log();
        if let Some(line) = log.lines().find(|l| l.contains(r#""path":"/healthz""#)) {
            break line.to_owned();
        }
        assert!(Instant::now() < deadline, "no access line:\n{log}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(server.stop("TERM"), Some(0));
    let entry: serde_json::Value = serde_json::from_str(&line).unwrap();
    entry["client"].as_str().unwrap().to_owned()
}

#[test]
fn x_forwarded_for_names_the_client_only_behind_a_trusted_proxy() {
    assert_eq!(logged_client(None), "127.0.0.1");
    assert_eq!(logged_client(Some("[\"10.0.0.0/8\"]")), "127.0.0.1");
    assert_eq!(logged_client(Some("[\"127.0.0.0/8\", \"::1\"]")), "203.0.113.5");
}
