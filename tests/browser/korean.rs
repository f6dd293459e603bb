use std::time::Duration;

use serde_json::json;

use crate::app::App;
use crate::browser::Browser;
use crate::driver::cdp;

/// The requests with a non-empty `q` that the page has sent.
const SEARCHES: &str =
    "return (window.__requests || []).map((r) => new URL(r.url).searchParams.get('q')).filter((q) => q)";

/// Counts the composition events #search receives.
const COUNT_COMPOSITION: &str = r#"
  const counts = window.__composition = { start: 0, end: 0, composingInputs: 0 };
  const search = document.querySelector('#search');
  search.addEventListener('compositionstart', () => counts.start++);
  search.addEventListener('compositionend', () => counts.end++);
  search.addEventListener('input', (e) => { if (e.isComposing) counts.composingInputs++; });
"#;

#[tokio::test]
async fn searching_with_a_korean_ime_sends_one_request_for_the_composed_word() {
    let app = App::with_users(&["alice"]).await;
    let Some(browser) = Browser::open(&app).await else { return };
    browser.goto("/").await;
    browser.log_in("alice").await;
    browser.create_note("deploy notes", "Friday rollout").await;
    browser.create_note("배포 체크리스트", "금요일에 배포합니다").await;
    browser.wait_for_titles(&["배포 체크리스트", "deploy notes"]).await;
    assert_eq!(browser.js(SEARCHES, vec![]).await, json!([]));

    // Typing 배포 with an IME: jamo and syllables being composed, each
    // shown longer than a search-as-you-type delay would wait, then the
    // word committed.
    browser.click("#search").await;
    browser.js(COUNT_COMPOSITION, vec![]).await;
    for composing in ["ㅂ", "배", "뱊", "배포"] {
        let end = composing.chars().count();
        let params = json!({"text": composing, "selectionStart": end, "selectionEnd": end});
        cdp(browser.client(), "Input.imeSetComposition", params).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    cdp(browser.client(), "Input.insertText", json!({"text": "배포"})).await;

    browser.wait_for_titles(&["배포 체크리스트"]).await;
    assert_eq!(browser.js("return document.querySelector('#search').value", vec![]).await, "배포");
    // The input method was really emulated: one composition, seen by the page
    // as composing input.
    let events = browser.js("return window.__composition", vec![]).await;
    assert_eq!(events["start"], 1, "{events}");
    assert_eq!(events["end"], 1, "{events}");
    assert!(events["composingInputs"].as_u64().unwrap() >= 4, "{events}");
    // Late requests (a delayed search of an intermediate state) count too.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let searches = browser.js(SEARCHES, vec![]).await;
    assert!(searches.as_array().unwrap().len() <= 1, "one composition, several searches: {searches}");
    browser.wait_for_titles(&["배포 체크리스트"]).await;

    browser.finish().await;
}

#[tokio::test]
async fn choosing_korean_translates_the_page() {
    let app = App::with_users(&["alice"]).await;
    let Some(browser) = Browser::open(&app).await else { return };
    browser.goto("/").await;
    browser.log_in("alice").await;
    let english = browser.text("#new-note").await;
    assert_eq!(browser.js("return document.documentElement.lang", vec![]).await, "en");

    browser.element("#language").await.select_by_value("ko").await.unwrap();
    browser.wait_for("<html lang=ko>", "return document.documentElement.lang === 'ko'", vec![]).await;
    let korean = browser.text("#new-note").await;
    assert_ne!(korean, english);
    assert!(korean.chars().any(|c| ('가'..='힣').contains(&c)), "#new-note reads {korean:?} in Korean");

    browser.element("#language").await.select_by_value("en").await.unwrap();
    browser.wait_for("<html lang=en>", "return document.documentElement.lang === 'en'", vec![]).await;
    assert_eq!(browser.text("#new-note").await, english);

    browser.finish().await;
}
