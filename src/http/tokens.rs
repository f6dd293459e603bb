//! `/api/tokens`: a user's own API tokens for scripts.

use rocket::http::{Header, Status};
use rocket::response::{self, Responder, Response};
use rocket::serde::json::Json;
use rocket::{Request, Route, State, delete, get, post, routes};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::auth::AuthUser;
use super::json::JsonBody;
use crate::db::Db;
use crate::domain::{TokenName, TokenSummary};
use crate::error::{ApiResult, AppError};
use crate::store;

#[derive(Serialize)]
pub struct TokenView {
    id: i64,
    name: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    last_used_at: Option<OffsetDateTime>,
    /// Only in the answer to creation: the secret is not kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

impl From<TokenSummary> for TokenView {
    fn from(token: TokenSummary) -> Self {
        Self {
            id: token.id,
            name: token.name,
            created_at: token.created_at,
            last_used_at: token.last_used_at,
            token: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
}

#[get("/tokens")]
async fn list(user: AuthUser, db: &State<Db>) -> ApiResult<Json<Vec<TokenView>>> {
    Ok(Json(store::tokens::list(db, user.id).await?.into_iter().map(TokenView::from).collect()))
}

/// 201 with `Location` and the token, secret included.
pub struct CreatedToken(TokenView);

impl<'r> Responder<'r, 'static> for CreatedToken {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        let location = format!("/api/tokens/{}", self.0.id);
        Response::build_from(Json(self.0).respond_to(request)?)
            .status(Status::Created)
            .header(Header::new("Location", location))
            .ok()
    }
}

#[post("/tokens", data = "<input>")]
async fn create(user: AuthUser, db: &State<Db>, input: JsonBody<NewToken>) -> ApiResult<CreatedToken> {
    let name = TokenName::parse(&input.0.name)?;
    let (summary, secret) = store::tokens::create(db, user.id, name).await?;
    let mut view = TokenView::from(summary);
    view.token = Some(secret.expose().to_owned());
    Ok(CreatedToken(view))
}

/// Another user's token is answered exactly like a missing one.
#[delete("/tokens/<id>")]
async fn revoke(user: AuthUser, db: &State<Db>, id: &str) -> ApiResult<Status> {
    let id = id.parse::<i64>().map_err(|_| AppError::NotFound("token"))?;
    if store::tokens::revoke(db, user.id, id).await? {
        Ok(Status::NoContent)
    } else {
        Err(AppError::NotFound("token"))
    }
}

pub fn routes() -> Vec<Route> {
    routes![list, create, revoke]
}
