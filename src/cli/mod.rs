//! `mockctl`: the command line. One file per subcommand; this file parses and
//! dispatches.

mod start;
mod validate_config;

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "mockctl", version, about = "Run and manage mockgate mock API servers")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a server for a profile (a name under ./configs/ or a folder path).
    Start(start::StartArgs),
    /// Check a profile without starting anything; exits non-zero on problems.
    ValidateConfig(validate_config::ValidateArgs),
    /// Print the version.
    Version,
}

pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Start(args) => start::run(args),
        Command::ValidateConfig(args) => validate_config::run(args),
        Command::Version => {
            println!("mockctl {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A profile argument: an existing folder, or a name under `./configs/`.
pub fn resolve_profile(arg: &str) -> anyhow::Result<PathBuf> {
    let direct = Path::new(arg);
    let named = Path::new("configs").join(arg);
    if named.is_dir() && !arg.contains(['/', '\\']) {
        return Ok(named);
    }
    if direct.is_dir() {
        return Ok(direct.to_owned());
    }
    anyhow::bail!("no profile {arg:?}: neither {} nor {} is a folder", named.display(), direct.display())
}
