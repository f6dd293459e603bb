//! `/api/session` (logging in and out of the browser UI) and `/api/me`
//! (the account the request acts for).

use std::net::IpAddr;

use rocket::http::{CookieJar, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::serde::json::Json;
use rocket::{Route, State, delete, get, post, put, routes};
use serde::{Deserialize, Serialize};

use super::auth::{self, AuthUser, Credential};
use super::catchers::GuardError;
use super::json::JsonBody;
use super::passwords::Passwords;
use super::throttle::LoginThrottle;
use super::users::UserView;
use crate::db::Db;
use crate::domain::{Password, SessionSecret, User, Username, ValidationError};
use crate::error::{ApiResult, AppError};
use crate::store;
use crate::store::users::Account;

/// One message for an unknown username and a wrong password.
const WRONG: &str = "wrong username or password";

/// The answer to logging in (and to first-run setup, which logs in too).
#[derive(Serialize)]
pub struct SessionView {
    user: UserView,
    /// Echo it in `X-CSRF-Token` on requests that change something.
    csrf_token: String,
}

/// Passes when the request is not from another site's page (see
/// [`auth::check_same_origin`]): logging in from a forged form would sign
/// the victim into the attacker's account.
pub struct SameOrigin;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for SameOrigin {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ()> {
        match auth::check_same_origin(request) {
            Ok(()) => Outcome::Success(SameOrigin),
            Err(error) => Outcome::Error((GuardError::stash(request, error), ())),
        }
    }
}

/// What a request that checks a secret (logging in, setup, changing a
/// password) works with: the client's address (see
/// `notes.trusted_proxies`), the limits on failures, the password hasher.
pub struct Attempt<'r> {
    address: Option<IpAddr>,
    throttle: &'r LoginThrottle,
    pub passwords: &'r Passwords,
}

impl Attempt<'_> {
    /// 429 if this address, or this username, has failed too often lately.
    pub fn admit(&self, username: Option<&str>) -> Result<(), AppError> {
        self.throttle
            .check(self.address, username)
            .map_err(|retry_after| AppError::TooManyRequests { retry_after })
    }

    /// Counts a failure, and logs it for the operator (and tools such as
    /// fail2ban) with the client's address.
    pub fn failed(&self, username: Option<&str>) {
        let client = self.address.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        tracing::info!(%client, username = username.unwrap_or("-"), "failed login attempt");
        self.throttle.fail(self.address, username);
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Attempt<'r> {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ()> {
        let rocket = request.rocket();
        match (rocket.state::<LoginThrottle>(), rocket.state::<Passwords>()) {
            (Some(throttle), Some(passwords)) => {
                Outcome::Success(Attempt { address: request.client_ip(), throttle, passwords })
            }
            _ => {
                let error = AppError::Internal(anyhow::anyhow!("the login state is not managed"));
                Outcome::Error((GuardError::stash(request, error), ()))
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    username: String,
    password: String,
}

/// Starts a session for `user` and sets its cookie.
pub async fn start(db: &Db, cookies: &CookieJar<'_>, user: User) -> ApiResult<SessionView> {
    let (_, secret) = store::sessions::create(db, user.id).await?;
    cookies.add(auth::session_cookie(&secret));
    Ok(SessionView { user: UserView::from(user), csrf_token: secret.csrf_token() })
}

#[post("/session", data = "<login>")]
async fn log_in(
    _same_origin: SameOrigin,
    attempt: Attempt<'_>,
    db: &State<Db>,
    cookies: &CookieJar<'_>,
    login: JsonBody<Login>,
) -> ApiResult<Json<SessionView>> {
    let Login { username, password } = login.0;
    let password = Password::candidate(password)?;
    // A name that cannot exist is treated like one that does not.
    let username = Username::parse(&username).ok();
    let name = username.as_ref().map(Username::as_str);
    attempt.admit(name)?;
    let account = match &username {
        Some(username) => store::users::credentials(db, username).await?,
        None => None,
    };
    let (user, hash) = account.map_or((None, None), |(user, hash)| (Some(user), Some(hash)));
    if !attempt.passwords.verify(password, hash).await? {
        attempt.failed(name);
        return Err(AppError::Unauthorized(WRONG));
    }
    let user = user.ok_or(AppError::Unauthorized(WRONG))?;
    if user.disabled {
        return Err(AppError::Unauthorized("this account is disabled"));
    }
    if let Some(old) =
        cookies.get(auth::SESSION_COOKIE).and_then(|c| SessionSecret::from_presented(c.value()))
        && let Some((session, _)) = store::sessions::authenticate(db, &old).await?
    {
        // Logging in again replaces the browser's previous session.
        store::sessions::end(db, session.id).await?;
    }
    tracing::info!(user = %user.username, "logged in");
    Ok(Json(start(db, cookies, user).await?))
}

fn session_id(user: &AuthUser) -> Result<(i64, &str), AppError> {
    match &user.via {
        Credential::Session { id, csrf_token } => Ok((*id, csrf_token)),
        Credential::Token => {
            Err(AppError::BadRequest("this request authenticated with an API token, not a session".into()))
        }
    }
}

/// The current session: who is logged in and the CSRF token, for a page
/// that was reloaded.
#[get("/session")]
async fn current(user: AuthUser, db: &State<Db>) -> ApiResult<Json<SessionView>> {
    let (_, csrf_token) = session_id(&user)?;
    let csrf_token = csrf_token.to_owned();
    let account =
        store::users::get(db, user.id).await?.ok_or(AppError::Unauthorized("the account is gone"))?;
    Ok(Json(SessionView { user: UserView::from(account), csrf_token }))
}

#[delete("/session")]
async fn log_out(user: AuthUser, db: &State<Db>, cookies: &CookieJar<'_>) -> ApiResult<Status> {
    let (id, _) = session_id(&user)?;
    store::sessions::end(db, id).await?;
    cookies.remove(auth::removal_cookie());
    Ok(Status::NoContent)
}

#[get("/me")]
async fn me(user: AuthUser, db: &State<Db>) -> ApiResult<Json<UserView>> {
    let account =
        store::users::get(db, user.id).await?.ok_or(AppError::Unauthorized("the account is gone"))?;
    Ok(Json(UserView::from(account)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changes the password; every other session of the account ends.
#[put("/me/password", data = "<change>")]
async fn change_password(
    user: AuthUser,
    attempt: Attempt<'_>,
    db: &State<Db>,
    change: JsonBody<PasswordChange>,
) -> ApiResult<Status> {
    let PasswordChange { current_password, new_password } = change.0;
    let current = Password::candidate(current_password)?;
    let new = Password::parse(new_password).map_err(|e| ValidationError::new("new_password", e.message))?;
    attempt.admit(Some(&user.username))?;
    let username = Username::parse(&user.username)?;
    let hash = store::users::credentials(db, &username).await?.map(|(_, hash)| hash);
    if !attempt.passwords.verify(current, hash).await? {
        attempt.failed(Some(&user.username));
        return Err(AppError::Forbidden("the current password is wrong"));
    }
    let hash = attempt.passwords.hash(new).await?;
    let keep = match user.via {
        Credential::Session { id, .. } => Some(id),
        Credential::Token => None,
    };
    store::users::set_password(db, Account::Id(user.id), hash, keep).await?;
    tracing::info!(user = %user.username, "password changed");
    Ok(Status::NoContent)
}

pub fn routes() -> Vec<Route> {
    routes![log_in, current, log_out, me, change_password]
}
