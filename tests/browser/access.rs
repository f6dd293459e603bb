use fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
use fantoccini::key::Key;
use serde_json::{Value as Json, json};

use crate::app::App;
use crate::browser::Browser;

/// A phone's viewport in CSS pixels (an iPhone 12 to 15).
const PHONE: (u32, u32) = (390, 844);

/// The smallest touch target, in CSS pixels (WCAG 2.5.5, Apple's guidelines).
const TARGET: f64 = 44.0;

/// Whether the page scrolls sideways: `{scrollWidth, innerWidth}`, and, to
/// say why, the visible elements that reach past the viewport's sides or
/// whose content is wider than they are.
const HORIZONTAL_OVERFLOW: &str = r#"
  const describe = (e) => e.tagName.toLowerCase() + (e.id ? `#${e.id}` : "")
    + (typeof e.className === "string" && e.className ? `.${e.className.trim().split(/\s+/).join(".")}` : "");
  const width = window.innerWidth;
  const visible = [...document.body.querySelectorAll("*")].filter((e) => e.checkVisibility());
  const outside = visible
    .map((e) => [e, e.getBoundingClientRect()])
    .filter(([, r]) => r.width > 1 && (r.left < -0.5 || r.right > width + 0.5))
    .map(([e, r]) => `${describe(e)} at ${Math.round(r.left)}..${Math.round(r.right)}`);
  const wider = visible
    .filter((e) => e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1)
    .map((e) => `${describe(e)} holds ${e.scrollWidth}px in ${e.clientWidth}px`);
  return {
    scrollWidth: document.documentElement.scrollWidth, innerWidth: width,
    outside: outside.slice(0, 20), wider: wider.slice(0, 20),
  };
"#;

/// The visible elements matching `arguments[0]` that are cut off sideways
/// (wider content than box, under `overflow: hidden`).
const CLIPPED: &str = r#"
  return [...document.querySelectorAll(arguments[0])]
    .filter((e) => e.checkVisibility() && e.scrollWidth > e.clientWidth + 1)
    .map((e) => `${e.className}: ${e.scrollWidth} > ${e.clientWidth}`);
"#;

/// Every visible element matching `arguments[0]` with its size:
/// `[{what, button, width, height}]`.
const SIZES: &str = r#"
  return [...document.querySelectorAll(arguments[0])]
    .filter((e) => e.checkVisibility())
    .map((e) => {
      const r = e.getBoundingClientRect();
      const what = e.tagName.toLowerCase() + (e.id ? `#${e.id}` : "")
        + (e.className ? `.${e.className.trim().split(/\s+/).join(".")}` : "")
        + ` ${JSON.stringify(e.textContent.trim().slice(0, 30))}`;
      return { what, button: e.tagName === "BUTTON", width: r.width, height: r.height };
    });
"#;

/// Where the element `arguments[0]` is, whether it is rendered, and whether
/// it is what a tap in its middle reaches (nothing covers it).
const PLACE: &str = r#"
  const e = document.querySelector(arguments[0]);
  if (!e) return null;
  const r = e.getBoundingClientRect();
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return {
    visible: e.checkVisibility(), left: r.left, right: r.right, top: r.top, bottom: r.bottom,
    width: r.width, height: r.height, reachable: !!hit && (hit === e || e.contains(hit)),
    innerWidth: window.innerWidth, innerHeight: window.innerHeight,
  };
"#;

/// The element with the focus, and whether it shows that it has it (an
/// outline or a box shadow); null when the focus is nowhere (on the body).
const FOCUSED: &str = r#"
  const e = document.activeElement;
  if (!e || e === document.body || e === document.documentElement) return null;
  const style = getComputedStyle(e);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  return {
    what: e.tagName.toLowerCase() + (e.id ? `#${e.id}` : "") + (e.className ? `.${e.className.trim().split(/\s+/).join(".")}` : ""),
    tag: e.tagName.toLowerCase(),
    dialog: e.closest("dialog")?.id ?? null,
    indicator: outline || style.boxShadow !== "none",
    outline: `${style.outlineStyle} ${style.outlineWidth} ${style.outlineColor}`,
    boxShadow: style.boxShadow,
  };
"#;

/// The form fields and buttons in the page (every view and dialog, shown
/// or not) that have no accessible name: fields need a label with text, an
/// `aria-label` or an `aria-labelledby` naming an element with text;
/// buttons need text or one of those. Fields with their own `hidden`
/// attribute (or `type=hidden`) are never rendered, to anyone, and are left
/// out: the settings' `#password-username`, there for password managers.
const UNNAMED: &str = r#"
  const text = (e) => (e?.textContent ?? "").trim();
  const name = (e) => {
    const labelledBy = (e.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean)
      .map((id) => text(document.getElementById(id))).join(" ").trim();
    const label = (e.getAttribute("aria-label") || "").trim();
    const labels = [...(e.labels || [])].map(text).join(" ").trim();
    return labelledBy || label || labels || (e.tagName === "BUTTON" ? text(e) : "");
  };
  const fields = [...document.querySelectorAll("input, textarea, select")]
    .filter((e) => !e.hasAttribute("hidden") && e.type !== "hidden");
  const buttons = [...document.querySelectorAll("button")];
  const unnamed = [...fields, ...buttons].filter((e) => !name(e))
    .map((e) => e.tagName.toLowerCase() + (e.id ? `#${e.id}` : "") + (e.className ? `.${e.className}` : ""));
  return { fields: fields.length, buttons: buttons.length, unnamed };
"#;

/// Counts the pointer input the page receives from now on (a keyboard
/// user's Enter on a button makes a `click` event, but no `pointerdown`).
const COUNT_POINTER_INPUT: &str = r#"
  window.__pointerInput = [];
  for (const type of ["pointerdown", "mousedown", "touchstart"]) {
    document.addEventListener(type, (e) => window.__pointerInput.push(`${type} on ${e.target.id || e.target.tagName}`), true);
  }
"#;

/// A 160-character title (the longest the API takes) with nowhere to break.
fn longest_title() -> String {
    let title: String = "Quarterlyinfrastructurereview".repeat(6).chars().take(160).collect();
    assert_eq!(title.chars().count(), 160);
    title
}

/// A body with a long URL, a long word and a long code span, none of which
/// has anywhere to break.
fn unbreakable_body() -> String {
    let path = "0123456789abcdefghijklmnopqrstuvwxyz".repeat(6);
    let word = "Rindfleischetikettierungsueberwachungsaufgabenuebertragungsgesetz".repeat(3);
    format!(
        "See https://example.com/{path}end?query={word} for the details.\n\n\
         {word}\n\n\
         Run `{path}` first."
    )
}

#[tokio::test]
async fn the_notes_app_fits_a_phone_screen() {
    let app = App::unclaimed().await;
    let Some(browser) = Browser::open_sized(&app, PHONE.0, PHONE.1).await else { return };

    browser.claim(&app, "alice").await;
    let title = longest_title();
    let long = browser.create_note(&title, &unbreakable_body()).await;
    browser.create_note("Groceries", "milk, eggs, bread").await;
    browser.wait_for_titles(&["Groceries", &title]).await;
    browser.js("window.scrollTo(0, 0)", vec![]).await;

    assert_no_horizontal_scrolling(&browser, "the notes view").await;
    // The long title and body wrap: nothing of them is cut off either.
    let clipped = browser.js(CLIPPED, vec![json!("#notes .note-title, #notes .note-body")]).await;
    assert_eq!(clipped, json!([]), "note titles or bodies cut off sideways");

    // Every control of the notes view and the header is a touch target.
    let controls = "header button, header input, header select, \
        #notes-view button, #notes-view input, #notes-view select, #notes-view textarea";
    let sizes = browser.js(SIZES, vec![json!(controls)]).await;
    let sizes = sizes.as_array().unwrap();
    // The search, New note, Edit and Delete twice, Settings, Log out, language.
    assert!(sizes.len() >= 9, "too few controls measured: {sizes:#?}");
    let small: Vec<&Json> = sizes
        .iter()
        .filter(|size| {
            let too_narrow = size["button"] == true && size["width"].as_f64().unwrap() < TARGET - 0.01;
            size["height"].as_f64().unwrap() < TARGET - 0.01 || too_narrow
        })
        .collect();
    assert!(small.is_empty(), "controls smaller than {TARGET}px on a phone: {small:#?}");

    // The header's controls are on screen, uncovered, side by side.
    let mut placed = Vec::new();
    for control in ["#open-settings", "#logout", "#language"] {
        let place = browser.js(PLACE, vec![json!(control)]).await;
        let side = |name: &str| place[name].as_f64().unwrap();
        assert_eq!(place["visible"], true, "{control} is not shown: {place}");
        assert!(side("width") > 0.0 && side("height") > 0.0, "{control} has no size: {place}");
        assert!(
            side("left") >= 0.0 && side("right") <= side("innerWidth"),
            "{control} is not within the viewport's width: {place}"
        );
        assert!(
            side("top") >= 0.0 && side("bottom") <= side("innerHeight"),
            "{control} is off screen: {place}"
        );
        assert_eq!(place["reachable"], true, "{control} is covered by something else: {place}");
        placed.push((control, side("left"), side("right"), side("top"), side("bottom")));
    }
    for (i, a) in placed.iter().enumerate() {
        for b in &placed[i + 1..] {
            let overlap = a.1 < b.2 && b.1 < a.2 && a.3 < b.4 && b.3 < a.4;
            assert!(!overlap, "{} and {} overlap: {a:?} {b:?}", a.0, b.0);
        }
    }
    browser.screenshot("notes-list-phone.png").await;

    // The dialogs about the long note fit too.
    browser.click(&format!("#notes li.note[data-id='{long}'] button.edit-note")).await;
    browser.wait_visible("#note-dialog").await;
    assert_within_viewport(&browser, "#note-dialog").await;
    assert_within_viewport(&browser, "#note-save").await;
    assert_no_horizontal_scrolling(&browser, "the editor").await;
    browser.click("#note-cancel").await;
    browser.wait_hidden("#note-dialog").await;
    browser.click(&format!("#notes li.note[data-id='{long}'] button.delete-note")).await;
    browser.wait_visible("#confirm-dialog").await;
    assert_within_viewport(&browser, "#confirm-dialog").await;
    assert_eq!(browser.js(CLIPPED, vec![json!("#confirm-dialog, #confirm-text")]).await, json!([]));
    assert_no_horizontal_scrolling(&browser, "the delete confirmation").await;
    browser.click("#confirm-no").await;
    browser.wait_hidden("#confirm-dialog").await;

    // The settings, with an API token's long secret shown.
    browser.click("#open-settings").await;
    browser.wait_visible("#settings-view").await;
    browser.wait_visible("#admin-section").await;
    browser.fill("#token-name", "phone sync").await;
    browser.submit("#token-form").await;
    browser.wait_visible("#token-secret-box").await;
    browser.wait_visible("#tokens li.token").await;
    browser.js("window.scrollTo(0, 0)", vec![]).await;
    assert_no_horizontal_scrolling(&browser, "the settings view").await;
    assert_eq!(browser.js(CLIPPED, vec![json!("#token-secret")]).await, json!([]), "the token is cut off");

    browser.finish().await;
}

async fn assert_no_horizontal_scrolling(browser: &Browser, view: &str) {
    let overflow = browser.js(HORIZONTAL_OVERFLOW, vec![]).await;
    let scroll_width = overflow["scrollWidth"].as_f64().unwrap();
    let inner_width = overflow["innerWidth"].as_f64().unwrap();
    assert_eq!(inner_width, f64::from(PHONE.0), "the viewport is not a phone's: {overflow}");
    assert!(scroll_width <= inner_width, "{view} scrolls sideways on a phone: {overflow:#}");
}

async fn assert_within_viewport(browser: &Browser, css: &str) {
    let place = browser.js(PLACE, vec![json!(css)]).await;
    let side = |name: &str| place[name].as_f64().unwrap();
    assert_eq!(place["visible"], true, "{css} is not shown: {place}");
    assert!(
        side("left") >= -0.5 && side("right") <= side("innerWidth") + 0.5,
        "{css} is wider than the phone's screen: {place}"
    );
}

#[tokio::test]
async fn everything_works_from_the_keyboard_alone() {
    let app = App::unclaimed().await;
    let Some(browser) = Browser::open(&app).await else { return };
    browser.claim(&app, "alice").await;
    browser.wait_visible("#notes-empty").await;

    // From here on, the keyboard alone: no clicks, no typing into an element
    // picked by the test, only keys pressed into whatever has the focus.
    browser.js(COUNT_POINTER_INPUT, vec![]).await;

    let names = browser.js(UNNAMED, vec![]).await;
    assert!(names["fields"].as_u64().unwrap() >= 12, "too few fields found: {names}");
    assert_eq!(names["unnamed"], json!([]), "fields or buttons without an accessible name: {names}");

    // `/` goes to the search box, and is not typed into it.
    browser.press("/").await;
    browser.wait_focused("#search").await;
    assert_eq!(browser.js("return document.querySelector('#search').value", vec![]).await, "");

    // New note: Tab to the button, Enter; the editor opens on the title.
    browser.tab_to("#new-note").await;
    browser.press(&Key::Enter).await;
    browser.wait_visible("#note-dialog").await;
    browser.wait_focused("#note-title").await;
    browser.press("Keyboard plan").await;
    browser.press(&Key::Tab).await;
    browser.wait_focused("#note-body").await;
    // Enter in the body is a new line, not a save.
    browser.press("First line").await;
    browser.press(&Key::Enter).await;
    browser.press("second line").await;
    assert!(browser.is_visible("#note-dialog").await, "Enter in the body closed the editor");
    let typed = browser
        .js("return [document.querySelector('#note-title').value, document.querySelector('#note-body').value]", vec![])
        .await;
    assert_eq!(typed, json!(["Keyboard plan", "First line\nsecond line"]));
    // Control+Enter saves; the focus goes back to the button that opened the editor.
    browser.chord(Key::Control, Key::Enter).await;
    browser.wait_hidden("#note-dialog").await;
    browser.wait_for_titles(&["Keyboard plan"]).await;
    let shown = browser
        .js("return document.querySelector('#notes li.note .note-body').innerText.trim()", vec![])
        .await;
    assert_eq!(shown, "First line\nsecond line");
    browser.wait_focused("#new-note").await;
    browser.assert_focus_shows().await;

    // Escape closes the editor unsaved.
    browser.press(&Key::Enter).await;
    browser.wait_visible("#note-dialog").await;
    browser.wait_focused("#note-title").await;
    browser.press("Never saved").await;
    browser.press(&Key::Escape).await;
    browser.wait_hidden("#note-dialog").await;
    browser.wait_focused("#new-note").await;
    browser.wait_for_titles(&["Keyboard plan"]).await;

    // Delete: Tab to the note's Delete button, Enter; Escape keeps the note.
    let id = browser.js("return document.querySelector('#notes li.note').dataset.id", vec![]).await;
    let delete = format!("#notes li.note[data-id='{}'] button.delete-note", id.as_str().unwrap());
    browser.tab_to(&delete).await;
    browser.press(&Key::Enter).await;
    browser.wait_visible("#confirm-dialog").await;
    browser.wait_focused("#confirm-dialog *").await;
    browser.press(&Key::Escape).await;
    browser.wait_hidden("#confirm-dialog").await;
    browser.wait_focused(&delete).await;
    browser.wait_for_titles(&["Keyboard plan"]).await;

    // Enter again, Tab to Delete in the dialog, Enter: the note is gone, and
    // the focus is somewhere useful rather than lost.
    browser.press(&Key::Enter).await;
    browser.wait_visible("#confirm-dialog").await;
    browser.wait_focused("#confirm-dialog *").await;
    browser.tab_to("#confirm-yes").await;
    browser.press(&Key::Enter).await;
    browser.wait_hidden("#confirm-dialog").await;
    browser.wait_for_titles(&[]).await;
    browser.wait_visible("#notes-empty").await;
    browser.wait_focused("#new-note").await;

    // Back through the page to the header's Settings, Enter; Escape
    // returns to the notes, on the button that opened the settings.
    browser.shift_tab_to("#open-settings").await;
    browser.press(&Key::Enter).await;
    browser.wait_visible("#settings-view").await;
    browser.wait_focused("#settings-view *").await;
    browser.press(&Key::Escape).await;
    browser.wait_visible("#notes-view").await;
    browser.wait_hidden("#settings-view").await;
    browser.wait_focused("#open-settings").await;
    browser.assert_focus_shows().await;

    let pointer = browser.js("return window.__pointerInput", vec![]).await;
    assert_eq!(pointer, json!([]), "the page received pointer input");

    browser.finish().await;
}

/// Tabs at most this often to reach an element.
const MAX_TABS: usize = 20;

impl Browser {
    /// Types `keys` (text, or WebDriver key codes such as `Key::Enter`) on
    /// the keyboard, into whatever has the focus: each key down, then up.
    async fn press(&self, keys: &str) {
        let mut keyboard = KeyActions::new("keyboard".to_owned());
        for key in keys.chars() {
            keyboard = keyboard.then(KeyAction::Down { value: key }).then(KeyAction::Up { value: key });
        }
        self.client().perform_actions(keyboard).await.unwrap();
    }

    /// Presses `key` while holding `modifier` down (Control+Enter).
    async fn chord(&self, modifier: Key, key: Key) {
        let (modifier, key) = (char::from(modifier), char::from(key));
        let keyboard = KeyActions::new("keyboard".to_owned())
            .then(KeyAction::Down { value: modifier })
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key })
            .then(KeyAction::Up { value: modifier });
        self.client().perform_actions(keyboard).await.unwrap();
    }

    async fn wait_focused(&self, css: &str) {
        self.wait_for(
            &format!("{css} to have the focus"),
            "return !!document.activeElement && document.activeElement.matches(arguments[0])",
            vec![json!(css)],
        )
        .await;
    }

    /// The focused element (see [`FOCUSED`]); fails when the focus is lost.
    async fn focused(&self) -> Json {
        let focused = self.js(FOCUSED, vec![]).await;
        assert!(!focused.is_null(), "the focus is on nothing (the page's body)");
        focused
    }

    /// Fails unless the focused element shows that it has the focus.
    async fn assert_focus_shows(&self) -> Json {
        let focused = self.focused().await;
        assert_eq!(focused["indicator"], true, "the focused element shows no focus indicator: {focused:#}");
        focused
    }

    /// Presses Tab until the element matching `css` has the focus; every
    /// element on the way must show the focus.
    async fn tab_to(&self, css: &str) {
        self.tab_until(css, false).await;
    }

    /// As [`Browser::tab_to`], backwards (Shift+Tab).
    async fn shift_tab_to(&self, css: &str) {
        self.tab_until(css, true).await;
    }

    async fn tab_until(&self, css: &str, backwards: bool) {
        let mut path = Vec::new();
        for _ in 0..MAX_TABS {
            let focused = self.assert_focus_shows().await;
            let there = "return document.activeElement.matches(arguments[0])";
            if self.js(there, vec![json!(css)]).await == json!(true) {
                return;
            }
            path.push(focused["what"].as_str().unwrap_or_default().to_owned());
            if backwards {
                self.chord(Key::Shift, Key::Tab).await;
            } else {
                self.press(&Key::Tab).await;
            }
        }
        panic!("{MAX_TABS} presses of Tab did not reach {css}; the focus went through {path:#?}");
    }
}
