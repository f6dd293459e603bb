use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, TransactionError, TransactionTrait,
};
use sea_orm::{DbErr, sea_query::Expr};

use super::now;
use crate::db::Db;
use crate::domain::{PasswordHash, User, UserId, Username};
use crate::entity::{session, user};

impl From<user::Model> for User {
    fn from(row: user::Model) -> Self {
        Self {
            id: UserId::new(row.id),
            username: row.username,
            is_admin: row.is_admin,
            disabled: row.disabled,
            created_at: row.created_at,
        }
    }
}

/// Creates an account. A taken username is a unique-constraint error
/// (`DbErr::sql_err()` says which).
pub async fn create(db: &Db, username: &Username, hash: PasswordHash, is_admin: bool) -> Result<User, DbErr> {
    let row = user::ActiveModel {
        username: Set(username.as_str().to_owned()),
        password_hash: Set(hash.as_str().to_owned()),
        is_admin: Set(is_admin),
        disabled: Set(false),
        created_at: Set(now()),
        ..Default::default()
    };
    db.write(move |txn| Box::pin(async move { row.insert(txn).await.map(User::from) })).await
}

pub async fn find(db: &Db, username: &Username) -> Result<Option<User>, DbErr> {
    let select = user::Entity::find().filter(user::Column::Username.eq(username.as_str()));
    Ok(db.find_one(select).await?.map(User::from))
}

pub async fn get(db: &Db, id: UserId) -> Result<Option<User>, DbErr> {
    Ok(db.find_one(user::Entity::find_by_id(id.get())).await?.map(User::from))
}

/// The account and its password hash, for checking a login.
pub async fn credentials(db: &Db, username: &Username) -> Result<Option<(User, PasswordHash)>, DbErr> {
    let select = user::Entity::find().filter(user::Column::Username.eq(username.as_str()));
    Ok(db.find_one(select).await?.map(|row| {
        let hash = PasswordHash::from_stored(row.password_hash.clone());
        (User::from(row), hash)
    }))
}

pub async fn list(db: &Db) -> Result<Vec<User>, DbErr> {
    let select = user::Entity::find().order_by_asc(user::Column::Username);
    Ok(db.find_all(select).await?.into_iter().map(User::from).collect())
}

pub async fn count(db: &Db) -> Result<u64, DbErr> {
    user::Entity::find().count(db.admin()).await
}

/// Which account a change is for: the CLI names users, the API has ids.
#[derive(Debug, Clone)]
pub enum Account {
    Name(Username),
    Id(UserId),
}

impl Account {
    fn filter(&self) -> sea_orm::sea_query::SimpleExpr {
        match self {
            Self::Name(name) => user::Column::Username.eq(name.as_str()),
            Self::Id(id) => user::Column::Id.eq(id.get()),
        }
    }
}

/// Sets the password and ends the account's browser sessions, but `keep`
/// (the session that changed it). Returns whether the user exists.
pub async fn set_password(
    db: &Db,
    account: Account,
    hash: PasswordHash,
    keep: Option<i64>,
) -> Result<bool, DbErr> {
    change_and_end_sessions(db, account, keep, move |update| {
        update.col_expr(user::Column::PasswordHash, Expr::value(hash.as_str()))
    })
    .await
}

/// Disables (or re-enables) an account. Disabling ends its browser
/// sessions, and its tokens stop working at once. Returns whether the
/// user exists.
pub async fn set_disabled(db: &Db, account: Account, disabled: bool) -> Result<bool, DbErr> {
    change_and_end_sessions(db, account, None, move |update| {
        update.col_expr(user::Column::Disabled, Expr::value(disabled))
    })
    .await
}

/// Updates the account and deletes its sessions but `keep`, all or nothing.
async fn change_and_end_sessions(
    db: &Db,
    account: Account,
    keep: Option<i64>,
    change: impl FnOnce(sea_orm::UpdateMany<user::Entity>) -> sea_orm::UpdateMany<user::Entity> + Send + 'static,
) -> Result<bool, DbErr> {
    db.write(move |txn| {
        Box::pin(async move {
            txn.transaction::<_, _, DbErr>(move |txn: &DatabaseTransaction| {
                Box::pin(async move {
                    let updated = change(user::Entity::update_many().filter(account.filter()))
                        .exec_with_returning(txn)
                        .await?;
                    let Some(row) = updated.into_iter().next() else { return Ok(false) };
                    let mut end = session::Entity::delete_many().filter(session::Column::UserId.eq(row.id));
                    if let Some(keep) = keep {
                        end = end.filter(session::Column::Id.ne(keep));
                    }
                    end.exec(txn).await?;
                    Ok(true)
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
