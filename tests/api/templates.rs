use crate::common::{Backend, code, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const GATEWAY: &str = "tests/fixtures/gateway";

#[tokio::test]
async fn templates_substitute_typed_values_and_interpolate_text() {
    let app = spawn_app(GATEWAY, Backend::Memory).await;
    let rb = app.request(Method::POST, "/v1/echo?q=search").json(&json!({"kind": "widget", "count": 3, "flag": true}));
    let res = rb.send().await.unwrap();
    assert_eq!(res.headers()["x-kind"], "widget");
    assert_eq!(res.headers()["x-count"], "3");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["kind"], "widget");
    assert_eq!(body["count"], 3, "a lone expression keeps the number type");
    assert_eq!(body["next"], 4);
    assert_eq!(body["whole"], json!({"kind": "widget", "count": 3, "flag": true}));
    assert_eq!(body["text"], "widget x3");
    assert_eq!(body["html"], "<b>widget</b> & co", "nothing is HTML-escaped");
    assert_eq!(body["method"], "POST");
    assert_eq!(body["query"], "search");
    assert_eq!(body["block"], "on");
    assert_eq!(body["literal"], json!(["no", {"template": "here"}]));
    assert!(uuid::Uuid::parse_str(body["id"].as_str().unwrap()).is_ok());
    let now = chrono::DateTime::parse_from_rfc3339(body["now"].as_str().unwrap()).unwrap();
    let later = chrono::DateTime::parse_from_rfc3339(body["later"].as_str().unwrap()).unwrap();
    assert_eq!((later - now).num_seconds(), 60);
    assert_eq!(body["unix"].as_i64().unwrap(), now.timestamp());
}

#[tokio::test]
async fn each_random_uuid_is_fresh() {
    let app = spawn_app(GATEWAY, Backend::Memory).await;
    let a = app.post("/v1/echo", &json!({"kind": "k", "count": 1})).await.1;
    let b = app.post("/v1/echo", &json!({"kind": "k", "count": 1})).await.1;
    assert_ne!(a["id"], b["id"]);
}

#[tokio::test]
async fn request_values_are_data_never_template_source() {
    let app = spawn_app(GATEWAY, Backend::Memory).await;
    let (_, body) = app.post("/v1/echo", &json!({"kind": "{{random_uuid}}", "count": 2, "q": "{{timestamp}}"})).await;
    assert_eq!(body["kind"], "{{random_uuid}}");
    assert_eq!(body["text"], "{{random_uuid}} x2");
    assert_eq!(body["whole"]["q"], "{{timestamp}}");
    let (_, body) = app.post("/v1/echo", &json!({"kind": "{{#each x}}", "count": 1})).await;
    assert_eq!(body["kind"], "{{#each x}}");
}

#[tokio::test]
async fn seed_style_arithmetic_works_and_bad_operands_get_400() {
    let app = spawn_app(GATEWAY, Backend::Memory).await;
    assert_eq!(app.post("/v1/math", &json!({"stock": 10, "take": 3})).await, (StatusCode::OK, json!({"left": 7})));
    assert_eq!(app.post("/v1/math", &json!({"stock": "10", "take": 2.5})).await.1, json!({"left": 7.5}));
    let (status, body) = app.post("/v1/math", &json!({"stock": 10})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&body), "invalid_template_input");
    assert_eq!(
        body["error"]["message"],
        "in `{{subtract request.stock request.take}}`: `subtract` needs a number, got nothing (null or missing)"
    );
}

#[tokio::test]
async fn status_codes_and_text_bodies_can_be_templated() {
    let app = spawn_app(GATEWAY, Backend::Memory).await;
    assert_eq!(app.get("/v1/status/418").await, (StatusCode::IM_A_TEAPOT, json!({"code": "418"})));
    let res = app.request(Method::GET, "/v1/text?who=you").send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/plain");
    assert_eq!(res.text().await.unwrap(), "plain you");
}
