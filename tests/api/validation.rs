use crate::common::{Backend, code, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn schema_violations_are_all_listed_with_json_pointers() {
    let app = spawn_app("configs/basic", Backend::Memory).await;
    let rb = app
        .request(Method::POST, "/api/v1/orders")
        .basic_auth("admin", Some("secret123"))
        .json(&json!({"quantity": 0, "email": "not-an-email", "priority": "now"}));
    let (status, body) = app.send(rb).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&body), "validation_failed");
    let mut paths: Vec<&str> =
        body["error"]["violations"].as_array().unwrap().iter().map(|v| v["path"].as_str().unwrap()).collect();
    paths.sort_unstable();
    assert_eq!(paths, vec!["/", "/email", "/priority", "/quantity"]);
}

#[tokio::test]
async fn malformed_json_is_400_and_stores_nothing() {
    let app = spawn_app("tests/fixtures/gateway", Backend::Memory).await;
    let rb = app.request(Method::POST, "/v1/notes").header("content-type", "application/json").body("{\"text\": ");
    let (status, body) = app.send(rb).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "malformed_json"));
    assert_eq!(app.get("/v1/notes").await.1["total"], 1);
}

#[tokio::test]
async fn a_non_json_body_on_a_json_endpoint_is_415() {
    let app = spawn_app("tests/fixtures/gateway", Backend::Memory).await;
    let rb = app.request(Method::POST, "/v1/notes").header("content-type", "text/plain").body("hello");
    let (status, body) = app.send(rb).await;
    assert_eq!((status, code(&body)), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"));
}

#[tokio::test]
async fn form_bodies_are_read_as_objects() {
    let app = spawn_app("tests/fixtures/gateway", Backend::Memory).await;
    let rb = app
        .request(Method::POST, "/v1/notes")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("id=f1&text=from+a+form");
    let (status, body) = app.send(rb).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["text"], "from a form");
}

#[tokio::test]
async fn an_oversized_body_is_413() {
    let app = spawn_app("tests/fixtures/gateway", Backend::Memory).await;
    let big = json!({"text": "x".repeat(4096)});
    let (status, body) = app.post("/v1/notes", &big).await;
    assert_eq!((status, code(&body)), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"));
}

#[tokio::test]
async fn a_deeply_nested_body_is_refused_without_crashing() {
    let app = spawn_app("tests/fixtures/gateway", Backend::Memory).await;
    let deep = format!("{}1{}", "[".repeat(500), "]".repeat(500));
    let rb = app.request(Method::POST, "/v1/notes").header("content-type", "application/json").body(deep);
    let (status, body) = app.send(rb).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "malformed_json"));
    assert_eq!(app.get("/v1/notes/n1").await.0, StatusCode::OK, "the server still answers");
}

#[tokio::test]
async fn a_body_that_is_not_an_object_cannot_be_stored() {
    let app = spawn_app("tests/fixtures/gateway", Backend::Memory).await;
    let (status, body) = app.post("/v1/notes", &json!([1, 2])).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "invalid_body"));
}

/// `levels` arrays inside each other around a number.
pub fn nested(levels: usize) -> serde_json::Value {
    (0..levels).fold(json!(1), |inner, _| json!([inner]))
}

#[tokio::test]
async fn a_body_nested_past_the_storage_limit_is_400_with_its_path_and_stores_nothing() {
    let app = spawn_app("tests/fixtures/gateway", Backend::Memory).await;
    // The entity object is one level; its `tree` may take the other 63.
    let (status, body) = app.post("/v1/notes", &json!({"id": "deep", "tree": nested(64)})).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "validation_failed"));
    let violation = &body["error"]["violations"][0];
    assert!(violation["path"].as_str().unwrap().starts_with("/tree/0/0/"), "{violation}");
    assert_eq!(violation["message"], "nests deeper than 64 levels");
    assert_eq!(app.get("/v1/notes/deep").await.0, StatusCode::NOT_FOUND);
    let (status, _) = app.post("/v1/notes", &json!({"id": "deep", "tree": nested(63)})).await;
    assert_eq!(status, StatusCode::CREATED, "at the limit is fine");
}

async fn numbers_are_stored_exactly_as_sent(backend: Backend) {
    let app = spawn_app("tests/fixtures/gateway", backend).await;
    let body = r#"{"id":"num","zero":-0,"big":123456789012345678901234567890,"tiny":1e-400,"tenth":0.1,"neg":-18446744073709551617}"#;
    let rb = app.request(Method::POST, "/v1/notes").header("content-type", "application/json").body(body);
    assert_eq!(app.send(rb).await.0, StatusCode::CREATED);
    let text = app.request(Method::GET, "/v1/notes/num").send().await.unwrap().text().await.unwrap();
    for exact in [
        r#""zero":-0"#,
        r#""big":123456789012345678901234567890"#,
        r#""tiny":1e-400"#,
        r#""tenth":0.1"#,
        r#""neg":-18446744073709551617"#,
    ] {
        assert!(text.contains(exact), "{exact} in {text}");
    }
}

on_every_backend!(numbers_are_stored_exactly_as_sent);

#[tokio::test]
async fn a_format_violation_reads_as_english() {
    let app = spawn_app("configs/basic", Backend::Memory).await;
    let rb = app
        .request(Method::POST, "/api/v1/orders")
        .basic_auth("admin", Some("secret123"))
        .json(&json!({"quantity": 1, "email": "not-an-email", "priority": "low", "product": "x"}));
    let (status, body) = app.send(rb).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let violations = body["error"]["violations"].as_array().unwrap();
    let email = violations.iter().find(|v| v["path"] == "/email").expect("the email is refused");
    assert_eq!(email["message"], "\"not-an-email\" is not a valid email");
}
