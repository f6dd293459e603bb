use crate::app::App;
use crate::browser::Browser;

#[tokio::test]
async fn the_browser_trusts_the_servers_certificate_and_no_other() {
    let app = App::unclaimed().await;
    let stranger = App::unclaimed().await;
    let Some(browser) = Browser::open(&app).await else { return };

    browser.goto("/").await;
    let page = browser
        .js(
            "const nav = performance.getEntriesByType('navigation')[0]; \
             return {origin: location.origin, status: nav && nav.responseStatus}",
            vec![],
        )
        .await;
    assert_eq!(page["origin"], app.url(""), "{page}");
    assert_eq!(page["status"], 200, "{page}");
    browser.screenshot("start-page.png").await;

    // Another server's certificate, just as self-signed, gets the
    // interstitial: the browser was not told to accept any certificate.
    browser.goto(&stranger.url("/")).await;
    let page = browser.js("return {href: location.href, text: document.body.innerText}", vec![]).await;
    assert_eq!(page["href"], "chrome-error://chromewebdata/", "{page}");
    assert!(page["text"].as_str().unwrap().contains("ERR_CERT_AUTHORITY_INVALID"), "{page}");

    browser.finish().await;
}
