//! The embedded web UI: `GET /` and `GET /static/<path>`.
//!
//! `build.rs` turns `static/` into content-hashed files with brotli and gzip
//! variants and a manifest; this module serves them. A hashed name
//! (`/static/app.3f9c2a1b4d5e6f70.js`) never changes content, so it is
//! cached for a year without asking again; the plain name (`/static/app.js`)
//! and the page at `/` are revalidated on every use with their ETag. Each
//! variant has its own strong ETag (`"<hash>"`, `"<hash>.br"`,
//! `"<hash>.gz"`), since their bytes differ.

use std::borrow::Cow;
use std::io::Cursor;

use rocket::http::Status;
use rocket::http::uri::fmt::Path;
use rocket::http::uri::{Origin, Segments};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::{Route, get, routes};
use rust_embed::RustEmbed;

use crate::error::{ApiResult, AppError};
use crate::http::encoding::{AcceptEncoding, Encoding};

/// The build's output: every file under its hashed name, plus `.br` and
/// `.gz` variants where the manifest says so.
#[derive(RustEmbed)]
#[folder = "$OUT_DIR/assets"]
struct Embedded;

/// A served file of `static/`, as the build described it.
#[derive(Debug)]
pub struct Asset {
    /// The path below `static/`: `vendor/marked/marked.esm.js`.
    pub path: &'static str,
    /// The path with the content hash: `vendor/marked/marked.esm.<hash>.js`.
    pub hashed: &'static str,
    /// With `; charset=utf-8` for text.
    pub content_type: &'static str,
    /// 16 hex digits of the SHA-256 of the file (after the build rewrote its
    /// references to other assets).
    pub hash: &'static str,
    /// Served under `hashed` as immutable; false for HTML, which is only
    /// served under its plain name.
    pub fingerprinted: bool,
    pub brotli: bool,
    pub gzip: bool,
}

/// Every served file, sorted by path. A few dozen at most: a linear search
/// costs less than hashing the name would.
pub static MANIFEST: &[Asset] = include!(concat!(env!("OUT_DIR"), "/asset_manifest.rs"));

impl Asset {
    /// The file at `static/<path>`.
    pub fn by_path(path: &str) -> Option<&'static Asset> {
        MANIFEST.iter().find(|asset| asset.path == path)
    }

    /// The file whose hashed name is `hashed`.
    pub fn by_hashed_name(hashed: &str) -> Option<&'static Asset> {
        MANIFEST.iter().find(|asset| asset.fingerprinted && asset.hashed == hashed)
    }

    /// The URL that never changes content: `/static/<hashed>` (the plain one
    /// for HTML).
    pub fn url(&self) -> String {
        format!("/static/{}", if self.fingerprinted { self.hashed } else { self.path })
    }

    /// The embedded bytes of one variant (borrowed from the binary).
    pub fn bytes(&self, encoding: Encoding) -> Option<Cow<'static, [u8]>> {
        Embedded::get(&format!("{}{}", self.hashed, encoding.suffix())).map(|file| file.data)
    }

    /// The variants the build kept (a smaller one only).
    fn encodings(&self) -> Vec<Encoding> {
        let mut encodings = Vec::with_capacity(2);
        if self.brotli {
            encodings.push(Encoding::Brotli);
        }
        if self.gzip {
            encodings.push(Encoding::Gzip);
        }
        encodings
    }
}

/// How long a response may be reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caching {
    /// The hashed URL: its content never changes.
    Immutable,
    /// Stored, but revalidated with the ETag before every use.
    Revalidate,
}

impl Caching {
    fn header(self) -> &'static str {
        match self {
            Self::Immutable => "public, max-age=31536000, immutable",
            Self::Revalidate => "no-cache",
        }
    }
}

/// An asset answer; the variant and the 304 are decided from the request.
pub struct Served {
    asset: &'static Asset,
    caching: Caching,
}

#[get("/")]
fn index() -> ApiResult<Served> {
    page()
}

/// The web UI's one page, which shows the view its address asks for.
pub fn page() -> ApiResult<Served> {
    let asset = Asset::by_path("index.html").ok_or(AppError::NotFound("page"))?;
    Ok(Served { asset, caching: Caching::Revalidate })
}

/// Anything not in the manifest is the JSON 404 of every other error, never
/// the page: a missing script must fail loudly. Lookups are exact matches against the
/// manifest, so `..` cannot reach outside it. Empty segments (which Rocket
/// skips: `/static/app.js/`) and a decoded `/` (`%2F`) are refused so that
/// one file has one address and relative URLs resolve as expected.
#[get("/static/<path..>")]
fn file(path: Segments<'_, Path>, uri: &Origin<'_>) -> ApiResult<Served> {
    let not_found = || AppError::NotFound("file");
    let raw = uri.path().as_str();
    if raw.ends_with('/') || raw.contains("//") {
        return Err(not_found());
    }
    if path.clone().any(|segment| segment.contains('/') || segment.contains('\\')) {
        return Err(not_found());
    }
    let name = path.collect::<Vec<&str>>().join("/");
    if let Some(asset) = Asset::by_hashed_name(&name) {
        return Ok(Served { asset, caching: Caching::Immutable });
    }
    let asset = Asset::by_path(&name).ok_or_else(not_found)?;
    Ok(Served { asset, caching: Caching::Revalidate })
}

impl<'r> Responder<'r, 'static> for Served {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        let Served { asset, caching } = self;
        let encoding = AcceptEncoding::from_headers(request.headers()).preferred(&asset.encodings());
        let etag = format!("\"{}{}\"", asset.hash, encoding.suffix());
        let mut response = Response::build();
        response
            .raw_header("ETag", etag.clone())
            .raw_header("Cache-Control", caching.header())
            .raw_header("Vary", "Accept-Encoding");
        if if_none_match(request, &etag) {
            return response.status(Status::NotModified).ok();
        }
        let Some(bytes) = asset.bytes(encoding) else {
            tracing::error!(path = asset.path, ?encoding, "an asset in the manifest is not embedded");
            return Err(Status::InternalServerError);
        };
        if let Some(coding) = encoding.content_coding() {
            response.raw_header("Content-Encoding", coding);
        }
        response
            .raw_header("Content-Type", asset.content_type)
            .sized_body(bytes.len(), Cursor::new(bytes))
            .ok()
    }
}

/// Whether the request's `If-None-Match` names `etag`, compared weakly as
/// RFC 9110 (section 13.1.2) asks: `W/"x"` matches `"x"`.
fn if_none_match(request: &Request<'_>, etag: &str) -> bool {
    request.headers().get("If-None-Match").any(|value| {
        value.trim() == "*" || entity_tags(value).any(|tag| tag.trim_start_matches("W/") == etag)
    })
}

/// The entity tags of a list such as `W/"a", "b,c"` (quotes kept; a comma
/// inside quotes belongs to the tag). Stops at anything malformed.
fn entity_tags(list: &str) -> impl Iterator<Item = &str> {
    let mut rest = list;
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        let start_of_tag = rest.strip_prefix("W/").unwrap_or(rest);
        let quoted = start_of_tag.strip_prefix('"')?;
        let end = quoted.find('"')?;
        let length = (rest.len() - start_of_tag.len()) + 1 + end + 1;
        let (tag, after) = rest.split_at(length);
        rest = after;
        Some(tag)
    })
}

pub fn routes() -> Vec<Route> {
    routes![index, file]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_tag_lists_are_split_outside_quotes() {
        let tags: Vec<&str> = entity_tags(r#"W/"a", "b,c" ,"d""#).collect();
        assert_eq!(tags, [r#"W/"a""#, r#""b,c""#, r#""d""#]);
        assert_eq!(entity_tags("").count(), 0);
        assert_eq!(entity_tags(r#""a", garbage, "b""#).collect::<Vec<_>>(), [r#""a""#]);
        assert_eq!(entity_tags(r#""unterminated"#).count(), 0);
    }

    #[test]
    fn the_manifest_lists_the_page_and_its_scripts() {
        let index = Asset::by_path("index.html");
        assert!(index.is_some_and(|asset| !asset.fingerprinted));
        let app = Asset::by_path("app.js");
        assert!(app.is_some_and(|asset| asset.fingerprinted && asset.hashed.starts_with("app.")));
        assert!(MANIFEST.iter().all(|asset| asset.bytes(Encoding::Identity).is_some()));
        assert!(MANIFEST.windows(2).all(|pair| pair[0].path < pair[1].path), "sorted, unique");
    }
}
