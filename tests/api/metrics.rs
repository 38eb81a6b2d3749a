//! Prometheus metrics at `/system/metrics` and `/metrics`, on every backend.

use crate::common::{Backend, TestApp, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::json;

const KEY: &str = "system-admin-key-123";

async fn scrape(app: &TestApp, path: &str) -> String {
    let res = app.request(Method::GET, path).header("X-System-Key", KEY).send().await.expect("scrape");
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    res.text().await.expect("text")
}

/// The value of the sample whose name and labels are exactly `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn requests_store_operations_and_entities_are_counted(backend: Backend) {
    let app = spawn_app("configs/persistence", backend).await.with_header("X-API-Key", "demo-api-key-123");
    let user = json!({"name": "Ada", "email": "ada@example.com"});
    assert_eq!(app.post("/api/v1/users", &user).await.0, StatusCode::CREATED);
    assert_eq!(app.post("/api/v1/users", &user).await.0, StatusCode::CONFLICT, "unique email");
    assert_eq!(app.get("/api/v1/users/nobody").await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/users/user_001").await.0, StatusCode::OK);
    assert_eq!(app.get("/api/v1/users/user_002").await.0, StatusCode::OK);
    assert_eq!(app.get("/no/such/path/42").await.0, StatusCode::NOT_FOUND);

    let text = scrape(&app, "/system/metrics").await;
    let requests = |method: &str, route: &str, status: u16| {
        sample(
            &text,
            &format!(r#"mockgate_http_requests_total{{method="{method}",route="{route}",status="{status}"}}"#),
        )
    };
    assert_eq!(requests("POST", "/api/v1/users", 201), Some(1.0), "{text}");
    assert_eq!(requests("POST", "/api/v1/users", 409), Some(1.0), "{text}");
    assert_eq!(requests("GET", "/api/v1/users/{user_id}", 200), Some(2.0), "by template, not raw path: {text}");
    assert_eq!(requests("GET", "/api/v1/users/{user_id}", 404), Some(1.0), "{text}");
    assert_eq!(requests("GET", "(unmatched)", 404), Some(1.0), "{text}");
    assert!(!text.contains("/no/such/path"), "raw paths never become labels");
    let latency_count = sample(
        &text,
        r#"mockgate_http_request_duration_seconds_count{method="GET",route="/api/v1/users/{user_id}",status="200"}"#,
    );
    assert_eq!(latency_count, Some(2.0), "{text}");
    assert!(text.contains("# TYPE mockgate_http_request_duration_seconds histogram"), "{text}");
    assert!(text.contains(r#"mockgate_http_request_duration_seconds_bucket{method="GET",route="/api/v1/users/{user_id}",status="200",le="+Inf"} 2"#), "{text}");

    let b = backend.name();
    let ops = |op: &str, outcome: &str| {
        sample(
            &text,
            &format!(r#"mockgate_store_operations_total{{backend="{b}",operation="{op}",outcome="{outcome}"}}"#),
        )
        .unwrap_or(0.0)
    };
    // One create committed; the duplicate's claim on the email failed its condition.
    assert!(ops("commit", "ok") >= 1.0, "{text}");
    assert_eq!(ops("commit", "conflict"), 1.0, "{text}");
    assert_eq!(ops("commit", "error"), 0.0, "{text}");
    assert!(ops("get", "ok") >= 3.0, "three reads by id: {text}");
    assert!(
        text.contains(&format!(r#"mockgate_store_operation_duration_seconds_count{{backend="{b}",operation="get"}}"#))
    );
    assert_eq!(sample(&text, &format!(r#"mockgate_store_in_flight{{backend="{b}"}}"#)), Some(0.0), "{text}");

    assert_eq!(sample(&text, r#"mockgate_entities{entity="users"}"#), Some(3.0), "two seeded, one created: {text}");
    assert_eq!(sample(&text, r#"mockgate_entities{entity="products"}"#), Some(1.0), "{text}");
    assert!(!text.contains("__unique"), "bookkeeping tables are not entities");
    assert_eq!(sample(&text, "mockgate_store_up"), Some(1.0));
    assert!(sample(&text, "mockgate_uptime_seconds").is_some_and(|s| s >= 0.0));
}

async fn metrics_need_the_system_key(backend: Backend) {
    let app = spawn_app("configs/persistence", backend).await;
    for path in ["/system/metrics", "/metrics"] {
        assert_eq!(app.get(path).await.0, StatusCode::UNAUTHORIZED, "{path}");
        let wrong = app.request(Method::GET, path).header("X-System-Key", "nope");
        assert_eq!(app.send(wrong).await.0, StatusCode::FORBIDDEN, "{path}");
        // What Prometheus sends with `authorization: {credentials: <key>}`.
        let bearer = app.request(Method::GET, path).header("Authorization", format!("Bearer {KEY}"));
        let (status, body) = app.send(bearer).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(body.as_str().is_some_and(|t| t.contains("mockgate_build_info")), "{path}");
    }
    // The scrapes themselves are counted under their resource, not their raw path.
    let text = scrape(&app, "/metrics").await;
    assert!(text.contains(r#"route="/system/metrics",status="401""#), "{text}");
}

on_every_backend!(requests_store_operations_and_entities_are_counted, metrics_need_the_system_key);

#[tokio::test]
async fn a_profile_that_defines_metrics_or_docs_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("api.json"), r#"{"persistence": "memory", "system": {"api_keys": ["k"]}}"#).unwrap();
    let endpoints = r#"{"endpoints": [
        {"method": "GET", "path": "/metrics", "responses": [{"response": {"status_code": 200, "body": {"mine": true}}}]},
        {"method": "GET", "path": "/docs/{page}", "responses": [{"response": {"status_code": 200, "body": {"page": "{page}"}}}]}
    ]}"#;
    std::fs::write(dir.path().join("endpoints.json"), endpoints).unwrap();
    let app = crate::common::spawn_app(dir.path().to_str().unwrap(), Backend::Memory).await;
    assert_eq!(app.get("/metrics").await, (StatusCode::OK, json!({"mine": true})));
    assert_eq!(app.get("/docs/intro").await, (StatusCode::OK, json!({"page": "intro"})));
    let ours = app.request(Method::GET, "/system/metrics").header("X-System-Key", "k");
    let (status, body) = app.send(ours).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.as_str().is_some_and(|t| t.contains(r#"route="/metrics""#)), "the profile's route is counted");
}
