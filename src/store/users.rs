use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use sea_orm::{DbErr, sea_query::Expr};

use super::now;
use crate::db::Db;
use crate::domain::{PasswordHash, User, UserId, Username};
use crate::entity::user;

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

pub async fn list(db: &Db) -> Result<Vec<User>, DbErr> {
    let select = user::Entity::find().order_by_asc(user::Column::Username);
    Ok(db.find_all(select).await?.into_iter().map(User::from).collect())
}

pub async fn count(db: &Db) -> Result<u64, DbErr> {
    user::Entity::find().count(db.admin()).await
}

/// Returns whether the user exists.
pub async fn set_password(db: &Db, username: &Username, hash: PasswordHash) -> Result<bool, DbErr> {
    let name = username.as_str().to_owned();
    db.write(move |txn| {
        Box::pin(async move {
            let result = user::Entity::update_many()
                .col_expr(user::Column::PasswordHash, Expr::value(hash.as_str()))
                .filter(user::Column::Username.eq(name))
                .exec(txn)
                .await?;
            Ok(result.rows_affected > 0)
        })
    })
    .await
}

/// Disables (or re-enables) an account; a disabled user's tokens stop
/// working at once. Returns whether the user exists.
pub async fn set_disabled(db: &Db, username: &Username, disabled: bool) -> Result<bool, DbErr> {
    let name = username.as_str().to_owned();
    db.write(move |txn| {
        Box::pin(async move {
            let result = user::Entity::update_many()
                .col_expr(user::Column::Disabled, Expr::value(disabled))
                .filter(user::Column::Username.eq(name))
                .exec(txn)
                .await?;
            Ok(result.rows_affected > 0)
        })
    })
    .await
}
