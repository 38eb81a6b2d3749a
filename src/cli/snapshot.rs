//! `mockctl snapshot create|list|restore|delete`: a running server's snapshots,
//! through its `/system/snapshots` API (so they work the same on every backend, and
//! on Redis every instance sees them).

use super::remote::counts;
use clap::{Args, Subcommand};
use serde_json::json;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mockctl snapshot create before-test --port 8000
  mockctl snapshot restore before-test --port 8000")]
pub struct SnapshotArgs {
    #[command(subcommand)]
    pub action: SnapshotAction,
    #[command(flatten)]
    pub remote: super::remote::RemoteArgs,
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
    let remote = super::remote::Remote::connect(&args.remote)?;
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
    let answer = remote.call(method, &path, body.as_ref(), None)?;
    if args.remote.json {
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
