use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbBackend, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement, TransactionError, TransactionTrait, Value,
};

use super::now;
use crate::db::Db;
use crate::domain::{ListQuery, NewNote, Note, NoteId, NotePatch, Page, SearchQuery, Start, UserId};
use crate::entity::note;

impl From<note::Model> for Note {
    fn from(row: note::Model) -> Self {
        Self {
            id: NoteId::new(row.id),
            owner: UserId::new(row.owner_id),
            title: row.title,
            body: row.body,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

pub async fn create(db: &Db, owner: UserId, new: NewNote) -> Result<Note, DbErr> {
    let at = now();
    let row = note::ActiveModel {
        owner_id: Set(owner.get()),
        title: Set(new.title.into_inner()),
        body: Set(new.body.into_inner()),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    };
    db.write(move |txn| Box::pin(async move { row.insert(txn).await.map(Note::from) })).await
}

/// Creates many notes in one transaction (seeding, imports); returns how many.
pub async fn create_many(db: &Db, owner: UserId, notes: Vec<NewNote>) -> Result<u64, DbErr> {
    let at = now();
    let count = notes.len() as u64;
    db.write(move |txn| {
        Box::pin(async move {
            // Several statements: all or none of them, in a nested transaction.
            txn.transaction::<_, _, DbErr>(move |txn| {
                Box::pin(async move {
                    // Well under SQLite's limit of bound parameters per statement.
                    for chunk in notes.chunks(500) {
                        let rows = chunk.iter().map(|new| note::ActiveModel {
                            owner_id: Set(owner.get()),
                            title: Set(new.title.as_str().to_owned()),
                            body: Set(new.body.as_str().to_owned()),
                            created_at: Set(at),
                            updated_at: Set(at),
                            ..Default::default()
                        });
                        note::Entity::insert_many(rows).exec_without_returning(txn).await?;
                    }
                    Ok(count)
                })
            })
            .await
            .map_err(|e| match e {
                TransactionError::Connection(e) | TransactionError::Transaction(e) => e,
            })
        })
    })
    .await
}

/// The note, if it exists and belongs to `owner`: another user's note is
/// indistinguishable from a missing one.
pub async fn get(db: &Db, owner: UserId, id: NoteId) -> Result<Option<Note>, DbErr> {
    let select = note::Entity::find_by_id(id.get()).filter(note::Column::OwnerId.eq(owner.get()));
    Ok(db.find_one(select).await?.map(Note::from))
}

/// Applies `patch`; `None` when there is no such note of `owner`.
pub async fn update(db: &Db, owner: UserId, id: NoteId, patch: NotePatch) -> Result<Option<Note>, DbErr> {
    db.write(move |txn| {
        Box::pin(async move {
            let mut update = note::Entity::update_many()
                .col_expr(note::Column::UpdatedAt, Expr::value(now()))
                .filter(note::Column::Id.eq(id.get()))
                .filter(note::Column::OwnerId.eq(owner.get()));
            if let Some(title) = patch.title() {
                update = update.col_expr(note::Column::Title, Expr::value(title.as_str()));
            }
            if let Some(body) = patch.body() {
                update = update.col_expr(note::Column::Body, Expr::value(body.as_str()));
            }
            Ok(update.exec_with_returning(txn).await?.into_iter().next().map(Note::from))
        })
    })
    .await
}

/// Returns whether a note of `owner` was deleted.
pub async fn delete(db: &Db, owner: UserId, id: NoteId) -> Result<bool, DbErr> {
    db.write(move |txn| {
        Box::pin(async move {
            let result = note::Entity::delete_many()
                .filter(note::Column::Id.eq(id.get()))
                .filter(note::Column::OwnerId.eq(owner.get()))
                .exec(txn)
                .await?;
            Ok(result.rows_affected > 0)
        })
    })
    .await
}

/// How many notes there are, of all users (for the metrics).
pub async fn count_all(db: &Db) -> Result<u64, DbErr> {
    note::Entity::find().count(db.admin()).await
}

/// One page of `owner`'s notes: newest first, or best search matches first.
pub async fn list(db: &Db, owner: UserId, query: &ListQuery) -> Result<Page<Note>, DbErr> {
    // One row more than the page tells whether another page exists.
    let fetch = u64::from(query.limit) + 1;
    let mut rows = match (&query.search, query.start) {
        (Some(search), start) => {
            let offset = match start {
                Start::Offset(offset) => offset,
                _ => 0,
            };
            db.find_raw::<note::Entity>(search_statement(db.backend(), owner, search, fetch, offset)).await?
        }
        (None, start) => {
            let mut select = note::Entity::find().filter(note::Column::OwnerId.eq(owner.get()));
            if let Start::Before(id) = start {
                select = select.filter(note::Column::Id.lt(id.get()));
            }
            db.find_all(select.order_by_desc(note::Column::Id).limit(fetch)).await?
        }
    };
    let more = rows.len() as u64 > u64::from(query.limit);
    rows.truncate(query.limit as usize);
    let items: Vec<Note> = rows.into_iter().map(Note::from).collect();
    let next = query.next_cursor(items.last().map(|n| n.id), more);
    Ok(Page { items, next })
}

/// Builds the search for either backend. A note matches when every term
/// matches either as a word (in any English form: `meetings` finds
/// `meeting`) or as any part of the title or body (`배포` finds `배포를`,
/// `deploy` finds `deployment`). Word matches rank first, by relevance
/// (title above body); the rest follow newest first.
fn search_statement(
    backend: DbBackend,
    owner: UserId,
    search: &SearchQuery,
    limit: u64,
    offset: u32,
) -> Statement {
    let mut sql = SqlBuilder::new(backend);
    let owner = sql.bind(owner.get());
    let substring = search.substring_terms();
    match backend {
        DbBackend::Postgres => {
            let mut conditions = Vec::new();
            for term in substring.long.iter().chain(&substring.short) {
                let pattern = sql.bind(like_pattern(term));
                conditions.push(format!("(n.title || ' ' || n.body) ILIKE {pattern} ESCAPE '\\'"));
            }
            let substring = conditions.join(" AND ");
            let (rank, matched) = match search.word_terms() {
                Some(words) => {
                    let words = sql.bind(words.join(" "));
                    let query = format!("plainto_tsquery('notes_english', {words})");
                    (
                        format!(
                            "CASE WHEN n.search_words @@ {query} THEN ts_rank(n.search_words, {query}) END"
                        ),
                        format!("n.search_words @@ {query} OR "),
                    )
                }
                None => ("NULL::real".to_owned(), String::new()),
            };
            sql.push(&format!(
                "SELECT n.id, n.owner_id, n.title, n.body, n.created_at, n.updated_at FROM (
                    SELECT n.*, {rank} AS word_rank FROM notes n
                    WHERE n.owner_id = {owner} AND ({matched}({substring}))
                 ) n
                 ORDER BY n.word_rank DESC NULLS LAST, n.id DESC"
            ));
        }
        _ => {
            let mut conditions = Vec::new();
            if !substring.long.is_empty() {
                let phrases: Vec<String> = substring.long.iter().map(|t| fts_phrase(t)).collect();
                let query = sql.bind(phrases.join(" AND "));
                conditions.push(format!(
                    "n.id IN (SELECT rowid FROM notes_trigrams WHERE notes_trigrams MATCH {query})"
                ));
            }
            for term in &substring.short {
                let pattern = sql.bind(like_pattern(term));
                conditions.push(format!(
                    "(n.title LIKE {pattern} ESCAPE '\\' OR n.body LIKE {pattern} ESCAPE '\\')"
                ));
            }
            let substring = conditions.join(" AND ");
            let (join, matched) = match search.word_terms() {
                Some(words) => {
                    let phrases: Vec<String> = words.iter().map(|t| fts_phrase(t)).collect();
                    let query = sql.bind(phrases.join(" AND "));
                    (
                        // bm25 is lower for better matches; the title weighs 4x.
                        format!(
                            "LEFT JOIN (SELECT rowid AS id, bm25(notes_words, 4.0, 1.0) AS rank
                                        FROM notes_words WHERE notes_words MATCH {query}) w ON w.id = n.id"
                        ),
                        "w.id IS NOT NULL OR ",
                    )
                }
                None => ("LEFT JOIN (SELECT NULL AS id, NULL AS rank) w ON 0".to_owned(), ""),
            };
            sql.push(&format!(
                "SELECT n.id, n.owner_id, n.title, n.body, n.created_at, n.updated_at FROM notes n {join}
                 WHERE n.owner_id = {owner} AND ({matched}({substring}))
                 ORDER BY w.id IS NULL, w.rank, n.id DESC"
            ));
        }
    }
    let limit = sql.bind(limit as i64);
    let offset = sql.bind(i64::from(offset));
    sql.push(&format!(" LIMIT {limit} OFFSET {offset}"));
    sql.finish()
}

/// A `LIKE` pattern matching `term` anywhere, with `\` escaping.
fn like_pattern(term: &str) -> String {
    let escaped = term.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// An FTS5 phrase: the term in double quotes, inner quotes doubled, so that
/// no character in user input is FTS5 syntax.
fn fts_phrase(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// Raw SQL with placeholders in the backend's style (`?` or `$n`).
struct SqlBuilder {
    backend: DbBackend,
    sql: String,
    values: Vec<Value>,
}

impl SqlBuilder {
    fn new(backend: DbBackend) -> Self {
        Self { backend, sql: String::new(), values: Vec::new() }
    }

    /// Adds a parameter and returns its placeholder.
    fn bind(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => format!("?{}", self.values.len()),
        }
    }

    fn push(&mut self, sql: &str) {
        self.sql.push_str(sql);
    }

    fn finish(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.sql, self.values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }

    #[test]
    fn fts_phrases_quote_everything() {
        assert_eq!(fts_phrase("a\"b OR c*"), "\"a\"\"b OR c*\"");
    }
}
