//! `mockctl list` and `mockctl status`: the servers recorded in the state folder, stale ones removed.

use super::state;
use clap::Args;

#[derive(Debug, Args)]
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

/// Like `list`, plus whether each server answers HTTP (any status counts as up).
pub fn status(args: ListArgs) -> anyhow::Result<()> {
    let servers: Vec<_> = state::all().into_iter().filter(|(_, alive)| *alive).map(|(r, _)| r).collect();
    let mut rows = Vec::new();
    for r in servers {
        let answer = probe(&r.url, r.port);
        rows.push((r, answer));
    }
    if args.json {
        let out: Vec<serde_json::Value> = rows
            .iter()
            .map(|(r, a)| {
                let mut v = serde_json::to_value(r).expect("a record serialises");
                v["answers"] = serde_json::json!(a.is_some());
                v["http_status"] = serde_json::json!(a);
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if rows.is_empty() {
        println!("no servers running");
    } else {
        for (r, a) in &rows {
            let state = a.map_or("NOT ANSWERING".to_owned(), |s| format!("answering (GET /system/health: {s})"));
            println!("{} on port {} (pid {}): {state}", r.profile, r.port, r.pid);
        }
    }
    if rows.iter().any(|(_, a)| a.is_none()) {
        anyhow::bail!("some servers do not answer");
    }
    Ok(())
}

/// The HTTP status of `GET /system/health`, if anything answers.
fn probe(url: &str, port: u16) -> Option<u16> {
    let addr = super::http::address(url, port);
    super::http::request(&addr, "GET", "/system/health", &[], None, std::time::Duration::from_secs(2))
        .ok()
        .map(|(status, _)| status)
}
