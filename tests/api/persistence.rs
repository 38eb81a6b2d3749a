//! Persistence actions over HTTP, on every backend.

use crate::common::{Backend, TestApp, code, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn persistence_app(backend: Backend) -> TestApp {
    spawn_app("configs/persistence", backend).await.with_header("X-API-Key", "demo-api-key-123")
}

async fn entity_counts(app: &TestApp) -> Value {
    let rb = app.request(reqwest::Method::GET, "/system/health").header("X-System-Key", "system-admin-key-123");
    app.send(rb).await.1["entities"].clone()
}

/// Creates Ada and returns the created body.
async fn create_ada(app: &TestApp) -> Value {
    app.post("/api/v1/users", &json!({"name": "Ada", "email": "ada@example.com"})).await.1
}

async fn a_create_answers_201_with_a_uuid_and_its_location(backend: Backend) {
    let app = persistence_app(backend).await;
    let res = app
        .request(reqwest::Method::POST, "/api/v1/users")
        .json(&json!({"name": "Ada", "email": "ada@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = res.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    assert_eq!(location, format!("/api/v1/users/{id}"));
    assert_eq!(created["name"], "Ada");
}

async fn a_read_returns_what_was_created_with_its_timestamps(backend: Backend) {
    let app = persistence_app(backend).await;
    let created = create_ada(&app).await;
    let id = created["id"].as_str().unwrap();
    let (status, user) = app.get(&format!("/api/v1/users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["created_at"], created["created_at"]);
    assert_eq!(user["created_at"], user["updated_at"]);
}

async fn a_replace_drops_fields_not_sent_and_keeps_id_and_created_at(backend: Backend) {
    let app = persistence_app(backend).await;
    let created = create_ada(&app).await;
    let id = created["id"].as_str().unwrap();
    let (status, put) = app.put(&format!("/api/v1/users/{id}"), &json!({"name": "Ada L.", "email": "ada@l.org"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(put["id"], id, "`{{user_id}}` is the real path value");
    let (_, user) = app.get(&format!("/api/v1/users/{id}")).await;
    assert_eq!(user["name"], "Ada L.");
    assert_eq!(user["created_at"], created["created_at"]);
}

async fn a_merge_changes_only_the_fields_sent_and_null_removes(backend: Backend) {
    let app = persistence_app(backend).await;
    let created = create_ada(&app).await;
    let id = created["id"].as_str().unwrap();
    let (status, merged) = app.patch(&format!("/api/v1/users/{id}"), &json!({"role": "admin", "name": null})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(merged["role"], "admin");
    assert!(merged.get("name").is_none(), "null removes a field in a merge");
    assert_eq!(merged["email"], "ada@example.com");
}

async fn a_deleted_entity_is_gone_for_reads_updates_and_deletes(backend: Backend) {
    let app = persistence_app(backend).await;
    let created = create_ada(&app).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/api/v1/users/{id}")).await, (StatusCode::NO_CONTENT, Value::Null));
    let (status, body) = app.get(&format!("/api/v1/users/{id}")).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "entity_not_found"));
    assert_eq!(app.delete(&format!("/api/v1/users/{id}")).await.0, StatusCode::NOT_FOUND);
    let (status, _) = app.put(&format!("/api/v1/users/{id}"), &json!({"name": "x", "email": "x@y.z"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn lists_page_with_limit_offset_and_totals(backend: Backend) {
    let app = persistence_app(backend).await;
    for i in 0..23 {
        let (status, _) = app
            .post("/api/v1/users", &json!({"name": format!("user {i:02}"), "email": format!("u{i}@example.com")}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (_, first) = app.get("/api/v1/users").await;
    assert_eq!(first["users"].as_array().unwrap().len(), 10, "default_limit");
    assert_eq!(first["total"], 25, "2 seeded + 23 created");
    assert_eq!(first["pagination"], json!({"limit": 10, "offset": 0, "has_more": true}));
    assert_eq!(first["users"][0]["id"], "user_001", "creation order");

    let (_, last) = app.get("/api/v1/users?limit=10&offset=20").await;
    let names: Vec<&str> = last["users"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["user 18", "user 19", "user 20", "user 21", "user 22"]);
    assert_eq!(last["pagination"]["has_more"], false);

    let (_, all) = app.get("/api/v1/users?limit=1000").await;
    assert_eq!(all["pagination"]["limit"], 100, "clamped to max_limit");
    let (status, body) = app.get("/api/v1/users?offset=-1").await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "invalid_query"));
}

async fn lists_filter_search_and_sort_by_query(backend: Backend) {
    let app = persistence_app(backend).await;
    for (name, role) in [("Zed", "user"), ("Amy", "admin"), ("Kim", "user")] {
        app.post("/api/v1/users", &json!({"name": name, "email": format!("{name}@corp.example"), "role": role})).await;
    }
    let names = |body: &Value| -> Vec<String> {
        body["users"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap().to_owned()).collect()
    };
    let (_, admins) = app.get("/api/v1/users?role=admin&sort=name").await;
    assert_eq!(names(&admins), vec!["Admin User", "Amy"]);
    assert_eq!(admins["total"], 2);
    let (_, found) = app.get("/api/v1/users?search=CORP.example&sort=-name").await;
    assert_eq!(names(&found), vec!["Zed", "Kim", "Amy"]);
    let (_, none) = app.get("/api/v1/users?role=nobody").await;
    assert_eq!((none["total"].clone(), none["pagination"]["has_more"].clone()), (json!(0), json!(false)));
}

async fn increment_ids_continue_after_seeded_ones(backend: Backend) {
    let app = persistence_app(backend).await;
    let (status, product) = app.post("/api/v1/products", &json!({"name": "Widget", "price": 5})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(product["id"], 2, "seed has product 1");
    let (_, next) = app.post("/api/v1/products", &json!({"name": "Gadget", "price": 6})).await;
    assert_eq!(next["id"], 3);
    assert_eq!(app.get("/api/v1/products/3").await.1["name"], "Gadget");
}

async fn a_client_given_id_is_kept_and_a_duplicate_is_409(backend: Backend) {
    let app = spawn_app("tests/fixtures/gateway", backend).await;
    let (status, note) = app.post("/v1/notes", &json!({"id": "mine", "text": "hi"})).await;
    assert_eq!((status, note["id"].clone()), (StatusCode::CREATED, json!("mine")));
    let (status, body) = app.post("/v1/notes", &json!({"id": "mine", "text": "again"})).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "already_exists"));
    assert_eq!(app.get("/v1/notes/mine").await.1["text"], "hi", "the first write stays");
}

async fn conditional_persistence_runs_only_for_the_chosen_response(backend: Backend) {
    let app = persistence_app(backend).await;
    assert_eq!(app.post("/api/v1/events", &json!({"type": "important"})).await.0, StatusCode::CREATED);
    assert_eq!(app.post("/api/v1/events", &json!({"type": "chatter"})).await.0, StatusCode::CREATED);
    assert_eq!(app.post("/api/v1/events", &json!({"type": "chatter"})).await.0, StatusCode::CREATED);
    let counts = entity_counts(&app).await;
    assert_eq!(counts["important_events"], 1);
    assert_eq!(counts["regular_events"], 2);
}

async fn an_error_response_stores_nothing(backend: Backend) {
    let app = persistence_app(backend).await;
    let (status, _) = app.post("/api/v1/auth/login", &json!({"username": "admin", "password": "wrong"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(entity_counts(&app).await.get("sessions").is_none());
    let (status, session) =
        app.post("/api/v1/auth/login", &json!({"username": "admin", "password": "secret123"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(entity_counts(&app).await["sessions"], 1);
    assert!(session["session_id"].is_string());
}

async fn data_templates_shape_what_is_stored(backend: Backend) {
    let app = spawn_app("tests/fixtures/gateway", backend).await;
    let (status, body) = app.post("/v1/tickets", &json!({"title": "Printer on fire", "password": "not stored"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["number"], 1);
    assert_eq!(body["ticket"]["number"], 1);
    assert_eq!(body["ticket"]["status"], "open");
    assert!(body["ticket"].get("password").is_none());
    let (status, closed) = app.post("/v1/tickets/1/close", &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(closed, json!({"id": "1", "was": "open", "now": "closed"}));
    let (_, ticket) = app.get("/v1/tickets/1").await;
    assert_eq!(ticket["title"], "Printer on fire");
    assert_eq!(ticket["reopen_count"], 0);
}

async fn error_handling_can_fall_back_or_change_the_status(backend: Backend) {
    let app = spawn_app("tests/fixtures/gateway", backend).await;
    assert_eq!(
        app.get("/v1/maybe/n1").await.1,
        json!({"note": {"id": "n1", "text": "seeded", "tags": ["a"]}, "served": true})
    );
    assert_eq!(app.get("/v1/maybe/nope").await, (StatusCode::OK, json!({"note": null, "served": true})));
    let (status, body) = app.post("/v1/strict-notes", &json!({"id": "x"})).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));
}

on_every_backend!(
    error_handling_can_fall_back_or_change_the_status,
    a_create_answers_201_with_a_uuid_and_its_location,
    a_read_returns_what_was_created_with_its_timestamps,
    a_replace_drops_fields_not_sent_and_keeps_id_and_created_at,
    a_merge_changes_only_the_fields_sent_and_null_removes,
    a_deleted_entity_is_gone_for_reads_updates_and_deletes,
    lists_page_with_limit_offset_and_totals,
    lists_filter_search_and_sort_by_query,
    increment_ids_continue_after_seeded_ones,
    a_client_given_id_is_kept_and_a_duplicate_is_409,
    conditional_persistence_runs_only_for_the_chosen_response,
    an_error_response_stores_nothing,
    data_templates_shape_what_is_stored,
);
