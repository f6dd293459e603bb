//! `token create|list|revoke`.

use std::process::ExitCode;

use time::format_description::well_known::Rfc3339;

use crate::cli::TokenCommand;
use crate::config::Config;
use crate::db::Db;
use crate::domain::{TokenName, User, Username};
use crate::store;

pub async fn run(action: TokenCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let db = super::open_db(config).await?;
    let result = async {
        match action {
            TokenCommand::Create { user, name } => {
                let user = find_user(&db, &user).await?;
                let name = TokenName::parse(&name)?;
                let (token, secret) = store::tokens::create(&db, user.id, name).await?;
                eprintln!(
                    "created token {} \"{}\" for {}; it is shown only this once:",
                    token.id, token.name, user.username
                );
                // Alone on standard output, so that scripts can capture it.
                println!("{}", secret.expose());
            }
            TokenCommand::List { user } => {
                let user = find_user(&db, &user).await?;
                println!("{:>6}  {:<24}  {:<20}  last used", "id", "name", "created");
                for token in store::tokens::list(&db, user.id).await? {
                    let last_used = token
                        .last_used_at
                        .and_then(|at| at.replace_nanosecond(0).ok()?.format(&Rfc3339).ok())
                        .unwrap_or_else(|| "never".to_owned());
                    println!(
                        "{:>6}  {:<24}  {:<20}  {last_used}",
                        token.id,
                        token.name,
                        token.created_at.date().to_string()
                    );
                }
            }
            TokenCommand::Revoke { user, id } => {
                let user = find_user(&db, &user).await?;
                anyhow::ensure!(
                    store::tokens::revoke(&db, user.id, id).await?,
                    "{} has no token {id}",
                    user.username
                );
                println!("token {id} of {} revoked", user.username);
            }
        }
        Ok(ExitCode::SUCCESS)
    }
    .await;
    db.close().await;
    result
}

async fn find_user(db: &Db, username: &str) -> anyhow::Result<User> {
    let username = Username::parse(username)?;
    store::users::find(db, &username).await?.ok_or_else(|| anyhow::anyhow!("no user {username}"))
}
