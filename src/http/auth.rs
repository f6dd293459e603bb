//! Who a request acts for. `AuthUser` is the guard behind every route that
//! needs an account; `AdminUser` behind those that need an admin.
//!
//! Two ways to authenticate:
//! - `Authorization: Bearer <token>` (scripts). When present, it alone
//!   counts; a cookie beside it is ignored.
//! - the `__Host-` session cookie (the browser). A request that changes
//!   something must also pass [`check_same_origin`] and echo the session's
//!   CSRF token in `X-CSRF-Token`: the cookie is sent by the browser whoever
//!   made the page, the header only by our own scripts.

use rocket::http::{Cookie, Method, SameSite};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::time::Duration;

use super::catchers::GuardError;
use crate::config::Config;
use crate::db::Db;
use crate::domain::{Session, SessionSecret, TokenSecret, UserId};
use crate::error::AppError;
use crate::store;

/// The session cookie. `__Host-` makes browsers accept it only when it is
/// `Secure`, has `Path=/` and no `Domain`: no subdomain can set or shadow it.
pub const SESSION_COOKIE: &str = "__Host-notes_session";
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// The user a request acts for.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: UserId,
    pub username: String,
    pub is_admin: bool,
    pub via: Credential,
}

/// How the request authenticated.
#[derive(Debug, Clone)]
pub enum Credential {
    Token,
    Session { id: i64, csrf_token: String },
}

const INVALID_TOKEN: &str = "the token is invalid or has been revoked";
const ENDED: &str = "the session has ended; log in again";
const DISABLED: &str = "this account is disabled";

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

/// An authenticated admin; anyone else is answered 403.
pub struct AdminUser(pub AuthUser);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AdminUser {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ()> {
        match authenticate(request).await {
            Ok(user) if user.is_admin => Outcome::Success(AdminUser(user)),
            Ok(_) => {
                let error = AppError::Forbidden("only an admin can manage accounts");
                Outcome::Error((GuardError::stash(request, error), ()))
            }
            Err(error) => Outcome::Error((GuardError::stash(request, error), ())),
        }
    }
}

pub fn db<'r>(request: &'r Request<'_>) -> Result<&'r Db, AppError> {
    request
        .rocket()
        .state::<Db>()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the database is not managed")))
}

async fn authenticate(request: &Request<'_>) -> Result<AuthUser, AppError> {
    let db = db(request)?;
    if let Some(header) = request.headers().get_one("Authorization") {
        return authenticate_token(db, header).await;
    }
    match request.cookies().get(SESSION_COOKIE) {
        Some(cookie) => authenticate_session(request, db, cookie.value()).await,
        None => Err(AppError::Unauthorized("log in, or send `Authorization: Bearer <token>`")),
    }
}

async fn authenticate_token(db: &Db, header: &str) -> Result<AuthUser, AppError> {
    let presented = match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => return Err(AppError::Unauthorized("the Authorization header must be `Bearer <token>`")),
    };
    let secret = TokenSecret::from_presented(presented).ok_or(AppError::Unauthorized(INVALID_TOKEN))?;
    let (token, user) =
        store::tokens::authenticate(db, &secret).await?.ok_or(AppError::Unauthorized(INVALID_TOKEN))?;
    if user.disabled {
        return Err(AppError::Unauthorized(DISABLED));
    }
    store::tokens::touch(db, &token);
    Ok(AuthUser { id: user.id, username: user.username, is_admin: user.is_admin, via: Credential::Token })
}

async fn authenticate_session(request: &Request<'_>, db: &Db, value: &str) -> Result<AuthUser, AppError> {
    let secret = SessionSecret::from_presented(value).ok_or(AppError::Unauthorized(ENDED))?;
    let (session, user) =
        store::sessions::authenticate(db, &secret).await?.ok_or(AppError::Unauthorized(ENDED))?;
    if !session.is_live(store::now()) {
        return Err(AppError::Unauthorized(ENDED));
    }
    if user.disabled {
        return Err(AppError::Unauthorized(DISABLED));
    }
    let csrf_token = secret.csrf_token();
    if changes_state(request.method()) {
        check_same_origin(request)?;
        let echoed = request.headers().get_one(CSRF_HEADER).unwrap_or_default();
        if !constant_time_eq(echoed.as_bytes(), csrf_token.as_bytes()) {
            return Err(AppError::Csrf("send the session's CSRF token in the X-CSRF-Token header"));
        }
    }
    store::sessions::touch(db, &session);
    Ok(AuthUser {
        id: user.id,
        username: user.username,
        is_admin: user.is_admin,
        via: Credential::Session { id: session.id, csrf_token },
    })
}

fn changes_state(method: Method) -> bool {
    !matches!(method, Method::Get | Method::Head | Method::Options)
}

/// Refuses a request that a browser says comes from another site: by
/// `Sec-Fetch-Site` (every current browser sends it) or by an `Origin`
/// that is not this server's (the `public_url`, or the `Host` the request
/// was sent to). Clients that send neither header are not browsers
/// running another site's page, and pass.
pub fn check_same_origin(request: &Request<'_>) -> Result<(), AppError> {
    const FOREIGN: &str = "the request comes from another site";
    if let Some(site) = request.headers().get_one("Sec-Fetch-Site")
        && !matches!(site, "same-origin" | "none")
    {
        return Err(AppError::Csrf(FOREIGN));
    }
    let Some(origin) = request.headers().get_one("Origin") else { return Ok(()) };
    let public = request.rocket().state::<Config>().and_then(|config| config.listen.public_url.as_ref());
    let matches_public = public.is_some_and(|url| origin.eq_ignore_ascii_case(&url.to_string()));
    // The header, not `request.host()`: Rocket sets that only on its own
    // listener, and requests reach the application in-process.
    let matches_host = request.headers().get_one("Host").is_some_and(|host| {
        origin.strip_prefix("https://").is_some_and(|rest| rest.eq_ignore_ascii_case(host))
    });
    if matches_public || matches_host { Ok(()) } else { Err(AppError::Csrf(FOREIGN)) }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The cookie that carries a new session.
pub fn session_cookie(secret: &SessionSecret) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, secret.expose().to_owned()))
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(Duration::seconds(Session::LIFETIME.whole_seconds()))
        .build()
}

/// What ends the session cookie in the browser (Rocket adds an expiry in
/// the past to a removal; the attributes must match for `__Host-`).
pub fn removal_cookie() -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, ""))
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .build()
}
