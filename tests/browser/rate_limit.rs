use serde_json::{Value as Json, json};

use crate::app::App;
use crate::browser::Browser;

/// The login attempts the page has sent, with their answers.
const LOGINS: &str = "return (window.__requests || []).filter((r) => r.method === 'POST' && new URL(r.url).pathname === '/api/session')";

/// Whether #login-error shows a message other than `arguments[0]`.
const ERROR_SHOWN: &str = "const e = document.querySelector('#login-error'); \
    const text = e.textContent.trim(); return e.checkVisibility() && text !== '' && text !== arguments[0]";

#[tokio::test]
async fn repeated_wrong_passwords_show_how_long_to_wait() {
    let app = App::with_users(&["alice"]).await;
    let Some(mut browser) = Browser::open(&app).await else { return };
    browser.expect_failed_request("/api/session", 429);
    browser.goto("/").await;
    browser.wait_visible("#login-view").await;

    let mut wrong_password_message = None;
    let mut refused: Option<Json> = None;
    // At most 10 failures per client address before 429.
    for attempt in 1..=11 {
        browser.fill("#login-username", "alice").await;
        browser.fill("#login-password", &format!("wrong password {attempt}")).await;
        browser.click("#login-submit").await;
        browser
            .wait_for(
                &format!("the answer to login attempt {attempt}"),
                &format!("{LOGINS}.filter((r) => r.status !== null).length === arguments[0]"),
                vec![json!(attempt)],
            )
            .await;
        let answer = browser.js(&format!("{LOGINS}.at(-1)"), vec![]).await;
        match answer["status"].as_u64() {
            Some(401) => {
                browser.wait_for("a message in #login-error", ERROR_SHOWN, vec![json!("")]).await;
                wrong_password_message.get_or_insert(browser.text("#login-error").await);
            }
            Some(429) => {
                refused = Some(answer);
                break;
            }
            other => panic!("login attempt {attempt} answered {other:?}: {answer}"),
        }
    }

    let refused = refused.expect("no 429 after 11 wrong passwords");
    let wrong_password_message = wrong_password_message.expect("no 401 before the 429");
    assert!(refused["retryAfter"].is_string(), "a 429 without Retry-After: {refused}");
    browser
        .wait_for("#login-error to change for the 429", ERROR_SHOWN, vec![json!(wrong_password_message)])
        .await;
    let shown = browser.text("#login-error").await;
    assert!(
        shown.chars().any(|c| c.is_ascii_digit()),
        "the 429 message does not say how long to wait: {shown:?}"
    );
    assert!(browser.is_visible("#login-view").await);
    assert!(!browser.is_visible("#notes-view").await);

    browser.finish().await;
}
