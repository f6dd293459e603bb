//! The embedded web UI: variants by `Accept-Encoding`, caching, ETags and
//! 304s, 404s; and the build's planning (reference rewriting, hashes,
//! cycles). The assets do not touch the database: SQLite only.

use std::path::Path;

use notes_appliance::http::assets::{Asset, MANIFEST};
use rocket::http::{Method, Status};
use sha2::{Digest, Sha256};

use crate::compression::{Raw, raw};
use crate::helpers::*;

/// The build script itself, to test its planning without I/O.
#[allow(dead_code)]
#[path = "../../build.rs"]
mod build_script;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Raw {
    raw(&app.client, Method::Get, path, headers).await
}

fn source(path: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("static").join(path)).unwrap()
}

fn asset(path: &str) -> &'static Asset {
    Asset::by_path(path).unwrap_or_else(|| panic!("{path} is embedded"))
}

fn sha_prefix(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect::<String>()[..16].to_owned()
}

/// The URLs an asset is served at, with the caching each gets.
fn urls(asset: &Asset) -> Vec<(String, &'static str)> {
    let mut urls = vec![(format!("/static/{}", asset.path), "no-cache")];
    if asset.fingerprinted {
        urls.push((format!("/static/{}", asset.hashed), IMMUTABLE));
    }
    if asset.path == "index.html" {
        urls.push(("/".to_owned(), "no-cache"));
    }
    urls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_asset_decodes_to_the_same_bytes_in_every_encoding_get_and_head() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    assert!(MANIFEST.len() >= 6, "{MANIFEST:?}");
    for asset in MANIFEST {
        let original = get(&app, &format!("/static/{}", asset.path), &[]).await.body;
        assert_eq!(sha_prefix(&original), asset.hash, "{}: the hash is of the served bytes", asset.path);
        for (url, cache_control) in urls(asset) {
            for (accept, expected) in [(None, None), (Some("br"), Some("br")), (Some("gzip"), Some("gzip"))] {
                let expected =
                    expected.filter(|coding| if *coding == "br" { asset.brotli } else { asset.gzip });
                let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept-Encoding", a)).into_iter().collect();
                let reply = get(&app, &url, &headers).await;
                let context = format!("GET {url} with {accept:?}");
                assert_eq!(reply.status, Status::Ok, "{context}");
                assert_eq!(reply.header("Content-Encoding"), expected, "{context}");
                assert_eq!(reply.header("Content-Type"), Some(asset.content_type), "{context}");
                assert_eq!(reply.header("Cache-Control"), Some(cache_control), "{context}");
                let suffix = match expected {
                    Some("br") => ".br",
                    Some(_) => ".gz",
                    None => "",
                };
                assert_eq!(
                    reply.header("ETag"),
                    Some(format!("\"{}{suffix}\"", asset.hash).as_str()),
                    "{context}"
                );
                assert!(reply.varies_on_accept_encoding(), "{context}");
                assert_eq!(
                    reply.announced,
                    Some(reply.body.len()),
                    "{context}: Content-Length is the body's"
                );
                assert_eq!(reply.decoded(), original, "{context}");
                if expected.is_some() {
                    assert!(
                        reply.body.len() < original.len(),
                        "{context}: a variant is kept only when smaller"
                    );
                }

                let head = raw(&app.client, Method::Head, &url, &headers).await;
                assert_eq!(head.status, Status::Ok, "HEAD {context}");
                assert!(head.body.is_empty(), "HEAD {context}");
                assert_eq!(
                    head.announced,
                    Some(reply.body.len()),
                    "HEAD {context} announces the GET's length"
                );
                assert_eq!(
                    head.header("Content-Encoding"),
                    reply.header("Content-Encoding"),
                    "HEAD {context}"
                );
                assert_eq!(head.header("ETag"), reply.header("ETag"), "HEAD {context}");
            }
        }
    }
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_without_references_are_served_byte_for_byte() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    for path in ["vendor/marked/marked.esm.js", "vendor/dompurify/purify.es.mjs", "style.css", "i18n.js"] {
        let reply = get(&app, &format!("/static/{path}"), &[]).await;
        assert_eq!(reply.body, source(path), "{path}");
    }
    let largest_script = MANIFEST
        .iter()
        .filter(|asset| asset.content_type.starts_with("text/javascript"))
        .max_by_key(|asset| asset.bytes(notes_appliance::http::encoding::Encoding::Identity).unwrap().len())
        .unwrap();
    assert_eq!(largest_script.path, "vendor/dompurify/purify.es.mjs");
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_links_hashed_urls_that_are_served_as_immutable() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let page = get(&app, "/", &[]).await;
    assert_eq!(page.header("Content-Type"), Some("text/html; charset=utf-8"));
    let html = String::from_utf8(page.body.clone()).unwrap();
    for path in ["app.js", "style.css", "favicon.svg"] {
        let asset = asset(path);
        assert!(html.contains(&format!("\"{}\"", asset.url())), "{path} is linked by its hashed URL: {html}");
        assert!(!html.contains(&format!("\"/static/{path}\"")), "{path}: no plain URL left: {html}");
    }
    assert!(html.contains(&format!("<script type=\"module\" src=\"{}\"></script>", asset("app.js").url())));
    assert!(!html.contains("style="), "no inline styles under the CSP");
    assert!(!html.contains("<script>"), "no inline scripts under the CSP");

    let mut linked = 0;
    for (at, _) in html.match_indices("\"/static/") {
        let url = &html[at + 1..][..html[at + 1..].find('"').unwrap()];
        let reply = get(&app, url, &[]).await;
        assert_eq!(reply.status, Status::Ok, "{url}");
        assert_eq!(reply.header("Cache-Control"), Some(IMMUTABLE), "{url}");
        linked += 1;
    }
    assert_eq!(linked, 3);
    let original = source("index.html");
    let rewritten = ["app.js", "style.css", "favicon.svg"]
        .iter()
        .fold(String::from_utf8(original).unwrap(), |html, path| {
            html.replace(&format!("/static/{path}"), &asset(path).url())
        });
    assert_eq!(html, rewritten, "only the references change");
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_is_only_served_for_revalidation() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let index = asset("index.html");
    for url in ["/", "/static/index.html"] {
        let reply = get(&app, url, &[]).await;
        assert_eq!(reply.status, Status::Ok, "{url}");
        assert_eq!(reply.header("Cache-Control"), Some("no-cache"), "{url}");
        assert_eq!(reply.header("ETag"), Some(format!("\"{}\"", index.hash).as_str()), "{url}");
    }
    let hashed = get(&app, &format!("/static/{}", index.hashed), &[]).await;
    assert_eq!(hashed.status, Status::NotFound, "HTML has no immutable URL");
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_encoding_quality_values_choose_the_variant() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let script = asset("vendor/dompurify/purify.es.mjs");
    assert!(script.brotli && script.gzip);
    let url = script.url();
    let cases = [
        ("br", Some("br")),
        ("gzip", Some("gzip")),
        ("gzip, deflate, br, zstd", Some("br")),
        ("gzip;q=0.5, br;q=0.1", Some("gzip")),
        ("br;q=0, gzip", Some("gzip")),
        ("br;q=0", None),
        ("br;q=0, *", Some("gzip")),
        ("*", Some("br")),
        ("*;q=0", None),
        ("*;q=0, gzip;q=0.2", Some("gzip")),
        ("identity", None),
        ("identity, gzip;q=0.5", None),
        ("identity;q=0", None),
        ("identity;q=0, gzip;q=0.1", Some("gzip")),
        ("identity;q=0, *", Some("br")),
        ("deflate", None),
        ("", None),
        ("BR;Q=1", Some("br")),
        ("x-gzip", Some("gzip")),
    ];
    for (accept, expected) in cases {
        let reply = get(&app, &url, &[("Accept-Encoding", accept)]).await;
        assert_eq!(reply.status, Status::Ok, "{accept}");
        assert_eq!(reply.header("Content-Encoding"), expected, "Accept-Encoding: {accept}");
        assert!(reply.varies_on_accept_encoding(), "{accept}");
        assert_eq!(
            reply.decoded().len(),
            script.bytes(notes_appliance::http::encoding::Encoding::Identity).unwrap().len()
        );
    }
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_none_match_with_the_variants_etag_is_304() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let script = asset("app.js");
    let hashed = script.url();
    let plain = format!("/static/{}", script.path);
    let (identity, br, gz) = (
        format!("\"{}\"", script.hash),
        format!("\"{}.br\"", script.hash),
        format!("\"{}.gz\"", script.hash),
    );
    let weak_br = format!("W/{br}");
    let list = format!("\"something-else\", W/{identity}, \"x,y\"");
    let cases: [(&str, &str, &str, Status, &str, &str); 11] = [
        (&hashed, "br", &br, Status::NotModified, &br, IMMUTABLE),
        (&hashed, "br", &weak_br, Status::NotModified, &br, IMMUTABLE),
        (&hashed, "identity", &list, Status::NotModified, &identity, IMMUTABLE),
        (&hashed, "gzip", "*", Status::NotModified, &gz, IMMUTABLE),
        (&plain, "gzip", &gz, Status::NotModified, &gz, "no-cache"),
        (&plain, "", &identity, Status::NotModified, &identity, "no-cache"),
        // The stored variant is not the one this request would get.
        (&hashed, "br", &identity, Status::Ok, &br, IMMUTABLE),
        (&hashed, "gzip", &br, Status::Ok, &gz, IMMUTABLE),
        (&hashed, "br", "\"nope\"", Status::Ok, &br, IMMUTABLE),
        (&plain, "br", &format!("\"{}.br", script.hash), Status::Ok, &br, "no-cache"),
        (&plain, "br", "", Status::Ok, &br, "no-cache"),
    ];
    for (url, accept, if_none_match, status, etag, cache_control) in cases {
        let headers = [("Accept-Encoding", accept), ("If-None-Match", if_none_match)];
        let context = format!("{url} Accept-Encoding: {accept}, If-None-Match: {if_none_match}");
        for method in [Method::Get, Method::Head] {
            let reply = raw(&app.client, method, url, &headers).await;
            assert_eq!(reply.status, status, "{method} {context}");
            assert_eq!(reply.header("ETag"), Some(etag), "{method} {context}");
            assert_eq!(reply.header("Cache-Control"), Some(cache_control), "{method} {context}");
            assert!(reply.varies_on_accept_encoding(), "{method} {context}");
            if status == Status::NotModified {
                assert!(reply.body.is_empty(), "{method} {context}");
                assert_eq!(reply.announced.unwrap_or(0), 0, "{method} {context}");
            }
        }
    }

    let page = get(&app, "/", &[("Accept-Encoding", "br")]).await;
    let etag = page.header("ETag").unwrap();
    let again = get(&app, "/", &[("Accept-Encoding", "br"), ("If-None-Match", etag)]).await;
    assert_eq!(again.status, Status::NotModified);
    assert_eq!(again.header("Cache-Control"), Some("no-cache"));
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anything_else_under_static_is_a_json_404() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let wrong_hash =
        format!("/static/{}", asset("app.js").hashed.replace(asset("app.js").hash, "0000000000000000"));
    let paths = [
        "/static/nope.js",
        "/static/",
        "/static/vendor",
        "/static/vendor/marked",
        "/static/README.md",
        "/static/vendor/README.md",
        "/static/vendor/marked/LICENSE",
        "/static/../Cargo.toml",
        "/static/%2e%2e/Cargo.toml",
        "/static/..%2FCargo.toml",
        "/static/vendor/../app.js",
        "/static/vendor%2Fmarked%2Fmarked.esm.js",
        "/static/vendor%5Cmarked%5Cmarked.esm.js",
        "/static/app.js/",
        "/static//app.js",
        "/static/vendor//marked/marked.esm.js",
        "/static/APP.JS",
        "/static/.hidden",
        "/index.html",
        "/app.js",
        &wrong_hash,
    ];
    for path in paths {
        let reply = Reply::from(
            app.client.get(path).header(rocket::http::Header::new("Accept", "text/html")).dispatch().await,
        )
        .await;
        assert_eq!(reply.status, Status::NotFound, "{path}");
        reply.assert_error(Status::NotFound, "not_found");
    }
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_content_types_fit_the_files() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    for (path, content_type) in [
        ("index.html", "text/html; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("vendor/dompurify/purify.es.mjs", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let reply = get(&app, &asset(path).url(), &[]).await;
        assert_eq!(reply.header("Content-Type"), Some(content_type), "{path}");
    }
    app.teardown().await;
}

mod build {
    use super::build_script::{Source, plan};

    fn sources(files: &[(&str, &str)]) -> Vec<Source> {
        let mut all = vec![Source { path: "index.html".into(), bytes: b"<p>page</p>".to_vec() }];
        all.extend(
            files
                .iter()
                .map(|(path, text)| Source { path: path.to_string(), bytes: text.as_bytes().to_vec() }),
        );
        all
    }

    fn text(assets: &[super::build_script::Asset], path: &str) -> String {
        String::from_utf8(assets.iter().find(|a| a.path == path).unwrap().bytes.clone()).unwrap()
    }

    #[test]
    fn references_become_hashed_urls_and_the_hash_covers_them() {
        let files = [
            ("a.css", "body { background: url(/static/img/b.svg); } /* see /static/img/b.svg. */"),
            ("img/b.svg", "<svg/>"),
            (
                "c.js",
                "import '/static/a.css'; fetch(\"/static/\" + name); 'https://example.com/static/zz.js'; '../static/zz.js'",
            ),
        ];
        let assets = plan(sources(&files)).unwrap();
        let b = assets.iter().find(|a| a.path == "img/b.svg").unwrap();
        assert_eq!(b.hashed, format!("img/b.{}.svg", b.hash));
        assert_eq!(b.hash.len(), 16);
        assert_eq!(
            text(&assets, "a.css"),
            format!("body {{ background: url(/static/{0}); }} /* see /static/{0}. */", b.hashed)
        );
        let a = assets.iter().find(|a| a.path == "a.css").unwrap();
        assert!(text(&assets, "c.js").starts_with(&format!("import '/static/{}';", a.hashed)));
        assert!(text(&assets, "c.js").ends_with("'https://example.com/static/zz.js'; '../static/zz.js'"));

        let changed = [("a.css", files[0].1), ("img/b.svg", "<svg></svg>"), ("c.js", files[2].1)];
        let again = plan(sources(&changed)).unwrap();
        let hash = |assets: &[super::build_script::Asset], path: &str| {
            assets.iter().find(|a| a.path == path).unwrap().hash.clone()
        };
        assert_ne!(hash(&again, "img/b.svg"), hash(&assets, "img/b.svg"));
        assert_ne!(hash(&again, "a.css"), hash(&assets, "a.css"), "a change propagates to what refers to it");
        assert_ne!(hash(&again, "c.js"), hash(&assets, "c.js"), "transitively");
        assert_eq!(hash(&again, "index.html"), hash(&assets, "index.html"));
    }

    #[test]
    fn pages_keep_their_plain_urls() {
        let assets = plan(sources(&[("help.html", "<a href=\"/static/index.html\">")])).unwrap();
        assert_eq!(text(&assets, "help.html"), "<a href=\"/static/index.html\">");
    }

    #[test]
    fn a_cycle_of_references_fails_the_build_naming_it() {
        let error = plan(sources(&[("a.js", "import '/static/b.js'"), ("b.js", "import '/static/a.js'")]))
            .unwrap_err();
        assert!(error.contains("static/a.js -> static/b.js -> static/a.js"), "{error}");
        let error = plan(sources(&[("self.css", "url(/static/self.css)")])).unwrap_err();
        assert!(error.contains("static/self.css -> static/self.css"), "{error}");
    }

    #[test]
    fn a_reference_to_a_missing_file_fails_the_build() {
        let error = plan(sources(&[("a.js", "import '/static/missing.js'")])).unwrap_err();
        assert!(error.contains("static/a.js refers to /static/missing.js"), "{error}");
    }

    #[test]
    fn an_unknown_file_type_fails_the_build() {
        let error = plan(sources(&[("data.bin", "x")])).unwrap_err();
        assert!(error.contains("static/data.bin: unknown file type"), "{error}");
    }

    #[test]
    fn the_page_at_the_root_is_required() {
        let error = plan(vec![Source { path: "app.js".into(), bytes: Vec::new() }]).unwrap_err();
        assert!(error.contains("static/index.html is missing"), "{error}");
    }

    #[test]
    fn binary_files_are_neither_rewritten_nor_compressed() {
        let png = "\u{89}PNG /static/index.html /static/nowhere.png";
        let assets = plan(sources(&[("logo.png", png)])).unwrap();
        let logo = assets.iter().find(|a| a.path == "logo.png").unwrap();
        assert_eq!(logo.bytes, png.as_bytes());
        assert!(!logo.kind.compress && !logo.kind.rewrite && logo.kind.fingerprint);
    }

    #[test]
    fn documentation_is_not_served() {
        use super::build_script::is_served;
        assert!(!is_served("README.md") && !is_served("LICENSE") && !is_served("LICENSE-MPL"));
        assert!(!is_served(".gitkeep"));
        assert!(is_served("app.js") && is_served("license-info.js") && is_served("readme-viewer.js"));
    }
}
