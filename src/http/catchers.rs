//! Errors Rocket produces itself (no route, a failed guard) get the same JSON
//! body as errors from handlers.

use rocket::http::{Header, Status};
use rocket::response::{self, Responder, Response};
use rocket::{Catcher, Orbit, Request, Rocket, catch, catchers};

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
    if status == Status::NotFound {
        let allowed = allowed_methods(request.rocket(), request.uri().path().as_str());
        // A route for this very method that found nothing is a plain 404.
        let own_method = allowed.contains(&request.method().as_str());
        if !allowed.is_empty() && !own_method {
            let allow = allowed.join(", ");
            let message = format!("this address does not take {}; it takes {allow}", request.method());
            let mut response = json_error(Status::MethodNotAllowed, "method_not_allowed", &message);
            response.set_header(Header::new("Allow", allow));
            return Prepared(response);
        }
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

/// The methods of the routes whose path matches `path` (Rocket 0.5 answers
/// a wrong method with 404; HTTP wants 405 and `Allow`).
pub fn allowed_methods(rocket: &Rocket<Orbit>, path: &str) -> Vec<&'static str> {
    let path: Vec<&str> = path.split('/').skip(1).collect();
    let mut methods: Vec<&'static str> = rocket
        .routes()
        .filter(|route| route_matches(route.uri.path(), &path))
        .map(|route| route.method.as_str())
        .collect();
    if methods.contains(&"GET") {
        methods.push("HEAD");
    }
    methods.sort_unstable();
    methods.dedup();
    methods
}

/// Whether a route path such as `/api/notes/<id>` matches the segments.
fn route_matches(route: &str, path: &[&str]) -> bool {
    let pattern: Vec<&str> = route.split('/').skip(1).collect();
    pattern.len() == path.len()
        && pattern.iter().zip(path).all(|(expected, actual)| {
            let dynamic = expected.starts_with('<') && expected.ends_with('>');
            if dynamic { !actual.is_empty() } else { expected == actual }
        })
}

pub fn catchers() -> Vec<Catcher> {
    catchers![default]
}

#[cfg(test)]
mod tests {
    use super::route_matches;

    #[test]
    fn route_paths_match_segment_by_segment() {
        assert!(route_matches("/api/notes", &["api", "notes"]));
        assert!(route_matches("/api/notes/<id>", &["api", "notes", "42"]));
        assert!(!route_matches("/api/notes/<id>", &["api", "notes", ""]));
        assert!(!route_matches("/api/notes", &["api", "notes", ""]));
        assert!(!route_matches("/api/notes", &["api", "other"]));
    }
}
