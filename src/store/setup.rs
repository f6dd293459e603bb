//! First-run setup: one-time tokens for the link the server logs while no
//! account exists, and claiming one to create the first (admin) account.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, Statement, TransactionError, TransactionTrait,
};

use super::now;
use crate::db::Db;
use crate::domain::{PasswordHash, SetupToken, User, Username};
use crate::entity::{setup_token, user};

/// Makes a new setup token and forgets expired ones. Tokens made by earlier
/// boots (or by other instances) stay valid until they expire.
pub async fn create(db: &Db) -> Result<SetupToken, DbErr> {
    let token = SetupToken::generate();
    let at = now();
    let row = setup_token::ActiveModel {
        token_hash: Set(token.hash()),
        created_at: Set(at),
        expires_at: Set(at + SetupToken::VALIDITY),
        ..Default::default()
    };
    db.write(move |txn| {
        Box::pin(async move {
            txn.transaction::<_, _, DbErr>(move |txn| {
                Box::pin(async move {
                    setup_token::Entity::delete_many()
                        .filter(setup_token::Column::ExpiresAt.lte(at))
                        .exec(txn)
                        .await?;
                    row.insert(txn).await?;
                    Ok(())
                })
            })
            .await
            .map_err(flatten)
        })
    })
    .await?;
    Ok(token)
}

/// How claiming a setup token went.
#[derive(Debug)]
pub enum Claim {
    Created(User),
    /// An account exists: setup is over.
    Closed,
    /// No live token matches.
    InvalidToken,
}

/// Creates the first account, as an admin, if `token` is live and no
/// account exists; then no token is left. All of it happens under one lock
/// (the single writer on SQLite, an advisory lock on PostgreSQL), so that
/// two claims racing, on one instance or several, create one account.
pub async fn claim(
    db: &Db,
    token: &SetupToken,
    username: &Username,
    hash: PasswordHash,
) -> Result<Claim, DbErr> {
    let token_hash = token.hash();
    let username = username.as_str().to_owned();
    db.write(move |txn| {
        Box::pin(async move {
            txn.transaction::<_, _, DbErr>(move |txn| Box::pin(claim_in(txn, token_hash, username, hash)))
                .await
                .map_err(flatten)
        })
    })
    .await
}

async fn claim_in(
    txn: &DatabaseTransaction,
    token_hash: String,
    username: String,
    hash: PasswordHash,
) -> Result<Claim, DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        // Any constant shared by every instance; held until the transaction ends.
        txn.execute_raw(Statement::from_string(DbBackend::Postgres, "SELECT pg_advisory_xact_lock(7291001)"))
            .await?;
    }
    if user::Entity::find().count(txn).await? > 0 {
        return Ok(Claim::Closed);
    }
    let at = now();
    let live = setup_token::Entity::find()
        .filter(setup_token::Column::TokenHash.eq(token_hash))
        .filter(setup_token::Column::ExpiresAt.gt(at))
        .one(txn)
        .await?;
    if live.is_none() {
        return Ok(Claim::InvalidToken);
    }
    setup_token::Entity::delete_many().exec(txn).await?;
    let row = user::ActiveModel {
        username: Set(username),
        password_hash: Set(hash.as_str().to_owned()),
        is_admin: Set(true),
        disabled: Set(false),
        created_at: Set(at),
        ..Default::default()
    };
    Ok(Claim::Created(User::from(row.insert(txn).await?)))
}

fn flatten(error: TransactionError<DbErr>) -> DbErr {
    match error {
        TransactionError::Connection(e) | TransactionError::Transaction(e) => e,
    }
}
