//! Prometheus metrics, one registry per server (not the process-global recorder, so
//! several servers in one process — the tests — keep their numbers apart).
//!
//! - `mockgate_http_requests_total` and `mockgate_http_request_duration_seconds`
//!   by method, route (the path template, never the raw path) and status;
//! - `mockgate_store_operations_total` (by backend, operation, outcome),
//!   `mockgate_store_operation_duration_seconds` and `mockgate_store_in_flight`,
//!   recorded by [`MeteredStore`];
//! - `mockgate_entities` by entity type, `mockgate_uptime_seconds` and
//!   `mockgate_journal_dropped_total`, read at scrape.
//!
//! Series handles are looked up once per (method, route, status) and then only
//! incremented: the hot path takes a read lock and does no allocation.

use crate::store::{Dataset, ListQuery, Page, Snapshot, SnapshotMeta, Store, StoreError, Transaction};
use async_trait::async_trait;
use hashbrown::{Equivalent, HashMap};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Level, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use serde_json::Value;
use std::fmt::Write as _;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

const META: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Request latency buckets, in seconds: 100 µs to 5 s.
const BUCKETS: &[f64] = &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// The route label of requests that matched no endpoint (404/405), so that scanners
/// probing random paths cannot create unbounded series.
pub const UNMATCHED: &str = "(unmatched)";

pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    requests: RwLock<HashMap<SeriesKey, RequestSeries>>,
    started: Instant,
    /// Request-journal entries that could not be kept (the journal counts them).
    journal_dropped: Arc<std::sync::atomic::AtomicU64>,
}

#[derive(PartialEq, Eq, Hash)]
struct SeriesKey {
    method: Box<str>,
    route: Box<str>,
    status: u16,
    /// Empty unless `namespaces.metrics_label` is on.
    namespace: Box<str>,
}

/// The borrowed form of [`SeriesKey`], for lookups without allocating.
#[derive(Hash)]
struct SeriesRef<'a> {
    method: &'a str,
    route: &'a str,
    status: u16,
    namespace: &'a str,
}

impl Equivalent<SeriesKey> for SeriesRef<'_> {
    fn equivalent(&self, key: &SeriesKey) -> bool {
        self.status == key.status
            && *self.method == *key.method
            && *self.route == *key.route
            && *self.namespace == *key.namespace
    }
}

#[derive(Clone)]
struct RequestSeries {
    count: Counter,
    latency: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .expect("the bucket list is not empty")
            .upkeep_timeout(Duration::from_secs(5))
            .build_recorder();
        let name = KeyName::from_const_str;
        recorder.describe_counter(
            name("mockgate_http_requests_total"),
            None,
            "HTTP requests by method, route and status".into(),
        );
        recorder.describe_histogram(
            name("mockgate_http_request_duration_seconds"),
            Some(Unit::Seconds),
            "HTTP request latency by method, route and status".into(),
        );
        recorder.describe_counter(
            name("mockgate_store_operations_total"),
            None,
            "Storage operations by backend, operation and outcome (ok, conflict, error)".into(),
        );
        recorder.describe_histogram(
            name("mockgate_store_operation_duration_seconds"),
            Some(Unit::Seconds),
            "Storage operation latency by backend and operation".into(),
        );
        recorder.describe_gauge(
            name("mockgate_store_in_flight"),
            None,
            "Storage operations under way right now".into(),
        );
        let handle = recorder.handle();
        Metrics {
            recorder,
            handle,
            requests: RwLock::default(),
            started: Instant::now(),
            journal_dropped: Arc::default(),
        }
    }

    /// Counts one finished request.
    /// One answered request; `namespace` becomes a label only when the profile asks
    /// for it (`namespaces.metrics_label`), since namespaces are unbounded otherwise.
    pub fn observe_request(&self, method: &str, route: &str, namespace: Option<&str>, status: u16, elapsed: Duration) {
        // Clients may send any method token; only the standard ones become labels.
        const METHODS: [&str; 9] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT"];
        let method = if METHODS.contains(&method) { method } else { "OTHER" };
        let namespace = namespace.unwrap_or("");
        let probe = SeriesRef { method, route, status, namespace };
        let found = self.requests.read().ok().and_then(|m| m.get(&probe).cloned());
        let series = match found {
            Some(s) => s,
            None => self.register_request(method, route, status, namespace),
        };
        series.count.increment(1);
        series.latency.record(elapsed.as_secs_f64());
    }

    #[cold]
    fn register_request(&self, method: &str, route: &str, status: u16, namespace: &str) -> RequestSeries {
        let mut labels = vec![
            Label::new("method", method.to_owned()),
            Label::new("route", route.to_owned()),
            Label::new("status", status.to_string()),
        ];
        if !namespace.is_empty() {
            labels.push(Label::new("namespace", namespace.to_owned()));
        }
        let series = RequestSeries {
            count: self
                .recorder
                .register_counter(&Key::from_parts("mockgate_http_requests_total", labels.clone()), &META),
            latency: self
                .recorder
                .register_histogram(&Key::from_parts("mockgate_http_request_duration_seconds", labels), &META),
        };
        if let Ok(mut map) = self.requests.write() {
            let key = SeriesKey { method: method.into(), route: route.into(), status, namespace: namespace.into() };
            map.entry(key).or_insert_with(|| series.clone());
        }
        series
    }

    fn counter(&self, name: &'static str, labels: Vec<Label>) -> Counter {
        self.recorder.register_counter(&Key::from_parts(name, labels), &META)
    }

    fn histogram(&self, name: &'static str, labels: Vec<Label>) -> Histogram {
        self.recorder.register_histogram(&Key::from_parts(name, labels), &META)
    }

    fn gauge(&self, name: &'static str, labels: Vec<Label>) -> Gauge {
        self.recorder.register_gauge(&Key::from_parts(name, labels), &META)
    }

    /// One fault a chaos rule injected (`kind`: delay, status, store_conflict, …).
    pub fn fault_injected(&self, kind: &str, route: &str) {
        let labels = vec![Label::new("kind", kind.to_owned()), Label::new("route", route.to_owned())];
        self.counter("mockgate_faults_injected_total", labels).increment(1);
    }

    /// The counter the request journal increments for each entry it drops.
    pub fn journal_dropped(&self) -> Arc<std::sync::atomic::AtomicU64> {
        Arc::clone(&self.journal_dropped)
    }

    /// Drains recorded histogram samples into their buckets; without it an unscraped
    /// server would keep every sample. The server runs it every few seconds.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// The Prometheus text exposition, with the entity counts read just now (`None`:
    /// the backend did not answer, reported as `mockgate_store_up 0`).
    pub fn render(&self, entities: Option<&[(String, usize)]>) -> String {
        let mut out = self.handle.render();
        let _ = writeln!(out, "# HELP mockgate_uptime_seconds Seconds since the server started");
        let _ = writeln!(out, "# TYPE mockgate_uptime_seconds gauge");
        let _ = writeln!(out, "mockgate_uptime_seconds {:.3}", self.started.elapsed().as_secs_f64());
        let _ = writeln!(
            out,
            "# HELP mockgate_journal_dropped_total Request-journal entries dropped (shared journal down or too slow)"
        );
        let _ = writeln!(out, "# TYPE mockgate_journal_dropped_total counter");
        let dropped = self.journal_dropped.load(std::sync::atomic::Ordering::Relaxed);
        let _ = writeln!(out, "mockgate_journal_dropped_total {dropped}");
        let _ = writeln!(out, "# HELP mockgate_build_info The running mockgate version");
        let _ = writeln!(out, "# TYPE mockgate_build_info gauge");
        let _ = writeln!(out, "mockgate_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
        let _ = writeln!(out, "# HELP mockgate_store_up Whether the storage backend answered this scrape");
        let _ = writeln!(out, "# TYPE mockgate_store_up gauge");
        let _ = writeln!(out, "mockgate_store_up {}", u8::from(entities.is_some()));
        if let Some(entities) = entities {
            let _ = writeln!(out, "# HELP mockgate_entities Live entities by type");
            let _ = writeln!(out, "# TYPE mockgate_entities gauge");
            for (entity, n) in entities.iter().filter(|(e, _)| !e.starts_with("__")) {
                let _ = writeln!(out, "mockgate_entities{{entity=\"{}\"}} {n}", escape_label(entity));
            }
        }
        out
    }
}

/// A label value as the exposition format quotes it.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The storage operations that are counted.
#[derive(Clone, Copy)]
enum Op {
    Get,
    List,
    Commit,
    NextId,
    Counts,
    Dump,
    ReplaceAll,
    Flush,
    Load,
    Snapshot,
}

const OPS: [(Op, &str); 10] = [
    (Op::Get, "get"),
    (Op::List, "list"),
    (Op::Commit, "commit"),
    (Op::NextId, "next_id"),
    (Op::Counts, "counts"),
    (Op::Dump, "dump"),
    (Op::ReplaceAll, "replace_all"),
    (Op::Flush, "flush"),
    (Op::Load, "load"),
    (Op::Snapshot, "snapshot"),
];

struct OpSeries {
    name: &'static str,
    ok: Counter,
    conflict: Counter,
    error: Counter,
    latency: Histogram,
}

/// A [`Store`] that counts and times every operation of the store it wraps and, at
/// `debug` level on the `mockgate::store` target (`--debug-persistence`), logs each
/// one with its entity, id, outcome and duration.
pub struct MeteredStore {
    inner: Arc<dyn Store>,
    ops: Vec<OpSeries>,
    in_flight: Gauge,
    /// Session ids never reach the debug log.
    secrets: crate::telemetry::Secrets,
}

/// Namespaces' stores, metered like the default one (same series: a namespace is not a label).
pub struct MeteredSpaces {
    inner: Arc<dyn crate::store::Spaces>,
    metrics: Arc<Metrics>,
    secrets: crate::telemetry::Secrets,
}

impl MeteredSpaces {
    pub fn new(
        inner: Arc<dyn crate::store::Spaces>,
        metrics: &Arc<Metrics>,
        secrets: crate::telemetry::Secrets,
    ) -> Self {
        MeteredSpaces { inner, metrics: Arc::clone(metrics), secrets }
    }
}

#[async_trait::async_trait]
impl crate::store::Spaces for MeteredSpaces {
    async fn open(
        &self,
        name: &str,
        tag: Option<&str>,
        clock: Arc<crate::store::TestClock>,
    ) -> Result<Arc<dyn Store>, StoreError> {
        let store = self.inner.open(name, tag, clock).await?;
        Ok(Arc::new(MeteredStore::new(store, &self.metrics, self.secrets.clone())))
    }

    async fn remove(&self, name: &str) -> Result<(), StoreError> {
        self.inner.remove(name).await
    }

    fn tag(&self, name: &str, n: usize) -> Option<String> {
        self.inner.tag(name, n)
    }
}

impl MeteredStore {
    pub fn new(inner: Arc<dyn Store>, metrics: &Metrics, secrets: crate::telemetry::Secrets) -> Self {
        let backend = inner.backend();
        let ops = OPS
            .iter()
            .map(|(_, name)| {
                let labels = |outcome: &'static str| {
                    vec![Label::new("backend", backend), Label::new("operation", *name), Label::new("outcome", outcome)]
                };
                OpSeries {
                    name,
                    ok: metrics.counter("mockgate_store_operations_total", labels("ok")),
                    conflict: metrics.counter("mockgate_store_operations_total", labels("conflict")),
                    error: metrics.counter("mockgate_store_operations_total", labels("error")),
                    latency: metrics.histogram(
                        "mockgate_store_operation_duration_seconds",
                        vec![Label::new("backend", backend), Label::new("operation", *name)],
                    ),
                }
            })
            .collect();
        let in_flight = metrics.gauge("mockgate_store_in_flight", vec![Label::new("backend", backend)]);
        MeteredStore { inner, ops, in_flight, secrets }
    }

    async fn timed<T>(
        &self,
        op: Op,
        what: impl FnOnce() -> String,
        fut: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let series = &self.ops[op as usize];
        let in_flight = InFlight::enter(&self.in_flight);
        let start = Instant::now();
        let result = fut.await;
        let elapsed = start.elapsed();
        drop(in_flight);
        series.latency.record(elapsed.as_secs_f64());
        let outcome = match &result {
            Ok(_) => {
                series.ok.increment(1);
                "ok"
            }
            Err(StoreError::ConditionFailed { .. }) => {
                series.conflict.increment(1);
                "conflict"
            }
            Err(_) => {
                series.error.increment(1);
                "error"
            }
        };
        if tracing::enabled!(target: "mockgate::store", tracing::Level::DEBUG) {
            let micros = elapsed.as_micros();
            let error = result.as_ref().err().map(|e| crate::telemetry::error_chain(e)).unwrap_or_default();
            tracing::debug!(
                target: "mockgate::store",
                backend = self.inner.backend(),
                operation = series.name,
                outcome,
                store_ms = micros as f64 / 1000.0,
                "store {} {} {outcome} in {}.{:03}ms{}{error}",
                series.name,
                what(),
                micros / 1000,
                micros % 1000,
                if error.is_empty() { "" } else { ": " },
            );
        }
        result
    }
}

/// One operation under way: counted in `mockgate_store_in_flight` until dropped, so
/// an operation whose future is dropped half-way (a client gone) is counted out too.
struct InFlight<'a>(&'a Gauge);

impl<'a> InFlight<'a> {
    fn enter(gauge: &'a Gauge) -> Self {
        gauge.increment(1.0);
        InFlight(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

#[async_trait]
impl Store for MeteredStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn get(&self, entity: &str, id: &str) -> Result<Option<Value>, StoreError> {
        self.timed(Op::Get, || format!("{entity}/{}", self.secrets.id(entity, id)), self.inner.get(entity, id)).await
    }

    async fn list(&self, entity: &str, query: &ListQuery) -> Result<Page, StoreError> {
        self.timed(Op::List, || format!("{entity} {query:?}"), self.inner.list(entity, query)).await
    }

    async fn commit(&self, tx: Transaction) -> Result<(), StoreError> {
        let what = if tracing::enabled!(target: "mockgate::store", tracing::Level::DEBUG) {
            describe_tx(&tx, &self.secrets)
        } else {
            String::new()
        };
        self.timed(Op::Commit, || what, self.inner.commit(tx)).await
    }

    async fn next_id(&self, entity: &str) -> Result<u64, StoreError> {
        self.timed(Op::NextId, || entity.to_owned(), self.inner.next_id(entity)).await
    }

    async fn counts(&self) -> Result<Vec<(String, usize)>, StoreError> {
        self.timed(Op::Counts, String::new, self.inner.counts()).await
    }

    async fn dump(&self) -> Result<Dataset, StoreError> {
        self.timed(Op::Dump, String::new, self.inner.dump()).await
    }

    async fn replace_all(&self, data: Dataset) -> Result<(), StoreError> {
        let what = format!("({} entity types)", data.len());
        self.timed(Op::ReplaceAll, || what, self.inner.replace_all(data)).await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.timed(Op::Flush, String::new, self.inner.flush()).await
    }

    async fn load(&self) -> Result<bool, StoreError> {
        self.timed(Op::Load, String::new, self.inner.load()).await
    }

    async fn info(&self) -> Result<Value, StoreError> {
        self.inner.info().await
    }

    async fn clock_changed(&self, change: crate::store::ClockChange) -> Result<(), StoreError> {
        self.inner.clock_changed(change).await
    }

    async fn put_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        self.timed(Op::Snapshot, || format!("put {}", snapshot.meta.name), self.inner.put_snapshot(snapshot)).await
    }

    async fn get_snapshot(&self, name: &str) -> Result<Option<Snapshot>, StoreError> {
        self.timed(Op::Snapshot, || format!("get {name}"), self.inner.get_snapshot(name)).await
    }

    async fn snapshots(&self) -> Result<Vec<SnapshotMeta>, StoreError> {
        self.timed(Op::Snapshot, || "list".to_owned(), self.inner.snapshots()).await
    }

    async fn delete_snapshot(&self, name: &str) -> Result<bool, StoreError> {
        self.timed(Op::Snapshot, || format!("delete {name}"), self.inner.delete_snapshot(name)).await
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.inner.close().await
    }
}

/// `put users/7 (absent), delete __unique.users.email/a@b (any)` for the debug log.
fn describe_tx(tx: &Transaction, secrets: &crate::telemetry::Secrets) -> String {
    use crate::store::{Cond, Write};
    let mut out = String::new();
    for (i, w) in tx.writes.iter().enumerate() {
        let verb = match w {
            Write::Put { .. } => "put",
            Write::Delete { .. } => "delete",
            Write::Check { .. } => "check",
        };
        let cond = match w.cond() {
            Cond::Any => "any",
            Cond::Absent => "absent",
            Cond::Present => "present",
            Cond::Equals(_) => "unchanged",
        };
        let id = secrets.id(w.entity(), w.id());
        let _ = write!(out, "{}{verb} {}/{id} ({cond})", if i == 0 { "" } else { ", " }, w.entity());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn a_borrowed_series_key_hashes_like_the_owned_one() {
        let build = hashbrown::DefaultHashBuilder::default();
        let owned = SeriesKey { method: "GET".into(), route: "/users/{id}".into(), status: 200, namespace: "".into() };
        let probe = SeriesRef { method: "GET", route: "/users/{id}", status: 200, namespace: "" };
        assert_eq!(build.hash_one(&owned), build.hash_one(&probe));
        assert!(probe.equivalent(&owned));
        assert!(!SeriesRef { status: 404, ..probe }.equivalent(&owned));
    }

    #[test]
    fn operations_are_listed_in_the_order_of_their_enum() {
        assert!(OPS.iter().enumerate().all(|(i, (op, _))| *op as usize == i));
    }

    #[test]
    fn requests_are_counted_by_route_and_status() {
        let m = Metrics::new();
        m.observe_request("GET", "/users/{id}", None, 200, Duration::from_millis(2));
        m.observe_request("GET", "/users/{id}", None, 200, Duration::from_millis(3));
        m.observe_request("GET", "/users/{id}", None, 404, Duration::from_millis(1));
        let text = m.render(Some(&[("users".into(), 2), ("__unique.users.email".into(), 2)]));
        assert!(
            text.contains(r#"mockgate_http_requests_total{method="GET",route="/users/{id}",status="200"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"mockgate_http_requests_total{method="GET",route="/users/{id}",status="404"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"mockgate_http_request_duration_seconds_count{method="GET",route="/users/{id}",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"mockgate_entities{entity="users"} 2"#), "{text}");
        assert!(!text.contains("__unique"), "{text}");
    }

    #[test]
    fn unknown_methods_share_one_label() {
        let m = Metrics::new();
        for method in ["BREW", "PROPFIND", "X"] {
            m.observe_request(method, UNMATCHED, None, 405, Duration::from_millis(1));
        }
        let text = m.render(None);
        assert!(
            text.contains(r#"mockgate_http_requests_total{method="OTHER",route="(unmatched)",status="405"} 3"#),
            "{text}"
        );
        assert!(!text.contains("BREW"));
    }
}
