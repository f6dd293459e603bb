use serde_json::json;

use crate::app::App;
use crate::browser::Browser;

const TITLE: &str = r#"<img src=x onerror="window.__xss=1">"#;
const HTML: &str = r#"<script>window.__xss=2</script><img src=x onerror="window.__xss=3">"#;
const MARKDOWN: &str = "**bold** [link](javascript:window.__xss=4)";

/// What #notes holds that could run script.
const INSPECT: &str = r#"
  const notes = document.querySelector('#notes');
  return {
    xss: typeof window.__xss,
    titles: [...notes.querySelectorAll('li.note .note-title')].map((e) => e.textContent),
    bold: [...notes.querySelectorAll('li.note .note-body strong')].map((e) => e.textContent),
    scripts: notes.querySelectorAll('script').length,
    handlers: [...notes.querySelectorAll('*')].flatMap((e) =>
      [...e.attributes].filter((a) => a.name.toLowerCase().startsWith('on')).map((a) => `${e.tagName} ${a.name}`)),
    scriptUrls: [...notes.querySelectorAll('*')]
      .flatMap((e) => [...e.attributes].map((a) => a.value))
      .filter((v) => /^\s*(javascript|vbscript|data):/i.test(v)),
  };
"#;

async fn assert_inert(browser: &Browser) {
    let found = browser.js(INSPECT, vec![]).await;
    let expected = json!({
        "xss": "undefined",
        // Shown as the text it is.
        "titles": [TITLE, TITLE],
        // Markdown still works beside the HTML.
        "bold": ["bold"],
        "scripts": 0,
        "handlers": [],
        "scriptUrls": [],
    });
    assert_eq!(found, expected);
}

#[tokio::test]
async fn html_and_script_in_a_note_stay_inert() {
    let app = App::with_users(&["alice"]).await;
    let Some(browser) = Browser::open(&app).await else { return };
    browser.goto("/").await;
    browser.log_in("alice").await;

    // All on one line, as an attacker would send it. By CommonMark a line
    // that starts with `<script>` is an HTML block to its end, so the
    // Markdown there is not Markdown; hence the second note, with the
    // Markdown in a paragraph of its own, where the link is a link.
    browser.create_note(TITLE, &format!("{HTML} {MARKDOWN}")).await;
    browser.create_note(TITLE, &format!("{HTML}\n\n{MARKDOWN}")).await;
    browser.wait_visible("#notes li.note .note-body strong").await;
    assert_inert(&browser).await;

    let links = browser.js("return document.querySelectorAll('#notes .note-body a').length", vec![]).await;
    if links != 0 {
        browser.click("#notes .note-body a").await;
        // Whatever the click does (nothing, or opening a tab), no script runs.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(browser.js("return typeof window.__xss", vec![]).await, "undefined");
    }

    // As rendered from the list when the page loads, not only after saving.
    browser.reload().await;
    browser.wait_logged_in_as("alice").await;
    browser.wait_visible("#notes li.note .note-body strong").await;
    assert_inert(&browser).await;

    browser.finish().await;
}
