//! The Rocket side of the HTTP surface: thin handlers, request guards and
//! catchers. Each module owns its routes.

pub mod assets;
pub mod auth;
pub mod catchers;
pub mod compression;
pub mod encoding;
pub mod health;
pub mod json;
pub mod metrics;
pub mod notes;
pub mod openapi;
pub mod passwords;
pub mod security;
pub mod session;
pub mod setup;
pub mod throttle;
pub mod tokens;
pub mod users;
