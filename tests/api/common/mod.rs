//! `spawn_app`: builds the real server on port 0 with its own data folder, serves it
//! on the test's runtime, and gives helpers that return `(StatusCode, Value)`.

pub mod cluster;
pub mod redis;

/// Runs each named `async fn case(Backend)` as a test on memory, file and redis.
macro_rules! on_every_backend {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test] async fn $case() { super::$case(crate::common::Backend::Memory).await })*
        }
        mod file {
            $(#[tokio::test] async fn $case() { super::$case(crate::common::Backend::File).await })*
        }
        mod redis {
            $(#[tokio::test] async fn $case() {
                if crate::common::redis::available() {
                    super::$case(crate::common::Backend::Redis).await
                }
            })*
        }
    };
}

use mockgate::{Profile, Server, Settings};
pub use redis::RedisServer;
use reqwest::StatusCode;
use serde_json::Value;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    File,
    Redis,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Memory => "memory",
            Backend::File => "file",
            Backend::Redis => "redis",
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: Option<TempDir>,
    pub redis: Option<RedisServer>,
    /// Headers sent with every request.
    pub default_headers: Vec<(String, String)>,
}

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

pub fn init_logs() {
    if std::env::var("TEST_LOG").is_ok() {
        mockgate::telemetry::init("info");
    }
}

/// Starts `profile` (a path relative to the repository) on `backend` with fresh data:
/// a new folder, or a new redis-server of its own.
pub async fn spawn_app(profile: &str, backend: Backend) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let redis = (backend == Backend::Redis).then(RedisServer::start);
    let mut app = spawn_with(profile, backend, dir.path().to_owned(), redis.as_ref().map(RedisServer::url)).await;
    app._dir = Some(dir);
    app.redis = redis;
    app
}

/// Starts `profile` on `backend` using an existing data folder (restart tests).
pub async fn spawn_in(profile: &str, backend: Backend, data_dir: PathBuf) -> TestApp {
    spawn_with(profile, backend, data_dir, None).await
}

/// Starts `profile` on `backend` with the given folder and Redis address.
pub async fn spawn_with(profile: &str, backend: Backend, data_dir: PathBuf, redis_url: Option<String>) -> TestApp {
    init_logs();
    let profile = Profile::load(&repo_path(profile)).unwrap_or_else(|e| panic!("{e}"));
    let mut settings = Settings::ephemeral(Some(data_dir.clone()), backend.name());
    settings.redis_url = redis_url;
    let server = Server::build(&settings, profile).await.expect("server builds");
    let address = format!("http://127.0.0.1:{}", server.port());
    let handle = server.handle();
    let task = tokio::spawn(server.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        handle,
        task: Some(task),
        _dir: None,
        redis: None,
        default_headers: Vec::new(),
    }
}

impl TestApp {
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.default_headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Stops gracefully and waits until the store is flushed.
    pub async fn stop(mut self) {
        self.handle.stop(true).await;
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server stops cleanly");
        }
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut rb = self.client.request(method, format!("{}{}", self.address, path));
        for (k, v) in &self.default_headers {
            rb = rb.header(k, v);
        }
        rb
    }

    pub async fn send(&self, rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let res = rb.send().await.expect("request is sent");
        let status = res.status();
        let text = res.text().await.expect("body");
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, body)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.request(reqwest::Method::DELETE, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(self.request(reqwest::Method::POST, path).json(body)).await
    }

    /// [`TestApp::post`] with owned arguments, for requests sent side by side.
    pub async fn post_owned(&self, path: String, body: Value) -> (StatusCode, Value) {
        self.post(&path, &body).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(self.request(reqwest::Method::PUT, path).json(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(self.request(reqwest::Method::PATCH, path).json(body)).await
    }
}

/// `mockctl` as a user runs it from the repository, with its own state folder: each
/// call runs it with `args` and waits for it.
pub fn mockctl_in(state: &Path) -> impl Fn(&[&str]) -> std::process::Output + '_ {
    move |args| {
        std::process::Command::new(env!("CARGO_BIN_EXE_mockctl"))
            .current_dir(repo_path(""))
            .env("MOCKGATE_STATE_DIR", state)
            .env_remove("MOCKGATE_LOG")
            .args(args)
            .output()
            .unwrap()
    }
}

/// The error code of a JSON error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_else(|| panic!("not an error body: {body}"))
}
