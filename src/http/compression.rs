//! Compression of API responses: a response fairing that encodes a large
//! enough body of a compressible type with brotli or gzip when the client
//! accepts it. The embedded assets are compressed at build time and choose
//! their own variant, so responses that already vary on `Accept-Encoding`
//! are left as they are.

use std::cell::RefCell;
use std::io::{self, Cursor};

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Header, Status};
use rocket::{Request, Response};

use tokio::io::AsyncReadExt;

use crate::error::error_body;
use crate::http::encoding::{AcceptEncoding, Encoding};

/// Below this, compressing saves less than it costs: the headers alone are
/// a few hundred bytes, and a short body shrinks little.
pub const MIN_SIZE: usize = 1024;
/// Fast settings for answers made per request. On a page of 50 notes (14 KB
/// of JSON, optimised build, one core): gzip 1 takes ~30 µs for 1.5 KB,
/// gzip 6 ~75 µs for 1.3 KB, brotli 4 ~80-90 µs for 1.0 KB, but brotli's
/// encoder also allocates and zeroes hash tables of hundreds of KiB per
/// response, which under load costs more than the compression itself (the
/// benchmark's HTTPS GET fell from ~6,000 to ~2,000 req/s). So gzip is
/// preferred when a client accepts both, as nginx and Caddy do for dynamic
/// content; brotli serves clients that ask for it alone or prefer it by
/// q-value. `compression_cost` in tests/api/compression.rs prints figures.
pub const BROTLI_QUALITY: i32 = 4;
pub const GZIP_LEVEL: u32 = 1;
/// Bodies larger than this are compressed on the blocking pool rather than
/// on the thread that runs requests.
const INLINE_LIMIT: usize = 64 * 1024;

/// The fairing; attach it once, in `build_rocket`.
pub struct Compression;

#[rocket::async_trait]
impl Fairing for Compression {
    fn info(&self) -> Info {
        Info { name: "Compression", kind: Kind::Response }
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        if !has_compressible_type(response) || already_negotiated(response) {
            return;
        }
        // Whether or not this one is compressed, a cache must not hand it to
        // a client that asked differently.
        response.adjoin_header(Header::new("Vary", "Accept-Encoding"));
        if matches!(response.status(), Status::NoContent | Status::NotModified | Status::PartialContent) {
            return;
        }
        // Streamed bodies (of unknown size) are left alone.
        if response.body().preset_size().is_none_or(|size| size <= MIN_SIZE) {
            return;
        }
        let encoding =
            AcceptEncoding::from_headers(request.headers()).preferred(&[Encoding::Gzip, Encoding::Brotli]);
        let Some(coding) = encoding.content_coding() else {
            return;
        };
        let mut body = Vec::with_capacity(response.body().preset_size().unwrap_or(0));
        let body = match response.body_mut().read_to_end(&mut body).await.map(|_| body) {
            Ok(body) => body,
            Err(e) => {
                tracing::error!(error = %e, "compression: cannot read the response body");
                return internal_error(response);
            }
        };
        let (body, compressed) = if body.len() <= INLINE_LIMIT {
            let compressed = compress(&body, encoding);
            (body, compressed)
        } else {
            let work = move || {
                let compressed = compress(&body, encoding);
                (body, compressed)
            };
            match tokio::task::spawn_blocking(work).await {
                Ok(done) => done,
                Err(e) => {
                    tracing::error!(error = %e, "compression: the compressing task failed");
                    return internal_error(response);
                }
            }
        };
        match compressed {
            Ok(compressed) if compressed.len() < body.len() => {
                response.set_header(Header::new("Content-Encoding", coding));
                weaken_etag(response);
                response.set_sized_body(compressed.len(), Cursor::new(compressed));
            }
            result => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "compression failed; sending the body as it is");
                }
                response.set_sized_body(body.len(), Cursor::new(body));
            }
        }
    }
}

/// The body is lost: answer the opaque 500 of every other failure, keeping
/// the headers other fairings have set.
fn internal_error(response: &mut Response<'_>) {
    let body = error_body("internal", "internal error");
    response.set_status(Status::InternalServerError);
    response.set_header(ContentType::JSON);
    response.remove_header("ETag");
    response.set_sized_body(body.len(), Cursor::new(body));
}

/// Text and the structured formats served as text; not images, archives
/// or fonts, which are compressed already.
fn has_compressible_type(response: &Response<'_>) -> bool {
    let Some(content_type) = response.content_type() else {
        return false;
    };
    let (top, sub) = (content_type.top(), content_type.sub());
    top == "text"
        || sub
            .as_str()
            .rsplit_once('+')
            .is_some_and(|(_, suffix)| ["json", "xml"].iter().any(|s| suffix.eq_ignore_ascii_case(s)))
        || (top == "application" && ["json", "javascript", "xml", "wasm"].iter().any(|known| sub == *known))
}

/// A response already encoded, or whose handler chose among encodings.
fn already_negotiated(response: &Response<'_>) -> bool {
    response.headers().contains("Content-Encoding")
        || response.headers().get("Vary").any(|vary| {
            vary.split(',')
                .any(|name| name.trim() == "*" || name.trim().eq_ignore_ascii_case("Accept-Encoding"))
        })
}

/// The compressed and the plain body must not share a strong ETag (a strong
/// tag promises identical bytes). Weakening, as nginx does, rather than
/// suffixing keeps `If-None-Match` working: handlers compare weakly, so
/// `W/"x"` still matches the `"x"` they compute.
fn weaken_etag(response: &mut Response<'_>) {
    if let Some(etag) = response.headers().get_one("ETag")
        && !etag.starts_with("W/")
    {
        let weak = format!("W/{etag}");
        response.set_header(Header::new("ETag", weak));
    }
}

/// `bytes` in `encoding` at the run-time settings.
pub fn compress(bytes: &[u8], encoding: Encoding) -> io::Result<Vec<u8>> {
    match encoding {
        Encoding::Brotli => {
            // A window as large as the body, so nothing is lost, but no
            // smaller than 2^18: below that, qualities 5 and up take 15 to 30
            // times longer in this encoder (measured: 3 ms instead of 0.1
            // for 2 KB of JSON with a 2^16 window). Larger windows cost
            // time to set up for nothing.
            let needed = usize::BITS - bytes.len().saturating_sub(1).leading_zeros();
            let params = brotli::enc::BrotliEncoderParams {
                quality: BROTLI_QUALITY,
                lgwin: needed.clamp(18, 22) as i32,
                size_hint: bytes.len(),
                ..Default::default()
            };
            let mut out = Vec::with_capacity(bytes.len() / 4);
            brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)?;
            Ok(out)
        }
        Encoding::Gzip => gzip(bytes),
        Encoding::Identity => Ok(bytes.to_vec()),
    }
}

thread_local! {
    /// One deflate state per thread, reset for each response: allocating
    /// (and zeroing) its ~300 KiB of tables anew for every response costs
    /// more than compressing a page of notes.
    static DEFLATE: RefCell<Option<flate2::Compress>> = const { RefCell::new(None) };
}

/// The gzip format (RFC 1952) around a reused deflate state.
fn gzip(bytes: &[u8]) -> io::Result<Vec<u8>> {
    // ID1 ID2, deflate, no flags, no modification time, no extra flags, OS unknown.
    const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut out = Vec::with_capacity(bytes.len() / 2 + 64);
    out.extend_from_slice(&HEADER);
    DEFLATE.with(|cell| {
        let mut state = cell.borrow_mut();
        let deflate =
            state.get_or_insert_with(|| flate2::Compress::new(flate2::Compression::new(GZIP_LEVEL), false));
        deflate.reset();
        loop {
            let consumed = usize::try_from(deflate.total_in()).unwrap_or(usize::MAX).min(bytes.len());
            let status = deflate
                .compress_vec(&bytes[consumed..], &mut out, flate2::FlushCompress::Finish)
                .map_err(io::Error::other)?;
            if status == flate2::Status::StreamEnd {
                return Ok::<_, io::Error>(());
            }
            out.reserve(out.capacity().max(1024));
        }
    })?;
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE is the length modulo 2^32.
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn both_codings_round_trip() {
        let text = "{\"title\": \"compressible\"}, ".repeat(200);
        let brotli = compress(text.as_bytes(), Encoding::Brotli).unwrap();
        let mut decoded = String::new();
        brotli::Decompressor::new(&brotli[..], 4096).read_to_string(&mut decoded).unwrap();
        assert_eq!(decoded, text);
        assert!(brotli.len() < text.len() / 10);

        let gzip = compress(text.as_bytes(), Encoding::Gzip).unwrap();
        let mut decoded = String::new();
        flate2::read::GzDecoder::new(&gzip[..]).read_to_string(&mut decoded).unwrap();
        assert_eq!(decoded, text);
    }

    #[test]
    fn the_reused_gzip_state_starts_afresh_for_every_body() {
        // Incompressible bytes make the output outgrow its first allocation.
        let mut noise = Vec::new();
        let mut x: u32 = 1;
        for _ in 0..200_000 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            noise.push((x >> 24) as u8);
        }
        for body in [b"{\"a\": 1}".repeat(500), noise, Vec::new(), b"short".to_vec()] {
            let gzip = compress(&body, Encoding::Gzip).unwrap();
            let mut decoded = Vec::new();
            flate2::read::GzDecoder::new(&gzip[..]).read_to_end(&mut decoded).unwrap();
            assert_eq!(decoded, body);
        }
    }

    #[test]
    fn a_strong_etag_is_weakened_and_a_weak_one_kept() {
        let mut response = Response::build().raw_header("ETag", "\"v1\"").finalize();
        weaken_etag(&mut response);
        assert_eq!(response.headers().get_one("ETag"), Some("W/\"v1\""));
        weaken_etag(&mut response);
        assert_eq!(response.headers().get_one("ETag"), Some("W/\"v1\""));
    }

    #[test]
    fn text_and_structured_text_are_compressible_media_is_not() {
        let with_type = |value: &'static str| Response::build().raw_header("Content-Type", value).finalize();
        for value in [
            "application/json",
            "application/problem+json",
            "text/html; charset=utf-8",
            "text/plain",
            "image/svg+xml",
            "application/javascript",
            "Application/JSON",
        ] {
            assert!(has_compressible_type(&with_type(value)), "{value}");
        }
        for value in ["image/png", "application/octet-stream", "font/woff2", "application/gzip"] {
            assert!(!has_compressible_type(&with_type(value)), "{value}");
        }
        assert!(!has_compressible_type(&Response::new()));
    }

    #[test]
    fn a_response_that_chose_its_encoding_is_left_alone() {
        let vary = |value: &'static str| Response::build().raw_header("Vary", value).finalize();
        assert!(already_negotiated(&vary("Accept-Encoding")));
        assert!(already_negotiated(&vary("Origin, accept-encoding")));
        assert!(already_negotiated(&vary("*")));
        assert!(!already_negotiated(&vary("Origin")));
        assert!(already_negotiated(&Response::build().raw_header("Content-Encoding", "gzip").finalize()));
        assert!(!already_negotiated(&Response::new()));
    }

    #[test]
    fn the_brotli_window_fits_tiny_and_empty_bodies() {
        for text in ["", "a", "ab"] {
            let brotli = compress(text.as_bytes(), Encoding::Brotli).unwrap();
            let mut decoded = String::new();
            brotli::Decompressor::new(&brotli[..], 4096).read_to_string(&mut decoded).unwrap();
            assert_eq!(decoded, text);
        }
    }
}
