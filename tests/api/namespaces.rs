//! Namespaces: one server, isolated worlds of data, one per parallel test.

use crate::common::{Backend, TestApp, code, spawn_app, spawn_with};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const NS: &str = "X-Mockgate-Namespace";

async fn shop(backend: Backend) -> TestApp {
    spawn_app("configs/persistence", backend).await.with_header("X-API-Key", "demo-api-key-123")
}

/// A request to the profile's API inside namespace `ns` (`None`: the default one).
fn req(app: &TestApp, method: Method, ns: Option<&str>, path: &str, body: Option<Value>) -> reqwest::RequestBuilder {
    let mut rb = app.request(method, &format!("/api/v1{path}"));
    if let Some(ns) = ns {
        rb = rb.header(NS, ns);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    rb
}

/// A `/system` request with the system key, inside namespace `ns`.
fn system(app: &TestApp, method: Method, ns: Option<&str>, path: &str, body: Option<Value>) -> reqwest::RequestBuilder {
    let mut rb =
        app.client.request(method, format!("{}/system{path}", app.address)).header("X-API-Key", "system-admin-key-123");
    if let Some(ns) = ns {
        rb = rb.header(NS, ns);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    rb
}

async fn user_count(app: &TestApp, ns: Option<&str>) -> u64 {
    app.send(req(app, Method::GET, ns, "/users", None)).await.1["total"].as_u64().unwrap()
}

/// Everything stateful at once, in two namespaces and the default one: unique values,
/// id counters, optimistic locking, atomic orders, relationships and cascades, deletes.
async fn every_rule_holds_inside_a_namespace_and_never_across(backend: Backend) {
    let app = shop(backend).await;
    let seeded = user_count(&app, None).await;
    for ns in [Some("a"), Some("b"), None] {
        // The same unique email in each: each is the first there.
        let user = json!({"name": "Ada", "email": "ada@example.com"});
        let (status, body) = app.send(req(&app, Method::POST, ns, "/users", Some(user))).await;
        assert_eq!(status, StatusCode::CREATED, "{ns:?}: {body}");
        let again = json!({"name": "Ada 2", "email": "ada@example.com"});
        let (status, body) = app.send(req(&app, Method::POST, ns, "/users", Some(again))).await;
        assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "unique_violation"), "{ns:?}");
        // Each namespace counts ids from the seed's next one.
        let product = json!({"name": "Cap", "price": 3, "inventory": 10, "sku": "CAP-1"});
        let (status, body) = app.send(req(&app, Method::POST, ns, "/products", Some(product))).await;
        assert_eq!(status, StatusCode::CREATED, "{ns:?}: {body}");
        assert_eq!(body["id"], 2, "{ns:?}: {body}");
    }
    // Locked update and an atomic order in `a` only.
    let patch = req(&app, Method::PATCH, Some("a"), "/products/1", Some(json!({"price": 5, "version": 1})));
    assert_eq!(app.send(patch).await.0, StatusCode::OK);
    let order = json!({"user_id": "user_001", "product_id": 1, "quantity": 4});
    let (status, body) = app.send(req(&app, Method::POST, Some("a"), "/orders", Some(order))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let product_in = |ns: Option<&'static str>| {
        let app = &app;
        async move { app.send(req(app, Method::GET, ns, "/products/1", None)).await.1 }
    };
    let (a, b, default) = (product_in(Some("a")).await, product_in(Some("b")).await, product_in(None).await);
    assert_eq!((a["version"].clone(), a["inventory"].clone()), (json!(3), json!(96)), "{a}");
    assert_eq!((b["version"].clone(), b["inventory"].clone()), (json!(1), json!(100)), "{b}");
    assert_eq!(default, b, "the default namespace is untouched too");
    // A cascade in `b` leaves `a`'s posts alone.
    for ns in ["a", "b"] {
        let post = json!({"title": "Hello", "body": "first"});
        let (status, body) = app.send(req(&app, Method::POST, Some(ns), "/users/user_002/posts", Some(post))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    assert_eq!(app.send(req(&app, Method::DELETE, Some("b"), "/users/user_002", None)).await.0, StatusCode::NO_CONTENT);
    let posts = |ns| req(&app, Method::GET, Some(ns), "/users/user_002/posts", None);
    assert_eq!(app.send(posts("a")).await.1["total"], 1);
    assert_eq!(app.send(posts("b")).await.1["total"], 0);
    assert_eq!(user_count(&app, Some("a")).await, seeded + 1);
    assert_eq!(user_count(&app, Some("b")).await, seeded);
    assert_eq!(user_count(&app, None).await, seeded + 1);

    // The system API acts on the namespace its header names; a reset leaves the others.
    let (status, body) = app.send(system(&app, Method::POST, Some("a"), "/reset", None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(user_count(&app, Some("a")).await, seeded);
    assert_eq!(user_count(&app, None).await, seeded + 1, "the default namespace kept its user");
    let (_, overview) = app.send(system(&app, Method::GET, Some("b"), "/data", None)).await;
    assert_eq!(overview["entities"]["users"], seeded, "Ada in, user_002 out: {overview}");
}

async fn namespaces_are_created_listed_described_and_deleted(backend: Backend) {
    let app = shop(backend).await;
    let create = |body: Value| system(&app, Method::POST, None, "/namespaces", Some(body));
    let (status, created) = app.send(create(json!({"name": "ci-1", "ttl_seconds": 600}))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!((created["name"].as_str(), created["ttl_seconds"].as_u64()), (Some("ci-1"), Some(600)));
    assert_eq!(created["entities"]["users"], 2, "seeded: {created}");
    let (status, body) = app.send(create(json!({"name": "ci-1"}))).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "namespace_exists"));
    let (status, body) = app.send(create(json!({"name": "bad name"}))).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "invalid_namespace"));
    let (status, body) = app.send(create(json!({"name": "ci-2", "from_snapshot": "nope"}))).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "snapshot_not_found"));

    // First use creates one too.
    app.send(req(&app, Method::POST, Some("ci-3"), "/users", Some(json!({"name": "Q", "email": "q@example.com"}))))
        .await;
    let (_, list) = app.send(system(&app, Method::GET, None, "/namespaces", None)).await;
    let names: Vec<&str> = list["namespaces"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2, "{list}");
    assert!(names.contains(&"ci-1") && names.contains(&"ci-3"), "{names:?}");
    let (status, one) = app.send(system(&app, Method::GET, None, "/namespaces/ci-3", None)).await;
    assert_eq!((status, one["entities"]["users"].as_u64()), (StatusCode::OK, Some(3)), "{one}");
    assert!(one["last_used_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{one}");

    assert_eq!(app.send(system(&app, Method::DELETE, None, "/namespaces/ci-3", None)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.send(system(&app, Method::DELETE, None, "/namespaces/ci-3", None)).await.0, StatusCode::NOT_FOUND);
    let (status, body) = app.send(system(&app, Method::GET, None, "/namespaces/ci-3", None)).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "namespace_not_found"));
    // Used again, it starts over from the seed data.
    assert_eq!(user_count(&app, Some("ci-3")).await, 2);
}

async fn a_namespace_forks_from_a_snapshot(backend: Backend) {
    let app = shop(backend).await;
    app.send(req(&app, Method::POST, None, "/users", Some(json!({"name": "Base", "email": "base@example.com"})))).await;
    let snap = system(&app, Method::POST, None, "/snapshots", Some(json!({"name": "baseline"})));
    assert_eq!(app.send(snap).await.0, StatusCode::CREATED);
    let forked = req(&app, Method::GET, Some("fork-1"), "/users?email=base@example.com", None)
        .header("X-Mockgate-Namespace-From", "baseline");
    assert_eq!(app.send(forked).await.1["total"], 1, "the fork has the snapshot's data");
    let missing = req(&app, Method::GET, Some("fork-2"), "/users", None).header("X-Mockgate-Namespace-From", "nope");
    let (status, body) = app.send(missing).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "snapshot_not_found"));
    // A snapshot made inside a namespace belongs to it.
    let own = system(&app, Method::POST, Some("fork-1"), "/snapshots", Some(json!({"name": "mine"})));
    assert_eq!(app.send(own).await.0, StatusCode::CREATED);
    let (_, default_snaps) = app.send(system(&app, Method::GET, None, "/snapshots", None)).await;
    assert_eq!(default_snaps["snapshots"].as_array().map(Vec::len), Some(1), "{default_snaps}");
}

on_every_backend!(
    every_rule_holds_inside_a_namespace_and_never_across,
    namespaces_are_created_listed_described_and_deleted,
    a_namespace_forks_from_a_snapshot,
);

#[tokio::test]
async fn a_bad_namespace_name_is_400_and_changes_nothing() {
    let app = shop(Backend::Memory).await;
    for bad in ["a b", "x/y", &"n".repeat(65)] {
        let (status, body) = app.send(req(&app, Method::GET, Some(bad), "/users", None)).await;
        assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "invalid_namespace"), "{bad:?}");
    }
    let (_, list) = app.send(system(&app, Method::GET, None, "/namespaces", None)).await;
    assert_eq!(list["count"], 0);
}

/// A copy of the persistence profile with these `namespaces` settings.
fn with_namespaces(settings: Value) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["auth.json", "endpoints.json"] {
        std::fs::copy(crate::common::repo_path("configs/persistence").join(f), dir.path().join(f)).unwrap();
    }
    let mut api: Value = serde_json::from_str(
        &std::fs::read_to_string(crate::common::repo_path("configs/persistence/api.json")).unwrap(),
    )
    .unwrap();
    api["namespaces"] = settings;
    std::fs::write(dir.path().join("api.json"), api.to_string()).unwrap();
    dir
}

#[tokio::test]
async fn limits_header_name_and_idle_expiry() {
    // Idle for 2 s: long enough that the three requests below (even on a loaded CI
    // machine) come well within it, short enough to watch the sweeper.
    let dir = with_namespaces(json!({"header": "X-Test-Run", "max": 2, "idle_ttl_seconds": 2}));
    let app = spawn_app(dir.path().to_str().unwrap(), Backend::File).await.with_header("X-API-Key", "demo-api-key-123");
    let in_run = |run: &str| app.request(Method::GET, "/api/v1/users").header("X-Test-Run", run);
    assert_eq!(app.send(in_run("r1")).await.0, StatusCode::OK);
    assert_eq!(app.send(in_run("r2")).await.0, StatusCode::OK);
    let (status, body) = app.send(in_run("r3")).await;
    assert_eq!((status, code(&body)), (StatusCode::TOO_MANY_REQUESTS, "too_many_namespaces"), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("namespaces.max"));
    // Idle namespaces are removed in the background, with no request to trigger it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, list) = app.send(system(&app, Method::GET, None, "/namespaces", None)).await;
        if list["count"] == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still there: {list}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.send(in_run("r3")).await.0, StatusCode::OK, "room again");
}

#[tokio::test]
async fn two_instances_on_one_redis_see_the_same_namespaces() {
    if !crate::common::redis::available() {
        return;
    }
    let a = shop(Backend::Redis).await;
    let url = a.redis.as_ref().unwrap().url();
    let b = spawn_with("configs/persistence", Backend::Redis, "unused-on-redis".into(), Some(url))
        .await
        .with_header("X-API-Key", "demo-api-key-123");
    let user = json!({"name": "Shared", "email": "shared@example.com"});
    assert_eq!(a.send(req(&a, Method::POST, Some("t1"), "/users", Some(user.clone()))).await.0, StatusCode::CREATED);
    assert_eq!(user_count(&b, Some("t1")).await, 3, "b serves a's namespace, not a fresh one");
    let (status, body) = b.send(req(&b, Method::POST, Some("t1"), "/users", Some(user))).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "unique_violation"));
    let (_, list) = b.send(system(&b, Method::GET, None, "/namespaces", None)).await;
    assert_eq!(list["count"], 1);
    // Deleted through b, a sees it gone (after its next registry check) and starts over.
    assert_eq!(b.send(system(&b, Method::DELETE, None, "/namespaces/t1", None)).await.0, StatusCode::NO_CONTENT);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(user_count(&a, Some("t1")).await, 2);
}

/// 16 workers, each in its own namespace, doing creates, unique-value races, atomic
/// orders and locked updates at once: every namespace ends as if it had run alone.
async fn sixteen_workers_in_sixteen_namespaces_end_as_if_alone(backend: Backend) {
    let app = std::sync::Arc::new(shop(backend).await);
    let mut workers = Vec::new();
    for w in 0..16 {
        let app = app.clone();
        workers.push(tokio::spawn(async move {
            let ns = format!("w{w}");
            let ns = Some(ns.as_str());
            let mut created = 0;
            for i in 0..5 {
                let user = json!({"name": "U", "email": format!("u{i}@example.com")});
                let (a, b) = tokio::join!(
                    app.send(req(&app, Method::POST, ns, "/users", Some(user.clone()))),
                    app.send(req(&app, Method::POST, ns, "/users", Some(user)))
                );
                let winners = [a.0, b.0].iter().filter(|s| **s == StatusCode::CREATED).count();
                assert_eq!(winners, 1, "one winner per unique value in {ns:?}");
                created += 1;
            }
            for _ in 0..5 {
                let order = json!({"user_id": "user_001", "product_id": 1, "quantity": 2});
                assert_eq!(app.send(req(&app, Method::POST, ns, "/orders", Some(order))).await.0, StatusCode::CREATED);
            }
            let product = json!({"name": "Mug", "price": 4, "inventory": 1, "sku": "MUG-1"});
            let (status, made) = app.send(req(&app, Method::POST, ns, "/products", Some(product))).await;
            assert_eq!((status, made["id"].clone()), (StatusCode::CREATED, json!(2)), "{ns:?}: {made}");
            let put = |price: u32| json!({"name": "Mug", "price": price, "inventory": 1, "sku": "MUG-1", "version": 1});
            let (first, second) = tokio::join!(
                app.send(req(&app, Method::PUT, ns, "/products/2", Some(put(5)))),
                app.send(req(&app, Method::PUT, ns, "/products/2", Some(put(6))))
            );
            let mut statuses = [first.0, second.0];
            statuses.sort();
            assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT], "one locked update wins in {ns:?}");
            created
        }));
    }
    for w in workers {
        assert_eq!(w.await.unwrap(), 5);
    }
    for w in 0..16 {
        let ns = format!("w{w}");
        assert_eq!(user_count(&app, Some(&ns)).await, 7, "{ns}");
        let p1 = app.send(req(&app, Method::GET, Some(&ns), "/products/1", None)).await.1;
        assert_eq!(p1["inventory"], 90, "{ns}: {p1}");
        let p2 = app.send(req(&app, Method::GET, Some(&ns), "/products/2", None)).await.1;
        assert_eq!(p2["version"], 2, "{ns}: {p2}");
    }
    assert_eq!(user_count(&app, None).await, 2, "the default namespace saw none of it");
}

mod concurrency {
    use super::*;
    on_every_backend!(sixteen_workers_in_sixteen_namespaces_end_as_if_alone);
}

/// The clock drives templates, timestamps and expiry, per namespace, with no sleeps (on
/// Redis too: every expiry moves with the clock, and nothing expires while it is frozen).
async fn the_clock_moves_expiry_and_timestamps_per_namespace(backend: Backend) {
    let app = shop(backend).await;
    let clock = |ns: Option<&str>, body: Option<Value>| {
        let method = if body.is_some() { Method::POST } else { Method::GET };
        system(&app, method, ns, "/clock", body)
    };
    let (status, c) = app.send(clock(Some("t"), None)).await;
    assert_eq!(
        (status, c["frozen"].clone(), c["offset_ms"].as_i64().map(|o| o.abs() < 1000)),
        (StatusCode::OK, json!(false), Some(true))
    );
    // Frozen at a chosen instant: timestamps say exactly that.
    let (_, c) = app.send(clock(Some("t"), Some(json!({"freeze": true})))).await;
    assert_eq!(c["frozen"], true);
    let (_, c) = app.send(clock(Some("t"), Some(json!({"set": "2030-01-01T00:00:00Z"})))).await;
    assert_eq!((c["now"].as_str(), c["frozen"].as_bool()), (Some("2030-01-01T00:00:00.000Z"), Some(true)), "{c}");
    let user = json!({"name": "Timed", "email": "timed@example.com"});
    let (_, created) = app.send(req(&app, Method::POST, Some("t"), "/users", Some(user))).await;
    assert!(created["created_at"].as_str().is_some_and(|t| t.starts_with("2030-01-01T00:00:00")), "{created}");
    // An entity with a 30 s TTL is there until the clock passes it, then gone.
    let (status, otp) =
        app.send(req(&app, Method::POST, Some("t"), "/otp", Some(json!({"user_id": "user_001"})))).await;
    assert_eq!(status, StatusCode::CREATED, "{otp}");
    let id = otp["id"].as_str().or(otp["otp_id"].as_str()).unwrap().to_owned();
    let read = |ns| req(&app, Method::GET, Some(ns), &format!("/otp/{id}"), None);
    app.send(clock(Some("t"), Some(json!({"advance_seconds": 29})))).await;
    assert_eq!(app.send(read("t")).await.0, StatusCode::OK, "29 s later it is alive");
    app.send(clock(Some("t"), Some(json!({"advance_seconds": 2})))).await;
    assert_eq!(app.send(read("t")).await.0, StatusCode::NOT_FOUND, "31 s later it is gone");
    // A session ends with its TTL too.
    let (_, login) = app
        .send(req(
            &app,
            Method::POST,
            Some("t"),
            "/auth/login",
            Some(json!({"username": "admin", "password": "secret123"})),
        ))
        .await;
    let sid = login["session_id"].as_str().unwrap().to_owned();
    let me = || req(&app, Method::GET, Some("t"), "/auth/me", None).header("X-Session-Id", &sid);
    assert_eq!(app.send(me()).await.0, StatusCode::OK);
    app.send(clock(Some("t"), Some(json!({"advance_seconds": 86401})))).await;
    assert_eq!(app.send(me()).await.0, StatusCode::UNAUTHORIZED, "the session expired by the clock");
    // Other namespaces keep real time.
    let (_, default) = app.send(clock(None, None)).await;
    assert_eq!(default["frozen"], false);
    let (status, body) = app.send(clock(Some("t"), Some(json!({"advance_seconds": -1})))).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "validation_failed"));
    let (status, c) = app.send(system(&app, Method::DELETE, Some("t"), "/clock", None)).await;
    assert_eq!((status, c["frozen"].clone()), (StatusCode::OK, json!(false)));
    // A running clock moved forward expires what was written before the move.
    let (_, otp) = app.send(req(&app, Method::POST, Some("t"), "/otp", Some(json!({"user_id": "user_001"})))).await;
    let id = otp["id"].as_str().or(otp["otp_id"].as_str()).unwrap().to_owned();
    let read = || req(&app, Method::GET, Some("t"), &format!("/otp/{id}"), None);
    app.send(clock(Some("t"), Some(json!({"advance_seconds": 20})))).await;
    assert_eq!(app.send(read()).await.0, StatusCode::OK, "20 s of 30 gone");
    // Setting the clock back gives time back.
    let now = app.send(clock(Some("t"), None)).await.1["now"].as_str().unwrap().to_owned();
    let back = chrono::DateTime::parse_from_rfc3339(&now).unwrap() - chrono::Duration::seconds(20);
    app.send(clock(Some("t"), Some(json!({"set": back.to_rfc3339()})))).await;
    app.send(clock(Some("t"), Some(json!({"advance_seconds": 25})))).await;
    assert_eq!(app.send(read()).await.0, StatusCode::OK, "25 s after creation by the clock");
    app.send(clock(Some("t"), Some(json!({"advance_seconds": 6})))).await;
    assert_eq!(app.send(read()).await.0, StatusCode::NOT_FOUND, "31 s after creation by the clock");
}

mod clock {
    use super::*;
    on_every_backend!(the_clock_moves_expiry_and_timestamps_per_namespace);
}

/// `mockctl namespace` and `mockctl clock` against a server started as a user starts it.
#[tokio::test]
async fn mockctl_manages_namespaces_and_clocks() {
    let state = tempfile::tempdir().unwrap();
    let run = crate::common::mockctl_in(state.path());
    let out =
        run(&["start", "persistence", "--port", "0", "--no-persistence", "--json", "--namespace-header", "X-Run"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let started: Value = serde_json::from_slice(&out.stdout).unwrap();
    let url = started["url"].as_str().unwrap().to_owned();
    let text = |out: std::process::Output| {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(text(run(&["namespace", "create", "ci-1"])).contains("created namespace \"ci-1\": products 1, users 2"));
    assert!(text(run(&["namespace", "list"])).contains("ci-1"));
    assert!(text(run(&["clock", "freeze", "--namespace", "ci-1"])).contains(", frozen"));
    let shown: Value =
        serde_json::from_str(&text(run(&["clock", "advance", "3600", "--namespace", "ci-1", "--json"]))).unwrap();
    assert!(shown["offset_ms"].as_i64().unwrap() >= 3_599_000, "{shown}");
    assert!(!text(run(&["clock", "show"])).contains("frozen"), "the default clock runs");
    // The renamed header names the namespace.
    let client = reqwest::Client::new();
    let users = client.get(format!("{url}/api/v1/users")).header("X-API-Key", "demo-api-key-123");
    let created = users.try_clone().unwrap().header("X-Run", "ci-1");
    let list: Value = created.send().await.unwrap().json().await.unwrap();
    let listed: Value = serde_json::from_str(&text(run(&["namespace", "list", "--json"]))).unwrap();
    assert_eq!(listed["count"], 1, "{listed}");
    assert_eq!(list["total"], 2, "{list}");
    let fresh = users.header("X-Run", "ci-2").send().await.unwrap();
    assert_eq!(fresh.status(), StatusCode::OK);
    assert!(text(run(&["namespace", "list"])).contains("ci-2"), "X-Run named a new namespace");
    assert!(text(run(&["clock", "reset", "--namespace", "ci-1"])).contains("offset"));
    assert!(text(run(&["namespace", "delete", "ci-1"])).contains("deleted namespace"));
    assert!(!text(run(&["namespace", "list"])).contains("ci-1"));
    assert!(!run(&["namespace", "delete", "ci-1"]).status.success(), "a second delete is an error");
    assert!(run(&["stop", "--all"]).status.success());
}

#[tokio::test]
async fn request_metrics_name_the_namespace_only_when_asked() {
    let metrics = |app: &TestApp| {
        let rb = system(app, Method::GET, None, "/metrics", None);
        async move { rb.send().await.unwrap().text().await.unwrap() }
    };
    let plain = shop(Backend::Memory).await;
    plain.send(req(&plain, Method::GET, Some("m1"), "/users", None)).await;
    let text = metrics(&plain).await;
    assert!(text.contains("mockgate_http_requests_total"), "{text}");
    assert!(!text.contains("namespace=\""), "off by default: namespaces are unbounded");
    // The namespace's store is metered like the default one.
    let listed = text.lines().find(|l| {
        l.starts_with("mockgate_store_operations_total")
            && l.contains("operation=\"list\"")
            && l.contains("outcome=\"ok\"")
    });
    assert!(listed.is_some_and(|l| !l.ends_with(" 0")), "{text}");

    let dir = with_namespaces(json!({"metrics_label": true}));
    let app =
        spawn_app(dir.path().to_str().unwrap(), Backend::Memory).await.with_header("X-API-Key", "demo-api-key-123");
    app.send(req(&app, Method::GET, Some("m1"), "/users", None)).await;
    app.send(req(&app, Method::GET, None, "/users", None)).await;
    let text = metrics(&app).await;
    let line = text.lines().find(|l| l.starts_with("mockgate_http_requests_total") && l.contains("namespace=\"m1\""));
    assert!(line.is_some_and(|l| l.contains("route=\"/api/v1/users\"") && l.ends_with(" 1")), "{text}");
}

/// On the embedded store a namespace is kept like the default data: it survives a restart.
#[tokio::test]
async fn namespaces_survive_a_restart_on_the_embedded_store() {
    let data = tempfile::tempdir().unwrap();
    let start = || async {
        crate::common::spawn_in("configs/persistence", Backend::File, data.path().to_owned())
            .await
            .with_header("X-API-Key", "demo-api-key-123")
    };
    let app = start().await;
    let user = json!({"name": "Kept", "email": "kept@example.com"});
    assert_eq!(app.send(req(&app, Method::POST, Some("keep-me"), "/users", Some(user))).await.0, StatusCode::CREATED);
    app.stop().await;
    let again = start().await;
    let (_, list) = again.send(system(&again, Method::GET, None, "/namespaces", None)).await;
    assert_eq!(list["count"], 1, "{list}");
    assert_eq!(user_count(&again, Some("keep-me")).await, 3, "its data came back with it");
    assert_eq!(user_count(&again, None).await, 2);
    again.stop().await;
}

#[tokio::test]
async fn a_full_namespace_refuses_creates_with_507_and_keeps_serving_reads() {
    // The seed holds 3 entities (2 users, 1 product): room for 2 more.
    let dir = with_namespaces(json!({"max_entities": 5}));
    let app =
        spawn_app(dir.path().to_str().unwrap(), Backend::Memory).await.with_header("X-API-Key", "demo-api-key-123");
    for i in 0..2 {
        let user = json!({"name": "U", "email": format!("u{i}@example.com")});
        assert_eq!(app.send(req(&app, Method::POST, Some("small"), "/users", Some(user))).await.0, StatusCode::CREATED);
    }
    let user = json!({"name": "U", "email": "one-too-many@example.com"});
    let (status, body) = app.send(req(&app, Method::POST, Some("small"), "/users", Some(user.clone()))).await;
    assert_eq!((status.as_u16(), code(&body)), (507, "namespace_full"), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("namespaces.max_entities"));
    assert_eq!(user_count(&app, Some("small")).await, 4, "nothing was stored; reads still work");
    // The cap is per namespace; the default data has none.
    assert_eq!(app.send(req(&app, Method::POST, None, "/users", Some(user))).await.0, StatusCode::CREATED);
}
