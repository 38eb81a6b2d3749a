//! The storage interface and its backends.
//!
//! [`Store`] is deliberately small: point reads, list queries, and one write
//! primitive, [`Store::commit`], that applies a [`Transaction`] of conditional puts and
//! deletes all-or-nothing. Every persistence feature (create-if-absent, updates that
//! must not lose a concurrent write, atomic multi-entity operations) is expressed as
//! conditions on such a transaction, so each backend implements the semantics once,
//! in one place, and the persistence actions above it stay backend-agnostic.
//!
//! Backends:
//! - [`MemoryStore`]: everything in memory under one short lock (tests, `--no-persistence`);
//! - [`FileStore`]: the memory engine plus a pretty-printed `db.json` written atomically;
//! - [`RedisStore`]: shared state for many gateway instances, one Lua script per commit.

mod doc;
mod file;
mod index;
pub use index::DeclaredIndexes;
mod log;
mod memory;
mod open;
mod query;
mod redis;

pub use file::{FileStore, write_atomically};
pub use log::SharedLog;
pub(crate) use memory::lock;
pub use memory::{Clock, ManualClock, MemoryStore, SystemClock, TestClock};

pub use open::{BackendChoice, BackendKind, OpenError, OpenRequest, Opened, Spaces, open};
pub use query::{ListQuery, Page, Sort, SortKey};
pub use redis::{Keys, RedisStore, redacted};

use async_trait::async_trait;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
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
    /// The backend went away while a write was under way: it may or may not have been
    /// applied, so a client should read before it retries.
    #[error("storage backend became unavailable during the write, which may have been applied; read before retrying")]
    Indeterminate(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A value nests deeper than [`MAX_DEPTH`] at `path`; nothing was written.
    #[error("{entity} {id:?} nests deeper than {MAX_DEPTH} levels at {path}")]
    TooDeep { entity: String, id: String, path: String },
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

    /// Applies every write or none.
    async fn commit(&self, tx: Transaction) -> Result<(), StoreError>;

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

    /// Stores a named snapshot, replacing one of the same name. Every instance
    /// sharing the backend sees it.
    async fn put_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError>;

    async fn get_snapshot(&self, name: &str) -> Result<Option<Snapshot>, StoreError>;

    /// Every snapshot's description (without its data), by name.
    async fn snapshots(&self) -> Result<Vec<SnapshotMeta>, StoreError>;

    /// Whether a snapshot of that name existed.
    async fn delete_snapshot(&self, name: &str) -> Result<bool, StoreError>;

    /// Flushes and lets go of external resources (the data folder's lock); later
    /// writes fail with [`StoreError::Unavailable`]. Called once at shutdown.
    async fn close(&self) -> Result<(), StoreError> {
        self.flush().await
    }

    /// The namespace's clock changed (`/system/clock`). Stores that expire entries by
    /// the clock they were given need nothing; Redis, which expires keys by its own
    /// time, moves every expiry to match, so that nothing vanishes while the clock says
    /// it lives and everything is gone once the clock says it expired.
    async fn clock_changed(&self, _change: ClockChange) -> Result<(), StoreError> {
        Ok(())
    }
}

/// How a namespace's clock moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockChange {
    /// Forward (or, for `set` and a reset, backward) by this many milliseconds.
    Shift(i64),
    /// Stopped: nothing may expire until it runs again.
    Freeze,
    /// Running again.
    Thaw,
}

/// The key under which an entity is stored, from its id value.
pub fn id_key(id: &Value) -> Option<String> {
    match id {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The deepest nesting a stored value may have (objects and arrays inside each other).
/// Every wrapper a backend puts around a value on its way to disk or Redis (a journal
/// line, `db.json`, a snapshot) adds at most six levels, so whatever is stored reads
/// back well within the JSON reader's limit of 128: one rule, checked at every write.
pub const MAX_DEPTH: usize = 64;

/// The JSON pointer of the first value nested deeper than [`MAX_DEPTH`], if any.
pub fn too_deep(v: &Value) -> Option<String> {
    fn walk(v: &Value, depth: usize, at: &mut Vec<String>) -> bool {
        let children: Box<dyn Iterator<Item = (String, &Value)>> = match v {
            Value::Object(m) => Box::new(m.iter().map(|(k, v)| (k.replace('~', "~0").replace('/', "~1"), v))),
            Value::Array(items) => Box::new(items.iter().enumerate().map(|(i, v)| (i.to_string(), v))),
            _ => return false,
        };
        if depth + 1 > MAX_DEPTH {
            return true;
        }
        for (key, child) in children {
            at.push(key);
            if walk(child, depth + 1, at) {
                return true;
            }
            at.pop();
        }
        false
    }
    let mut at = Vec::new();
    walk(v, 0, &mut at).then(|| at.iter().map(|k| format!("/{k}")).collect())
}

/// Refuses a write whose value nests deeper than [`MAX_DEPTH`].
fn check_depth<'a>(writes: impl IntoIterator<Item = (&'a str, &'a str, &'a Value)>) -> Result<(), StoreError> {
    for (entity, id, value) in writes {
        if let Some(path) = too_deep(value) {
            return Err(StoreError::TooDeep { entity: entity.to_owned(), id: id.to_owned(), path });
        }
    }
    Ok(())
}

impl StoreError {
    /// The backend could not be reached or could not finish: 503, retry later.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_) | StoreError::Indeterminate(_))
    }
}

impl Transaction {
    /// [`check_depth`] over every put.
    fn check_depth(&self) -> Result<(), StoreError> {
        check_depth(self.writes.iter().filter_map(|w| match w {
            Write::Put { entity, id, value, .. } => Some((entity.as_str(), id.as_str(), value)),
            _ => None,
        }))
    }
}

/// [`check_depth`] over a whole data set.
fn check_dataset_depth(data: &Dataset) -> Result<(), StoreError> {
    check_depth(data.iter().flat_map(|(e, rows)| rows.iter().map(move |(id, v)| (e.as_str(), id.as_str(), v))))
}

/// Whether `name` can name an entity type: letters, digits, `_`, `-` and `.`, at most
/// 128 characters. Every key layout relies on it.
pub fn valid_entity_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 128 && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// The one rule for ids that move an entity type's counter: a decimal number without
/// a leading zero and of at most 15 digits (so that Redis's Lua, whose numbers are
/// doubles, reads it exactly). `"007"`, `"0"` and 16-digit ids are names, not numbers.
/// The Redis commit script is handed the number this gives, never the rule.
pub fn numeric_id(id: &str) -> Option<u64> {
    let b = id.as_bytes();
    let ok = (1..=15).contains(&b.len()) && b[0] != b'0' && b.iter().all(u8::is_ascii_digit);
    if ok { id.parse().ok() } else { None }
}

/// A snapshot's description: everything but its data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub created_at: String,
    /// User entity types with their counts when it was taken.
    #[serde(default)]
    pub counts: IndexMap<String, usize>,
}

/// A named copy of all data (`/system/snapshots`), stored by the backend itself so
/// that every instance sharing it sees the same snapshots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    #[serde(flatten)]
    pub meta: SnapshotMeta,
    pub data: Dataset,
}

/// The listing of the named snapshots, sorted by name (backends differ only in how
/// they find the names).
async fn snapshot_listing(store: &dyn Store, mut names: Vec<String>) -> Result<Vec<SnapshotMeta>, StoreError> {
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        match store.get_snapshot(&name).await {
            Ok(Some(s)) => out.push(s.meta),
            Ok(None) => {}
            // One unreadable snapshot (say, edited by hand) must not hide the others.
            Err(e @ StoreError::Corrupt { .. }) => {
                tracing::warn!(snapshot = %name, error = %crate::telemetry::error_chain(&e), "skipping an unreadable snapshot");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> Value {
        (0..levels).fold(serde_json::json!(1), |inner, i| {
            if i % 2 == 0 { serde_json::json!([inner]) } else { serde_json::json!({"a/b": inner}) }
        })
    }

    #[test]
    fn values_may_nest_up_to_the_limit() {
        assert_eq!(too_deep(&nested(MAX_DEPTH)), None);
        let path = too_deep(&nested(MAX_DEPTH + 1)).expect("one level too deep");
        assert_eq!(path.matches('/').count(), MAX_DEPTH, "{path}");
        assert!(path.starts_with("/0/a~1b/0/"), "keys are escaped as JSON pointers: {path}");
        assert_eq!(too_deep(&serde_json::json!("flat")), None);
    }

    #[test]
    fn numeric_ids_are_canonical_decimals_of_at_most_15_digits() {
        let cases = [
            ("1", Some(1)),
            ("42", Some(42)),
            ("999999999999999", Some(999_999_999_999_999)),
            ("1000000000000000", None),
            ("007", None),
            ("0", None),
            ("", None),
            ("-3", None),
            ("+3", None),
            ("3a", None),
            ("٣", None),
        ];
        for (id, want) in cases {
            assert_eq!(numeric_id(id), want, "{id:?}");
        }
    }

    #[test]
    fn snapshots_keep_their_file_format() {
        let mut data = Dataset::new();
        data.entry("users".into()).or_default().insert("1".into(), serde_json::json!({"id": 1}));
        let meta = SnapshotMeta {
            name: "s".into(),
            description: "d".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            counts: [("users".to_owned(), 1)].into_iter().collect(),
        };
        let text = serde_json::to_string(&Snapshot { meta, data }).unwrap();
        assert_eq!(
            text,
            r#"{"name":"s","description":"d","created_at":"2026-01-01T00:00:00Z","counts":{"users":1},"data":{"users":{"1":{"id":1}}}}"#
        );
        let back: Snapshot = serde_json::from_str(&text).unwrap();
        assert_eq!(back.meta.counts["users"], 1);
    }
}
