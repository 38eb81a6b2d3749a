//! The storage interface and its backends.
//!
//! [`Store`] is deliberately small: point reads, list queries, and one write
//! primitive, [`Store::commit`], that applies a [`Transaction`] of conditional puts and
//! deletes all-or-nothing. Every persistence feature (create-if-absent, updates that
//! must not lose a concurrent write, atomic multi-entity operations) is expressed as
//! conditions on such a transaction, so each backend implements the semantics once,
//! in one place, and the actions in [`crate::persistence`] stay backend-agnostic.
//!
//! Backends:
//! - [`MemoryStore`]: everything in memory under one short lock (tests, `--no-persistence`);
//! - [`FileStore`]: the memory engine plus a pretty-printed `db.json` written atomically;
//! - [`RedisStore`]: shared state for many gateway instances, one Lua script per commit.

mod file;
mod memory;
pub mod query;
mod redis;

pub use file::{FileStore, write_atomically};
pub use memory::{Clock, ManualClock, MemoryStore, SystemClock};
pub use query::{ListQuery, Page, Sort};
pub use redis::{Keys, RedisStore, redacted};

use async_trait::async_trait;
use indexmap::IndexMap;
use serde_json::Value;
use std::path::PathBuf;

/// All entities of all types: entity name → id → entity. Ids keep insertion order.
pub type Dataset = IndexMap<String, IndexMap<String, Value>>;

/// What must hold for a write to happen.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// No condition.
    Any,
    /// The entity must not exist (create).
    Absent,
    /// The entity must exist.
    Present,
    /// The entity must still equal this value (compare-and-set after a read).
    Equals(Value),
}

/// What happens to an entity's expiry on a put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// Keep the current expiry (none for a new entity). Updates use this.
    Keep,
    /// Never expire.
    Persist,
    /// Expire this many seconds from now.
    Seconds(u64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Put {
        entity: String,
        id: String,
        value: Value,
        ttl: Ttl,
        cond: Cond,
    },
    Delete {
        entity: String,
        id: String,
        cond: Cond,
    },
    /// Writes nothing: only its condition must hold (a referenced entity exists).
    Check {
        entity: String,
        id: String,
        cond: Cond,
    },
}

impl Write {
    pub fn entity(&self) -> &str {
        match self {
            Write::Put { entity, .. } | Write::Delete { entity, .. } | Write::Check { entity, .. } => entity,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Write::Put { id, .. } | Write::Delete { id, .. } | Write::Check { id, .. } => id,
        }
    }

    pub fn cond(&self) -> &Cond {
        match self {
            Write::Put { cond, .. } | Write::Delete { cond, .. } | Write::Check { cond, .. } => cond,
        }
    }
}

/// Writes applied all-or-nothing. Every condition is checked against the state before
/// the transaction; if any fails, nothing is written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transaction {
    pub writes: Vec<Write>,
}

impl Transaction {
    pub fn single(write: Write) -> Self {
        Transaction { writes: vec![write] }
    }
}

/// How a failed condition found the entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    Missing,
    Exists,
    Changed,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition of write number `index` did not hold; nothing was written.
    #[error("condition failed for {entity}/{id}: {found:?}")]
    ConditionFailed { index: usize, entity: String, id: String, found: Found },
    /// The backend cannot be reached or cannot write right now.
    #[error("storage backend unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A data file cannot be read back; it is left untouched.
    #[error("data file {path} is unreadable: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// Another process holds the data folder.
    #[error("data folder {path} is in use by another mockgate process")]
    InUse { path: PathBuf },
    #[error("cannot {action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The only storage interface. Implementations must make [`Store::commit`] atomic with
/// respect to every other call, including calls from other gateway instances when the
/// backend is shared.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Short backend name for logs and health: `memory`, `file`, `redis`.
    fn backend(&self) -> &'static str;

    /// The entity, or `None` when it does not exist or has expired.
    async fn get(&self, entity: &str, id: &str) -> Result<Option<Value>, StoreError>;

    /// One page of an entity type's live entities, in creation order unless sorted,
    /// with the total number that matched the filters.
    async fn list(&self, entity: &str, query: &ListQuery) -> Result<Page, StoreError>;

    /// Applies every write or none. Returns each write's previous value.
    async fn commit(&self, tx: Transaction) -> Result<Vec<Option<Value>>, StoreError>;

    /// The next value of the entity type's counter; never returns a number already
    /// used as a numeric id of that type, and survives restarts on durable backends.
    async fn next_id(&self, entity: &str) -> Result<u64, StoreError>;

    /// Entity types with their live counts, by name.
    async fn counts(&self) -> Result<Vec<(String, usize)>, StoreError>;

    /// Every live entity.
    async fn dump(&self) -> Result<Dataset, StoreError>;

    /// Replaces all data (reset, load, seed on first start) in one step.
    async fn replace_all(&self, data: Dataset) -> Result<(), StoreError>;

    /// Makes every acknowledged write durable now (`/system/save`).
    async fn flush(&self) -> Result<(), StoreError>;

    /// Replaces the data with what the backend's data file holds now (the embedded
    /// store's `db.json`, say after a hand edit). `false`: this backend has no file.
    async fn load(&self) -> Result<bool, StoreError> {
        Ok(false)
    }

    /// Backend details for `/system/health` (for Redis: version, memory, PING latency).
    /// An error means the backend is down.
    async fn info(&self) -> Result<Value, StoreError> {
        Ok(Value::Object(serde_json::Map::new()))
    }

    /// Stores a named snapshot (`{name, description, created_at, counts, data}`),
    /// replacing one of the same name. Every instance sharing the backend sees it.
    async fn put_snapshot(&self, name: &str, snapshot: Value) -> Result<(), StoreError>;

    async fn get_snapshot(&self, name: &str) -> Result<Option<Value>, StoreError>;

    /// Every snapshot without its data, by name.
    async fn snapshots(&self) -> Result<Vec<Value>, StoreError>;

    /// Whether a snapshot of that name existed.
    async fn delete_snapshot(&self, name: &str) -> Result<bool, StoreError>;

    /// Flushes and lets go of external resources (the data folder's lock); later
    /// writes fail with [`StoreError::Unavailable`]. Called once at shutdown.
    async fn close(&self) -> Result<(), StoreError> {
        self.flush().await
    }
}

/// The key under which an entity is stored, from its id value.
pub fn id_key(id: &Value) -> Option<String> {
    match id {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A snapshot's listing: everything but its data.
pub fn snapshot_meta(snapshot: &Value) -> Value {
    let mut meta = snapshot.clone();
    if let Value::Object(m) = &mut meta {
        m.shift_remove("data");
    }
    meta
}

/// The listing of the named snapshots, sorted by name (backends differ only in how
/// they find the names).
async fn snapshot_listing(store: &dyn Store, mut names: Vec<String>) -> Result<Vec<Value>, StoreError> {
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        if let Some(s) = store.get_snapshot(&name).await? {
            out.push(snapshot_meta(&s));
        }
    }
    Ok(out)
}
