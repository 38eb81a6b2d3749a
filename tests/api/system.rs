//! The `/system` API on every backend.

use crate::common::{Backend, TestApp, code, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn admin(backend: Backend) -> TestApp {
    spawn_app("configs/persistence", backend).await.with_header("X-System-Key", "system-admin-key-123")
}

async fn post(app: &TestApp, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let rb = app.request(Method::POST, path);
    app.send(match body {
        Some(b) => rb.json(&b),
        None => rb,
    })
    .await
}

async fn health_reports_the_backend_and_counts(backend: Backend) {
    let app = admin(backend).await;
    let (status, h) = app.get("/system/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["status"], "healthy");
    assert_eq!(h["backend"], backend.name());
    assert_eq!(h["entities"], json!({"products": 1, "users": 2}), "no bookkeeping tables");
    if backend == Backend::Redis {
        assert_eq!(h["redis"]["connected"], true);
        assert!(h["redis"]["version"].as_str().is_some_and(|v| v.starts_with(char::is_numeric)), "{h}");
        assert!(h["redis"]["ping_ms"].as_f64().is_some());
    }
}

async fn data_can_be_inspected_searched_and_deleted(backend: Backend) {
    let app = admin(backend).await;
    let (_, overview) = app.get("/system/data").await;
    assert_eq!(overview["entities"], json!({"products": 1, "users": 2}));
    assert_eq!(overview["total"], 3);
    let (_, found) = app.get("/system/data/users?search=ADMIN").await;
    assert_eq!((found["total"].clone(), found["items"][0]["id"].clone()), (json!(1), json!("user_001")));
    let (_, page) = app.get("/system/data/users?limit=1&offset=1").await;
    assert_eq!((page["items"][0]["id"].clone(), page["has_more"].clone()), (json!("user_002"), json!(false)));
    assert_eq!(app.get("/system/data/users/user_002").await.1["email"], "test@example.com");
    assert_eq!(app.delete("/system/data/users/user_002").await.0, StatusCode::NO_CONTENT);
    let (status, body) = app.get("/system/data/users/user_002").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "entity_not_found"));
    // Its unique email was released with it.
    let api = |rb: reqwest::RequestBuilder| rb.header("X-API-Key", "demo-api-key-123");
    let create =
        api(app.request(Method::POST, "/api/v1/users")).json(&json!({"name": "Again", "email": "test@example.com"}));
    assert_eq!(app.send(create).await.0, StatusCode::CREATED);
    let (status, body) = app.get("/system/data/users?limit=abc").await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "bad_request"));
}

async fn seeding_is_checked_like_creates_and_all_or_nothing(backend: Backend) {
    let app = admin(backend).await;
    let bad = json!({"entities": {"users": [
        {"id": "ok", "name": "Fine", "email": "fine@example.com"},
        {"name": "No id"},
        {"id": "dup", "name": "Dup", "email": "admin@example.com"}
    ]}});
    let (status, body) = post(&app, "/system/seed", Some(bad)).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "validation_failed"));
    let paths: Vec<&str> =
        body["error"]["violations"].as_array().unwrap().iter().map(|v| v["path"].as_str().unwrap()).collect();
    assert_eq!(paths, vec!["/entities/users/1"], "{body}");
    let (status, body) =
        post(&app, "/system/seed", Some(json!({"entities": {"users": [{"id": "dup", "email": "admin@example.com"}]}})))
            .await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "validation_failed"), "a duplicate unique value");
    assert_eq!(app.get("/system/data").await.1["entities"]["users"], 2, "nothing was written");

    let good = json!({"entities": {"users": [{"id": "s1", "name": "Seeded", "email": "s1@example.com"}], "tags": [{"id": 1, "label": "new"}]}});
    let (status, body) = post(&app, "/system/seed", Some(good)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["entities"], json!({"products": 1, "tags": 1, "users": 3}));
}

async fn reset_and_snapshots_restore_whole_states(backend: Backend) {
    let app = admin(backend).await;
    let (status, meta) =
        post(&app, "/system/snapshots", Some(json!({"name": "clean-1.0", "description": "as seeded"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        (meta["name"].clone(), meta["counts"].clone()),
        (json!("clean-1.0"), json!({"products": 1, "users": 2}))
    );
    assert!(meta.get("data").is_none());

    app.delete("/system/data/users/user_001").await;
    post(&app, "/system/seed", Some(json!({"entities": {"tags": [{"id": "t"}]}}))).await;
    let (_, list) = app.get("/system/snapshots").await;
    assert_eq!(list["snapshots"][0]["description"], "as seeded");

    let (status, body) = post(&app, "/system/snapshots/restore", Some(json!({"name": "clean-1.0"}))).await;
    assert_eq!((status, body["entities"].clone()), (StatusCode::OK, json!({"products": 1, "users": 2})));
    assert_eq!(app.get("/system/data/users/user_001").await.0, StatusCode::OK);

    post(&app, "/system/seed", Some(json!({"entities": {"tags": [{"id": "t"}]}}))).await;
    let (status, body) = post(&app, "/system/reset", None).await;
    assert_eq!((status, body["entities"].clone()), (StatusCode::OK, json!({"products": 1, "users": 2})));

    for bad in ["../etc/passwd", ".hidden", "a/b", ""] {
        let (status, body) = post(&app, "/system/snapshots", Some(json!({"name": bad}))).await;
        assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "validation_failed"), "{bad:?}");
    }
    let (status, body) = post(&app, "/system/snapshots/restore", Some(json!({"name": "nope"}))).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "entity_not_found"));
    assert_eq!(app.delete("/system/snapshots/clean-1.0").await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.delete("/system/snapshots/clean-1.0").await.0, StatusCode::NOT_FOUND);
}

async fn cache_endpoints_answer_in_json(backend: Backend) {
    let app = admin(backend).await;
    let (status, stats) = app.get("/system/cache/stats").await;
    assert_eq!(status, StatusCode::OK);
    assert!(stats["hits"].is_u64() && stats["entries"].is_u64(), "{stats}");
    assert_eq!(app.delete("/system/cache").await.1["cleared"], 0);
    assert_eq!(app.delete("/system/cache/users").await.1["entity"], "users");
    assert_eq!(app.get("/system/cache/reads/users").await.1["ids"], json!([]));
    let (status, body) = app.get("/system/cache/reads/users/u1").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "entity_not_found"));
    let (status, body) = app.get("/system/nothing-here").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "route_not_found"));
}

async fn entities_at_the_depth_limit_snapshot_and_restore_and_deeper_ones_are_refused(backend: Backend) {
    let app = admin(backend).await;
    let deep = json!({"id": "deep", "tree": crate::validation::nested(63)});
    let (status, _) = post(&app, "/system/seed", Some(json!({"entities": {"trees": [deep]}}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(post(&app, "/system/snapshots", Some(json!({"name": "deep"}))).await.0, StatusCode::CREATED);
    assert_eq!(post(&app, "/system/reset", None).await.0, StatusCode::OK);
    let (status, listed) = app.get("/system/snapshots").await;
    assert_eq!((status, listed["snapshots"][0]["name"].clone()), (StatusCode::OK, json!("deep")));
    assert_eq!(post(&app, "/system/snapshots/restore", Some(json!({"name": "deep"}))).await.0, StatusCode::OK);
    assert_eq!(app.get("/system/data/trees/deep").await.1, deep);

    let deeper = json!({"id": "deeper", "tree": crate::validation::nested(64)});
    let (status, body) = post(&app, "/system/seed", Some(json!({"entities": {"trees": [deeper]}}))).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "too_deeply_nested"));
    assert_eq!(app.get("/system/data/trees/deeper").await.0, StatusCode::NOT_FOUND);
}

on_every_backend!(
    entities_at_the_depth_limit_snapshot_and_restore_and_deeper_ones_are_refused,
    health_reports_the_backend_and_counts,
    data_can_be_inspected_searched_and_deleted,
    seeding_is_checked_like_creates_and_all_or_nothing,
    reset_and_snapshots_restore_whole_states,
    cache_endpoints_answer_in_json,
);

#[tokio::test]
async fn a_start_can_begin_from_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let app = crate::common::spawn_in("configs/persistence", Backend::File, dir.path().to_owned())
        .await
        .with_header("X-System-Key", "system-admin-key-123");
    post(&app, "/system/seed", Some(json!({"entities": {"tags": [{"id": "scenario-a"}]}}))).await;
    post(&app, "/system/snapshots", Some(json!({"name": "scenario-a"}))).await;
    post(&app, "/system/reset", None).await;
    app.stop().await;

    let profile = mockgate::Profile::load(&crate::common::repo_path("configs/persistence")).unwrap();
    let mut settings = mockgate::Settings::ephemeral(Some(dir.path().to_owned()), "file");
    settings.snapshot = Some("scenario-a".into());
    let server = mockgate::Server::build(&settings, profile).await.unwrap();
    let (port, handle) = (server.port(), server.handle());
    let task = tokio::spawn(server.run_until_stopped());
    let res = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/system/data/tags/scenario-a"))
        .header("X-System-Key", "system-admin-key-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    handle.stop(true).await;
    task.await.unwrap().unwrap();

    let profile = mockgate::Profile::load(&crate::common::repo_path("configs/persistence")).unwrap();
    settings.snapshot = Some("missing".into());
    let err = mockgate::Server::build(&settings, profile).await.err().expect("an unknown snapshot stops the start");
    assert!(err.to_string().starts_with("cannot start from snapshot \"missing\""), "{err}");
}

#[tokio::test]
async fn load_rereads_a_hand_edited_db_json() {
    let app = admin(Backend::File).await;
    assert_eq!(post(&app, "/system/save", None).await.1["saved"], true);
    let (_, health) = app.get("/system/health").await;
    let db = std::path::Path::new(health["file"]["data_dir"].as_str().unwrap()).join("db.json");
    let mut data: Value = serde_json::from_str(&std::fs::read_to_string(&db).unwrap()).unwrap();
    data["entities"]["users"]["hand"] = json!({"id": "hand", "name": "Edited", "email": "hand@example.com"});
    std::fs::write(&db, serde_json::to_string_pretty(&data).unwrap()).unwrap();
    let (status, body) = post(&app, "/system/load", None).await;
    assert_eq!((status, body["entities"]["users"].clone()), (StatusCode::OK, json!(3)));
    assert_eq!(app.get("/system/data/users/hand").await.1["name"], "Edited");

    let memory = admin(Backend::Memory).await;
    let (status, body) = post(&memory, "/system/load", None).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "bad_request"));
}

#[tokio::test]
async fn a_seed_file_loads_at_start_and_a_bad_one_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.json");
    std::fs::write(&seed, r#"{"entities": {"tags": [{"id": "from-file"}]}}"#).unwrap();
    let profile = mockgate::Profile::load(&crate::common::repo_path("configs/persistence")).unwrap();
    let mut settings = mockgate::Settings::ephemeral(None, "memory");
    settings.seed_file = Some(seed.clone());
    let server = mockgate::Server::build(&settings, profile).await.unwrap();
    let port = server.port();
    tokio::spawn(server.run_until_stopped());
    let res = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/system/data/tags/from-file"))
        .header("X-System-Key", "system-admin-key-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    std::fs::write(&seed, r#"{"users": [{"name": "no id"}]}"#).unwrap();
    let profile = mockgate::Profile::load(&crate::common::repo_path("configs/persistence")).unwrap();
    let err = mockgate::Server::build(&settings, profile).await.err().expect("refused");
    assert!(err.to_string().ends_with("/entities/users/0: must be an object with a string or number id"), "{err}");
}

#[tokio::test]
async fn protect_endpoints_false_opens_the_system_api() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("api.json"), r#"{"system": {"protect_endpoints": false, "api_keys": ["k"]}}"#)
        .unwrap();
    std::fs::write(
        dir.path().join("endpoints.json"),
        r#"{"endpoints": [{"method": "GET", "path": "/x", "responses": [{"response": {"status_code": 200}}]}]}"#,
    )
    .unwrap();
    let profile = mockgate::Profile::load(dir.path()).unwrap();
    assert!(profile.system.opened);
    let server = mockgate::Server::build(&mockgate::Settings::ephemeral(None, "memory"), profile).await.unwrap();
    let port = server.port();
    tokio::spawn(server.run_until_stopped());
    let res = reqwest::get(format!("http://127.0.0.1:{port}/system/health")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn without_a_key_the_system_api_answers_this_machine() {
    let app = spawn_app("tests/fixtures/gateway", Backend::Memory).await;
    let (status, health) = app.get("/system/health").await;
    assert_eq!((status, health["status"].clone()), (StatusCode::OK, json!("healthy")), "from 127.0.0.1");
}

#[tokio::test]
async fn a_start_beyond_loopback_without_a_key_makes_one_up_and_requires_it() {
    let profile = mockgate::Profile::load(&crate::common::repo_path("tests/fixtures/gateway")).unwrap();
    let mut settings = mockgate::Settings::ephemeral(None, "memory");
    settings.host = "0.0.0.0".into();
    let server = mockgate::Server::build(&settings, profile).await.unwrap();
    let key = server.started().generated_system_key.clone().expect("a key was generated");
    assert!(key.len() >= 32, "{key}");
    let port = server.port();
    tokio::spawn(server.run_until_stopped());
    let url = format!("http://127.0.0.1:{port}/system/health");
    let client = reqwest::Client::new();
    assert_eq!(client.get(&url).send().await.unwrap().status(), StatusCode::UNAUTHORIZED, "even from this machine");
    let res = client.get(&url).header("X-System-Key", &key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let profile = mockgate::Profile::load(&crate::common::repo_path("configs/persistence")).unwrap();
    let server = mockgate::Server::build(&settings, profile).await.unwrap();
    assert_eq!(server.started().generated_system_key, None, "a profile with keys keeps them");
}

#[tokio::test]
async fn an_unreadable_snapshot_does_not_hide_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let app = crate::common::spawn_in("configs/persistence", Backend::File, dir.path().to_owned())
        .await
        .with_header("X-System-Key", "system-admin-key-123");
    assert_eq!(post(&app, "/system/snapshots", Some(json!({"name": "good"}))).await.0, StatusCode::CREATED);
    std::fs::write(dir.path().join("snapshots/broken.json"), "{ not json").unwrap();
    let (status, listed) = app.get("/system/snapshots").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> =
        listed["snapshots"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["good"]);
    let (status, body) = post(&app, "/system/snapshots/restore", Some(json!({"name": "broken"}))).await;
    assert_eq!((status.as_u16(), code(&body)), (500, "internal_error"), "restoring it says it failed");
}
