use crate::common::{Backend, code, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::json;

const GATEWAY: &str = "tests/fixtures/gateway";

#[tokio::test]
async fn literal_segment_beats_a_parameter_whatever_the_order() {
    let app = spawn_app(GATEWAY, Backend::Memory).await;
    assert_eq!(app.get("/v1/things/special").await, (StatusCode::OK, json!({"which": "literal"})));
    assert_eq!(app.get("/v1/things/42").await, (StatusCode::OK, json!({"which": "param", "id": "42"})));
}

#[tokio::test]
async fn path_parameters_are_percent_decoded_and_trailing_slashes_ignored() {
    let app = spawn_app(GATEWAY, Backend::Memory).await;
    assert_eq!(app.get("/v1/things/a%20b/").await, (StatusCode::OK, json!({"which": "param", "id": "a b"})));
}

#[tokio::test]
async fn unknown_path_returns_404_with_json_error() {
    let app = spawn_app(GATEWAY, Backend::Memory).await;
    let (status, body) = app.get("/v1/nothing/here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"error": {"code": "route_not_found", "message": "no endpoint matches GET /v1/nothing/here"}})
    );
    // Without the root path an endpoint answers too (as in Mock-and-Roll), the same way.
    assert_eq!(app.get("/things/1").await, app.get("/v1/things/1").await);
    assert_eq!(app.get("/nothing/here").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn wrong_method_on_a_known_path_returns_405_with_allow() {
    let app = spawn_app(GATEWAY, Backend::Memory).await;
    let res = app.request(Method::PUT, "/v1/things/1").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "GET, DELETE");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(code(&body), "method_not_allowed");
}

#[tokio::test]
async fn head_is_answered_by_get_endpoints_without_a_body() {
    let app = spawn_app(GATEWAY, Backend::Memory).await;
    let res = app.request(Method::HEAD, "/v1/things/1").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn first_matching_response_wins_and_null_condition_matches_missing_fields() {
    let app = spawn_app(GATEWAY, Backend::Memory).await;
    assert_eq!(
        app.post("/v1/echo", &json!({"count": 1})).await,
        (StatusCode::UNPROCESSABLE_ENTITY, json!({"error": "kind is required"}))
    );
    assert_eq!(app.post("/v1/echo", &json!({"kind": ""})).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let teapot = app.request(Method::POST, "/v1/echo").header("X-Mode", "teapot").json(&json!({"kind": "k"}));
    assert_eq!(app.send(teapot).await, (StatusCode::IM_A_TEAPOT, json!({"short": "and stout"})));
    assert_eq!(app.post("/v1/echo", &json!({"kind": "k", "count": 1})).await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_root_says_where_the_docs_are_in_json_and_in_html() {
    let app = crate::common::spawn_app("configs/persistence", crate::common::Backend::Memory).await;
    let (status, body) = app.get("/").await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert_eq!(
        (body["docs"].clone(), body["openapi"].clone()),
        (serde_json::json!("/docs/"), serde_json::json!("/openapi.json"))
    );
    // Mock-and-Roll's answer, which its users' health scripts read.
    assert_eq!(body["message"], "Mock server is running.", "{body}");
    assert!(body["api"].as_str().unwrap().contains("1.0"), "{body}");
    let res = app
        .request(reqwest::Method::GET, "/")
        .header("Accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = res.text().await.unwrap();
    assert!(page.contains("href=\"/docs/\"") && page.contains("<h1>"), "{page}");
}
