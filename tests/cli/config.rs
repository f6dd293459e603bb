use std::process::Command;

use crate::support::*;

/// A sandbox for configuration tests: no database is touched.
fn sandbox() -> Sandbox {
    tokio::runtime::Runtime::new().unwrap().block_on(Sandbox::new(Backend::Sqlite)).unwrap()
}

fn with_file(sandbox: &Sandbox, contents: &str) -> Command {
    std::fs::write(sandbox.path().join("custom.toml"), contents).unwrap();
    let mut command = sandbox.command();
    command.args(["--config", "custom.toml"]);
    command
}

fn run(mut command: Command, args: &[&str]) -> Outcome {
    Outcome::from(command.args(args).output().unwrap())
}

#[test]
fn the_built_in_defaults_are_valid() {
    let sandbox = sandbox();
    let outcome = Outcome::from(
        sandbox.command().env_remove("NOTES_DATABASE_URL").args(["config", "check"]).output().unwrap(),
    );
    assert!(outcome.success().stdout.contains("configuration is valid"));
}

#[test]
fn an_unknown_key_in_the_notes_table_is_exit_78_naming_the_key_and_file() {
    let sandbox = sandbox();
    let command = with_file(&sandbox, "[default.notes]\nidle_timout = 5\n");
    let outcome = run(command, &["config", "check"]).fails_with(78, "notes.idle_timout");
    assert!(outcome.stderr.contains("custom.toml"), "{outcome:?}");
    assert_eq!(outcome.stderr.lines().count(), 1, "one clear line: {outcome:?}");
}

#[test]
fn wrong_types_and_out_of_range_values_are_exit_78() {
    let sandbox = sandbox();
    run(with_file(&sandbox, "[default]\nport = \"eighty\"\n"), &["config", "check"]).fails_with(78, "port");
    run(with_file(&sandbox, "[default.notes]\nidle_timeout = 0\n"), &["config", "check"])
        .fails_with(78, "notes.idle_timeout");
    run(with_file(&sandbox, "[default.notes]\nlog_format = \"xml\"\n"), &["config", "check"])
        .fails_with(78, "notes.log_format");
    let mut command = with_file(&sandbox, "[default.notes]\ndatabase_url = \"mysql://x/y\"\n");
    command.env_remove("NOTES_DATABASE_URL");
    run(command, &["config", "check"]).fails_with(78, "unsupported database URL scheme `mysql`");
}

#[test]
fn a_broken_file_is_exit_78_naming_the_file_and_line() {
    let sandbox = sandbox();
    let outcome = run(with_file(&sandbox, "[default.notes\nport = 1\n"), &["config", "check"])
        .fails_with(78, "custom.toml");
    assert!(outcome.stderr.contains("line 1"), "{outcome:?}");
}

#[test]
fn a_missing_config_file_is_exit_78_and_so_is_serve_with_bad_configuration() {
    let sandbox = sandbox();
    sandbox
        .run(&["--config", "nowhere.toml", "config", "check"])
        .fails_with(78, "nowhere.toml does not exist");
    let outcome =
        Outcome::from(sandbox.command().env("ROCKET_CONFIG", "gone.toml").arg("serve").output().unwrap());
    outcome.fails_with(78, "gone.toml does not exist");
}

#[test]
fn environment_variables_are_checked_too_and_named_in_errors() {
    let sandbox = sandbox();
    let typo = Outcome::from(
        sandbox.command().env("NOTES_BODY_LIMT", "2 MiB").args(["config", "check"]).output().unwrap(),
    );
    typo.fails_with(78, "environment variable NOTES_BODY_LIMT");
    let bad = Outcome::from(
        sandbox.command().env("NOTES_BODY_LIMIT", "lots").args(["config", "check"]).output().unwrap(),
    );
    bad.fails_with(78, "environment variable NOTES_BODY_LIMIT");
    let good = Outcome::from(
        sandbox.command().env("NOTES_BODY_LIMIT", "2 MiB").args(["config", "show"]).output().unwrap(),
    );
    assert!(good.success().stdout.contains("body_limit = \"2MiB\""));
}

#[test]
fn environment_overrides_the_file_which_overrides_the_defaults() {
    let sandbox = sandbox();
    let shown = run(
        with_file(&sandbox, "[default]\nport = 9000\n[default.notes]\nidle_timeout = 7\n"),
        &["config", "show"],
    )
    .success();
    assert!(shown.stdout.contains("port = 9000") && shown.stdout.contains("idle_timeout = 7"), "{shown:?}");
    let mut command = with_file(&sandbox, "[default]\nport = 9000\n");
    command.env("ROCKET_PORT", "9100");
    assert!(run(command, &["config", "show"]).success().stdout.contains("port = 9100"));
}

#[test]
fn config_show_redacts_the_database_password() {
    let sandbox = sandbox();
    let outcome = Outcome::from(
        sandbox
            .command()
            .env("NOTES_DATABASE_URL", "postgres://notes:hunter2-secret@db.internal:5432/notes")
            .args(["config", "show"])
            .output()
            .unwrap(),
    );
    let shown = outcome.success().stdout;
    assert!(!shown.contains("hunter2-secret"), "{shown}");
    assert!(shown.contains("postgres://notes:***@db.internal:5432/notes"), "{shown}");
}

#[test]
fn the_database_url_can_come_from_a_file() {
    let sandbox = sandbox();
    std::fs::write(sandbox.path().join("db-url"), "postgres://notes:from-file-secret@db/notes\n").unwrap();
    let outcome = Outcome::from(
        sandbox
            .command()
            .env_remove("NOTES_DATABASE_URL")
            .env("NOTES_DATABASE_URL_FILE", "db-url")
            .args(["config", "show"])
            .output()
            .unwrap(),
    );
    let shown = outcome.success().stdout;
    assert!(
        shown.contains("postgres://notes:***@db/notes") && !shown.contains("from-file-secret"),
        "{shown}"
    );
    let both = Outcome::from(
        sandbox
            .command()
            .env("NOTES_DATABASE_URL_FILE", "db-url")
            .args(["config", "check"])
            .output()
            .unwrap(),
    );
    both.fails_with(78, "not both");
}

#[test]
fn edge_settings_are_checked_and_named() {
    let sandbox = sandbox();
    let file = |contents: &str| {
        let mut command = with_file(&sandbox, contents);
        command.env_remove("NOTES_HTTP_PORT");
        command
    };
    let check = |contents: &str, message: &str| {
        run(file(contents), &["config", "check"]).fails_with(78, message);
    };
    check("[default.notes]\npublic_url = \"http://notes.example.com\"\n", "notes.public_url");
    check("[default.notes]\npublic_url = \"https://notes.example.com/app\"\n", "no path");
    check("[default.notes]\ntrusted_proxies = [\"10.0.0.1/8\"]\n", "notes.trusted_proxies");
    check("[default.notes]\ntrusted_proxies = \"10.0.0.0/8\"\n", "notes.trusted_proxies");
    check("[default]\nport = 8443\n[default.notes]\nhttp_port = 8443\n", "notes.http_port");
    check("[default.notes]\ntls_handshake_timeout = 0\n", "notes.tls_handshake_timeout");
    check("[default.tls]\ncerts = \"missing.pem\"\nkey = \"missing.key\"\n", "tls.certs");
    check("[default.tls]\ncerts = \"missing.pem\"\nkey = \"missing.key\"\nciphers = []\n", "tls.ciphers");

    let shown = run(
        file("[default.notes]\npublic_url = \"https://Notes.Example.com:443\"\ntrusted_proxies = [\"10.0.0.0/8\"]\n"),
        &["config", "show"],
    )
    .success();
    assert!(shown.stdout.contains("public_url = \"https://notes.example.com\""), "{}", shown.stdout);
    assert!(shown.stdout.contains("trusted_proxies = [\"10.0.0.0/8\"]"), "{}", shown.stdout);
    assert!(
        shown.stdout.contains("port = 8443") && shown.stdout.contains("http_port = 8080"),
        "{}",
        shown.stdout
    );
}

#[test]
fn certificate_paths_in_a_file_are_relative_to_that_file() {
    let sandbox = sandbox();
    std::fs::create_dir(sandbox.path().join("conf")).unwrap();
    std::fs::write(sandbox.path().join("conf/cert.pem"), "").unwrap();
    std::fs::write(sandbox.path().join("conf/key.pem"), "").unwrap();
    std::fs::write(
        sandbox.path().join("conf/custom.toml"),
        "[default.tls]\ncerts = \"cert.pem\"\nkey = \"key.pem\"\n",
    )
    .unwrap();
    let mut command = sandbox.command();
    command.args(["--config", "conf/custom.toml"]);
    let shown = run(command, &["config", "show"]).success();
    assert!(shown.stdout.contains("conf/cert.pem"), "{}", shown.stdout);
}
