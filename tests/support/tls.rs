//! A real TLS client for tests (rustls, the same as a Rust program talking
//! to the service would use): it trusts exactly the server's generated
//! certificate and checks it for the name `localhost`, as a browser that
//! was told to trust it would.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// The server's certificate file in a data directory.
pub fn certificate_in(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("tls/self-signed.crt")
}

/// A client that trusts the certificate in `pem` only, offers `versions`
/// and `alpn` protocols.
pub fn client(
    pem: &Path,
    versions: &[&'static SupportedProtocolVersion],
    alpn: &[&str],
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(pem).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Arc::new(config)
}

/// TLS 1.3 and 1.2, HTTP/1.1.
pub fn http1_client(pem: &Path) -> Arc<ClientConfig> {
    client(pem, &[&rustls::version::TLS13, &rustls::version::TLS12], &["http/1.1"])
}

/// Connects and completes the handshake for the name `localhost`.
pub async fn connect(
    address: SocketAddr,
    config: Arc<ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(address).await?;
    let name = ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(Duration::from_secs(10), TlsConnector::from(config).connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out"))?
}

/// One request over a new blocking TLS connection (`Connection: close`);
/// returns the raw response (head and body).
pub fn blocking_exchange(address: SocketAddr, config: Arc<ClientConfig>, request: &[u8]) -> Vec<u8> {
    let name = ServerName::try_from("localhost").unwrap();
    let connection = rustls::ClientConnection::new(config, name).unwrap();
    let tcp = std::net::TcpStream::connect(address).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut stream = rustls::StreamOwned::new(connection, tcp);
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    match stream.read_to_end(&mut response) {
        Ok(_) => {}
        // A peer that closes without close_notify: what arrived is complete
        // for a `Connection: close` exchange.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
        Err(e) => panic!("reading the response: {e}"),
    }
    response
}
