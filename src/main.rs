//! The `notes-appliance` binary: parse the command line, run the command,
//! map the outcome to an exit code (0 ok, 1 failure, 2 usage, 78 bad
//! configuration).

use std::process::ExitCode;

use clap::Parser;
use notes_appliance::cli::Cli;
use notes_appliance::commands;
use notes_appliance::config::ConfigError;

/// EX_CONFIG from sysexits.h: systemd's `RestartPreventExitStatus=78`
/// stops restarting a service whose configuration is wrong.
const EX_CONFIG: u8 = 78;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = commands::run(cli);
    notes_appliance::telemetry::flush();
    match outcome {
        Ok(code) => code,
        Err(error) if error.downcast_ref::<ConfigError>().is_some() => {
            eprintln!("notes-appliance: configuration error: {error:#}");
            ExitCode::from(EX_CONFIG)
        }
        Err(error) => {
            eprintln!("notes-appliance: {error:#}");
            ExitCode::FAILURE
        }
    }
}
