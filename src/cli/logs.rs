//! `mockctl logs` and `mockctl search`: the background servers' JSON log lines,
//! rendered for people.

use super::state;
use crate::telemetry::RotatingFile;
use anyhow::Context;
use clap::Args;
use serde_json::Value;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mockctl logs persistence -f
  mockctl logs -n 200")]
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
#[command(after_help = "Examples:
  mockctl search persistence \"POST /api/v1/orders\" --status 4xx --since \"1h ago\"
  mockctl search \"store commit\" --profile persistence --json")]
pub struct SearchArgs {
    /// `PATTERN`, or `PROFILE PATTERN` (Mock-and-Roll's order): text to find, any
    /// case, anywhere in a log line.
    #[arg(num_args = 1..=2, required = true, value_names = ["PROFILE", "PATTERN"])]
    pub terms: Vec<String>,
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

/// The log files of a profile (or of all): the state folder's, plus any `logging.file`
/// a recorded server writes to. With `rotated`, each file's rotated predecessors come
/// first, oldest first.
fn files(profile: Option<&str>, rotated: bool) -> anyhow::Result<Vec<PathBuf>> {
    let dir = state::dir().join("logs");
    let mut current: Vec<PathBuf> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .filter(|p| profile.is_none_or(|name| p.file_stem().is_some_and(|s| s == name)))
        .collect();
    for (record, _) in state::all() {
        if profile.is_none_or(|name| record.profile == name)
            && let Some(log) = record.log
        {
            current.push(PathBuf::from(log));
        }
    }
    // The same file may be named relatively (state folder) and absolutely (a record).
    let mut current: Vec<PathBuf> = current.into_iter().filter_map(|p| p.canonicalize().ok()).collect();
    current.sort();
    current.dedup();
    if current.is_empty() {
        match profile {
            Some(p) => anyhow::bail!("no log for profile {p:?} (looked in {})", dir.display()),
            None => anyhow::bail!("no logs yet in {}", dir.display()),
        }
    }
    if !rotated {
        return Ok(current);
    }
    let mut out = Vec::new();
    for file in current {
        let older: Vec<PathBuf> = (1..).map(|n| RotatingFile::rotated(&file, n)).take_while(|p| p.exists()).collect();
        out.extend(older.into_iter().rev());
        out.push(file);
    }
    Ok(out)
}

/// A log line as a person reads it on the terminal: the message of a JSON line (with
/// its level when it is not plain info), other lines as they are.
pub fn message(line: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(line) else { return line.to_owned() };
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
    match text("level") {
        "INFO" | "" => text("message").to_owned(),
        level => format!("{}: {}", level.to_ascii_lowercase(), text("message")),
    }
}

/// `time level message` (with the request id when there is one).
fn render(line: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(line) else { return line.to_owned() };
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
    // An access line carries the id itself; a line logged while a request was handled
    // (a store operation) carries it in its `request` span.
    let id = v
        .get("request_id")
        .or_else(|| v.pointer("/span/request_id"))
        .and_then(Value::as_str)
        .map(|id| format!("  [{id}]"))
        .unwrap_or_default();
    // Instances of one profile share its log file; the port tells them apart.
    let port = v.get("port").and_then(Value::as_u64).map(|p| format!("  (port {p})")).unwrap_or_default();
    format!("{} {:>5} {}{id}{port}", text("timestamp"), text("level"), text("message"))
}

pub fn logs(args: LogsArgs) -> anyhow::Result<()> {
    let files = files(args.profile.as_deref(), false)?;
    let mut offsets = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).with_context(|| format!("Failed to read {}", f.display()))?;
        if files.len() > 1 {
            println!("==> {} <==", f.display());
        }
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
            if file.metadata()?.len() < *offset {
                // Rotated: the file started over.
                *offset = 0;
            }
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
    let (profile, pattern) = match args.terms.as_slice() {
        [profile, pattern] => (Some(profile.as_str()), pattern),
        [pattern] => (args.profile.as_deref(), pattern),
        _ => anyhow::bail!("expected PATTERN or PROFILE PATTERN"),
    };
    let needle = pattern.to_lowercase();
    let mut found = 0;
    for f in files(profile, true)? {
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
