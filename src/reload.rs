//! Hot reload: [`Reloader`] swaps the profile a running server serves (same store, same
//! listener, same data), and [`watch`] (`mockctl start --watch`) calls it when the
//! profile's files change.
//!
//! The three profile files are read every interval and compared with what was read
//! last (contents, not timestamps, so editors that save by rename or keep the mtime
//! are seen too). A change is loaded once two consecutive reads agree, so a
//! half-written file is not mistaken for a broken edit. A profile that fails to load
//! is logged with every problem, and the previous profile keeps serving.

use crate::config::ProfileError;
use crate::gateway::Gateway;
use crate::namespaces::Namespaces;
use crate::openapi::SystemOp;
use crate::profile::Profile;
use crate::store::Store;
use arc_swap::ArcSwap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What profile reloads did, for `/system/health` and the log.
#[derive(Debug, Default)]
pub struct ReloadLog {
    inner: std::sync::Mutex<ReloadStatus>,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ReloadStatus {
    /// Successful reloads since start.
    pub reloads: u64,
    pub last_reload_at: Option<String>,
    /// Why the newest edit was refused (the previous profile keeps serving); cleared
    /// by the next successful reload.
    pub last_error: Option<String>,
}

impl ReloadLog {
    pub fn status(&self) -> ReloadStatus {
        self.inner.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn update(&self, f: impl FnOnce(&mut ReloadStatus)) {
        if let Ok(mut s) = self.inner.lock() {
            f(&mut s);
        }
    }
}

/// The gateway a server serves now, and how to replace it. Cheap to clone.
#[derive(Clone)]
pub struct Reloader {
    gateways: Arc<ArcSwap<Gateway>>,
    store: Arc<dyn Store>,
    namespaces: Arc<Namespaces>,
    log: Arc<ReloadLog>,
    /// What the settings change in every profile served, kept across reloads.
    amend: Amend,
    /// The admin API the HTTP layer registers, for each gateway's OpenAPI document.
    system_api: Arc<[SystemOp]>,
}

impl Reloader {
    /// Starts serving `profile` over `store`.
    pub fn new(
        profile: Profile,
        store: Arc<dyn Store>,
        namespaces: Arc<Namespaces>,
        amend: Amend,
        system_api: Vec<SystemOp>,
    ) -> Self {
        let system_api: Arc<[SystemOp]> = system_api.into();
        let first = gateway(profile, &store, &namespaces, &amend, &system_api);
        Reloader {
            gateways: Arc::new(ArcSwap::from_pointee(first)),
            store,
            namespaces,
            log: Arc::default(),
            amend,
            system_api,
        }
    }

    /// The gateway serving now; a request keeps the one it started with through a reload.
    pub fn current(&self) -> Arc<Gateway> {
        self.gateways.load_full()
    }

    pub fn log(&self) -> &ReloadLog {
        &self.log
    }

    /// Serves `profile` from the next request on. Its seed data is not applied: the
    /// stored data stays as it is.
    pub fn reload(&self, profile: Profile) {
        if self.gateways.load().profile().backend != profile.backend {
            tracing::warn!("the profile's storage settings changed; they take effect at the next start");
        }
        let endpoints = profile.endpoints.len();
        let next = gateway(profile, &self.store, &self.namespaces, &self.amend, &self.system_api);
        self.gateways.store(Arc::new(next));
        self.log.update(|s| {
            s.reloads += 1;
            s.last_reload_at = Some(crate::template::iso(chrono::Utc::now()));
            s.last_error = None;
        });
        tracing::info!(endpoints, "profile reloaded ({endpoints} endpoints)");
    }

    /// Records an edit that did not load; the previous profile keeps serving.
    pub fn refuse(&self, error: &ProfileError) {
        tracing::error!("profile reload failed; still serving the previous profile: {error}");
        self.log.update(|s| s.last_error = Some(error.to_string()));
    }
}

/// What the settings change in every profile a server serves.
#[derive(Debug, Clone, Default)]
pub struct Amend {
    /// An extra key that guards `/system` too.
    pub system_key: Option<String>,
    /// `--cors` / `--no-cors` over the profile's `cors`.
    pub cors: Option<bool>,
}

/// A gateway for `profile`, amended by the settings.
fn gateway(
    mut profile: Profile,
    store: &Arc<dyn Store>,
    namespaces: &Arc<Namespaces>,
    amend: &Amend,
    system_api: &[SystemOp],
) -> Gateway {
    if let Some(key) = amend.system_key.as_deref().filter(|k| !k.is_empty()) {
        profile.system.keys.push(key.to_owned());
        profile.system.protected = true;
        profile.secrets.add(key);
    }
    if let Some(on) = amend.cors {
        profile.cors.enabled = on;
    }
    Gateway::new(Arc::new(profile), Arc::clone(store), Arc::clone(namespaces), system_api)
}

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
    // `mockctl start spec.yaml --watch`: the document itself.
    if dir.is_file() {
        return vec![std::fs::read(dir).ok()];
    }
    FILES.iter().map(|f| std::fs::read(dir.join(f)).ok()).collect()
}
