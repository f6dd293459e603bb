//! Plain types that can only hold valid values: request data becomes one of
//! these at the edge (`NoteTitle::parse(s)?`), so nothing behind the edge can
//! hold an invalid title, username or page size. No Rocket or SeaORM here.

mod listing;
mod note;
mod secret;
mod session;
mod token;
mod user;

pub use listing::{Cursor, ListQuery, ListQueryError, Page, SearchQuery, SearchTerms, Start};
pub use note::{NewNote, Note, NoteBody, NoteId, NotePatch, NoteTitle};
pub use session::{Session, SessionSecret, SetupToken};
pub use token::{ApiToken, TokenName, TokenSecret, TokenSummary};
pub use user::{Password, PasswordHash, User, UserId, Username};

/// Why a value was refused. The message is shown to the client or operator
/// as is, so it names the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}

/// Text every stored string must satisfy: PostgreSQL cannot store NUL, and
/// both backends must hold the same notes.
fn reject_nul(field: &'static str, value: &str) -> Result<(), ValidationError> {
    if value.contains('\0') {
        return Err(ValidationError::new(field, "must not contain NUL characters"));
    }
    Ok(())
}
