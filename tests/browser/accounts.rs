use crate::app::{App, PASSWORD};
use crate::browser::Browser;
use crate::ui::NOTE_TITLES;

#[tokio::test]
async fn an_admin_adds_a_user_and_each_sees_only_their_own_notes() {
    let app = App::unclaimed().await;
    let Some(browser) = Browser::open(&app).await else { return };

    browser.claim(&app, "alice").await;
    browser.create_note("Alice's plan", "only for alice").await;

    // Alice, an admin, adds bob in the settings.
    browser.click("#open-settings").await;
    browser.wait_visible("#settings-view").await;
    browser.wait_visible("#admin-section").await;
    browser.fill("#new-username", "bob").await;
    browser.fill("#new-password-user", PASSWORD).await;
    browser.submit("#user-form").await;
    browser.wait_visible("#users li.user[data-username='bob']").await;
    browser.click("#close-settings").await;
    browser.wait_visible("#notes-view").await;
    browser.log_out().await;

    // Bob starts with nothing of alice's, and is no admin.
    browser.log_in("bob").await;
    browser.wait_visible("#notes-empty").await;
    assert_eq!(
        browser.texts("#notes li.note").await.len(),
        0,
        "bob sees notes: {:?}",
        browser.texts(NOTE_TITLES).await
    );
    browser.create_note("Bob's groceries", "apples").await;
    browser.wait_for_titles(&["Bob's groceries"]).await;
    browser.click("#open-settings").await;
    browser.wait_visible("#settings-view").await;
    assert!(!browser.is_visible("#admin-section").await, "a non-admin sees the user administration");
    browser.click("#close-settings").await;
    browser.log_out().await;

    browser.log_in("alice").await;
    browser.wait_for_titles(&["Alice's plan"]).await;

    browser.finish().await;
}
