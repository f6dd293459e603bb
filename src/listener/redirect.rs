//! The plain-HTTP listener's answers: `/healthz` for local probes, and a
//! 301 to the same path and query on HTTPS for everything else. The target
//! is built from the configured public URL; without one, from the HTTPS
//! listener's own address, or, when that is a wildcard, from the request's
//! `Host` once it is checked to be a plain host name or address.

use std::net::IpAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, HOST, HeaderValue, LOCATION};
use hyper::{Method, Request, Response, StatusCode};

use super::dispatch::error;
use crate::config::ListenConfig;

/// Whether the plain listener answers this request itself (through the
/// application) instead of redirecting it.
pub(super) fn serves_locally(request: &Request<Incoming>) -> bool {
    request.uri().path() == "/healthz" && matches!(*request.method(), Method::GET | Method::HEAD)
}

pub(super) fn to_https(request: &Request<Incoming>, settings: &ListenConfig) -> Response<Full<Bytes>> {
    let path = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let target = match origin(request, settings) {
        Some(origin) => format!("{origin}{path}"),
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "this address serves HTTPS only; the request has no usable Host header to redirect to",
            );
        }
    };
    let Ok(location) = HeaderValue::from_str(&target) else {
        return error(StatusCode::BAD_REQUEST, "bad_request", "the request target cannot be redirected");
    };
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::MOVED_PERMANENTLY;
    response.headers_mut().insert(LOCATION, location);
    response.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(0));
    response
}

/// `https://host[:port]` to redirect to.
fn origin(request: &Request<Incoming>, settings: &ListenConfig) -> Option<String> {
    if let Some(url) = &settings.public_url {
        return Some(url.to_string());
    }
    let port = settings.address.port();
    let host = match settings.address.ip() {
        ip if !ip.is_unspecified() => host_literal(ip),
        _ => checked_host(request)?,
    };
    Some(if port == 443 { format!("https://{host}") } else { format!("https://{host}:{port}") })
}

/// The host part of the request's `Host` (or HTTP/2 authority), only if it
/// is a DNS name or an IP address: nothing that could change the URL's
/// meaning gets through.
fn checked_host(request: &Request<Incoming>) -> Option<String> {
    let authority = match request.headers().get(HOST) {
        Some(value) => value.to_str().ok()?.to_owned(),
        None => request.uri().authority()?.as_str().to_owned(),
    };
    if let Some(rest) = authority.strip_prefix('[') {
        let (ip, _) = rest.split_once(']')?;
        return ip.parse::<std::net::Ipv6Addr>().ok().map(|ip| format!("[{ip}]"));
    }
    let host = authority.split_once(':').map_or(authority.as_str(), |(host, _)| host);
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(host_literal(ip));
    }
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    (host.len() <= 253 && host.split('.').all(valid_label)).then(|| host.to_ascii_lowercase())
}

fn host_literal(ip: IpAddr) -> String {
    if ip.is_ipv6() { format!("[{ip}]") } else { ip.to_string() }
}
