//! Bounded logs next to a backend's data, shared by every gateway instance that shares
//! the backend: the request journal's storage on Redis (one stream per namespace).
//! The embedded backends have no such log; what uses one keeps a ring in memory there.

use super::StoreError;
use async_trait::async_trait;

/// Append-only logs of text records, each kept to its newest `cap` (approximately:
/// a backend may keep a little more and trim in steps; readers ask for at most `cap`).
#[async_trait]
pub trait SharedLog: Send + Sync {
    /// Appends every `(log, record)`, in order per log, each log kept near its `cap`.
    async fn append(&self, records: &[(&str, &str)], cap: usize) -> Result<(), StoreError>;
    /// At most `count` records of `log`, newest first.
    async fn newest(&self, log: &str, count: usize) -> Result<Vec<String>, StoreError>;
    /// How many records `log` holds now.
    async fn len(&self, log: &str) -> Result<usize, StoreError>;
    /// Removes every record of `log`.
    async fn clear(&self, log: &str) -> Result<(), StoreError>;
}
