//! A running server's `/system` API, as `mockctl snapshot`, `namespace`, `clock`,
//! `requests`, `verify` and `unmatched` call it: which server (by port, profile, or the only one), which key, one request.

use super::state::{self, ServerRecord};
use crate::profile::Profile;
use anyhow::Context;
use clap::Args;
use serde_json::Value;
use std::time::Duration;

/// The flags that choose the server and the key.
#[derive(Debug, Args)]
pub struct RemoteArgs {
    /// The server on this port (default: the only running server).
    #[arg(long, global = true)]
    pub port: Option<u16>,
    /// The running server of this profile.
    #[arg(long, global = true)]
    pub config: Option<String>,
    /// The system key [env: MOCKGATE_SYSTEM_KEY; default: the profile's own key].
    #[arg(long, global = true)]
    pub key: Option<String>,
    /// Print the server's JSON answer.
    #[arg(long, global = true)]
    pub json: bool,
}

pub struct Remote {
    pub server: ServerRecord,
    key: Option<String>,
}

impl Remote {
    pub fn connect(args: &RemoteArgs) -> anyhow::Result<Remote> {
        let server = pick(args.port, args.config.as_deref())?;
        let key =
            args.key.clone().or_else(|| std::env::var("MOCKGATE_SYSTEM_KEY").ok().filter(|k| !k.is_empty())).or_else(
                || Profile::load(std::path::Path::new(&server.profile_dir)).ok()?.system.keys.first().cloned(),
            );
        Ok(Remote { server, key })
    }

    /// One `/system` request (inside `namespace` when given); an answer outside 2xx is an error.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        namespace: Option<&str>,
    ) -> anyhow::Result<Value> {
        let (status, answer) = self.call_any(method, path, body, namespace)?;
        if !(200..300).contains(&status) {
            let why = answer["error"]["message"].as_str().map_or_else(|| answer.to_string(), str::to_owned);
            let problems: Vec<String> = answer["error"]["violations"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| format!("\n  {}: {}", v["path"].as_str().unwrap_or(""), v["message"].as_str().unwrap_or("")))
                .collect();
            anyhow::bail!(
                "{} on port {} answered {status}: {why}{}",
                self.server.profile,
                self.server.port,
                problems.concat()
            );
        }
        Ok(answer)
    }

    /// [`Remote::call`] that leaves the status to the caller (a 417 from a
    /// verification is an answer, not a failure); still an error when the server's
    /// answer is an error body.
    pub fn call_any(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        namespace: Option<&str>,
    ) -> anyhow::Result<(u16, Value)> {
        let addr = super::http::address(&self.server.url, self.server.port);
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(k) = self.key.as_deref() {
            headers.push(("X-System-Key", k));
        }
        // The query form works whatever `namespaces.header` the profile chose.
        let path = match namespace {
            Some(ns) => format!("{path}{}namespace={ns}", if path.contains('?') { '&' } else { '?' }),
            None => path.to_owned(),
        };
        // A restore of a large data set can take a while.
        super::http::request(&addr, method, &path, &headers, body, Duration::from_secs(120))
            .with_context(|| format!("cannot reach {} on port {}", self.server.profile, self.server.port))
    }
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
pub fn counts(v: &Value) -> String {
    match v.as_object() {
        Some(m) if !m.is_empty() => m.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", "),
        _ => "no entities".to_owned(),
    }
}
