//! `mockctl test [profile]`: asks each running server (of one profile, or all) for
//! `/`, `/docs/` and `/openapi.json`, as Mock-and-Roll's `test` does, and fails when
//! any does not answer 200.

use super::state;
use clap::Args;
use serde_json::json;
use std::time::Duration;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mockctl test
  mockctl test persistence --json")]
pub struct TestArgs {
    /// Only the servers of this profile.
    pub profile: Option<String>,
    /// Print `[{"profile", "port", "url", "checks": [{"path", "status", "ok"}], "ok"}]`.
    #[arg(long)]
    pub json: bool,
}

const PATHS: [&str; 3] = ["/", "/docs/", "/openapi.json"];

pub fn run(args: TestArgs) -> anyhow::Result<()> {
    let servers: Vec<_> = state::all()
        .into_iter()
        .filter(|(r, alive)| *alive && args.profile.as_deref().is_none_or(|p| p == r.profile))
        .map(|(r, _)| r)
        .collect();
    if servers.is_empty() {
        anyhow::bail!(
            "no running server{} to test (see `mockctl list`)",
            match &args.profile {
                Some(p) => format!(" of profile {p}"),
                None => String::new(),
            }
        );
    }
    let mut report = Vec::new();
    let mut failed = 0;
    for r in &servers {
        let addr = super::http::address(&r.url, r.port);
        let checks: Vec<_> = PATHS
            .iter()
            .map(|path| {
                let status =
                    super::http::request(&addr, "GET", path, &[], None, Duration::from_secs(5)).ok().map(|(s, _)| s);
                json!({"path": path, "status": status, "ok": status == Some(200)})
            })
            .collect();
        let ok = checks.iter().all(|c| c["ok"] == true);
        failed += usize::from(!ok);
        if !args.json {
            println!("{} on port {} ({}): {}", r.profile, r.port, r.url, if ok { "ok" } else { "FAILED" });
            for c in &checks {
                let status = c["status"].as_u64().map_or("no answer".to_owned(), |s| s.to_string());
                println!("  GET {:<14} {status}", c["path"].as_str().unwrap_or(""));
            }
        }
        report.push(json!({"profile": r.profile, "port": r.port, "url": r.url, "checks": checks, "ok": ok}));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} server(s) failed", servers.len());
    }
    Ok(())
}
