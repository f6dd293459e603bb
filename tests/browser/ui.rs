//! The UI's flows in the terms of its contract (the ids in
//! /static/index.html): claiming the service, logging in and out, and
//! writing, editing and deleting notes.

use serde_json::json;

use crate::app::{App, PASSWORD};
use crate::browser::Browser;

/// The titles shown in `#notes`, top to bottom.
pub const NOTE_TITLES: &str = "#notes li.note .note-title";

impl Browser {
    /// Opens the setup link the service logged and creates the first
    /// account (an administrator); ends in the notes view.
    pub async fn claim(&self, app: &App, username: &str) {
        self.goto(&app.setup_link()).await;
        self.wait_visible("#setup-view").await;
        self.fill("#setup-username", username).await;
        self.fill("#setup-password", PASSWORD).await;
        self.submit("#setup-form").await;
        self.wait_logged_in_as(username).await;
    }

    /// Logs in from the login view; ends in the notes view.
    pub async fn log_in(&self, username: &str) {
        self.wait_visible("#login-view").await;
        self.fill("#login-username", username).await;
        self.fill("#login-password", PASSWORD).await;
        self.click("#login-submit").await;
        self.wait_logged_in_as(username).await;
    }

    pub async fn wait_logged_in_as(&self, username: &str) {
        self.wait_visible("#notes-view").await;
        self.wait_for(
            &format!("#whoami to show {username:?}"),
            "const e = document.querySelector('#whoami'); return !!e && e.textContent.trim() === arguments[0]",
            vec![json!(username)],
        )
        .await;
        assert!(!self.is_visible("#login-view").await, "the login view is still shown");
    }

    pub async fn log_out(&self) {
        self.click("#logout").await;
        self.wait_visible("#login-view").await;
        self.wait_hidden("#notes-view").await;
    }

    /// Writes a note with the editor and waits for it to head the list;
    /// returns its id.
    pub async fn create_note(&self, title: &str, body: &str) -> String {
        self.click("#new-note").await;
        self.fill("#note-title", title).await;
        self.fill("#note-body", body).await;
        self.click("#note-save").await;
        self.wait_hidden("#note-title").await;
        self.wait_for(
            &format!("{title:?} at the top of #notes"),
            &format!("const e = document.querySelector('{NOTE_TITLES}'); return !!e && e.textContent.trim() === arguments[0]"),
            vec![json!(title)],
        )
        .await;
        let id = self.js("return document.querySelector('#notes li.note').dataset.id", vec![]).await;
        let id = id.as_str().unwrap_or_default().to_owned();
        assert!(!id.is_empty(), "li.note has no data-id");
        id
    }

    /// Changes a note's title with the editor, which opens holding the old one.
    pub async fn retitle_note(&self, id: &str, old: &str, new: &str) {
        self.click(&format!("#notes li.note[data-id='{id}'] button.edit-note")).await;
        self.wait_visible("#note-title").await;
        self.wait_for(
            "the editor to hold the note's title",
            "return document.querySelector('#note-title').value === arguments[0]",
            vec![json!(old)],
        )
        .await;
        self.fill("#note-title", new).await;
        self.click("#note-save").await;
        self.wait_hidden("#note-title").await;
        self.wait_for(
            &format!("note {id} to be titled {new:?}"),
            "const e = document.querySelector(`#notes li.note[data-id='${arguments[0]}'] .note-title`); \
             return !!e && e.textContent.trim() === arguments[1]",
            vec![json!(id), json!(new)],
        )
        .await;
    }

    /// Deletes a note, confirming in the dialog.
    pub async fn delete_note(&self, id: &str) {
        let note = format!("#notes li.note[data-id='{id}']");
        self.click(&format!("{note} button.delete-note")).await;
        self.wait_visible("#confirm-dialog").await;
        self.click("#confirm-yes").await;
        self.wait_hidden("#confirm-dialog").await;
        self.wait_for(
            &format!("{note} to go"),
            "return !document.querySelector(arguments[0])",
            vec![json!(note)],
        )
        .await;
    }

    /// Waits until `#notes` lists exactly these titles, in this order.
    pub async fn wait_for_titles(&self, titles: &[&str]) {
        self.wait_for(
            &format!("#notes to list exactly {titles:?}"),
            &format!(
                "const shown = [...document.querySelectorAll('{NOTE_TITLES}')].map((e) => e.textContent.trim()); \
                 return JSON.stringify(shown) === JSON.stringify(arguments[0])"
            ),
            vec![json!(titles)],
        )
        .await;
    }
}
