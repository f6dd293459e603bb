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
/// the web UI's (`/`, `/setup`, `/static/...`): pages and files for a
/// browser, not API operations.
async fn mounted_routes() -> BTreeSet<(String, String)> {
    let pages = notes_appliance::http::setup::page_routes();
    let web_ui: BTreeSet<_> =
        notes_appliance::http::assets::routes().iter().chain(&pages).map(method_and_path).collect();
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

/// The operations anyone may call: logging in and first-run setup.
const PUBLIC: [(&str, &str); 2] = [("post", "/api/session"), ("post", "/api/setup")];

#[test]
fn every_other_api_operation_takes_a_token_or_the_session_and_documents_401() {
    let doc = document();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/") {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            let security = operation.get("security").or_else(|| doc.get("security")).unwrap().to_string();
            if PUBLIC.contains(&(method.as_str(), path.as_str())) {
                assert_eq!(security, "[]", "{method} {path} is public");
                continue;
            }
            assert!(
                security.contains("bearerAuth") && security.contains("sessionCookie"),
                "{method} {path} takes a token or the session: {security}"
            );
            assert!(operation["responses"].get("401").is_some(), "{method} {path} documents 401");
            if method != "get" {
                assert!(
                    operation["responses"].get("403").is_some(),
                    "{method} {path} documents the CSRF 403"
                );
            }
        }
    }
}

#[test]
fn every_referenced_component_exists() {
    let doc = document();
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"").skip(1) {
        let pointer = reference.split('"').next().unwrap().trim_start_matches('#');
        assert!(doc.pointer(pointer).is_some(), "{pointer} is referenced but missing");
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
