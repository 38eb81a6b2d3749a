//! The shop profile, end to end on every backend.

use crate::common::{Backend, TestApp, code, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn as_customer(app: &TestApp) -> String {
    let (status, body) =
        app.post("/shop/v1/auth/login", &json!({"email": "alice@example.com", "password": "wonderland"})).await;
    assert_eq!(status, StatusCode::OK);
    body["token"].as_str().unwrap().to_owned()
}

async fn send(app: &TestApp, method: Method, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    app.send(app.request(method, path).bearer_auth(token).json(&body)).await
}

async fn a_customer_logs_in_browses_buys_and_reviews(backend: Backend) {
    let app = spawn_app("configs/shop", backend).await;
    let (status, body) =
        app.post("/shop/v1/auth/login", &json!({"email": "alice@example.com", "password": "nope"})).await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, json!({"error": "unknown email or wrong password"})));
    let token = as_customer(&app).await;
    assert_eq!(send(&app, Method::GET, "/shop/v1/me", &token, Value::Null).await.1["customer_id"], "c-alice");

    let (_, catalogue) = app.get("/shop/v1/products?limit=5").await;
    assert_eq!(catalogue["total"], 31, "30 generated products and the seeded teapot");
    assert_eq!(catalogue["products"].as_array().unwrap().len(), 5);
    let (_, kitchen) = app.get("/shop/v1/products?category=kitchen&limit=100").await;
    assert!(kitchen["products"].as_array().unwrap().iter().all(|p| p["category"] == "kitchen"));

    let (status, order) =
        send(&app, Method::POST, "/shop/v1/checkout", &token, json!({"product_id": "p-teapot", "quantity": 2})).await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!((order["stock_left"].clone(), order["order"]["customer_id"].clone()), (json!(1), json!("c-alice")));
    let (status, body) =
        send(&app, Method::POST, "/shop/v1/checkout", &token, json!({"product_id": "p-teapot", "quantity": 2})).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "validation_failed"), "only one teapot left");
    let admin = |rb: reqwest::RequestBuilder| rb.header("X-Admin-Key", "shop-admin-key");
    assert_eq!(
        app.send(admin(app.request(Method::GET, "/shop/v1/orders"))).await.1["entities"].as_array().unwrap().len(),
        1
    );

    let (status, _) = send(&app, Method::POST, "/shop/v1/products/p-teapot/reviews", &token, json!({"stars": 6})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, review) = send(
        &app,
        Method::POST,
        "/shop/v1/products/p-teapot/reviews",
        &token,
        json!({"stars": 5, "text": "Curiouser"}),
    )
    .await;
    assert_eq!((status, review["customer_id"].clone()), (StatusCode::CREATED, json!("c-alice")));
    assert_eq!(app.get("/shop/v1/products/p-teapot/reviews").await.1["total"], 1);

    let (status, body) = app.send(admin(app.request(Method::DELETE, "/shop/v1/products/p-teapot"))).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "delete_restricted"), "it has orders");

    let stale =
        admin(app.request(Method::PATCH, "/shop/v1/products/p-teapot")).json(&json!({"version": 1, "price": 10}));
    let (status, body) = app.send(stale).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "version_conflict"), "the checkout moved it to version 2");
}

on_every_backend!(a_customer_logs_in_browses_buys_and_reviews);
