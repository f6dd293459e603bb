//! The listeners, over real sockets and real TLS in this process: the HTTPS
//! one and the plain one that redirects. These test connection handling,
//! which does not depend on the database, so they run on SQLite only.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use notes_appliance::app::build_rocket;
use notes_appliance::config::Sources;
use notes_appliance::listener::{self, Endpoint};
use notes_appliance::tls::Certificates;
use rocket::local::asynchronous::Client;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::client::TlsStream;

use crate::helpers::*;
use crate::tls;

pub struct TestServer {
    /// The HTTPS listener.
    pub address: SocketAddr,
    /// The plain-HTTP listener that redirects.
    pub plain: SocketAddr,
    pub certificates: std::sync::Arc<Certificates>,
    certificate: std::path::PathBuf,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl TestServer {
    /// Serves `app`'s database on free loopback ports with changed settings,
    /// with a self-signed certificate in the test's data directory.
    pub async fn start(app: &TestApp, configure: impl FnOnce(Sources) -> Sources) -> Self {
        let sources = configure(app.store.sources().set("port", 0));
        let config = sources.load().unwrap();
        let (certificates, _) = Certificates::load(&config.tls).unwrap();
        let tcp = listener::bind(config.listen.address).unwrap();
        let address = tcp.local_addr().unwrap();
        let plain_tcp = listener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let plain = plain_tcp.local_addr().unwrap();
        let mut settings = config.listen.clone();
        settings.address = address;
        let certificate = tls::certificate_in(&config.data_dir);
        let endpoints =
            vec![Endpoint::https(tcp, certificates.server_config().unwrap()), Endpoint::redirect(plain_tcp)];
        let client =
            Client::untracked(build_rocket(sources.figment().clone(), config, app.db.clone())).await.unwrap();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(listener::serve(endpoints, client, settings, async {
            let _ = stopped.await;
        }));
        Self { address, plain, certificates, certificate, stop, task }
    }

    /// A TLS 1.3/1.2 HTTP/1.1 connection that trusts the server's certificate.
    pub async fn connect(&self) -> TlsStream<TcpStream> {
        tls::connect(self.address, self.client()).await.unwrap()
    }

    pub fn client(&self) -> std::sync::Arc<rustls::ClientConfig> {
        tls::http1_client(&self.certificate)
    }

    pub fn certificate_file(&self) -> &std::path::Path {
        &self.certificate
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(15), self.task).await.expect("server stops").unwrap();
    }
}

/// Sends raw bytes and reads until the server closes or a whole response
/// (by Content-Length) has arrived.
pub async fn exchange(stream: &mut (impl AsyncRead + AsyncWrite + Unpin), request: &[u8]) -> String {
    stream.write_all(request).await.unwrap();
    read_response(stream, !request.starts_with(b"HEAD ")).await
}

/// Reads one response; `with_body` is false for the answer to a HEAD.
pub async fn read_response(stream: &mut (impl AsyncRead + Unpin), with_body: bool) -> String {
    let mut received = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
            .await
            .expect("a response")
            .unwrap();
        if n == 0 {
            break;
        }
        received.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&received);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .filter(|_| with_body)
                .unwrap_or(0);
            if received.len() >= end + 4 + length {
                break;
            }
        }
    }
    String::from_utf8_lossy(&received).into_owned()
}

/// Whether the server closes the connection within `within`.
pub async fn closed_within(stream: &mut (impl AsyncRead + Unpin), within: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    matches!(tokio::time::timeout(within, stream.read(&mut buffer)).await, Ok(Ok(0) | Err(_)))
}

pub const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_headers_is_cut_off_while_others_are_served() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let server = TestServer::start(&app, |s| s.set("notes.header_read_timeout", 3)).await;
    let mut slow = server.connect().await;
    let started = Instant::now();
    let trickle = async {
        for byte in b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if slow.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let others = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut fast = server.connect().await;
        let asked = Instant::now();
        let response = exchange(&mut fast, HEALTHZ).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        asked.elapsed()
    };
    let ((), served_in) = tokio::join!(trickle, others);

    assert!(served_in < Duration::from_millis(500), "the other client was served at once ({served_in:?})");
    assert!(closed_within(&mut slow, Duration::from_secs(1)).await, "the slow client was disconnected");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "within about the header timeout ({:?})",
        started.elapsed()
    );
    server.shutdown().await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout_but_not_before() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let server =
        TestServer::start(&app, |s| s.set("notes.idle_timeout", 2).set("notes.header_read_timeout", 1)).await;
    let mut stream = server.connect().await;

    assert!(exchange(&mut stream, HEALTHZ).await.starts_with("HTTP/1.1 200"));
    // Longer than the header timeout: idle is not the same as slow.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(exchange(&mut stream, HEALTHZ).await.starts_with("HTTP/1.1 200"), "still open after 1.3 s");

    let idle = Instant::now();
    assert!(closed_within(&mut stream, Duration::from_secs(5)).await);
    let waited = idle.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(4),
        "closed after {waited:?}"
    );
    server.shutdown().await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_until_a_slot_frees() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let server =
        TestServer::start(&app, |s| s.set("notes.max_connections", 2).set("notes.idle_timeout", 1)).await;
    let mut first = server.connect().await;
    let mut second = server.connect().await;
    assert!(exchange(&mut first, HEALTHZ).await.starts_with("HTTP/1.1 200"));
    assert!(exchange(&mut second, HEALTHZ).await.starts_with("HTTP/1.1 200"));

    let waited = Instant::now();
    let mut third = server.connect().await;
    let response = exchange(&mut third, HEALTHZ).await;

    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        waited.elapsed() >= Duration::from_millis(500),
        "served only once an idle slot was closed ({:?})",
        waited.elapsed()
    );
    server.shutdown().await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_are_413_whether_declared_or_streamed() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let alice = app.user("alice").await;
    let server = TestServer::start(&app, |s| s.set("notes.body_limit", "4 KiB")).await;

    let mut declared = server.connect().await;
    let head = format!(
        "POST /api/notes HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n",
        alice.token
    );
    let response = exchange(&mut declared, head.as_bytes()).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains(r#""code":"payload_too_large""#), "{response}");

    let mut chunked = server.connect().await;
    let head = format!(
        "POST /api/notes HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        alice.token
    );
    chunked.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("1000\r\n{}\r\n", "x".repeat(4096));
    for _ in 0..3 {
        let _ = chunked.write_all(chunk.as_bytes()).await;
    }
    let response = read_response(&mut chunked, true).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert_eq!(app.count("notes").await, 0);
    server.shutdown().await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_arrives_is_408() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let alice = app.user("alice").await;
    let server = TestServer::start(&app, |s| s.set("notes.body_read_timeout", 1)).await;
    let mut stream = server.connect().await;
    let head = format!(
        "POST /api/notes HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"title\"",
        alice.token
    );
    let started = Instant::now();
    let response = exchange(&mut stream, head.as_bytes()).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(started.elapsed() < Duration::from_secs(5));
    server.shutdown().await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_answers_with_the_get_length_and_no_body() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let server = TestServer::start(&app, |s| s).await;
    let mut stream = server.connect().await;
    let get = exchange(&mut stream, HEALTHZ).await;
    let head = exchange(&mut stream, b"HEAD /healthz HTTP/1.1\r\nHost: test\r\n\r\n").await;
    let length =
        |r: &str| r.lines().find(|l| l.to_ascii_lowercase().starts_with("content-length")).map(str::to_owned);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(length(&head), length(&get));
    assert!(head.ends_with("\r\n\r\n"), "no body: {head:?}");
    server.shutdown().await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_204_has_no_content_length() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let alice = app.user("alice").await;
    let note = app.create_note(&alice, "doomed", "").await;
    let server = TestServer::start(&app, |s| s).await;
    let mut stream = server.connect().await;
    let request = format!(
        "DELETE /api/notes/{} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\n\r\n",
        note["id"], alice.token
    );
    let response = exchange(&mut stream, request.as_bytes()).await;
    assert!(response.starts_with("HTTP/1.1 204"), "{response}");
    assert!(!response.to_ascii_lowercase().contains("content-length"), "{response}");
    server.shutdown().await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_is_negotiated_by_alpn() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let alice = app.user("alice").await;
    let server = TestServer::start(&app, |s| s).await;
    let h2 = tls::client(server.certificate_file(), &[&rustls::version::TLS13], &["h2", "http/1.1"]);
    let stream = tls::connect(server.address, h2).await.unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let request = hyper::Request::get(format!("https://localhost:{}/api/notes", server.address.port()))
        .header("Authorization", format!("Bearer {}", alice.token))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.version(), hyper::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    assert_eq!(response.into_body().collect().await.unwrap().to_bytes(), "[]");
    server.shutdown().await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_ascii_request_targets_and_unknown_methods_get_json_errors() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let server = TestServer::start(&app, |s| s).await;
    let mut stream = server.connect().await;
    let response =
        exchange(&mut stream, "GET /api/notes?q=배포 HTTP/1.1\r\nHost: t\r\n\r\n".as_bytes()).await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(response.contains(r#""code":"bad_request""#), "{response}");
    let mut stream = server.connect().await;
    let response = exchange(&mut stream, b"QUERY /api/notes HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 405"), "{response}");
    assert!(response.to_ascii_lowercase().contains("allow: get, head, post"), "{response}");
    let mut stream = server.connect().await;
    let response = exchange(&mut stream, b"BREW /coffee HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    server.shutdown().await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_an_in_flight_request_finish_and_refuses_new_connections() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let alice = app.user("alice").await;
    let server = TestServer::start(&app, |s| s).await;
    let address = server.address;
    let mut stream = server.connect().await;
    let body = r#"{"title":"in flight"}"#;
    let head = format!(
        "POST /api/notes HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        alice.token,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body.as_bytes()[..5]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let stopping = tokio::spawn(server.shutdown());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let response = exchange(&mut stream, &body.as_bytes()[5..]).await;

    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    tokio::time::timeout(Duration::from_secs(5), stopping).await.expect("shutdown completes").unwrap();
    assert!(TcpStream::connect(address).await.is_err(), "no longer accepting");
    assert_eq!(app.count("notes").await, 1);
    app.teardown().await;
}
