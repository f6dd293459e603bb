//! `/api/users`: account management for admins, through the same API that
//! the web UI and scripts use.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State, get, patch, post, routes};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::auth::AdminUser;
use super::json::{JsonBody, present};
use super::passwords::Passwords;
use crate::db::Db;
use crate::domain::{Password, User, UserId, Username, ValidationError};
use crate::error::{ApiResult, AppError};
use crate::store;
use crate::store::users::Account;

/// An account on the wire (never the password hash).
#[derive(Serialize)]
pub struct UserView {
    id: i64,
    username: String,
    is_admin: bool,
    disabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            id: user.id.get(),
            username: user.username,
            is_admin: user.is_admin,
            disabled: user.disabled,
            created_at: user.created_at,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    username: String,
    password: String,
    #[serde(default)]
    is_admin: bool,
}

/// `PATCH` body: what to change. `null` is not a value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChanges {
    #[serde(default, deserialize_with = "present")]
    disabled: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    password: Option<String>,
}

#[get("/users")]
async fn list(_admin: AdminUser, db: &State<Db>) -> ApiResult<Json<Vec<UserView>>> {
    Ok(Json(store::users::list(db).await?.into_iter().map(UserView::from).collect()))
}

#[post("/users", data = "<input>")]
async fn create(
    _admin: AdminUser,
    db: &State<Db>,
    passwords: &State<Passwords>,
    input: JsonBody<NewUser>,
) -> ApiResult<(Status, Json<UserView>)> {
    let NewUser { username, password, is_admin } = input.0;
    let username = Username::parse(&username)?;
    let hash = passwords.hash(Password::parse(password)?).await?;
    match store::users::create(db, &username, hash, is_admin).await {
        Ok(user) => Ok((Status::Created, Json(UserView::from(user)))),
        Err(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {
            Err(AppError::Conflict(format!("the username {username} is taken")))
        }
        Err(e) => Err(e.into()),
    }
}

#[patch("/users/<id>", data = "<changes>")]
async fn update(
    admin: AdminUser,
    db: &State<Db>,
    passwords: &State<Passwords>,
    id: &str,
    changes: JsonBody<UserChanges>,
) -> ApiResult<Json<UserView>> {
    let id =
        id.parse::<i64>().ok().filter(|id| *id > 0).map(UserId::new).ok_or(AppError::NotFound("user"))?;
    let UserChanges { disabled, password } = changes.0;
    if disabled.is_none() && password.is_none() {
        return Err(ValidationError::new("body", "give `disabled` or `password`").into());
    }
    if disabled == Some(true) && id == admin.0.id {
        return Err(AppError::Conflict("you cannot disable your own account".into()));
    }
    // Checked before anything is changed, so that a bad password changes nothing.
    let password = password.map(Password::parse).transpose()?;
    if store::users::get(db, id).await?.is_none() {
        return Err(AppError::NotFound("user"));
    }
    if let Some(password) = password {
        let hash = passwords.hash(password).await?;
        store::users::set_password(db, Account::Id(id), hash, None).await?;
    }
    if let Some(disabled) = disabled {
        store::users::set_disabled(db, Account::Id(id), disabled).await?;
    }
    let user = store::users::get(db, id).await?.ok_or(AppError::NotFound("user"))?;
    Ok(Json(UserView::from(user)))
}

pub fn routes() -> Vec<Route> {
    routes![list, create, update]
}
