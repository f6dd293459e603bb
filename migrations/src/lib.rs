//! The database schema of notes-appliance, as an append-only list of migrations.
//!
//! Every migration is written for both backends. The server applies pending
//! migrations on boot, all of them in one transaction under a lock (see the
//! application's `db` module), so a failure leaves the previous schema intact.
//! Never edit a migration that has been released: add a new one.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_initial_schema;
mod m20261122_000002_sessions;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_initial_schema::Migration),
            Box::new(m20261122_000002_sessions::Migration),
        ]
    }
}

/// Runs SQL statements one by one: neither backend's driver promises to run a
/// multi-statement string as a unit.
pub(crate) async fn execute_all(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let connection = manager.get_connection();
    for statement in statements {
        connection.execute_unprepared(statement).await?;
    }
    Ok(())
}
