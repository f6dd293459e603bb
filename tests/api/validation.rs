use rocket::http::{ContentType, Header, Method, Status};

use crate::helpers::*;

async fn assert_nothing_stored(app: &TestApp) {
    assert_eq!(app.count("notes").await, 0, "a refused request stored nothing");
}

both_backends!(
    async fn malformed_json_is_400(app) {
        let alice = app.user("alice").await;
        for body in [r#"{"title": "x""#, "{title: 'x'}", "", "not json", r#"{"title":"x"} trailing"#, "[1,"] {
            app.post("/api/notes", &alice, body).await.assert_error(Status::BadRequest, "bad_request");
        }
        assert_nothing_stored(app).await;
    }
);

both_backends!(
    async fn wrong_json_types_and_missing_or_unknown_fields_are_422(app) {
        let alice = app.user("alice").await;
        for body in [
            r#"{"title": 5}"#,
            r#"{"title": ["x"]}"#,
            r#"{"title": null}"#,
            r#"{"title": "x", "body": 7}"#,
            r#"{"title": "x", "body": null}"#,
            r#"{"body": "no title"}"#,
            r#"{"title": "x", "colour": "red"}"#,
            r#"["title", "x"]"#,
            r#""just a string""#,
            "42",
            "null",
        ] {
            let reply = app.post("/api/notes", &alice, body).await;
            reply.assert_error(Status::UnprocessableEntity, "invalid");
        }
        assert_nothing_stored(app).await;
    }
);

both_backends!(
    async fn empty_blank_and_over_long_titles_are_422_and_160_multibyte_characters_are_fine(app) {
        let alice = app.user("alice").await;
        for title in [String::new(), "   ".into(), "a".repeat(161), "가".repeat(161), "line\nbreak".into()] {
            let body = serde_json::json!({ "title": title }).to_string();
            let reply = app.post("/api/notes", &alice, &body).await;
            reply.assert_error(Status::UnprocessableEntity, "invalid");
            assert!(reply.json()["error"]["message"].as_str().unwrap().contains("title"), "{}", reply.body);
        }
        assert_nothing_stored(app).await;

        let title = "한".repeat(160);
        let reply = app.post("/api/notes", &alice, &serde_json::json!({ "title": title }).to_string()).await;
        assert_eq!(reply.status, Status::Created, "{}", reply.body);
        assert_eq!(reply.json()["title"].as_str().unwrap().chars().count(), 160);
        let emoji = "🚀".repeat(160);
        let reply = app.post("/api/notes", &alice, &serde_json::json!({ "title": emoji }).to_string()).await;
        assert_eq!(reply.status, Status::Created, "{}", reply.body);
    }
);

both_backends!(
    async fn nul_characters_are_refused_on_both_backends(app) {
        let alice = app.user("alice").await;
        app.post("/api/notes", &alice, r#"{"title":"a\u0000b"}"#).await.assert_error(Status::UnprocessableEntity, "invalid");
        app.post("/api/notes", &alice, r#"{"title":"ok","body":"a\u0000b"}"#)
            .await
            .assert_error(Status::UnprocessableEntity, "invalid");
        assert_nothing_stored(app).await;
    }
);

both_backends!(
    async fn invalid_utf8_is_400(app) {
        let alice = app.user("alice").await;
        let reply = app.send(Method::Post, "/api/notes", &alice, b"{\"title\":\"\xff\xfe\"}").await;
        reply.assert_error(Status::BadRequest, "bad_request");
        assert!(reply.body.contains("UTF-8"), "{}", reply.body);
        // A lone surrogate escape is not a character either.
        app.post("/api/notes", &alice, r#"{"title":"\ud800"}"#).await.assert_error(Status::BadRequest, "bad_request");
        assert_nothing_stored(app).await;
    }
);

both_backends!(
    async fn a_body_over_the_limit_is_413(app) {
        let alice = app.user("alice").await;
        let huge = format!(r#"{{"title":"big","body":"{}"}}"#, "x".repeat(1 << 20));
        app.post("/api/notes", &alice, &huge).await.assert_error(Status::PayloadTooLarge, "payload_too_large");
        assert_nothing_stored(app).await;
    }
);

both_backends!(
    async fn an_over_long_body_field_is_422(app) {
        let alice = app.user("alice").await;
        let long = serde_json::json!({ "title": "long", "body": "x".repeat(100_001) }).to_string();
        app.post("/api/notes", &alice, &long).await.assert_error(Status::UnprocessableEntity, "invalid");
        let longest = serde_json::json!({ "title": "long", "body": "x".repeat(100_000) }).to_string();
        assert_eq!(app.post("/api/notes", &alice, &longest).await.status, Status::Created);
    }
);

both_backends!(
    async fn a_non_json_content_type_is_415(app) {
        let alice = app.user("alice").await;
        let request = app
            .client
            .post("/api/notes")
            .header(bearer(&alice.token))
            .header(ContentType::Form)
            .body("title=x");
        Reply::from(request.dispatch().await).await.assert_error(Status::UnsupportedMediaType, "unsupported_media_type");
        let request = app
            .client
            .post("/api/notes")
            .header(bearer(&alice.token))
            .header(Header::new("Content-Type", "garbage"))
            .body(r#"{"title":"x"}"#);
        Reply::from(request.dispatch().await).await.assert_error(Status::UnsupportedMediaType, "unsupported_media_type");
        // JSON subtypes and a missing Content-Type are accepted.
        for content_type in [Some("application/json; charset=utf-8"), Some("application/merge-patch+json"), None] {
            let mut request = app.client.post("/api/notes").header(bearer(&alice.token)).body(r#"{"title":"x"}"#);
            if let Some(content_type) = content_type {
                request = request.header(Header::new("Content-Type", content_type));
            }
            assert_eq!(Reply::from(request.dispatch().await).await.status, Status::Created, "{content_type:?}");
        }
    }
);

both_backends!(
    async fn patch_refuses_nulls_unknown_fields_and_empty_changes(app) {
        let alice = app.user("alice").await;
        let note = app.create_note(&alice, "Keep", "me").await;
        let path = format!("/api/notes/{}", note["id"]);
        for body in [r#"{"title":null}"#, r#"{"body":null}"#, r#"{"titel":"typo"}"#, "{}", r#"{"title":""}"#] {
            app.patch(&path, &alice, body).await.assert_error(Status::UnprocessableEntity, "invalid");
        }
        app.patch(&path, &alice, "{").await.assert_error(Status::BadRequest, "bad_request");
        assert_eq!(app.get(&path, &alice).await.json(), note, "unchanged");
    }
);

both_backends!(
    async fn limits_outside_1_to_200_are_422_and_garbage_cursors_400(app) {
        let alice = app.user("alice").await;
        for limit in ["0", "201", "-1", "abc", "1e3", "", "%2B5", "007"] {
            app.get(&format!("/api/notes?limit={limit}"), &alice).await.assert_error(Status::UnprocessableEntity, "invalid");
        }
        for cursor in ["garbage", "djE6Yjox!", "AAAA", "djI6Yjox", "%00"] {
            app.get(&format!("/api/notes?cursor={cursor}"), &alice).await.assert_error(Status::BadRequest, "bad_request");
        }
        for repeated in ["limit=1&limit=2", "q=a&q=b", "cursor=x&cursor=y"] {
            app.get(&format!("/api/notes?{repeated}"), &alice).await.assert_error(Status::UnprocessableEntity, "invalid");
        }
        assert_eq!(app.get("/api/notes?limit=1&other=ignored", &alice).await.status, Status::Ok);
        assert_eq!(app.get("/api/notes?limit=1", &alice).await.status, Status::Ok);
        assert_eq!(app.get("/api/notes?limit=200", &alice).await.status, Status::Ok);
    }
);

both_backends!(
    async fn a_method_a_path_does_not_take_is_405_with_allow(app) {
        let alice = app.user("alice").await;
        let reply = Reply::from(app.client.put("/api/notes").header(bearer(&alice.token)).dispatch().await).await;
        reply.assert_error(Status::MethodNotAllowed, "method_not_allowed");
        assert_eq!(reply.header("Allow"), Some("GET, HEAD, POST"));
        let reply = Reply::from(app.client.post("/api/notes/1").dispatch().await).await;
        reply.assert_error(Status::MethodNotAllowed, "method_not_allowed");
        assert_eq!(reply.header("Allow"), Some("DELETE, GET, HEAD, PATCH, PUT"));
        let reply = Reply::from(app.client.delete("/healthz").dispatch().await).await;
        assert_eq!(reply.header("Allow"), Some("GET, HEAD"));
    }
);

both_backends!(
    async fn unknown_routes_are_404_json(app) {
        app.get_anonymous("/api/nope").await.assert_error(Status::NotFound, "not_found");
        app.get_anonymous("/nope").await.assert_error(Status::NotFound, "not_found");
    }
);
