//! Compression of API responses by the compression fairing. The decoding
//! and raw-response helpers here serve the asset tests too.

use std::io::Read;
use std::time::Instant;

use notes_appliance::http::compression::{self, MIN_SIZE};
use notes_appliance::http::encoding::Encoding;
use rocket::http::{Header, Method, Status};
use rocket::local::asynchronous::Client;
use serde_json::Value;

use crate::helpers::*;

/// A response with its body as bytes, and the size the body announced
/// (what the listener sends as `Content-Length`, for HEAD too).
#[derive(Debug)]
pub struct Raw {
    pub status: Status,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub announced: Option<usize>,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body with its `Content-Encoding` undone.
    #[track_caller]
    pub fn decoded(&self) -> Vec<u8> {
        decode(self.header("Content-Encoding"), &self.body)
    }

    /// Whether `Vary` names `Accept-Encoding`.
    pub fn varies_on_accept_encoding(&self) -> bool {
        self.headers.iter().any(|(name, value)| {
            name.eq_ignore_ascii_case("Vary")
                && value.split(',').any(|v| v.trim().eq_ignore_ascii_case("Accept-Encoding"))
        })
    }
}

/// Sends `method path` with `headers` and reads the whole response.
pub async fn raw(client: &Client, method: Method, path: &str, headers: &[(&str, &str)]) -> Raw {
    let mut request = client.req(method, path.to_owned());
    for (name, value) in headers {
        request.add_header(Header::new(name.to_string(), value.to_string()));
    }
    let response = request.dispatch().await;
    let status = response.status();
    let headers = response.headers().iter().map(|h| (h.name().to_string(), h.value().to_string())).collect();
    let announced = response.body().preset_size();
    let body = response.into_bytes().await.unwrap_or_default();
    Raw { status, headers, body, announced }
}

#[track_caller]
pub fn decode(content_encoding: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::new();
    match content_encoding {
        None => decoded.extend_from_slice(body),
        Some("br") => {
            brotli::Decompressor::new(body, 4096).read_to_end(&mut decoded).expect("valid brotli");
        }
        Some("gzip") => {
            flate2::read::GzDecoder::new(body).read_to_end(&mut decoded).expect("valid gzip");
        }
        Some(other) => panic!("unexpected Content-Encoding {other}"),
    }
    decoded
}

/// Notes enough for a list well over `MIN_SIZE`.
async fn a_long_list(app: &TestApp, user: &TestUser) {
    for i in 0..12 {
        app.create_note(
            user,
            &format!("Note {i}"),
            &"Meeting minutes, action items and decisions. ".repeat(3),
        )
        .await;
    }
}

async fn list(app: &TestApp, user: &TestUser, accept_encoding: Option<&str>) -> Raw {
    let authorization = format!("Bearer {}", user.token);
    let mut headers = vec![("Authorization", authorization.as_str())];
    if let Some(value) = accept_encoding {
        headers.push(("Accept-Encoding", value));
    }
    raw(&app.client, Method::Get, "/api/notes", &headers).await
}

both_backends!(
    async fn a_long_note_list_is_compressed_when_the_client_accepts_it(app) {
        let alice = app.user("alice").await;
        a_long_list(app, &alice).await;
        let plain = list(app, &alice, None).await;
        assert_eq!(plain.status, Status::Ok);
        assert!(plain.body.len() > MIN_SIZE, "{} bytes", plain.body.len());
        let expected: Value = serde_json::from_slice(&plain.body).unwrap();

        for (accept, coding) in [("br", "br"), ("gzip", "gzip"), ("gzip, deflate, br", "gzip"), ("br, gzip", "gzip"), ("gzip;q=0.9, br", "br"), ("gzip;q=0.5, br;q=0.1", "gzip")] {
            let reply = list(app, &alice, Some(accept)).await;
            assert_eq!(reply.status, Status::Ok);
            assert_eq!(reply.header("Content-Encoding"), Some(coding), "{accept}");
            assert_eq!(reply.header("Content-Type"), Some("application/json"));
            assert!(reply.varies_on_accept_encoding(), "{reply:?}");
            assert!(reply.body.len() < plain.body.len() / 2, "{accept}: {} bytes", reply.body.len());
            assert_eq!(reply.announced, Some(reply.body.len()), "the size is the compressed size");
            assert_eq!(reply.header("Link"), plain.header("Link"), "other headers stay");
            let decoded: Value = serde_json::from_slice(&reply.decoded()).unwrap();
            assert_eq!(decoded, expected, "{accept}");
        }
    }
);

both_backends!(
    async fn a_long_note_list_is_sent_plain_to_a_client_that_does_not_accept_compression(app) {
        let alice = app.user("alice").await;
        a_long_list(app, &alice).await;
        for accept in [None, Some("identity"), Some(""), Some("br;q=0, gzip;q=0"), Some("deflate, zstd")] {
            let reply = list(app, &alice, accept).await;
            assert_eq!(reply.status, Status::Ok);
            assert_eq!(reply.header("Content-Encoding"), None, "{accept:?}");
            assert!(reply.varies_on_accept_encoding(), "{accept:?}: {reply:?}");
            assert!(reply.body.len() > MIN_SIZE);
            serde_json::from_slice::<Value>(&reply.body).unwrap();
        }
    }
);

both_backends!(
    async fn short_responses_are_not_compressed_but_still_vary(app) {
        let alice = app.user("alice").await;
        let note = app.create_note(&alice, "Short", "tiny").await;
        let authorization = format!("Bearer {}", alice.token);
        let headers = [("Authorization", authorization.as_str()), ("Accept-Encoding", "br, gzip")];
        for path in [format!("/api/notes/{}", note["id"]), "/api/notes".to_owned(), "/healthz".to_owned()] {
            let reply = raw(&app.client, Method::Get, &path, &headers).await;
            assert_eq!(reply.status, Status::Ok, "{path}");
            assert!(reply.body.len() <= MIN_SIZE, "{path}");
            assert_eq!(reply.header("Content-Encoding"), None, "{path}");
            assert!(reply.varies_on_accept_encoding(), "{path}: {reply:?}");
            serde_json::from_slice::<Value>(&reply.body).unwrap();
        }
        let missing = raw(&app.client, Method::Get, "/api/notes/999999", &headers).await;
        assert_eq!(missing.status, Status::NotFound);
        assert_eq!(missing.header("Content-Encoding"), None);
    }
);

both_backends!(
    async fn head_of_a_compressed_list_announces_the_compressed_length(app) {
        let alice = app.user("alice").await;
        a_long_list(app, &alice).await;
        let authorization = format!("Bearer {}", alice.token);
        let headers = [("Authorization", authorization.as_str()), ("Accept-Encoding", "gzip")];
        let get = raw(&app.client, Method::Get, "/api/notes", &headers).await;
        let head = raw(&app.client, Method::Head, "/api/notes", &headers).await;
        assert_eq!(head.status, Status::Ok);
        assert!(head.body.is_empty());
        assert_eq!(head.header("Content-Encoding"), Some("gzip"));
        assert_eq!(head.announced, Some(get.body.len()));
        assert!(head.varies_on_accept_encoding());
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_compressed_too() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let plain = raw(&app.client, Method::Get, "/openapi.json", &[]).await;
    let reply = raw(&app.client, Method::Get, "/openapi.json", &[("Accept-Encoding", "br")]).await;
    assert_eq!(reply.header("Content-Encoding"), Some("br"));
    assert_eq!(reply.decoded(), plain.body);
    assert!(plain.varies_on_accept_encoding());
    app.teardown().await;
}

/// Not a test: what compressing a page of 50 notes costs, per response.
/// Meaningful in an optimised build:
/// `cargo test --release --test api -- --ignored --nocapture compression_cost`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; prints figures"]
async fn compression_cost() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let alice = app.user("alice").await;
    for i in 0..50 {
        let body = format!(
            "Item {i}: follow up with the team about the deployment plan, the budget and the schedule."
        );
        app.create_note(&alice, &format!("Meeting notes {i}"), &body).await;
    }
    let page = list(&app, &alice, None).await.body;
    for encoding in [Encoding::Brotli, Encoding::Gzip] {
        let rounds = 500;
        let mut size = 0;
        let started = Instant::now();
        for _ in 0..rounds {
            size = compression::compress(&page, encoding).unwrap().len();
        }
        let micros = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
        println!("{encoding:?}: {} -> {size} bytes, {micros:.0} µs per response", page.len());
    }
    app.teardown().await;
}
