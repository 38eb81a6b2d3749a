//! The state folder, one per user: `MOCKGATE_STATE_DIR`, else `$XDG_STATE_HOME/mockgate`,
//! else `~/.local/state/mockgate`, so `list`, `stop`, `logs` and `status` see every
//! server from any folder. It holds one JSON record per running server, written by
//! the server itself once it listens and removed when it stops, the background
//! servers' log files, and the built-in profiles once used.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A running (or crashed) server, as `mockctl list` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServerRecord {
    pub pid: u32,
    pub port: u16,
    pub url: String,
    pub profile: String,
    pub profile_dir: String,
    pub backend: String,
    pub log: Option<String>,
    pub started_at: String,
    /// Why the backend differs from what the profile asked for, if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

pub fn dir() -> PathBuf {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("MOCKGATE_STATE_DIR")
        .or_else(|| var("XDG_STATE_HOME").map(|d| d.join("mockgate")))
        .or_else(|| var("HOME").map(|h| h.join(".local/state/mockgate")))
        .unwrap_or_else(|| PathBuf::from(".mockgate"))
}

fn servers() -> PathBuf {
    dir().join("servers")
}

pub fn log_path(profile: &str) -> PathBuf {
    dir().join("logs").join(format!("{profile}.log"))
}

pub fn write(record: &ServerRecord) -> anyhow::Result<()> {
    let dir = servers();
    std::fs::create_dir_all(&dir).with_context(|| format!("Failed to create {}", dir.display()))?;
    let bytes = serde_json::to_vec_pretty(record).expect("a record serialises");
    crate::store::write_atomically(&dir, &format!("{}.json", record.port), &bytes)
        .with_context(|| format!("Failed to write the state of port {}", record.port))
}

/// Removes a record, unless another process has taken the port's record over.
pub fn remove(port: u16, pid: u32) {
    let path = servers().join(format!("{port}.json"));
    let ours = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<ServerRecord>(&b).ok())
        .is_some_and(|r| r.pid == pid);
    if ours {
        let _ = std::fs::remove_file(path);
    }
}

/// Every record, with whether its process is alive.
pub fn all() -> Vec<(ServerRecord, bool)> {
    let Ok(entries) = std::fs::read_dir(servers()) else { return Vec::new() };
    let mut out: Vec<(ServerRecord, bool)> = entries
        .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
        .filter_map(|b| serde_json::from_slice::<ServerRecord>(&b).ok())
        .map(|r| {
            let alive = alive(r.pid);
            (r, alive)
        })
        .collect();
    out.sort_by_key(|(r, _)| r.port);
    out
}

/// Signal 0: whether the process exists.
#[cfg(unix)]
pub fn alive(pid: u32) -> bool {
    i32::try_from(pid).is_ok_and(|p| nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None).is_ok())
}

/// Without Unix signals a recorded server is taken to be running.
#[cfg(not(unix))]
pub fn alive(_pid: u32) -> bool {
    true
}
