//! Namespaces: isolated worlds of data on one server, one per parallel test.
//!
//! A request naming a namespace (`X-Mockgate-Namespace: t1`) reads and writes only
//! that namespace's store: its own keyspace on the backend of the default one (see
//! [`Spaces`]), so every rule (unique values, references, versions, atomic operations,
//! TTL, sessions, id counters) holds inside it and never across, and each has its own
//! read cache. First use creates it from the profile's initial data, or from a
//! snapshot of the default namespace. The registry of namespaces is a store of its own,
//! on the same backend, so every gateway instance on one Redis sees the same ones.
//! Creation is claimed in the registry first (`Cond::Absent`) and marked ready once
//! seeded, so two instances racing to create one never seed it twice. Idle namespaces
//! are removed by [`Namespaces::sweep`], which the server runs in the background.

use crate::admin::AdminError;
use crate::persistence::cache::ReadCache;
pub use crate::profile::NamespaceSettings;
use crate::store::{Cond, Dataset, ListQuery, Spaces, Store, StoreError, TestClock, Transaction, Ttl, Write};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The request header that names the snapshot a new namespace is forked from.
pub const FROM_HEADER: &str = "x-mockgate-namespace-from";
/// The registry's entity type.
const REGISTRY: &str = "namespaces";
/// The registry's own keyspace: a name no namespace can have.
const REGISTRY_SPACE: &str = "#registry";

#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error("namespace {0:?} is not a name: use letters, digits, `-`, `_` or `.`, at most 64")]
    BadName(String),
    #[error("namespace {0:?} already exists")]
    Exists(String),
    #[error("namespace {0:?} does not exist")]
    NotFound(String),
    #[error("{max} namespaces exist, the most this server keeps (namespaces.max); delete one first")]
    TooMany { max: usize },
    #[error("namespace {0:?} is being created by another instance and did not become ready; try again")]
    NotReady(String),
    #[error(
        "namespace {name:?} holds {max} entities, the most one may (namespaces.max_entities); delete some or reset it"
    )]
    Full { name: String, max: usize },
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the registry keeps of a namespace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NamespaceInfo {
    pub name: String,
    pub created_at: String,
    /// Milliseconds since the epoch, written at most every few seconds.
    pub last_used_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_snapshot: Option<String>,
    /// Idle time after which it is removed; the server's `idle_ttl` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u64>,
    /// Seeded and serving; `false` while the instance that claimed it seeds it.
    pub ready: bool,
    /// Its hash-tag suffix on Redis, chosen so that namespaces spread over the slots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// One namespace as this instance serves it.
pub struct Space {
    pub name: Arc<str>,
    pub store: Arc<dyn Store>,
    pub cache: ReadCache,
    /// Its clock: what its templates, timestamps and expiries go by.
    pub clock: Arc<TestClock>,
    /// Last request, in epoch ms.
    used_ms: AtomicU64,
    /// When this instance last wrote `last_used_ms` and checked the registry.
    checked_ms: AtomicU64,
}

/// How often an instance writes a namespace's last use and checks it still exists.
const CHECK_EVERY_MS: u64 = 1000;

/// The namespaces of one server.
pub struct Namespaces {
    spaces: Arc<dyn Spaces>,
    /// The default namespace's clock.
    clock: Arc<TestClock>,
    registry: Arc<dyn Store>,
    local: RwLock<HashMap<String, Arc<Space>>>,
    settings: NamespaceSettings,
    /// One creation at a time in this instance (others wait, then find it).
    creating: tokio::sync::Mutex<()>,
    /// Every namespace's chaos rules, kept in the registry's store.
    chaos: crate::chaos::Chaos,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Letters, digits, `-`, `_`, `.`; 1 to 64 of them.
pub fn check_name(name: &str) -> Result<(), NamespaceError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok { Ok(()) } else { Err(NamespaceError::BadName(name.to_owned())) }
}

impl Namespaces {
    pub async fn open(
        spaces: Arc<dyn Spaces>,
        settings: NamespaceSettings,
        clock: Arc<TestClock>,
    ) -> Result<Namespaces, StoreError> {
        let registry = spaces.open(REGISTRY_SPACE, None, Arc::new(TestClock::default())).await?;
        Ok(Namespaces {
            chaos: crate::chaos::Chaos::new(Arc::clone(&registry)),
            spaces,
            clock,
            registry,
            local: RwLock::new(HashMap::new()),
            settings,
            creating: tokio::sync::Mutex::new(()),
        })
    }

    pub fn settings(&self) -> &NamespaceSettings {
        &self.settings
    }

    /// Every namespace's chaos rules.
    pub fn chaos(&self) -> &crate::chaos::Chaos {
        &self.chaos
    }

    /// The default namespace's clock.
    pub fn clock(&self) -> &Arc<TestClock> {
        &self.clock
    }

    /// The clock of a namespace this instance serves, else the default one.
    pub fn clock_of(&self, name: Option<&str>) -> Arc<TestClock> {
        name.and_then(|n| self.cached(n)).map_or_else(|| Arc::clone(&self.clock), |s| Arc::clone(&s.clock))
    }

    fn cached(&self, name: &str) -> Option<Arc<Space>> {
        self.local.read().ok()?.get(name).cloned()
    }

    /// The namespace `name`, created on first use from `from` (a snapshot of
    /// `default_store`) or from `initial`.
    pub async fn get_or_create(
        &self,
        name: &str,
        from: Option<&str>,
        default_store: &dyn Store,
        initial: impl FnOnce() -> Dataset,
    ) -> Result<Arc<Space>, NamespaceError> {
        if let Some(space) = self.cached(name) {
            if self.still_there(&space).await? {
                return Ok(space);
            }
            self.forget(name);
        }
        check_name(name)?;
        match self.create(name, from, None, default_store, initial).await {
            Ok(_) | Err(NamespaceError::Exists(_)) => self.attach(name).await,
            Err(e) => Err(e),
        }
    }

    /// Marks a use; every second or so also writes it to the registry and checks that
    /// another instance has not deleted the namespace meanwhile.
    async fn still_there(&self, space: &Space) -> Result<bool, NamespaceError> {
        let now = now_ms();
        space.used_ms.store(now, Ordering::Relaxed);
        let checked = space.checked_ms.load(Ordering::Relaxed);
        if now.saturating_sub(checked) < CHECK_EVERY_MS
            || space.checked_ms.compare_exchange(checked, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return Ok(true);
        }
        let Some(mut info) = self.info(&space.name).await? else { return Ok(false) };
        info.last_used_ms = info.last_used_ms.max(now);
        self.write_info(&info, Cond::Present).await?;
        Ok(true)
    }

    fn forget(&self, name: &str) -> Option<Arc<Space>> {
        self.local.write().ok()?.remove(name)
    }

    /// Serves an existing namespace in this instance, waiting while another seeds it.
    async fn attach(&self, name: &str) -> Result<Arc<Space>, NamespaceError> {
        if let Some(space) = self.cached(name) {
            return Ok(space);
        }
        for _ in 0..500 {
            match self.info(name).await? {
                None => return Err(NamespaceError::NotFound(name.to_owned())),
                Some(info) if info.ready => {
                    let clock = Arc::new(TestClock::default());
                    let store = self.spaces.open(name, info.tag.as_deref(), clock.clone()).await?;
                    return Ok(self.keep(name, store, clock));
                }
                Some(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        Err(NamespaceError::NotReady(name.to_owned()))
    }

    fn keep(&self, name: &str, store: Arc<dyn Store>, clock: Arc<TestClock>) -> Arc<Space> {
        let now = now_ms();
        let space = Arc::new(Space {
            name: name.into(),
            store,
            cache: ReadCache::default(),
            clock,
            used_ms: AtomicU64::new(now),
            checked_ms: AtomicU64::new(now),
        });
        match self.local.write() {
            Ok(mut local) => Arc::clone(local.entry(name.to_owned()).or_insert(space)),
            Err(_) => space,
        }
    }

    pub async fn info(&self, name: &str) -> Result<Option<NamespaceInfo>, StoreError> {
        Ok(self.registry.get(REGISTRY, name).await?.and_then(|v| serde_json::from_value(v).ok()))
    }

    async fn write_info(&self, info: &NamespaceInfo, cond: Cond) -> Result<(), StoreError> {
        let value = serde_json::to_value(info).expect("namespace info serialises");
        let w = Write::Put { entity: REGISTRY.into(), id: info.name.clone(), value, ttl: Ttl::Persist, cond };
        self.registry.commit(Transaction { writes: vec![w] }).await.map(|_| ())
    }

    /// Creates a namespace (409 `Exists` if it does): claims its name, loads its data
    /// (a snapshot of `default_store`, or `initial`), then marks it ready.
    pub async fn create(
        &self,
        name: &str,
        from: Option<&str>,
        ttl_seconds: Option<u64>,
        default_store: &dyn Store,
        initial: impl FnOnce() -> Dataset,
    ) -> Result<NamespaceInfo, NamespaceError> {
        check_name(name)?;
        let _one_at_a_time = self.creating.lock().await;
        let data = match from {
            Some(snapshot) => {
                crate::admin::check_snapshot_name(snapshot)?;
                let found = default_store.get_snapshot(snapshot).await?;
                found.ok_or_else(|| AdminError::NotFound { entity: "snapshot".into(), id: snapshot.to_owned() })?.data
            }
            None => initial(),
        };
        let count = self.count().await?;
        if count >= self.settings.max {
            return Err(NamespaceError::TooMany { max: self.settings.max });
        }
        let mut info = NamespaceInfo {
            name: name.to_owned(),
            created_at: crate::template::iso(chrono::Utc::now()),
            last_used_ms: now_ms(),
            from_snapshot: from.map(str::to_owned),
            ttl_seconds,
            ready: false,
            tag: self.spaces.tag(name, count),
        };
        match self.write_info(&info, Cond::Absent).await {
            Err(StoreError::ConditionFailed { .. }) => return Err(NamespaceError::Exists(name.to_owned())),
            other => other?,
        }
        let clock = Arc::new(TestClock::default());
        let seeded = async {
            let store = self.spaces.open(name, info.tag.as_deref(), clock.clone()).await?;
            store.replace_all(data).await?;
            Ok::<_, StoreError>(store)
        }
        .await;
        let store = match seeded {
            Ok(store) => store,
            Err(e) => {
                // Leave nothing half made.
                let w = Write::Delete { entity: REGISTRY.into(), id: name.to_owned(), cond: Cond::Any };
                let _ = self.registry.commit(Transaction { writes: vec![w] }).await;
                return Err(e.into());
            }
        };
        info.ready = true;
        self.write_info(&info, Cond::Any).await?;
        self.keep(name, store, clock);
        Ok(info)
    }

    /// Every namespace, with its entity counts.
    pub async fn list(&self) -> Result<Vec<(NamespaceInfo, Vec<(String, usize)>)>, NamespaceError> {
        let infos = self.infos().await?;
        let mut out = Vec::with_capacity(infos.len());
        for info in infos {
            let counts = self.counts(&info).await?;
            out.push((info, counts));
        }
        Ok(out)
    }

    /// One namespace with its entity counts.
    pub async fn describe(&self, name: &str) -> Result<(NamespaceInfo, Vec<(String, usize)>), NamespaceError> {
        let info = self.info(name).await?.ok_or_else(|| NamespaceError::NotFound(name.to_owned()))?;
        let counts = self.counts(&info).await?;
        Ok((self.with_local_use(info), counts))
    }

    fn with_local_use(&self, mut info: NamespaceInfo) -> NamespaceInfo {
        if let Some(space) = self.cached(&info.name) {
            info.last_used_ms = info.last_used_ms.max(space.used_ms.load(Ordering::Relaxed));
        }
        info
    }

    async fn counts(&self, info: &NamespaceInfo) -> Result<Vec<(String, usize)>, NamespaceError> {
        let store = match self.cached(&info.name) {
            Some(space) => Arc::clone(&space.store),
            None => self.spaces.open(&info.name, info.tag.as_deref(), Arc::new(TestClock::default())).await?,
        };
        let counts = crate::admin::counts(store.as_ref()).await?;
        Ok(counts.into_iter().collect())
    }

    /// Removes a namespace and all its data (snapshots included).
    pub async fn delete(&self, name: &str) -> Result<(), NamespaceError> {
        let tag = self.info(name).await?.and_then(|i| i.tag);
        let w = Write::Delete { entity: REGISTRY.into(), id: name.to_owned(), cond: Cond::Present };
        match self.registry.commit(Transaction { writes: vec![w] }).await {
            Err(StoreError::ConditionFailed { .. }) => return Err(NamespaceError::NotFound(name.to_owned())),
            other => other?,
        };
        let store = match self.forget(name) {
            Some(space) => Arc::clone(&space.store),
            None => self.spaces.open(name, tag.as_deref(), Arc::new(TestClock::default())).await?,
        };
        store.replace_all(Dataset::new()).await?;
        for snapshot in store.snapshots().await? {
            store.delete_snapshot(&snapshot.name).await?;
        }
        store.close().await?;
        drop(store);
        self.spaces.remove(name).await?;
        Ok(())
    }

    /// Removes the namespaces nobody used for their idle time; returns their names.
    pub async fn sweep(&self) -> Result<Vec<String>, NamespaceError> {
        let now = now_ms();
        let mut removed = Vec::new();
        for info in self.infos().await? {
            let ttl = info.ttl_seconds.map_or(self.settings.idle_ttl, Duration::from_secs);
            let idle = now.saturating_sub(info.last_used_ms);
            if info.ready && u128::from(idle) >= ttl.as_millis() {
                match self.delete(&info.name).await {
                    Ok(()) | Err(NamespaceError::NotFound(_)) => removed.push(info.name),
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }

    /// Every namespace's info, with this instance's latest uses.
    async fn infos(&self) -> Result<Vec<NamespaceInfo>, NamespaceError> {
        let page = self.registry.list(REGISTRY, &ListQuery::default()).await?;
        Ok(page
            .items
            .into_iter()
            .filter_map(|v| serde_json::from_value::<NamespaceInfo>(v).ok())
            .map(|i| self.with_local_use(i))
            .collect())
    }

    /// How many namespaces exist.
    pub async fn count(&self) -> Result<usize, StoreError> {
        Ok(self.registry.list(REGISTRY, &ListQuery { limit: Some(0), ..ListQuery::default() }).await?.total)
    }

    /// Flushes and closes every namespace store this instance opened, and the registry.
    pub async fn close(&self) -> Result<(), StoreError> {
        let spaces: Vec<Arc<Space>> = self.local.read().map(|l| l.values().cloned().collect()).unwrap_or_default();
        for space in spaces {
            space.store.close().await?;
        }
        self.registry.close().await
    }
}

/// The namespace a request names: its header, else the configured query parameter.
pub fn requested<'a>(settings: &NamespaceSettings, header: Option<&'a str>, query: &'a str) -> Option<&'a str> {
    header.or_else(|| query_value(query, settings.query_param.as_deref()?))
}

/// The raw value of `name` in a query string (names are plain tokens here: api keys,
/// namespace names).
pub fn query_value<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v)
}

/// A namespace's info as `/system/namespaces` shows it.
pub fn describe_json(info: &NamespaceInfo, counts: &[(String, usize)]) -> Value {
    let last_used = crate::template::iso_ms(info.last_used_ms as i64);
    serde_json::json!({
        "name": info.name,
        "created_at": info.created_at,
        "last_used_at": last_used,
        "from_snapshot": info.from_snapshot,
        "ttl_seconds": info.ttl_seconds,
        "entities": counts.iter().map(|(k, v)| (k.clone(), Value::from(*v))).collect::<serde_json::Map<_, _>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_plain_words() {
        for ok in ["t1", "worker-16", "run_2026.12.01", &"x".repeat(64)] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a/b", "#registry", "ü", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
