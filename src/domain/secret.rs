//! Random secrets handed to clients (API tokens, session cookies, setup
//! links) and the digests the database keeps of them. A slow password hash
//! protects guessable secrets; 256 random bits cannot be guessed, so a
//! SHA-256 is enough and lets a secret be looked up by its digest.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Characters of 32 random bytes in unpadded base64url.
pub(super) const ENCODED_LEN: usize = 43;

/// 256 random bits, base64url without padding.
pub(super) fn random() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `raw` looks like what [`random`] makes, so that garbage is
/// refused without a database lookup.
pub(super) fn is_well_formed(raw: &str) -> bool {
    raw.len() == ENCODED_LEN && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub(super) fn sha256_hex(input: &[u8]) -> String {
    let digest = Sha256::digest(input);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
    }
    hex
}

pub(super) fn sha256_base64(input: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(input))
}
