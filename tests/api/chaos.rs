//! Breaking things on purpose: profile delays, and run-time fault rules per namespace
//! (`/system/chaos`), seeded, retired, recorded, shared by instances on one Redis.

use crate::common::{Backend, TestApp, code, spawn_app, spawn_with};
use crate::journal::system;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const PROFILE: &str = "tests/fixtures/journal";
const NS: &str = "X-Mockgate-Namespace";

async fn rule(app: &TestApp, ns: Option<&str>, body: Value) -> Value {
    let (status, rule) = system(app, Method::POST, ns, "/chaos", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    rule
}

async fn status_of(app: &TestApp, ns: Option<&str>, method: Method, path: &str, body: Option<Value>) -> StatusCode {
    let mut rb = app.request(method, &format!("/api{path}"));
    if let Some(ns) = ns {
        rb = rb.header(NS, ns);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    rb.send().await.unwrap().status()
}

/// A profile delay holds, and it is a timer: other requests keep their speed meanwhile.
async fn profile_delays_hold_without_slowing_other_requests(backend: Backend) {
    let app = spawn_app(PROFILE, backend).await;
    let started = Instant::now();
    let slow: Vec<_> = (0..16)
        .map(|_| {
            let rb = app.request(Method::GET, "/api/slow");
            tokio::spawn(async move {
                let t = Instant::now();
                let s = rb.send().await.unwrap().status();
                (s, t.elapsed())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut worst = Duration::ZERO;
    for _ in 0..20 {
        let t = Instant::now();
        assert_eq!(status_of(&app, None, Method::GET, "/ping", None).await, StatusCode::OK);
        worst = worst.max(t.elapsed());
    }
    // Had the delays held workers, a ping would have waited for one (300 ms).
    assert!(worst < Duration::from_millis(250), "a ping waited {worst:?} behind the delayed requests");
    for s in slow {
        let (status, took) = s.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert!(took >= Duration::from_millis(300), "{took:?}");
    }
    assert!(started.elapsed() < Duration::from_millis(1500), "16 delays ran side by side: {:?}", started.elapsed());
    // Uniform 50–150 ms, over a bounded sample; a rule's own `delay: 0` wins over the endpoint's.
    let mut took = Vec::new();
    for _ in 0..12 {
        let t = Instant::now();
        app.request(Method::GET, "/api/jitter").send().await.unwrap();
        took.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    assert!(took.iter().all(|ms| (50.0..500.0).contains(ms)), "{took:?}");
    let mean = took.iter().sum::<f64>() / took.len() as f64;
    assert!((70.0..250.0).contains(&mean), "mean {mean} of {took:?}");
    // Under the endpoint's delay every answer takes 50 ms at least; the rule's 0 wins.
    let mut fastest = Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        app.request(Method::GET, "/api/jitter?fast=1").send().await.unwrap();
        fastest = fastest.min(t.elapsed());
    }
    assert!(fastest < Duration::from_millis(45), "{fastest:?}");
}

/// A 503 with Retry-After, twice, then the rule retires; recorded in the journal and
/// the metrics.
async fn a_rule_answers_then_retires_after_its_times(backend: Backend) {
    let app = spawn_app(PROFILE, backend).await;
    let r = rule(
        &app,
        None,
        json!({"match": {"method": "GET", "path": "/api/ping"}, "times": 2,
               "action": {"status": 503, "headers": {"Retry-After": 2}, "body": {"error": "try later"}}}),
    )
    .await;
    let id = r["id"].as_str().unwrap().to_owned();
    assert!(r["seed"].is_u64(), "a seed is chosen and shown: {r}");
    for _ in 0..2 {
        let res = app.request(Method::GET, "/api/ping").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()["retry-after"], "2");
        assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "try later"}));
    }
    assert_eq!(status_of(&app, None, Method::GET, "/ping", None).await, StatusCode::OK, "retired after 2");
    assert_eq!(system(&app, Method::GET, None, "/chaos", None).await.1["count"], 0);
    let (_, list) = system(&app, Method::GET, None, "/requests?path=/api/ping", None).await;
    let injected: Vec<&Value> = list["requests"].as_array().unwrap().iter().map(|r| &r["injected"]).collect();
    assert_eq!(injected[0], &Value::Null, "the last ping got nothing");
    assert_eq!(injected[1], &json!([{"kind": "status", "rule": id}]));
    let metrics =
        app.client.get(format!("{}/metrics", app.address)).header("X-System-Key", "sys-1").send().await.unwrap();
    let text = metrics.text().await.unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("mockgate_faults_injected_total")
            && l.contains("kind=\"status\"")
            && l.contains("route=\"/api/ping\"")
            && l.ends_with(" 2")),
        "{text}"
    );
}

/// The same seed gives the same injections to the same sequence of requests.
async fn a_seed_replays_the_same_injections(backend: Backend) {
    let app = spawn_app(PROFILE, backend).await;
    let mut runs = Vec::new();
    for _ in 0..2 {
        let r = rule(
            &app,
            None,
            json!({"match": {"path": "/api/ping"}, "probability": 0.5, "seed": 42, "action": {"status": 500}}),
        )
        .await;
        let mut seen = Vec::new();
        for _ in 0..30 {
            seen.push(status_of(&app, None, Method::GET, "/ping", None).await.as_u16());
        }
        assert_eq!(
            system(&app, Method::DELETE, None, &format!("/chaos/{}", r["id"].as_str().unwrap()), None).await.0,
            StatusCode::NO_CONTENT
        );
        runs.push(seen);
    }
    assert_eq!(runs[0], runs[1], "seed 42 replays");
    let failed = runs[0].iter().filter(|s| **s == 500).count();
    assert!((6..=24).contains(&failed), "about half of 30: {failed}");
}

/// Faults inside the persistence action: nothing is written.
async fn store_faults_fail_the_action_and_write_nothing(backend: Backend) {
    let app = spawn_app(PROFILE, backend).await;
    rule(
        &app,
        None,
        json!({"match": {"method": "POST", "path": "/api/orders"}, "times": 1, "action": {"store": "conflict"}}),
    )
    .await;
    let res = app.request(Method::POST, "/api/orders").json(&json!({"sku": "x"})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(code(&res.json::<Value>().await.unwrap()), "version_conflict");
    rule(&app, None, json!({"match": {"route": "/api/orders"}, "times": 1, "action": {"store": "unavailable"}})).await;
    let res = app.request(Method::POST, "/api/orders").json(&json!({"sku": "x"})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["retry-after"], "1");
    let (_, data) = system(&app, Method::GET, None, "/data", None).await;
    assert_eq!(data["total"], 0, "nothing stored: {data}");
    assert_eq!(status_of(&app, None, Method::POST, "/orders", Some(json!({"sku": "y"}))).await, StatusCode::CREATED);
    // A static endpoint has no store to break: served, and nothing recorded as injected.
    rule(&app, None, json!({"match": {"path": "/api/ping"}, "action": {"store": "unavailable"}})).await;
    assert_eq!(status_of(&app, None, Method::GET, "/ping", None).await, StatusCode::OK);
    let (_, list) = system(&app, Method::GET, None, "/requests?path=/api/ping", None).await;
    assert!(list["requests"][0].get("injected").is_none(), "{list}");
}

/// A rate limit answers 429 with Retry-After beyond its requests.
async fn a_rate_limit_answers_429_with_retry_after(backend: Backend) {
    let app = spawn_app(PROFILE, backend).await;
    rule(
        &app,
        None,
        json!({"match": {"path": "/api/ping"}, "action": {"rate_limit": {"requests": 3, "per_seconds": 60}}}),
    )
    .await;
    for _ in 0..3 {
        assert_eq!(status_of(&app, None, Method::GET, "/ping", None).await, StatusCode::OK);
    }
    let res = app.request(Method::GET, "/api/ping").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(code(&res.json::<Value>().await.unwrap()), "rate_limited");
}

/// One namespace's chaos never touches another's requests; templates, delays and
/// `ttl_seconds` work.
async fn chaos_stays_in_its_namespace_and_expires(backend: Backend) {
    let app = spawn_app(PROFILE, backend).await;
    rule(&app, Some("t1"), json!({"match": {"path": "/api/orders/{order_id}"}, "ttl_seconds": 1, "action": {"delay": {"uniform_ms": [150, 200]}, "status": 418}})).await;
    let t = Instant::now();
    assert_eq!(status_of(&app, Some("t1"), Method::GET, "/orders/7", None).await, StatusCode::IM_A_TEAPOT);
    assert!(t.elapsed() >= Duration::from_millis(150), "{:?}", t.elapsed());
    assert_eq!(status_of(&app, Some("t2"), Method::GET, "/orders/7", None).await, StatusCode::NOT_FOUND);
    assert_eq!(status_of(&app, None, Method::GET, "/orders/7", None).await, StatusCode::NOT_FOUND);
    assert_eq!(system(&app, Method::GET, Some("t2"), "/chaos", None).await.1["count"], 0);
    assert_eq!(system(&app, Method::GET, Some("t1"), "/chaos", None).await.1["count"], 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(status_of(&app, Some("t1"), Method::GET, "/orders/7", None).await, StatusCode::NOT_FOUND, "expired");
    let (status, body) =
        system(&app, Method::POST, None, "/chaos", Some(json!({"match": {"pth": "/x"}, "action": {"status": 99}})))
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let paths: Vec<&str> =
        body["error"]["violations"].as_array().unwrap().iter().map(|v| v["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/match/pth", "/action/status"]);
    assert_eq!(system(&app, Method::DELETE, None, "/chaos/nope", None).await.0, StatusCode::NOT_FOUND);
}

on_every_backend!(
    profile_delays_hold_without_slowing_other_requests,
    a_rule_answers_then_retires_after_its_times,
    a_seed_replays_the_same_injections,
    store_faults_fail_the_action_and_write_nothing,
    a_rate_limit_answers_429_with_retry_after,
    chaos_stays_in_its_namespace_and_expires,
);

/// Rules are shared by the instances on one Redis, and so is their count.
#[tokio::test]
async fn two_instances_on_one_redis_share_rules_and_their_counts() {
    if !crate::common::redis::available() {
        return;
    }
    let a = spawn_app(PROFILE, Backend::Redis).await;
    let dir = tempfile::tempdir().unwrap();
    let b = spawn_with(PROFILE, Backend::Redis, dir.path().to_owned(), Some(a.redis.as_ref().unwrap().url())).await;
    rule(&a, Some("ci"), json!({"match": {"path": "/api/ping"}, "times": 3, "action": {"status": 503}})).await;
    // b re-reads the rules within half a second.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut injected = 0;
    while injected == 0 {
        assert!(Instant::now() < deadline, "b never saw a's rule");
        if status_of(&b, Some("ci"), Method::GET, "/ping", None).await == StatusCode::SERVICE_UNAVAILABLE {
            injected += 1;
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let mut rest = Vec::new();
    for app in [&a, &b, &a, &b] {
        rest.push(status_of(app, Some("ci"), Method::GET, "/ping", None).await.as_u16());
    }
    assert_eq!(rest, [503, 503, 200, 200], "three in all, counted across both instances");
    assert_eq!(status_of(&a, None, Method::GET, "/ping", None).await, StatusCode::OK, "other namespaces untouched");
}

/// One raw request; what came back before the connection ended, and how it ended.
fn raw(port: u16, path: &str) -> (Vec<u8>, std::io::Result<()>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, Ok(())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return (got, Err(e)),
        }
    }
}

/// Each fault is what a client sees, on a real socket and through an HTTP client.
#[tokio::test]
async fn faults_break_the_connection_as_named() {
    let app = spawn_app(PROFILE, Backend::Memory).await;
    let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let (got, ended) = tokio::task::spawn_blocking(move || raw(port, "/api/faults/reset")).await.unwrap();
    assert!(
        got.is_empty() && ended.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "{got:?} {ended:?}"
    );
    let (got, ended) = tokio::task::spawn_blocking(move || raw(port, "/api/faults/empty")).await.unwrap();
    assert!(got.is_empty() && ended.is_ok(), "closed without a byte: {got:?} {ended:?}");
    let (got, _) = tokio::task::spawn_blocking(move || raw(port, "/api/faults/garbage")).await.unwrap();
    assert_eq!(got.len(), 64, "random bytes, then the close");
    let (got, _) = tokio::task::spawn_blocking(move || raw(port, "/api/faults/malformed")).await.unwrap();
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 OK") && text.contains("transfer-encoding: chunked"), "{text}");
    assert!(!text.ends_with("0\r\n\r\n"), "the chunked body never ends: {text}");
    // Through an HTTP client: a send error, and a body that cannot be decoded.
    let err = app.request(Method::GET, "/api/faults/reset").send().await.unwrap_err();
    assert!(format!("{err:?}").to_lowercase().contains("reset"), "{err:?}");
    let res = app.request(Method::GET, "/api/faults/malformed").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.bytes().await.is_err(), "a body decode error");
    // Dribbled: whole, in pieces over the time asked.
    let t = Instant::now();
    let body: Value = app.request(Method::GET, "/api/dribble").send().await.unwrap().json().await.unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 8);
    assert!(t.elapsed() >= Duration::from_millis(290), "{:?}", t.elapsed());
    // Recorded as injected by the profile.
    let (_, list) = system(&app, Method::GET, None, "/requests?path=/api/faults/reset", None).await;
    assert_eq!(list["requests"][0]["injected"], json!([{"kind": "connection_reset", "rule": "profile"}]));
    // And from a chaos rule at run time, in one namespace only.
    rule(&app, Some("f1"), json!({"match": {"path": "/api/ping"}, "action": {"fault": "connection_reset"}})).await;
    let err = app.request(Method::GET, "/api/ping").header(NS, "f1").send().await.unwrap_err();
    assert!(format!("{err:?}").to_lowercase().contains("reset"), "{err:?}");
    assert_eq!(status_of(&app, Some("f2"), Method::GET, "/ping", None).await, StatusCode::OK);
}

/// `mockctl chaos` against a server started as a user starts it.
#[tokio::test]
async fn mockctl_adds_lists_and_clears_rules() {
    let state = tempfile::tempdir().unwrap();
    let run = crate::common::mockctl_in(state.path());
    let out = run(&["start", PROFILE, "--port", "0", "--no-persistence", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let url = serde_json::from_slice::<Value>(&out.stdout).unwrap()["url"].as_str().unwrap().to_owned();
    let stdout = |out: &std::process::Output| {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let added = stdout(&run(&[
        "chaos",
        "add",
        "--path",
        "/api/ping",
        "--status",
        "503",
        "--response-header",
        "Retry-After=3",
        "--seed",
        "7",
        "--key",
        "sys-1",
    ]));
    assert!(added.starts_with("added chaos rule ") && added.contains("(seed 7)"), "{added}");
    let client = reqwest::Client::new();
    let res = client.get(format!("{url}/api/ping")).send().await.unwrap();
    assert_eq!((res.status(), res.headers()["retry-after"].to_str().unwrap()), (StatusCode::SERVICE_UNAVAILABLE, "3"));
    assert!(stdout(&run(&["chaos", "list", "--key", "sys-1"])).contains("\"status\":503"));
    assert!(stdout(&run(&["chaos", "clear", "--key", "sys-1"])).contains("removed 1 chaos rule(s)"));
    assert_eq!(client.get(format!("{url}/api/ping")).send().await.unwrap().status(), StatusCode::OK);
    let bad = run(&["chaos", "add", "--path", "/api/ping", "--fault", "explode", "--key", "sys-1"]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("400"), "a bad rule is refused");
    assert!(run(&["stop", "--all"]).status.success());
}
