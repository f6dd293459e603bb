//! Queries, one module per aggregate. Functions take the [`Db`] and domain
//! types and return domain types; reads use the pool, writes go through
//! [`Db::write`] so that they are durable when the function returns. SQL
//! that SeaORM cannot express is written here once, for both backends.
//!
//! [`Db`]: crate::db::Db
//! [`Db::write`]: crate::db::Db::write

pub mod notes;
pub mod sessions;
pub mod setup;
pub mod tokens;
pub mod users;

use time::OffsetDateTime;

/// The current time at the precision both backends store (microseconds),
/// so that a value reads back exactly as it was written.
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1000 * 1000).unwrap_or(now)
}
