//! `GET /openapi.json`: the API described as OpenAPI 3.1. The document is
//! written by hand next to this file; a test checks that it lists exactly
//! the routes the application mounts.

use rocket::http::ContentType;
use rocket::{Route, get, routes};

pub const DOCUMENT: &str = include_str!("openapi.json");

#[get("/openapi.json")]
fn document() -> (ContentType, &'static str) {
    (ContentType::JSON, DOCUMENT)
}

pub fn routes() -> Vec<Route> {
    routes![document]
}
