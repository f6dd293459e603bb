//! `JsonBody<T>`: a request body that must be a JSON object of type `T`.
//! Each way it can be wrong gets its own status and a message that says
//! what to fix.

use rocket::data::{Data, FromData, Outcome, ToByteUnit};
use rocket::request::Request;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use super::catchers::GuardError;
use crate::config::Config;
use crate::domain::ValidationError;
use crate::error::AppError;

pub struct JsonBody<T>(pub T);

#[rocket::async_trait]
impl<'r, T: DeserializeOwned> FromData<'r> for JsonBody<T> {
    type Error = ();

    async fn from_data(request: &'r Request<'_>, data: Data<'r>) -> Outcome<'r, Self> {
        match parse(request, data).await {
            Ok(value) => Outcome::Success(JsonBody(value)),
            Err(error) => Outcome::Error((GuardError::stash(request, error), ())),
        }
    }
}

async fn parse<T: DeserializeOwned>(request: &Request<'_>, data: Data<'_>) -> Result<T, AppError> {
    // No Content-Type is taken as JSON; anything else must say JSON (an
    // unparseable one included, which Rocket reports as absent).
    let declared = request.headers().get_one("Content-Type").is_some();
    let json = request.content_type().is_some_and(|ct| ct.is_json() || ct.sub().as_str().ends_with("+json"));
    if declared && !json {
        return Err(AppError::UnsupportedMediaType);
    }
    let limit = request.rocket().state::<Config>().map_or(1 << 20, |c| c.listen.body_limit);
    let bytes = data
        .open(limit.bytes())
        .into_bytes()
        .await
        .map_err(|e| AppError::BadRequest(format!("cannot read the request body: {e}")))?;
    if !bytes.is_complete() {
        return Err(AppError::PayloadTooLarge(limit));
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| AppError::BadRequest(format!("the request body is not valid UTF-8 ({e})")))?;
    // Syntax first, so that malformed JSON is always a 400 whatever its
    // shape; then the shape: serde would also read a struct from an array
    // of its fields in order, which an API documenting objects should refuse.
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map_err(|e| AppError::BadRequest(format!("the request body is not valid JSON: {e}")))?;
    if !text.trim_start().starts_with('{') {
        return Err(AppError::Invalid(ValidationError::new(
            "json",
            "the request body must be a JSON object",
        )));
    }
    serde_json::from_str(text).map_err(|e| match e.classify() {
        // Strings are only decoded here: a lone surrogate escape shows up now.
        Category::Syntax | Category::Eof | Category::Io => {
            AppError::BadRequest(format!("the request body is not valid JSON: {e}"))
        }
        Category::Data => AppError::Invalid(ValidationError::new("json", e.to_string())),
    })
}

/// For an optional field that, when given, must not be `null`:
/// `#[serde(default, deserialize_with = "present")]`.
pub fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}
