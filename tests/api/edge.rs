//! The HTTPS edge over real TLS: protocol versions and suites, ALPN, the
//! plain-HTTP redirect, security headers on every kind of response, the
//! handshake timeout and certificate reload. SQLite only: none of this
//! depends on the database.

use std::time::{Duration, Instant};

use std::io::Read;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::HeaderMap;
use hyper_util::rt::{TokioExecutor, TokioIo};
use notes_appliance::http::assets::MANIFEST;
use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;
use crate::listener::{HEALTHZ, TestServer, closed_within, exchange};
use crate::tls;

/// The security headers every response carries, with their exact values
/// where a weaker value would be a regression.
const EXPECTED_HEADERS: &[(&str, &str)] = &[
    ("strict-transport-security", "max-age=31536000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
];

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

#[track_caller]
fn assert_security_headers(response: &str) {
    for (name, value) in EXPECTED_HEADERS {
        assert_eq!(header(response, name), Some(*value), "{name} on:\n{response}");
    }
    let csp = header(response, "content-security-policy").unwrap_or_else(|| panic!("CSP on:\n{response}"));
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    let permissions = header(response, "permissions-policy")
        .unwrap_or_else(|| panic!("Permissions-Policy on:\n{response}"));
    assert!(permissions.contains("camera=()") && permissions.contains("geolocation=()"), "{permissions}");
    assert_eq!(header(response, "server"), None, "no Server header:\n{response}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_3_and_1_2_handshakes_use_forward_secret_aead_suites() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let server = TestServer::start(&app, |s| s).await;
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let client = tls::client(server.certificate_file(), &[version], &["http/1.1"]);
        let mut stream = tls::connect(server.address, client).await.unwrap();
        let connection = stream.get_ref().1;
        assert_eq!(connection.protocol_version(), Some(version.version));
        let suite = format!("{:?}", connection.negotiated_cipher_suite().unwrap().suite());
        assert!(suite.contains("GCM") || suite.contains("CHACHA20_POLY1305"), "AEAD: {suite}");
        if version.version == rustls::ProtocolVersion::TLSv1_2 {
            assert!(suite.starts_with("TLS_ECDHE_"), "forward secret: {suite}");
        }
        assert!(exchange(&mut stream, HEALTHZ).await.starts_with("HTTP/1.1 200"));
    }
    server.shutdown().await;
    app.teardown().await;
}

/// A TLS 1.1 (or 1.0) ClientHello offering the suites such clients had.
fn legacy_client_hello(version: [u8; 2]) -> Vec<u8> {
    let mut body = vec![0x01, 0x00, 0x00, 0x00]; // ClientHello, length set below
    body.extend_from_slice(&version);
    body.extend_from_slice(&[0x42; 32]); // random
    body.push(0); // no session id
    body.extend_from_slice(&[0x00, 0x06, 0xc0, 0x13, 0xc0, 0x14, 0x00, 0x2f]); // ECDHE-RSA-AES-CBC, AES128-SHA
    body.extend_from_slice(&[0x01, 0x00]); // null compression
    let length = (body.len() - 4) as u32;
    body[1..4].copy_from_slice(&length.to_be_bytes()[1..]);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(body.len() as u16).to_be_bytes());
    record.extend_from_slice(&body);
    record
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_1_and_1_0_are_refused_with_a_fatal_alert() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let server = TestServer::start(&app, |s| s).await;
    for version in [[0x03, 0x02], [0x03, 0x01]] {
        let mut stream = TcpStream::connect(server.address).await.unwrap();
        stream.write_all(&legacy_client_hello(version)).await.unwrap();
        let mut answer = [0u8; 7];
        tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut answer)).await.unwrap().unwrap();
        assert_eq!(answer[0], 0x15, "an alert record, not a ServerHello: {answer:?}");
        assert_eq!(answer[5], 2, "fatal: {answer:?}");
        assert!([70, 40].contains(&answer[6]), "protocol_version or handshake_failure: {answer:?}");
    }
    server.shutdown().await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_response_carries_the_security_headers() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let alice = app.user("alice").await;
    let server = TestServer::start(&app, |s| s.set("notes.body_limit", "4 KiB")).await;
    let auth = format!("Authorization: Bearer {}\r\n", alice.token);
    let requests = [
        // The API, an asset page, a 404, a 401 from a guard, listener-made
        // refusals (413, 405, 400) and the plain port's redirect.
        (format!("GET /api/notes HTTP/1.1\r\nHost: t\r\n{auth}\r\n"), "200"),
        ("GET / HTTP/1.1\r\nHost: t\r\n\r\n".to_owned(), "200"),
        ("GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n".to_owned(), "404"),
        ("GET /api/notes HTTP/1.1\r\nHost: t\r\n\r\n".to_owned(), "401"),
        (format!("POST /api/notes HTTP/1.1\r\nHost: t\r\n{auth}Content-Length: 999999\r\n\r\n"), "413"),
        ("QUERY /api/notes HTTP/1.1\r\nHost: t\r\n\r\n".to_owned(), "405"),
        ("GET /api/notes?q=배포 HTTP/1.1\r\nHost: t\r\n\r\n".to_owned(), "400"),
    ];
    for (request, status) in requests {
        let mut stream = server.connect().await;
        let response = exchange(&mut stream, request.as_bytes()).await;
        assert!(response.starts_with(&format!("HTTP/1.1 {status}")), "{request}\n{response}");
        assert_security_headers(&response);
        if status != "200" || request.contains("/api/") {
            assert_eq!(header(&response, "cache-control"), Some("no-store"), "{response}");
        }
    }
    let mut plain = TcpStream::connect(server.plain).await.unwrap();
    let response = exchange(&mut plain, b"GET /api/notes HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 301"), "{response}");
    assert_security_headers(&response);
    server.shutdown().await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plain_port_redirects_to_the_same_path_and_query_on_https_and_answers_healthz() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let alice = app.user("alice").await;
    let server = TestServer::start(&app, |s| s).await;
    let https_port = server.address.port();

    let mut plain = TcpStream::connect(server.plain).await.unwrap();
    let response =
        exchange(&mut plain, b"GET /api/notes?q=a%20b&limit=2 HTTP/1.1\r\nHost: evil.example\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 301"), "{response}");
    assert_eq!(
        header(&response, "location"),
        Some(format!("https://127.0.0.1:{https_port}/api/notes?q=a%20b&limit=2").as_str()),
        "built from the listening address, not the Host header"
    );
    assert_eq!(header(&response, "content-length"), Some("0"));

    // Writes are redirected too, never served over plain HTTP.
    let body = r#"{"title":"over plain HTTP"}"#;
    let request = format!(
        "POST /api/notes HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        alice.token,
        body.len()
    );
    let mut plain = TcpStream::connect(server.plain).await.unwrap();
    assert!(exchange(&mut plain, request.as_bytes()).await.starts_with("HTTP/1.1 301"));
    assert_eq!(app.count("notes").await, 0);

    let mut plain = TcpStream::connect(server.plain).await.unwrap();
    let health = exchange(&mut plain, HEALTHZ).await;
    assert!(health.starts_with("HTTP/1.1 200"), "local probes work over plain HTTP: {health}");
    server.shutdown().await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_use_the_public_url_when_one_is_configured() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let server = TestServer::start(&app, |s| s.set("notes.public_url", "https://notes.example.com")).await;
    let mut plain = TcpStream::connect(server.plain).await.unwrap();
    let response = exchange(&mut plain, b"GET /a/b?c=d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await;
    assert_eq!(header(&response, "location"), Some("https://notes.example.com/a/b?c=d"), "{response}");
    server.shutdown().await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_wildcard_address_the_redirect_takes_only_a_checked_host_name() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let server = TestServer::start(&app, |s| s.set("address", "0.0.0.0")).await;
    let https_port = server.address.port();
    let cases: [(&str, Option<String>); 5] = [
        ("Notes.Example.com:8080", Some(format!("https://notes.example.com:{https_port}/x"))),
        ("192.0.2.7", Some(format!("https://192.0.2.7:{https_port}/x"))),
        ("[2001:db8::1]:80", Some(format!("https://[2001:db8::1]:{https_port}/x"))),
        ("evil.example/phish?", None),
        ("user@evil.example", None),
    ];
    for (host, expected) in cases {
        let mut plain = TcpStream::connect(("127.0.0.1", server.plain.port())).await.unwrap();
        let response =
            exchange(&mut plain, format!("GET /x HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes()).await;
        match expected {
            Some(location) => {
                assert_eq!(header(&response, "location"), Some(location.as_str()), "{response}")
            }
            None => assert!(response.starts_with("HTTP/1.1 400"), "{host}: {response}"),
        }
    }
    server.shutdown().await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_stalling_in_the_handshake_are_cut_off_while_others_are_served() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let server = TestServer::start(&app, |s| s.set("notes.tls_handshake_timeout", 2)).await;
    let started = Instant::now();
    // Hundreds of connections that never finish a handshake: some send
    // nothing, some half a ClientHello.
    let mut stalled = Vec::new();
    for n in 0..200 {
        let mut stream = TcpStream::connect(server.address).await.unwrap();
        if n % 2 == 0 {
            let hello = legacy_client_hello([0x03, 0x03]);
            stream.write_all(&hello[..20]).await.unwrap();
        }
        stalled.push(stream);
    }
    let asked = Instant::now();
    let mut stream = server.connect().await;
    assert!(exchange(&mut stream, HEALTHZ).await.starts_with("HTTP/1.1 200"));
    assert!(asked.elapsed() < Duration::from_secs(1), "served at once ({:?})", asked.elapsed());

    for stream in &mut stalled {
        assert!(closed_within(stream, Duration::from_secs(5)).await, "a stalled handshake was cut off");
    }
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1500) && waited < Duration::from_secs(6), "after {waited:?}");
    server.shutdown().await;
    app.teardown().await;
}

fn served_certificate(stream: &tokio_rustls::client::TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream.get_ref().1.peer_certificates().unwrap()[0].clone().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_serves_the_new_certificate_to_new_connections_and_keeps_open_ones() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let server = TestServer::start(&app, |s| s).await;
    let mut before = server.connect().await;
    let old = served_certificate(&before);

    // A renewed pair appears in place of the old files (as certbot would
    // write it), then the server is told to reload.
    let renewed = tempfile::tempdir().unwrap();
    let config = app.store.sources().set("notes.data_dir", renewed.path()).load().unwrap();
    notes_appliance::tls::Certificates::load(&config.tls).unwrap();
    let tls_dir = server.certificate_file().parent().unwrap().to_owned();
    for file in ["self-signed.crt", "self-signed.key"] {
        std::fs::copy(renewed.path().join("tls").join(file), tls_dir.join(file)).unwrap();
    }
    let loaded = server.certificates.reload().unwrap();

    let mut after = server.connect().await;
    let new = served_certificate(&after);
    assert_ne!(new, old);
    assert_eq!(loaded.fingerprint, notes_appliance::tls::fingerprint(&new));
    assert!(exchange(&mut after, HEALTHZ).await.starts_with("HTTP/1.1 200"));
    assert!(
        exchange(&mut before, HEALTHZ).await.starts_with("HTTP/1.1 200"),
        "the open connection still works"
    );

    // A broken file is refused and the certificate in use stays.
    let trusted = renewed.path().join("tls/self-signed.crt");
    std::fs::write(tls_dir.join("self-signed.crt"), "not a certificate").unwrap();
    assert!(server.certificates.reload().is_err());
    let mut still = tls::connect(server.address, tls::http1_client(&trusted)).await.unwrap();
    assert_eq!(served_certificate(&still), new);
    assert!(exchange(&mut still, HEALTHZ).await.starts_with("HTTP/1.1 200"));
    server.shutdown().await;
    app.teardown().await;
}

/// One GET over a new HTTP/2 connection (negotiated by ALPN).
async fn h2_get(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap, Bytes) {
    let client = tls::client(server.certificate_file(), &[&rustls::version::TLS13], &["h2"]);
    let stream = tls::connect(server.address, client).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let mut request = hyper::Request::get(format!("https://localhost:{}{path}", server.address.port()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = sender.send_request(request.body(Empty::<Bytes>::new()).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    (parts.status.as_u16(), parts.headers, body.collect().await.unwrap().to_bytes())
}

fn decoded(encoding: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        Some("br") => brotli::Decompressor::new(body, 4096).read_to_end(&mut out).map(drop).unwrap(),
        Some("gzip") => flate2::read::GzDecoder::new(body).read_to_end(&mut out).map(drop).unwrap(),
        None => out.extend_from_slice(body),
        Some(other) => panic!("unexpected encoding {other}"),
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_script_comes_over_https_in_every_encoding_with_etags_and_304s() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let server = TestServer::start(&app, |s| s).await;
    let script = MANIFEST
        .iter()
        .filter(|a| a.path.ends_with(".js") || a.path.ends_with(".mjs"))
        .max_by_key(|a| std::fs::metadata(format!("static/{}", a.path)).unwrap().len())
        .unwrap();
    let original = std::fs::read(format!("static/{}", script.path)).unwrap();
    for (accept, expected) in
        [("br, gzip", Some("br")), ("gzip;q=1, br;q=0.5", Some("gzip")), ("identity", None)]
    {
        let (status, headers, body) = h2_get(&server, &script.url(), &[("accept-encoding", accept)]).await;
        assert_eq!(status, 200);
        let encoding = headers.get("content-encoding").map(|v| v.to_str().unwrap());
        assert_eq!(encoding, expected, "{accept}");
        assert_eq!(headers["content-length"].to_str().unwrap(), body.len().to_string());
        assert_eq!(decoded(encoding, &body), original, "{accept} decodes to the file");
        assert_eq!(headers["cache-control"], "public, max-age=31536000, immutable");
        assert_eq!(headers["vary"], "Accept-Encoding");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(headers["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));

        let etag = headers["etag"].to_str().unwrap().to_owned();
        let (status, again, body) =
            h2_get(&server, &script.url(), &[("accept-encoding", accept), ("if-none-match", &etag)]).await;
        assert_eq!(status, 304, "{accept}");
        assert!(body.is_empty());
        assert_eq!(again["etag"].to_str().unwrap(), etag);
    }
    server.shutdown().await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_answers_over_a_kibibyte_come_compressed_over_https() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let alice = app.user("alice").await;
    for n in 0..20 {
        app.create_note(&alice, &format!("Note {n}"), "a body long enough to make the list pass a kibibyte")
            .await;
    }
    let server = TestServer::start(&app, |s| s).await;
    let auth = format!("Bearer {}", alice.token);
    let (_, plain_headers, plain) = h2_get(&server, "/api/notes", &[("authorization", &auth)]).await;
    assert!(plain.len() > 1024 && !plain_headers.contains_key("content-encoding"));
    for encoding in ["br", "gzip"] {
        let (status, headers, body) =
            h2_get(&server, "/api/notes", &[("authorization", &auth), ("accept-encoding", encoding)]).await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-encoding"], encoding);
        assert!(body.len() < plain.len());
        assert_eq!(decoded(Some(encoding), &body), plain.to_vec());
        assert_eq!(headers["cache-control"], "no-store");
    }
    server.shutdown().await;
    app.teardown().await;
}
