//! The HTTPS listener's certificates and TLS settings.
//!
//! Certificates sit behind a resolver, so that `reload` (on SIGHUP) swaps
//! them for new connections while established ones keep theirs. Without
//! `tls.certs`/`tls.key`, a self-signed pair is generated on first boot into
//! the data directory and reused afterwards; it is made anew when it is about
//! to expire or no longer names the configured hosts.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::{CryptoProvider, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use sha2::{Digest, Sha256};

use crate::config::{CertificateSource, TlsConfig};

/// How long a generated certificate is valid: the most that Apple's
/// platforms accept for a TLS server certificate.
const SELF_SIGNED_VALIDITY: Duration = Duration::from_secs(825 * 24 * 3600);
/// A generated certificate this close to expiry is replaced at boot.
const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);
const SELF_SIGNED_CERT: &str = "self-signed.crt";
const SELF_SIGNED_KEY: &str = "self-signed.key";

/// The crypto provider: *ring*, with only forward-secret AEAD suites
/// (ECDHE key exchange; AES-GCM or ChaCha20-Poly1305) for TLS 1.3 and 1.2.
pub fn provider() -> Arc<CryptoProvider> {
    use ring::cipher_suite::*;
    Arc::new(CryptoProvider {
        cipher_suites: vec![
            TLS13_AES_256_GCM_SHA384,
            TLS13_AES_128_GCM_SHA256,
            TLS13_CHACHA20_POLY1305_SHA256,
            TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ],
        ..ring::default_provider()
    })
}

/// The certificate currently served, and where it comes from.
#[derive(Debug)]
pub struct Certificates {
    source: CertificateSource,
    current: RwLock<Arc<CertifiedKey>>,
}

/// A certificate as the log describes it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// `"configured"`, `"self-signed"` or `"self-signed, generated"`.
    pub origin: &'static str,
    pub path: PathBuf,
    /// SHA-256 of the end-entity certificate, as browsers show it.
    pub fingerprint: String,
}

impl Certificates {
    /// Loads the configured pair, or the self-signed one (generating it
    /// when it is missing, expiring, or does not name the configured hosts).
    pub fn load(config: &TlsConfig) -> anyhow::Result<(Arc<Self>, Loaded)> {
        let (key, loaded) = match &config.certificate {
            CertificateSource::Files { certs, key } => load_files(certs, key, "configured")?,
            CertificateSource::SelfSigned { dir } => self_signed(dir, &config.self_signed_names)?,
        };
        let certificates = Self { source: config.certificate.clone(), current: RwLock::new(Arc::new(key)) };
        Ok((Arc::new(certificates), loaded))
    }

    /// Reads the files again and serves them to new connections. On an
    /// error the certificate in use stays.
    pub fn reload(&self) -> anyhow::Result<Loaded> {
        let (key, loaded) = match &self.source {
            CertificateSource::Files { certs, key } => load_files(certs, key, "configured")?,
            CertificateSource::SelfSigned { dir } => {
                let (cert, key) = (dir.join(SELF_SIGNED_CERT), dir.join(SELF_SIGNED_KEY));
                load_files(&cert, &key, "self-signed")?
            }
        };
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(key);
        Ok(loaded)
    }

    /// The end-entity certificate currently served.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The TLS settings of the HTTPS listener: TLS 1.3 and 1.2, the suites
    /// of [`provider`], HTTP/2 and HTTP/1.1 by ALPN, certificates from `self`.
    pub fn server_config(self: &Arc<Self>) -> anyhow::Result<Arc<ServerConfig>> {
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .context("cannot set up TLS")?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// The end-entity certificate the server presents, read from its file
/// (for `healthcheck`, which trusts exactly that certificate).
pub fn served_certificate(config: &TlsConfig) -> anyhow::Result<CertificateDer<'static>> {
    let path = match &config.certificate {
        CertificateSource::Files { certs, .. } => certs.clone(),
        CertificateSource::SelfSigned { dir } => dir.join(SELF_SIGNED_CERT),
    };
    CertificateDer::pem_file_iter(&path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?
        .next()
        .with_context(|| format!("{} contains no certificate", path.display()))?
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
}

/// Client settings that trust exactly `certificate`, whatever names it
/// carries: a local probe connects by address, while the certificate names
/// the public host.
pub fn pinned_client_config(certificate: CertificateDer<'static>) -> anyhow::Result<rustls::ClientConfig> {
    let provider = provider();
    let verifier = Arc::new(Pinned { certificate, provider: provider.clone() });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("cannot set up TLS")?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[derive(Debug)]
struct Pinned {
    certificate: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.certificate.as_ref() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the server presents another certificate than the configured one".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The colon-separated SHA-256 of a certificate, as browsers show it.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let digest = Sha256::digest(cert.as_ref());
    digest.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

fn load_files(certs: &Path, key: &Path, origin: &'static str) -> anyhow::Result<(CertifiedKey, Loaded)> {
    let chain = CertificateDer::pem_file_iter(certs)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| anyhow::anyhow!("cannot read certificates from {}: {e}", certs.display()))?;
    anyhow::ensure!(!chain.is_empty(), "{} contains no PEM certificate", certs.display());
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| anyhow::anyhow!("cannot read a private key from {}: {e}", key.display()))?;
    let certified = CertifiedKey::from_der(chain, private, &provider()).with_context(|| {
        format!("the key in {} does not fit the certificate in {}", key.display(), certs.display())
    })?;
    let fingerprint = fingerprint(certified.end_entity_cert().context("no end-entity certificate")?);
    Ok((certified, Loaded { origin, path: certs.to_path_buf(), fingerprint }))
}

fn self_signed(dir: &Path, names: &[String]) -> anyhow::Result<(CertifiedKey, Loaded)> {
    let (cert_path, key_path) = (dir.join(SELF_SIGNED_CERT), dir.join(SELF_SIGNED_KEY));
    if cert_path.exists() && key_path.exists() {
        let (key, loaded) = load_files(&cert_path, &key_path, "self-signed")?;
        match still_good(&key, names) {
            Ok(()) => return Ok((key, loaded)),
            Err(reason) => tracing::info!(%reason, "replacing the self-signed certificate"),
        }
    }
    generate(dir, names)?;
    let (key, mut loaded) = load_files(&cert_path, &key_path, "self-signed")?;
    loaded.origin = "self-signed, generated";
    Ok((key, loaded))
}

/// Whether a generated certificate is valid for another month for every
/// name it should carry.
fn still_good(key: &CertifiedKey, names: &[String]) -> Result<(), String> {
    let cert = key.end_entity_cert().map_err(|e| e.to_string())?;
    let mut roots = RootCertStore::empty();
    roots.add(cert.clone()).map_err(|e| e.to_string())?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| e.to_string())?;
    let soon = UnixTime::since_unix_epoch(
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default() + RENEW_BEFORE,
    );
    for name in names {
        let server_name = ServerName::try_from(name.as_str()).map_err(|e| format!("{name}: {e}"))?;
        verifier
            .verify_server_cert(cert, &[], &server_name, &[], soon)
            .map_err(|e| format!("not valid for {name} a month from now: {e}"))?;
    }
    Ok(())
}

fn generate(dir: &Path, names: &[String]) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let mut params = rcgen::CertificateParams::new(names.to_vec()).context("invalid certificate names")?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let common_name = names.first().map_or("localhost", String::as_str);
    params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "notes-appliance (self-signed)");
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + SELF_SIGNED_VALIDITY;
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key_pair = rcgen::KeyPair::generate().context("cannot generate a key")?;
    let cert = params.self_signed(&key_pair).context("cannot sign the certificate")?;
    // The key first, so that a certificate on disk always has its key.
    write_new(&dir.join(SELF_SIGNED_KEY), key_pair.serialize_pem().as_bytes(), 0o600)?;
    write_new(&dir.join(SELF_SIGNED_CERT), cert.pem().as_bytes(), 0o644)?;
    Ok(())
}

/// Writes a file atomically (a temporary file renamed over it) with `mode`.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let temporary = path.with_extension("tmp");
    let _ = std::fs::remove_file(&temporary);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temporary)
        .with_context(|| format!("cannot create {}", temporary.display()))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn config(dir: &Path, names: &[&str]) -> TlsConfig {
        TlsConfig {
            certificate: CertificateSource::SelfSigned { dir: dir.to_path_buf() },
            self_signed_names: names.iter().map(|n| (*n).to_owned()).collect(),
            hsts_include_subdomains: true,
        }
    }

    #[test]
    fn a_self_signed_pair_is_generated_once_with_a_private_key_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (_, first) = Certificates::load(&config(dir.path(), &["localhost", "127.0.0.1"])).unwrap();
        assert_eq!(first.origin, "self-signed, generated");
        let mode = std::fs::metadata(dir.path().join(SELF_SIGNED_KEY)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (_, again) = Certificates::load(&config(dir.path(), &["localhost", "127.0.0.1"])).unwrap();
        assert_eq!(again.origin, "self-signed");
        assert_eq!(again.fingerprint, first.fingerprint);
        // A new public name makes a new certificate.
        let (_, renamed) =
            Certificates::load(&config(dir.path(), &["notes.example.com", "localhost"])).unwrap();
        assert_eq!(renamed.origin, "self-signed, generated");
        assert_ne!(renamed.fingerprint, first.fingerprint);
    }

    #[test]
    fn a_key_that_does_not_fit_the_certificate_is_refused() {
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        Certificates::load(&config(one.path(), &["localhost"])).unwrap();
        Certificates::load(&config(two.path(), &["localhost"])).unwrap();
        let error = load_files(&one.path().join(SELF_SIGNED_CERT), &two.path().join(SELF_SIGNED_KEY), "x")
            .unwrap_err();
        assert!(format!("{error:#}").contains("does not fit"), "{error:#}");
    }
}
