//! `user add|list|passwd|disable|enable`.

use std::process::ExitCode;

use anyhow::Context;
use sea_orm::SqlErr;

use super::{open_db, read_password};
use crate::cli::UserCommand;
use crate::config::Config;
use crate::domain::{Password, PasswordHash, Username};
use crate::store;
use crate::store::users::Account;

pub async fn run(action: UserCommand, config: &Config) -> anyhow::Result<ExitCode> {
    // Read the password before touching the database, so that a prompt is
    // never left waiting while a transaction is open.
    let password = match &action {
        UserCommand::Add { password, .. } | UserCommand::Passwd { password, .. } => {
            Some(read_password(password)?)
        }
        _ => None,
    };
    let db = open_db(config).await?;
    let result = async {
        match action {
            UserCommand::Add { username, admin, .. } => {
                let username = Username::parse(&username)?;
                let hash = hash(password).await?;
                match store::users::create(&db, &username, hash, admin).await {
                    Ok(user) => println!("created user {} (id {})", user.username, user.id),
                    Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                        anyhow::bail!("user {username} already exists")
                    }
                    Err(e) => return Err(e).context("cannot create the user"),
                }
            }
            UserCommand::List => {
                println!("{:>6}  {:<32}  {:<5}  {:<8}  created", "id", "username", "admin", "disabled");
                for user in store::users::list(&db).await? {
                    println!(
                        "{:>6}  {:<32}  {:<5}  {:<8}  {}",
                        user.id,
                        user.username,
                        if user.is_admin { "yes" } else { "no" },
                        if user.disabled { "yes" } else { "no" },
                        user.created_at.date()
                    );
                }
            }
            UserCommand::Passwd { username, .. } => {
                let username = Username::parse(&username)?;
                let hash = hash(password).await?;
                anyhow::ensure!(
                    store::users::set_password(&db, Account::Name(username.clone()), hash, None).await?,
                    "no user {username}"
                );
                println!("password of {username} changed; their browser sessions were ended");
            }
            UserCommand::Disable { username } => {
                let username = Username::parse(&username)?;
                anyhow::ensure!(
                    store::users::set_disabled(&db, Account::Name(username.clone()), true).await?,
                    "no user {username}"
                );
                println!("user {username} disabled; their sessions and tokens no longer work");
            }
            UserCommand::Enable { username } => {
                let username = Username::parse(&username)?;
                anyhow::ensure!(
                    store::users::set_disabled(&db, Account::Name(username.clone()), false).await?,
                    "no user {username}"
                );
                println!("user {username} enabled");
            }
        }
        Ok(ExitCode::SUCCESS)
    }
    .await;
    db.close().await;
    result
}

/// Hashing takes tens of milliseconds of CPU: keep it off the async threads.
async fn hash(password: Option<Password>) -> anyhow::Result<PasswordHash> {
    let password = password.context("internal error: no password was read")?;
    tokio::task::spawn_blocking(move || password.hash())
        .await
        .context("the hashing task failed")?
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}
