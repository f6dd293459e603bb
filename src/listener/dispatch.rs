//! One request: read the body within its limits, hand the request to the
//! Rocket application in-process, turn Rocket's response into hyper's, and
//! write the access-log line. On the plain-HTTP listener, everything but
//! `/healthz` is redirected to HTTPS instead.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{
    CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST, HeaderName, HeaderValue, TRANSFER_ENCODING,
};
use hyper::{Request, Response, StatusCode};
use rocket::http::uri::Origin;
use rocket::http::{Cookie, Header, Method};
use rocket::local::asynchronous::Client;
use tokio::io::AsyncReadExt;
use tokio::time::Instant;

use super::{Shared, redirect};
use crate::config::Network;
use crate::error::error_body;
use crate::http::catchers::allowed_methods;

pub(super) async fn handle(
    request: Request<Incoming>,
    shared: &Shared,
    peer: SocketAddr,
    https: bool,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let client = client_address(peer.ip(), request.headers(), &shared.settings.trusted_proxies);
    let settings = &shared.settings;
    let result = if https || redirect::serves_locally(&request) {
        forward(request, shared, SocketAddr::new(client, peer.port())).await
    } else {
        Err(redirect::to_https(&request, settings))
    };
    let response = match result {
        Ok(response) => response,
        Err(mut response) => {
            // Made here, not by the application: its fairing did not see it.
            shared.headers.apply(response.headers_mut());
            response
        }
    };
    let bytes = hyper::body::Body::size_hint(response.body()).exact().unwrap_or_default();
    tracing::info!(
        target: "access",
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        bytes,
        duration_ms = started.elapsed().as_micros() as f64 / 1000.0,
        client = %client,
        "request"
    );
    response
}

/// The client's address: the peer's, unless the peer is a trusted proxy;
/// then the nearest address in `X-Forwarded-For` that is not itself a
/// trusted proxy (addresses further left could have been made up by the
/// client).
fn client_address(peer: IpAddr, headers: &hyper::HeaderMap, trusted: &[Network]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|network| network.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|hop| hop.trim().parse::<IpAddr>())
        .collect::<Vec<_>>();
    let mut client = peer;
    for hop in forwarded.into_iter().rev() {
        match hop {
            Ok(ip) if is_trusted(ip) => client = ip,
            Ok(ip) => return ip,
            // A hop that is not an address: nothing to its left can be believed.
            Err(_) => return client,
        }
    }
    client
}

/// The application's response, or one made here when the request never
/// reaches the application (`Err`).
async fn forward(
    request: Request<Incoming>,
    shared: &Shared,
    peer: SocketAddr,
) -> Result<Response<Full<Bytes>>, Response<Full<Bytes>>> {
    let (app, settings) = (&shared.app, &shared.settings);
    let (parts, body) = request.into_parts();
    let method = Method::from_str(parts.method.as_str()).map_err(|()| unknown_method(app, &parts))?;
    let limit = settings.body_limit;
    let too_large = || {
        let message = format!("the request body is larger than the limit of {limit} bytes");
        // The rest of the body is not read: the connection cannot be reused.
        let mut response = error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", &message);
        response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
        response
    };
    let declared = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let read = Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX)).collect();
    let body = match tokio::time::timeout(settings.body_read_timeout, read).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large()),
        Ok(Err(_)) => {
            return Err(error(StatusCode::BAD_REQUEST, "bad_request", "the request body could not be read"));
        }
        Err(_) => {
            let mut response = error(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the request body was not received in time",
            );
            response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
            return Err(response);
        }
    };

    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    if Origin::parse(target).is_err() {
        let message = "the request target is not a valid path (percent-encode characters outside ASCII)";
        return Err(error(StatusCode::BAD_REQUEST, "bad_request", message));
    }
    let mut local = app.req(method, target);
    let mut cookies = Vec::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == COOKIE {
            // Rocket's own listener fills the cookie jar from this header;
            // an in-process request must be given the cookies one by one.
            cookies.extend(
                value.split(';').filter_map(|pair| Cookie::parse_encoded(pair.trim().to_owned()).ok()),
            );
        }
        local.add_header(Header::new(name.as_str().to_owned(), value));
    }
    let mut local = local.cookies(cookies);
    // HTTP/2 carries the host in the URI's authority, not in a header.
    if !parts.headers.contains_key(HOST)
        && let Some(authority) = parts.uri.authority()
    {
        local.add_header(Header::new("Host", authority.as_str().to_owned()));
    }
    local.set_remote(peer);
    local.set_body(body);

    let dispatched = local.dispatch().await;
    let status = StatusCode::from_u16(dispatched.status().code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = Response::builder().status(status);
    for header in dispatched.headers().iter() {
        // The application's fairing set these to the values `apply` puts
        // below, already converted.
        if shared.headers.covers(header.name().as_str()) {
            continue;
        }
        let name = HeaderName::from_bytes(header.name().as_str().as_bytes());
        let value = HeaderValue::from_str(header.value());
        if let (Ok(name), Ok(value)) = (name, value) {
            // Framing is the listener's business, not the application's.
            if ![CONTENT_LENGTH, TRANSFER_ENCODING, CONNECTION].contains(&name) {
                builder = builder.header(name, value);
            }
        }
    }
    if let Some(headers) = builder.headers_mut() {
        shared.headers.apply(headers);
    }
    // A HEAD response has no body but announces the length a GET would have;
    // 204 and 304 responses announce none.
    let preset = dispatched.body().preset_size();
    // Read into a buffer of the announced size: growing one from empty
    // would copy the body several times over.
    let mut bytes = Vec::with_capacity(preset.unwrap_or(0));
    let mut dispatched = dispatched;
    if dispatched.read_to_end(&mut bytes).await.is_err() {
        return Err(error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error"));
    }
    if !matches!(status, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED) {
        let length =
            if parts.method == hyper::Method::HEAD { preset.unwrap_or(bytes.len()) } else { bytes.len() };
        builder = builder.header(CONTENT_LENGTH, length);
    }
    builder
        .body(Full::new(Bytes::from(bytes)))
        .map_err(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error"))
}

fn unknown_method(app: &Client, parts: &hyper::http::request::Parts) -> Response<Full<Bytes>> {
    let allowed = allowed_methods(app.rocket(), parts.uri.path());
    if allowed.is_empty() {
        return error(StatusCode::NOT_FOUND, "not_found", "there is nothing at this address");
    }
    let allow = allowed.join(", ");
    let message = format!("this address does not take {}; it takes {allow}", parts.method);
    let mut response = error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", &message);
    if let Ok(value) = HeaderValue::from_str(&allow) {
        response.headers_mut().insert(hyper::header::ALLOW, value);
    }
    response
}

pub(super) fn error(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    let body = error_body(code, message);
    let length = body.len();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn client(peer: &str, forwarded: &[&str], trusted: &[&str]) -> String {
        let mut headers = hyper::HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        let trusted: Vec<Network> = trusted.iter().map(|n| Network::parse(n).unwrap()).collect();
        client_address(peer.parse().unwrap(), &headers, &trusted).to_string()
    }

    #[test]
    fn x_forwarded_for_counts_only_from_a_trusted_proxy() {
        // No trusted proxies: the header is ignored.
        assert_eq!(client("203.0.113.9", &["198.51.100.1"], &[]), "203.0.113.9");
        // An untrusted peer cannot claim another address.
        assert_eq!(client("203.0.113.9", &["198.51.100.1"], &["10.0.0.0/8"]), "203.0.113.9");
        // A trusted proxy: the address it saw.
        assert_eq!(client("10.0.0.2", &["198.51.100.1"], &["10.0.0.0/8"]), "198.51.100.1");
        // Entries the client wrote itself (further left) are not believed.
        assert_eq!(client("10.0.0.2", &["6.6.6.6, 198.51.100.1"], &["10.0.0.0/8"]), "198.51.100.1");
        assert_eq!(client("10.0.0.2", &["6.6.6.6", "198.51.100.1"], &["10.0.0.0/8"]), "198.51.100.1");
        // A chain of trusted proxies is walked through.
        assert_eq!(client("10.0.0.2", &["198.51.100.1, 10.0.0.7"], &["10.0.0.0/8"]), "198.51.100.1");
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(client("10.0.0.2", &["198.51.100.1, junk"], &["10.0.0.0/8"]), "10.0.0.2");
        // No header: the proxy itself.
        assert_eq!(client("10.0.0.2", &[], &["10.0.0.0/8"]), "10.0.0.2");
    }
}
