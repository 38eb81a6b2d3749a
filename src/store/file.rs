//! The embedded, file-backed backend: the memory engine plus a data folder.
//!
//! Two files make it durable:
//! - `journal-<n>.jsonl`: one JSON line per write, appended by a writer thread that
//!   fsyncs each batch of queued lines at once (group commit). A write is acknowledged
//!   only once its line is on disk, so it survives `kill -9`. Lines are queued while
//!   the engine's lock is held, so the journal order is the order writes were applied,
//!   and the handler's future may be dropped without losing an applied write.
//! - `db.json`: a human-readable snapshot (pretty-printed with one entity per line,
//!   entity types sorted, entities in creation order, so it diffs well in git), rewritten off the request
//!   path once a second has passed and the journal has grown by half of its size
//!   (whichever comes later, so its cost per write does not grow with the data), and
//!   at shutdown, atomically (temp file, fsync, rename, fsync of the folder). It
//!   records the last journal sequence number it contains.
//!
//! Compaction: before a snapshot the journal moves to a new segment; once the
//! snapshot is on disk the older segments are deleted. On start the snapshot is read
//! and every journal line with a higher sequence number is replayed, so replay is
//! idempotent. A torn last line (a crash mid-write) is dropped; any other unreadable
//! line or snapshot stops the start with the file, line and reason, and nothing is
//! overwritten. The folder is locked so two processes cannot share it.

use super::doc::Doc;
use super::memory::{State, lock};
use super::{Clock, Dataset, ListQuery, MemoryStore, Page, Snapshot, SnapshotMeta, Store, StoreError, Transaction};
use async_trait::async_trait;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Shortest pause between snapshots; it grows with the cost of the last snapshot.
const DEBOUNCE: Duration = Duration::from_millis(1000);
const FORMAT: &str = "mockgate/1";
pub const SNAPSHOT_FILE: &str = "db.json";
/// How temporary files of atomic writes begin; a crash may leave one behind.
const TMP_PREFIX: &str = ".tmp";

/// `db.json` as written on disk.
#[derive(Serialize, Deserialize)]
struct DbFile {
    format: String,
    /// The last journal line this snapshot contains.
    #[serde(default)]
    seq: u64,
    entities: BTreeMap<String, IndexMap<String, Doc>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    sequences: BTreeMap<String, u64>,
    /// Epoch milliseconds at which entities with a TTL expire.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    expires_at: BTreeMap<String, BTreeMap<String, u64>>,
}

/// One journal line: the effects of one write, as they were applied.
#[derive(Serialize, Deserialize)]
struct Line {
    seq: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ops: Vec<Op>,
    /// Everything replaced (reset, load, seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reset: Option<BTreeMap<String, IndexMap<String, Doc>>>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Op {
    Put { e: String, id: String, v: Doc, x: Option<u64> },
    Del { e: String, id: String },
    Seq { e: String, n: u64 },
}

enum JournalMsg {
    Line(u64, Vec<u8>),
    /// Start a new segment; answers with its number.
    Rotate(SyncSender<u64>),
}

struct Shared {
    mem: MemoryStore,
    dir: PathBuf,
    /// The last journal sequence number handed out (under the engine's lock).
    seq: AtomicU64,
    /// The journal writer's queue; taken when the store is dropped, which ends the writer.
    journal: Mutex<Option<Sender<JournalMsg>>>,
    /// The last sequence number on disk, for acknowledgements.
    durable: tokio::sync::watch::Sender<u64>,
    /// Set when the journal cannot be written; writes then fail.
    broken: AtomicBool,
    /// Journal bytes queued since the store opened: the snapshot writer waits for
    /// enough of them to be worth a rewrite.
    journaled: AtomicU64,
    /// The snapshot's sequence number; the snapshot writer skips when unchanged.
    written: Mutex<u64>,
    /// The data folder's lock, held until [`Store::close`]; the OS releases it if the
    /// process dies.
    lock: Mutex<Option<File>>,
    /// Entity types that never reach the disk (`persistent: false`).
    transient: HashSet<String>,
}

/// The `file` backend. Dropping it writes the final snapshot and ends both of its
/// threads (the snapshot writer first, then the journal writer once its queue is
/// written), so nothing of a store outlives it.
pub struct FileStore {
    shared: Arc<Shared>,
    /// Wakes the snapshot writer; dropping it ends that thread.
    wake: Option<SyncSender<()>>,
    snapshotter: Option<std::thread::JoinHandle<()>>,
    journal_writer: Option<std::thread::JoinHandle<()>>,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_owned();
    move |source| StoreError::Io { action, path, source }
}

impl FileStore {
    /// Opens (creating if needed) the data folder and recovers its state. Returns the
    /// store and whether any data existed, so the caller seeds only a fresh folder.
    pub fn open(dir: &Path, clock: Arc<dyn Clock>) -> Result<(FileStore, bool), StoreError> {
        Self::open_with(dir, clock, HashSet::new())
    }

    /// See [`MemoryStore::declare_indexes`].
    pub fn declare_indexes(&self, declared: super::DeclaredIndexes) {
        self.shared.mem.declare_indexes(declared);
    }

    /// [`FileStore::open`], keeping the `transient` entity types in memory only.
    pub fn open_with(
        dir: &Path,
        clock: Arc<dyn Clock>,
        transient: HashSet<String>,
    ) -> Result<(FileStore, bool), StoreError> {
        fs::create_dir_all(dir).map_err(io("create", dir))?;
        let lock_path = dir.join(".lock");
        let lock = File::create(&lock_path).map_err(io("create", &lock_path))?;
        if lock.try_lock().is_err() {
            return Err(StoreError::InUse { path: dir.to_owned() });
        }
        remove_leftovers(dir)?;
        remove_leftovers(&dir.join("snapshots"))?;
        let path = dir.join(SNAPSHOT_FILE);
        let (mut state, mut seq, mut existed) = match fs::read_to_string(&path) {
            Ok(text) => {
                let (state, seq) = parse(&path, &text)?;
                (state, seq, true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (State::default(), 0, false),
            Err(source) => return Err(StoreError::Io { action: "read", path, source }),
        };
        let segments = segments(dir)?;
        existed |= !segments.is_empty();
        for (i, (_, segment)) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            seq = seq.max(replay(segment, &mut state, seq, last)?);
        }
        let next_segment = segments.last().map_or(1, |(n, _)| n + 1);
        let journal_path = segment_path(dir, next_segment);
        let journal =
            OpenOptions::new().create(true).append(true).open(&journal_path).map_err(io("create", &journal_path))?;

        let (journal_tx, journal_rx) = mpsc::channel::<JournalMsg>();
        let (durable, _) = tokio::sync::watch::channel(seq);
        let shared = Arc::new(Shared {
            mem: MemoryStore::with_state(state, clock),
            dir: dir.to_owned(),
            seq: AtomicU64::new(seq),
            journal: Mutex::new(Some(journal_tx)),
            durable,
            broken: AtomicBool::new(false),
            journaled: AtomicU64::new(0),
            written: Mutex::new(seq),
            lock: Mutex::new(Some(lock)),
            transient,
        });
        let writer = Arc::clone(&shared);
        let journal_writer = std::thread::Builder::new()
            .name("mockgate-journal".into())
            .spawn(move || writer.journal_loop(journal, next_segment, journal_rx))
            .map_err(io("start the journal writer for", dir))?;

        let (wake, sleep) = mpsc::sync_channel::<()>(1);
        let snapshotter = Arc::clone(&shared);
        let snapshotter = std::thread::Builder::new()
            .name("mockgate-snapshot".into())
            .spawn(move || snapshotter.snapshot_loop(&sleep))
            .map_err(io("start the snapshot writer for", dir))?;
        let store = FileStore {
            shared,
            wake: Some(wake),
            snapshotter: Some(snapshotter),
            journal_writer: Some(journal_writer),
        };
        Ok((store, existed))
    }

    fn ensure_open(&self) -> Result<(), StoreError> {
        if lock(&self.shared.lock).is_none() {
            return Err(StoreError::Unavailable("the file store is closed".into()));
        }
        if self.shared.broken.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("the journal cannot be written; see the server log".into()));
        }
        Ok(())
    }

    /// Waits until journal line `seq` is on disk.
    async fn durable(&self, seq: u64) -> Result<(), StoreError> {
        if let Some(wake) = &self.wake {
            let _ = wake.try_send(());
        }
        let mut rx = self.shared.durable.subscribe();
        let broken = &self.shared.broken;
        let _ = rx.wait_for(|done| *done >= seq || broken.load(Ordering::SeqCst)).await;
        if *rx.borrow() >= seq {
            Ok(())
        } else {
            // Applied in memory, but not durable.
            Err(StoreError::Indeterminate("the journal cannot be written; see the server log".into()))
        }
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        // The snapshot writer first (it may be rotating the journal), then the final
        // snapshot, then the journal writer, which drains its queue before it ends.
        self.wake.take();
        if let Some(t) = self.snapshotter.take() {
            let _ = t.join();
        }
        if let Err(e) = self.shared.write_snapshot() {
            tracing::error!(error = %crate::telemetry::error_chain(&e), "failed to write the final data snapshot");
        }
        lock(&self.shared.journal).take();
        if let Some(t) = self.journal_writer.take() {
            let _ = t.join();
        }
    }
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("journal-{n:06}.jsonl"))
}

/// Journal segments in order.
fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io("list", dir))? {
        let entry = entry.map_err(io("list", dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(n) =
            name.strip_prefix("journal-").and_then(|r| r.strip_suffix(".jsonl")).and_then(|n| n.parse().ok())
        {
            out.push((n, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Applies a segment's lines above `after`; returns the highest sequence number seen.
fn replay(path: &Path, state: &mut State, after: u64, last_segment: bool) -> Result<u64, StoreError> {
    let text = fs::read_to_string(path).map_err(io("read", path))?;
    let mut top = after;
    let mut offset = 0u64;
    let mut lines = text.split_inclusive('\n').enumerate().peekable();
    while let Some((i, raw)) = lines.next() {
        let complete = raw.ends_with('\n');
        let line: Line = match serde_json::from_str(raw.trim_end()) {
            Ok(l) => l,
            // A crash mid-append leaves one torn line at the very end: it was never
            // acknowledged, so it is dropped, and cut off the file so that the next
            // start (which appends to a newer segment) does not meet it again.
            Err(_) if !complete && last_segment && lines.peek().is_none() => {
                tracing::warn!(path = %path.display(), line = i + 1, "dropping a torn last journal line (never acknowledged)");
                truncate(path, offset)?;
                break;
            }
            Err(e) => {
                return Err(StoreError::Corrupt { path: path.to_owned(), reason: format!("line {}: {e}", i + 1) });
            }
        };
        offset += raw.len() as u64;
        if line.seq <= after {
            continue;
        }
        top = top.max(line.seq);
        if let Some(tables) = line.reset {
            *state = State::from_docs(tables);
        }
        for op in line.ops {
            match op {
                Op::Put { e, id, v, x } => {
                    state.note_numeric_id(&e, &id);
                    state.put_row(&e, id, v, x);
                }
                Op::Del { e, id } => {
                    if let Some(t) = state.tables.get_mut(&e) {
                        t.shift_remove(&id);
                    }
                }
                Op::Seq { e, n } => {
                    let s = state.sequences.entry(e).or_insert(0);
                    *s = (*s).max(n);
                }
            }
        }
    }
    Ok(top)
}

/// Cuts `path` to its first `len` bytes, durably.
fn truncate(path: &Path, len: u64) -> Result<(), StoreError> {
    let file = OpenOptions::new().write(true).open(path).map_err(io("open", path))?;
    file.set_len(len).map_err(io("truncate", path))?;
    file.sync_all().map_err(io("sync", path))
}

/// Temporary files a crash left behind in `dir` (`write_atomically` names them
/// [`TMP_PREFIX`]…): never part of the data, removed at start.
fn remove_leftovers(dir: &Path) -> Result<(), StoreError> {
    let Ok(entries) = fs::read_dir(dir) else { return Ok(()) };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) && path.is_file() {
            tracing::info!(path = %path.display(), "removing a temporary file left by an interrupted write");
            fs::remove_file(&path).map_err(io("remove", &path))?;
        }
    }
    Ok(())
}

fn parse(path: &Path, text: &str) -> Result<(State, u64), StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { path: path.to_owned(), reason };
    let db: DbFile = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
    if db.format != FORMAT {
        return Err(corrupt(format!("unknown format {:?}, expected {FORMAT:?}", db.format)));
    }
    let mut state = State { sequences: db.sequences, ..State::default() };
    for (entity, rows) in db.entities {
        let expiry = db.expires_at.get(&entity);
        state.tables.insert(entity.clone(), IndexMap::with_capacity(rows.len()));
        for (id, value) in rows {
            let expires_at = expiry.and_then(|e| e.get(&id)).copied();
            state.put_row(&entity, id, value, expires_at);
        }
    }
    Ok((state, db.seq))
}

impl Shared {
    /// Queues a journal line; called with the engine's lock held.
    fn queue(&self, line: Line) -> u64 {
        let mut bytes = serde_json::to_vec(&line).expect("JSON values always serialise");
        bytes.push(b'\n');
        self.journaled.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let sender = lock(&self.journal);
        if sender.as_ref().is_none_or(|s| s.send(JournalMsg::Line(line.seq, bytes)).is_err()) {
            self.broken.store(true, Ordering::SeqCst);
        }
        line.seq
    }

    fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The snapshot writer: after a write wakes it, waits out the debounce pause and
    /// until the journal has grown by half the last snapshot's size (whichever comes
    /// later), then writes a snapshot. The pause grows with the cost of the last
    /// snapshot, so rewriting a large data set takes at most about a fifth of the time
    /// under steady writes; the size rule makes the rewrite's cost per write constant,
    /// however much is stored (every write is in the journal meanwhile, and a restart
    /// replays at most half a snapshot's worth of it). Ends as soon as the store lets
    /// go of the waking side.
    fn snapshot_loop(&self, wakes: &mpsc::Receiver<()>) {
        let mut last_cost = Duration::ZERO;
        let (mut since, mut need) = (0u64, 0u64);
        while wakes.recv().is_ok() {
            while self.journaled.load(Ordering::Relaxed).saturating_sub(since) < need {
                if wakes.recv().is_err() {
                    return;
                }
            }
            let until = std::time::Instant::now() + DEBOUNCE.max(last_cost * 4);
            loop {
                match wakes.recv_timeout(until.saturating_duration_since(std::time::Instant::now())) {
                    Ok(()) => continue,
                    Err(mpsc::RecvTimeoutError::Timeout) => break,
                    // The store is being dropped; it writes the final snapshot itself.
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
            let started = std::time::Instant::now();
            let at = self.journaled.load(Ordering::Relaxed);
            match self.write_snapshot() {
                Ok(size) => (since, need) = (at, size / 2),
                Err(e) => {
                    tracing::error!(error = %crate::telemetry::error_chain(&e), "failed to write the data snapshot; the journal keeps every write");
                }
            }
            last_cost = started.elapsed();
        }
    }

    /// The journal writer: appends queued lines, fsyncs each batch once, then tells the
    /// waiting writers (group commit).
    fn journal_loop(&self, mut file: File, mut segment: u64, rx: mpsc::Receiver<JournalMsg>) {
        while let Ok(first) = rx.recv() {
            let mut top = 0;
            let mut rotations = Vec::new();
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            let mut result = Ok(());
            for msg in batch {
                match msg {
                    JournalMsg::Line(seq, bytes) => {
                        result = result.and_then(|()| file.write_all(&bytes));
                        top = top.max(seq);
                    }
                    JournalMsg::Rotate(ack) => rotations.push(ack),
                }
            }
            let result = result.and_then(|()| file.sync_data());
            if let Err(e) = result {
                tracing::error!(error = %e, "cannot write the journal; refusing further writes");
                self.broken.store(true, Ordering::SeqCst);
                self.durable.send_modify(|_| {});
                continue;
            }
            if top > 0 {
                self.durable.send_modify(|d| *d = (*d).max(top));
            }
            if !rotations.is_empty() {
                segment += 1;
                let path = segment_path(&self.dir, segment);
                match OpenOptions::new().create(true).append(true).open(&path) {
                    Ok(f) => file = f,
                    Err(e) => {
                        tracing::error!(error = %e, path = %path.display(), "cannot start a journal segment");
                        segment -= 1;
                    }
                }
                for ack in rotations {
                    let _ = ack.send(segment);
                }
            }
        }
    }

    /// Writes the current state if it changed since the last snapshot, then drops the
    /// journal segments it made redundant. Serialised by the `written` lock so an
    /// older snapshot can never be renamed over a newer one.
    /// Answers the snapshot's size in bytes (0 when nothing changed).
    fn write_snapshot(&self) -> Result<u64, StoreError> {
        let mut written = lock(&self.written);
        if self.seq.load(Ordering::SeqCst) == *written {
            return Ok(0);
        }
        // Everything journaled so far lands in segments older than `current`.
        let (ack, answer) = mpsc::sync_channel(1);
        let sent = lock(&self.journal).as_ref().is_some_and(|s| s.send(JournalMsg::Rotate(ack)).is_ok());
        let current = if sent { answer.recv().ok() } else { None };
        let now = self.mem.now();
        let (mut state, seq) = {
            let guard = self.mem.lock();
            // Read under the engine's lock: every line up to `seq` is applied in this copy.
            (guard.clone(), self.seq.load(Ordering::SeqCst))
        };
        state.purge_expired(now);
        let mut db = DbFile {
            format: FORMAT.to_owned(),
            seq,
            entities: BTreeMap::new(),
            sequences: state.sequences,
            expires_at: BTreeMap::new(),
        };
        for (entity, rows) in state.tables {
            if self.transient.contains(&entity) {
                continue;
            }
            let mut expiry = BTreeMap::new();
            let mut values = IndexMap::with_capacity(rows.len());
            for (id, row) in rows {
                if let Some(t) = row.expires_at() {
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
        *written = seq;
        if let Some(current) = current {
            for (n, path) in segments(&self.dir)? {
                if n < current {
                    fs::remove_file(&path).map_err(io("remove", &path))?;
                }
            }
        }
        Ok(bytes.len() as u64)
    }
}

/// Temp file in the same folder, fsync, rename over the target, fsync the folder.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let target = dir.join(name);
    let mut tmp =
        tempfile::Builder::new().prefix(TMP_PREFIX).tempfile_in(dir).map_err(io("create a temporary file in", dir))?;
    tmp.write_all(bytes).map_err(io("write", tmp.path()))?;
    // tempfile creates files private to the owner; a data file is an ordinary file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(fs::Permissions::from_mode(0o644)).map_err(io("set permissions on", &target))?;
    }
    tmp.as_file().sync_all().map_err(io("sync", &target))?;
    tmp.persist(&target).map_err(|e| StoreError::Io { action: "replace", path: target.clone(), source: e.error })?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io("sync", dir))?;
    Ok(())
}

fn ops_for(state: &State, touched: &[(String, String)], transient: &HashSet<String>) -> Vec<Op> {
    touched
        .iter()
        .filter(|(e, _)| !transient.contains(e))
        .map(|(e, id)| match state.tables.get(e).and_then(|t| t.get(id)) {
            Some(row) => Op::Put { e: e.clone(), id: id.clone(), v: row.value.clone(), x: row.expires_at() },
            None => Op::Del { e: e.clone(), id: id.clone() },
        })
        .collect()
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

    async fn commit(&self, tx: Transaction) -> Result<(), StoreError> {
        self.ensure_open()?;
        let shared = &self.shared;
        let seq = shared.mem.commit_then(tx, |state, touched| {
            let line = Line { seq: shared.next_seq(), ops: ops_for(state, touched, &shared.transient), reset: None };
            shared.queue(line)
        })?;
        self.durable(seq).await
    }

    async fn next_id(&self, entity: &str) -> Result<u64, StoreError> {
        self.ensure_open()?;
        let shared = &self.shared;
        let (id, seq) = shared.mem.next_id_then(entity, |n| {
            let line = Line { seq: shared.next_seq(), ops: vec![Op::Seq { e: entity.to_owned(), n }], reset: None };
            shared.queue(line)
        });
        self.durable(seq).await?;
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
        let shared = &self.shared;
        let seq = shared.mem.replace_then(data, |state| {
            let tables = state
                .tables
                .iter()
                .filter(|(e, _)| !shared.transient.contains(*e))
                .map(|(e, rows)| (e.clone(), rows.iter().map(|(id, r)| (id.clone(), r.value.clone())).collect()))
                .collect();
            shared.queue(Line { seq: shared.next_seq(), ops: Vec::new(), reset: Some(tables) })
        })?;
        self.durable(seq).await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || shared.write_snapshot())
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?
            .map(drop)
    }

    async fn load(&self) -> Result<bool, StoreError> {
        let path = self.shared.dir.join(SNAPSHOT_FILE);
        let text = fs::read_to_string(&path).map_err(io("read", &path))?;
        let (state, _) = parse(&path, &text)?;
        let data: Dataset = state
            .tables
            .into_iter()
            .map(|(e, rows)| (e, rows.into_iter().map(|(id, r)| (id, r.value.value())).collect()))
            .collect();
        self.replace_all(data).await?;
        Ok(true)
    }

    async fn info(&self) -> Result<Value, StoreError> {
        Ok(serde_json::json!({"data_dir": self.shared.dir.display().to_string()}))
    }

    async fn put_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let dir = self.shared.dir.join("snapshots");
        fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        let mut bytes = serde_json::to_vec_pretty(snapshot).expect("JSON values always serialise");
        bytes.push(b'\n');
        let name = format!("{}.json", snapshot.meta.name);
        tokio::task::spawn_blocking(move || write_atomically(&dir, &name, &bytes))
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?
    }

    async fn get_snapshot(&self, name: &str) -> Result<Option<Snapshot>, StoreError> {
        let path = self.shared.dir.join("snapshots").join(format!("{name}.json"));
        match fs::read_to_string(&path) {
            Ok(text) => {
                serde_json::from_str(&text).map(Some).map_err(|e| StoreError::Corrupt { path, reason: e.to_string() })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Io { action: "read", path, source }),
        }
    }

    async fn snapshots(&self) -> Result<Vec<SnapshotMeta>, StoreError> {
        let dir = self.shared.dir.join("snapshots");
        let Ok(entries) = fs::read_dir(&dir) else { return Ok(Vec::new()) };
        let names: Vec<String> =
            entries.filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".json").map(str::to_owned)).collect();
        super::snapshot_listing(self, names).await
    }

    async fn delete_snapshot(&self, name: &str) -> Result<bool, StoreError> {
        let path = self.shared.dir.join("snapshots").join(format!("{name}.json"));
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(StoreError::Io { action: "remove", path, source }),
        }
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.flush().await?;
        // Dropping the file releases the lock for the next process.
        lock(&self.shared.lock).take();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Cond, Ttl, Write};

    #[tokio::test]
    async fn dropping_the_store_ends_its_threads_and_frees_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = FileStore::open(dir.path(), Arc::new(super::super::SystemClock)).unwrap();
        let put = Write::Put {
            entity: "notes".into(),
            id: "1".into(),
            value: serde_json::json!({"id": 1}),
            ttl: Ttl::Persist,
            cond: Cond::Absent,
        };
        store.commit(Transaction::single(put)).await.unwrap();
        let shared = Arc::downgrade(&store.shared);
        let threads =
            [store.snapshotter.as_ref().unwrap().thread().id(), store.journal_writer.as_ref().unwrap().thread().id()];
        assert_eq!(threads.len(), 2);
        drop(store);
        // Both threads held the shared state; it is gone, so they have ended.
        assert!(shared.upgrade().is_none(), "the store's threads or data outlived it");
        let text = fs::read_to_string(dir.path().join(SNAPSHOT_FILE)).unwrap();
        assert!(text.contains("\"notes\""), "the final snapshot was written: {text}");
        let (again, existed) = FileStore::open(dir.path(), Arc::new(super::super::SystemClock)).unwrap();
        assert!(existed);
        assert!(again.get("notes", "1").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn db_json_waits_for_half_its_size_of_journal_before_a_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = FileStore::open(dir.path(), Arc::new(super::super::SystemClock)).unwrap();
        let put = |i: usize| Write::Put {
            entity: "notes".into(),
            id: i.to_string(),
            value: serde_json::json!({"id": i, "text": "x".repeat(200)}),
            ttl: Ttl::Persist,
            cond: Cond::Absent,
        };
        let snapshot_seq = || -> u64 {
            fs::read_to_string(dir.path().join(SNAPSHOT_FILE))
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|v| v["seq"].as_u64())
                .unwrap_or(0)
        };
        let until = |cond: &dyn Fn() -> bool| {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while !cond() {
                assert!(std::time::Instant::now() < deadline, "no snapshot came: at {}", snapshot_seq());
                std::thread::sleep(Duration::from_millis(50));
            }
        };
        // One journal line (a reset) holding 200 notes: the first snapshot follows it.
        let notes: IndexMap<String, Value> =
            (0..200).map(|i| (i.to_string(), serde_json::json!({"id": i, "text": "x".repeat(200)}))).collect();
        store.replace_all(Dataset::from([("notes".to_owned(), notes)])).await.unwrap();
        until(&|| snapshot_seq() == 1);
        // One small write: the journal keeps it; rewriting ~50 KB for it would not pay.
        store.commit(Transaction::single(put(200))).await.unwrap();
        tokio::time::sleep(DEBOUNCE + Duration::from_millis(600)).await;
        assert_eq!(snapshot_seq(), 1, "db.json was rewritten for one small write");
        // Half of db.json's size in journal lines: now it is rewritten.
        for i in 201..320 {
            store.commit(Transaction::single(put(i))).await.unwrap();
        }
        until(&|| snapshot_seq() == 121);
    }
}
