use crate::support::*;

both_backends!(
    fn migrate_status_lists_pending_then_applied_migrations(sandbox) {
        let before = sandbox.run(&["migrate", "status"]).success();
        assert!(before.stdout.contains("pending  m20261122_000001_initial_schema"), "{before:?}");

        let up = sandbox.run(&["migrate", "up"]).success();
        assert!(up.stdout.contains("applied m20261122_000001_initial_schema"), "{up:?}");

        let after = sandbox.run(&["migrate", "status"]).success();
        assert!(after.stdout.contains("applied  m20261122_000001_initial_schema"), "{after:?}");
        assert!(sandbox.run(&["migrate", "up"]).success().stdout.contains("up to date"));
    }
);

both_backends!(
    fn processes_migrating_one_database_at_once_apply_each_migration_once(sandbox) {
        let children: Vec<_> = (0..4)
            .map(|_| sandbox.command().args(["migrate", "up"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap())
            .collect();
        let outcomes: Vec<Outcome> = children.into_iter().map(|c| Outcome::from(c.wait_with_output().unwrap())).collect();

        let applied = outcomes.iter().filter(|o| o.stdout.contains("applied m20261122_000001_initial_schema")).count();
        assert_eq!(applied, 1, "{outcomes:#?}");
        assert!(outcomes.iter().all(|o| o.code == Some(0)), "{outcomes:#?}");
    }
);

both_backends!(
    fn two_servers_can_share_one_database(sandbox) {
        let token = sandbox.user_with_token("alice");
        let first = sandbox.serve();
        let second = sandbox.serve();
        for (i, server) in [&first, &second].into_iter().enumerate() {
            let body = format!(r#"{{"title":"from server {i}"}}"#);
            assert_eq!(server.request("POST", "/api/notes", Some(&token), Some(&body)).status, 201);
        }
        assert_eq!(first.request("GET", "/api/notes", Some(&token), None).json().as_array().unwrap().len(), 2);
        assert_eq!(second.request("GET", "/api/notes", Some(&token), None).json().as_array().unwrap().len(), 2);
        assert_eq!(first.stop("TERM"), Some(0));
        assert_eq!(second.stop("TERM"), Some(0));
    }
);
