//! `mockctl start --watch`: reloads the served profile when its files change.
//!
//! The three profile files are read every interval and compared with what was read
//! last (contents, not timestamps, so editors that save by rename or keep the mtime
//! are seen too). A change is loaded once two consecutive reads agree, so a
//! half-written file is not mistaken for a broken edit. A profile that fails to load
//! is logged with every problem, and the previous profile keeps serving.

use crate::config::Profile;
use crate::server::Reloader;
use std::path::{Path, PathBuf};
use std::time::Duration;

const FILES: [&str; 3] = ["api.json", "auth.json", "endpoints.json"];

/// How often `--watch` looks at the files.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(500);

/// Watches `dir` until the task is dropped or aborted. Changes made after this call
/// (not after the first poll) are seen.
pub fn watch(dir: PathBuf, reloader: Reloader, every: Duration) -> impl Future<Output = ()> + Send + 'static {
    let served = fingerprint(&dir);
    poll(dir, reloader, every, served)
}

async fn poll(dir: PathBuf, reloader: Reloader, every: Duration, mut served: Fingerprint) {
    let mut pending: Option<Fingerprint> = None;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = fingerprint(&dir);
        if now == served {
            pending = None;
            continue;
        }
        // Wait for the edit to settle: the same contents on two reads in a row.
        if pending.as_ref() != Some(&now) {
            pending = Some(now);
            continue;
        }
        pending = None;
        served = now;
        let loaded = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || Profile::load(&dir)).await
        };
        match loaded {
            Ok(Ok(profile)) => reloader.reload(profile),
            Ok(Err(e)) => reloader.refuse(&e),
            Err(e) => tracing::error!("profile reload failed: {e}"),
        }
    }
}

type Fingerprint = Vec<Option<Vec<u8>>>;

fn fingerprint(dir: &Path) -> Fingerprint {
    FILES.iter().map(|f| std::fs::read(dir.join(f)).ok()).collect()
}
