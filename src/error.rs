//! `AppError`: every way an API request can fail, and the one `match` that
//! decides its status and JSON body. 5xx bodies are opaque; the log gets the
//! whole cause.

use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use sea_orm::DbErr;
use serde::Serialize;

use crate::domain::{ListQueryError, ValidationError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request cannot be understood: malformed JSON, invalid UTF-8, a
    /// cursor this server did not issue.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// A cookie-authenticated request that may have been forged by another
    /// site: a foreign `Origin`/`Sec-Fetch-Site`, or no valid `X-CSRF-Token`.
    #[error("{0}")]
    Csrf(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(u64),
    #[error("too many failed attempts; try again in {retry_after} seconds")]
    TooManyRequests { retry_after: u64 },
    #[error("send the request body as JSON with `Content-Type: application/json`")]
    UnsupportedMediaType,
    /// Well-formed but not acceptable: a value breaks a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The database cannot be reached; retrying later may work.
    #[error("the database is unavailable; try again shortly")]
    Unavailable(#[source] DbErr),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub type ApiResult<T> = Result<T, AppError>;

impl AppError {
    pub fn status(&self) -> Status {
        match self {
            Self::BadRequest(_) => Status::BadRequest,
            Self::Unauthorized(_) => Status::Unauthorized,
            Self::Forbidden(_) | Self::Csrf(_) => Status::Forbidden,
            Self::NotFound(_) => Status::NotFound,
            Self::Conflict(_) => Status::Conflict,
            Self::PayloadTooLarge(_) => Status::PayloadTooLarge,
            Self::TooManyRequests { .. } => Status::TooManyRequests,
            Self::UnsupportedMediaType => Status::UnsupportedMediaType,
            Self::Invalid(_) => Status::UnprocessableEntity,
            Self::Unavailable(_) => Status::ServiceUnavailable,
            Self::Internal(_) => Status::InternalServerError,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::Csrf(_) => "csrf",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Invalid(_) => "invalid",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// Builds the response without consuming the error, so that an error
    /// kept by a request guard can be answered from a catcher.
    pub fn to_response(&self, request: &Request<'_>) -> Response<'static> {
        let status = self.status();
        if status.code >= 500 {
            let cause = match self {
                Self::Unavailable(e) => e.to_string(),
                Self::Internal(e) => format!("{e:#}"),
                _ => String::new(),
            };
            tracing::error!(method = %request.method(), path = %request.uri().path(), error = %cause, "request failed");
        }
        let mut response = json_error(status, self.code(), &self.to_string());
        if status == Status::Unauthorized {
            response.set_header(Header::new("WWW-Authenticate", "Bearer"));
        }
        if let Self::TooManyRequests { retry_after } = self {
            response.set_header(Header::new("Retry-After", retry_after.to_string()));
        }
        response
    }
}

impl From<ListQueryError> for AppError {
    fn from(error: ListQueryError) -> Self {
        match error {
            // A cursor is opaque: one the server cannot continue is malformed input.
            ListQueryError::Cursor(e) => Self::BadRequest(e.to_string()),
            ListQueryError::Invalid(e) => Self::Invalid(e),
        }
    }
}

impl From<DbErr> for AppError {
    fn from(error: DbErr) -> Self {
        if let Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) = error.sql_err() {
            return Self::Conflict("it already exists".into());
        }
        if crate::db::is_unavailable(&error) {
            return Self::Unavailable(error);
        }
        Self::Internal(error.into())
    }
}

impl<'r> Responder<'r, 'static> for AppError {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        Ok(self.to_response(request))
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
}

/// The JSON body of every error: `{"error": {"code": "...", "message": "..."}}`.
pub fn error_body(code: &str, message: &str) -> String {
    serde_json::to_string(&ErrorBody { error: ErrorDetail { code, message } })
        .unwrap_or_else(|_| r#"{"error":{"code":"internal","message":"internal error"}}"#.to_owned())
}

pub fn json_error(status: Status, code: &str, message: &str) -> Response<'static> {
    let body = error_body(code, message);
    Response::build()
        .status(status)
        .header(ContentType::JSON)
        .sized_body(body.len(), std::io::Cursor::new(body))
        .finalize()
}
