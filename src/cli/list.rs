//! `mockctl list` and `mockctl status`: the servers recorded in the state folder, stale ones removed.

use super::state;
use clap::Args;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mockctl list
  mockctl list --json | jq '.[].url'")]
pub struct ListArgs {
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

/// Running servers; entries whose process is gone are shown once as stale and removed.
pub fn run(args: ListArgs) -> anyhow::Result<()> {
    let servers = state::all();
    for (r, alive) in &servers {
        if !alive {
            state::remove(r.port, r.pid);
        }
    }
    if args.json {
        let out: Vec<serde_json::Value> = servers
            .iter()
            .map(|(r, alive)| {
                let mut v = serde_json::to_value(r).expect("a record serialises");
                v["status"] = serde_json::json!(if *alive { "running" } else { "stale" });
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if servers.is_empty() {
        println!("no servers running");
        return Ok(());
    }
    println!("{:<7} {:<8} {:<8} {:<16} {:<8} URL", "PORT", "PID", "STATUS", "PROFILE", "BACKEND");
    for (r, alive) in servers {
        let status = if alive { "running" } else { "stale" };
        println!("{:<7} {:<8} {:<8} {:<16} {:<8} {}", r.port, r.pid, status, r.profile, r.backend, r.url);
    }
    Ok(())
}

/// `mockctl status`: whether each recorded server is ready (its `/readyz`: the
/// process answers and its backend does). Fails when none runs or any is not ready.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mockctl status
  mockctl status --quiet && echo ready")]
pub struct StatusArgs {
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
    /// Print nothing; the exit status says it all (0: every server ready).
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn status(args: StatusArgs) -> anyhow::Result<()> {
    let servers: Vec<_> = state::all().into_iter().filter(|(_, alive)| *alive).map(|(r, _)| r).collect();
    let rows: Vec<_> = servers
        .into_iter()
        .map(|r| {
            let answer = probe(&r.url, r.port);
            (r, answer)
        })
        .collect();
    let ready = |a: &Option<u16>| *a == Some(200);
    if args.json {
        let out: Vec<serde_json::Value> = rows
            .iter()
            .map(|(r, a)| {
                let mut v = serde_json::to_value(r).expect("a record serialises");
                v["answers"] = serde_json::json!(a.is_some());
                v["ready"] = serde_json::json!(ready(a));
                v["http_status"] = serde_json::json!(a);
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if !args.quiet {
        for (r, a) in &rows {
            let state = match a {
                Some(200) => "ready".to_owned(),
                Some(s) => format!("NOT READY (GET /readyz: {s}; see GET /system/health)"),
                None => "NOT ANSWERING".to_owned(),
            };
            println!("{} on port {} (pid {}): {state}", r.profile, r.port, r.pid);
        }
    }
    if rows.is_empty() {
        if args.quiet {
            std::process::exit(1);
        }
        anyhow::bail!("no servers running");
    }
    if rows.iter().any(|(_, a)| !ready(a)) {
        if args.quiet {
            std::process::exit(1);
        }
        anyhow::bail!("some servers are not ready");
    }
    Ok(())
}

/// The HTTP status of `GET /readyz`, if anything answers.
fn probe(url: &str, port: u16) -> Option<u16> {
    let addr = super::http::address(url, port);
    super::http::request(&addr, "GET", "/readyz", &[], None, std::time::Duration::from_secs(2))
        .ok()
        .map(|(status, _)| status)
}
