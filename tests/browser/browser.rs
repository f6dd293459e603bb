//! A headless Chromium session on the service under test: navigation,
//! waiting, clicking and typing as a user would (through WebDriver), reads
//! of the DOM (through scripts), and the checks every test ends with: no
//! Content-Security-Policy violation and no console error.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator, elements::Element};
use serde_json::{Value as Json, json};

use crate::app::{App, artifacts_dir};
use crate::driver::{self, ChromeDriver};

/// How long a wait lasts before the test fails: the UI answers in
/// milliseconds, but two browsers and two servers share two cores.
const WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(50);

/// Runs in every document before its own scripts (installed through the
/// DevTools protocol, so the page's CSP does not apply to it):
/// - records CSP violations in `window.__cspViolations`, kept in
///   sessionStorage so that a reload or navigation within the origin does
///   not lose them;
/// - wraps `fetch` to record every request the page makes (method, URL,
///   status, Retry-After) in `window.__requests`, before the app's module
///   can keep a reference to the original.
const INIT_SCRIPT: &str = r#"(() => {
  const key = "__browserTestCspViolations";
  let stored = [];
  try { stored = JSON.parse(sessionStorage.getItem(key) || "[]"); } catch (_) {}
  window.__cspViolations = stored;
  window.addEventListener("securitypolicyviolation", (e) => {
    window.__cspViolations.push({
      directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile,
      line: e.lineNumber, sample: e.sample, page: location.href,
    });
    try { sessionStorage.setItem(key, JSON.stringify(window.__cspViolations)); } catch (_) {}
  }, true);
  window.__requests = [];
  const originalFetch = window.fetch;
  window.fetch = function (input, init) {
    const url = typeof input === "string" ? input : (input instanceof Request ? input.url : String(input));
    const method = ((init && init.method) || (input instanceof Request ? input.method : "GET")).toUpperCase();
    const entry = { method, url: new URL(url, location.href).href, status: null, retryAfter: null };
    window.__requests.push(entry);
    return originalFetch.apply(this, arguments).then((response) => {
      entry.status = response.status;
      entry.retryAfter = response.headers.get("Retry-After");
      return response;
    });
  };
})();"#;

pub struct Browser {
    client: Client,
    session_id: String,
    origin: String,
    port: u16,
    /// Failed requests (path, status) that the test provokes on purpose;
    /// Chromium logs each as a console error.
    expected_failures: Vec<(String, u16)>,
    finished: bool,
    // Last: chromedriver is killed once the session is gone.
    driver: ChromeDriver,
}

impl Browser {
    /// A new browser on `app`, trusting its certificate; `None` when there
    /// is no chromedriver (outside CI).
    pub async fn open(app: &App) -> Option<Self> {
        let driver = ChromeDriver::start(&driver::chromedriver()?);
        let client = driver.session(app.certificate()).await;
        let session_id = client.session_id().await.unwrap().unwrap();
        driver::cdp(&client, "Page.addScriptToEvaluateOnNewDocument", json!({"source": INIT_SCRIPT})).await;
        Some(Self {
            client,
            session_id,
            origin: app.url(""),
            port: app.port(),
            // Chromium logs the app's first `GET /api/session` as a console
            // error when nobody is logged in; the console message does not
            // name the method, so this also admits a failed login's 401.
            expected_failures: vec![("/api/session".to_owned(), 401)],
            finished: false,
            driver,
        })
    }

    /// A new browser as [`Browser::open`] makes, whose viewport is `width`
    /// x `height` CSS pixels (a phone's, say) instead of 1280x900.
    pub async fn open_sized(app: &App, width: u32, height: u32) -> Option<Self> {
        let browser = Self::open(app).await?;
        // WebDriver sizes the window, which even headless keeps room in for
        // a toolbar: size it once, then again by what the viewport lacks.
        browser.client.set_window_size(width, height).await.unwrap();
        let viewport = browser.js("return [window.innerWidth, window.innerHeight]", vec![]).await;
        let window = |wanted: u32, i: usize| {
            let got = viewport[i].as_u64().and_then(|n| u32::try_from(n).ok()).unwrap();
            (2 * wanted).saturating_sub(got)
        };
        browser.client.set_window_size(window(width, 0), window(height, 1)).await.unwrap();
        browser
            .wait_for(
                &format!("a {width}x{height} viewport"),
                "return window.innerWidth === arguments[0] && window.innerHeight === arguments[1]",
                vec![json!(width), json!(height)],
            )
            .await;
        Some(browser)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Declares a failed request that the test provokes, so that its
    /// console error does not fail the test.
    pub fn expect_failed_request(&mut self, path: &str, status: u16) {
        self.expected_failures.push((path.to_owned(), status));
    }

    /// Opens a path on the service (or a full URL).
    pub async fn goto(&self, path_or_url: &str) {
        let url = if path_or_url.starts_with("https://") {
            path_or_url.to_owned()
        } else {
            self.origin.clone() + path_or_url
        };
        self.client.goto(&url).await.unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    pub async fn reload(&self) {
        self.client.refresh().await.unwrap();
    }

    /// Runs a script (a function body: `arguments`, `return`) in the page.
    pub async fn js(&self, script: &str, args: Vec<Json>) -> Json {
        match self.client.execute(script, args).await {
            Ok(value) => value,
            Err(e) => panic!("script failed: {e}\n{script}\n{}", self.diagnostics().await),
        }
    }

    /// Waits until `script` returns something truthy.
    pub async fn wait_for(&self, what: &str, script: &str, args: Vec<Json>) {
        let deadline = Instant::now() + WAIT;
        loop {
            // Errors (a navigation in progress) count as "not yet".
            if let Ok(value) = self.client.execute(script, args.clone()).await
                && truthy(&value)
            {
                return;
            }
            if Instant::now() > deadline {
                panic!("timed out after {WAIT:?} waiting for {what}\n{}", self.diagnostics().await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    pub async fn is_visible(&self, css: &str) -> bool {
        truthy(&self.js(IS_VISIBLE, vec![json!(css)]).await)
    }

    pub async fn wait_visible(&self, css: &str) {
        self.wait_for(&format!("{css} to be visible"), IS_VISIBLE, vec![json!(css)]).await;
    }

    pub async fn wait_hidden(&self, css: &str) {
        let script = format!("return !(() => {{ {IS_VISIBLE} }})()");
        self.wait_for(&format!("{css} to be hidden or gone"), &script, vec![json!(css)]).await;
    }

    /// The first element matching `css`, once it is visible and enabled.
    pub async fn element(&self, css: &str) -> Element {
        let script = format!(
            "const e = document.querySelector(arguments[0]); return (() => {{ {IS_VISIBLE} }})() && !e.disabled"
        );
        self.wait_for(&format!("{css} to be visible and enabled"), &script, vec![json!(css)]).await;
        self.client.find(Locator::Css(css)).await.unwrap()
    }

    /// Clicks as a user would, who sees the element mid-screen rather than
    /// under the sticky header where WebDriver's scrolling can leave it;
    /// retried while something (a dialog opening) is in the way.
    pub async fn click(&self, css: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let element = self.element(css).await;
            let center = "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})";
            self.js(center, vec![json!(css)]).await;
            match element.click().await {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => {
                    panic!("clicking {css}: {e}\n{}", self.diagnostics().await)
                }
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// Replaces the text of a field by typing: select all, delete, type.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.element(css).await;
        field.click().await.unwrap();
        // Control+A (then release every modifier), Backspace.
        field.send_keys("\u{E009}a\u{E000}\u{E003}").await.unwrap();
        field.send_keys(text).await.unwrap();
        self.wait_for(
            &format!("{css} to hold {text:?}"),
            "return document.querySelector(arguments[0]).value === arguments[1]",
            vec![json!(css), json!(text)],
        )
        .await;
    }

    /// Submits a form with its submit button, as a user would.
    pub async fn submit(&self, form_css: &str) {
        let button = format!(
            "{form_css} button[type=submit], {form_css} input[type=submit], {form_css} button:not([type])"
        );
        self.click(&button).await;
    }

    /// The trimmed `textContent` of every element matching `css`.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let script = "return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent.trim())";
        serde_json::from_value(self.js(script, vec![json!(css)]).await).unwrap()
    }

    /// The text of the first element matching `css` ("" when there is none).
    pub async fn text(&self, css: &str) -> String {
        self.texts(css).await.into_iter().next().unwrap_or_default()
    }

    /// Saves a PNG of the viewport in the artifacts directory.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "the screenshot is not a PNG");
        let path = artifacts_dir().join(name);
        std::fs::write(&path, png).unwrap();
        // Straight to stderr, so that it shows without `--nocapture`.
        let _ = writeln!(std::io::stderr(), "screenshot: {}", path.display());
        path
    }

    /// The checks every test ends with, then the session ends: no CSP
    /// violation in any page the test opened, no console error but the
    /// expected failed requests.
    pub async fn finish(mut self) {
        let violations = self.js("return window.__cspViolations || []", vec![]).await;
        let errors: Vec<Json> = driver::console_entries(&self.client)
            .await
            .into_iter()
            .filter(|entry| entry["level"] == "SEVERE")
            .filter(|entry| !self.is_expected_failure(entry["message"].as_str().unwrap_or_default()))
            .collect();
        self.finished = true;
        self.client.clone().close().await.unwrap();
        assert_eq!(violations, json!([]), "Content-Security-Policy violations");
        assert!(errors.is_empty(), "console errors: {errors:#?}");
    }

    /// Whether a console message is Chromium's note of a failed request the
    /// test expects: "<url> - Failed to load resource: the server responded
    /// with a status of <status> (...)".
    fn is_expected_failure(&self, message: &str) -> bool {
        let Some((url, rest)) = message.split_once(" - ") else { return false };
        let Some(status) =
            rest.strip_prefix("Failed to load resource: the server responded with a status of ")
        else {
            return false;
        };
        let Ok(url) = url::Url::parse(url) else { return false };
        let status = status.split_whitespace().next().and_then(|s| s.parse::<u16>().ok());
        url.port() == Some(self.port)
            && url.query().is_none()
            && self
                .expected_failures
                .iter()
                .any(|(path, expected)| url.path() == path && status == Some(*expected))
    }

    /// What a failing test shows: where the page is, what it displays, and
    /// what it logged.
    async fn diagnostics(&self) -> String {
        let url = self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
        let state = self.client.execute(DESCRIBE_PAGE, vec![]).await.unwrap_or_default();
        let console = driver::console_entries(&self.client).await;
        format!(
            "--- page {url} ---\n{}\n--- console ---\n{}",
            state.as_str().unwrap_or_default(),
            console.iter().map(|e| format!("{} {}", e["level"], e["message"])).collect::<Vec<_>>().join("\n")
        )
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.finished {
            // A failed test: end the session so that Chromium exits.
            self.driver.delete_session_blocking(&self.session_id);
        }
    }
}

/// Whether the first element matching `arguments[0]` is rendered.
const IS_VISIBLE: &str =
    "const el = document.querySelector(arguments[0]); return !!el && el.checkVisibility();";

/// The contract's views and messages, then the body's HTML.
const DESCRIBE_PAGE: &str = r#"
  const ids = ["setup-view", "login-view", "notes-view", "settings-view", "note-dialog", "confirm-dialog",
               "setup-error", "login-error", "note-error", "status", "notes-empty", "whoami"];
  const lines = ids.map((id) => {
    const e = document.getElementById(id);
    if (!e) return `#${id}: missing`;
    return `#${id}: ${e.checkVisibility() ? "visible" : "hidden"} ${JSON.stringify(e.textContent.trim().slice(0, 200))}`;
  });
  lines.push(`requests: ${JSON.stringify(window.__requests || [])}`);
  lines.push(`CSP violations: ${JSON.stringify(window.__cspViolations || [])}`);
  lines.push(document.body ? document.body.outerHTML.slice(0, 4000) : "(no body)");
  return lines.join("\n");
"#;

fn truthy(value: &Json) -> bool {
    match value {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Json::String(s) => !s.is_empty(),
        Json::Array(_) | Json::Object(_) => true,
    }
}
