//! SeaORM entities: the tables as the store sees them. Not a wire format:
//! handlers speak `domain` types and their own request/response structs.
//!
//! PostgreSQL's generated `notes.search_words` column is left out on purpose;
//! only the search query in the store reads it.

pub mod api_token;
pub mod note;
pub mod session;
pub mod setup_token;
pub mod user;
