//! `seed --count N --user NAME`: sample notes of about 200 bytes each.

use std::process::ExitCode;

use crate::config::Config;
use crate::domain::{NewNote, NoteBody, NoteTitle, Username};
use crate::store;

const TOPICS: &[&str] =
    &["deployment", "groceries", "meeting", "backup", "배포 일정", "reading list", "garden"];

pub async fn run(count: u32, username: &str, config: &Config) -> anyhow::Result<ExitCode> {
    let db = super::open_db(config).await?;
    let result = async {
        let username = Username::parse(username)?;
        let user =
            store::users::find(&db, &username).await?.ok_or_else(|| anyhow::anyhow!("no user {username}"))?;
        let notes: Vec<NewNote> = (0..count)
            .map(|i| {
                let topic = TOPICS[i as usize % TOPICS.len()];
                let title = NoteTitle::parse(&format!("Sample note {i}: {topic}"))?;
                let body = NoteBody::parse(format!(
                    "Notes about {topic}, number {i}. Check the plan, write down what changed, \
                     and keep the list short enough to read on a phone. Next review in {} days.",
                    i % 30 + 1
                ))?;
                Ok(NewNote { title, body })
            })
            .collect::<anyhow::Result<_>>()?;
        let created = store::notes::create_many(&db, user.id, notes).await?;
        println!("created {created} notes for {username}");
        Ok(ExitCode::SUCCESS)
    }
    .await;
    db.close().await;
    result
}
