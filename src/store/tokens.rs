use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use time::{Duration, OffsetDateTime};

use super::now;
use crate::db::Db;
use crate::domain::{ApiToken, TokenName, TokenSecret, TokenSummary, User, UserId};
use crate::entity::{api_token, user};

/// A token's last use is recorded at most this often, so that reading with
/// a token does not turn every request into a write.
const LAST_USED_PRECISION: Duration = Duration::minutes(1);

impl From<api_token::Model> for TokenSummary {
    fn from(row: api_token::Model) -> Self {
        Self {
            id: row.id,
            user_id: UserId::new(row.user_id),
            name: row.name,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }
    }
}

/// Creates a token for `user`; the secret is returned once and only its
/// hash is stored.
pub async fn create(db: &Db, user: UserId, name: TokenName) -> Result<(TokenSummary, TokenSecret), DbErr> {
    let secret = TokenSecret::generate();
    let row = api_token::ActiveModel {
        user_id: Set(user.get()),
        name: Set(name.as_str().to_owned()),
        token_hash: Set(secret.hash()),
        created_at: Set(now()),
        last_used_at: Set(None),
        ..Default::default()
    };
    let summary =
        db.write(move |txn| Box::pin(async move { row.insert(txn).await.map(TokenSummary::from) })).await?;
    Ok((summary, secret))
}

pub async fn list(db: &Db, user: UserId) -> Result<Vec<TokenSummary>, DbErr> {
    let select = api_token::Entity::find()
        .filter(api_token::Column::UserId.eq(user.get()))
        .order_by_asc(api_token::Column::Id);
    Ok(db.find_all(select).await?.into_iter().map(TokenSummary::from).collect())
}

/// Deletes a token of `user`; returns whether there was one.
pub async fn revoke(db: &Db, user: UserId, id: i64) -> Result<bool, DbErr> {
    db.write(move |txn| {
        Box::pin(async move {
            let result = api_token::Entity::delete_many()
                .filter(api_token::Column::Id.eq(id))
                .filter(api_token::Column::UserId.eq(user.get()))
                .exec(txn)
                .await?;
            Ok(result.rows_affected > 0)
        })
    })
    .await
}

/// The token and its user, if the token exists. Whether the user may act
/// (not disabled) is for the caller to decide.
pub async fn authenticate(db: &Db, secret: &TokenSecret) -> Result<Option<(ApiToken, User)>, DbErr> {
    let select = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(secret.hash()))
        .find_also_related(user::Entity);
    let found = db.find_one_with_related(select).await?;
    Ok(found.and_then(|(token, user)| {
        let token =
            ApiToken { id: token.id, user_id: UserId::new(token.user_id), last_used_at: token.last_used_at };
        user.map(|user| (token, User::from(user)))
    }))
}

/// Records that `token` was used now, unless that was recorded recently.
pub fn touch(db: &Db, token: &ApiToken) {
    let now = now();
    let recent = token.last_used_at.is_some_and(|at: OffsetDateTime| now - at < LAST_USED_PRECISION);
    if recent {
        return;
    }
    let id = token.id;
    db.write_detached("recording a token's last use", move |txn| {
        Box::pin(async move {
            api_token::Entity::update_many()
                .col_expr(api_token::Column::LastUsedAt, Expr::value(now))
                .filter(api_token::Column::Id.eq(id))
                .exec(txn)
                .await
                .map(|_| ())
        })
    });
}
