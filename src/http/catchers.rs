//! Errors Rocket produces itself (no route, a failed guard) get the same JSON
//! body as errors from handlers.

use rocket::http::Status;
use rocket::response::{self, Responder, Response};
use rocket::{Catcher, Request, catch, catchers};

use crate::error::{AppError, json_error};

/// An error a request guard or data guard failed with. Rocket 0.5 hands a
/// catcher only the status, so the guard leaves the error here.
pub struct GuardError(Option<AppError>);

impl GuardError {
    /// Records `error` for the catcher and returns its status.
    pub fn stash(request: &Request<'_>, error: AppError) -> Status {
        let status = error.status();
        request.local_cache(|| GuardError(Some(error)));
        status
    }
}

#[catch(default)]
fn default(status: Status, request: &Request<'_>) -> Prepared {
    if let GuardError(Some(error)) = request.local_cache(|| GuardError(None)) {
        return Prepared(error.to_response(request));
    }
    let (code, message) = match status.code {
        400 => ("bad_request", "the request could not be understood"),
        404 => ("not_found", "there is nothing at this address"),
        413 => ("payload_too_large", "the request body is too large"),
        422 => ("invalid", "the request is not valid"),
        500 => ("internal", "internal error"),
        _ => ("error", status.reason_lossy()),
    };
    Prepared(json_error(status, code, message))
}

/// A response built before Rocket asks for it.
pub struct Prepared(Response<'static>);

impl<'r> Responder<'r, 'static> for Prepared {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Ok(self.0)
    }
}

pub fn catchers() -> Vec<Catcher> {
    catchers![default]
}
