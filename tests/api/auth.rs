use crate::common::{Backend, code, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::json;

const BASIC: &str = "configs/basic";

#[tokio::test]
async fn missing_api_key_gets_401_with_a_challenge() {
    let app = spawn_app(BASIC, Backend::Memory).await;
    let res = app.request(Method::GET, "/api/v1/items/5").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let challenges: Vec<_> =
        res.headers().get_all("www-authenticate").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert_eq!(
        challenges,
        vec!["ApiKey realm=\"mockgate\", header=\"X-API-Key\"", "ApiKey realm=\"mockgate\", query=\"api_key\""]
    );
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(code(&body), "authentication_required");
}

#[tokio::test]
async fn api_key_in_header_or_query_passes_and_a_wrong_one_is_401() {
    let app = spawn_app(BASIC, Backend::Memory).await;
    let ok = app.request(Method::GET, "/api/v1/items/5").header("X-API-Key", "test-key-456");
    assert_eq!(app.send(ok).await.0, StatusCode::OK);
    assert_eq!(app.get("/api/v1/items/5?api_key=demo-api-key-123").await.0, StatusCode::OK);
    let wrong = app.request(Method::GET, "/api/v1/items/5").header("X-API-Key", "nope");
    let (status, body) = app.send(wrong).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "invalid_credentials");
}

#[tokio::test]
async fn basic_or_bearer_is_enough_for_orders() {
    let app = spawn_app(BASIC, Backend::Memory).await;
    let order = json!({"product": "pen", "quantity": 2});
    let basic = app.request(Method::POST, "/api/v1/orders").basic_auth("admin", Some("secret123")).json(&order);
    assert_eq!(app.send(basic).await.0, StatusCode::CREATED);
    let bearer = app.request(Method::POST, "/api/v1/orders").bearer_auth("reader-token").json(&order);
    assert_eq!(app.send(bearer).await.0, StatusCode::CREATED);
    let wrong = app.request(Method::POST, "/api/v1/orders").basic_auth("admin", Some("nope")).json(&order);
    assert_eq!(app.send(wrong).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_token_without_the_required_scope_gets_403() {
    let app = spawn_app(BASIC, Backend::Memory).await;
    let res = app.request(Method::GET, "/api/v1/reports").bearer_auth("reader-token").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.headers()["www-authenticate"],
        "Bearer realm=\"mockgate\", error=\"insufficient_scope\", scope=\"admin\""
    );
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], json!({"code": "insufficient_scope", "message": "token lacks required scope(s): admin"}));
    let admin = app.request(Method::GET, "/api/v1/reports").bearer_auth("admin-token");
    assert_eq!(app.send(admin).await, (StatusCode::OK, json!({"reports": ["daily", "weekly"]})));
}

#[tokio::test]
async fn system_api_needs_a_valid_system_key() {
    let app = spawn_app(BASIC, Backend::Memory).await;
    let (status, body) = app.get("/system/health").await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "system_key_missing"));
    let wrong = app.request(Method::GET, "/system/health").header("X-System-Key", "demo-api-key-123");
    let (status, body) = app.send(wrong).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "system_key_invalid"));
    let ok = app.request(Method::GET, "/system/health").header("X-System-Key", "system-admin-key-123");
    let (status, body) = app.send(ok).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["backend"], "memory");
    // Mock-and-Roll profiles send the system key in their method's own header.
    let alt = app.request(Method::GET, "/system/health").header("X-API-Key", "system-admin-key-123");
    assert_eq!(app.send(alt).await.0, StatusCode::OK);
}
