//! `mockctl`: the command line. One file per subcommand; this file parses and
//! dispatches.

mod builtin;
mod chaos;
mod cleanup;
mod http;
mod import;
mod init;
mod list;
mod logs;
mod namespace;
mod profiles;
mod remote;
mod requests;
mod smoke;
mod snapshot;
mod start;
pub mod state;
mod stop;
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
    /// Start a server for a profile (a name under ./configs/ or a folder path); in the
    /// background unless --foreground.
    Start(start::StartArgs),
    /// Stop running servers gracefully (SIGTERM; SIGKILL only with --force).
    Stop(stop::StopArgs),
    /// List running servers.
    #[command(visible_alias = "ls", alias = "show", alias = "sh", alias = "l")]
    List(list::ListArgs),
    /// Check that every running server is ready (its backend answers); fails otherwise.
    Status(list::StatusArgs),
    /// Show (and with -f follow) the background servers' logs.
    Logs(logs::LogsArgs),
    /// Search the logs: a pattern, optionally --since "10m ago", --status 5xx, --path /users.
    Search(logs::SearchArgs),
    /// Save, list, restore or delete snapshots of a running server's data.
    Snapshot(snapshot::SnapshotArgs),
    /// Check a profile without starting anything; exits non-zero on problems.
    ValidateConfig(validate_config::ValidateArgs),
    /// List the profiles `start` can run: ./configs/<name>/ folders and the built-in ones.
    Profiles,
    /// Turn an OpenAPI document (3.0, 3.1, Swagger 2.0; YAML or JSON) into a profile:
    /// `mockctl import petstore.yaml` writes configs/petstore/ and IMPORT.md.
    Import(import::ImportArgs),
    /// Create a small working profile to start from: `mockctl init my-api --resource users:name,email`.
    Init(init::InitArgs),
    /// Print a shell completion script, e.g. `mockctl completions bash > ~/.local/share/bash-completion/completions/mockctl`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Create, list or delete a running server's namespaces.
    Namespace(namespace::NamespaceArgs),
    /// Show, freeze, advance or reset a running server's clock (per namespace).
    Clock(namespace::ClockArgs),
    /// List a running server's recorded requests, newest first (filters: --method,
    /// --path, --status 4xx, --since 10m, …).
    Requests(requests::RequestsArgs),
    /// Verify a running server received requests like these; exits 1 with the near
    /// misses when it did not.
    Verify(requests::VerifyArgs),
    /// List the requests no endpoint served, with the closest endpoints and why they missed.
    Unmatched(requests::UnmatchedArgs),
    /// Add, list, delete or clear a running server's fault rules (per namespace).
    Chaos(chaos::ChaosArgs),
    /// Ask each running server for /, /docs/ and /openapi.json; fails if any does not answer 200.
    Test(smoke::TestArgs),
    /// Stop every server and delete the background servers' log files (data is kept).
    #[command(name = "clean-up", visible_alias = "cleanup")]
    CleanUp(cleanup::CleanUpArgs),
    /// Print the version.
    Version,
}

pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Start(args) => start::run(args),
        Command::Stop(args) => stop::run(args),
        Command::List(args) => list::run(args),
        Command::Status(args) => list::status(args),
        Command::Profiles => profiles::run(),
        Command::Init(args) => init::run(args),
        Command::Import(args) => import::run(args),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "mockctl", &mut std::io::stdout());
            Ok(())
        }
        Command::Logs(args) => logs::logs(args),
        Command::Search(args) => logs::search(args),
        Command::Snapshot(args) => snapshot::run(args),
        Command::ValidateConfig(args) => validate_config::run(args),
        Command::Test(args) => smoke::run(args),
        Command::Namespace(args) => namespace::namespace(args),
        Command::Clock(args) => namespace::clock(args),
        Command::CleanUp(args) => cleanup::run(args),
        Command::Requests(args) => requests::requests(args),
        Command::Chaos(args) => chaos::run(args),
        Command::Verify(args) => requests::verify(args),
        Command::Unmatched(args) => requests::unmatched(args),
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
/// The profile to use: the argument, else Mock-and-Roll's `MOCK_CONFIG_FOLDER`, else
/// `CONFIG_FOLDER`.
pub fn profile_or_env(arg: &str) -> anyhow::Result<String> {
    if !arg.is_empty() {
        return Ok(arg.to_owned());
    }
    for var in ["MOCK_CONFIG_FOLDER", "CONFIG_FOLDER"] {
        if let Some(v) = std::env::var(var).ok().filter(|v| !v.is_empty()) {
            return Ok(v);
        }
    }
    anyhow::bail!("name a profile (see `mockctl profiles`), or set CONFIG_FOLDER to its folder")
}

pub fn resolve_profile(arg: &str) -> anyhow::Result<PathBuf> {
    let direct = Path::new(arg);
    let named = Path::new("configs").join(arg);
    let plain_name = !arg.contains(['/', '\\']);
    if named.is_dir() && plain_name {
        return Ok(named);
    }
    if direct.is_dir() || crate::import::is_spec(direct) {
        return Ok(direct.to_owned());
    }
    if plain_name && let Some(dir) = builtin::materialize(arg)? {
        return Ok(dir);
    }
    let known = profiles::known();
    let closest =
        known.iter().min_by_key(|(n, _)| strsim::levenshtein(n, arg)).filter(|(n, _)| strsim::levenshtein(n, arg) <= 3);
    let hint = match closest {
        Some((n, _)) => format!("; did you mean {n:?}?"),
        None => String::new(),
    };
    let list: Vec<&str> = known.iter().map(|(n, _)| n.as_str()).collect();
    anyhow::bail!(
        "no profile {arg:?}: neither {} nor {} is a folder, and no built-in profile has that name{hint} (profiles: {})",
        named.display(),
        direct.display(),
        list.join(", ")
    )
}
