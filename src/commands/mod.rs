//! One module per subcommand. `run` loads the configuration once and
//! dispatches; commands return `anyhow` errors that `main` prints.

mod backup;
mod config;
mod generate;
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
    match &command {
        Command::Completions { shell } => return generate::completions(*shell),
        Command::Manpages { dir } => return generate::manpages(dir),
        _ => {}
    }
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
            Command::Backup { out } => backup::backup(out.as_deref(), &config).await,
            Command::Restore { file } => backup::restore(&file, &config).await,
            Command::Export { out } => backup::export(out.as_deref(), &config).await,
            Command::Import { file } => backup::import(&file, &config).await,
            Command::Config(_) | Command::Completions { .. } | Command::Manpages { .. } => {
                unreachable_config()
            }
        }
    })
}

/// `config`, `completions` and `manpages` return before the runtime starts.
fn unreachable_config() -> anyhow::Result<ExitCode> {
    anyhow::bail!("internal error: this command does not run here")
}

/// Creates the data directory (owner-only) if it does not exist. Refuses
/// to work, as root, in a data directory that belongs to another user (the
/// packaged service's): files root made there would be root's, and the
/// service could not use them.
fn prepare_data_dir(config: &Config) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let dir = &config.data_dir;
    if let Ok(metadata) = std::fs::metadata(dir)
        && metadata.uid() != 0
        && effective_uid() == Some(0)
    {
        let owner = user_name(metadata.uid()).unwrap_or_else(|| metadata.uid().to_string());
        let args: Vec<String> = std::env::args().skip(1).collect();
        anyhow::bail!(
            "the data directory {} belongs to user {owner}, and this runs as root: files it made there \
             would belong to root and the service could not use them. Run it as that user: \
             sudo -u {owner} notes-appliance {}",
            dir.display(),
            args.join(" ")
        );
    }
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    }
    Ok(())
}

/// The process's effective user id (from procfs, without `unsafe`).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The name of a user id, from /etc/passwd.
fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid.to_string()).then(|| name.to_owned())
    })
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
