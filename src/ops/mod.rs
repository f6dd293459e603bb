//! Operations on a whole database: backups (a checked SQLite copy, or a
//! portable export on PostgreSQL), restoring one, export and import between
//! installations and backends, the snapshot before a migration, and the
//! schedule that takes backups and keeps the newest.

pub mod backup;
pub mod files;
pub mod portable;
pub mod restore;
pub mod schedule;
pub mod sqlite;
pub mod status;
pub mod transfer;

pub use status::{BackupReport, BackupStatus};
