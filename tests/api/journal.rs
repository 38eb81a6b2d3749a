//! The request journal: what was asked of the gateway, per namespace, queried and
//! verified through `/system/requests`, shared by every instance on one Redis.

use crate::common::{Backend, RedisServer, TestApp, code, spawn_app, spawn_with};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PROFILE: &str = "tests/fixtures/journal";
const NS: &str = "X-Mockgate-Namespace";

async fn app(backend: Backend) -> TestApp {
    spawn_app(PROFILE, backend).await
}

/// A `/system` call with the fixture's key, inside namespace `ns` when given.
pub(crate) async fn system(
    app: &TestApp,
    method: Method,
    ns: Option<&str>,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut rb = app.client.request(method, format!("{}/system{path}", app.address)).header("X-System-Key", "sys-1");
    if let Some(ns) = ns {
        rb = rb.header(NS, ns);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    app.send(rb).await
}

async fn call(app: &TestApp, method: Method, ns: Option<&str>, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut rb = app.request(method, &format!("/api{path}"));
    if let Some(ns) = ns {
        rb = rb.header(NS, ns);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    app.send(rb).await
}

async fn order(app: &TestApp, ns: Option<&str>, sku: &str, qty: u64) -> Value {
    let (status, body) = call(app, Method::POST, ns, "/orders", Some(json!({"sku": sku, "qty": qty}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn verify(app: &TestApp, ns: Option<&str>, body: Value) -> (StatusCode, Value) {
    system(app, Method::POST, ns, "/requests/verify", Some(body)).await
}

/// Each request's parts are recorded as the client sent them and as the gateway
/// answered; `/system` itself is not recorded; secrets are masked.
async fn every_request_is_recorded_with_what_it_asked_and_got(backend: Backend) {
    let app = app(backend).await;
    let created = order(&app, None, "cap", 2).await;
    let id = created["id"].as_str().map_or_else(|| created["id"].to_string(), str::to_owned);
    let res = app
        .request(Method::GET, &format!("/api/orders/{id}?expand=items"))
        .header("X-Request-Id", "req-read-1")
        .header("X-API-Key", "key-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.get("/system/health").await.0, StatusCode::UNAUTHORIZED, "not journaled either");

    let (status, list) = system(&app, Method::GET, None, "/requests", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 2, "/system calls are not recorded: {list}");
    let read = &list["requests"][0];
    assert_eq!(read["id"], "req-read-1", "newest first, under its request id");
    assert_eq!((read["method"].as_str(), read["route"].as_str()), (Some("GET"), Some("/api/orders/{order_id}")));
    assert_eq!(read["query"], json!({"expand": "items"}));
    assert_eq!(read["headers"]["x-api-key"], "***", "secrets are masked as in the logs");
    assert_eq!(read["status"], 200);
    // The stored order with its timestamps is longer than the fixture's 64-byte cap.
    assert!(read["response"]["body"].as_str().is_some_and(|b| b.contains(r#""sku":"cap""#)), "{read}");
    assert!(read["response"]["body_truncated"]["sent_bytes"].as_u64() > Some(64), "{read}");
    assert_eq!(read["outcome"], "ok");
    assert!(read["time"].as_str().unwrap().ends_with('Z'));
    let create = &list["requests"][1];
    assert_eq!(create["body"], json!({"sku": "cap", "qty": 2}));
    assert_eq!(create["action"], "create orders");
    assert_eq!(create["response"]["headers"]["content-type"], "application/json");

    let (status, one) = system(&app, Method::GET, None, "/requests/req-read-1", None).await;
    assert_eq!((status, one["path"].clone()), (StatusCode::OK, json!(format!("/api/orders/{id}"))));
    let (status, body) = system(&app, Method::GET, None, "/requests/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

/// Every filter of `GET /system/requests`, and paging.
async fn requests_are_filtered_and_paged(backend: Backend) {
    let app = app(backend).await;
    for sku in ["a", "b", "c"] {
        order(&app, None, sku, 1).await;
    }
    assert_eq!(call(&app, Method::GET, None, "/ping", None).await.0, StatusCode::OK);
    assert_eq!(call(&app, Method::GET, None, "/orders/999", None).await.0, StatusCode::NOT_FOUND);
    let total = |q: &'static str| {
        let app = &app;
        async move {
            let (status, body) = system(app, Method::GET, None, &format!("/requests?{q}"), None).await;
            assert_eq!(status, StatusCode::OK, "{q}: {body}");
            body["total"].as_u64().unwrap()
        }
    };
    assert_eq!(total("method=post").await, 3);
    assert_eq!(total("path=/api/ping").await, 1);
    assert_eq!(total("path_prefix=/api/orders").await, 4);
    assert_eq!(total("route=/api/orders/{order_id}").await, 1);
    assert_eq!(total("status=4xx").await, 1);
    assert_eq!(total("status=201").await, 3);
    assert_eq!(total("since=10m").await, 5);
    assert_eq!(total("since=2999-01-01T00:00:00Z").await, 0);
    let (_, page) = system(&app, Method::GET, None, "/requests?method=POST&limit=1&offset=1", None).await;
    assert_eq!(page["requests"].as_array().unwrap().len(), 1);
    assert_eq!(page["requests"][0]["body"]["sku"], "b", "newest first: c, b, a");
    let (status, body) = system(&app, Method::GET, None, "/requests?status=6xx", None).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "validation_failed"));
    let (status, body) = system(&app, Method::GET, None, "/requests?methd=GET", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an unknown filter is refused, not ignored: {body}");
}

/// Patterns of every kind, counts, and near misses that name the differing field.
async fn verify_counts_patterns_and_names_near_misses(backend: Backend) {
    let app = app(backend).await;
    order(&app, None, "cap", 2).await;
    order(&app, None, "hat", 1).await;
    let res = app
        .request(Method::POST, "/api/orders?source=web")
        .header("X-Tenant", "acme")
        .json(&json!({"sku": "cap", "items": [{"sku": "x1", "n": 3}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);

    let ok = |p: Value| {
        let app = &app;
        async move {
            let (status, body) = verify(app, None, p.clone()).await;
            assert_eq!(status, StatusCode::OK, "{p}: {body}");
            body["count"].as_u64().unwrap()
        }
    };
    assert_eq!(ok(json!({"method": "POST", "path": "/api/orders", "count": 3})).await, 3);
    assert_eq!(ok(json!({"method": "POST", "body": {"sku": "cap"}, "count": 2})).await, 2);
    assert_eq!(ok(json!({"path_pattern": "/api/ord.*", "at_least": 3})).await, 3);
    assert_eq!(ok(json!({"route": "/api/orders", "query": {"source": "web"}, "count": 1})).await, 1);
    assert_eq!(ok(json!({"headers": {"x-tenant": "acme"}, "count": 1})).await, 1);
    assert_eq!(ok(json!({"body_json_path": {"$.items[0].sku": "x1", "$.items[0].n": 3}})).await, 1);
    assert_eq!(ok(json!({"method": "DELETE", "at_most": 0})).await, 0);
    let (_, found) = system(&app, Method::POST, None, "/requests/find", Some(json!({"body": {"sku": "hat"}}))).await;
    assert_eq!((found["count"].clone(), found["requests"][0]["body"]["qty"].clone()), (json!(1), json!(1)));

    // Too few: the closest requests, each with what differed.
    let (status, body) = verify(
        &app,
        None,
        json!({"method": "POST", "path": "/api/orders", "body": {"sku": "hat", "qty": 2}, "count": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::EXPECTATION_FAILED, "{body}");
    assert_eq!(
        (body["verified"].clone(), body["count"].clone(), body["expected"].clone()),
        (json!(false), json!(0), json!({"count": 1}))
    );
    let first = &body["near_misses"][0];
    assert_eq!(first["request"]["path"], "/api/orders");
    let fields: Vec<&str> =
        first["differences"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert!(fields == ["body $.qty"] || fields == ["body $.sku"], "one field off: {body}");
    let (status, body) = verify(&app, None, json!({"method": "GET", "path": "/api/order", "count": 1})).await;
    assert_eq!(status, StatusCode::EXPECTATION_FAILED);
    let diffs = &body["near_misses"][0]["differences"];
    assert_eq!(diffs[0], json!({"field": "method", "expected": "GET", "actual": "POST"}));
    assert_eq!(diffs[1]["why"], "differs at segment 2: `orders` vs `order`", "{body}");
    // Too many: the ones that matched.
    let (status, body) = verify(&app, None, json!({"method": "POST", "at_most": 1})).await;
    assert_eq!((status, body["count"].clone()), (StatusCode::EXPECTATION_FAILED, json!(3)));
    assert_eq!(body["matches"].as_array().unwrap().len(), 3);

    let (status, body) = verify(&app, None, json!({"methd": "POST", "count": -1})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let paths: Vec<&str> =
        body["error"]["violations"].as_array().unwrap().iter().map(|v| v["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/methd", "/count"]);
}

async fn sequences_verify_in_order(backend: Backend) {
    let app = app(backend).await;
    order(&app, None, "a", 1).await;
    call(&app, Method::GET, None, "/ping", None).await;
    order(&app, None, "b", 1).await;
    let seq =
        |a: &str, b: &str| json!({"sequence": [{"body": {"sku": a}}, {"path": "/api/ping"}, {"body": {"sku": b}}]});
    let (status, body) = system(&app, Method::POST, None, "/requests/verify-sequence", Some(seq("a", "b"))).await;
    assert_eq!((status, body["matched"].as_array().map(Vec::len)), (StatusCode::OK, Some(3)), "{body}");
    let (status, body) = system(&app, Method::POST, None, "/requests/verify-sequence", Some(seq("b", "a"))).await;
    assert_eq!(status, StatusCode::EXPECTATION_FAILED, "{body}");
    assert_eq!(body["failed_at"], 1, "after b nothing pings: {body}");
    assert_eq!(body["matched"].as_array().unwrap().len(), 1);
    let (status, _) =
        system(&app, Method::POST, None, "/requests/verify-sequence", Some(json!({"sequence": []}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// An unmatched request's error says what it probably meant, and the journal lists it
/// with the closest endpoints and why each missed.
async fn unmatched_requests_name_the_closest_endpoint(backend: Backend) {
    let app = app(backend).await;
    let (status, body) = call(&app, Method::GET, None, "/ordrs/7", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let guess = &body["error"]["did_you_mean"];
    assert_eq!(
        (guess["method"].as_str(), guess["path"].as_str()),
        (Some("GET"), Some("/api/orders/{order_id}")),
        "{body}"
    );
    assert_eq!(guess["why"], json!(["path differs at segment 2: `ordrs` vs `orders`"]));
    let (status, body) = call(&app, Method::POST, None, "/events", Some(json!({"type": "minor"}))).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "no_matching_response"));
    assert_eq!(
        body["error"]["did_you_mean"]["why"],
        json!([r#"body condition `type` expected "important", got "minor""#])
    );
    let (status, _) = call(&app, Method::GET, None, "/private", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = call(&app, Method::GET, None, "/zzzzzz/yyyyy/xxxx/wwww/vvv", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].get("did_you_mean").is_none(), "nothing is close: {body}");
    call(&app, Method::GET, None, "/ping", None).await;

    let (status, list) = system(&app, Method::GET, None, "/requests/unmatched", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let reasons: Vec<&str> =
        list["requests"].as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["no_route", "authentication_failed", "no_matching_response", "no_route"], "{list}");
    assert!(list["requests"][1]["closest"][0]["why"][0].as_str().unwrap().starts_with("authentication failed"));
    assert_eq!(list["requests"][3]["closest"][0]["route"], "/api/orders/{order_id}");
}

/// State assertions over stored entities.
async fn stored_data_is_verified_with_the_closest_entities(backend: Backend) {
    let app = app(backend).await;
    order(&app, None, "cap", 2).await;
    order(&app, None, "cap", 3).await;
    let v = |body: Value| system(&app, Method::POST, None, "/data/orders/verify", Some(body));
    let (status, body) = v(json!({"where": {"sku": "cap"}, "count": 2})).await;
    assert_eq!((status, body["count"].clone()), (StatusCode::OK, json!(2)), "{body}");
    let (status, body) = v(json!({"where": {"sku": "cap", "qty": 4}})).await;
    assert_eq!(status, StatusCode::EXPECTATION_FAILED, "{body}");
    assert_eq!(
        body["closest"][0]["differences"],
        json!([{"field": "qty", "expected": 4, "actual": body["closest"][0]["entity"]["qty"]}])
    );
    let (status, body) = v(json!({"where": {"sku": "cap"}, "at_most": 1})).await;
    assert_eq!((status, body["matches"].as_array().map(Vec::len)), (StatusCode::EXPECTATION_FAILED, Some(2)));
    let (status, _) = v(json!({"wher": {}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Each namespace has its own journal; clearing one leaves the others.
async fn each_namespace_has_its_own_journal(backend: Backend) {
    let app = app(backend).await;
    order(&app, Some("t1"), "in-t1", 1).await;
    order(&app, Some("t2"), "in-t2", 1).await;
    order(&app, Some("t2"), "in-t2", 1).await;
    order(&app, None, "default", 1).await;
    for (ns, n, sku) in [(Some("t1"), 1, "in-t1"), (Some("t2"), 2, "in-t2"), (None, 1, "default")] {
        let (status, body) = verify(&app, ns, json!({"path": "/api/orders", "count": n})).await;
        assert_eq!(status, StatusCode::OK, "{ns:?}: {body}");
        let (_, list) = system(&app, Method::GET, ns, "/requests", None).await;
        assert!(list["requests"].as_array().unwrap().iter().all(|r| r["body"]["sku"] == sku), "{ns:?}: {list}");
    }
    let (_, list) = system(&app, Method::GET, None, "/requests?namespace=t2", None).await;
    assert_eq!(list["total"], 2, "?namespace= names it too");
    let (status, body) = system(&app, Method::DELETE, Some("t2"), "/requests", None).await;
    assert_eq!((status, body["cleared"].clone()), (StatusCode::OK, json!(2)));
    assert_eq!(system(&app, Method::GET, Some("t2"), "/requests", None).await.1["total"], 0);
    assert_eq!(system(&app, Method::GET, Some("t1"), "/requests", None).await.1["total"], 1);
    assert_eq!(system(&app, Method::DELETE, None, "/namespaces/t1", None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(system(&app, Method::GET, Some("t1"), "/requests", None).await.1["total"], 0, "gone with its namespace");
}

/// Under load the journal keeps the newest `max_entries` (50 here), and bodies are
/// cut to `max_body_bytes` (64) with the sizes said.
async fn the_journal_stays_within_its_bounds_under_load(backend: Backend) {
    let app = app(backend).await;
    let mut tasks = Vec::new();
    for i in 0..300 {
        let rb =
            app.request(Method::POST, "/api/orders").json(&json!({"sku": format!("s{i}"), "pad": "x".repeat(100)}));
        tasks.push(tokio::spawn(async move { rb.send().await.map(|r| r.status()) }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), StatusCode::CREATED);
    }
    let (_, list) = system(&app, Method::GET, None, "/requests?limit=1000", None).await;
    assert_eq!(list["total"], 50, "the newest 50 only");
    let cut = &list["requests"][0];
    assert_eq!(cut["body_truncated"]["kept_bytes"], 64, "{cut}");
    assert!(cut["body"].as_str().unwrap().starts_with("{\"sku\":\"s"), "a cut body is shown as its text");
    if let Some(redis) = &app.redis {
        let len = xlen(redis.port, "mockgate:{journal}:log:requests");
        assert!((50..=150).contains(&len), "the stream is trimmed near its bound: {len}");
    }
}

/// `XLEN key` over a plain socket.
fn xlen(port: u16, key: &str) -> i64 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(format!("*2\r\n$4\r\nXLEN\r\n${}\r\n{key}\r\n", key.len()).as_bytes()).unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap();
    let text = std::str::from_utf8(&buf[..n]).unwrap();
    text.trim_start_matches(':').trim().parse().unwrap_or_else(|_| panic!("XLEN answered {text:?}"))
}

on_every_backend!(
    every_request_is_recorded_with_what_it_asked_and_got,
    requests_are_filtered_and_paged,
    verify_counts_patterns_and_names_near_misses,
    sequences_verify_in_order,
    unmatched_requests_name_the_closest_endpoint,
    stored_data_is_verified_with_the_closest_entities,
    each_namespace_has_its_own_journal,
    the_journal_stays_within_its_bounds_under_load,
);

/// Two gateway instances on one Redis write one journal: what either took, both verify.
#[tokio::test]
async fn two_instances_on_one_redis_share_one_journal() {
    if !crate::common::redis::available() {
        return;
    }
    let a = app(Backend::Redis).await;
    let url = a.redis.as_ref().unwrap().url();
    let dir = tempfile::tempdir().unwrap();
    let b = spawn_with(PROFILE, Backend::Redis, dir.path().to_owned(), Some(url)).await;
    for i in 0..5 {
        order(&a, Some("ci"), &format!("a{i}"), 1).await;
        order(&b, Some("ci"), &format!("b{i}"), 1).await;
    }
    for app in [&a, &b] {
        let (status, body) =
            verify(app, Some("ci"), json!({"method": "POST", "path": "/api/orders", "count": 10})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, list) = system(&a, Method::GET, Some("ci"), "/requests", None).await;
    let instances: std::collections::HashSet<&str> =
        list["requests"].as_array().unwrap().iter().map(|r| r["instance"].as_str().unwrap()).collect();
    assert_eq!(instances.len(), 2, "entries say which instance took them: {instances:?}");
    assert_eq!(system(&b, Method::DELETE, Some("ci"), "/requests", None).await.0, StatusCode::OK);
    assert_eq!(system(&a, Method::GET, Some("ci"), "/requests", None).await.1["total"], 0, "cleared for both");
}

/// With Redis gone, requests that need no data are still answered at once; their
/// entries are dropped and counted.
#[tokio::test]
async fn a_redis_outage_drops_journal_entries_but_never_fails_a_request() {
    if !crate::common::redis::available() {
        return;
    }
    let mut app = app(Backend::Redis).await;
    assert_eq!(call(&app, Method::GET, None, "/ping", None).await.0, StatusCode::OK);
    let port = app.redis.as_ref().unwrap().port;
    drop(app.redis.take());
    let started = std::time::Instant::now();
    for _ in 0..20 {
        assert_eq!(call(&app, Method::GET, None, "/ping", None).await.0, StatusCode::OK);
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "20 pings took {:?}", started.elapsed());
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .header("X-System-Key", "sys-1")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dropped: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("mockgate_journal_dropped_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no dropped counter in {metrics}"));
    assert!(dropped >= 1, "dropped {dropped}");
    let (status, _) = system(&app, Method::GET, None, "/requests", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "the journal cannot be read while Redis is down");

    app.redis = Some(RedisServer::start_on(port));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        call(&app, Method::GET, None, "/ping", None).await;
        let (status, body) = verify(&app, None, json!({"path": "/api/ping", "at_least": 1})).await;
        if status == StatusCode::OK {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "journal did not recover: {status} {body}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// `journal.enabled: false` (or `--no-journal`): nothing is recorded, the API says so.
#[tokio::test]
async fn a_disabled_journal_records_nothing_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut profile = mockgate::Profile::load(&crate::common::repo_path(PROFILE)).unwrap();
    profile.journal.enabled = false;
    let settings = mockgate::Settings::ephemeral(Some(dir.path().to_owned()), "memory");
    let server = mockgate::Server::build(&settings, profile).await.unwrap();
    let address = format!("http://127.0.0.1:{}", server.port());
    let handle = server.handle();
    tokio::spawn(server.run_until_stopped());
    let client = reqwest::Client::new();
    assert_eq!(client.get(format!("{address}/api/ping")).send().await.unwrap().status(), StatusCode::OK);
    let res = client.get(format!("{address}/system/requests")).header("X-System-Key", "sys-1").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body: Value = res.json().await.unwrap();
    assert_eq!(code(&body), "journal_disabled");
    handle.stop(true).await;
}

/// `mockctl requests`, `verify` and `unmatched` against a server started as a user starts it.
#[tokio::test]
async fn mockctl_lists_verifies_and_explains_requests() {
    let state = tempfile::tempdir().unwrap();
    let run = crate::common::mockctl_in(state.path());
    let out = run(&["start", PROFILE, "--port", "0", "--no-persistence", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let started: Value = serde_json::from_slice(&out.stdout).unwrap();
    let url = started["url"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let sent = client.post(format!("{url}/api/orders")).json(&json!({"sku": "x", "qty": 2})).send().await.unwrap();
    assert_eq!(sent.status(), StatusCode::CREATED);
    client.get(format!("{url}/api/ordrs")).send().await.unwrap();
    let stdout = |out: &std::process::Output| String::from_utf8_lossy(&out.stdout).into_owned();

    let listed = run(&["requests", "--method", "POST", "--key", "sys-1"]);
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    assert!(stdout(&listed).contains("POST   /api/orders  201"), "{}", stdout(&listed));
    let ok = run(&[
        "verify",
        "--method",
        "POST",
        "--path",
        "/api/orders",
        "--body",
        r#"{"sku":"x"}"#,
        "--count",
        "1",
        "--key",
        "sys-1",
    ]);
    assert!(ok.status.success(), "{}{}", stdout(&ok), String::from_utf8_lossy(&ok.stderr));
    assert!(stdout(&ok).contains("verified: 1"));
    let missed = run(&["verify", "--path", "/api/orders", "--json-path", "$.qty=3", "--key", "sys-1"]);
    assert_eq!(missed.status.code(), Some(1), "not verified is exit 1");
    assert!(stdout(&missed).contains("body $.qty: expected 3, got 2"), "{}", stdout(&missed));
    let unmatched = run(&["unmatched", "--key", "sys-1"]);
    assert!(stdout(&unmatched).contains("closest: POST /api/orders"), "{}", stdout(&unmatched));
    assert!(stdout(&unmatched).contains("`ordrs` vs `orders`"), "{}", stdout(&unmatched));
    assert!(run(&["stop", "--all"]).status.success());
}
