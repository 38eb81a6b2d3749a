//! The request journal: what was asked of the gateway, per namespace, for tests to
//! query and verify (`/system/requests`).
//!
//! Every request to the profile's endpoints becomes an [`Entry`] (headers masked as
//! the logs mask secrets, bodies cut to `journal.max_body_bytes`). On the embedded
//! backends each namespace has a bounded ring in memory; on Redis each has a stream
//! (`XADD … MAXLEN ~ n`, see [`crate::store::SharedLog`]) that every instance on that
//! Redis writes to and reads from, so a test behind a load balancer verifies every
//! call, whichever instance took it.
//!
//! Recording never fails, slows or waits on a request: entries go to one writer task
//! that sends them in batches (one pipeline per stream), and a read on this instance
//! first waits for the writer to send what was queued before it, so a test reading the
//! journal right after a response sees that request. Another instance's entries land
//! within a batch (about a Redis round trip); `verify` gives a shared journal
//! [`SHARED_GRACE`] to hold before it answers 417. When Redis is down, or the queue is
//! full, the entry is dropped and counted (`mockgate_journal_dropped_total`).
//!
//! [`pattern`] is what `find`, `verify` and `verify-sequence` match with, and how a
//! near miss is described.

pub mod pattern;

pub use crate::profile::JournalSettings;
use crate::routing::Unmatched;
use crate::store::{SharedLog, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// How long a verification on a shared journal waits for entries other instances may
/// still be sending, before it answers that it does not hold.
pub const SHARED_GRACE: Duration = Duration::from_millis(200);
/// How long a read waits for this instance's queued entries to be sent.
const FLUSH_WAIT: Duration = Duration::from_secs(1);
/// Entries waiting for the writer; beyond this they are dropped.
const QUEUE: usize = 8192;
/// Entries sent in one round of the writer.
const BATCH: usize = 512;

/// One recorded request. Stored as JSON on Redis; [`Entry::view`] is what the API shows.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Entry {
    pub id: Arc<str>,
    /// Order of recording in this instance's ring (not stored on Redis, whose stream keeps the order).
    #[serde(skip)]
    pub seq: u64,
    /// The namespace's clock, epoch ms.
    pub at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub instance: Arc<str>,
    pub method: Cow<'static, str>,
    pub path: String,
    #[serde(default)]
    pub query: String,
    /// Lower-case names, secrets masked.
    pub headers: Headers,
    #[serde(default)]
    pub body: String,
    /// The body's size as received (more than `body.len()` when it was cut).
    #[serde(default)]
    pub body_bytes: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<Arc<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmatched: Option<Unmatched>,
    pub status: u16,
    #[serde(default)]
    pub response_headers: Vec<(String, String)>,
    /// The body went out as JSON with the content type mockgate adds.
    #[serde(default)]
    pub response_json: bool,
    #[serde(default)]
    pub response_body: String,
    #[serde(default)]
    pub response_body_bytes: usize,
    pub latency_ms: f64,
    /// The persistence action that ran last, e.g. `create users`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Arc<str>>,
    /// `ok`, or the error code the request ended with.
    #[serde(default)]
    pub outcome: Cow<'static, str>,
    /// What the fault features injected (kind, rule id).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub injected: Vec<Value>,
}

/// A body as the API shows it: JSON when it is whole JSON, else the text.
fn shown(text: &str, full: usize) -> Value {
    if text.is_empty() {
        return Value::Null;
    }
    if text.len() == full
        && let Ok(v) = serde_json::from_str::<Value>(text)
    {
        return v;
    }
    Value::String(text.to_owned())
}

/// Request headers in one buffer (`name:value` lines): one allocation per entry, not two
/// per header. Stored and shown as a list of pairs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Headers(String);

impl Headers {
    /// Adds a header; `name` has no `:` and neither has a line break (HTTP forbids both).
    pub fn push(&mut self, name: &str, value: &str) {
        self.0.push_str(name);
        self.0.push(':');
        self.0.push_str(value);
        self.0.push('\n');
    }

    pub fn with_capacity(n: usize) -> Headers {
        Headers(String::with_capacity(n))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.lines().filter_map(|l| l.split_once(':'))
    }
}

impl<'a> FromIterator<(&'a str, &'a str)> for Headers {
    fn from_iter<I: IntoIterator<Item = (&'a str, &'a str)>>(iter: I) -> Headers {
        let mut h = Headers::default();
        for (k, v) in iter {
            h.push(k, v);
        }
        h
    }
}

impl Serialize for Headers {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Headers, D::Error> {
        let pairs: Vec<(String, String)> = Vec::deserialize(d)?;
        let mut h = Headers::default();
        for (k, v) in &pairs {
            // What another instance wrote keeps to the line format.
            h.push(&k.replace([':', '\n', '\r'], "_"), &v.replace(['\n', '\r'], " "));
        }
        Ok(h)
    }
}

fn header_map<'h>(headers: impl Iterator<Item = (&'h str, &'h str)>) -> Value {
    let mut m = Map::new();
    for (k, v) in headers {
        match m.get_mut(k) {
            Some(Value::String(prev)) => {
                prev.push_str(", ");
                prev.push_str(v);
            }
            _ => {
                m.insert(k.to_owned(), Value::String(v.to_owned()));
            }
        }
    }
    Value::Object(m)
}

pub use crate::json::query_object;
pub use crate::template::iso_ms;

impl Entry {
    /// The request body, parsed: JSON, or a form as an object; `None` when there is
    /// none or it was cut.
    pub fn body_json(&self) -> Option<Value> {
        if self.body.is_empty() || self.body.len() != self.body_bytes {
            return None;
        }
        serde_json::from_str(&self.body).ok().or_else(|| {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&self.body).ok()?;
            (!pairs.is_empty() && self.body.contains('='))
                .then(|| Value::Object(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect()))
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    fn response_header_map(&self) -> Value {
        let mut m = header_map(self.response_headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if self.response_json
            && let Value::Object(m) = &mut m
        {
            m.insert("content-type".into(), Value::String("application/json".into()));
        }
        m
    }

    /// What `GET /system/requests` shows of it.
    pub fn view(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "time": iso_ms(self.at_ms),
            "namespace": self.namespace,
            "instance": self.instance,
            "method": self.method,
            "path": self.path,
            "query": query_object(&self.query),
            "headers": header_map(self.headers.iter()),
            "body": shown(&self.body, self.body_bytes),
            "route": self.route,
            "response_rule": self.rule,
            "status": self.status,
            "response": {
                "headers": self.response_header_map(),
                "body": shown(&self.response_body, self.response_body_bytes),
            },
            "latency_ms": self.latency_ms,
            "action": self.action,
            "outcome": self.outcome,
        });
        if self.body.len() != self.body_bytes {
            v["body_truncated"] = json!({"received_bytes": self.body_bytes, "kept_bytes": self.body.len()});
        }
        if self.response_body.len() != self.response_body_bytes {
            v["response"]["body_truncated"] =
                json!({"sent_bytes": self.response_body_bytes, "kept_bytes": self.response_body.len()});
        }
        if let Some(u) = &self.unmatched {
            v["unmatched"] = json!(u);
        }
        if !self.injected.is_empty() {
            v["injected"] = json!(self.injected);
        }
        v
    }
}

/// `text` cut to `cap` bytes on a character boundary.
pub fn cut(text: &[u8], cap: usize) -> String {
    let mut end = text.len().min(cap);
    let s = loop {
        match std::str::from_utf8(&text[..end]) {
            Ok(s) => break s,
            // A cut inside a character: step back to its start.
            Err(e) if e.error_len().is_none() => end = e.valid_up_to(),
            // Not text at all.
            Err(_) => return String::from_utf8_lossy(&text[..end]).into_owned(),
        }
    };
    s.to_owned()
}

/// A namespace's ring, in shards: each worker thread keeps to its own, so recording
/// never contends and an entry is freed by the thread that made it; reads merge the
/// shards by recording order. Each shard keeps the newest `max_entries`, so the merge
/// holds the newest `max_entries` of all.
struct Ring {
    shards: Box<[Mutex<VecDeque<Arc<Entry>>>]>,
    seq: AtomicU64,
}

const SHARDS: usize = 8;

impl Ring {
    fn new() -> Ring {
        Ring { shards: (0..SHARDS).map(|_| Mutex::new(VecDeque::new())).collect(), seq: AtomicU64::new(0) }
    }

    fn push(&self, mut entry: Entry, cap: usize) {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        thread_local!(static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) as usize % SHARDS);
        entry.seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let shard = SHARD.with(|s| *s);
        let old = {
            let mut ring = crate::store::lock(&self.shards[shard]);
            let old = if ring.len() >= cap { ring.pop_front() } else { None };
            ring.push_back(Arc::new(entry));
            old
        };
        // Freed outside the lock.
        drop(old);
    }

    /// At most `cap` entries, newest first.
    fn newest(&self, cap: usize) -> Vec<Arc<Entry>> {
        let mut all: Vec<Arc<Entry>> =
            self.shards.iter().flat_map(|s| crate::store::lock(s).iter().cloned().collect::<Vec<_>>()).collect();
        all.sort_unstable_by_key(|e| std::cmp::Reverse(e.seq));
        all.truncate(cap);
        all
    }

    fn len(&self, cap: usize) -> usize {
        self.shards.iter().map(|s| crate::store::lock(s).len()).sum::<usize>().min(cap)
    }

    fn clear(&self) {
        for s in self.shards.iter() {
            crate::store::lock(s).clear();
        }
    }
}

enum Pending {
    Entry(Box<Entry>),
    /// Answered once everything queued before it was sent (or dropped).
    Barrier(tokio::sync::oneshot::Sender<()>),
}

struct Shared {
    logs: Arc<dyn SharedLog>,
    queue: tokio::sync::mpsc::Sender<Pending>,
}

/// Every namespace's journal on one server (it outlives a reload).
pub struct Journals {
    settings: JournalSettings,
    /// This instance, as entries name it.
    instance: Arc<str>,
    /// At most this many namespaces get a journal of their own (the rest share the default one).
    max_spaces: usize,
    default_ring: Arc<Ring>,
    /// The named namespaces' rings.
    rings: RwLock<HashMap<Box<str>, Arc<Ring>>>,
    shared: Option<Shared>,
    dropped: Arc<AtomicU64>,
}

/// The log name of a namespace's journal (`requests`, `requests@t1`).
fn log_name(namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("requests@{ns}"),
        None => "requests".to_owned(),
    }
}

impl Journals {
    /// Journals kept in this process (`logs` is `None`) or in the backend's shared
    /// logs; `dropped` counts entries that could not be kept. Starts the writer task
    /// of a shared journal, so it must be called inside the runtime.
    pub fn new(
        settings: JournalSettings,
        logs: Option<Arc<dyn SharedLog>>,
        instance: String,
        max_spaces: usize,
        dropped: Arc<AtomicU64>,
    ) -> Journals {
        let shared = logs.filter(|_| settings.enabled).map(|logs| {
            let (queue, rx) = tokio::sync::mpsc::channel(QUEUE);
            tokio::spawn(writer(Arc::clone(&logs), rx, settings.max_entries, Arc::clone(&dropped)));
            Shared { logs, queue }
        });
        Journals {
            settings,
            instance: instance.into(),
            max_spaces,
            default_ring: Arc::new(Ring::new()),
            rings: RwLock::default(),
            shared,
            dropped,
        }
    }

    pub fn settings(&self) -> &JournalSettings {
        &self.settings
    }

    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Entries that could not be kept (a shared journal's backend down or too slow).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Shared by every instance on the backend.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    fn ring(&self, namespace: Option<&str>, create: bool) -> Option<Arc<Ring>> {
        let Some(key) = namespace else { return Some(Arc::clone(&self.default_ring)) };
        if let Some(r) = self.rings.read().ok()?.get(key) {
            return Some(Arc::clone(r));
        }
        if !create {
            return None;
        }
        let mut rings = self.rings.write().ok()?;
        if !rings.contains_key(key) && rings.len() > self.max_spaces {
            // Names that never became namespaces must not grow this without bound.
            return Some(Arc::clone(&self.default_ring));
        }
        let ring = rings.entry(key.into()).or_insert_with(|| Arc::new(Ring::new()));
        Some(Arc::clone(ring))
    }

    /// Keeps `entry` in its namespace's journal; never fails or waits.
    pub fn record(&self, mut entry: Entry) {
        if !self.settings.enabled {
            return;
        }
        entry.instance = Arc::clone(&self.instance);
        let Some(shared) = &self.shared else {
            let namespace = entry.namespace.as_deref().filter(|ns| crate::namespaces::check_name(ns).is_ok());
            match namespace {
                None => self.default_ring.push(entry, self.settings.max_entries),
                Some(_) => {
                    if let Some(ring) = self.ring(namespace, true) {
                        ring.push(entry, self.settings.max_entries);
                    }
                }
            }
            return;
        };
        if shared.queue.try_send(Pending::Entry(Box::new(entry))).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Waits until what this instance queued before now has been sent (a shared journal).
    async fn flush(&self) {
        if let Some(shared) = &self.shared {
            let (tx, rx) = tokio::sync::oneshot::channel();
            if tokio::time::timeout(FLUSH_WAIT, shared.queue.send(Pending::Barrier(tx))).await.is_ok() {
                let _ = tokio::time::timeout(FLUSH_WAIT, rx).await;
            }
        }
    }

    /// How long a verification may wait for entries still on their way from other
    /// instances: none for a journal only this instance writes.
    pub fn grace(&self) -> Duration {
        if self.shared.is_some() { SHARED_GRACE } else { Duration::ZERO }
    }

    /// The namespace's entries, newest first (at most `journal.max_entries`).
    pub async fn entries(&self, namespace: Option<&str>) -> Result<Vec<Arc<Entry>>, StoreError> {
        match &self.shared {
            None => {
                let Some(ring) = self.ring(namespace, false) else { return Ok(Vec::new()) };
                Ok(ring.newest(self.settings.max_entries))
            }
            Some(shared) => {
                self.flush().await;
                let texts = shared.logs.newest(&log_name(namespace), self.settings.max_entries).await?;
                Ok(texts.iter().filter_map(|t| serde_json::from_str::<Entry>(t).ok()).map(Arc::new).collect())
            }
        }
    }

    /// How many entries the namespace's journal holds now (a stream may hold a little
    /// more than `max_entries` between trims; reads never return more).
    pub async fn len(&self, namespace: Option<&str>) -> Result<usize, StoreError> {
        match &self.shared {
            None => Ok(self.ring(namespace, false).map_or(0, |r| r.len(self.settings.max_entries))),
            Some(shared) => {
                self.flush().await;
                shared.logs.len(&log_name(namespace)).await
            }
        }
    }

    /// Empties the namespace's journal.
    pub async fn clear(&self, namespace: Option<&str>) -> Result<(), StoreError> {
        match &self.shared {
            None => {
                if let Some(ring) = self.ring(namespace, false) {
                    ring.clear();
                }
                if let Some(ns) = namespace
                    && let Ok(mut rings) = self.rings.write()
                {
                    rings.remove(ns);
                }
                Ok(())
            }
            Some(shared) => {
                self.flush().await;
                shared.logs.clear(&log_name(namespace)).await
            }
        }
    }
}

/// Sends queued entries in batches until the journals are dropped.
async fn writer(
    logs: Arc<dyn SharedLog>,
    mut rx: tokio::sync::mpsc::Receiver<Pending>,
    cap: usize,
    dropped: Arc<AtomicU64>,
) {
    let mut batch: Vec<Pending> = Vec::with_capacity(BATCH);
    let mut healthy = true;
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let mut texts: Vec<(String, String)> = Vec::with_capacity(batch.len());
        let mut barriers = Vec::new();
        for p in batch.drain(..) {
            match p {
                Pending::Entry(e) => {
                    let namespace = e.namespace.as_deref().filter(|ns| crate::namespaces::check_name(ns).is_ok());
                    if let Ok(text) = serde_json::to_string(&e) {
                        texts.push((log_name(namespace), text));
                    }
                }
                Pending::Barrier(done) => barriers.push(done),
            }
        }
        if !texts.is_empty() {
            let records: Vec<(&str, &str)> = texts.iter().map(|(l, t)| (l.as_str(), t.as_str())).collect();
            match logs.append(&records, cap).await {
                Ok(()) if !healthy => {
                    healthy = true;
                    tracing::info!("request journal: the backend answers again");
                }
                Ok(()) => {}
                Err(e) => {
                    dropped.fetch_add(texts.len() as u64, Ordering::Relaxed);
                    if healthy {
                        healthy = false;
                        let error = crate::telemetry::error_chain(&e);
                        tracing::warn!(%error, "request journal: entries dropped while the backend is down");
                    }
                }
            }
        }
        for done in barriers {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_cut_on_character_boundaries() {
        assert_eq!(cut("héllo".as_bytes(), 2), "h");
        assert_eq!(cut(b"hello", 10), "hello");
        assert_eq!(cut(b"hello", 0), "");
    }

    #[tokio::test]
    async fn a_ring_keeps_the_newest_entries_per_namespace() {
        let settings = JournalSettings { max_entries: 3, ..JournalSettings::default() };
        let j = Journals::new(settings, None, "i".into(), 10, Arc::default());
        for n in 0..5 {
            j.record(Entry { id: n.to_string().into(), ..Entry::default() });
        }
        j.record(Entry { id: "t1".into(), namespace: Some("t1".into()), ..Entry::default() });
        let ids: Vec<String> = j.entries(None).await.unwrap().iter().map(|e| e.id.to_string()).collect();
        assert_eq!(ids, ["4", "3", "2"]);
        assert_eq!(j.entries(Some("t1")).await.unwrap().len(), 1);
        j.clear(Some("t1")).await.unwrap();
        assert!(j.entries(Some("t1")).await.unwrap().is_empty());
        assert_eq!(j.len(None).await.unwrap(), 3);
    }
}
