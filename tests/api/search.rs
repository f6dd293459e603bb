use rocket::http::Status;

use crate::helpers::*;

fn titles(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, Status::Ok, "{}", reply.body);
    reply.json().as_array().unwrap().iter().map(|n| n["title"].as_str().unwrap().to_owned()).collect()
}

fn search_path(q: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
    format!("/api/notes?q={encoded}")
}

async fn search(app: &TestApp, user: &TestUser, q: &str) -> Vec<String> {
    titles(&app.get(&search_path(q), user).await)
}

both_backends!(
    async fn korean_text_is_found_by_part_of_a_word(app) {
        let alice = app.user("alice").await;
        app.create_note(&alice, "금요일 계획", "배포를 금요일 오후에 합니다").await;
        app.create_note(&alice, "점심", "김치찌개").await;

        assert_eq!(search(app, &alice, "배포").await, ["금요일 계획"]);
        assert_eq!(search(app, &alice, "배포를").await, ["금요일 계획"]);
        assert_eq!(search(app, &alice, "요일 오후").await, ["금요일 계획"]);
        assert_eq!(search(app, &alice, "찌개").await, ["점심"]);
        assert!(search(app, &alice, "배포 김치").await.is_empty(), "every term must match");
    }
);

both_backends!(
    async fn part_of_an_english_word_and_other_word_forms_match(app) {
        let alice = app.user("alice").await;
        app.create_note(&alice, "Release", "The deployment went fine").await;
        app.create_note(&alice, "Weekly meeting", "agenda").await;
        app.create_note(&alice, "Unrelated", "nothing to see").await;

        assert_eq!(search(app, &alice, "deploy").await, ["Release"]);
        assert_eq!(search(app, &alice, "DEPLOY").await, ["Release"], "case does not matter");
        assert_eq!(search(app, &alice, "deployments").await, ["Release"], "another form of the word");
        assert_eq!(search(app, &alice, "meetings").await, ["Weekly meeting"]);
        assert_eq!(search(app, &alice, "eting").await, ["Weekly meeting"]);
        assert!(search(app, &alice, "deploy agenda").await.is_empty());
    }
);

both_backends!(
    async fn whole_word_matches_rank_above_parts_of_words_and_titles_above_bodies(app) {
        let alice = app.user("alice").await;
        app.create_note(&alice, "Substring only", "a redeployed thing").await;
        app.create_note(&alice, "Body mention", "we deploy on fridays").await;
        app.create_note(&alice, "Deploy checklist", "steps").await;

        let found = search(app, &alice, "deploy").await;

        assert_eq!(found, ["Deploy checklist", "Body mention", "Substring only"]);
    }
);

both_backends!(
    async fn search_sees_only_the_callers_notes(app) {
        let alice = app.user("alice").await;
        let bob = app.user("bob").await;
        app.create_note(&alice, "alice deploy", "").await;
        app.create_note(&bob, "bob deploy", "").await;

        assert_eq!(search(app, &alice, "deploy").await, ["alice deploy"]);
        assert_eq!(search(app, &bob, "deploy").await, ["bob deploy"]);
    }
);

both_backends!(
    async fn query_syntax_characters_are_matched_literally(app) {
        let alice = app.user("alice").await;
        app.create_note(&alice, "Discount", "50% off, a_b \"quoted\" c* (x OR y) NEAR(a b) 'it''s'").await;
        app.create_note(&alice, "Plain", "nothing special here 50 ab").await;

        for q in ["50%", "a_b", "\"quoted\"", "c*", "OR", "NEAR(a", "'it''s'", "%", "_", "*", "\"", "(x", "\\"] {
            let reply = app.get(&search_path(q), &alice).await;
            assert_eq!(reply.status, Status::Ok, "{q}: {}", reply.body);
            let found = titles(&reply);
            assert!(!found.contains(&"Plain".to_owned()), "{q} matched literally: {found:?}");
        }
        assert_eq!(search(app, &alice, "50%").await, ["Discount"]);
        assert_eq!(search(app, &alice, "a_b").await, ["Discount"]);
        assert!(search(app, &alice, "\\").await.is_empty());
    }
);

both_backends!(
    async fn search_follows_edits_and_deletes(app) {
        let alice = app.user("alice").await;
        let note = app.create_note(&alice, "Apples", "green").await;
        let path = format!("/api/notes/{}", note["id"]);

        app.patch(&path, &alice, r#"{"title":"Oranges","body":"orange"}"#).await;
        assert!(search(app, &alice, "apples").await.is_empty());
        assert!(search(app, &alice, "green").await.is_empty());
        assert_eq!(search(app, &alice, "oranges").await, ["Oranges"]);

        app.delete(&path, &alice).await;
        assert!(search(app, &alice, "oranges").await.is_empty());
    }
);

both_backends!(
    async fn search_results_page_with_a_cursor_tied_to_the_query(app) {
        let alice = app.user("alice").await;
        for i in 0..5 {
            app.create_note(&alice, &format!("deploy {i}"), "").await;
            app.create_note(&alice, &format!("other {i}"), "").await;
        }

        let first = app.get("/api/notes?q=deploy&limit=2", &alice).await;
        let mut found = titles(&first);
        let mut next = first.header("Link").map(|l| l[1..l.find('>').unwrap()].to_owned());
        while let Some(path) = next {
            assert!(path.contains("q=deploy"), "{path}");
            let reply = app.get(&path, &alice).await;
            found.extend(titles(&reply));
            next = reply.header("Link").map(|l| l[1..l.find('>').unwrap()].to_owned());
        }
        found.sort();
        assert_eq!(found, (0..5).map(|i| format!("deploy {i}")).collect::<Vec<_>>());

        let link = first.header("Link").unwrap();
        let cursor = link.split("cursor=").nth(1).unwrap().split(['&', '>']).next().unwrap();
        app.get(&format!("/api/notes?q=other&cursor={cursor}"), &alice)
            .await
            .assert_error(Status::BadRequest, "bad_request");
        app.get(&format!("/api/notes?cursor={cursor}"), &alice).await.assert_error(Status::BadRequest, "bad_request");
    }
);

both_backends!(
    async fn a_blank_query_lists_everything_and_oversized_queries_are_refused(app) {
        let alice = app.user("alice").await;
        app.create_note(&alice, "one", "").await;
        assert_eq!(search(app, &alice, "   ").await, ["one"]);
        app.get(&search_path(&"x".repeat(201)), &alice).await.assert_error(Status::UnprocessableEntity, "invalid");
        app.get(&search_path("a b c d e f g h i"), &alice).await.assert_error(Status::UnprocessableEntity, "invalid");
    }
);
