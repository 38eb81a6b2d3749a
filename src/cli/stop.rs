//! `mockctl stop`: graceful SIGTERM (or `--force`) to the servers named by port, profile or `--all`.

use super::state::{self, ServerRecord};
use clap::Args;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mockctl stop --port 8000
  mockctl stop --all")]
pub struct StopArgs {
    /// Stop the servers of this profile (name).
    pub profile: Option<String>,
    /// Stop every server.
    #[arg(long)]
    pub all: bool,
    /// Stop the server on this port.
    #[arg(long)]
    pub port: Option<u16>,
    /// Same as the positional profile name.
    #[arg(long)]
    pub config: Option<String>,
    /// Kill (SIGKILL) a server that has not stopped 10 s after SIGTERM.
    #[arg(long)]
    pub force: bool,
}

/// SIGTERM, wait for a graceful stop (data flushed), SIGKILL only with `--force`.
pub fn run(args: StopArgs) -> anyhow::Result<()> {
    let profile = args.profile.or(args.config);
    if !args.all && args.port.is_none() && profile.is_none() {
        anyhow::bail!("say which servers to stop: a profile name, --port PORT or --all");
    }
    let chosen: Vec<ServerRecord> = state::all()
        .into_iter()
        .map(|(r, _)| r)
        .filter(|r| args.all || Some(r.port) == args.port || profile.as_deref() == Some(r.profile.as_str()))
        .collect();
    if chosen.is_empty() && args.all {
        // Nothing to do is not a failure: scripts run `stop --all` to clean up.
        println!("no servers running; nothing to stop");
        return Ok(());
    }
    if chosen.is_empty() {
        anyhow::bail!("no matching server is running (see `mockctl list`)");
    }
    let mut failed = 0;
    for r in chosen {
        match stop_one(&r, args.force) {
            Ok(how) => println!("stopped {} on port {} (pid {}){how}", r.profile, r.port, r.pid),
            Err(e) => {
                eprintln!("error: {} on port {} (pid {}): {e:#}", r.profile, r.port, r.pid);
                failed += 1;
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} server(s) did not stop");
    }
    Ok(())
}

#[cfg(not(unix))]
fn stop_one(_: &ServerRecord, _: bool) -> anyhow::Result<&'static str> {
    anyhow::bail!(
        "stopping a background server needs Linux or macOS; on Windows use WSL or Docker, or stop it with Ctrl-C in the foreground"
    )
}

#[cfg(unix)]
fn stop_one(r: &ServerRecord, force: bool) -> anyhow::Result<&'static str> {
    use nix::sys::signal::{Signal, kill};
    let pid = nix::unistd::Pid::from_raw(i32::try_from(r.pid)?);
    if !state::alive(r.pid) {
        state::remove(r.port, r.pid);
        return Ok(" (it had already exited; stale entry removed)");
    }
    kill(pid, Signal::SIGTERM)?;
    if wait_gone(r.pid, Duration::from_secs(10)) {
        state::remove(r.port, r.pid);
        return Ok("");
    }
    if !force {
        anyhow::bail!("still running 10 s after SIGTERM; use --force to kill it");
    }
    kill(pid, Signal::SIGKILL)?;
    wait_gone(r.pid, Duration::from_secs(5));
    state::remove(r.port, r.pid);
    Ok(", killed")
}

fn wait_gone(pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while state::alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}
