use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter,
};
use time::Duration;

use super::now;
use crate::db::Db;
use crate::domain::{Session, SessionSecret, User, UserId};
use crate::entity::{session, user};

/// A session's last use is recorded at most this often, so that browsing
/// does not turn every request into a write.
const LAST_SEEN_PRECISION: Duration = Duration::minutes(1);

impl From<session::Model> for Session {
    fn from(row: session::Model) -> Self {
        Self {
            id: row.id,
            user_id: UserId::new(row.user_id),
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
            expires_at: row.expires_at,
        }
    }
}

/// Starts a session for `user`; the secret is for the cookie and only its
/// hash is stored.
pub async fn create(db: &Db, user: UserId) -> Result<(Session, SessionSecret), DbErr> {
    let secret = SessionSecret::generate();
    let at = now();
    let row = session::ActiveModel {
        user_id: Set(user.get()),
        secret_hash: Set(secret.hash()),
        created_at: Set(at),
        last_seen_at: Set(at),
        expires_at: Set(at + Session::LIFETIME),
        ..Default::default()
    };
    let session =
        db.write(move |txn| Box::pin(async move { row.insert(txn).await.map(Session::from) })).await?;
    Ok((session, secret))
}

/// The session and its user, if the secret names one. Whether it is still
/// live and the user may act is for the caller to decide.
pub async fn authenticate(db: &Db, secret: &SessionSecret) -> Result<Option<(Session, User)>, DbErr> {
    let select = session::Entity::find()
        .filter(session::Column::SecretHash.eq(secret.hash()))
        .find_also_related(user::Entity);
    let found = db.find_one_with_related(select).await?;
    Ok(found.and_then(|(session, user)| user.map(|user| (Session::from(session), User::from(user)))))
}

/// Records that `session` was used now, unless that was recorded recently.
pub fn touch(db: &Db, session: &Session) {
    let now = now();
    if now - session.last_seen_at < LAST_SEEN_PRECISION {
        return;
    }
    let id = session.id;
    db.write_detached("recording a session's last use", move |txn| {
        Box::pin(async move {
            session::Entity::update_many()
                .col_expr(session::Column::LastSeenAt, Expr::value(now))
                .filter(session::Column::Id.eq(id))
                .exec(txn)
                .await
                .map(|_| ())
        })
    });
}

/// Ends one session (logging out); returns whether there was one.
pub async fn end(db: &Db, id: i64) -> Result<bool, DbErr> {
    db.write(move |txn| {
        Box::pin(async move {
            let result = session::Entity::delete_many().filter(session::Column::Id.eq(id)).exec(txn).await?;
            Ok(result.rows_affected > 0)
        })
    })
    .await
}

/// Deletes sessions that have expired or been idle too long; returns how many.
pub async fn purge_expired(db: &Db) -> Result<u64, DbErr> {
    let now = now();
    db.write(move |txn| {
        Box::pin(async move {
            let result = session::Entity::delete_many()
                .filter(
                    Condition::any()
                        .add(session::Column::ExpiresAt.lte(now))
                        .add(session::Column::LastSeenAt.lte(now - Session::IDLE_TIMEOUT)),
                )
                .exec(txn)
                .await?;
            Ok(result.rows_affected)
        })
    })
    .await
}

pub async fn count(db: &Db, user: UserId) -> Result<u64, DbErr> {
    session::Entity::find().filter(session::Column::UserId.eq(user.get())).count(db.admin()).await
}
