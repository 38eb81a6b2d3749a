//! The `mockctl` binary: parses the command line and hands it to `mockgate::cli`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = mockgate::cli::Cli::parse();
    mockgate::cli::run(cli)
}
