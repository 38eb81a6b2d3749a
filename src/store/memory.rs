//! The in-memory engine: all entities behind one short `std::sync::Mutex`.
//!
//! A std mutex, not tokio's: it is never held across an `.await`, and every critical
//! section is a handful of map operations, so a blocking lock is the cheaper choice.
//! Because every `commit` runs entirely under the lock, transactions are trivially
//! serialisable. [`super::FileStore`] wraps this engine and adds durability.

use super::doc::{self, Doc};
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
    /// Its compact text, shared so that a snapshot copies pointers, not entities,
    /// while it holds the lock.
    pub value: Doc,
    /// Epoch milliseconds after which the row no longer exists ([`Row::expires_at`]);
    /// non-zero so that a row is 32 bytes, not 40.
    expiry: Option<std::num::NonZeroU64>,
    /// Its place in creation order ([`State::next_seq`] when it was first written),
    /// which breaks ties in a sort index as the row's position does in a scan.
    pub seq: u64,
}

// A million rows are 32 MB of rows (besides their ids and texts).
const _: () = assert!(std::mem::size_of::<Row>() == 32);

impl Row {
    pub fn expires_at(&self) -> Option<u64> {
        self.expiry.map(std::num::NonZeroU64::get)
    }

    fn live(&self, now: u64) -> bool {
        self.expires_at().is_none_or(|t| t > now)
    }
}

/// Everything the engine holds. Entity types sort by name; rows keep insertion order.
#[derive(Debug, Clone, Default)]
pub(super) struct State {
    pub tables: BTreeMap<String, IndexMap<String, Row>>,
    pub sequences: BTreeMap<String, u64>,
    /// Equality and sort indexes, built when a large type is first filtered or sorted,
    /// or for declared fields (not copied by a clone).
    pub indexes: super::index::Indexes,
    /// The sequence the next new row gets.
    pub next_seq: u64,
    /// Whether any row may have an expiry (once set, until the data is replaced): when
    /// not, a type's count is its number of rows.
    pub may_expire: bool,
}

impl State {
    /// Writes row `id` of `entity`: a new row at the end of creation order, an existing
    /// one in place (keeping its position and sequence). Returns the old value.
    pub fn put_row(&mut self, entity: &str, id: String, value: Doc, expires_at: Option<u64>) -> (u64, Option<Doc>) {
        self.may_expire |= expires_at.is_some();
        // An expiry at 0 ms is long past, as one at 1 ms is.
        let expiry = expires_at.map(|t| std::num::NonZeroU64::new(t).unwrap_or(std::num::NonZeroU64::MIN));
        if !self.tables.contains_key(entity) {
            self.tables.insert(entity.to_owned(), IndexMap::new());
        }
        let Some(table) = self.tables.get_mut(entity) else { return (0, None) };
        match table.get_mut(&id) {
            Some(row) => {
                let old = std::mem::replace(&mut row.value, value);
                row.expiry = expiry;
                (row.seq, Some(old))
            }
            None => {
                let seq = self.next_seq;
                self.next_seq += 1;
                table.insert(id, Row { value, expiry, seq });
                (seq, None)
            }
        }
    }

    /// How many rows of `rows` are live.
    fn live_count(&self, rows: &IndexMap<String, Row>, now: u64) -> usize {
        if self.may_expire { rows.values().filter(|r| r.live(now)).count() } else { rows.len() }
    }

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
            (Cond::Equals(want), Some(row)) if row.value.is(want) => return Ok(()),
            (Cond::Absent, Some(_)) => Found::Exists,
            (Cond::Present | Cond::Equals(_), None) => Found::Missing,
            (Cond::Equals(_), Some(_)) => Found::Changed,
        };
        Err(StoreError::ConditionFailed { index, entity: w.entity().to_owned(), id: w.id().to_owned(), found })
    }

    fn apply(&mut self, w: Write, now: u64) {
        match w {
            Write::Put { entity, id, value, ttl, .. } => {
                self.note_numeric_id(&entity, &id);
                let old = self.tables.get(&entity).and_then(|t| t.get(&id));
                let expires_at = match ttl {
                    Ttl::Keep => old.filter(|r| r.live(now)).and_then(Row::expires_at),
                    Ttl::Persist => None,
                    Ttl::Seconds(s) => Some(now + s * 1000),
                };
                // Replaced in place: an entity keeps its position in creation order.
                let (seq, old) = self.put_row(&entity, id.clone(), Doc::new(&value), expires_at);
                self.indexes.update(&entity, &id, seq, old.as_ref(), Some(&value));
            }
            Write::Check { .. } => {}
            Write::Delete { entity, id, .. } => {
                let Some(table) = self.tables.get_mut(&entity) else { return };
                if let Some(removed) = table.shift_remove(&id) {
                    self.indexes.update(&entity, &id, removed.seq, Some(&removed.value), None);
                }
            }
        }
    }

    pub fn from_dataset(data: Dataset) -> State {
        let docs = |rows: IndexMap<String, Value>| rows.into_iter().map(|(id, v)| (id, Doc::new(&v))).collect();
        State::from_docs(data.into_iter().map(|(entity, rows)| (entity, docs(rows))).collect())
    }

    /// The state of entities without expiries (a data file's: the caller sets them).
    pub fn from_docs(tables: BTreeMap<String, IndexMap<String, Doc>>) -> State {
        let mut state = State::default();
        for (entity, rows) in tables {
            state.tables.insert(entity.clone(), IndexMap::with_capacity(rows.len()));
            for (id, value) in rows {
                state.note_numeric_id(&entity, &id);
                state.put_row(&entity, id, value, None);
            }
        }
        state
    }

    /// Builds the declared indexes that are not built yet (at start, after the data
    /// is replaced).
    pub fn build_declared(&mut self) {
        let declared = self.indexes.declared();
        for (entity, fields) in declared.iter() {
            let Some(rows) = self.tables.get(entity) else { continue };
            for field in fields {
                if self.indexes.get(entity, field).is_none() {
                    self.indexes.build(entity, field, rows.iter().map(|(id, r)| (id, r.seq, &r.value)));
                }
                if self.indexes.sorted(entity, field).is_none() {
                    self.indexes.build_sorted(entity, field, rows.iter().map(|(id, r)| (id, r.seq, &r.value)));
                }
            }
        }
    }

    pub fn purge_expired(&mut self, now: u64) {
        self.indexes.clear();
        for table in self.tables.values_mut() {
            table.retain(|_, r| r.live(now));
        }
    }

    /// A page of `entity`, through the type's indexes where they help (`use_index`),
    /// else by reading every entity; the answer is the same.
    ///
    /// A sort by an indexed field walks that index and stops when the page is full,
    /// when the query has no filter and no search (the count is the type's), or one
    /// filter that an equality index answers exactly (the count is its set's) and
    /// matches so many entities that the walk is shorter than reading them all.
    /// Otherwise the most selective indexed filter gives the candidates, which are
    /// checked, sorted (a bounded top-k) and paged.
    pub fn list(&mut self, entity: &str, query: &ListQuery, now: u64, use_index: bool) -> Page {
        let Some(rows) = self.tables.get(entity) else { return Page::default() };
        let n = rows.len();
        if use_index {
            for (f, _) in &query.filters {
                if self.indexes.get(entity, f).is_none() && self.indexes.wants(entity, f, n) {
                    self.indexes.build(entity, f, rows.iter().map(|(id, r)| (id, r.seq, &r.value)));
                }
            }
            if let Some(sort) = &query.sort
                && self.indexes.sorted(entity, &sort.field).is_none()
                && self.indexes.wants_sorted(entity, &sort.field, n)
            {
                self.indexes.build_sorted(entity, &sort.field, rows.iter().map(|(id, r)| (id, r.seq, &r.value)));
            }
        }
        let state = &*self;
        if use_index && let Some(page) = state.list_by_sort_index(entity, rows, query, now) {
            return page;
        }
        // The most selective indexed filter gives the candidates, in creation order.
        let mut best: Option<(usize, Vec<&super::index::Holders>)> = None;
        for (f, want) in query.filters.iter().filter(|_| use_index) {
            let Some(index) = state.indexes.get(entity, f) else { continue };
            let sets: Vec<_> = super::index::wanted(want).iter().filter_map(|k| index.get(k)).collect();
            let size = sets.iter().map(|s| s.len()).sum();
            if best.as_ref().is_none_or(|(b, _)| size < *b) {
                best = Some((size, sets));
            }
        }
        let Some((_, sets)) = best else {
            return doc::apply(query, rows.values().filter(|r| r.live(now)).map(|r| &r.value));
        };
        let row = |id: &str| rows.get(id).filter(|r| r.live(now));
        // An exact index answers its own filter: a query with no other condition needs
        // only the TTL check, and without a sort only its page is read.
        let alone = query.filters.len() == 1 && query.search.is_none();
        if let ([set], true, None) = (sets.as_slice(), alone, &query.sort) {
            let end = query.offset.saturating_add(query.limit.unwrap_or(usize::MAX));
            let live = set.values().filter_map(|id| row(id));
            let items = live.clone().skip(query.offset).take(end - query.offset).map(|r| r.value.value()).collect();
            let total = if state.may_expire { live.count() } else { set.len() };
            return Page { items, total };
        }
        let ids: Vec<&str> = match sets.as_slice() {
            [set] => set.values().map(|id| &**id).collect(),
            _ => {
                let mut all: Vec<(u64, &str)> = sets.iter().flat_map(|s| s.iter().map(|(q, id)| (*q, &**id))).collect();
                all.sort_unstable_by_key(|(q, _)| *q);
                all.dedup_by_key(|(q, _)| *q);
                all.into_iter().map(|(_, id)| id).collect()
            }
        };
        let live = ids.into_iter().filter_map(row).map(|r| &r.value);
        if alone { doc::page(query, live) } else { doc::apply(query, live) }
    }

    /// A sorted page by walking the sort field's index, where that is exact and cheap
    /// (see [`State::list`]); `None` where it is not.
    fn list_by_sort_index(&self, entity: &str, rows: &IndexMap<String, Row>, q: &ListQuery, now: u64) -> Option<Page> {
        let sort = q.sort.as_ref()?;
        let index = self.indexes.sorted(entity, &sort.field)?;
        if q.search.is_some() || q.filters.len() > 1 {
            return None;
        }
        let end = q.offset.saturating_add(q.limit.unwrap_or(usize::MAX));
        // The one filter's matches: the single key of its equality index that holds them.
        let only: Option<&super::index::Holders> = match q.filters.first() {
            None => None,
            Some((f, want)) => {
                let index = self.indexes.get(entity, f)?;
                let mut sets = super::index::wanted(want).into_iter().filter_map(|k| index.get(&k));
                let Some(set) = sets.next() else { return Some(Page { items: Vec::new(), total: 0 }) };
                if sets.next().is_some() {
                    return None;
                }
                // A walk reads about `end * n / matches` entries; the candidates, `matches`.
                if (end.min(rows.len()) as f64) * (rows.len() as f64) > (set.len() as f64).powi(2) {
                    return None;
                }
                Some(set)
            }
        };
        let total = match only {
            None => self.live_count(rows, now),
            Some(set) if !self.may_expire => set.len(),
            Some(set) => set.values().filter(|id| rows.get(&***id).is_some_and(|r| r.live(now))).count(),
        };
        let mut items = Vec::new();
        let mut seen = 0;
        for (_, seq, id) in super::index::walk(index, sort.descending) {
            if seen >= end {
                break;
            }
            if only.is_some_and(|set| !set.contains_key(seq)) {
                continue;
            }
            let Some(row) = rows.get(&**id).filter(|r| r.live(now)) else { continue };
            if seen >= q.offset {
                items.push(row.value.value());
            }
            seen += 1;
        }
        Some(Page { items, total })
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

    /// Indexes the `declared` fields of their entity types, now and after every
    /// replacement of the data, whatever the type's size (the profile's `"indexes"`).
    pub fn declare_indexes(&self, declared: super::index::DeclaredIndexes) {
        let mut state = self.lock();
        state.indexes.declare(Arc::new(declared));
        state.build_declared();
    }

    pub(super) fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(super) fn commit_sync(&self, tx: Transaction) -> Result<(), StoreError> {
        self.commit_then(tx, |_, _| ())
    }

    /// Commits, then runs `after` while still holding the lock, with the `(entity, id)`
    /// pairs written, so the file store journals writes in exactly the order applied.
    pub(super) fn commit_then<R>(
        &self,
        tx: Transaction,
        after: impl FnOnce(&State, &[(String, String)]) -> R,
    ) -> Result<R, StoreError> {
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
        for w in tx.writes {
            state.apply(w, now);
        }
        Ok(after(&state, &touched))
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
                let live = rows.iter().filter(|(_, r)| r.live(now)).map(|(id, r)| (id.clone(), r.value.value()));
                (name.clone(), live.collect())
            })
            .collect()
    }

    /// Like [`MemoryStore::commit_then`], for replacing everything.
    pub(super) fn replace_then<R>(&self, data: Dataset, after: impl FnOnce(&State) -> R) -> Result<R, StoreError> {
        super::check_dataset_depth(&data)?;
        let mut fresh = State::from_dataset(data);
        // What is declared stays, and is built before the new data is swapped in.
        fresh.indexes = self.lock().indexes.clone();
        fresh.build_declared();
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
        // The text is copied (a pointer) under the lock and parsed outside it.
        let doc = self.lock().live(entity, id, now).map(|r| r.value.clone());
        Ok(doc.map(|d| d.value()))
    }

    async fn list(&self, entity: &str, query: &ListQuery) -> Result<Page, StoreError> {
        let now = self.now();
        Ok(self.lock().list(entity, query, now, true))
    }

    async fn commit(&self, tx: Transaction) -> Result<(), StoreError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Cond, Sort};
    use rand::{RngExt, SeedableRng};
    use serde_json::json;

    fn put(id: String, value: Value, ttl: Ttl) -> Write {
        Write::Put { entity: "users".into(), id, value, ttl, cond: Cond::Any }
    }

    #[test]
    fn an_indexed_list_answers_as_a_scan_through_puts_deletes_expiry_and_resets() {
        indexed_lists_answer_as_scans(42, false);
    }

    #[test]
    fn declared_indexes_answer_as_a_scan_at_any_size() {
        indexed_lists_answer_as_scans(43, true);
    }

    /// Random puts (some with TTLs, some without the field, values of mixed kinds),
    /// deletes, expiry, resets and purges; every few steps a random query with up to
    /// two filters and a sort on a number or on a mixed-kind field must answer as a
    /// scan does, and the indexes must equal ones built afresh.
    fn indexed_lists_answer_as_scans(seed: u64, declared: bool) {
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
        let declare = |state: &mut State| {
            if declared {
                let fields = ["role".to_owned(), "age".to_owned()].into();
                state.indexes.declare(Arc::new([("users".to_owned(), fields)].into()));
                state.build_declared();
            }
        };
        let mut state = State::default();
        declare(&mut state);
        let mut now = 1_000_000u64;
        let roles =
            [json!("admin"), json!("user"), json!(25), json!("25"), json!(true), json!(["admin", "ops"]), json!(null)];
        let (mut checked, mut walked) = (0, 0);
        for step in 0..4000 {
            let id = rng.random_range(0..900).to_string();
            match rng.random_range(0..10) {
                0..=5 => {
                    let role = roles[rng.random_range(0..roles.len())].clone();
                    let mut v = json!({"id": id, "role": role, "age": rng.random_range(0..5)});
                    if rng.random_range(0..6) == 0 {
                        v.as_object_mut().unwrap().remove("role");
                    }
                    if rng.random_range(0..9) == 0 {
                        v.as_object_mut().unwrap().remove("age");
                    }
                    let ttl =
                        if rng.random_range(0..8) == 0 { Ttl::Seconds(rng.random_range(1..5)) } else { Ttl::Keep };
                    state.apply(put(id, v, ttl), now);
                }
                6 | 7 => {
                    state.apply(Write::Delete { entity: "users".into(), id, cond: Cond::Any }, now);
                }
                8 => now += 1000,
                _ if step % 997 == 0 => {
                    // A reset replaces everything: the indexes start again.
                    let data = Dataset::from([(
                        "users".to_owned(),
                        state.tables["users"].iter().take(700).map(|(k, r)| (k.clone(), r.value.value())).collect(),
                    )]);
                    state = State::from_dataset(data);
                    declare(&mut state);
                }
                _ if step % 501 == 0 => state.purge_expired(now),
                _ => {}
            }
            let big = state.tables.get("users").is_some_and(|t| t.len() >= crate::store::index::MIN_ROWS);
            if step % 7 == 0 && (big || declared) {
                let want = ["admin", "user", "25", "true", "null", "ops", "nobody"][rng.random_range(0..7)];
                let mut filters = Vec::new();
                if rng.random_range(0..3) > 0 {
                    filters.push(("role".to_owned(), want.to_owned()));
                }
                if rng.random_range(0..3) == 0 {
                    filters.push(("age".into(), rng.random_range(0..5).to_string()));
                }
                let sort = match rng.random_range(0..3) {
                    0 => None,
                    1 => Some("age"),
                    _ => Some("role"),
                };
                let q = ListQuery {
                    offset: rng.random_range(0..3),
                    limit: if rng.random_range(0..8) == 0 { None } else { Some(rng.random_range(1..20)) },
                    filters,
                    search: None,
                    sort: sort.map(|f| Sort { field: f.into(), descending: rng.random_range(0..2) == 0 }),
                };
                let scanned = state.list("users", &q, now, false);
                let rows = &state.tables["users"];
                walked += usize::from(state.list_by_sort_index("users", rows, &q, now).is_some());
                assert_eq!(state.list("users", &q, now, true), scanned, "step {step}: {q:?}");
                // Exact, not merely a superset: the same as ones built afresh.
                let mut fresh = crate::store::index::Indexes::default();
                let rows = &state.tables["users"];
                for f in ["role", "age"] {
                    fresh.build("users", f, rows.iter().map(|(id, r)| (id, r.seq, &r.value)));
                    fresh.build_sorted("users", f, rows.iter().map(|(id, r)| (id, r.seq, &r.value)));
                    if let Some(built) = state.indexes.get("users", f) {
                        assert_eq!(Some(built), fresh.get("users", f), "step {step}: {f}");
                    }
                    if let Some(built) = state.indexes.sorted("users", f) {
                        assert_eq!(Some(built), fresh.sorted("users", f), "step {step}: sorted {f}");
                    }
                }
                checked += 1;
            }
        }
        assert!(checked > 300, "only {checked} queries compared");
        assert!(walked > 50, "only {walked} queries walked a sort index");
        assert!(state.indexes.get("users", "role").is_some(), "the index was used");
        assert!(state.indexes.sorted("users", "age").is_some(), "the sort index was used");
    }

    #[tokio::test]
    async fn the_index_stays_exact_under_concurrent_writers() {
        let store = Arc::new(MemoryStore::default());
        let q = ListQuery { filters: vec![("role".into(), "admin".into())], ..ListQuery::default() };
        for i in 0..1000 {
            let role = if i % 3 == 0 { "admin" } else { "user" };
            let v = json!({"role": role, "n": i % 17});
            store.commit(Transaction::single(put(i.to_string(), v, Ttl::Persist))).await.unwrap();
        }
        assert_eq!(store.list("users", &q).await.unwrap().total, 334, "builds the index");
        let sorted =
            ListQuery { limit: Some(25), sort: Some(Sort { field: "n".into(), descending: true }), ..q.clone() };
        let everyone = ListQuery { filters: vec![], ..sorted.clone() };
        assert_eq!(store.list("users", &everyone).await.unwrap().total, 1000, "builds the sort index");
        let tasks: Vec<_> = (0..8)
            .map(|t| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    for i in 0..300 {
                        let id = ((t * 300 + i) % 1000).to_string();
                        let w = if i % 4 == 0 {
                            Write::Delete { entity: "users".into(), id, cond: Cond::Any }
                        } else {
                            let role = if i % 2 == 0 { "admin" } else { "user" };
                            put(id, json!({"role": role, "n": (i * 7 + t) % 17}), Ttl::Persist)
                        };
                        store.commit(Transaction::single(w)).await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let mut state = store.lock();
        let now = store.now();
        assert_eq!(state.list("users", &q, now, true), state.list("users", &q, now, false));
        for q in [sorted, everyone] {
            let rows = &state.tables["users"];
            assert!(state.list_by_sort_index("users", rows, &q, now).is_some(), "{q:?} walks the sort index");
            assert_eq!(state.list("users", &q, now, true), state.list("users", &q, now, false), "{q:?}");
        }
    }
}
