//! `config check` and `config show`. A configuration that does not load
//! never reaches here: `main` reports it and exits 78.

use std::process::ExitCode;

use crate::cli::ConfigCommand;
use crate::config::Config;

pub fn run(action: &ConfigCommand, config: &Config) -> ExitCode {
    match action {
        ConfigCommand::Check => match &config.source_file {
            Some(file) => println!("configuration is valid ({} and the environment)", file.display()),
            None => println!("configuration is valid (built-in defaults and the environment)"),
        },
        ConfigCommand::Show => print!("{}", config.to_redacted_toml()),
    }
    ExitCode::SUCCESS
}
