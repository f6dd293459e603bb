//! Turns `static/` into the embedded web assets (see static/README.md).
//!
//! Every served file is written to `$OUT_DIR/assets/` under its
//! content-hashed name (`app.3f9c2a1b4d5e6f70.js`), with a brotli (`.br`)
//! and a gzip (`.gz`) variant beside it when they are smaller, and listed in
//! `$OUT_DIR/asset_manifest.rs`, which `src/http/assets.rs` includes.
//! References `/static/<path>` inside text assets are rewritten to the
//! hashed URLs first, in dependency order, so that a file's hash covers the
//! hashes of the files it refers to: when `style.css` changes, so does
//! `index.html`.
//!
//! `plan` does no I/O; the API tests include this file to test it.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};

/// Hex digits of the SHA-256 that name a version of a file: 64 bits, plenty
/// to tell the versions of one file apart.
const HASH_LEN: usize = 16;
/// Assets are compressed once, at build time, so the slowest settings pay.
const BROTLI_QUALITY: i32 = 11;
const GZIP_LEVEL: u32 = 9;
/// The URL prefix under which `static/` is served.
const PREFIX: &[u8] = b"/static/";

fn main() -> Result<(), Failure> {
    println!("cargo::rerun-if-changed=static");
    let started = Instant::now();
    let static_dir = PathBuf::from(env("CARGO_MANIFEST_DIR")?).join("static");
    let out_dir = PathBuf::from(env("OUT_DIR")?);
    let mut sources = Vec::new();
    read_sources(&static_dir, "", &mut sources)?;
    sources.sort_by(|a, b| a.path.cmp(&b.path));
    let assets = plan(sources).map_err(Failure)?;
    write(&out_dir, &assets)?;
    // In target/<profile>/build/notes-appliance-*/stderr, or with `cargo build -vv`.
    eprintln!("built {} web assets in {:.2?}", assets.len(), started.elapsed());
    Ok(())
}

/// A build failure; `Debug` is what cargo shows, so it is the plain message.
pub struct Failure(String);

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn env(name: &str) -> Result<String, Failure> {
    std::env::var(name).map_err(|e| Failure(format!("{name}: {e}")))
}

fn io_failure(path: &Path, e: std::io::Error) -> Failure {
    Failure(format!("{}: {e}", path.display()))
}

/// A file of `static/` that is served.
pub struct Source {
    /// The path below `static/`, with `/` separators: `vendor/marked/marked.esm.js`.
    pub path: String,
    pub bytes: Vec<u8>,
}

/// What the build does with a type of file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub content_type: &'static str,
    /// Text in which `/static/<path>` references are rewritten.
    pub rewrite: bool,
    /// Worth compressing (not already a compressed format).
    pub compress: bool,
    /// Served under its hashed name, immutable. HTML is not: pages are
    /// entered by their plain address and always revalidated.
    pub fingerprint: bool,
}

/// The file types the web UI may use, by extension. An unknown one fails the
/// build rather than being served with a guessed type.
pub fn kind(path: &str) -> Option<Kind> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let (_, extension) = name.rsplit_once('.')?;
    let (content_type, rewrite, compress) = match extension.to_ascii_lowercase().as_str() {
        "html" => ("text/html; charset=utf-8", true, true),
        "css" => ("text/css; charset=utf-8", true, true),
        "js" | "mjs" => ("text/javascript; charset=utf-8", true, true),
        "json" => ("application/json", true, true),
        "webmanifest" => ("application/manifest+json", true, true),
        "svg" => ("image/svg+xml", true, true),
        "txt" => ("text/plain; charset=utf-8", false, true),
        "ico" => ("image/x-icon", false, true),
        "wasm" => ("application/wasm", false, true),
        "png" => ("image/png", false, false),
        "jpg" | "jpeg" => ("image/jpeg", false, false),
        "gif" => ("image/gif", false, false),
        "webp" => ("image/webp", false, false),
        "avif" => ("image/avif", false, false),
        "woff2" => ("font/woff2", false, false),
        "woff" => ("font/woff", false, false),
        _ => return None,
    };
    Some(Kind { content_type, rewrite, compress, fingerprint: !extension.eq_ignore_ascii_case("html") })
}

/// Documentation for developers (`README*`, `LICENSE*` in capitals, as
/// upstream projects name them; the licences ship with the source and the
/// package) and dot files stay out of the web root.
pub fn is_served(file_name: &str) -> bool {
    !["README", "LICENSE", "."].iter().any(|prefix| file_name.starts_with(prefix))
}

/// A served file in its final form.
#[derive(Debug)]
pub struct Asset {
    pub path: String,
    /// `path` with the hash before the extension: the name it is embedded
    /// under, and served under when `kind.fingerprint`.
    pub hashed: String,
    /// The first `HASH_LEN` hex digits of the SHA-256 of `bytes`.
    pub hash: String,
    pub kind: Kind,
    pub bytes: Vec<u8>,
}

/// `/static/<path>` inside a file: the byte range of `<path>`, and the
/// index of the file it names.
struct Reference {
    start: usize,
    end: usize,
    target: usize,
}

/// Rewrites references and computes hashes, dependencies first. The result
/// is in the order of `sources`.
pub fn plan(sources: Vec<Source>) -> Result<Vec<Asset>, String> {
    let index: BTreeMap<&str, usize> =
        sources.iter().enumerate().map(|(i, s)| (s.path.as_str(), i)).collect();
    if !index.contains_key("index.html") {
        return Err("static/index.html is missing: `/` serves it".to_owned());
    }
    let kinds = sources
        .iter()
        .map(|source| {
            kind(&source.path).ok_or_else(|| {
                format!("static/{}: unknown file type; add its extension to `kind` in build.rs", source.path)
            })
        })
        .collect::<Result<Vec<Kind>, String>>()?;
    let mut references = Vec::with_capacity(sources.len());
    for (source, kind) in sources.iter().zip(&kinds) {
        let mut found = Vec::new();
        if kind.rewrite {
            for (start, end) in find_references(&source.bytes) {
                let path = String::from_utf8_lossy(&source.bytes[start..end]);
                let Some(&target) = index.get(path.as_ref()) else {
                    return Err(format!(
                        "static/{} refers to /static/{path}, which is not a served file of static/",
                        source.path
                    ));
                };
                // Pages keep their plain address (see `Kind::fingerprint`).
                if kinds[target].fingerprint {
                    found.push(Reference { start, end, target });
                }
            }
        }
        references.push(found);
    }

    let mut assets: Vec<Option<Asset>> = sources.iter().map(|_| None).collect();
    for i in dependency_order(&sources, &references)? {
        let source = &sources[i];
        let mut bytes = Vec::with_capacity(source.bytes.len());
        let mut copied = 0;
        for reference in &references[i] {
            let Some(target) = &assets[reference.target] else {
                return Err(format!("static/{}: a reference was rewritten before its target", source.path));
            };
            bytes.extend_from_slice(&source.bytes[copied..reference.start]);
            bytes.extend_from_slice(target.hashed.as_bytes());
            copied = reference.end;
        }
        bytes.extend_from_slice(&source.bytes[copied..]);
        let digest = Sha256::digest(&bytes);
        let hash = digest.iter().fold(String::new(), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        });
        let hash = hash[..HASH_LEN].to_owned();
        let hashed = hashed_name(&source.path, &hash);
        assets[i] = Some(Asset { path: source.path.clone(), hashed, hash, kind: kinds[i], bytes });
    }
    Ok(assets.into_iter().flatten().collect())
}

/// `dir/stem.ext` -> `dir/stem.<hash>.ext`.
fn hashed_name(path: &str, hash: &str) -> String {
    match path.rsplit_once('.') {
        Some((stem, extension)) => format!("{stem}.{hash}.{extension}"),
        None => format!("{path}.{hash}"),
    }
}

/// Byte ranges of the `<path>` in every `/static/<path>` that stands on its
/// own: not the tail of a longer URL or path (`https://host/static/x`,
/// `../static/x`), and naming a file rather than a folder (`"/static/" + name`).
fn find_references(bytes: &[u8]) -> Vec<(usize, usize)> {
    let is_path_byte = |b: u8| b.is_ascii_alphanumeric() || b"-._~/".contains(&b);
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = bytes[from..].windows(PREFIX.len()).position(|w| w == PREFIX).map(|p| p + from) {
        let start = at + PREFIX.len();
        let mut end = start;
        while end < bytes.len() && is_path_byte(bytes[end]) {
            end += 1;
        }
        // A sentence may end right after a path.
        while end > start && bytes[end - 1] == b'.' {
            end -= 1;
        }
        let standalone = at == 0 || !(is_path_byte(bytes[at - 1]) || bytes[at - 1] == b'%');
        if standalone && end > start && bytes[end - 1] != b'/' {
            found.push((start, end));
        }
        from = start;
    }
    found
}

/// Indices of `sources`, every file after the files it refers to. A cycle
/// has no such order: no file's hash could cover another's.
fn dependency_order(sources: &[Source], references: &[Vec<Reference>]) -> Result<Vec<usize>, String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Visiting,
        Done,
    }
    struct Walk<'a> {
        sources: &'a [Source],
        references: &'a [Vec<Reference>],
        marks: Vec<Mark>,
        stack: Vec<usize>,
        order: Vec<usize>,
    }
    impl Walk<'_> {
        fn visit(&mut self, i: usize) -> Result<(), String> {
            match self.marks[i] {
                Mark::Done => return Ok(()),
                Mark::Visiting => {
                    let first = self.stack.iter().position(|&s| s == i).unwrap_or(0);
                    let cycle: Vec<String> = self.stack[first..]
                        .iter()
                        .chain([&i])
                        .map(|&s| format!("static/{}", self.sources[s].path))
                        .collect();
                    return Err(format!(
                        "a cycle of /static/ references: {}. A content hash cannot cover itself; \
                         break the cycle (a relative URL is not rewritten)",
                        cycle.join(" -> ")
                    ));
                }
                Mark::New => {}
            }
            self.marks[i] = Mark::Visiting;
            self.stack.push(i);
            for reference in &self.references[i] {
                self.visit(reference.target)?;
            }
            self.stack.pop();
            self.marks[i] = Mark::Done;
            self.order.push(i);
            Ok(())
        }
    }
    let mut walk = Walk {
        sources,
        references,
        marks: vec![Mark::New; sources.len()],
        stack: Vec::new(),
        order: Vec::new(),
    };
    for i in 0..sources.len() {
        walk.visit(i)?;
    }
    Ok(walk.order)
}

/// Reads the served files below `dir` into `sources`.
fn read_sources(dir: &Path, prefix: &str, sources: &mut Vec<Source>) -> Result<(), Failure> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| io_failure(dir, e))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<Vec<PathBuf>, _>>()
        .map_err(|e| io_failure(dir, e))?;
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Failure(format!("{}: file names must be UTF-8", path.display())))?;
        if !is_served(name) {
            continue;
        }
        let logical = format!("{prefix}{name}");
        if path.is_dir() {
            read_sources(&path, &format!("{logical}/"), sources)?;
        } else {
            let bytes = std::fs::read(&path).map_err(|e| io_failure(&path, e))?;
            sources.push(Source { path: logical, bytes });
        }
    }
    Ok(())
}

/// Writes the files, their variants and the manifest.
fn write(out_dir: &Path, assets: &[Asset]) -> Result<(), Failure> {
    let root = out_dir.join("assets");
    // Files of earlier builds would be embedded too.
    if root.exists() {
        std::fs::remove_dir_all(&root).map_err(|e| io_failure(&root, e))?;
    }
    let mut manifest = String::from("// Generated by build.rs from static/; do not edit.\n&[\n");
    for asset in assets {
        let file = root.join(&asset.hashed);
        let put = |path: PathBuf, bytes: &[u8]| -> Result<(), Failure> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io_failure(parent, e))?;
            }
            std::fs::write(&path, bytes).map_err(|e| io_failure(&path, e))
        };
        put(file.clone(), &asset.bytes)?;
        let (mut brotli, mut gzip) = (false, false);
        if asset.kind.compress {
            let smaller = |variant: Vec<u8>| Some(variant).filter(|v| v.len() < asset.bytes.len());
            let failed = |e: std::io::Error| Failure(format!("compressing static/{}: {e}", asset.path));
            if let Some(variant) = smaller(compress_brotli(&asset.bytes).map_err(failed)?) {
                put(with_suffix(&file, ".br"), &variant)?;
                brotli = true;
            }
            if let Some(variant) = smaller(compress_gzip(&asset.bytes).map_err(failed)?) {
                put(with_suffix(&file, ".gz"), &variant)?;
                gzip = true;
            }
        }
        let _ = writeln!(
            manifest,
            "    Asset {{ path: {:?}, hashed: {:?}, content_type: {:?}, hash: {:?}, fingerprinted: {}, brotli: {brotli}, gzip: {gzip} }},",
            asset.path, asset.hashed, asset.kind.content_type, asset.hash, asset.kind.fingerprint,
        );
    }
    manifest.push_str("]\n");
    let path = out_dir.join("asset_manifest.rs");
    std::fs::write(&path, manifest).map_err(|e| io_failure(&path, e))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn compress_brotli(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: BROTLI_QUALITY,
        size_hint: bytes.len(),
        ..Default::default()
    };
    let mut out = Vec::new();
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)?;
    Ok(out)
}

fn compress_gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    // No file name and a zero modification time in the header: the same
    // input gives the same bytes, build after build.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(GZIP_LEVEL));
    encoder.write_all(bytes)?;
    encoder.finish()
}
