//! The in-memory engine: all entities behind one short `std::sync::Mutex`.
//!
//! A std mutex, not tokio's: it is never held across an `.await`, and every critical
//! section is a handful of map operations, so a blocking lock is the cheaper choice.
//! Because every `commit` runs entirely under the lock, transactions are trivially
//! serialisable. [`super::FileStore`] wraps this engine and adds durability.

use super::{
    Cond, Dataset, Found, ListQuery, Page, Snapshot, SnapshotMeta, Store, StoreError, Transaction, Ttl, Write,
};
use async_trait::async_trait;
use indexmap::IndexMap;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Wall-clock milliseconds since the epoch; tests substitute [`ManualClock`].
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> u64;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
    }
}

/// A clock that only moves when told to, so expiry tests never sleep.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn new(start_ms: u64) -> Self {
        ManualClock(AtomicU64::new(start_ms))
    }

    pub fn advance_secs(&self, secs: u64) {
        self.advance_ms(secs * 1000);
    }

    pub fn advance_ms(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A namespace's clock, which tests control through `/system/clock`: real time, or
/// real time moved by an offset, or frozen at an instant.
#[derive(Debug)]
pub struct TestClock {
    offset_ms: std::sync::atomic::AtomicI64,
    /// Epoch ms it is frozen at; `i64::MIN`: running.
    frozen_ms: std::sync::atomic::AtomicI64,
}

impl Default for TestClock {
    fn default() -> Self {
        TestClock {
            offset_ms: std::sync::atomic::AtomicI64::new(0),
            frozen_ms: std::sync::atomic::AtomicI64::new(i64::MIN),
        }
    }
}

impl TestClock {
    fn real_ms() -> i64 {
        SystemClock.now_ms() as i64
    }

    /// Epoch milliseconds now, by this clock.
    pub fn now_i64(&self) -> i64 {
        match self.frozen_ms.load(Ordering::SeqCst) {
            i64::MIN => Self::real_ms() + self.offset_ms.load(Ordering::SeqCst),
            frozen => frozen,
        }
    }

    pub fn frozen(&self) -> bool {
        self.frozen_ms.load(Ordering::SeqCst) != i64::MIN
    }

    /// How far it is from real time.
    pub fn offset_ms(&self) -> i64 {
        self.now_i64() - Self::real_ms()
    }

    /// Stops it where it is; `false` lets it run again from there.
    pub fn freeze(&self, on: bool) {
        let now = self.now_i64();
        if on {
            self.frozen_ms.store(now, Ordering::SeqCst);
        } else {
            self.offset_ms.store(now - Self::real_ms(), Ordering::SeqCst);
            self.frozen_ms.store(i64::MIN, Ordering::SeqCst);
        }
    }

    /// Jumps to `ms` (staying frozen if it was).
    pub fn set(&self, ms: i64) {
        if self.frozen() {
            self.frozen_ms.store(ms, Ordering::SeqCst);
        } else {
            self.offset_ms.store(ms - Self::real_ms(), Ordering::SeqCst);
        }
    }

    pub fn advance(&self, ms: i64) {
        self.set(self.now_i64() + ms);
    }

    /// Back to real time.
    pub fn reset(&self) {
        self.frozen_ms.store(i64::MIN, Ordering::SeqCst);
        self.offset_ms.store(0, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> u64 {
        self.now_i64().max(0) as u64
    }
}

#[derive(Debug, Clone)]
pub(super) struct Row {
    /// Shared so that a snapshot copies pointers, not entities, while it holds the lock.
    pub value: Arc<Value>,
    /// Epoch milliseconds after which the row no longer exists.
    pub expires_at: Option<u64>,
}

impl Row {
    fn live(&self, now: u64) -> bool {
        self.expires_at.is_none_or(|t| t > now)
    }
}

/// Everything the engine holds. Entity types sort by name; rows keep insertion order.
#[derive(Debug, Clone, Default)]
pub(super) struct State {
    pub tables: BTreeMap<String, IndexMap<String, Row>>,
    pub sequences: BTreeMap<String, u64>,
}

impl State {
    fn live(&self, entity: &str, id: &str, now: u64) -> Option<&Row> {
        self.tables.get(entity)?.get(id).filter(|r| r.live(now))
    }

    /// Moves the type's counter past a numeric id ([`super::numeric_id`]).
    pub fn note_numeric_id(&mut self, entity: &str, id: &str) {
        if let Some(n) = super::numeric_id(id) {
            let seq = self.sequences.entry(entity.to_owned()).or_insert(0);
            *seq = (*seq).max(n);
        }
    }

    fn check(&self, index: usize, w: &Write, now: u64) -> Result<(), StoreError> {
        let current = self.live(w.entity(), w.id(), now);
        let found = match (w.cond(), current) {
            (Cond::Any, _) => return Ok(()),
            (Cond::Absent, None) | (Cond::Present, Some(_)) => return Ok(()),
            (Cond::Equals(want), Some(row)) if *row.value == *want => return Ok(()),
            (Cond::Absent, Some(_)) => Found::Exists,
            (Cond::Present | Cond::Equals(_), None) => Found::Missing,
            (Cond::Equals(_), Some(_)) => Found::Changed,
        };
        Err(StoreError::ConditionFailed { index, entity: w.entity().to_owned(), id: w.id().to_owned(), found })
    }

    fn apply(&mut self, w: Write, now: u64) -> Option<Value> {
        match w {
            Write::Put { entity, id, value, ttl, .. } => {
                self.note_numeric_id(&entity, &id);
                let table = self.tables.entry(entity).or_default();
                let previous = table.get(&id).filter(|r| r.live(now)).cloned();
                let expires_at = match ttl {
                    Ttl::Keep => previous.as_ref().and_then(|r| r.expires_at),
                    Ttl::Persist => None,
                    Ttl::Seconds(s) => Some(now + s * 1000),
                };
                table.insert(id, Row { value: Arc::new(value), expires_at });
                previous.map(|r| Arc::unwrap_or_clone(r.value))
            }
            Write::Check { entity, id, .. } => self.live(&entity, &id, now).map(|r| Value::clone(&r.value)),
            Write::Delete { entity, id, .. } => {
                let table = self.tables.get_mut(&entity)?;
                let removed = table.shift_remove(&id)?;
                removed.live(now).then(|| Arc::unwrap_or_clone(removed.value))
            }
        }
    }

    pub fn from_dataset(data: Dataset) -> State {
        let mut state = State::default();
        for (entity, rows) in data {
            for id in rows.keys() {
                state.note_numeric_id(&entity, id);
            }
            let table =
                rows.into_iter().map(|(id, value)| (id, Row { value: Arc::new(value), expires_at: None })).collect();
            state.tables.insert(entity, table);
        }
        state
    }

    pub fn purge_expired(&mut self, now: u64) {
        for table in self.tables.values_mut() {
            table.retain(|_, r| r.live(now));
        }
    }
}

/// Locks a mutex of the store. A poisoned lock only means another thread panicked
/// mid-call; the data itself is never left half-written (writes are applied after
/// every check passed, and each critical section is a few map operations).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The memory backend. Cheap to clone: clones share the same data.
#[derive(Clone)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    clock: Arc<dyn Clock>,
    snapshots: Arc<Mutex<BTreeMap<String, Snapshot>>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock))
    }
}

impl MemoryStore {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        MemoryStore { state: Arc::default(), clock, snapshots: Arc::default() }
    }

    pub(super) fn with_state(state: State, clock: Arc<dyn Clock>) -> Self {
        MemoryStore { state: Arc::new(Mutex::new(state)), clock, snapshots: Arc::default() }
    }

    pub(super) fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(super) fn commit_sync(&self, tx: Transaction) -> Result<Vec<Option<Value>>, StoreError> {
        self.commit_then(tx, |_, _| ()).map(|(previous, ())| previous)
    }

    /// Commits, then runs `after` while still holding the lock, with the `(entity, id)`
    /// pairs written, so the file store journals writes in exactly the order applied.
    pub(super) fn commit_then<R>(
        &self,
        tx: Transaction,
        after: impl FnOnce(&State, &[(String, String)]) -> R,
    ) -> Result<(Vec<Option<Value>>, R), StoreError> {
        tx.check_depth()?;
        let now = self.now();
        let mut state = self.lock();
        for (i, w) in tx.writes.iter().enumerate() {
            state.check(i, w, now)?;
        }
        let touched: Vec<(String, String)> = tx
            .writes
            .iter()
            .filter(|w| !matches!(w, Write::Check { .. }))
            .map(|w| (w.entity().to_owned(), w.id().to_owned()))
            .collect();
        let previous = tx.writes.into_iter().map(|w| state.apply(w, now)).collect();
        let r = after(&state, &touched);
        Ok((previous, r))
    }

    pub(super) fn next_id_sync(&self, entity: &str) -> u64 {
        self.next_id_then(entity, |_| ()).0
    }

    /// Like [`MemoryStore::commit_then`], for the id counter.
    pub(super) fn next_id_then<R>(&self, entity: &str, after: impl FnOnce(u64) -> R) -> (u64, R) {
        let mut state = self.lock();
        let seq = state.sequences.entry(entity.to_owned()).or_insert(0);
        *seq += 1;
        let n = *seq;
        (n, after(n))
    }

    pub(super) fn dump_sync(&self) -> Dataset {
        let now = self.now();
        let state = self.lock();
        state
            .tables
            .iter()
            .map(|(name, rows)| {
                let live = rows.iter().filter(|(_, r)| r.live(now)).map(|(id, r)| (id.clone(), Value::clone(&r.value)));
                (name.clone(), live.collect())
            })
            .collect()
    }

    /// Like [`MemoryStore::commit_then`], for replacing everything.
    pub(super) fn replace_then<R>(&self, data: Dataset, after: impl FnOnce(&State) -> R) -> Result<R, StoreError> {
        super::check_dataset_depth(&data)?;
        let fresh = State::from_dataset(data);
        let mut state = self.lock();
        *state = fresh;
        Ok(after(&state))
    }
}

#[async_trait]
impl Store for MemoryStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn get(&self, entity: &str, id: &str) -> Result<Option<Value>, StoreError> {
        let now = self.now();
        Ok(self.lock().live(entity, id, now).map(|r| Value::clone(&r.value)))
    }

    async fn list(&self, entity: &str, query: &ListQuery) -> Result<Page, StoreError> {
        let now = self.now();
        let state = self.lock();
        let Some(rows) = state.tables.get(entity) else {
            return Ok(Page::default());
        };
        Ok(query.apply(rows.values().filter(|r| r.live(now)).map(|r| r.value.as_ref())))
    }

    async fn commit(&self, tx: Transaction) -> Result<Vec<Option<Value>>, StoreError> {
        self.commit_sync(tx)
    }

    async fn next_id(&self, entity: &str) -> Result<u64, StoreError> {
        Ok(self.next_id_sync(entity))
    }

    async fn counts(&self) -> Result<Vec<(String, usize)>, StoreError> {
        let now = self.now();
        let state = self.lock();
        Ok(state
            .tables
            .iter()
            .map(|(name, rows)| (name.clone(), rows.values().filter(|r| r.live(now)).count()))
            .collect())
    }

    async fn dump(&self) -> Result<Dataset, StoreError> {
        Ok(self.dump_sync())
    }

    async fn replace_all(&self, data: Dataset) -> Result<(), StoreError> {
        self.replace_then(data, |_| ())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn put_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        lock(&self.snapshots).insert(snapshot.meta.name.clone(), snapshot.clone());
        Ok(())
    }

    async fn get_snapshot(&self, name: &str) -> Result<Option<Snapshot>, StoreError> {
        Ok(lock(&self.snapshots).get(name).cloned())
    }

    async fn snapshots(&self) -> Result<Vec<SnapshotMeta>, StoreError> {
        Ok(lock(&self.snapshots).values().map(|s| s.meta.clone()).collect())
    }

    async fn delete_snapshot(&self, name: &str) -> Result<bool, StoreError> {
        Ok(lock(&self.snapshots).remove(name).is_some())
    }
}
