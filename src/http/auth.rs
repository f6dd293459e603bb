//! `AuthUser`: the request guard behind every `/api/notes` route.
//! Authentication is `Authorization: Bearer <token>`.

use rocket::request::{FromRequest, Outcome, Request};

use super::catchers::GuardError;
use crate::db::Db;
use crate::domain::{TokenSecret, UserId};
use crate::error::AppError;
use crate::store;

/// The user a request acts for.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: UserId,
    pub username: String,
    pub is_admin: bool,
}

const INVALID: &str = "the token is invalid or has been revoked";

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AuthUser {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ()> {
        match authenticate(request).await {
            Ok(user) => Outcome::Success(user),
            Err(error) => Outcome::Error((GuardError::stash(request, error), ())),
        }
    }
}

async fn authenticate(request: &Request<'_>) -> Result<AuthUser, AppError> {
    let db = request
        .rocket()
        .state::<Db>()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the database is not managed")))?;
    let header = request
        .headers()
        .get_one("Authorization")
        .ok_or(AppError::Unauthorized("send `Authorization: Bearer <token>`"))?;
    let presented = match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => return Err(AppError::Unauthorized("the Authorization header must be `Bearer <token>`")),
    };
    let secret = TokenSecret::from_presented(presented).ok_or(AppError::Unauthorized(INVALID))?;
    let (token, user) =
        store::tokens::authenticate(db, &secret).await?.ok_or(AppError::Unauthorized(INVALID))?;
    if user.disabled {
        return Err(AppError::Unauthorized("this account is disabled"));
    }
    store::tokens::touch(db, &token);
    Ok(AuthUser { id: user.id, username: user.username, is_admin: user.is_admin })
}
