//! `/metrics` over HTTPS from the real binary, on and off.

use crate::support::*;

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

fn backend_of(sandbox: &Sandbox) -> &'static str {
    if sandbox.database_url.starts_with("sqlite:") { "sqlite" } else { "postgres" }
}

both_backends!(
    fn with_notes_metrics_on_a_loopback_client_gets_the_exposition(sandbox) {
        let server = sandbox.serve_with(|c| c.env("NOTES_METRICS", "true"));
        let first = server.request("GET", "/metrics", None, None);
        assert_eq!(first.status, 200, "{first:?}");
        assert_eq!(first.header("Content-Type").as_deref(), Some(CONTENT_TYPE));
        assert_eq!(first.header("Cache-Control").as_deref(), Some("no-store"));
        let build = format!(
            "\nnotes_build_info{{version=\"{}\",backend=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION"),
            backend_of(sandbox)
        );
        assert!(first.body.contains(&build), "{build} in:\n{}", first.body);
        assert!(first.body.contains("\nnotes_database_up 1\n"), "{}", first.body);

        // Requests through the listener are counted.
        assert_eq!(server.request("GET", "/healthz", None, None).status, 200);
        let second = server.request("GET", "/metrics", None, None);
        for counted in [
            "\nnotes_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1\n",
            "\nnotes_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"200\"} 1\n",
        ] {
            assert!(second.body.contains(counted), "{counted} in:\n{}", second.body);
        }
        assert_eq!(server.stop("TERM"), Some(0));
    }
);

both_backends!(
    fn without_notes_metrics_the_address_is_the_json_404(sandbox) {
        let server = sandbox.serve();
        let reply = server.request("GET", "/metrics", None, None);
        assert_eq!(reply.status, 404, "{reply:?}");
        assert_eq!(reply.json()["error"]["code"], "not_found");
        assert_eq!(server.stop("TERM"), Some(0));
    }
);

both_backends!(
    fn a_client_behind_a_trusted_proxy_is_judged_by_its_own_address(sandbox) {
        let server = sandbox.serve_with(|c| {
            c.env("NOTES_METRICS", "true").env("NOTES_TRUSTED_PROXIES", "[\"127.0.0.0/8\"]")
        });
        let forwarded = |client: &str| {
            server.request_with("GET", "/metrics", &[format!("X-Forwarded-For: {client}")], None)
        };
        let outsider = forwarded("192.0.2.10");
        assert_eq!(outsider.status, 403, "{outsider:?}");
        assert_eq!(outsider.json()["error"]["code"], "forbidden");
        assert_eq!(forwarded("127.0.0.1").status, 200);
        assert_eq!(server.stop("TERM"), Some(0));
    }
);
