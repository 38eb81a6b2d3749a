//! Hot reload (`--watch`): an edit to the profile's files takes effect without a
//! restart and without losing data; a broken edit keeps the old profile serving and
//! says why.

use mockgate::{Profile, Server, Settings};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

const NOTES: &str = r#"{"endpoints": [
    {"method": "POST", "path": "/notes", "persistence": {"entity_name": "notes", "action": "create"}},
    {"method": "GET", "path": "/notes/{id}", "persistence": {"entity_name": "notes", "action": "read", "key_field": "id"}}
]}"#;

const WITH_PING: &str = r#"{"endpoints": [
    {"method": "POST", "path": "/notes", "persistence": {"entity_name": "notes", "action": "create"}},
    {"method": "GET", "path": "/notes/{id}", "persistence": {"entity_name": "notes", "action": "read", "key_field": "id"}},
    {"method": "GET", "path": "/ping", "responses": [{"response": {"status_code": 200, "body": {"pong": true}}}]}
]}"#;

fn write_profile(dir: &Path, endpoints: &str) {
    std::fs::write(dir.join("api.json"), r#"{"api_name": "Reload", "system": {"protect_endpoints": false}}"#).unwrap();
    std::fs::write(dir.join("endpoints.json"), endpoints).unwrap();
}

struct Watched {
    base: String,
    client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
    watcher: tokio::task::JoinHandle<()>,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

async fn start_watched() -> (Watched, std::path::PathBuf) {
    let profile_dir = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    write_profile(profile_dir.path(), NOTES);
    let profile = Profile::load(profile_dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let settings = Settings::ephemeral(Some(data_dir.path().to_owned()), "file");
    let server = Server::build(&settings, profile).await.expect("server builds");
    let base = format!("http://127.0.0.1:{}", server.port());
    let watcher = tokio::spawn(mockgate::reload::watch(
        profile_dir.path().to_owned(),
        server.reloader(),
        Duration::from_millis(40),
    ));
    let handle = server.handle();
    tokio::spawn(server.run_until_stopped());
    let path = profile_dir.path().to_owned();
    (Watched { base, client: reqwest::Client::new(), handle, watcher, _dirs: (profile_dir, data_dir) }, path)
}

impl Watched {
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let res = self.client.get(format!("{}{path}", self.base)).send().await.expect("request");
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Polls until `check` holds (or fails after 10 s).
    async fn eventually<F: Fn(&(StatusCode, Value)) -> bool>(&self, path: &str, check: F) -> (StatusCode, Value) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.get(path).await;
            if check(&got) {
                return got;
            }
            assert!(Instant::now() < deadline, "{path} never satisfied the check; last {got:?}");
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    async fn stop(self) {
        self.watcher.abort();
        self.handle.stop(true).await;
    }
}

#[tokio::test]
async fn an_edit_takes_effect_without_a_restart_and_keeps_the_data() {
    let (app, dir) = start_watched().await;
    let created = app.client.post(format!("{}/notes", app.base)).json(&json!({"id": "n1", "text": "kept"}));
    assert_eq!(created.send().await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(app.get("/ping").await.0, StatusCode::NOT_FOUND);

    write_profile(&dir, WITH_PING);
    let (_, pong) = app.eventually("/ping", |(s, _)| *s == StatusCode::OK).await;
    assert_eq!(pong, json!({"pong": true}));
    assert_eq!(app.get("/notes/n1").await.1["text"], "kept", "the data survives a reload");
    let (_, health) = app.get("/system/health").await;
    assert_eq!(health["profile_reloads"]["reloads"], 1);
    assert!(health["profile_reloads"]["last_error"].is_null());
    // The OpenAPI document follows the profile.
    let (_, doc) = app.get("/openapi.json").await;
    assert!(doc["paths"]["/ping"]["get"].is_object(), "{doc}");
    app.stop().await;
}

#[tokio::test]
async fn a_broken_edit_keeps_the_old_profile_serving_and_says_why() {
    let (app, dir) = start_watched().await;
    let broken = NOTES.replace(r#""action": "read""#, r#""action": "raed""#);
    write_profile(&dir, &broken);
    let (_, health) = app.eventually("/system/health", |(_, h)| h["profile_reloads"]["last_error"].is_string()).await;
    let why = health["profile_reloads"]["last_error"].as_str().unwrap();
    assert!(
        why.contains("endpoints.json: endpoints[1].persistence.action (GET /notes/{id}): unknown action \"raed\""),
        "{why}"
    );
    assert_eq!(health["profile_reloads"]["reloads"], 0);
    // The previous profile still serves every endpoint.
    assert_eq!(app.get("/notes/nobody").await.0, StatusCode::NOT_FOUND);
    let res = app.client.post(format!("{}/notes", app.base)).json(&json!({"id": "n2"})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(app.get("/notes/n2").await.0, StatusCode::OK);

    // Not even JSON: same story.
    std::fs::write(dir.join("endpoints.json"), "{\"endpoints\": [").unwrap();
    app.eventually("/system/health", |(_, h)| {
        h["profile_reloads"]["last_error"].as_str().is_some_and(|e| e.contains("EOF while parsing"))
    })
    .await;
    assert_eq!(app.get("/notes/n2").await.0, StatusCode::OK);

    // Fixing it reloads and clears the error.
    write_profile(&dir, WITH_PING);
    app.eventually("/ping", |(s, _)| *s == StatusCode::OK).await;
    let (_, health) = app.get("/system/health").await;
    assert!(health["profile_reloads"]["last_error"].is_null(), "{health}");
    app.stop().await;
}
