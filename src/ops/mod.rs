//! Operations on a whole database: backups (a checked SQLite copy, or a
//! portable export on PostgreSQL), restoring one, export and import between
//! installations and backends, the snapshot before a migration, and the
//! schedule that takes backups and keeps the newest.

pub mod files;
pub mod status;

pub use status::{BackupReport, BackupStatus};
