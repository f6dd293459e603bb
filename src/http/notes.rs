//! `/api/notes`: the notes of the authenticated user.

use std::io::Cursor;

use rocket::http::uri::Origin;
use rocket::http::{ContentType, Header, Status};
use rocket::response::{self, Responder, Response};
use rocket::serde::json::Json;
use rocket::{Request, Route, State, delete, get, patch, post, put, routes};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::auth::AuthUser;
use super::json::{JsonBody, present};
use crate::db::Db;
use crate::domain::{
    ListQuery, NewNote, Note, NoteBody, NoteId, NotePatch, NoteTitle, Page, ValidationError,
};
use crate::error::{ApiResult, AppError};
use crate::store;

/// A note on the wire.
#[derive(Serialize)]
pub struct NoteView<'a> {
    id: i64,
    title: &'a str,
    body: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl<'a> From<&'a Note> for NoteView<'a> {
    fn from(note: &'a Note) -> Self {
        Self {
            id: note.id.get(),
            title: &note.title,
            body: &note.body,
            created_at: note.created_at,
            updated_at: note.updated_at,
        }
    }
}

/// `POST` and `PUT` bodies: `body` may be left out (an empty note).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    title: String,
    #[serde(default)]
    body: String,
}

impl NoteInput {
    fn parse(self) -> Result<NewNote, AppError> {
        Ok(NewNote { title: NoteTitle::parse(&self.title)?, body: NoteBody::parse(self.body)? })
    }
}

/// `PATCH` body: the fields to change. `null` is not a value for either.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteChanges {
    #[serde(default, deserialize_with = "present")]
    title: Option<String>,
    #[serde(default, deserialize_with = "present")]
    body: Option<String>,
}

fn location(note: &Note) -> String {
    format!("/api/notes/{}", note.id)
}

/// A page of notes: a JSON array, and a `Link: <...>; rel="next"` header
/// when there are more.
pub struct NotesPage {
    json: Vec<u8>,
    next: Option<String>,
}

impl<'r> Responder<'r, 'static> for NotesPage {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let mut response = Response::build();
        response.header(ContentType::JSON).sized_body(self.json.len(), Cursor::new(self.json));
        if let Some(next) = self.next {
            response.header(Header::new("Link", format!("<{next}>; rel=\"next\"")));
        }
        response.ok()
    }
}

/// `limit`, `cursor` and `q` from the query string (percent-decoded), each
/// at most once: a repeated one is ambiguous, not "the first wins".
fn list_parameters<'a>(uri: &'a Origin<'_>) -> Result<[Option<&'a str>; 3], AppError> {
    const NAMES: [&str; 3] = ["limit", "cursor", "q"];
    let mut values = [None; 3];
    for (name, value) in uri.query().map(|q| q.segments()).into_iter().flatten() {
        if let Some(i) = NAMES.iter().position(|n| *n == name)
            && values[i].replace(value).is_some()
        {
            return Err(AppError::Invalid(ValidationError::new(NAMES[i], "is given more than once")));
        }
    }
    Ok(values)
}

#[get("/notes")]
async fn list(user: AuthUser, db: &State<Db>, uri: &Origin<'_>) -> ApiResult<NotesPage> {
    let [limit, cursor, q] = list_parameters(uri)?;
    let query = ListQuery::parse(limit, cursor, q)?;
    let Page { items, next } = store::notes::list(db, user.id, &query).await?;
    let views: Vec<NoteView<'_>> = items.iter().map(NoteView::from).collect();
    // Sized for a typical note, so that the buffer seldom grows.
    let mut json = Vec::with_capacity(256 * views.len() + 2);
    serde_json::to_writer(&mut json, &views).map_err(|e| AppError::Internal(e.into()))?;
    let next = next.map(|cursor| {
        let mut link = format!("/api/notes?limit={}&cursor={}", query.limit, cursor.encode());
        if let Some(q) = q.filter(|_| query.search.is_some()) {
            link.push_str("&q=");
            link.extend(url::form_urlencoded::byte_serialize(q.as_bytes()));
        }
        link
    });
    Ok(NotesPage { json, next })
}

/// 201 with `Location` and the created note.
pub struct CreatedNote(Note);

impl<'r> Responder<'r, 'static> for CreatedNote {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        let location = location(&self.0);
        Response::build_from(Json(NoteView::from(&self.0)).respond_to(request)?)
            .status(Status::Created)
            .header(Header::new("Location", location))
            .ok()
    }
}

#[post("/notes", data = "<input>")]
async fn create(user: AuthUser, db: &State<Db>, input: JsonBody<NoteInput>) -> ApiResult<CreatedNote> {
    let new = input.0.parse()?;
    Ok(CreatedNote(store::notes::create(db, user.id, new).await?))
}

/// Another user's note is answered exactly like a missing one.
fn note_id(raw: &str) -> Result<NoteId, AppError> {
    NoteId::parse(raw).ok_or(AppError::NotFound("note"))
}

/// The note as JSON: `NoteView` borrows from it, so the responder owns it.
pub struct NoteJson(Note);

impl<'r> Responder<'r, 'static> for NoteJson {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        Json(NoteView::from(&self.0)).respond_to(request)
    }
}

#[get("/notes/<id>")]
async fn get(user: AuthUser, db: &State<Db>, id: &str) -> ApiResult<NoteJson> {
    let note = store::notes::get(db, user.id, note_id(id)?).await?;
    note.map(NoteJson).ok_or(AppError::NotFound("note"))
}

#[patch("/notes/<id>", data = "<changes>")]
async fn update(
    user: AuthUser,
    db: &State<Db>,
    id: &str,
    changes: JsonBody<NoteChanges>,
) -> ApiResult<NoteJson> {
    let id = note_id(id)?;
    let changes = changes.0;
    let title = changes.title.as_deref().map(NoteTitle::parse).transpose()?;
    let body = changes.body.map(NoteBody::parse).transpose()?;
    let patch = NotePatch::new(title, body)?;
    let note = store::notes::update(db, user.id, id, patch).await?;
    note.map(NoteJson).ok_or(AppError::NotFound("note"))
}

#[put("/notes/<id>", data = "<input>")]
async fn replace(
    user: AuthUser,
    db: &State<Db>,
    id: &str,
    input: JsonBody<NoteInput>,
) -> ApiResult<NoteJson> {
    let id = note_id(id)?;
    let patch = NotePatch::from(input.0.parse()?);
    let note = store::notes::update(db, user.id, id, patch).await?;
    note.map(NoteJson).ok_or(AppError::NotFound("note"))
}

#[delete("/notes/<id>")]
async fn remove(user: AuthUser, db: &State<Db>, id: &str) -> ApiResult<Status> {
    if store::notes::delete(db, user.id, note_id(id)?).await? {
        Ok(Status::NoContent)
    } else {
        Err(AppError::NotFound("note"))
    }
}

pub fn routes() -> Vec<Route> {
    routes![list, create, get, update, replace, remove]
}
