//! The security headers, defined once: as a fairing they go on every
//! response the application makes (which is what in-process tests see), and
//! the listener puts the same values, prebuilt, on every response it sends,
//! including those it makes itself (redirects, refusals before routing), so
//! that no response leaves without them. Values follow the OWASP Secure
//! Headers Project.

use std::sync::Arc;

use hyper::header::{CACHE_CONTROL, HeaderName, HeaderValue};
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::{Request, Response};

/// The policy for everything this service serves. The web UI loads its
/// scripts, styles, images and API calls from its own origin only, has no
/// inline script or style, and is never framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self'; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'; upgrade-insecure-requests";

/// Every powerful browser feature off: a notes app needs none of them.
/// Only names Chromium knows: it logs an error on every page for any other
/// (`web-share`, for one, which Chromium on Linux does not implement).
const PERMISSIONS_POLICY: &str = "accelerometer=(), autoplay=(), camera=(), \
    cross-origin-isolated=(), display-capture=(), encrypted-media=(), fullscreen=(), \
    geolocation=(), gyroscope=(), keyboard-map=(), magnetometer=(), microphone=(), midi=(), \
    payment=(), picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), \
    sync-xhr=(), usb=(), xr-spatial-tracking=(), clipboard-read=(), \
    gamepad=(), hid=(), idle-detection=(), interest-cohort=(), serial=(), unload=()";

/// HSTS for one year, the minimum for browsers' preload lists.
const HSTS_WITH_SUBDOMAINS: &str = "max-age=31536000; includeSubDomains";
const HSTS: &str = "max-age=31536000";

/// The headers, shared by the fairing and the listener.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    headers: Arc<[(&'static str, &'static str)]>,
    /// The same, ready for the listener's responses.
    prebuilt: Arc<[(HeaderName, HeaderValue)]>,
}

impl SecurityHeaders {
    pub fn new(hsts_include_subdomains: bool) -> Self {
        let hsts = if hsts_include_subdomains { HSTS_WITH_SUBDOMAINS } else { HSTS };
        // Static strings: the fairing sets them on every response without
        // allocating.
        let headers = [
            // Browsers ignore HSTS over plain HTTP (and on the redirect), so
            // sending it everywhere is harmless and keeps one rule.
            ("Strict-Transport-Security", hsts),
            ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
            ("X-Content-Type-Options", "nosniff"),
            // For browsers that predate `frame-ancestors`.
            ("X-Frame-Options", "DENY"),
            ("Referrer-Policy", "no-referrer"),
            ("Permissions-Policy", PERMISSIONS_POLICY),
            ("Cross-Origin-Opener-Policy", "same-origin"),
            ("Cross-Origin-Resource-Policy", "same-origin"),
            ("Cross-Origin-Embedder-Policy", "require-corp"),
            ("X-Permitted-Cross-Domain-Policies", "none"),
        ];
        let prebuilt = headers
            .iter()
            .filter_map(|(name, value)| {
                Some((HeaderName::from_bytes(name.as_bytes()).ok()?, HeaderValue::from_static(value)))
            })
            .collect();
        Self { headers: headers.into(), prebuilt }
    }

    /// Name and value of each header.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &'static str)> {
        self.headers.iter().copied()
    }

    /// Whether `name` is one of these headers.
    pub fn covers(&self, name: &str) -> bool {
        self.headers.iter().any(|(own, _)| own.eq_ignore_ascii_case(name))
    }

    /// Puts the headers on a response in the listener: one it makes itself,
    /// or the application's (where copying the same values from Rocket's
    /// response would only cost time).
    pub fn apply(&self, headers: &mut hyper::HeaderMap) {
        for (name, value) in self.prebuilt.iter() {
            headers.insert(name.clone(), value.clone());
        }
        if !headers.contains_key(CACHE_CONTROL) {
            headers.insert(CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
        }
    }
}

const NO_STORE: &str = "no-store";

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info { name: "Security headers", kind: Kind::Response }
    }

    async fn on_response<'r>(&self, _request: &'r Request<'_>, response: &mut Response<'r>) {
        for (name, value) in self.iter() {
            response.set_header(Header::new(name, value));
        }
        // API answers hold private notes: no cache may keep them. Routes
        // that may be cached (the embedded assets) say so themselves.
        if !response.headers().contains("Cache-Control") {
            response.set_header(Header::new("Cache-Control", NO_STORE));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hsts(headers: &SecurityHeaders) -> Option<&str> {
        headers.iter().find(|(name, _)| *name == "Strict-Transport-Security").map(|(_, value)| value)
    }

    #[test]
    fn hsts_lasts_a_year_with_subdomains_as_configured() {
        assert_eq!(hsts(&SecurityHeaders::new(true)), Some("max-age=31536000; includeSubDomains"));
        assert_eq!(hsts(&SecurityHeaders::new(false)), Some("max-age=31536000"));
    }

    #[test]
    fn the_policy_allows_no_inline_script_and_no_framing() {
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
        for directive in
            ["default-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'"]
        {
            assert!(CONTENT_SECURITY_POLICY.contains(directive), "{directive}");
        }
    }
}
