use notes_appliance::db::{self, Db};
use notes_migrations::{Migrator, MigratorTrait};
use rocket::http::Status;
use sea_orm::{ConnectionTrait, DbErr};
use sea_orm_migration::prelude::{MigrationName, MigrationTrait, SchemaManager};

use notes_appliance::ops::restore;

use crate::helpers::*;
use crate::moves::{records, settle};

/// This build's migrations plus one that changes the schema and then fails.
struct WithBrokenMigration;

impl MigratorTrait for WithBrokenMigration {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut migrations = Migrator::migrations();
        migrations.push(Box::new(Broken));
        migrations
    }
}

struct Broken;

impl MigrationName for Broken {
    fn name(&self) -> &str {
        "m29991231_000001_broken"
    }
}

// The trait elides SchemaManager's lifetime; the impl must match it.
#[allow(elided_lifetimes_in_paths)]
#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Broken {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("CREATE TABLE half_done (x INTEGER)").await?;
        db.execute_unprepared("ALTER TABLE notes ADD COLUMN extra TEXT").await?;
        db.execute_unprepared("INSERT INTO no_such_table VALUES (1)").await?;
        Ok(())
    }
}

async fn table_exists(db: &Db, table: &str) -> bool {
    db.admin().execute_unprepared(&format!("SELECT COUNT(*) FROM {table}")).await.is_ok()
}

both_backends!(
    async fn a_failing_migration_leaves_schema_and_data_as_they_were(app) {
        let alice = app.user("alice").await;
        let note = app.create_note(&alice, "survivor", "must outlive a failed upgrade").await;
        settle(app).await;

        let error = db::migrate_with::<WithBrokenMigration>(&app.db).await.unwrap_err();

        let message = format!("{error:#}");
        assert!(message.contains("migration failed") && message.contains("schema is unchanged"), "{message}");
        assert!(message.contains("no_such_table"), "the reason is given: {message}");
        assert!(!table_exists(&app.db, "half_done").await, "its first change was rolled back");
        assert!(app.db.admin().execute_unprepared("SELECT extra FROM notes").await.is_err(), "no new column");
        assert_eq!(
            app.query_strings("SELECT version FROM seaql_migrations ORDER BY version").await,
            ["m20261122_000001_initial_schema", "m20261122_000002_sessions"]
        );
        assert_eq!(app.get(&format!("/api/notes/{}", note["id"]), &alice).await.json(), note);
        assert_eq!(app.get_anonymous("/readyz").await.status, Status::Ok);
        assert!(message.contains("reinstall the previous version"), "how to roll back: {message}");

        let snapshots = snapshots_in(&app.store.dir.path().join("backups"));
        if app.backend() == Backend::Sqlite {
            // A checked snapshot was taken first, named, and restores.
            assert_eq!(snapshots.len(), 1, "{snapshots:?}");
            assert!(message.contains(&snapshots[0].display().to_string()), "named: {message}");
            let copy = TestApp::spawn(Backend::Sqlite).await.unwrap();
            restore::import(&copy.db, &snapshots[0], copy.store.dir.path()).await.unwrap();
            assert_eq!(records(&copy.db).await, records(&app.db).await);
            assert_eq!(copy.get(&format!("/api/notes/{}", note["id"]), &alice).await.json(), note);
            copy.teardown().await;
        } else {
            assert!(snapshots.is_empty(), "PostgreSQL migrates in one transaction, without a file snapshot");
        }
    }
);

fn snapshots_in(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("pre-migrate-"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// This build's migrations plus one that succeeds.
struct WithNewMigration;

impl MigratorTrait for WithNewMigration {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut migrations = Migrator::migrations();
        migrations.push(Box::new(Harmless));
        migrations
    }
}

struct Harmless;

impl MigrationName for Harmless {
    fn name(&self) -> &str {
        "m29991231_000002_harmless"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Harmless {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("CREATE TABLE later_feature (x INTEGER)").await?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_of_an_existing_sqlite_database_is_snapshotted_first() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let dir = app.store.dir.path().join("backups");
    assert!(snapshots_in(&dir).is_empty(), "a fresh database has nothing to snapshot");
    let alice = app.user("alice").await;
    app.create_note(&alice, "before the upgrade", "").await;
    settle(&app).await;
    let before = records(&app.db).await;

    assert_eq!(db::migrate_with::<WithNewMigration>(&app.db).await.unwrap(), ["m29991231_000002_harmless"]);

    let snapshots = snapshots_in(&dir);
    assert_eq!(snapshots.len(), 1);
    let copy = TestApp::spawn(Backend::Sqlite).await.unwrap();
    restore::import(&copy.db, &snapshots[0], copy.store.dir.path()).await.unwrap();
    assert_eq!(records(&copy.db).await, before);
    copy.teardown().await;
    assert!(db::migrate_with::<WithNewMigration>(&app.db).await.unwrap().is_empty());
    assert_eq!(snapshots_in(&dir).len(), 1, "nothing to migrate, no snapshot");
    app.teardown().await;
}

both_backends!(
    async fn a_failing_migration_on_a_fresh_database_creates_nothing(app) {
        let fresh = TestDb::new(app.backend()).await.unwrap();
        let config = fresh.sources().load().unwrap();
        let db = Db::connect(&config.database).await.unwrap();

        assert!(db::migrate_with::<WithBrokenMigration>(&db).await.is_err());
        assert!(snapshots_in(&fresh.dir.path().join("backups")).is_empty(), "nothing to snapshot");

        for table in ["users", "notes", "api_tokens", "sessions", "setup_tokens", "half_done"] {
            assert!(!table_exists(&db, table).await, "{table}");
        }
        assert_eq!(
            db::migrate(&db).await.unwrap(),
            ["m20261122_000001_initial_schema", "m20261122_000002_sessions"],
            "a later good run applies"
        );
        db.close().await;
        fresh.drop_database().await;
    }
);

both_backends!(
    async fn instances_booting_together_apply_each_migration_once(app) {
        let fresh = TestDb::new(app.backend()).await.unwrap();
        let config = fresh.sources().load().unwrap();
        let instances: Vec<Db> =
            futures::future::join_all((0..4).map(|_| Db::connect(&config.database))).await.into_iter().map(Result::unwrap).collect();

        let results = futures::future::join_all(instances.iter().map(db::migrate)).await;

        let applied: Vec<Vec<String>> = results.into_iter().map(Result::unwrap).collect();
        assert_eq!(applied.iter().filter(|a| !a.is_empty()).count(), 1, "exactly one instance migrated: {applied:?}");
        for db in &instances {
            assert!(db::pending_migrations(db).await.unwrap().is_empty());
            db.close().await;
        }
        fresh.drop_database().await;
    }
);

both_backends!(
    async fn migration_states_list_every_migration(app) {
        let states = db::migration_states(&app.db).await.unwrap();
        assert_eq!(states.len(), Migrator::migrations().len());
        assert!(states.iter().all(|s| s.applied));
        assert!(db::migrate(&app.db).await.unwrap().is_empty(), "nothing left to apply");
    }
);
