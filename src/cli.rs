//! The command line, as clap definitions only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "notes-appliance", version, about = "A self-hosted notes service in one binary")]
pub struct Cli {
    /// Configuration file [default: $ROCKET_CONFIG, else ./Rocket.toml if it exists]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default when no command is given)
    Serve,
    /// Apply or list database migrations (serve applies them on boot)
    #[command(subcommand)]
    Migrate(MigrateCommand),
    /// Validate the configuration, or print it with secrets redacted
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Exit 0 when the running server's /readyz answers 200
    Healthcheck {
        /// The server's base URL or readiness URL [default: from the configuration]
        url: Option<String>,
    },
    /// Manage accounts
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens for scripts
    #[command(subcommand)]
    Token(TokenCommand),
    /// Create sample notes (for development and benchmarks)
    Seed {
        /// How many notes
        #[arg(long, value_name = "N")]
        count: u32,
        /// Whose notes they are
        #[arg(long, value_name = "USERNAME")]
        user: String,
    },
    /// Write a checked backup while the server keeps serving (SQLite: a copy
    /// of the database; PostgreSQL: a portable export)
    Backup {
        /// Where to write it [default: the backup directory]
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Replace the database's content with a backup or an export, after
    /// checking it; the replaced content is backed up first
    Restore {
        /// A file written by `backup` or `export`
        file: PathBuf,
    },
    /// Write every account, token and note in the portable format (JSON
    /// Lines), for another installation on either database
    Export {
        /// Where to write it [default: standard output]
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Load an export (or a backup) into a new installation that has no
    /// accounts yet
    Import {
        /// A file written by `export` or `backup`
        file: PathBuf,
    },
    /// Print a completion script for a shell (bash, zsh, fish, ...)
    Completions { shell: clap_complete::Shell },
    /// Write the manual pages (roff) into a directory
    #[command(hide = true)]
    Manpages { dir: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Apply pending migrations
    Up,
    /// List migrations and whether each is applied
    Status,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration: exit 0, or 78 with the problem
    Check,
    /// Print the effective configuration, secrets redacted
    Show,
}

#[derive(Debug, Args)]
pub struct PasswordSource {
    /// Read the password from the first line of FILE (`-` for standard
    /// input) instead of asking for it
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account
    Add {
        username: String,
        /// Make the account an administrator
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// List accounts
    List,
    /// Set an account's password
    Passwd {
        username: String,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Disable an account: it can no longer log in or use its tokens
    Disable { username: String },
    /// Enable a disabled account again
    Enable { username: String },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (it is shown only once)
    Create {
        #[arg(long, value_name = "USERNAME")]
        user: String,
        /// A label to tell tokens apart
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List a user's tokens (never the secrets)
    List {
        #[arg(long, value_name = "USERNAME")]
        user: String,
    },
    /// Revoke a token: requests with it fail from now on
    Revoke {
        #[arg(long, value_name = "USERNAME")]
        user: String,
        /// The token's id, as `token list` shows it
        id: i64,
    },
}
