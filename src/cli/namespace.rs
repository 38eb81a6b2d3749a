//! `mockctl namespace create|list|delete` and `mockctl clock show|freeze|advance|reset`
//! against a running server's `/system/namespaces` and `/system/clock`.

use super::remote::{Remote, RemoteArgs, counts};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mockctl namespace create ci-17 --from-snapshot baseline
  mockctl namespace list
  mockctl namespace delete ci-17")]
pub struct NamespaceArgs {
    #[command(subcommand)]
    pub action: NamespaceAction,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Debug, Subcommand)]
pub enum NamespaceAction {
    /// Create a namespace from the seed data, or from a snapshot.
    Create {
        name: String,
        #[arg(long)]
        from_snapshot: Option<String>,
        /// Remove it after this many idle seconds (default: the profile's idle_ttl_seconds).
        #[arg(long)]
        ttl_seconds: Option<u64>,
    },
    /// List the namespaces with their entity counts.
    List,
    /// Delete a namespace and all its data.
    Delete { name: String },
}

pub fn namespace(args: NamespaceArgs) -> anyhow::Result<()> {
    let remote = Remote::connect(&args.remote)?;
    let answer = match &args.action {
        NamespaceAction::Create { name, from_snapshot, ttl_seconds } => {
            let body = json!({"name": name, "from_snapshot": from_snapshot, "ttl_seconds": ttl_seconds});
            remote.call("POST", "/system/namespaces", Some(&body), None)?
        }
        NamespaceAction::List => remote.call("GET", "/system/namespaces", None, None)?,
        NamespaceAction::Delete { name } => remote.call("DELETE", &format!("/system/namespaces/{name}"), None, None)?,
    };
    if args.remote.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    match &args.action {
        NamespaceAction::Create { name, .. } => println!("created namespace {name:?}: {}", counts(&answer["entities"])),
        NamespaceAction::Delete { name } => println!("deleted namespace {name:?}"),
        NamespaceAction::List => {
            let list = answer["namespaces"].as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                println!("no namespaces");
            }
            for n in list {
                let text = |k: &str| n[k].as_str().unwrap_or("").to_owned();
                println!("{:<24} last used {}  {}", text("name"), text("last_used_at"), counts(&n["entities"]));
            }
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mockctl clock freeze --namespace ci-17
  mockctl clock advance 31 --namespace ci-17
  mockctl clock reset")]
pub struct ClockArgs {
    #[command(subcommand)]
    pub action: ClockAction,
    /// The namespace whose clock (default: the default namespace's).
    #[arg(long, global = true)]
    pub namespace: Option<String>,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Debug, Subcommand)]
pub enum ClockAction {
    /// Print the clock: now, frozen, offset from real time.
    Show,
    /// Stop the clock where it is.
    Freeze,
    /// Let a frozen clock run again from where it stopped.
    Unfreeze,
    /// Move the clock forward by this many seconds.
    Advance { seconds: f64 },
    /// Back to real time.
    Reset,
}

pub fn clock(args: ClockArgs) -> anyhow::Result<()> {
    let remote = Remote::connect(&args.remote)?;
    let ns = args.namespace.as_deref();
    let post = |body: Value| remote.call("POST", "/system/clock", Some(&body), ns);
    let answer = match args.action {
        ClockAction::Show => remote.call("GET", "/system/clock", None, ns)?,
        ClockAction::Freeze => post(json!({"freeze": true}))?,
        ClockAction::Unfreeze => post(json!({"freeze": false}))?,
        ClockAction::Advance { seconds } => post(json!({"advance_seconds": seconds}))?,
        ClockAction::Reset => remote.call("DELETE", "/system/clock", None, ns)?,
    };
    if args.remote.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        println!(
            "{}{} (offset {} ms){}",
            ns.map(|n| format!("{n}: ")).unwrap_or_default(),
            answer["now"].as_str().unwrap_or("?"),
            answer["offset_ms"],
            if answer["frozen"] == true { ", frozen" } else { "" }
        );
    }
    Ok(())
}
