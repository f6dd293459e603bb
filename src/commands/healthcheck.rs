//! `healthcheck [URL]`: a probe for scripts and container runtimes. Exits 0
//! only when `/readyz` answers 200 within the timeout. Over HTTPS it trusts
//! exactly the certificate the server is configured with, whatever names it
//! carries, so that probing by address works with any certificate.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::header::HOST;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::config::Config;
use crate::tls;

const TIMEOUT: Duration = Duration::from_secs(5);

pub async fn run(url: Option<&str>, config: &Config) -> anyhow::Result<ExitCode> {
    let url = match url {
        Some(url) => readiness_url(url)?,
        None => {
            let address = config.listen.address;
            // A wildcard address is not one to connect to: ask loopback.
            let ip = match address.ip() {
                IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
                ip => ip,
            };
            let host = if ip.is_ipv6() { format!("[{ip}]") } else { ip.to_string() };
            readiness_url(&format!("https://{host}:{}/readyz", address.port()))?
        }
    };
    match tokio::time::timeout(TIMEOUT, probe(&url, config)).await {
        Ok(Ok((200, _))) => {
            println!("ready: {url}");
            Ok(ExitCode::SUCCESS)
        }
        Ok(Ok((status, body))) => {
            eprintln!("not ready: {url} answered {status}: {body}");
            Ok(ExitCode::FAILURE)
        }
        Ok(Err(e)) => {
            eprintln!("not ready: {url}: {e:#}");
            Ok(ExitCode::FAILURE)
        }
        Err(_) => {
            eprintln!("not ready: {url} did not answer within {} s", TIMEOUT.as_secs());
            Ok(ExitCode::FAILURE)
        }
    }
}

/// A base URL gets `/readyz` appended; a URL with a path is used as is.
fn readiness_url(raw: &str) -> anyhow::Result<url::Url> {
    let mut url = url::Url::parse(raw).with_context(|| format!("`{raw}` is not a URL"))?;
    anyhow::ensure!(
        matches!(url.scheme(), "http" | "https"),
        "`{raw}`: only https:// and http:// URLs can be probed"
    );
    if url.path() == "/" {
        url.set_path("/readyz");
    }
    Ok(url)
}

async fn probe(url: &url::Url, config: &Config) -> anyhow::Result<(u16, String)> {
    let addresses = url.socket_addrs(|| url.port_or_known_default()).context("cannot resolve the host")?;
    let address = addresses.first().context("the host has no address")?;
    let stream = TcpStream::connect(address).await.with_context(|| format!("cannot connect to {address}"))?;
    let mut sender = if url.scheme() == "https" {
        let certificate = tls::served_certificate(&config.tls)?;
        let connector = TlsConnector::from(std::sync::Arc::new(tls::pinned_client_config(certificate)?));
        let name =
            ServerName::try_from(url.host_str().unwrap_or_default().trim_matches(['[', ']']).to_owned())
                .context("the URL's host is not a valid server name")?;
        let stream = connector.connect(name, stream).await.context("TLS handshake failed")?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        sender
    } else {
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        sender
    };
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let authority = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let request = Request::get(target).header(HOST, authority).body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
