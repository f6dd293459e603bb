use crate::support::*;

both_backends!(
    fn user_add_takes_the_password_from_a_file_and_refuses_duplicates(sandbox) {
        let password = sandbox.password_file("correct horse battery");

        let added = sandbox.run(&["user", "add", "Alice", "--password-file", &password]).success();

        assert!(added.stdout.contains("created user alice"), "{added:?}");
        sandbox.run(&["user", "add", "alice", "--password-file", &password]).fails_with(1, "user alice already exists");
        let listed = sandbox.run(&["user", "list"]).success();
        assert!(listed.stdout.lines().any(|l| l.contains("alice") && l.contains("no")), "{listed:?}");
        sandbox.run(&["user", "add", "bad name", "--password-file", &password]).fails_with(1, "username");
        let short = sandbox.password_file("short");
        sandbox.run(&["user", "add", "bob", "--password-file", &short]).fails_with(1, "at least 8 characters");
        sandbox.run(&["user", "add", "bob", "--password-file", "missing-file"]).fails_with(1, "cannot read missing-file");
        sandbox.run(&["user", "add", "--admin", "root", "--password-file", &password]).success();
        assert!(sandbox.run(&["user", "list"]).success().stdout.lines().any(|l| l.contains("root") && l.contains("yes")));
    }
);

both_backends!(
    fn passwords_are_never_taken_from_the_command_line_or_asked_for_without_a_terminal(sandbox) {
        sandbox.run(&["user", "add", "alice", "--password", "secret123"]).fails_with(2, "unexpected argument");
        // setsid: no controlling terminal, as under systemd or cron.
        let outcome = Outcome::from(
            std::process::Command::new("setsid")
                .arg("-w")
                .arg(env!("CARGO_BIN_EXE_notes-appliance"))
                .args(["user", "add", "alice"])
                .current_dir(sandbox.path())
                .env_clear()
                .env("NOTES_DATA_DIR", sandbox.path().join("data"))
                .env("NOTES_DATABASE_URL", &sandbox.database_url)
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap(),
        );
        outcome.fails_with(1, "--password-file");
        let stdin = Outcome::from({
            let mut child = sandbox
                .command()
                .args(["user", "add", "carol", "--password-file", "-"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"from standard input\n").unwrap();
            child.wait_with_output().unwrap()
        });
        stdin.success();
    }
);

both_backends!(
    fn token_create_prints_only_the_token_and_it_works_until_revoked(sandbox) {
        let token = sandbox.user_with_token("alice");
        assert!(token.starts_with("na_") && !token.contains(char::is_whitespace), "{token}");
        let server = sandbox.serve();
        assert_eq!(server.request("GET", "/api/notes", Some(&token), None).status, 200);

        let listed = sandbox.run(&["token", "list", "--user", "alice"]).success();
        let line = listed.stdout.lines().find(|l| l.contains("cli")).unwrap().to_owned();
        assert!(!listed.stdout.contains(&token), "secrets are never listed");
        let id = line.split_whitespace().next().unwrap();
        sandbox.run(&["token", "revoke", "--user", "alice", "999"]).fails_with(1, "alice has no token 999");
        sandbox.run(&["token", "revoke", "--user", "alice", id]).success();

        assert_eq!(server.request("GET", "/api/notes", Some(&token), None).status, 401);
        sandbox.run(&["token", "create", "--user", "nobody"]).fails_with(1, "no user nobody");
        assert_eq!(server.stop("TERM"), Some(0));
    }
);

both_backends!(
    fn disabling_a_user_stops_their_token_and_passwd_changes_the_hash(sandbox) {
        let token = sandbox.user_with_token("alice");
        let server = sandbox.serve();

        sandbox.run(&["user", "disable", "alice"]).success();
        let refused = server.request("GET", "/api/notes", Some(&token), None);
        assert_eq!(refused.status, 401, "{refused:?}");
        let listed = sandbox.run(&["user", "list"]).success().stdout;
        let alice: Vec<&str> = listed.lines().find(|l| l.contains("alice")).unwrap().split_whitespace().collect();
        assert_eq!(alice[3], "yes", "shown as disabled: {listed}");
        sandbox.run(&["user", "enable", "alice"]).success();
        assert_eq!(server.request("GET", "/api/notes", Some(&token), None).status, 200);

        let password = sandbox.password_file("a brand new password");
        sandbox.run(&["user", "passwd", "alice", "--password-file", &password]).success();
        sandbox.run(&["user", "passwd", "nobody", "--password-file", &password]).fails_with(1, "no user nobody");
        sandbox.run(&["user", "disable", "nobody"]).fails_with(1, "no user nobody");
        assert_eq!(server.stop("TERM"), Some(0));
    }
);

both_backends!(
    fn seed_creates_sample_notes_that_page_by_50(sandbox) {
        let token = sandbox.user_with_token("alice");
        sandbox.run(&["seed", "--count", "120", "--user", "alice"]).success();
        let server = sandbox.serve();
        let page = server.request("GET", "/api/notes", Some(&token), None);
        assert_eq!(page.json().as_array().unwrap().len(), 50);
        assert!(page.header("Link").unwrap().contains("rel=\"next\""));
        sandbox.run(&["seed", "--count", "1", "--user", "nobody"]).fails_with(1, "no user nobody");
        assert_eq!(server.stop("TERM"), Some(0));
    }
);

#[test]
fn completions_and_manual_pages_are_made_from_the_command_line_definition() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime.block_on(Sandbox::new(Backend::Sqlite)).unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let script = sandbox.run(&["completions", shell]).success();
        assert!(
            script.stdout.contains("healthcheck") && script.stdout.contains("passwd"),
            "{shell}: {script:?}"
        );
    }
    sandbox.run(&["completions", "tcsh"]).fails_with(2, "invalid value");

    let pages = sandbox.path().join("man");
    sandbox.run(&["manpages", pages.to_str().unwrap()]).success();
    let main = std::fs::read_to_string(pages.join("notes-appliance.1")).unwrap();
    assert!(main.starts_with(".ie") && main.contains(".TH notes-appliance 1"), "{main}");
    let add = std::fs::read_to_string(pages.join("notes-appliance-user-add.1")).unwrap();
    assert!(add.contains("password\\-file"), "{add}");
    assert!(!sandbox.path().join("data").exists(), "no configuration or data is touched");
    runtime.block_on(sandbox.teardown());
}

/// Whether the tests run as root (CI and the packaging tests do).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"))
}

#[test]
fn root_refuses_to_write_into_the_service_users_data_directory() {
    if !running_as_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime.block_on(Sandbox::new(Backend::Sqlite)).unwrap();
    let password = sandbox.password_file("correct horse battery");
    sandbox.run(&["migrate", "up"]).success();
    let data = sandbox.path().join("data");
    let listing = || {
        let mut names: Vec<_> = std::fs::read_dir(&data).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        names
    };
    let before = listing();
    // As if the package's service user owned it.
    let chown = |owner: &str| {
        assert!(
            std::process::Command::new("chown").args(["-R", owner]).arg(&data).status().unwrap().success()
        );
    };
    chown("nobody:nogroup");

    let refused = sandbox.run(&["user", "add", "alice", "--admin", "--password-file", &password]);
    let refused = refused.fails_with(1, "belongs to user nobody");
    assert!(refused.stderr.contains("sudo -u nobody notes-appliance user add alice --admin"), "{refused:?}");
    sandbox.run(&["token", "list", "--user", "alice"]).fails_with(1, "belongs to user nobody");
    assert_eq!(listing(), before, "nothing was created");
    assert_eq!(sandbox.run(&["config", "check"]).code, Some(0), "reading the configuration is fine");

    chown("root:root");
    sandbox.run(&["user", "add", "alice", "--password-file", &password]).success();
    runtime.block_on(sandbox.teardown());
}
