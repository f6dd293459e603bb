//! First-run setup: while no account exists, the server logs a one-time
//! link, `https://<host>/setup#<token>` (the token is in the fragment, so
//! it never reaches a log or a `Referer`). The page lets whoever holds the
//! link create the first account, an admin, and logs them in. Once an
//! account exists, the page and the API are gone.

use rocket::http::{CookieJar, Status};
use rocket::response::Redirect;
use rocket::serde::json::Json;
use rocket::{Route, State, get, post, routes};
use serde::Deserialize;

use super::assets::{self, Served};
use super::json::JsonBody;
use super::session::{self, Attempt, SameOrigin, SessionView};
use crate::db::Db;
use crate::domain::{Password, SetupToken, Username};
use crate::error::{ApiResult, AppError};
use crate::store;
use crate::store::setup::Claim;

const INVALID: &str =
    "the setup link is not valid or has expired; restart the service and use the link it logs";
const CLOSED: &str = "setup is over: an account exists";

#[get("/setup")]
async fn page(db: &State<Db>) -> ApiResult<Result<Served, Redirect>> {
    if store::users::count(db).await? == 0 { Ok(Ok(assets::page()?)) } else { Ok(Err(Redirect::to("/"))) }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupInput {
    token: String,
    username: String,
    password: String,
}

#[post("/setup", data = "<input>")]
async fn claim(
    _same_origin: SameOrigin,
    attempt: Attempt<'_>,
    db: &State<Db>,
    cookies: &CookieJar<'_>,
    input: JsonBody<SetupInput>,
) -> ApiResult<(Status, Json<SessionView>)> {
    let SetupInput { token, username, password } = input.0;
    if store::users::count(db).await? > 0 {
        return Err(AppError::Conflict(CLOSED.into()));
    }
    attempt.admit(None)?;
    let Some(token) = SetupToken::from_presented(&token) else {
        attempt.failed(None);
        return Err(AppError::Forbidden(INVALID));
    };
    let username = Username::parse(&username)?;
    let hash = attempt.passwords.hash(Password::parse(password)?).await?;
    match store::setup::claim(db, &token, &username, hash).await? {
        Claim::Created(user) => {
            tracing::info!(user = %user.username, "setup complete: the first account was created");
            Ok((Status::Created, Json(session::start(db, cookies, user).await?)))
        }
        Claim::Closed => Err(AppError::Conflict(CLOSED.into())),
        Claim::InvalidToken => {
            attempt.failed(None);
            Err(AppError::Forbidden(INVALID))
        }
    }
}

pub fn routes() -> Vec<Route> {
    routes![claim]
}

pub fn page_routes() -> Vec<Route> {
    routes![page]
}
