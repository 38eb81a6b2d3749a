//! `mockctl clean-up`: stops every recorded server and deletes the background
//! servers' log files, as Mock-and-Roll's `clean-up` does. Data folders and
//! snapshots are kept: they are data, not clutter.

use super::state;
use clap::Args;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mockctl clean-up
  mockctl cleanup --force")]
pub struct CleanUpArgs {
    /// Kill (SIGKILL) a server that has not stopped 10 s after SIGTERM.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: CleanUpArgs) -> anyhow::Result<()> {
    let stop = super::stop::StopArgs { profile: None, all: true, port: None, config: None, force: args.force };
    super::stop::run(stop)?;
    let logs = state::dir().join("logs");
    let mut removed = 0;
    for entry in std::fs::read_dir(&logs).into_iter().flatten().flatten() {
        let path = entry.path();
        let is_log =
            path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".log") || n.contains(".log."));
        if is_log && std::fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    println!("removed {removed} log file(s) from {}", logs.display());
    Ok(())
}
