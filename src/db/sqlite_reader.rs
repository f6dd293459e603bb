//! Reads from SQLite without leaving the request's thread.
//!
//! sqlx runs every SQLite connection on a thread of its own and sends each
//! row across a channel, so a query costs several thread switches; for the
//! reads every request makes (its token, a page of notes) that was most of
//! the server's time. These reads run instead on a small pool of rusqlite
//! connections, where they are asked for. They are short and, in WAL mode,
//! never wait for a writer, so they do not hold up the async runtime.
//!
//! The statements are still SeaORM's (built for SQLite, so the store keeps
//! one query for both backends), and rows become SeaORM models through the
//! entity's own column definitions. Writes and migrations stay on sqlx:
//! these connections are `query_only`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, ToSql};
use sea_orm::sea_query::{ColumnType, Value};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, IdenStatic, Iterable, RuntimeErr, Statement,
    TryIntoModel,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Prepared statements kept per connection (the application has a few dozen).
const STATEMENT_CACHE: usize = 64;

/// A pool of read-only connections; clones share it.
#[derive(Debug, Clone)]
pub struct SqliteReader(Arc<Pool>);

#[derive(Debug)]
struct Pool {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
    /// Connections running a query right now (for the metrics).
    busy: std::sync::atomic::AtomicUsize,
}

impl SqliteReader {
    pub fn new(path: PathBuf, busy_timeout: Duration, max_idle: usize) -> Self {
        Self(Arc::new(Pool {
            path,
            busy_timeout,
            idle: Mutex::new(Vec::new()),
            max_idle,
            busy: std::sync::atomic::AtomicUsize::new(0),
        }))
    }

    /// Closes the idle connections, so that the writer is the last one and
    /// checkpoints the WAL when it closes.
    pub fn close(&self) {
        self.0.idle.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// Connections (in use, idle).
    pub fn usage(&self) -> (usize, usize) {
        let idle = self.0.idle.lock().unwrap_or_else(PoisonError::into_inner).len();
        (self.0.busy.load(std::sync::atomic::Ordering::Relaxed), idle)
    }

    pub fn ping(&self) -> Result<(), DbErr> {
        self.0.with_connection(|connection| {
            connection.query_row("SELECT 1", [], |_| Ok(())).map_err(query_error)
        })
    }

    /// Runs a SELECT whose columns are those of entity `E`.
    pub fn models<E>(&self, statement: &Statement) -> Result<Vec<E::Model>, DbErr>
    where
        E: EntityTrait,
        E::ActiveModel: TryIntoModel<E::Model>,
    {
        self.0.query(statement, |columns| {
            let plan = Plan::<E>::new(columns, "")?;
            Ok(move |row: &rusqlite::Row<'_>| {
                plan.model(row)?
                    .ok_or_else(|| DbErr::Type("a row of NULLs where a model was expected".into()))
            })
        })
    }

    /// Runs a SELECT of two entities as SeaORM's `SelectTwo` builds it
    /// (columns prefixed `A_` and `B_`; the second may be all NULL).
    pub fn model_pairs<E, F>(&self, statement: &Statement) -> Result<Vec<Pair<E, F>>, DbErr>
    where
        E: EntityTrait,
        F: EntityTrait,
        E::ActiveModel: TryIntoModel<E::Model>,
        F::ActiveModel: TryIntoModel<F::Model>,
    {
        self.0.query(statement, |columns| {
            let (first, second) = (Plan::<E>::new(columns, "A_")?, Plan::<F>::new(columns, "B_")?);
            Ok(move |row: &rusqlite::Row<'_>| {
                let model = first
                    .model(row)?
                    .ok_or_else(|| DbErr::Type("a row of NULLs where a model was expected".into()))?;
                Ok((model, second.model(row)?))
            })
        })
    }
}

/// A row of `SelectTwo`: a model and, if the join found one, its relative.
pub type Pair<E, F> = (<E as EntityTrait>::Model, Option<<F as EntityTrait>::Model>);

/// Where each column of entity `E` is in a statement's rows, and its type:
/// worked out once per statement, used for every row.
struct Plan<E: EntityTrait> {
    columns: Vec<(E::Column, usize, ColumnType)>,
}

impl<E> Plan<E>
where
    E: EntityTrait,
    E::ActiveModel: TryIntoModel<E::Model>,
{
    fn new(names: &[String], prefix: &str) -> Result<Self, DbErr> {
        let columns = E::Column::iter()
            .map(|column| {
                let wanted = column.as_str();
                let index = names
                    .iter()
                    .position(|name| name.strip_prefix(prefix) == Some(wanted))
                    .ok_or_else(|| DbErr::Type(format!("the result has no column {prefix}{wanted}")))?;
                Ok((column, index, column.def().get_column_type().clone()))
            })
            .collect::<Result<_, DbErr>>()?;
        Ok(Self { columns })
    }

    /// The row's model; `None` when its columns are all NULL (a LEFT JOIN
    /// that found nothing).
    fn model(&self, row: &rusqlite::Row<'_>) -> Result<Option<E::Model>, DbErr> {
        let mut active = <E::ActiveModel as ActiveModelTrait>::default();
        let mut all_null = true;
        for (column, index, column_type) in &self.columns {
            let raw = row.get_ref(*index).map_err(query_error)?;
            all_null &= raw == ValueRef::Null;
            active.try_set(*column, value(column_type, raw, column.as_str())?)?;
        }
        if all_null {
            return Ok(None);
        }
        active.try_into_model().map(Some)
    }
}

impl Pool {
    fn open(&self) -> Result<Connection, DbErr> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&self.path, flags).map_err(|e| {
            DbErr::Conn(RuntimeErr::Internal(format!("cannot open {}: {e}", self.path.display())))
        })?;
        connection.busy_timeout(self.busy_timeout).map_err(query_error)?;
        connection.pragma_update(None, "query_only", true).map_err(query_error)?;
        // Without the query planner stability guarantee, SQLite re-prepares
        // a statement whenever a bound value it could plan around changes,
        // such as the one in `LIMIT ?`: a full parse on every execution.
        connection.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).map_err(query_error)?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(connection)
    }

    /// Runs `work` on a pooled connection (opening one if none is idle).
    fn with_connection<T>(&self, work: impl FnOnce(&Connection) -> Result<T, DbErr>) -> Result<T, DbErr> {
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let connection = match idle {
            Some(connection) => connection,
            None => self.open()?,
        };
        self.busy.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let result = work(&connection);
        self.busy.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.max_idle {
            idle.push(connection);
        }
        result
    }

    /// Runs `statement`; `mapper` sees the result's column names once and
    /// returns the function that maps each row.
    fn query<T, M>(
        &self,
        statement: &Statement,
        mapper: impl FnOnce(&[String]) -> Result<M, DbErr>,
    ) -> Result<Vec<T>, DbErr>
    where
        M: Fn(&rusqlite::Row<'_>) -> Result<T, DbErr>,
    {
        self.with_connection(|connection| {
            let mut prepared = connection.prepare_cached(&statement.sql).map_err(query_error)?;
            let names: Vec<String> = prepared.column_names().into_iter().map(str::to_owned).collect();
            let map = mapper(&names)?;
            for (index, value) in statement.values.iter().flat_map(|v| v.0.iter()).enumerate() {
                prepared.raw_bind_parameter(index + 1, Bind(value)).map_err(query_error)?;
            }
            let mut rows = prepared.raw_query();
            let mut result = Vec::new();
            while let Some(row) = rows.next().map_err(query_error)? {
                result.push(map(row)?);
            }
            Ok(result)
        })
    }
}

/// The SeaORM value for a column of `column_type`, as sqlx would decode it.
fn value(column_type: &ColumnType, raw: ValueRef<'_>, name: &str) -> Result<Value, DbErr> {
    let mismatch =
        || DbErr::Type(format!("column {name}: a {:?} value for a {column_type:?} column", raw.data_type()));
    let integer = || match raw {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(n) => Ok(Some(n)),
        _ => Err(mismatch()),
    };
    let text = || match raw {
        ValueRef::Null => Ok(None),
        ValueRef::Text(bytes) => std::str::from_utf8(bytes).map(Some).map_err(|_| mismatch()),
        _ => Err(mismatch()),
    };
    Ok(match column_type {
        ColumnType::BigInteger => Value::BigInt(integer()?),
        ColumnType::Integer => Value::Int(integer()?.map(i32::try_from).transpose().map_err(|_| mismatch())?),
        ColumnType::Boolean => Value::Bool(integer()?.map(|n| n != 0)),
        ColumnType::String(_) | ColumnType::Text | ColumnType::Char(_) => {
            Value::String(text()?.map(str::to_owned))
        }
        ColumnType::TimestampWithTimeZone => Value::TimeDateTimeWithTimeZone(
            text()?
                .map(|t| {
                    OffsetDateTime::parse(t, &Rfc3339)
                        .map_err(|e| DbErr::Type(format!("column {name}: `{t}` is not a timestamp: {e}")))
                })
                .transpose()?,
        ),
        other => {
            return Err(DbErr::Type(format!("column {name}: {other:?} columns are not read from SQLite")));
        }
    })
}

fn query_error(error: rusqlite::Error) -> DbErr {
    DbErr::Query(RuntimeErr::Internal(error.to_string()))
}

/// A SeaORM value bound as sqlx binds it for SQLite (timestamps as RFC 3339
/// text, booleans as 0 and 1), so that both see the same data.
struct Bind<'a>(&'a Value);

impl ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as Sql, ValueRef as Ref};
        let unsupported = |what: String| {
            rusqlite::Error::ToSqlConversionFailure(format!("cannot bind {what} for SQLite").into())
        };
        Ok(match self.0 {
            Value::Bool(v) => ToSqlOutput::Owned(v.map_or(Sql::Null, |b| Sql::Integer(i64::from(b)))),
            Value::Int(v) => ToSqlOutput::Owned(v.map_or(Sql::Null, |n| Sql::Integer(n.into()))),
            Value::BigInt(v) => ToSqlOutput::Owned(v.map_or(Sql::Null, Sql::Integer)),
            Value::Unsigned(v) => ToSqlOutput::Owned(v.map_or(Sql::Null, |n| Sql::Integer(n.into()))),
            Value::BigUnsigned(v) => match v {
                None => ToSqlOutput::Owned(Sql::Null),
                Some(n) => ToSqlOutput::Owned(Sql::Integer(
                    i64::try_from(*n).map_err(|_| unsupported(n.to_string()))?,
                )),
            },
            Value::Double(v) => ToSqlOutput::Owned(v.map_or(Sql::Null, Sql::Real)),
            Value::String(v) => v
                .as_deref()
                .map_or(ToSqlOutput::Owned(Sql::Null), |s| ToSqlOutput::Borrowed(Ref::Text(s.as_bytes()))),
            Value::TimeDateTimeWithTimeZone(v) => match v {
                None => ToSqlOutput::Owned(Sql::Null),
                Some(t) => {
                    ToSqlOutput::Owned(Sql::Text(t.format(&Rfc3339).map_err(|e| unsupported(e.to_string()))?))
                }
            },
            other => return Err(unsupported(format!("{other:?}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_as_their_column_type() {
        assert_eq!(value(&ColumnType::Boolean, ValueRef::Integer(1), "c").unwrap(), Value::Bool(Some(true)));
        assert_eq!(value(&ColumnType::BigInteger, ValueRef::Null, "c").unwrap(), Value::BigInt(None));
        let at =
            value(&ColumnType::TimestampWithTimeZone, ValueRef::Text(b"2026-11-22T05:26:29.378989Z"), "c")
                .unwrap();
        assert!(matches!(at, Value::TimeDateTimeWithTimeZone(Some(t)) if t.microsecond() == 378_989));
        assert!(value(&ColumnType::TimestampWithTimeZone, ValueRef::Text(b"yesterday"), "c").is_err());
        assert!(value(&ColumnType::BigInteger, ValueRef::Text(b"x"), "c").is_err());
    }
}
