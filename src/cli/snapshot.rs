//! `mockctl snapshot create|list|restore|delete`: a running server's snapshots,
//! through its `/system/snapshots` API (so they work the same on every backend, and
//! on Redis every instance sees them).

use super::state::{self, ServerRecord};
use crate::profile::Profile;
use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::time::Duration;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mockctl snapshot create before-test --port 8000
  mockctl snapshot restore before-test --port 8000")]
pub struct SnapshotArgs {
    #[command(subcommand)]
    pub action: SnapshotAction,
    /// The server on this port (default: the only running server).
    #[arg(long, global = true)]
    pub port: Option<u16>,
    /// The running server of this profile.
    #[arg(long, global = true)]
    pub config: Option<String>,
    /// The system key (default: MOCKGATE_SYSTEM_KEY, else the profile's own key).
    #[arg(long, global = true)]
    pub key: Option<String>,
    /// Print the server's JSON answer.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotAction {
    /// Save all of the server's data under a name (replacing a snapshot of that name).
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List the snapshots.
    List,
    /// Replace all of the server's data with a snapshot's, in one step.
    Restore { name: String },
    /// Delete a snapshot.
    Delete { name: String },
}

pub fn run(args: SnapshotArgs) -> anyhow::Result<()> {
    let server = pick(args.port, args.config.as_deref())?;
    let key = args
        .key
        .clone()
        .or_else(|| std::env::var("MOCKGATE_SYSTEM_KEY").ok().filter(|k| !k.is_empty()))
        .or_else(|| Profile::load(std::path::Path::new(&server.profile_dir)).ok()?.system.keys.first().cloned());
    let (method, path, body) = match &args.action {
        SnapshotAction::Create { name, description } => {
            ("POST", "/system/snapshots".to_owned(), Some(json!({"name": name, "description": description})))
        }
        SnapshotAction::List => ("GET", "/system/snapshots".to_owned(), None),
        SnapshotAction::Restore { name } => {
            ("POST", "/system/snapshots/restore".to_owned(), Some(json!({"name": name})))
        }
        SnapshotAction::Delete { name } => ("DELETE", format!("/system/snapshots/{name}"), None),
    };
    let addr = super::http::address(&server.url, server.port);
    let headers: Vec<(&str, &str)> = key.as_deref().map(|k| vec![("X-System-Key", k)]).unwrap_or_default();
    // A restore of a large data set can take a while.
    let (status, answer) =
        super::http::request(&addr, method, &path, &headers, body.as_ref(), Duration::from_secs(120))
            .with_context(|| format!("cannot reach {} on port {}", server.profile, server.port))?;
    if !(200..300).contains(&status) {
        let why = answer["error"]["message"].as_str().map_or_else(|| answer.to_string(), str::to_owned);
        anyhow::bail!("{} on port {} answered {status}: {why}", server.profile, server.port);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    match &args.action {
        SnapshotAction::Create { name, .. } => println!("saved snapshot {name:?}: {}", counts(&answer["counts"])),
        SnapshotAction::Restore { name } => println!("restored snapshot {name:?}: {}", counts(&answer["entities"])),
        SnapshotAction::Delete { name } => println!("deleted snapshot {name:?}"),
        SnapshotAction::List => {
            let list = answer["snapshots"].as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                println!("no snapshots");
            }
            for s in list {
                let text = |k: &str| s[k].as_str().unwrap_or("").to_owned();
                let description = text("description");
                let description = if description.is_empty() { String::new() } else { format!("  {description}") };
                println!("{:<24} {}  {}{description}", text("name"), text("created_at"), counts(&s["counts"]));
            }
        }
    }
    Ok(())
}

/// The running server meant: by port, by profile, or the only one.
fn pick(port: Option<u16>, profile: Option<&str>) -> anyhow::Result<ServerRecord> {
    let running: Vec<ServerRecord> = state::all()
        .into_iter()
        .filter(|(r, alive)| *alive && port.is_none_or(|p| r.port == p) && profile.is_none_or(|p| r.profile == p))
        .map(|(r, _)| r)
        .collect();
    match running.as_slice() {
        [one] => Ok(one.clone()),
        [] => anyhow::bail!("no running server matches (see mockctl list)"),
        many => {
            let ports: Vec<String> = many.iter().map(|r| format!("{} ({})", r.port, r.profile)).collect();
            anyhow::bail!("several servers are running, choose one with --port: {}", ports.join(", "))
        }
    }
}

/// `users 3, products 1`.
fn counts(v: &Value) -> String {
    match v.as_object() {
        Some(m) if !m.is_empty() => m.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", "),
        _ => "no entities".to_owned(),
    }
}
