use std::collections::HashSet;

use rocket::http::Status;
use serde_json::Value;

use crate::helpers::*;

/// The path of the `rel="next"` link, if any.
fn next_link(reply: &Reply) -> Option<String> {
    let link = reply.header("Link")?;
    assert!(link.ends_with(">; rel=\"next\""), "{link}");
    Some(link.trim_start_matches('<').split('>').next().unwrap().to_owned())
}

fn ids(reply: &Reply) -> Vec<i64> {
    reply.json().as_array().unwrap().iter().map(|n| n["id"].as_i64().unwrap()).collect()
}

both_backends!(
    async fn the_list_is_a_json_array_newest_first(app) {
        let alice = app.user("alice").await;
        let mut created = Vec::new();
        for i in 0..5 {
            created.push(app.create_note(&alice, &format!("note {i}"), "").await["id"].as_i64().unwrap());
        }

        let reply = app.get("/api/notes", &alice).await;

        assert_eq!(reply.status, Status::Ok);
        assert_eq!(reply.header("Content-Type"), Some("application/json"));
        assert!(reply.header("Link").is_none(), "no next page");
        created.reverse();
        assert_eq!(ids(&reply), created);
        let first = &reply.json()[0];
        for field in ["id", "title", "body", "created_at", "updated_at"] {
            assert!(first.get(field).is_some(), "{field} in {first}");
        }
    }
);

both_backends!(
    async fn an_empty_list_is_an_empty_array(app) {
        let alice = app.user("alice").await;
        let reply = app.get("/api/notes", &alice).await;
        assert_eq!((reply.status, reply.body.as_str()), (Status::Ok, "[]"));
    }
);

both_backends!(
    async fn pages_follow_the_link_header_without_gaps_or_repeats(app) {
        let alice = app.user("alice").await;
        let bob = app.user("bob").await;
        for i in 0..7 {
            app.create_note(&alice, &format!("alice {i}"), "").await;
            app.create_note(&bob, &format!("bob {i}"), "").await;
        }

        let mut seen = Vec::new();
        let mut path = Some("/api/notes?limit=3".to_owned());
        let mut pages = 0;
        while let Some(next) = path {
            let reply = app.get(&next, &alice).await;
            assert_eq!(reply.status, Status::Ok, "{next}: {}", reply.body);
            let page = ids(&reply);
            assert!(page.len() <= 3);
            seen.extend(page);
            path = next_link(&reply);
            pages += 1;
        }

        assert_eq!(pages, 3);
        assert_eq!(seen.len(), 7);
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 7, "no repeats");
        let mut sorted = seen.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(seen, sorted, "newest first across pages");
        let titles: Vec<String> = app.query_strings(&format!("SELECT title FROM notes WHERE owner_id = {}", alice.id)).await;
        assert_eq!(titles.len(), 7);
    }
);

both_backends!(
    async fn the_default_page_is_50_and_the_limit_goes_up_to_200(app) {
        let alice = app.user("alice").await;
        let notes = (0..210).map(|i| notes_appliance::domain::NewNote {
            title: notes_appliance::domain::NoteTitle::parse(&format!("n{i}")).unwrap(),
            body: Default::default(),
        });
        notes_appliance::store::notes::create_many(&app.db, alice.id, notes.collect()).await.unwrap();

        let default = app.get("/api/notes", &alice).await;
        assert_eq!(ids(&default).len(), 50);
        assert!(next_link(&default).unwrap().contains("limit=50"));
        let most = app.get("/api/notes?limit=200", &alice).await;
        assert_eq!(ids(&most).len(), 200);
        let rest = app.get(&next_link(&most).unwrap(), &alice).await;
        assert_eq!(ids(&rest).len(), 10);
        assert!(next_link(&rest).is_none());
    }
);

both_backends!(
    async fn a_deleted_note_does_not_break_a_cursor(app) {
        let alice = app.user("alice").await;
        let mut created: Vec<Value> = Vec::new();
        for i in 0..4 {
            created.push(app.create_note(&alice, &format!("n{i}"), "").await);
        }
        let first = app.get("/api/notes?limit=2", &alice).await;
        let next = next_link(&first).unwrap();
        // The last note of the first page goes away before the next page is read.
        app.delete(&format!("/api/notes/{}", created[2]["id"]), &alice).await;

        let second = app.get(&next, &alice).await;

        assert_eq!(ids(&second), [created[1]["id"].as_i64().unwrap(), created[0]["id"].as_i64().unwrap()]);
    }
);
