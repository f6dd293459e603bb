use std::collections::BTreeSet;

use notes_appliance::http::openapi::DOCUMENT;
use rocket::http::Status;
use serde_json::Value;

use crate::helpers::*;

fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
}

/// `(METHOD, /path/{param})` of a route.
fn method_and_path(route: &rocket::Route) -> (String, String) {
    let path = route.uri.path().to_string();
    (route.method.as_str().to_owned(), path.replace('<', "{").replace('>', "}"))
}

/// `(METHOD, /path/{param})` for every route the application mounts, but
/// the web UI's (`/`, `/static/...`): pages and files for a browser, not
/// API operations.
async fn mounted_routes() -> BTreeSet<(String, String)> {
    let web_ui: BTreeSet<_> = notes_appliance::http::assets::routes().iter().map(method_and_path).collect();
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let routes = app.client.rocket().routes().map(method_and_path).filter(|r| !web_ui.contains(r)).collect();
    app.teardown().await;
    routes
}

#[tokio::test]
async fn the_document_describes_exactly_the_mounted_routes() {
    let doc = document();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "an OpenAPI 3 document");
    let described: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| k.as_str() != "parameters")
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();

    assert_eq!(described, mounted_routes().await);
}

#[test]
fn every_notes_operation_requires_a_token_and_documents_401() {
    let doc = document();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/") {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            let secured = operation.get("security").or_else(|| doc.get("security"));
            assert!(
                secured.is_some_and(|s| s.to_string().contains("bearer")),
                "{method} {path} needs bearer auth"
            );
            assert!(operation["responses"].get("401").is_some(), "{method} {path} documents 401");
        }
    }
}

#[tokio::test]
async fn the_document_is_served_as_json() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let reply = app.get_anonymous("/openapi.json").await;
    assert_eq!(reply.status, Status::Ok);
    assert_eq!(reply.header("Content-Type"), Some("application/json"));
    assert_eq!(reply.json(), document());
    app.teardown().await;
}
