//! `mockctl logs` and `mockctl search`: the background servers' JSON log lines,
//! rendered for people.

use super::state;
use anyhow::Context;
use clap::Args;
use serde_json::Value;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Profile name; all profiles' logs when absent.
    pub profile: Option<String>,
    /// Keep printing new lines as they come (Ctrl-C to stop).
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// How many lines to show first.
    #[arg(short = 'n', long, default_value_t = 50)]
    pub lines: usize,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Text to find (any case) anywhere in a log line.
    pub pattern: String,
    #[arg(long)]
    pub profile: Option<String>,
    /// Only lines newer than this, e.g. "10m ago", "2h", "1d".
    #[arg(long)]
    pub since: Option<String>,
    /// Only requests with this status: 404, or a class such as 5xx.
    #[arg(long)]
    pub status: Option<String>,
    /// Only requests whose path starts with this.
    #[arg(long)]
    pub path: Option<String>,
    /// Print the matching JSON lines as they are.
    #[arg(long)]
    pub json: bool,
}

fn files(profile: Option<&str>) -> anyhow::Result<Vec<PathBuf>> {
    if let Some(p) = profile {
        let path = state::log_path(p);
        anyhow::ensure!(path.exists(), "no log for profile {p:?} at {}", path.display());
        return Ok(vec![path]);
    }
    let dir = state::dir().join("logs");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("no logs yet in {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    out.sort();
    Ok(out)
}

/// `time level message` (with the request id when there is one).
fn render(line: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(line) else { return line.to_owned() };
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
    let id = v.get("request_id").and_then(Value::as_str).map(|id| format!("  [{id}]")).unwrap_or_default();
    format!("{} {:>5} {}{id}", text("timestamp"), text("level"), text("message"))
}

pub fn logs(args: LogsArgs) -> anyhow::Result<()> {
    let files = files(args.profile.as_deref())?;
    let mut offsets = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).with_context(|| format!("Failed to read {}", f.display()))?;
        let lines: Vec<&str> = text.lines().collect();
        for l in &lines[lines.len().saturating_sub(args.lines)..] {
            println!("{}", render(l));
        }
        offsets.push(text.len() as u64);
    }
    if !args.follow {
        return Ok(());
    }
    loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        for (f, offset) in files.iter().zip(offsets.iter_mut()) {
            let mut file = std::fs::File::open(f)?;
            file.seek(SeekFrom::Start(*offset))?;
            let mut fresh = String::new();
            *offset += file.read_to_string(&mut fresh)? as u64;
            for l in fresh.lines() {
                println!("{}", render(l));
            }
        }
    }
}

pub fn search(args: SearchArgs) -> anyhow::Result<()> {
    let since = match &args.since {
        None => None,
        Some(s) => {
            let d = humantime::parse_duration(s.trim().trim_end_matches("ago").trim())
                .with_context(|| format!("--since {s:?}: expected a duration such as \"10m ago\""))?;
            Some(chrono::Utc::now() - chrono::Duration::from_std(d)?)
        }
    };
    let needle = args.pattern.to_lowercase();
    let mut found = 0;
    for f in files(args.profile.as_deref())? {
        let text = std::fs::read_to_string(&f).with_context(|| format!("Failed to read {}", f.display()))?;
        for line in text.lines().filter(|l| l.to_lowercase().contains(&needle)) {
            let v: Value = serde_json::from_str(line).unwrap_or(Value::Null);
            let when =
                v.get("timestamp").and_then(Value::as_str).and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
            if since.is_some_and(|s| when.is_none_or(|w| w < s)) {
                continue;
            }
            if let Some(want) = &args.status {
                let Some(status) = v.get("status").and_then(Value::as_u64) else { continue };
                let ok = match want.strip_suffix("xx") {
                    Some(class) => class.parse::<u64>().is_ok_and(|c| status / 100 == c),
                    None => want.parse::<u64>().is_ok_and(|s| s == status),
                };
                if !ok {
                    continue;
                }
            }
            if let Some(prefix) = &args.path
                && !v.get("path").and_then(Value::as_str).is_some_and(|p| p.starts_with(prefix.as_str()))
            {
                continue;
            }
            found += 1;
            println!("{}", if args.json { line.to_owned() } else { render(line) });
        }
    }
    if found == 0 {
        anyhow::bail!("no log line matches");
    }
    Ok(())
}
