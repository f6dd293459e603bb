//! Moving records between a database and the portable format, or from one
//! database into another: [`DbReader`] reads a consistent snapshot,
//! [`load`] writes everything into a target in one transaction.

use std::collections::VecDeque;

use anyhow::Context;
use sea_orm::{
    AccessMode, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, IsolationLevel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

use super::portable::{Counts, NoteRecord, Reader, Record, TokenRecord, UserRecord};
use crate::db::Db;
use crate::entity::{api_token, note, session, setup_token, user};

/// Notes are read and written this many at a time.
const BATCH: usize = 250;

/// Reads every record of a database from one snapshot: a REPEATABLE READ,
/// READ ONLY transaction on PostgreSQL, a read transaction on SQLite
/// (which, in WAL mode, sees the database as of its first read while
/// writers go on).
pub struct DbReader {
    txn: DatabaseTransaction,
    stage: Stage,
    buffer: VecDeque<Record>,
    last_note: i64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Users,
    Tokens,
    Notes,
    Done,
}

impl DbReader {
    pub async fn begin(db: &Db) -> Result<Self, DbErr> {
        let txn = match db.backend() {
            DbBackend::Postgres => {
                db.admin()
                    .begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly))
                    .await?
            }
            _ => db.admin().begin().await?,
        };
        Ok(Self { txn, stage: Stage::Users, buffer: VecDeque::new(), last_note: 0 })
    }

    pub async fn next_record(&mut self) -> Result<Option<Record>, DbErr> {
        loop {
            if let Some(record) = self.buffer.pop_front() {
                return Ok(Some(record));
            }
            match self.stage {
                Stage::Users => {
                    let rows = user::Entity::find().order_by_asc(user::Column::Id).all(&self.txn).await?;
                    self.buffer.extend(rows.into_iter().map(|row| {
                        Record::User(UserRecord {
                            id: row.id,
                            username: row.username,
                            password_hash: row.password_hash,
                            is_admin: row.is_admin,
                            disabled: row.disabled,
                            created_at: row.created_at,
                        })
                    }));
                    self.stage = Stage::Tokens;
                }
                Stage::Tokens => {
                    let rows =
                        api_token::Entity::find().order_by_asc(api_token::Column::Id).all(&self.txn).await?;
                    self.buffer.extend(rows.into_iter().map(|row| {
                        Record::Token(TokenRecord {
                            id: row.id,
                            user_id: row.user_id,
                            name: row.name,
                            token_hash: row.token_hash,
                            created_at: row.created_at,
                            last_used_at: row.last_used_at,
                        })
                    }));
                    self.stage = Stage::Notes;
                }
                Stage::Notes => {
                    let rows = note::Entity::find()
                        .filter(note::Column::Id.gt(self.last_note))
                        .order_by_asc(note::Column::Id)
                        .limit(BATCH as u64)
                        .all(&self.txn)
                        .await?;
                    if rows.len() < BATCH {
                        self.stage = Stage::Done;
                    }
                    if let Some(last) = rows.last() {
                        self.last_note = last.id;
                    }
                    self.buffer.extend(rows.into_iter().map(|row| {
                        Record::Note(NoteRecord {
                            id: row.id,
                            owner_id: row.owner_id,
                            title: row.title,
                            body: row.body,
                            created_at: row.created_at,
                            updated_at: row.updated_at,
                        })
                    }));
                }
                Stage::Done => return Ok(None),
            }
        }
    }

    /// Ends the read transaction.
    pub async fn finish(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

/// Where [`load`] takes records from.
pub enum Source<R: std::io::BufRead> {
    /// An export, read (and checked again) line by line.
    File(Box<Reader<R>>),
    /// Another database.
    Db(DbReader),
}

impl<R: std::io::BufRead> Source<R> {
    async fn next_record(&mut self) -> anyhow::Result<Option<Record>> {
        match self {
            Self::File(reader) => Ok(reader.next_record()?),
            Self::Db(reader) => Ok(reader.next_record().await.context("cannot read the source database")?),
        }
    }
}

/// What [`load`] does with a target that already holds data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Refuse unless it has no accounts and no notes (`import`).
    IntoEmpty,
    /// Delete its content first, in the same transaction (`restore`).
    Replace,
}

/// Writes every record of `source` into `target` in one transaction:
/// either all of it is committed or nothing changes. Sessions and setup
/// links are cleared (they belong to the content being replaced), so
/// everyone logs in again.
pub async fn load<R: std::io::BufRead>(
    target: &Db,
    source: &mut Source<R>,
    mode: Mode,
) -> anyhow::Result<Counts> {
    let txn = target.begin_bulk().await.context("cannot begin the transaction on the target database")?;
    let postgres = target.backend() == DbBackend::Postgres;
    if postgres {
        // Servers on this database wait until the switch is committed
        // instead of seeing it half done.
        txn.execute_unprepared(
            "LOCK TABLE users, api_tokens, notes, sessions, setup_tokens IN ACCESS EXCLUSIVE MODE",
        )
        .await
        .context("cannot lock the target's tables")?;
    }
    match mode {
        Mode::IntoEmpty => {
            let users = user::Entity::find().count(&txn).await?;
            let notes = note::Entity::find().count(&txn).await?;
            anyhow::ensure!(
                users == 0 && notes == 0,
                "the target database already has {users} accounts and {notes} notes: import only into a new \
                 installation; to replace its content, use `notes-appliance restore`"
            );
        }
        Mode::Replace => {
            session::Entity::delete_many().exec(&txn).await?;
            note::Entity::delete_many().exec(&txn).await?;
            api_token::Entity::delete_many().exec(&txn).await?;
            user::Entity::delete_many().exec(&txn).await?;
        }
    }
    setup_token::Entity::delete_many().exec(&txn).await?;
    let mut counts = Counts::default();
    let mut batch = Batch::default();
    while let Some(record) = source.next_record().await? {
        counts.add(&record);
        batch.push(record, &txn).await?;
    }
    batch.flush(&txn).await?;
    if postgres {
        for table in ["users", "api_tokens", "notes"] {
            // Never moves a sequence back: an id handed out once (in a link,
            // a cursor) is never given to a different note.
            txn.execute_unprepared(&format!(
                "SELECT setval(s, GREATEST(COALESCE(pg_sequence_last_value(s::regclass), 0), \
                 COALESCE((SELECT MAX(id) FROM {table}), 0), 1)) \
                 FROM (SELECT pg_get_serial_sequence('{table}', 'id') AS s) AS q"
            ))
            .await
            .with_context(|| format!("cannot move the {table} id sequence past the loaded ids"))?;
        }
    }
    txn.commit().await.context("cannot commit; the target database is unchanged")?;
    Ok(counts)
}

/// Rows waiting to be inserted, all of one table.
#[derive(Default)]
struct Batch {
    users: Vec<user::ActiveModel>,
    tokens: Vec<api_token::ActiveModel>,
    notes: Vec<note::ActiveModel>,
}

impl Batch {
    async fn push(&mut self, record: Record, txn: &DatabaseTransaction) -> anyhow::Result<()> {
        // Records come users first, so flushing on a change of table keeps
        // every reference pointing at a row already inserted.
        match record {
            Record::User(r) => {
                self.users.push(user::ActiveModel {
                    id: Set(r.id),
                    username: Set(r.username),
                    password_hash: Set(r.password_hash),
                    is_admin: Set(r.is_admin),
                    disabled: Set(r.disabled),
                    created_at: Set(r.created_at),
                });
            }
            Record::Token(r) => {
                if !self.users.is_empty() {
                    self.flush(txn).await?;
                }
                self.tokens.push(api_token::ActiveModel {
                    id: Set(r.id),
                    user_id: Set(r.user_id),
                    name: Set(r.name),
                    token_hash: Set(r.token_hash),
                    created_at: Set(r.created_at),
                    last_used_at: Set(r.last_used_at),
                });
            }
            Record::Note(r) => {
                if !self.users.is_empty() || !self.tokens.is_empty() {
                    self.flush(txn).await?;
                }
                self.notes.push(note::ActiveModel {
                    id: Set(r.id),
                    owner_id: Set(r.owner_id),
                    title: Set(r.title),
                    body: Set(r.body),
                    created_at: Set(r.created_at),
                    updated_at: Set(r.updated_at),
                });
            }
        }
        if self.users.len() + self.tokens.len() + self.notes.len() >= BATCH {
            self.flush(txn).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, txn: &DatabaseTransaction) -> anyhow::Result<()> {
        if !self.users.is_empty() {
            user::Entity::insert_many(std::mem::take(&mut self.users))
                .exec_without_returning(txn)
                .await
                .context("cannot insert the accounts")?;
        }
        if !self.tokens.is_empty() {
            api_token::Entity::insert_many(std::mem::take(&mut self.tokens))
                .exec_without_returning(txn)
                .await
                .context("cannot insert the tokens")?;
        }
        if !self.notes.is_empty() {
            note::Entity::insert_many(std::mem::take(&mut self.notes))
                .exec_without_returning(txn)
                .await
                .context("cannot insert the notes")?;
        }
        Ok(())
    }
}
