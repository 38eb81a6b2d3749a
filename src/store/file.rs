//! The embedded, file-backed backend: the memory engine plus a data folder.
//!
//! `db.json` in the folder is a human-readable snapshot: pretty-printed, entity types
//! sorted by name, entities in creation order, so it diffs well in git. Writes are
//! applied in memory and the snapshot is rewritten shortly after (debounced) by one
//! writer thread, and at shutdown (`flush`). Every snapshot is written atomically:
//! temp file in the same folder, fsync, rename, fsync of the folder. A snapshot that
//! cannot be parsed stops the start with its path and the parser's line and column,
//! and is never overwritten. The folder is locked so two processes cannot share it.

use super::memory::{Row, State};
use super::{Clock, Dataset, ListQuery, MemoryStore, Page, Store, StoreError, Transaction};
use async_trait::async_trait;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long the writer waits for more writes before rewriting `db.json`.
const DEBOUNCE: Duration = Duration::from_millis(50);
const FORMAT: &str = "mockgate/1";
pub const SNAPSHOT_FILE: &str = "db.json";

/// `db.json` as written on disk.
#[derive(Serialize, Deserialize)]
struct DbFile {
    format: String,
    entities: BTreeMap<String, IndexMap<String, Arc<Value>>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    sequences: BTreeMap<String, u64>,
    /// Epoch milliseconds at which entities with a TTL expire.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    expires_at: BTreeMap<String, BTreeMap<String, u64>>,
}

struct Shared {
    mem: MemoryStore,
    dir: PathBuf,
    /// Bumped by every write; the writer skips a snapshot when nothing changed.
    generation: AtomicU64,
    written: Mutex<u64>,
    /// The data folder's lock, held until [`Store::close`]; the OS releases it if the
    /// process dies.
    lock: Mutex<Option<File>>,
}

/// The `file` backend.
pub struct FileStore {
    shared: Arc<Shared>,
    wake: SyncSender<()>,
}

impl FileStore {
    /// Opens (creating if needed) the data folder. Returns the store and whether a
    /// snapshot already existed, so the caller seeds only a fresh folder.
    pub fn open(dir: &Path, clock: Arc<dyn Clock>) -> Result<(FileStore, bool), StoreError> {
        fs::create_dir_all(dir).map_err(|source| StoreError::Io { action: "create", path: dir.to_owned(), source })?;
        let lock_path = dir.join(".lock");
        let lock = File::create(&lock_path).map_err(|source| StoreError::Io {
            action: "create",
            path: lock_path.clone(),
            source,
        })?;
        if lock.try_lock().is_err() {
            return Err(StoreError::InUse { path: dir.to_owned() });
        }
        let path = dir.join(SNAPSHOT_FILE);
        let (state, existed) = match fs::read_to_string(&path) {
            Ok(text) => (parse(&path, &text)?, true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (State::default(), false),
            Err(source) => {
                return Err(StoreError::Io { action: "read", path, source });
            }
        };
        let shared = Arc::new(Shared {
            mem: MemoryStore::with_state(state, clock),
            dir: dir.to_owned(),
            generation: AtomicU64::new(0),
            written: Mutex::new(0),
            lock: Mutex::new(Some(lock)),
        });
        let (wake, sleep) = mpsc::sync_channel::<()>(1);
        let writer = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("mockgate-file-writer".into())
            .spawn(move || {
                // Ends when the store is dropped (the sender goes away). The pause
                // grows with the cost of the last snapshot, so rewriting a large
                // data set takes at most about a fifth of the time under steady writes.
                let mut last_cost = Duration::ZERO;
                while sleep.recv().is_ok() {
                    std::thread::sleep(DEBOUNCE.max(last_cost * 4));
                    while sleep.try_recv().is_ok() {}
                    let started = std::time::Instant::now();
                    if let Err(e) = writer.write_snapshot() {
                        tracing::error!(error = %e, "failed to write the data snapshot; will retry on the next write");
                    }
                    last_cost = started.elapsed();
                }
            })
            .map_err(|source| StoreError::Io { action: "start writer for", path: dir.to_owned(), source })?;
        Ok((FileStore { shared, wake }, existed))
    }

    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    fn ensure_open(&self) -> Result<(), StoreError> {
        if self.shared.lock.lock().unwrap_or_else(|p| p.into_inner()).is_none() {
            return Err(StoreError::Unavailable("the file store is closed".into()));
        }
        Ok(())
    }

    fn changed(&self) {
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        // A full channel already means "a snapshot is coming".
        let _ = self.wake.try_send(());
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        if let Err(e) = self.shared.write_snapshot() {
            tracing::error!(error = %e, "failed to write the final data snapshot");
        }
    }
}

fn parse(path: &Path, text: &str) -> Result<State, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { path: path.to_owned(), reason };
    let db: DbFile = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
    if db.format != FORMAT {
        return Err(corrupt(format!("unknown format {:?}, expected {FORMAT:?}", db.format)));
    }
    let mut state = State { sequences: db.sequences, ..State::default() };
    for (entity, rows) in db.entities {
        let expiry = db.expires_at.get(&entity);
        let table = rows
            .into_iter()
            .map(|(id, value)| {
                let expires_at = expiry.and_then(|e| e.get(&id)).copied();
                (id, Row { value, expires_at })
            })
            .collect();
        state.tables.insert(entity, table);
    }
    Ok(state)
}

impl Shared {
    /// Writes the current state if it changed since the last snapshot. Serialised by
    /// the `written` lock so an older snapshot can never be renamed over a newer one.
    fn write_snapshot(&self) -> Result<(), StoreError> {
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        let generation = self.generation.load(Ordering::SeqCst);
        if generation == *written {
            return Ok(());
        }
        let now = self.mem.now();
        let mut state = self.mem.lock().clone();
        state.purge_expired(now);
        let mut db = DbFile {
            format: FORMAT.to_owned(),
            entities: BTreeMap::new(),
            sequences: state.sequences,
            expires_at: BTreeMap::new(),
        };
        for (entity, rows) in state.tables {
            let mut expiry = BTreeMap::new();
            let mut values = IndexMap::with_capacity(rows.len());
            for (id, row) in rows {
                if let Some(t) = row.expires_at {
                    expiry.insert(id.clone(), t);
                }
                values.insert(id, row.value);
            }
            if !expiry.is_empty() {
                db.expires_at.insert(entity.clone(), expiry);
            }
            db.entities.insert(entity, values);
        }
        let mut bytes = serde_json::to_vec_pretty(&db).expect("JSON values always serialise");
        bytes.push(b'\n');
        write_atomically(&self.dir, SNAPSHOT_FILE, &bytes)?;
        *written = generation;
        Ok(())
    }
}

/// Temp file in the same folder, fsync, rename over the target, fsync the folder.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let target = dir.join(name);
    let io = |action: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::Io { action, path, source }
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io("create a temporary file in", dir))?;
    tmp.write_all(bytes).map_err(io("write", tmp.path()))?;
    // tempfile creates files private to the owner; a data file is an ordinary file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))
            .map_err(io("set permissions on", tmp.path()))?;
    }
    tmp.as_file().sync_all().map_err(io("sync", &target))?;
    tmp.persist(&target).map_err(|e| StoreError::Io { action: "replace", path: target.clone(), source: e.error })?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io("sync", dir))?;
    Ok(())
}

#[async_trait]
impl Store for FileStore {
    fn backend(&self) -> &'static str {
        "file"
    }

    async fn get(&self, entity: &str, id: &str) -> Result<Option<Value>, StoreError> {
        self.shared.mem.get(entity, id).await
    }

    async fn list(&self, entity: &str, query: &ListQuery) -> Result<Page, StoreError> {
        self.shared.mem.list(entity, query).await
    }

    async fn commit(&self, tx: Transaction) -> Result<Vec<Option<Value>>, StoreError> {
        self.ensure_open()?;
        let previous = self.shared.mem.commit_sync(tx)?;
        self.changed();
        Ok(previous)
    }

    async fn next_id(&self, entity: &str) -> Result<u64, StoreError> {
        self.ensure_open()?;
        let id = self.shared.mem.next_id_sync(entity);
        self.changed();
        Ok(id)
    }

    async fn counts(&self) -> Result<Vec<(String, usize)>, StoreError> {
        self.shared.mem.counts().await
    }

    async fn dump(&self) -> Result<Dataset, StoreError> {
        Ok(self.shared.mem.dump_sync())
    }

    async fn replace_all(&self, data: Dataset) -> Result<(), StoreError> {
        self.ensure_open()?;
        self.shared.mem.replace_sync(data);
        self.changed();
        Ok(())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || shared.write_snapshot())
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.flush().await?;
        // Dropping the file releases the lock for the next process.
        self.shared.lock.lock().unwrap_or_else(|p| p.into_inner()).take();
        Ok(())
    }
}
