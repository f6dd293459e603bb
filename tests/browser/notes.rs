use serde_json::json;

use crate::app::App;
use crate::browser::Browser;

/// The Markdown note of the screenshot.
const CHECKLIST_BODY: &str = "## Before the release\n\n\
    1. Run `scripts/test.sh`\n\
    2. Tag the **release**\n\
    3. Update the [changelog](https://example.com/changelog)\n\n\
    > Ship it on *Friday*.";

#[tokio::test]
async fn claiming_the_service_then_writing_searching_and_deleting_notes() {
    let app = App::unclaimed().await;
    let Some(browser) = Browser::open(&app).await else { return };

    browser.claim(&app, "alice").await;
    browser.wait_visible("#notes-empty").await;

    // Create, then edit.
    let shopping = browser.create_note("Shopping list", "milk and eggs").await;
    browser.retitle_note(&shopping, "Shopping list", "Shopping list for the weekend").await;
    browser.wait_for_titles(&["Shopping list for the weekend"]).await;
    assert!(!browser.is_visible("#notes-empty").await, "the empty state shows beside a note");

    // Newer notes go first.
    let deploy = browser.create_note("Deploy plan", "Roll out the new version after the freeze.").await;
    browser.create_note("Release checklist", CHECKLIST_BODY).await;
    browser.wait_for_titles(&["Release checklist", "Deploy plan", "Shopping list for the weekend"]).await;
    let rendered = browser
        .js(
            "const body = document.querySelector('#notes li.note .note-body'); \
             return {strong: body.querySelector('strong')?.textContent, code: body.querySelector('code')?.textContent, \
                     items: body.querySelectorAll('ol li').length}",
            vec![],
        )
        .await;
    assert_eq!(rendered, json!({"strong": "release", "code": "scripts/test.sh", "items": 3}));
    browser.screenshot("notes-list.png").await;

    // Search as you type, then clear the search.
    browser.fill("#search", "deploy").await;
    browser.wait_for_titles(&["Deploy plan"]).await;
    browser.fill("#search", "").await;
    browser.wait_for_titles(&["Release checklist", "Deploy plan", "Shopping list for the weekend"]).await;

    // Delete, confirmed; still gone after a reload.
    browser.delete_note(&deploy).await;
    browser.wait_for_titles(&["Release checklist", "Shopping list for the weekend"]).await;
    browser.reload().await;
    browser.wait_logged_in_as("alice").await;
    browser.wait_for_titles(&["Release checklist", "Shopping list for the weekend"]).await;

    // Log out; after a reload the server still knows nobody.
    browser.log_out().await;
    browser.reload().await;
    browser.wait_visible("#login-view").await;
    let session_checks = "(window.__requests || []) \
        .filter((r) => new URL(r.url).pathname === '/api/session' && r.status !== null) \
        .map((r) => `${r.method} ${r.status}`)";
    let script = format!("return {session_checks}.length > 0");
    browser.wait_for("the page to check the session", &script, vec![]).await;
    assert_eq!(browser.js(&format!("return {session_checks}"), vec![]).await, json!(["GET 401"]));
    assert!(!browser.is_visible("#notes-view").await, "the notes view shows after logging out and reloading");
    assert_eq!(browser.texts("#notes li.note").await.len(), 0, "notes load after logging out and reloading");

    browser.finish().await;
}
