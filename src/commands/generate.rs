//! `completions SHELL` and `manpages DIR`: made from the clap definitions,
//! so that they always match the binary (the package ships both).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::Cli;

pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "notes-appliance", &mut script);
    std::io::stdout().write_all(&script).context("cannot write the completion script")?;
    Ok(ExitCode::SUCCESS)
}

/// Writes `notes-appliance.1` and one page per command
/// (`notes-appliance-user-add.1`, ...) into `dir`.
pub fn manpages(dir: &Path) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    clap_mangen::generate_to(Cli::command(), dir)
        .with_context(|| format!("cannot write the manual pages into {}", dir.display()))?;
    Ok(ExitCode::SUCCESS)
}
