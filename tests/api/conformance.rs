//! Store semantics, written once and run against every backend.

use crate::common::RedisServer;
use mockgate::store::{
    Clock, Cond, FileStore, Found, ListQuery, ManualClock, MemoryStore, RedisStore, Snapshot, SnapshotMeta, Sort,
    Store, StoreError, Transaction, Ttl, Write,
};
use serde_json::{Value, json};
use std::sync::Arc;

/// A store under test plus whatever must live as long as it.
pub struct Subject {
    pub store: Arc<dyn Store>,
    /// The embedded stores' clock; Redis is told how its clock moved instead.
    clock: Option<Arc<ManualClock>>,
    /// How far Redis's expiries were moved so far.
    moved_ms: std::sync::atomic::AtomicU64,
    _dir: Option<Arc<tempfile::TempDir>>,
    _redis: Option<Arc<RedisServer>>,
}

impl Subject {
    /// Lets time pass, instantly: a manual clock jumps; Redis moves every expiry (as
    /// `/system/clock` makes it do).
    async fn advance_ms(&self, ms: u64) {
        match &self.clock {
            Some(c) => c.advance_ms(ms),
            None => {
                self.moved_ms.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
                self.store.clock_changed(mockgate::store::ClockChange::Shift(ms as i64)).await.unwrap()
            }
        }
    }

    /// Whether `entity/id` is gone by `deadline_ms` after `start` (the case's start): the
    /// manual clock jumps there; on Redis every expiry moves by what is left until then.
    async fn gone_by(&self, entity: &str, id: &str, start: std::time::Instant, deadline_ms: u64) -> bool {
        match &self.clock {
            Some(c) => c.advance_ms(deadline_ms.saturating_sub(c.now_ms() - START_MS)),
            None => {
                let moved = self.moved_ms.load(std::sync::atomic::Ordering::SeqCst);
                let left = deadline_ms.saturating_sub(start.elapsed().as_millis() as u64 + moved);
                self.advance_ms(left).await;
            }
        }
        self.store.get(entity, id).await.unwrap().is_none()
    }
}

/// Where the embedded stores' manual clocks start.
const START_MS: u64 = 1_700_000_000_000;

pub async fn memory_store() -> Subject {
    store_on("memory", Default::default()).await
}

pub async fn file_store() -> Subject {
    store_on("file", Default::default()).await
}

/// A store on a shared Redis Cluster, under its own hash tag.
pub async fn cluster_store(urls: &str, case: &str) -> Subject {
    let store = RedisStore::connect_cluster(urls, &format!("test:{{{case}}}"), std::time::Duration::from_secs(2))
        .await
        .unwrap();
    Subject { store: Arc::new(store), clock: None, moved_ms: Default::default(), _dir: None, _redis: None }
}

pub async fn redis_store() -> Subject {
    store_on("redis", Default::default()).await
}

/// Two namespaces' stores on one backend (one folder, one Redis server), as the
/// gateway opens them: each case runs in both at once, so any leakage between them
/// breaks its exact expectations.
pub async fn namespace_pair(backend: &str) -> (Subject, Subject) {
    match backend {
        "memory" => (memory_store().await, memory_store().await),
        "file" => {
            let root = Arc::new(tempfile::tempdir().unwrap());
            let one = |name: &str| {
                let clock = Arc::new(ManualClock::new(START_MS));
                let dir = root.path().join("namespaces").join(name);
                let (store, existed) = FileStore::open(&dir, clock.clone() as Arc<dyn Clock>).unwrap();
                assert!(!existed);
                Subject {
                    store: Arc::new(store),
                    clock: Some(clock),
                    moved_ms: Default::default(),
                    _dir: Some(root.clone()),
                    _redis: None,
                }
            };
            (one("a"), one("b"))
        }
        _ => {
            let server = Arc::new(RedisServer::start());
            let base = RedisStore::connect(&server.url(), "test:{conformance}", std::time::Duration::from_secs(2))
                .await
                .unwrap();
            let one = |name: &str| Subject {
                store: Arc::new(base.with_prefix(&format!("test:{{conformance|ns={name}}}"))),
                clock: None,
                moved_ms: Default::default(),
                _dir: None,
                _redis: Some(server.clone()),
            };
            (one("a"), one("b"))
        }
    }
}
fn put(entity: &str, id: &str, value: Value, cond: Cond) -> Write {
    Write::Put { entity: entity.into(), id: id.into(), value, ttl: Ttl::Persist, cond }
}

async fn create(store: &dyn Store, id: &str, value: Value) {
    store.commit(Transaction::single(put("users", id, value, Cond::Absent))).await.expect("create");
}

async fn put_then_get_returns_the_entity(s: Subject) {
    create(s.store.as_ref(), "1", json!({"id": "1", "name": "Ada"})).await;
    assert_eq!(s.store.get("users", "1").await.unwrap(), Some(json!({"id": "1", "name": "Ada"})));
    assert_eq!(s.store.get("users", "2").await.unwrap(), None);
    assert_eq!(s.store.get("nobody", "1").await.unwrap(), None);
}

async fn absent_condition_keeps_the_first_write(s: Subject) {
    create(s.store.as_ref(), "1", json!({"v": 1})).await;
    let err = s.store.commit(Transaction::single(put("users", "1", json!({"v": 2}), Cond::Absent))).await.unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { index: 0, found: Found::Exists, .. }), "{err:?}");
    assert_eq!(s.store.get("users", "1").await.unwrap(), Some(json!({"v": 1})));
}

async fn equals_condition_detects_a_concurrent_change(s: Subject) {
    create(s.store.as_ref(), "1", json!({"v": 1})).await;
    let stale = json!({"v": 0});
    let err =
        s.store.commit(Transaction::single(put("users", "1", json!({"v": 2}), Cond::Equals(stale)))).await.unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { found: Found::Changed, .. }));
    s.store
        .commit(Transaction::single(put("users", "1", json!({"v": 2}), Cond::Equals(json!({"v": 1})))))
        .await
        .unwrap();
    assert_eq!(s.store.get("users", "1").await.unwrap(), Some(json!({"v": 2})));
}

async fn a_transaction_is_all_or_nothing(s: Subject) {
    create(s.store.as_ref(), "taken", json!({"v": 1})).await;
    let tx = Transaction {
        writes: vec![
            put("orders", "o1", json!({"total": 5}), Cond::Absent),
            put("users", "taken", json!({"v": 2}), Cond::Absent),
        ],
    };
    let err = s.store.commit(tx).await.unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { index: 1, .. }));
    assert_eq!(s.store.get("orders", "o1").await.unwrap(), None, "the first write was not applied");
    assert_eq!(s.store.get("users", "taken").await.unwrap(), Some(json!({"v": 1})));
}

async fn a_delete_needs_presence(s: Subject) {
    create(s.store.as_ref(), "1", json!({"v": 1})).await;
    let del = |cond| Transaction::single(Write::Delete { entity: "users".into(), id: "1".into(), cond });
    s.store.commit(del(Cond::Present)).await.unwrap();
    assert_eq!(s.store.get("users", "1").await.unwrap(), None);
    assert!(matches!(
        s.store.commit(del(Cond::Present)).await,
        Err(StoreError::ConditionFailed { found: Found::Missing, .. })
    ));
}

async fn list_pages_in_creation_order_with_the_total(s: Subject) {
    for id in ["c", "a", "b", "d"] {
        create(s.store.as_ref(), id, json!({"id": id})).await;
    }
    let page = s.store.list("users", &ListQuery { offset: 1, limit: Some(2), ..Default::default() }).await.unwrap();
    assert_eq!(page.items, vec![json!({"id": "a"}), json!({"id": "b"})]);
    assert_eq!(page.total, 4);
    let empty = s.store.list("nobody", &ListQuery::default()).await.unwrap();
    assert_eq!((empty.items.len(), empty.total), (0, 0));
}

async fn list_filters_searches_and_sorts(s: Subject) {
    create(s.store.as_ref(), "1", json!({"id": "1", "name": "Ada", "role": "admin", "age": 36})).await;
    create(s.store.as_ref(), "2", json!({"id": "2", "name": "Bob", "role": "user", "age": 25})).await;
    create(s.store.as_ref(), "3", json!({"id": "3", "name": "Cyd", "role": "user", "age": 41})).await;
    let q = ListQuery {
        filters: vec![("role".into(), "user".into())],
        sort: Some(Sort { field: "age".into(), descending: true }),
        ..Default::default()
    };
    let page = s.store.list("users", &q).await.unwrap();
    let ids: Vec<&str> = page.items.iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!((ids, page.total), (vec!["3", "2"], 2));
    let found = s.store.list("users", &ListQuery { search: Some("ad".into()), ..Default::default() }).await.unwrap();
    assert_eq!(found.total, 1);
}

async fn an_update_that_keeps_ttl_does_not_extend_it(s: Subject) {
    let start = std::time::Instant::now();
    let w = Write::Put {
        entity: "sessions".into(),
        id: "s".into(),
        value: json!({"n": 1}),
        ttl: Ttl::Seconds(1),
        cond: Cond::Absent,
    };
    s.store.commit(Transaction::single(w)).await.unwrap();
    s.advance_ms(500).await;
    let keep = Write::Put {
        entity: "sessions".into(),
        id: "s".into(),
        value: json!({"n": 2}),
        ttl: Ttl::Keep,
        cond: Cond::Present,
    };
    s.store.commit(Transaction::single(keep)).await.unwrap();
    assert_eq!(s.store.get("sessions", "s").await.unwrap(), Some(json!({"n": 2})));
    // An expiry the update had extended would last until 1.5 s.
    assert!(s.gone_by("sessions", "s", start, 1400).await, "expired at 1 s despite the update");
    assert_eq!(s.store.list("sessions", &ListQuery::default()).await.unwrap().total, 0);
    assert!(s.store.counts().await.unwrap().iter().all(|(_, n)| *n == 0));
    // An expired entity no longer blocks a create.
    let again = Write::Put {
        entity: "sessions".into(),
        id: "s".into(),
        value: json!({"n": 3}),
        ttl: Ttl::Persist,
        cond: Cond::Absent,
    };
    s.store.commit(Transaction::single(again)).await.unwrap();
}

async fn next_id_never_reuses_a_numeric_id(s: Subject) {
    create(s.store.as_ref(), "7", json!({"id": 7})).await;
    assert_eq!(s.store.next_id("users").await.unwrap(), 8);
    assert_eq!(s.store.next_id("users").await.unwrap(), 9);
    assert_eq!(s.store.next_id("orders").await.unwrap(), 1);
}

async fn only_canonical_numeric_ids_move_the_counter(s: Subject) {
    // `007`, `0` and a 16-digit id are names, not numbers, on every backend and path.
    for id in ["007", "0", "41", "1000000000000000"] {
        create(s.store.as_ref(), id, json!({"id": id})).await;
    }
    assert_eq!(s.store.next_id("users").await.unwrap(), 42);
    let mut data = mockgate::store::Dataset::new();
    let rows = data.entry("tags".into()).or_default();
    for id in ["0099", "9", "1000000000000001"] {
        rows.insert(id.into(), json!({"id": id}));
    }
    s.store.replace_all(data).await.unwrap();
    assert_eq!(s.store.next_id("tags").await.unwrap(), 10);
}

async fn snapshots_are_stored_listed_and_deleted(s: Subject) {
    let mut data = mockgate::store::Dataset::new();
    data.entry("users".into()).or_default().insert("u1".into(), json!({"id": "u1", "name": "Ada"}));
    let snapshot = |name: &str| Snapshot {
        meta: SnapshotMeta {
            name: name.into(),
            description: format!("{name} state"),
            created_at: "2026-12-01T00:00:00Z".into(),
            counts: [("users".to_owned(), 1)].into_iter().collect(),
        },
        data: data.clone(),
    };
    for name in ["zeta", "alpha"] {
        s.store.put_snapshot(&snapshot(name)).await.unwrap();
    }
    assert_eq!(s.store.get_snapshot("alpha").await.unwrap(), Some(snapshot("alpha")));
    assert_eq!(s.store.get_snapshot("missing").await.unwrap(), None);
    let names: Vec<String> = s.store.snapshots().await.unwrap().into_iter().map(|m| m.name).collect();
    assert_eq!(names, ["alpha", "zeta"], "listed by name, without data");
    assert!(s.store.delete_snapshot("alpha").await.unwrap());
    assert!(!s.store.delete_snapshot("alpha").await.unwrap());
    assert_eq!(s.store.snapshots().await.unwrap().len(), 1);
    assert_eq!(s.store.dump().await.unwrap(), mockgate::store::Dataset::new(), "snapshots are not data");
}

async fn replace_all_then_dump_round_trips(s: Subject) {
    create(s.store.as_ref(), "old", json!({})).await;
    let mut data = mockgate::store::Dataset::new();
    data.entry("products".into()).or_default().insert("1".into(), json!({"id": 1}));
    data.entry("users".into()).or_default().insert("u".into(), json!({"id": "u"}));
    s.store.replace_all(data.clone()).await.unwrap();
    assert_eq!(s.store.dump().await.unwrap(), data);
    assert_eq!(s.store.counts().await.unwrap(), vec![("products".into(), 1), ("users".into(), 1)]);
    assert_eq!(s.store.next_id("products").await.unwrap(), 2);
}

async fn concurrent_compare_and_set_loses_no_update(s: Subject) {
    create(s.store.as_ref(), "counter", json!({"n": 0})).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = Arc::clone(&s.store);
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                loop {
                    let cur = store.get("users", "counter").await.unwrap().unwrap();
                    let next = json!({"n": cur["n"].as_u64().unwrap() + 1});
                    match store.commit(Transaction::single(put("users", "counter", next, Cond::Equals(cur)))).await {
                        Ok(_) => break,
                        Err(StoreError::ConditionFailed { .. }) => continue,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(s.store.get("users", "counter").await.unwrap(), Some(json!({"n": 200})));
}

async fn a_check_writes_nothing_but_its_condition_must_hold(s: Subject) {
    create(s.store.as_ref(), "parent", json!({"id": "parent"})).await;
    let check = |id: &str| Write::Check { entity: "users".into(), id: id.into(), cond: Cond::Present };
    let child = || put("posts", "c1", json!({"parent": "x"}), Cond::Absent);
    let err = s.store.commit(Transaction { writes: vec![child(), check("ghost")] }).await.unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { index: 1, found: Found::Missing, .. }));
    assert_eq!(s.store.get("posts", "c1").await.unwrap(), None);
    s.store.commit(Transaction { writes: vec![child(), check("parent")] }).await.unwrap();
    assert_eq!(s.store.get("posts", "c1").await.unwrap(), Some(json!({"parent": "x"})));
    assert_eq!(
        s.store.counts().await.unwrap(),
        vec![("posts".into(), 1), ("users".into(), 1)],
        "a check creates nothing"
    );
}

/// Random data (enough for the embedded stores' equality indexes to be built and then
/// kept up to date through updates and deletes) and random queries: every backend
/// answers each query as the plain definition does over the same entities in creation
/// order (`ListQuery::apply`, itself checked against a naive filter-sort-page).
async fn random_queries_answer_as_the_plain_definition(s: Subject) {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let roles = ["admin", "user", "guest"];
    let make = |i: u64, next: &mut dyn FnMut(u64) -> u64| {
        let mut v = json!({"id": i.to_string(), "name": format!("n{}", next(50))});
        match next(6) {
            0 => {}
            1 => v["role"] = Value::Null,
            _ => v["role"] = json!(roles[next(3) as usize]),
        }
        if next(5) != 0 {
            v["age"] = if next(7) == 0 { json!(format!("{}", next(60))) } else { json!(next(60)) };
        }
        if next(3) == 0 {
            let city = ["Oslo", "Lima", "Pune"][next(3) as usize];
            v["address"] = json!({ "city": city });
        }
        if next(4) == 0 {
            let tags = &["a", "b", "c"][..1 + next(3) as usize];
            v["tags"] = json!(tags);
        }
        v
    };
    // The model: entities in creation order.
    let mut model: Vec<(String, Value)> = Vec::new();
    for i in 0..700 {
        let v = make(i, &mut next);
        s.store.commit(Transaction::single(put("users", &i.to_string(), v.clone(), Cond::Absent))).await.unwrap();
        model.push((i.to_string(), v));
    }
    let queries = |next: &mut dyn FnMut(u64) -> u64| -> ListQuery {
        let mut q = ListQuery { offset: next(4) as usize * next(20) as usize, ..Default::default() };
        q.limit = if next(5) == 0 { None } else { Some(next(15) as usize) };
        for _ in 0..next(3) {
            q.filters.push(match next(5) {
                0 => ("role".into(), roles[next(3) as usize].into()),
                1 => ("age".into(), next(60).to_string()),
                2 => ("address.city".into(), ["Oslo", "Lima", "Nowhere"][next(3) as usize].into()),
                3 => ("tags".into(), ["a", "c"][next(2) as usize].into()),
                _ => ("role".into(), "null".into()),
            });
        }
        if next(6) == 0 {
            q.search = Some(["N1", "osl", "zz"][next(3) as usize].into());
        }
        if next(2) == 0 {
            q.sort = Some(Sort {
                field: ["age", "name", "address.city"][next(3) as usize].into(),
                descending: next(2) == 0,
            });
        }
        q
    };
    for round in 0..3 {
        for _ in 0..25 {
            let q = queries(&mut next);
            let want = q.apply(model.iter().map(|(_, v)| v));
            let got = s.store.list("users", &q).await.unwrap();
            assert_eq!(got, want, "round {round}, {q:?}");
        }
        // Change the data under the indexes: updates (in place), deletes, creates.
        for _ in 0..60 {
            let at = next(model.len() as u64) as usize;
            match next(3) {
                0 => {
                    let (id, old) = model.remove(at);
                    let del = Write::Delete { entity: "users".into(), id, cond: Cond::Equals(old) };
                    s.store.commit(Transaction::single(del)).await.unwrap();
                }
                1 => {
                    let id = model[at].0.clone();
                    let v = make(id.parse().unwrap(), &mut next);
                    let old = std::mem::replace(&mut model[at].1, v.clone());
                    s.store.commit(Transaction::single(put("users", &id, v, Cond::Equals(old)))).await.unwrap();
                }
                _ => {
                    let i = 1000 + next(1_000_000);
                    if model.iter().any(|(id, _)| *id == i.to_string()) {
                        continue;
                    }
                    let v = make(i, &mut next);
                    s.store
                        .commit(Transaction::single(put("users", &i.to_string(), v.clone(), Cond::Absent)))
                        .await
                        .unwrap();
                    model.push((i.to_string(), v));
                }
            }
        }
    }
}

/// The fields the `indexed` subjects declare.
pub fn declared() -> mockgate::store::DeclaredIndexes {
    let users = ["role", "age", "name", "address.city", "tags"].map(String::from).into();
    let one = |f: &str| [f.to_owned()].into();
    [("users".to_owned(), users), ("sessions".to_owned(), one("n")), ("orders".to_owned(), one("total"))].into()
}

/// The stores of [`store_on`] with the [`declared`] indexes.
pub async fn indexed_store(backend: &str) -> Subject {
    store_on(backend, declared()).await
}

/// A fresh store of `backend` (`memory`, `file`, else a Redis server of its own),
/// declaring `indexes` (none: nothing is indexed up front).
pub async fn store_on(backend: &str, indexes: mockgate::store::DeclaredIndexes) -> Subject {
    let subject = |store: Arc<dyn Store>, clock, dir, redis| Subject {
        store,
        clock,
        moved_ms: Default::default(),
        _dir: dir,
        _redis: redis,
    };
    match backend {
        "memory" => {
            let clock = Arc::new(ManualClock::new(START_MS));
            let store = MemoryStore::new(clock.clone() as Arc<dyn Clock>);
            store.declare_indexes(indexes);
            subject(Arc::new(store), Some(clock), None, None)
        }
        "file" => {
            let clock = Arc::new(ManualClock::new(START_MS));
            let dir = tempfile::tempdir().unwrap();
            let (store, existed) = FileStore::open(dir.path(), clock.clone() as Arc<dyn Clock>).unwrap();
            assert!(!existed);
            store.declare_indexes(indexes);
            subject(Arc::new(store), Some(clock), Some(Arc::new(dir)), None)
        }
        _ => {
            let server = RedisServer::start();
            let store = RedisStore::connect(&server.url(), "test:{conformance}", std::time::Duration::from_secs(2))
                .await
                .unwrap()
                .with_indexes(indexes);
            store.build_indexes().await.unwrap();
            subject(Arc::new(store), None, None, Some(Arc::new(server)))
        }
    }
}

/// Lists on indexed fields stay exact through what changes an index behind its back:
/// expiry (counts too), a create over an expired id (it moves to the end), a reset,
/// and concurrent writers; every answer is the plain definition's over what is stored.
async fn lists_stay_exact_through_expiry_resets_and_concurrent_writers(s: Subject) {
    let start = std::time::Instant::now();
    let store = s.store.as_ref();
    let queries = [
        ListQuery { filters: vec![("role".into(), "admin".into())], ..Default::default() },
        ListQuery { filters: vec![("role".into(), "admin".into())], offset: 2, limit: Some(3), ..Default::default() },
        ListQuery { filters: vec![("age".into(), "30".into())], ..Default::default() },
        ListQuery { sort: Some(Sort { field: "age".into(), descending: true }), limit: Some(7), ..Default::default() },
        ListQuery {
            sort: Some(Sort { field: "age".into(), descending: false }),
            offset: 5,
            limit: Some(9),
            ..Default::default()
        },
        ListQuery { sort: Some(Sort { field: "role".into(), descending: true }), ..Default::default() },
        ListQuery {
            filters: vec![("role".into(), "user".into())],
            sort: Some(Sort { field: "name".into(), descending: false }),
            limit: Some(4),
            ..Default::default()
        },
        ListQuery { filters: vec![("tags".into(), "b".into()), ("role".into(), "user".into())], ..Default::default() },
    ];
    let check = |stage: &'static str| {
        let queries = queries.clone();
        async move {
            let stored = store.dump().await.unwrap().shift_remove("users").unwrap_or_default();
            for q in &queries {
                let want = q.apply(stored.values());
                assert_eq!(store.list("users", q).await.unwrap(), want, "{stage}: {q:?}");
            }
        }
    };
    let user = |i: usize| {
        let role = [json!("admin"), json!("user"), json!(30), json!("30"), Value::Null][i % 5].clone();
        json!({"id": i.to_string(), "name": format!("n{}", (i * 7) % 11), "role": role, "age": (i * 3) % 7 + 28,
               "tags": if i.is_multiple_of(3) { json!(["a", "b"]) } else { json!(["b"]) }})
    };
    for i in 0..40 {
        let ttl = if i % 4 == 1 { Ttl::Seconds(1) } else { Ttl::Persist };
        let w = Write::Put { entity: "users".into(), id: i.to_string(), value: user(i), ttl, cond: Cond::Absent };
        store.commit(Transaction::single(w)).await.unwrap();
    }
    check("created").await;
    assert!(s.gone_by("users", "1", start, 1500).await, "expired");
    let page = store.list("users", &ListQuery::default()).await.unwrap();
    assert_eq!(page.total, 30, "ten of forty expired");
    check("expired").await;
    // A create over an expired id: last in creation order, with its new values.
    let w =
        Write::Put { entity: "users".into(), id: "5".into(), value: user(7), ttl: Ttl::Persist, cond: Cond::Absent };
    store.commit(Transaction::single(w)).await.unwrap();
    check("recreated").await;
    // A reset replaces every index.
    let data = mockgate::store::Dataset::from([(
        "users".to_owned(),
        (100..130).map(|i| (i.to_string(), user(i))).collect::<indexmap::IndexMap<String, Value>>(),
    )]);
    store.replace_all(data).await.unwrap();
    check("reset").await;
    // Concurrent writers: creates, updates and deletes over the same ids.
    let tasks: Vec<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&s.store);
            tokio::spawn(async move {
                for i in 0..40 {
                    let id = (100 + (t * 11 + i * 3) % 45).to_string();
                    let w = if i % 5 == 0 {
                        Write::Delete { entity: "users".into(), id, cond: Cond::Any }
                    } else {
                        Write::Put { entity: "users".into(), id, value: user(t + i), ttl: Ttl::Keep, cond: Cond::Any }
                    };
                    store.commit(Transaction::single(w)).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    check("concurrent writers").await;
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        /// Runs every case in turn, each on a fresh store from `make(case name)`.
        pub async fn run_all<F, Fut>(make: F)
        where
            F: Fn(&'static str) -> Fut,
            Fut: std::future::Future<Output = Subject>,
        {
            $( $case(make(stringify!($case)).await).await; )*
        }
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $case() { super::$case(super::memory_store().await).await })*
        }
        mod file {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $case() { super::$case(super::file_store().await).await })*
        }
        mod redis {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $case() {
                if crate::common::redis::available() {
                    super::$case(super::redis_store().await).await
                }
            })*
        }
        /// Every case on stores that declare indexes on the fields the cases filter and
        /// sort by ([`declared`]): indexed and unindexed stores answer alike.
        mod indexed {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $case() {
                for backend in ["memory", "file", "redis"] {
                    if backend == "redis" && !crate::common::redis::available() {
                        continue;
                    }
                    super::$case(super::indexed_store(backend).await).await;
                }
            })*
        }
        /// Every case inside two namespaces at once, on each backend.
        mod in_two_namespaces {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $case() {
                for backend in ["memory", "file", "redis"] {
                    if backend == "redis" && !crate::common::redis::available() {
                        continue;
                    }
                    let (a, b) = super::namespace_pair(backend).await;
                    tokio::join!(super::$case(a), super::$case(b));
                }
            })*
        }
    };
}

conformance!(
    put_then_get_returns_the_entity,
    absent_condition_keeps_the_first_write,
    equals_condition_detects_a_concurrent_change,
    a_transaction_is_all_or_nothing,
    a_delete_needs_presence,
    list_pages_in_creation_order_with_the_total,
    list_filters_searches_and_sorts,
    an_update_that_keeps_ttl_does_not_extend_it,
    next_id_never_reuses_a_numeric_id,
    replace_all_then_dump_round_trips,
    concurrent_compare_and_set_loses_no_update,
    a_check_writes_nothing_but_its_condition_must_hold,
    only_canonical_numeric_ids_move_the_counter,
    snapshots_are_stored_listed_and_deleted,
    random_queries_answer_as_the_plain_definition,
    lists_stay_exact_through_expiry_resets_and_concurrent_writers,
);
