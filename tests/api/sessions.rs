//! Session authentication: a login stores a session, `session` endpoints read it,
//! logout deletes it, and a TTL ends it.

use crate::common::{Backend, code, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn login_me_logout(backend: Backend) {
    let app = spawn_app("configs/persistence", backend).await;
    let (status, login) = app.post("/api/v1/auth/login", &json!({"username": "admin", "password": "secret123"})).await;
    assert_eq!(status, StatusCode::OK);
    let sid = login["session_id"].as_str().unwrap().to_owned();

    let me = |sid: &str| app.request(Method::GET, "/api/v1/auth/me").header("X-Session-Id", sid);
    let (status, body) = app.send(me(&sid)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((body["user"].clone(), body["session_id"].clone()), (json!("admin"), json!(sid)));
    assert_eq!(body["expires_at"], login["expires_at"]);

    let (status, body) = app.send(me("no-such-session")).await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "invalid_credentials"));
    let (status, body) = app.get("/api/v1/auth/me").await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "authentication_required"));

    let logout = app.request(Method::POST, "/api/v1/auth/logout").header("X-Session-Id", &sid);
    assert_eq!(app.send(logout).await, (StatusCode::OK, json!({"message": "Logged out successfully"})));
    assert_eq!(app.send(me(&sid)).await.0, StatusCode::UNAUTHORIZED, "the session is gone");
}

async fn a_session_ends_with_its_ttl(backend: Backend) {
    let app = spawn_app("tests/fixtures/gateway", backend).await;
    let (status, body) = app.post("/v1/sessions", &json!({"user": "ada"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let cookie = format!("theme=dark; sid={}", body["session_id"].as_str().unwrap());
    let whoami = || app.request(Method::GET, "/v1/whoami").header("Cookie", &cookie);
    assert_eq!(app.send(whoami()).await, (StatusCode::OK, json!({"user": "ada"})));
    // The TTL is one second: move the clock past it instead of waiting.
    let advance = |secs: f64| app.request(Method::POST, "/system/clock").json(&json!({"advance_seconds": secs}));
    assert_eq!(app.send(advance(0.5)).await.0, StatusCode::OK);
    assert_eq!(app.send(whoami()).await.0, StatusCode::OK, "0.5 s of 1 s");
    app.send(advance(0.6)).await;
    let (status, _) = app.send(whoami()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the session ended with its TTL");
    let (_, list) = app.get("/v1/notes").await;
    assert_eq!(list["total"], 1, "other data is untouched");
}

on_every_backend!(login_me_logout, a_session_ends_with_its_ttl);
