//! One module per subcommand. `run` loads the configuration once and
//! dispatches; commands return `anyhow` errors that `main` prints.

mod config;
mod healthcheck;
mod migrate;
mod seed;
mod serve;
mod token;
mod user;

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{Cli, Command, PasswordSource};
use crate::config::Config;
use crate::db::{self, Db};
use crate::domain::Password;
use crate::telemetry;

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = cli.command.unwrap_or(Command::Serve);
    let (config, figment) = Config::load(cli.config.as_deref())?;
    if let Command::Config(action) = command {
        return Ok(config::run(&action, &config));
    }
    telemetry::init(&config.log);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match command {
            Command::Serve => serve::run(config, figment).await,
            Command::Migrate(action) => migrate::run(&action, &config).await,
            Command::Healthcheck { url } => healthcheck::run(url.as_deref(), &config).await,
            Command::User(action) => user::run(action, &config).await,
            Command::Token(action) => token::run(action, &config).await,
            Command::Seed { count, user } => seed::run(count, &user, &config).await,
            Command::Config(_) => unreachable_config(),
        }
    })
}

/// `config` commands return before the runtime starts.
fn unreachable_config() -> anyhow::Result<ExitCode> {
    anyhow::bail!("internal error: config commands do not run here")
}

/// Creates the data directory (owner-only) if it does not exist.
fn prepare_data_dir(config: &Config) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = &config.data_dir;
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    }
    Ok(())
}

/// Connects and applies pending migrations: every command that reads or
/// writes data works on a fresh installation, before `serve` ever ran.
async fn open_db(config: &Config) -> anyhow::Result<Db> {
    prepare_data_dir(config)?;
    let db = Db::connect(&config.database).await?;
    for name in db::migrate(&db).await? {
        tracing::info!(migration = %name, "migration applied");
    }
    Ok(db)
}

/// Reads a password from `--password-file` (first line; `-` is standard
/// input) or asks for it twice on the terminal. Never from the command
/// line, where other users could see it.
fn read_password(source: &PasswordSource) -> anyhow::Result<Password> {
    let raw = match &source.password_file {
        Some(path) if path == Path::new("-") => {
            first_line(std::io::stdin().lock()).context("reading standard input")?
        }
        Some(path) => {
            let file =
                std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
            first_line(std::io::BufReader::new(file))
                .with_context(|| format!("cannot read {}", path.display()))?
        }
        None => {
            let no_terminal = "cannot ask for a password without a terminal; use --password-file FILE";
            let first = rpassword::prompt_password("Password: ").context(no_terminal)?;
            let second = rpassword::prompt_password("Password (again): ").context(no_terminal)?;
            anyhow::ensure!(first == second, "the passwords do not match");
            first
        }
    };
    Ok(Password::parse(raw)?)
}

fn first_line(mut reader: impl BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let trimmed = line.strip_suffix('\n').unwrap_or(&line);
    Ok(trimmed.strip_suffix('\r').unwrap_or(trimmed).to_owned())
}
