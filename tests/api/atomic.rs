//! Atomic multi-entity operations: the `persistence` profile's order endpoint creates
//! an order and decrements the product's inventory in one commit.

use crate::common::{Backend, TestApp, code, spawn_app, spawn_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn shop(backend: Backend) -> TestApp {
    spawn_app("configs/persistence", backend).await.with_header("X-API-Key", "demo-api-key-123")
}

async fn inventory(app: &TestApp, id: &Value) -> Value {
    app.get(&format!("/api/v1/products/{id}")).await.1["inventory"].clone()
}

async fn an_order_and_its_inventory_change_commit_together(backend: Backend) {
    let app = shop(backend).await;
    let (status, body) =
        app.post("/api/v1/orders", &json!({"user_id": "user_001", "product_id": 1, "quantity": 3})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["order"]["quantity"], 3);
    assert_eq!(body["order"]["status"], "placed");
    assert_eq!(body["inventory_left"], 97);
    assert_eq!(inventory(&app, &json!(1)).await, 97);
}

async fn a_missing_target_fails_the_whole_order(backend: Backend) {
    let app = shop(backend).await;
    let (status, body) =
        app.post("/api/v1/orders", &json!({"user_id": "user_001", "product_id": 404, "quantity": 1})).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "entity_not_found"));
    let (status, body) =
        app.post("/api/v1/orders", &json!({"user_id": "nobody", "product_id": 1, "quantity": 1})).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "validation_failed"), "{body}");
    assert_eq!(app.get("/api/v1/orders").await.1["total"], 0, "no order was written");
    assert_eq!(inventory(&app, &json!(1)).await, 100, "no stock was taken");
}

async fn concurrent_orders_never_oversell(backend: Backend) {
    let app = shop(backend).await;
    let (_, product) = app.post("/api/v1/products", &json!({"name": "Scarce", "price": 1, "inventory": 20})).await;
    let id = product["id"].clone();
    let results = place_orders(&[&app], &id, 30).await;
    assert_eq!(results.iter().filter(|s| **s == StatusCode::CREATED).count(), 20, "{results:?}");
    assert_eq!(results.iter().filter(|s| **s == StatusCode::BAD_REQUEST).count(), 10, "the rest break inventory >= 0");
    assert_eq!(inventory(&app, &id).await, 0);
    let (_, orders) = app.get(&format!("/api/v1/orders?product_id={id}")).await;
    assert_eq!(orders["total"], 20, "exactly one order per unit sold");
}

/// Sends `n` one-unit orders at once, spread over the given gateways.
async fn place_orders(apps: &[&TestApp], product: &Value, n: usize) -> Vec<StatusCode> {
    let mut tasks = Vec::new();
    for i in 0..n {
        let app = apps[i % apps.len()];
        let req = app
            .request(reqwest::Method::POST, "/api/v1/orders")
            .json(&json!({"user_id": "user_001", "product_id": product, "quantity": 1}));
        tasks.push(tokio::spawn(async move { req.send().await.unwrap().status() }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn concurrent_orders_through_two_instances_on_one_redis_are_exact() {
    if !crate::common::redis::available() {
        return;
    }
    let a = shop(Backend::Redis).await;
    let url = a.redis.as_ref().unwrap().url();
    let b = spawn_with("configs/persistence", Backend::Redis, "unused-on-redis".into(), Some(url))
        .await
        .with_header("X-API-Key", "demo-api-key-123");
    let results = place_orders(&[&a, &b], &json!(1), 30).await;
    assert!(results.iter().all(|s| *s == StatusCode::CREATED), "{results:?}");
    assert_eq!(inventory(&b, &json!(1)).await, 70);
    assert_eq!(a.get("/api/v1/orders").await.1["total"], 30);
}

on_every_backend!(
    an_order_and_its_inventory_change_commit_together,
    a_missing_target_fails_the_whole_order,
    concurrent_orders_never_oversell,
);
