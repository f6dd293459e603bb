use std::time::{Duration, Instant};

use crate::support::*;

both_backends!(
    fn serve_boots_on_a_free_port_becomes_ready_and_exits_0_on_sigterm(sandbox) {
        let server = sandbox.serve();

        let ready = server.request("GET", "/readyz", None, None);
        assert_eq!(ready.status, 200, "{ready:?}");
        assert_eq!(ready.json()["status"], "ready");
        assert_eq!(server.request("GET", "/healthz", None, None).json()["status"], "ok");
        let log = server.wait_for_log("path=/readyz");
        let access = log.lines().find(|l| l.contains("path=/readyz")).unwrap();
        for field in ["method=GET", "status=200", "bytes=", "duration_ms=", "client=127.0.0.1"] {
            assert!(access.contains(field), "{field} in {access}");
        }

        assert_eq!(server.stop("TERM"), Some(0));
    }
);

both_backends!(
    fn sigint_also_stops_cleanly_and_the_data_survives_a_restart(sandbox) {
        let token = sandbox.user_with_token("alice");
        let server = sandbox.serve();
        let created = server.request("POST", "/api/notes", Some(&token), Some(r#"{"title":"kept"}"#));
        assert_eq!(created.status, 201, "{created:?}");
        assert_eq!(server.stop("INT"), Some(0));

        let server = sandbox.serve();
        let notes = server.request("GET", "/api/notes", Some(&token), None).json();
        assert_eq!(notes[0]["title"], "kept");
        assert_eq!(server.stop("TERM"), Some(0));
    }
);

both_backends!(
    fn a_script_can_create_list_search_read_update_and_delete_notes_with_a_token(sandbox) {
        let token = sandbox.user_with_token("alice");
        let server = sandbox.serve();

        let created = server.request("POST", "/api/notes", Some(&token), Some(r#"{"title":"배포 계획","body":"배포를 금요일에"}"#));
        assert_eq!(created.status, 201, "{created:?}");
        let location = created.header("Location").unwrap();
        let listed = server.request("GET", "/api/notes", Some(&token), None).json();
        assert_eq!(listed.as_array().unwrap().len(), 1);
        let found = server.request("GET", "/api/notes?q=%EB%B0%B0%ED%8F%AC", Some(&token), None).json();
        assert_eq!(found[0]["title"], "배포 계획");
        let read = server.request("GET", &location, Some(&token), None);
        assert_eq!(read.json(), created.json());
        let updated = server.request("PATCH", &location, Some(&token), Some(r#"{"body":"done"}"#));
        assert_eq!(updated.json()["body"], "done");
        assert_eq!(server.request("DELETE", &location, Some(&token), None).status, 204);
        assert_eq!(server.request("GET", &location, Some(&token), None).status, 404);
        assert_eq!(server.request("GET", "/api/notes", None, None).status, 401);

        assert_eq!(server.stop("TERM"), Some(0));
    }
);

both_backends!(
    fn healthcheck_exits_0_only_while_the_server_is_ready(sandbox) {
        let server = sandbox.serve();
        let port = server.port.to_string();

        let up = sandbox.command().args(["healthcheck"]).env("ROCKET_PORT", &port).output().unwrap();
        assert_eq!(Outcome::from(up).success().stdout.trim(), format!("ready: https://127.0.0.1:{port}/readyz"));
        sandbox.run(&["healthcheck", &server.url("/")]).success();
        sandbox.run(&["healthcheck", &server.url("/readyz")]).success();

        assert_eq!(server.stop("TERM"), Some(0));
        sandbox.run(&["healthcheck", &format!("https://127.0.0.1:{port}")]).fails_with(1, "not ready");
        sandbox.run(&["healthcheck", "ftp://example"]).fails_with(1, "only https:// and http:// URLs");
    }
);

#[test]
fn json_logs_are_one_object_per_line_with_the_access_fields() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime.block_on(Sandbox::new(Backend::Sqlite)).unwrap();
    let server = sandbox.serve_with(|c| c.env("NOTES_LOG_FORMAT", "json"));
    server.request("GET", "/healthz", None, None);
    let log = server.wait_for_log("/healthz");
    assert_eq!(server.stop("TERM"), Some(0));

    let lines: Vec<serde_json::Value> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let access = lines.iter().find(|l| l["path"] == "/healthz").unwrap();
    assert_eq!(access["method"], "GET");
    assert_eq!(access["status"], 200);
    assert_eq!(access["client"], "127.0.0.1");
    assert!(access["bytes"].as_u64().unwrap() > 0);
    assert!(access["duration_ms"].as_f64().is_some());
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime.block_on(Sandbox::new(Backend::Sqlite)).unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let outcome = Outcome::from(sandbox.command().arg("serve").env("ROCKET_PORT", &port).output().unwrap());
    outcome.fails_with(1, &format!("cannot listen on 127.0.0.1:{port}"));
}

#[test]
fn boot_waits_for_an_unreachable_postgresql_with_logged_retries_then_gives_up() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime.block_on(Sandbox::new(Backend::Sqlite)).unwrap();
    let port = unused_port();
    let started = Instant::now();

    let outcome = Outcome::from(
        sandbox
            .command()
            .arg("serve")
            .env("NOTES_DATABASE_URL", format!("postgres://notes:s3cret@127.0.0.1:{port}/notes"))
            .env("NOTES_DATABASE_CONNECT_TIMEOUT", "2")
            .output()
            .unwrap(),
    );

    let outcome = outcome.fails_with(1, "was not reachable within 2 s");
    assert!(outcome.stderr.matches("not reachable yet; retrying").count() >= 2, "{}", outcome.stderr);
    assert!(!outcome.stderr.contains("s3cret"), "the password never reaches the log: {}", outcome.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boot_waits_for_postgresql_and_becomes_ready_once_it_answers() {
    let Some(sandbox) = Sandbox::new(Backend::Postgres).await else { return };
    // Nothing answers on this port until the forwarder starts below.
    let port = unused_port();
    let mut url = url::Url::parse(&sandbox.database_url).unwrap();
    url.set_port(Some(port)).unwrap();
    let target = crate::forwarder::target_of(&sandbox.database_url);
    let opener = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let forwarder = crate::forwarder::Forwarder::on(listener, target);
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(forwarder);
    });

    let server = tokio::task::block_in_place(|| {
        sandbox.serve_with(|c| {
            c.env("NOTES_DATABASE_URL", url.as_str()).env("NOTES_DATABASE_CONNECT_TIMEOUT", "30")
        })
    });

    assert!(server.log().contains("not reachable yet; retrying"), "{}", server.log());
    assert_eq!(tokio::task::block_in_place(|| server.request("GET", "/readyz", None, None)).status, 200);
    assert_eq!(tokio::task::block_in_place(|| server.stop("TERM")), Some(0));
    opener.abort();
    sandbox.teardown().await;
}

#[test]
fn sigterm_while_waiting_for_the_database_stops_at_once_with_exit_0() {
    use std::io::{BufRead, BufReader};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime.block_on(Sandbox::new(Backend::Sqlite)).unwrap();
    let port = unused_port();
    let mut child = sandbox
        .command()
        .arg("serve")
        .env("NOTES_DATABASE_URL", format!("postgres://notes@127.0.0.1:{port}/notes"))
        .env("NOTES_DATABASE_CONNECT_TIMEOUT", "120")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    assert!(lines.any(|l| l.unwrap().contains("not reachable yet; retrying")));

    let signalled = Instant::now();
    assert!(std::process::Command::new("kill").arg(child.id().to_string()).status().unwrap().success());
    let status = child.wait().unwrap();

    assert_eq!(status.code(), Some(0));
    assert!(signalled.elapsed() < Duration::from_secs(5), "{:?}", signalled.elapsed());
}
