//! First run of the real binary: the setup link in the log, claimed over
//! HTTPS, then a browser session through the listener.

use crate::support::*;

/// The setup token in a log, if a link was logged.
fn setup_token(log: &str) -> Option<String> {
    let at = log.find("/setup#")? + "/setup#".len();
    Some(log[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect())
}

both_backends!(
    fn every_boot_without_an_account_logs_a_setup_link_that_creates_the_admin(sandbox) {
        let first = sandbox.serve();
        let log = first.wait_for_log("/setup#");
        let line = log.lines().find(|l| l.contains("/setup#")).unwrap();
        assert!(line.contains(&format!("https://127.0.0.1:{}/setup#", first.port)), "{line}");
        assert!(line.contains("30 minutes"), "{line}");
        let stale = setup_token(&log).unwrap();
        assert_eq!(first.stop("TERM"), Some(0));

        let server = sandbox.serve();
        let token = setup_token(&server.wait_for_log("/setup#")).unwrap();
        assert_ne!(token, stale, "each boot makes a new link");
        assert_eq!(server.request("GET", "/setup", None, None).status, 200);

        let origin = format!("Origin: https://127.0.0.1:{}", server.port);
        let browser = [origin.clone(), "Sec-Fetch-Site: same-origin".to_owned()];
        let body = format!(r#"{{"token":"{token}","username":"owner","password":"owner's password"}}"#);
        let claimed = server.request_with("POST", "/api/setup", &browser, Some(&body));
        assert_eq!(claimed.status, 201, "{claimed:?}");
        let set_cookie = claimed.header("Set-Cookie").unwrap();
        assert!(set_cookie.starts_with("__Host-notes_session=") && set_cookie.contains("Secure"), "{set_cookie}");
        let cookie = format!("Cookie: {}", set_cookie.split(';').next().unwrap());
        let csrf = format!("X-CSRF-Token: {}", claimed.json()["csrf_token"].as_str().unwrap());

        // The cookie works through the listener, and so does the CSRF check.
        let session = server.request_with("GET", "/api/session", std::slice::from_ref(&cookie), None);
        assert_eq!(session.status, 200, "{session:?}");
        assert_eq!(session.json()["user"]["is_admin"], true);
        let note = r#"{"title":"first"}"#;
        let forged = server.request_with("POST", "/api/notes", &[cookie.clone(), origin.clone()], Some(note));
        assert_eq!(forged.status, 403, "{forged:?}");
        let cross = [cookie.clone(), csrf.clone(), "Origin: https://evil.example".to_owned()];
        assert_eq!(server.request_with("POST", "/api/notes", &cross, Some(note)).status, 403);
        let created = server.request_with("POST", "/api/notes", &[cookie.clone(), csrf.clone(), origin.clone()], Some(note));
        assert_eq!(created.status, 201, "{created:?}");

        assert_eq!(server.request("GET", "/setup", None, None).status, 303, "the page is gone");
        let again = format!(r#"{{"token":"{stale}","username":"intruder","password":"intruder password"}}"#);
        assert_eq!(server.request_with("POST", "/api/setup", &browser, Some(&again)).status, 409);
        assert_eq!(server.stop("TERM"), Some(0));

        let later = sandbox.serve();
        // Setup is offered before the first request is served.
        assert_eq!(later.request("GET", "/healthz", None, None).status, 200);
        // The request's access-log line comes after anything logged at boot.
        let log = later.wait_for_log("/healthz");
        assert_eq!(later.stop("TERM"), Some(0));
        assert!(!log.contains("/setup#"), "no link once an account exists:\n{log}");
    }
);

both_backends!(
    fn no_setup_link_is_logged_when_an_account_was_made_with_the_cli(sandbox) {
        let password = sandbox.password_file("admin's password");
        sandbox.run(&["user", "add", "admin", "--admin", "--password-file", &password]).success();
        let server = sandbox.serve();
        assert_eq!(server.request("GET", "/setup", None, None).status, 303);
        let log = server.wait_for_log("/setup");
        assert_eq!(server.stop("TERM"), Some(0));
        assert!(!log.contains("/setup#"), "{log}");
    }
);
