//! The read cache (`cache: {"enabled": true, "ttl": 300}` on a read action): entities
//! this gateway instance read recently, served without a store round trip until
//! their cache TTL passes. This instance's own writes to an entity type drop that
//! type's cached entries; writes by other instances become visible when the TTL ends,
//! which is what opting into a cache means. `/system/cache` clears it.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// id → (entity, valid until).
type Table = HashMap<String, (Value, Instant)>;

#[derive(Debug, Default)]
pub struct ReadCache {
    /// entity type → id → (entity, valid until). A std mutex: never held across `.await`.
    entries: Mutex<HashMap<String, Table>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Counters for `/system/cache/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    pub entries: usize,
    pub hits: u64,
    pub misses: u64,
}

impl ReadCache {
    pub fn get(&self, entity: &str, id: &str) -> Option<Value> {
        let entries = crate::store::lock(&self.entries);
        let found = entries
            .get(entity)
            .and_then(|t| t.get(id))
            .filter(|(_, until)| *until > Instant::now())
            .map(|(v, _)| v.clone());
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    pub fn put(&self, entity: &str, id: &str, value: Value, ttl: Duration) {
        let mut entries = crate::store::lock(&self.entries);
        entries.entry(entity.to_owned()).or_default().insert(id.to_owned(), (value, Instant::now() + ttl));
    }

    /// Drops an entity type's entries (after a write), or everything with `None`.
    pub fn invalidate(&self, entity: Option<&str>) -> usize {
        let mut entries = crate::store::lock(&self.entries);
        match entity {
            Some(e) => entries.remove(e).map_or(0, |t| t.len()),
            None => entries.drain().map(|(_, t)| t.len()).sum(),
        }
    }

    /// Drops one cached entity; whether it was cached.
    pub fn invalidate_one(&self, entity: &str, id: &str) -> bool {
        let mut entries = crate::store::lock(&self.entries);
        entries.get_mut(entity).is_some_and(|t| t.remove(id).is_some())
    }

    /// Cached ids of an entity type that are still valid.
    pub fn ids(&self, entity: &str) -> Vec<String> {
        let entries = crate::store::lock(&self.entries);
        let now = Instant::now();
        let mut ids: Vec<String> = entries
            .get(entity)
            .map(|t| t.iter().filter(|(_, (_, u))| *u > now).map(|(id, _)| id.clone()).collect())
            .unwrap_or_default();
        ids.sort();
        ids
    }

    pub fn stats(&self) -> CacheStats {
        let entries = crate::store::lock(&self.entries);
        CacheStats {
            entries: entries.values().map(HashMap::len).sum(),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}
