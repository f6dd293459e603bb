//! `migrate up` and `migrate status`.

use std::process::ExitCode;

use crate::cli::MigrateCommand;
use crate::config::Config;
use crate::db::{self, Db};

pub async fn run(action: &MigrateCommand, config: &Config) -> anyhow::Result<ExitCode> {
    super::prepare_data_dir(config)?;
    let db = Db::connect(&config.database).await?;
    match action {
        MigrateCommand::Up => {
            let applied = db::migrate(&db).await?;
            if applied.is_empty() {
                println!("the database is up to date");
            }
            for name in applied {
                println!("applied {name}");
            }
        }
        MigrateCommand::Status => {
            for state in db::migration_states(&db).await? {
                println!("{:<8} {}", if state.applied { "applied" } else { "pending" }, state.name);
            }
        }
    }
    db.close().await;
    Ok(ExitCode::SUCCESS)
}
