//! Which backend a start gets, and opening it.
//!
//! The profile asks for a backend ([`BackendChoice`], from `api.json`), the operator
//! may override the kind ([`BackendKind`], from `--no-persistence`, `--redis-url` or
//! `MOCKGATE_BACKEND`), and [`open`] makes the decision: an explicitly given Redis
//! must answer; a profile that asks for Redis with none configured uses a local Redis
//! when one answers on the default port, else the embedded file store, and says so.

use super::{Clock, FileStore, MemoryStore, RedisStore, Store, StoreError, TestClock, redacted};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Which storage backend the profile asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// Nothing said: the embedded `file` backend.
    #[default]
    Unspecified,
    Memory,
    File,
    /// Redis, with an address and key prefix if the profile gives them.
    Redis {
        url: Option<String>,
        prefix: Option<String>,
        /// `url` lists Redis Cluster seed nodes.
        cluster: bool,
    },
}

/// A backend kind chosen by the operator over the profile's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Memory,
    File,
    Redis,
}

impl std::str::FromStr for BackendKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "memory" => Ok(BackendKind::Memory),
            "file" => Ok(BackendKind::File),
            "redis" => Ok(BackendKind::Redis),
            other => Err(format!("unknown backend {other:?}, expected memory, file or redis")),
        }
    }
}

/// Everything [`open`] needs, gathered from the profile and the settings.
#[derive(Debug, Clone)]
pub struct OpenRequest {
    /// What the profile asks for.
    pub choice: BackendChoice,
    /// The operator's override of the kind.
    pub kind: Option<BackendKind>,
    /// The embedded store's folder.
    pub data_dir: PathBuf,
    /// A Redis address given explicitly (flag or environment); it must answer.
    pub redis_url: Option<String>,
    /// Key prefix, already chosen from the settings, the profile or the default.
    pub redis_prefix: String,
    /// The operator said the Redis address lists cluster seed nodes.
    pub redis_cluster: bool,
    /// Entity types the embedded store keeps in memory only.
    pub transient: HashSet<String>,
    /// `(entity type, key_pattern)`: Redis keys named as the profile writes them.
    pub key_patterns: Vec<(String, String)>,
    /// The fields each entity type declares indexed.
    pub indexes: super::DeclaredIndexes,
    /// The default namespace's clock (`/system/clock`), which the embedded stores
    /// expire entities by.
    pub clock: Arc<TestClock>,
}

/// Opens namespaces' stores: each its own keyspace on the backend of the default one
/// (a memory store, a folder under `<data-dir>/namespaces/`, or a Redis key prefix with
/// a hash tag of its own, so namespaces spread over a cluster's slots).
#[async_trait::async_trait]
pub trait Spaces: Send + Sync {
    /// The store of namespace `name` (a name already checked); `tag` is the
    /// namespace's hash-tag suffix on Redis (see [`slot_tag`]); `clock` decides when
    /// its entities expire (the embedded stores; Redis expires by its own time).
    async fn open(&self, name: &str, tag: Option<&str>, clock: Arc<TestClock>) -> Result<Arc<dyn Store>, StoreError>;
    /// Removes what is left of a namespace once its data is gone (its folder).
    async fn remove(&self, name: &str) -> Result<(), StoreError>;
    /// The hash-tag suffix for the `n`th namespace created (Redis only).
    fn tag(&self, _name: &str, _n: usize) -> Option<String> {
        None
    }
}

struct MemorySpaces {
    indexes: super::DeclaredIndexes,
}

#[async_trait::async_trait]
impl Spaces for MemorySpaces {
    async fn open(&self, _: &str, _: Option<&str>, clock: Arc<TestClock>) -> Result<Arc<dyn Store>, StoreError> {
        let store = MemoryStore::new(clock);
        store.declare_indexes(self.indexes.clone());
        Ok(Arc::new(store))
    }

    async fn remove(&self, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

struct FileSpaces {
    root: PathBuf,
    transient: HashSet<String>,
    indexes: super::DeclaredIndexes,
}

#[async_trait::async_trait]
impl Spaces for FileSpaces {
    async fn open(&self, name: &str, _: Option<&str>, clock: Arc<TestClock>) -> Result<Arc<dyn Store>, StoreError> {
        let (store, _) = FileStore::open_with(&self.root.join(name), clock, self.transient.clone())?;
        store.declare_indexes(self.indexes.clone());
        Ok(Arc::new(store))
    }

    async fn remove(&self, name: &str) -> Result<(), StoreError> {
        let dir = self.root.join(name);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(StoreError::Io { action: "remove", path: dir, source: e })
            }
            _ => Ok(()),
        }
    }
}

struct RedisSpaces {
    base: RedisStore,
}

#[async_trait::async_trait]
impl Spaces for RedisSpaces {
    async fn open(&self, name: &str, tag: Option<&str>, clock: Arc<TestClock>) -> Result<Arc<dyn Store>, StoreError> {
        let store = self.base.with_prefix(&namespace_prefix(self.base.prefix(), name, tag)).with_clock(clock);
        store.build_indexes().await?;
        Ok(Arc::new(store))
    }

    fn tag(&self, name: &str, n: usize) -> Option<String> {
        Some(slot_tag(self.base.prefix(), name, n))
    }

    async fn remove(&self, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

/// `mockgate:{shop}` → `mockgate:{shop|ns=t1|17}`: a namespace's prefix, with a hash
/// tag of its own.
pub fn namespace_prefix(base: &str, name: &str, tag: Option<&str>) -> String {
    let suffix = tag.map(|t| format!("|{t}")).unwrap_or_default();
    match (base.find('{'), base.rfind('}')) {
        (Some(_), Some(end)) => format!("{}|ns={name}{suffix}{}", &base[..end], &base[end..]),
        _ => format!("{base}:{{ns={name}{suffix}}}"),
    }
}

/// The Redis Cluster slot of a key (CRC16 of its hash tag, mod 16384).
fn slot(key: &str) -> u16 {
    let tagged = key.find('{').and_then(|s| key[s + 1..].find('}').filter(|&n| n > 0).map(|n| &key[s + 1..s + 1 + n]));
    crc16::State::<crc16::XMODEM>::calculate(tagged.unwrap_or(key).as_bytes()) % 16384
}

/// A hash-tag suffix for the `n`th namespace whose slot lands near the `n`th point of
/// a low-discrepancy sequence over the 16384 slots: namespaces created one after the
/// other spread evenly over a cluster's nodes (which own contiguous slot ranges),
/// where random tags would leave one node with far more than another.
pub fn slot_tag(base: &str, name: &str, n: usize) -> String {
    const PHI: f64 = 0.618_033_988_749_895;
    let target = ((n as f64 * PHI).fract() * 16384.0) as i32;
    let mut best = (i32::MAX, 0u32);
    for k in 0..4096u32 {
        let distance = (i32::from(slot(&namespace_prefix(base, name, Some(&k.to_string())))) - target).abs();
        if distance < best.0 {
            best = (distance, k);
        }
        if distance < 16 {
            break;
        }
    }
    best.1.to_string()
}

/// What a start decided about storage.
pub struct Opened {
    pub store: Arc<dyn Store>,
    /// Where namespaces' stores come from.
    pub spaces: Arc<dyn Spaces>,
    /// Nothing stored yet: load the seed data.
    pub fresh: bool,
    /// Where the data lives, in words, for the start line.
    pub storage: String,
    /// Why the backend differs from what the profile asked for, if it does.
    pub note: Option<String>,
    /// Logs every instance on the backend shares (Redis); `None` on the embedded ones.
    pub logs: Option<Arc<dyn super::SharedLog>>,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open the {backend} store")]
    Store {
        backend: &'static str,
        #[source]
        source: StoreError,
    },
    #[error("cannot connect to Redis at {address}")]
    Redis {
        address: String,
        #[source]
        source: StoreError,
    },
}

/// Where Mock-and-Roll users' Redis usually is.
const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";

/// Opens the backend the request decides on.
pub async fn open(req: OpenRequest) -> Result<Opened, OpenError> {
    let choice = match req.kind {
        Some(BackendKind::Memory) => BackendChoice::Memory,
        Some(BackendKind::File) => BackendChoice::File,
        Some(BackendKind::Redis) => match &req.choice {
            BackendChoice::Redis { .. } => req.choice.clone(),
            _ => BackendChoice::Redis { url: None, prefix: None, cluster: false },
        },
        None => req.choice.clone(),
    };
    match choice {
        BackendChoice::Memory => Ok(Opened {
            store: {
                let store = MemoryStore::new(Arc::clone(&req.clock) as Arc<dyn Clock>);
                store.declare_indexes(req.indexes.clone());
                Arc::new(store)
            },
            spaces: Arc::new(MemorySpaces { indexes: req.indexes.clone() }),
            fresh: true,
            storage: "data in memory only".into(),
            note: None,
            logs: None,
        }),
        BackendChoice::File | BackendChoice::Unspecified => open_file(&req, None),
        BackendChoice::Redis { url, cluster, .. } => {
            let cluster = cluster || req.redis_cluster;
            let prefix = &req.redis_prefix;
            match req.redis_url.clone().or(url) {
                // An address someone gave must answer.
                Some(url) => {
                    let connected = if cluster {
                        RedisStore::connect_cluster(&url, prefix, Duration::from_secs(2)).await
                    } else {
                        RedisStore::connect(&url, prefix, Duration::from_secs(2)).await
                    };
                    let store = connected.map_err(|source| OpenError::Redis { address: redacted(&url), source })?;
                    redis_opened(store, &req).await
                }
                // Nothing configured: use a local Redis if one answers, else the file store.
                None => match RedisStore::connect(DEFAULT_REDIS, prefix, Duration::from_millis(300)).await {
                    Ok(store) => redis_opened(store, &req).await,
                    Err(_) => open_file(
                        &req,
                        Some(format!(
                            "no Redis configured and none answering at {DEFAULT_REDIS}; using the embedded file store"
                        )),
                    ),
                },
            }
        }
    }
}

fn open_file(req: &OpenRequest, note: Option<String>) -> Result<Opened, OpenError> {
    let dir = &req.data_dir;
    let (store, existed) = FileStore::open_with(dir, Arc::clone(&req.clock) as Arc<dyn Clock>, req.transient.clone())
        .map_err(|source| OpenError::Store { backend: "file", source })?;
    store.declare_indexes(req.indexes.clone());
    let spaces = Arc::new(FileSpaces {
        root: dir.join("namespaces"),
        transient: req.transient.clone(),
        indexes: req.indexes.clone(),
    });
    Ok(Opened {
        store: Arc::new(store),
        spaces,
        fresh: !existed,
        storage: format!("data in {}", dir.display()),
        note,
        logs: None,
    })
}

async fn redis_opened(store: RedisStore, req: &OpenRequest) -> Result<Opened, OpenError> {
    let prefix = &req.redis_prefix;
    let fresh = store.is_empty().await.map_err(|source| OpenError::Store { backend: "redis", source })?;
    let storage = format!("data in {} under {prefix}", store.address());
    let mut note = None;
    let store = if req.key_patterns.is_empty() {
        store
    } else if store.is_cluster() {
        let types: Vec<&str> = req.key_patterns.iter().map(|(e, _)| e.as_str()).collect();
        note = Some(format!(
            "key_pattern is not applied on Redis Cluster ({}): keys keep the profile's hash tag, so every atomic \
             operation stays in one slot",
            types.join(", ")
        ));
        store
    } else {
        store.with_key_patterns(&req.key_patterns)
    };
    let store = store.with_clock(Arc::clone(&req.clock)).with_indexes(req.indexes.clone());
    store.build_indexes().await.map_err(|source| OpenError::Store { backend: "redis", source })?;
    let spaces = Arc::new(RedisSpaces { base: store.with_prefix(prefix) });
    let logs: Option<Arc<dyn super::SharedLog>> = Some(Arc::new(store.with_prefix(prefix).logs()));
    Ok(Opened { store: Arc::new(store), spaces, fresh, storage, note, logs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_get_hash_tags_of_their_own_spread_over_the_slots() {
        assert_eq!(namespace_prefix("mockgate:{shop}", "t1", Some("3")), "mockgate:{shop|ns=t1|3}");
        assert_eq!(slot("{user1000}.following"), slot("{user1000}.followers"));
        assert_eq!(slot("123456789"), 12739, "Redis Cluster's reference value");
        // 30 namespaces over three equal slot ranges: each within 20% of the mean.
        let mut per_node = [0usize; 3];
        for n in 0..30 {
            let name = format!("ns-{n}");
            let prefix = namespace_prefix("mockgate:{shop}", &name, Some(&slot_tag("mockgate:{shop}", &name, n)));
            per_node[usize::from(slot(&prefix)) * 3 / 16384] += 1;
        }
        assert!(per_node.iter().all(|&c| (8..=12).contains(&c)), "{per_node:?}");
    }

    #[test]
    fn backend_kinds_parse_exactly() {
        assert_eq!("memory".parse::<BackendKind>(), Ok(BackendKind::Memory));
        assert_eq!("redis".parse::<BackendKind>(), Ok(BackendKind::Redis));
        assert!("embedded".parse::<BackendKind>().is_err());
        assert!("File".parse::<BackendKind>().is_err());
    }
}
