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

/// One entity type's entries: id → (entity, valid until).
#[derive(Debug, Default)]
struct Table {
    rows: HashMap<String, (Value, Instant)>,
    /// Expired entries are swept when the table reaches this size, which then doubles
    /// what is left: amortised O(1) per put, and memory bounded by twice the live
    /// entries (never growing with entries that expired).
    sweep_at: usize,
}

/// The smallest table that is swept.
const MIN_SWEEP: usize = 1024;

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
            .and_then(|t| t.rows.get(id))
            .filter(|(_, until)| *until > Instant::now())
            .map(|(v, _)| v.clone());
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    pub fn put(&self, entity: &str, id: &str, value: Value, ttl: Duration) {
        let mut entries = crate::store::lock(&self.entries);
        let now = Instant::now();
        let table = entries.entry(entity.to_owned()).or_default();
        table.rows.insert(id.to_owned(), (value, now + ttl));
        if table.rows.len() >= table.sweep_at.max(MIN_SWEEP) {
            table.rows.retain(|_, (_, until)| *until > now);
            table.sweep_at = table.rows.len() * 2;
        }
    }

    /// Drops an entity type's entries (after a write), or everything with `None`.
    pub fn invalidate(&self, entity: Option<&str>) -> usize {
        let mut entries = crate::store::lock(&self.entries);
        match entity {
            Some(e) => entries.remove(e).map_or(0, |t| t.rows.len()),
            None => entries.drain().map(|(_, t)| t.rows.len()).sum(),
        }
    }

    /// Drops one cached entity; whether it was cached.
    pub fn invalidate_one(&self, entity: &str, id: &str) -> bool {
        let mut entries = crate::store::lock(&self.entries);
        entries.get_mut(entity).is_some_and(|t| t.rows.remove(id).is_some())
    }

    /// Cached ids of an entity type that are still valid.
    pub fn ids(&self, entity: &str) -> Vec<String> {
        let entries = crate::store::lock(&self.entries);
        let now = Instant::now();
        let mut ids: Vec<String> = entries
            .get(entity)
            .map(|t| t.rows.iter().filter(|(_, (_, u))| *u > now).map(|(id, _)| id.clone()).collect())
            .unwrap_or_default();
        ids.sort();
        ids
    }

    pub fn stats(&self) -> CacheStats {
        let entries = crate::store::lock(&self.entries);
        CacheStats {
            entries: entries.values().map(|t| t.rows.len()).sum(),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_entries_do_not_pile_up() {
        let cache = ReadCache::default();
        for i in 0..40_000 {
            cache.put("users", &i.to_string(), Value::from(i), Duration::ZERO);
        }
        assert!(cache.stats().entries < 2 * MIN_SWEEP, "{} entries kept", cache.stats().entries);
        for i in 0..5_000 {
            cache.put("live", &i.to_string(), Value::from(i), Duration::from_secs(60));
        }
        assert_eq!(cache.ids("live").len(), 5_000, "live entries are never swept");
        assert_eq!(cache.get("live", "4999"), Some(Value::from(4999)));
    }
}
