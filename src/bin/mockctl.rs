use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = mockgate::cli::Cli::parse();
    mockgate::cli::run(cli)
}
