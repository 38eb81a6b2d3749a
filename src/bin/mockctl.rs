//! The `mockctl` binary: parses the command line and hands it to `mockgate::cli`.

use clap::Parser;

/// Requests allocate and free small values on every worker thread; mimalloc does that
/// with thread-local free lists where the system allocator contends and consolidates.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = mockgate::cli::Cli::parse();
    mockgate::cli::run(cli)
}
