//! `mockctl` as a user runs it.

use crate::common::repo_path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn mockctl() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mockctl"));
    cmd.current_dir(repo_path(""));
    cmd.env_remove("MOCKGATE_LOG").env_remove("RUST_LOG");
    // Never the user's own registry of servers: tests that run servers name a state
    // folder of their own; the rest share this run's.
    cmd.env("MOCKGATE_STATE_DIR", std::env::temp_dir().join(format!("mockgate-tests-{}", std::process::id())));
    cmd
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn validate_config_accepts_a_good_profile_by_name() {
    let out = mockctl().args(["validate-config", "persistence"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("is valid: 22 endpoint(s)"));
}

#[test]
fn validate_config_refuses_a_broken_profile_with_file_and_path() {
    let out = mockctl().args(["validate-config", "tests/fixtures/broken"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("(11 problems)"), "{err}");
    assert!(err.contains("endpoints.json: endpoints[1].persistence.action (POST /users): unknown action \"craete\", expected one of create, read, update, delete, list"), "{err}");
}

#[test]
fn validate_config_speaks_json_for_scripts() {
    let out = mockctl().args(["validate-config", "tests/fixtures/broken", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["problems"].as_array().unwrap().len(), 11);
    assert_eq!(
        report["problems"][5],
        serde_json::json!({
            "file": "endpoints.json",
            "json_path": "endpoints[1].persistence.action",
            "found": "unknown action \"craete\"",
            "expected": "one of create, read, update, delete, list",
            "endpoint": "POST /users"
        })
    );
    let good = mockctl().args(["validate-config", "persistence", "--json"]).output().unwrap();
    assert!(good.status.success());
    let report: serde_json::Value = serde_json::from_slice(&good.stdout).unwrap();
    assert_eq!(
        (report["valid"].clone(), report["endpoints"].clone()),
        (serde_json::json!(true), serde_json::json!(22))
    );
}

#[test]
fn start_refuses_an_unknown_backend_in_the_environment() {
    let out = mockctl()
        .args(["start", "basic", "--foreground", "--port", &free_port().to_string()])
        .env("MOCKGATE_BACKEND", "embedded")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid settings") && err.contains("embedded"), "{err}");
}

#[test]
fn start_refuses_an_unknown_profile() {
    let out = mockctl().args(["start", "no-such-profile"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no profile \"no-such-profile\""));
}

/// `mockctl start persistence --foreground` on the file store in `data`, answering.
async fn foreground_persistence(data: &std::path::Path) -> (std::process::Child, String) {
    let port = free_port();
    let child = mockctl()
        .env("MOCKGATE_STATE_DIR", data.join("state"))
        .args(["start", "persistence", "--foreground", "--port", &port.to_string(), "--data-dir"])
        .arg(data)
        // The profile asks for Redis; keep this test off any Redis the machine runs.
        .env("MOCKGATE_BACKEND", "file")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ok =
            client.get(format!("{base}/system/health")).header("X-System-Key", "system-admin-key-123").send().await;
        if ok.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(Instant::now() < deadline, "server did not answer in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, base)
}

async fn create_cli_user(base: &str) {
    let created = reqwest::Client::new()
        .post(format!("{base}/api/v1/users"))
        .header("X-API-Key", "demo-api-key-123")
        .json(&serde_json::json!({"name": "Cli", "email": "cli@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
}

/// SIGTERM, then the exit status and everything the server wrote to stderr.
fn terminate(mut child: std::process::Child) -> (std::process::ExitStatus, String) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    let mut log = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut log).unwrap();
    (exit, log)
}

#[tokio::test]
async fn a_foreground_start_says_what_it_serves_and_logs_each_request() {
    let data = tempfile::tempdir().unwrap();
    let (child, base) = foreground_persistence(data.path()).await;
    create_cli_user(&base).await;
    let (_, log) = terminate(child);
    assert!(
        log.contains(&format!("serving profile persistence (22 endpoints) at {base} on the file backend")),
        "{log}"
    );
    assert!(log.contains("POST /api/v1/users 201 "), "one line per request: {log}");
}

#[tokio::test]
async fn sigterm_stops_cleanly_and_flushes_the_data_to_db_json() {
    let data = tempfile::tempdir().unwrap();
    let (child, base) = foreground_persistence(data.path()).await;
    create_cli_user(&base).await;
    let (exit, log) = terminate(child);
    assert!(exit.success(), "exit {exit:?}: {log}");
    let db = std::fs::read_to_string(data.path().join("db.json")).unwrap();
    assert!(db.contains("cli@example.com"), "flushed on shutdown");
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let start = |data: &std::path::Path| {
        mockctl()
            .args(["start", "tests/fixtures/gateway", "--foreground", "--port", &port.to_string(), "--data-dir"])
            .arg(data)
            .env("MOCKGATE_STATE_DIR", data.join("state"))
            .env("MOCKGATE_BACKEND", "file")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut child = start(data.path());
    wait_until_up(&client, &format!("{base}/v1/notes")).await;
    for i in 0..50 {
        let res = client
            .post(format!("{base}/v1/notes"))
            .json(&serde_json::json!({"id": format!("k{i}"), "n": i}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    let res =
        client.patch(format!("{base}/v1/notes/k7")).json(&serde_json::json!({"n": "patched"})).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // No graceful shutdown: SIGKILL right after the last acknowledgement.
    child.kill().unwrap();
    child.wait().unwrap();

    let mut child = start(data.path());
    wait_until_up(&client, &format!("{base}/v1/notes")).await;
    let list: serde_json::Value =
        client.get(format!("{base}/v1/notes?limit=1000")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["total"], 51, "50 created plus the seeded note");
    let k7: serde_json::Value = client.get(format!("{base}/v1/notes/k7")).send().await.unwrap().json().await.unwrap();
    assert_eq!(k7["n"], "patched");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// `db.json` is a compaction product; the journal is the truth. Killed while a
/// compaction is writing its temporary file (seen in the data folder), three times over,
/// a restart still has every acknowledged write.
#[tokio::test]
async fn a_kill_9_during_a_compaction_loses_no_acknowledged_write() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    // Enough data that writing db.json takes a while in a debug build.
    let notes: Vec<_> =
        (0..20_000).map(|i| serde_json::json!({"id": format!("s{i}"), "text": "x".repeat(120), "n": i})).collect();
    let seed = data.path().join("seed.json");
    std::fs::write(&seed, serde_json::json!({"entities": {"notes": notes}}).to_string()).unwrap();
    let start = |with_seed: bool| {
        let mut cmd = mockctl();
        cmd.args(["start", "tests/fixtures/gateway", "--foreground", "--port", &port.to_string(), "--data-dir"])
            .arg(data.path().join("db"))
            .env("MOCKGATE_STATE_DIR", data.path().join("state"))
            .env("MOCKGATE_BACKEND", "file")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if with_seed {
            cmd.arg("--seed").arg(&seed);
        }
        cmd.spawn().unwrap()
    };
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let compacting = || {
        std::fs::read_dir(data.path().join("db"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
    };
    let total = async || -> usize {
        let list: serde_json::Value =
            client.get(format!("{base}/v1/notes?limit=0")).send().await.unwrap().json().await.unwrap();
        list["total"].as_u64().unwrap() as usize
    };
    let mut acknowledged = Vec::new();
    let mut next = 0;
    let mut seeded = 0;
    for round in 0..3 {
        let mut child = start(round == 0);
        wait_until_up(&client, &format!("{base}/v1/notes/s1")).await;
        if round == 0 {
            seeded = total().await;
            assert!(seeded >= 20_000);
        }
        // Writes until a compaction is seen under way, then SIGKILL at once.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = false;
        while Instant::now() < deadline {
            let id = format!("k{next}");
            next += 1;
            let res = client.post(format!("{base}/v1/notes")).json(&serde_json::json!({"id": id})).send().await;
            if res.is_ok_and(|r| r.status() == 201) {
                acknowledged.push(id);
            }
            if compacting() {
                seen = true;
                break;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(seen, "round {round}: no compaction was seen under way within 60 s");
        // A restart replays the journal and compacts again after its first write.
    }
    let mut child = start(false);
    wait_until_up(&client, &format!("{base}/v1/notes/s1")).await;
    // Each kill came after a response, so nothing was in flight: exactly these.
    assert_eq!(total().await, seeded + acknowledged.len(), "the seed and every acknowledged create");
    for id in acknowledged.iter().step_by(7).chain(acknowledged.last()) {
        let res = client.get(format!("{base}/v1/notes/{id}")).send().await.unwrap();
        assert_eq!(res.status(), 200, "acknowledged {id} is there");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

async fn wait_until_up(client: &reqwest::Client, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !client.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
        assert!(Instant::now() < deadline, "{url} did not answer in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn background_start_list_status_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    // As a user runs it: from a working folder, with the default relative state folder.
    let run = |args: &[&str]| {
        mockctl()
            .current_dir(dir.path())
            .env_remove("MOCKGATE_STATE_DIR")
            .env("MOCKGATE_BACKEND", "file")
            .args(args)
            .output()
            .unwrap()
    };
    let data = dir.path().join("data");
    let profile = repo_path("tests/fixtures/gateway");
    let out = run(&["start", profile.to_str().unwrap(), "--port", &port, "--data-dir", data.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("at http://127.0.0.1:{port}")), "{stdout}");
    assert!(stdout.contains("file backend, log "), "{stdout}");

    let listed: serde_json::Value = serde_json::from_slice(&run(&["list", "--json"]).stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(
        (listed[0]["port"].to_string(), listed[0]["status"].clone()),
        (port.clone(), serde_json::json!("running"))
    );
    let pid = listed[0]["pid"].as_u64().unwrap() as u32;
    let status = run(&["status"]);
    assert!(status.status.success());

    // Request ids are echoed, and every request is a structured, searchable log line.
    let head = raw_get(&port, "/v1/things/special", Some("req-abc-123"));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.to_lowercase().contains("x-request-id: req-abc-123"), "{head}");
    let head = raw_get(&port, "/v1/nothing", None);
    assert!(head.starts_with("HTTP/1.1 404") && head.to_lowercase().contains("x-request-id: "), "{head}");
    let text = eventually(|| {
        let found = run(&["search", "req-abc-123", "--since", "10m ago"]);
        found.status.success().then(|| String::from_utf8_lossy(&found.stdout).into_owned())
    });
    assert!(text.contains("GET /v1/things/special 200") && text.contains("[req-abc-123]"), "{text}");
    let errors = eventually(|| {
        let out = run(&["search", "GET", "--status", "4xx", "--json", "--profile", "gateway"]);
        String::from_utf8_lossy(&out.stdout).lines().next().map(str::to_owned)
    });
    let line: serde_json::Value = serde_json::from_str(&errors).unwrap();
    assert_eq!(
        (line["status"].clone(), line["path"].clone()),
        (serde_json::json!(404), serde_json::json!("/v1/nothing"))
    );
    assert_eq!(run(&["search", "GET", "--status", "5xx"]).status.code(), Some(1), "nothing failed");
    let logs = run(&["logs", "gateway", "-n", "3"]);
    let shown = String::from_utf8_lossy(&logs.stdout).into_owned();
    assert!(shown.contains("GET /v1/nothing 404"), "{shown}");
    assert_eq!(shown.lines().count(), 3, "each line once, though the record names the file too: {shown}");
    assert!(String::from_utf8_lossy(&status.stdout).contains(": ready"), "status checks readiness (issue 11)");

    let stopped = run(&["stop", "--port", &port]);
    assert!(stopped.status.success(), "{}", String::from_utf8_lossy(&stopped.stderr));
    assert!(String::from_utf8_lossy(&stopped.stdout).contains(&format!("stopped gateway on port {port}")));
    assert!(!mockgate::cli::state::alive(pid), "the server process is gone");
    let listed: serde_json::Value = serde_json::from_slice(&run(&["list", "--json"]).stdout).unwrap();
    assert_eq!(listed, serde_json::json!([]));
    assert!(data.join("db.json").exists(), "a graceful stop flushed the store");
}

#[test]
fn background_start_reports_why_the_server_failed() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = mockctl()
        .env("MOCKGATE_STATE_DIR", dir.path().join("state"))
        .args(["start", "tests/fixtures/gateway", "--no-persistence", "--port", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on 127.0.0.1:{port}")), "{err}");
}

/// The command line the Docker image runs (its `CMD`), with the environment
/// docker-compose gives it, against a real Redis.
#[tokio::test]
async fn the_container_command_line_serves_the_persistence_profile_on_redis() {
    if !crate::common::redis::available() {
        return;
    }
    let dockerfile = std::fs::read_to_string(repo_path("Dockerfile")).unwrap();
    let cmd_line = dockerfile.lines().find_map(|l| l.strip_prefix("CMD ")).expect("the Dockerfile has a CMD");
    let argv: Vec<String> = serde_json::from_str(cmd_line).expect("CMD is in JSON form");
    assert_eq!(argv[0], "mockctl");
    let compose = std::fs::read_to_string(repo_path("docker-compose.yml")).unwrap();
    assert!(
        compose.contains("REDIS_HOST: redis") && compose.contains("\"8000:8000\""),
        "compose wires Redis and port 8000"
    );

    let redis = crate::common::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = mockctl()
        .args(&argv[1..])
        .env("REDIS_HOST", "127.0.0.1")
        .env("REDIS_PORT", redis.port.to_string())
        // The image listens on 8000; a test takes a free port instead.
        .env("MOCKGATE_PORT", port.to_string())
        .env("MOCKGATE_STATE_DIR", dir.path().join("state"))
        .env_remove("MOCKGATE_BACKEND")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let health: serde_json::Value = loop {
        let res =
            client.get(format!("{base}/system/health")).header("X-System-Key", "system-admin-key-123").send().await;
        if let Ok(r) = res
            && r.status().is_success()
        {
            break r.json().await.unwrap();
        }
        assert!(Instant::now() < deadline, "the container command did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(health["backend"], "redis");
    assert_eq!(health["redis"]["address"], format!("redis://127.0.0.1:{}/0", redis.port));
    let status = mockctl().arg("status").env("MOCKGATE_STATE_DIR", dir.path().join("state")).output().unwrap();
    assert!(status.status.success(), "the image's HEALTHCHECK command passes");
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(child.wait().unwrap().success());
}

/// A GET over a plain socket; returns the response head.
fn raw_get(port: &str, path: &str, request_id: Option<&str>) -> String {
    let id = request_id.map(|id| format!("X-Request-Id: {id}\r\n")).unwrap_or_default();
    raw(port, &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{id}Connection: close\r\n\r\n"))
}

/// A request with a JSON body (or none); the response head.
fn raw_request(port: &str, method: &str, path: &str, body: Option<&str>) -> String {
    let body = body.unwrap_or("");
    let n = body.len();
    raw(
        port,
        &format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n{body}"
        ),
    )
}

fn raw(port: &str, request: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split("\r\n\r\n").next().unwrap_or("").to_owned()
}

/// Runs `check` on `mockctl` output until it passes (log lines are written by a
/// background thread, a moment after the response).
fn eventually(mut attempt: impl FnMut() -> Option<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(found) = attempt() {
            return found;
        }
        assert!(Instant::now() < deadline, "never happened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A background server of a small notes profile (bodies logged to its own file, store
/// operations logged, profile watched), stopped when dropped.
struct NotesServer {
    dir: tempfile::TempDir,
    profile: std::path::PathBuf,
    port: String,
}

impl NotesServer {
    fn start() -> NotesServer {
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("notes-api");
        std::fs::create_dir(&profile).unwrap();
        for f in ["auth.json", "endpoints.json"] {
            std::fs::copy(repo_path("tests/fixtures/gateway").join(f), profile.join(f)).unwrap();
        }
        let custom_log = dir.path().join("custom/notes.log");
        let api = serde_json::json!({
            "name": "Notes", "root_path": "/v1", "persistence": "memory",
            "logging": {"level": "info", "file": custom_log, "bodies": true, "max_body_bytes": 60}
        });
        std::fs::write(profile.join("api.json"), api.to_string()).unwrap();
        let server = NotesServer { dir, profile, port: free_port().to_string() };
        let out = server.run(&[
            "start",
            server.profile.to_str().unwrap(),
            "--port",
            &server.port,
            "--watch",
            "--debug-persistence",
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains(&format!("log {}", custom_log.display())), "the profile's log file is used: {stdout}");
        server
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        mockctl().env("MOCKGATE_STATE_DIR", self.dir.path().join("state")).args(args).output().unwrap()
    }

    /// The first line `mockctl search` finds, once the log has it.
    fn search(&self, args: &[&str]) -> String {
        eventually(|| {
            let out = self.run(args);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            (out.status.success() && !text.trim().is_empty()).then_some(text)
        })
    }

    fn edit_endpoints(&self, edit: impl FnOnce(&mut serde_json::Value)) {
        let path = self.profile.join("endpoints.json");
        let mut endpoints: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        edit(&mut endpoints);
        std::fs::write(path, endpoints.to_string()).unwrap();
    }
}

impl Drop for NotesServer {
    fn drop(&mut self) {
        let stopped = self.run(&["stop", "--all"]);
        if !std::thread::panicking() {
            assert!(stopped.status.success(), "{}", String::from_utf8_lossy(&stopped.stderr));
        }
    }
}

#[test]
fn bodies_are_logged_with_secrets_masked_and_long_values_cut() {
    let notes = NotesServer::start();
    let body = r#"{"id":"n9","password":"hunter2","text":"a fairly long note that will not fit in the log"}"#;
    let head = raw_request(&notes.port, "POST", "/v1/notes", Some(body));
    assert!(head.starts_with("HTTP/1.1 201"), "{head}");
    let found = notes.search(&["search", "notes-api", "POST /v1/notes", "--json"]);
    let line: serde_json::Value = serde_json::from_str(found.lines().next().unwrap()).unwrap();
    assert_eq!(line["action"], "create notes", "{line}");
    assert_eq!(line["route"], "/v1/notes");
    assert!(line["persistence_ms"].as_f64().is_some(), "{line}");
    let logged = line["request_body"].as_str().unwrap();
    assert!(logged.contains(r#""password":"***""#) && !logged.contains("hunter2"), "{logged}");
    assert!(logged.ends_with('…') && logged.len() <= 60 + '…'.len_utf8(), "{logged}");
    assert!(line["response_body"].as_str().is_some_and(|b| b.contains("n9")), "{line}");
}

#[test]
fn debug_persistence_logs_each_store_operation_with_its_request_id() {
    let notes = NotesServer::start();
    let body = r#"{"id":"n9","text":"traced"}"#;
    let request = format!(
        "POST /v1/notes HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: trace-me-42\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    assert!(raw(&notes.port, &request).starts_with("HTTP/1.1 201"));
    let store = notes.search(&["search", "store commit", "--profile", "notes-api"]);
    assert!(store.contains("store commit put notes/n9 (absent) ok"), "{store}");
    assert!(store.contains("[trace-me-42]"), "the store line names its request: {store}");
    let json = notes.search(&["search", "store commit", "--profile", "notes-api", "--json"]);
    let line: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(line["span"]["request_id"], "trace-me-42", "{line}");
    let access = notes.search(&["search", "trace-me-42", "--profile", "notes-api", "--status", "201"]);
    assert!(access.contains("POST /v1/notes 201"), "the access line has the same id: {access}");
}

#[test]
fn watch_serves_an_edit_without_a_restart() {
    let notes = NotesServer::start();
    assert!(raw_request(&notes.port, "GET", "/v1/ping", None).starts_with("HTTP/1.1 404"));
    notes.edit_endpoints(|e| {
        e["endpoints"].as_array_mut().unwrap().push(serde_json::json!(
            {"method": "GET", "path": "/ping", "responses": [{"response": {"status_code": 200, "body": {"pong": true}}}]}
        ))
    });
    eventually(|| raw_request(&notes.port, "GET", "/v1/ping", None).starts_with("HTTP/1.1 200").then(String::new));
}

#[test]
fn watch_refuses_a_broken_edit_and_keeps_serving_the_old_profile() {
    let notes = NotesServer::start();
    std::fs::write(notes.profile.join("endpoints.json"), r#"{"endpoints": [{"method": "GET"}]}"#).unwrap();
    let refused = notes.search(&["search", "reload failed", "--profile", "notes-api"]);
    assert!(refused.contains("endpoints.json: endpoints[0]"), "says why: {refused}");
    assert!(
        raw_request(&notes.port, "POST", "/v1/notes", Some(r#"{"id":"n1"}"#)).starts_with("HTTP/1.1 201"),
        "the old profile still serves"
    );
}

#[tokio::test]
async fn snapshots_of_a_running_server_are_saved_listed_restored_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let run = |args: &[&str]| {
        mockctl()
            .env("MOCKGATE_STATE_DIR", dir.path().join("state"))
            .env("MOCKGATE_BACKEND", "file")
            .env_remove("MOCKGATE_SYSTEM_KEY")
            .args(args)
            .output()
            .unwrap()
    };
    let text = |out: &std::process::Output| {
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    };
    let data = dir.path().join("data");
    let out = run(&["start", "persistence", "--port", &port, "--data-dir", data.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).expect("start --json prints the record");
    assert_eq!((record["port"].to_string(), record["profile"].as_str()), (port.clone(), Some("persistence")));
    assert!(mockgate::cli::state::alive(record["pid"].as_u64().unwrap() as u32));

    // The system key comes from the running server's profile.
    let saved = run(&["snapshot", "create", "seeded", "--description", "as shipped"]);
    assert!(saved.status.success(), "{}", text(&saved));
    assert!(text(&saved).contains(r#"saved snapshot "seeded": products 1, users 2"#), "{}", text(&saved));

    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let created = client
        .post(format!("{base}/users"))
        .header("X-API-Key", "demo-api-key-123")
        .json(&serde_json::json!({"name": "Temp", "email": "temp@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let listed: serde_json::Value = serde_json::from_slice(&run(&["snapshot", "list", "--json"]).stdout).unwrap();
    assert_eq!(listed["snapshots"][0]["name"], "seeded");
    assert_eq!(listed["snapshots"][0]["description"], "as shipped");
    assert_eq!(listed["snapshots"][0]["counts"], serde_json::json!({"products": 1, "users": 2}));

    let restored = run(&["snapshot", "restore", "seeded", "--port", &port]);
    assert!(text(&restored).contains(r#"restored snapshot "seeded": products 1, users 2"#), "{}", text(&restored));
    let users: serde_json::Value = client
        .get(format!("{base}/users"))
        .header("X-API-Key", "demo-api-key-123")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users["total"], 2, "the user created after the snapshot is gone");

    let missing = run(&["snapshot", "restore", "nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing).contains("answered 404"), "{}", text(&missing));
    let wrong_key = run(&["snapshot", "list", "--key", "wrong"]);
    assert!(text(&wrong_key).contains("answered 403"), "{}", text(&wrong_key));

    assert!(run(&["snapshot", "delete", "seeded"]).status.success());
    assert!(text(&run(&["snapshot", "list"])).contains("no snapshots"));
    assert!(run(&["stop", "--all"]).status.success());
    assert!(text(&run(&["snapshot", "list"])).contains("no running server"), "nothing to talk to");
}

#[test]
fn no_log_a_run_writes_shows_a_secret_it_used() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("shop-logged");
    std::fs::create_dir(&profile).unwrap();
    for f in ["auth.json", "endpoints.json"] {
        std::fs::copy(repo_path("configs/shop").join(f), profile.join(f)).unwrap();
    }
    let mut api: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo_path("configs/shop/api.json")).unwrap()).unwrap();
    api["persistence"] = "memory".into();
    api["logging"] = serde_json::json!({"bodies": true, "max_body_bytes": 4096});
    std::fs::write(profile.join("api.json"), api.to_string()).unwrap();
    let port = free_port().to_string();
    let run =
        |args: &[&str]| mockctl().env("MOCKGATE_STATE_DIR", dir.path().join("state")).args(args).output().unwrap();
    let out = run(&["start", profile.to_str().unwrap(), "--port", &port, "--debug-persistence"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let send = |method: &str, path: &str, headers: &str, body: &str| {
        raw(
            &port,
            &format!(
                "{method} /shop/v1{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    let mut s = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    let login = r#"{"email":"alice@example.com","password":"wonderland"}"#;
    use std::io::{Read, Write};
    write!(s, "POST /shop/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{login}", login.len()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let body: serde_json::Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let token = body["token"].as_str().expect("a session token").to_owned();
    assert!(send("GET", "/me", &format!("Authorization: Bearer {token}\r\n"), "").starts_with("HTTP/1.1 200"));
    let product = r#"{"sku":"s-1","name":"Cap","price":3,"meta":{"supplier":{"api_key":"nested-9f3k"}},"note":"bought with shop-admin-key"}"#;
    assert!(send("POST", "/products", "X-Admin-Key: shop-admin-key\r\n", product).starts_with("HTTP/1.1 201"));
    let stopped = run(&["stop", "--all"]);
    assert!(stopped.status.success());

    let mut logs = String::new();
    for entry in walk(dir.path()) {
        if entry.extension().is_some_and(|e| e == "log") || entry.to_string_lossy().contains(".log.") {
            logs.push_str(&std::fs::read_to_string(&entry).unwrap_or_default());
        }
    }
    assert!(logs.contains("store commit put sessions/***"), "store operations were logged: {logs}");
    assert!(logs.contains("POST /shop/v1/products 201"), "{logs}");
    for secret in ["wonderland", token.as_str(), "shop-admin-key", "nested-9f3k", "shop-system-key"] {
        assert!(!logs.contains(secret), "{secret:?} is in the logs:\n{logs}");
    }
}

/// Every file below `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

#[test]
fn a_redis_password_from_the_environment_never_shows_in_the_process_list() {
    if !crate::common::redis::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let redis_port = free_port();
    let mut redis = crate::common::redis::command(redis_port, dir.path())
        .args(["--requirepass", "s3cret-pw"])
        .spawn()
        .expect("redis-server starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", redis_port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    let port = free_port().to_string();
    let run = |args: &[&str]| {
        mockctl()
            .env("MOCKGATE_STATE_DIR", dir.path().join("state"))
            .env("REDIS_PASSWORD", "s3cret-pw")
            .args(args)
            .output()
            .unwrap()
    };
    let url = format!("redis://127.0.0.1:{redis_port}/0");
    let out = run(&["start", "persistence", "--port", &port, "--redis-url", &url, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["backend"], "redis", "{record}");
    let pid = record["pid"].as_u64().unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    assert!(!cmdline.contains("s3cret-pw") && !cmdline.contains(&url), "the server's command line: {cmdline}");
    let health = raw_get(&port, "/system/health", None);
    assert!(health.starts_with("HTTP/1.1 401") || health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(run(&["stop", "--all"]).status.success());
    let _ = redis.kill();
    let _ = redis.wait();
}

#[tokio::test]
async fn a_torn_journal_line_survives_restarts_and_crashes_in_any_order() {
    let data = tempfile::tempdir().unwrap();
    let line = r#"{"seq":1,"ops":[{"put":{"e":"notes","id":"a","v":{"id":"a","text":"first"},"x":null}}]}"#;
    std::fs::write(data.path().join("journal-000001.jsonl"), format!("{line}\n{{\"seq\":2,\"ops\":[{{\"put\":"))
        .unwrap();
    let note = |base: String| async move {
        let res = reqwest::Client::new()
            .get(format!("{base}/system/data/notes/a"))
            .header("X-System-Key", "system-admin-key-123")
            .send()
            .await
            .unwrap();
        res.json::<serde_json::Value>().await.unwrap()["text"].clone()
    };
    // Crash right after the recovery, then again, then stop cleanly, then start once more.
    for round in 0..2 {
        let (mut child, base) = foreground_persistence(data.path()).await;
        assert_eq!(note(base).await, "first", "start {round}");
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let (child, base) = foreground_persistence(data.path()).await;
    assert_eq!(note(base).await, "first");
    let (exit, log) = terminate(child);
    assert!(exit.success(), "{log}");
    let (child, base) = foreground_persistence(data.path()).await;
    assert_eq!(note(base).await, "first");
    terminate(child);
}

#[test]
fn status_fails_when_no_server_runs_and_stop_all_with_none_is_fine() {
    let dir = tempfile::tempdir().unwrap();
    let run =
        |args: &[&str]| mockctl().env("MOCKGATE_STATE_DIR", dir.path().join("state")).args(args).output().unwrap();
    let status = run(&["status"]);
    assert_eq!(status.status.code(), Some(1), "nothing to be healthy about");
    assert!(String::from_utf8_lossy(&status.stderr).contains("no servers running"));
    let quiet = run(&["status", "--quiet"]);
    assert_eq!((quiet.status.code(), quiet.stdout.is_empty(), quiet.stderr.is_empty()), (Some(1), true, true));
    let stop = run(&["stop", "--all"]);
    assert!(stop.status.success(), "{}", String::from_utf8_lossy(&stop.stderr));
    assert!(String::from_utf8_lossy(&stop.stdout).contains("nothing to stop"));
}

#[test]
fn status_checks_readiness_and_probes_stay_out_of_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let run =
        |args: &[&str]| mockctl().env("MOCKGATE_STATE_DIR", dir.path().join("state")).args(args).output().unwrap();
    let out = run(&["start", "basic", "--port", &port, "--no-persistence"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let status = run(&["status"]);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    assert!(String::from_utf8_lossy(&status.stdout).contains(&format!("basic on port {port}")), "ready");
    assert!(raw_get(&port, "/nowhere", None).starts_with("HTTP/1.1 404"));
    let logged = eventually(|| {
        let out = run(&["search", "GET /nowhere", "--profile", "basic"]);
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    });
    assert!(logged.contains("404"), "{logged}");
    let probes = run(&["search", "readyz", "--profile", "basic"]);
    assert!(String::from_utf8_lossy(&probes.stdout).trim().is_empty(), "probes are not logged by default");
    assert!(run(&["stop", "--all"]).status.success());
}

#[test]
fn a_start_on_a_port_one_of_ours_holds_names_it_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let run =
        |args: &[&str]| mockctl().env("MOCKGATE_STATE_DIR", dir.path().join("state")).args(args).output().unwrap();
    let first = run(&["start", "basic", "--port", &port, "--no-persistence"]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let data = dir.path().join("second-data");
    let second = run(&["start", "persistence", "--port", &port, "--data-dir", data.to_str().unwrap()]);
    assert_eq!(second.status.code(), Some(1));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains(&format!("port {port} is taken by mockgate serving profile basic")), "{err}");
    assert!(err.contains("--port 0"), "suggests a way out: {err}");
    assert!(!err.contains("{\""), "no raw JSON log lines: {err}");
    assert!(!data.exists(), "nothing was created or seeded before the port was known to be free");
    assert!(run(&["stop", "--all"]).status.success());
}

#[test]
fn a_background_start_shows_the_docs_the_storage_note_and_how_to_stop_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        mockctl()
            .env("MOCKGATE_STATE_DIR", dir.path().join("state"))
            .env_remove("CARGO")
            // No Redis is configured and none answers: the profile falls back to the file store.
            .env_remove("REDIS_URL")
            .env_remove("REDIS_HOST")
            .args(args)
            .output()
            .unwrap()
    };
    if std::net::TcpStream::connect("127.0.0.1:6379").is_ok() {
        eprintln!("SKIPPED: something listens on 127.0.0.1:6379");
        return;
    }
    let out = run(&["start", "persistence", "--port", &port, "--data-dir", data.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("note: no Redis configured and none answering"), "{stdout}");
    assert!(stdout.contains(&format!("API docs: http://127.0.0.1:{port}/docs/")), "{stdout}");
    let exe = env!("CARGO_BIN_EXE_mockctl");
    assert!(stdout.contains(&format!("stop it with: {exe} stop --port {port}")), "the command as it was run: {stdout}");
    assert!(run(&["stop", "--all"]).status.success());
}

#[test]
fn the_shipped_profiles_travel_with_the_binary() {
    let elsewhere = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        mockctl()
            .current_dir(elsewhere.path())
            .env("MOCKGATE_STATE_DIR", elsewhere.path().join("state"))
            .args(args)
            .output()
            .unwrap()
    };
    let checked = run(&["validate-config", "shop"]);
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));
    assert!(elsewhere.path().join("state/profiles/shop/endpoints.json").is_file());
    let listed = String::from_utf8_lossy(&run(&["profiles"]).stdout).into_owned();
    for name in ["basic", "persistence", "shop"] {
        assert!(listed.lines().any(|l| l.starts_with(name) && l.ends_with("built in")), "{listed}");
    }
    let wrong = run(&["start", "persistance"]);
    assert_eq!(wrong.status.code(), Some(1));
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.contains("did you mean \"persistence\"?") && err.contains("basic, persistence, shop"), "{err}");
    // A local folder of the same name wins.
    std::fs::create_dir_all(elsewhere.path().join("configs/basic")).unwrap();
    std::fs::write(elsewhere.path().join("configs/basic/api.json"), r#"{"name": "Mine"}"#).unwrap();
    std::fs::write(
        elsewhere.path().join("configs/basic/endpoints.json"),
        r#"{"endpoints": [{"method": "GET", "path": "/mine", "responses": [{"response": {"status_code": 200}}]}]}"#,
    )
    .unwrap();
    let local = String::from_utf8_lossy(&run(&["profiles"]).stdout).into_owned();
    assert!(local.lines().any(|l| l.starts_with("basic") && l.ends_with("./configs")), "{local}");
    let mine = run(&["validate-config", "basic"]);
    assert!(String::from_utf8_lossy(&mine.stdout).contains("1 endpoint"), "{}", String::from_utf8_lossy(&mine.stdout));
}

#[test]
fn shell_completions_and_help_with_examples() {
    for shell in ["bash", "zsh", "fish"] {
        let out = mockctl().args(["completions", shell]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains("mockctl") && text.contains("validate-config"), "{shell}");
    }
    let help = mockctl().args(["start", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("Examples:") && help.contains("--port 0"), "{help}");
    assert!(help.contains("[env: MOCKGATE_PORT]") && help.contains("[env: MOCKGATE_HOST]"), "{help}");
}

#[test]
fn servers_are_recorded_per_user_so_any_folder_sees_them() {
    let home = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let run = |args: &[&str], cwd: &std::path::Path| {
        mockctl()
            .current_dir(cwd)
            .env_remove("MOCKGATE_STATE_DIR")
            .env("XDG_STATE_HOME", home.path().join("state"))
            .args(args)
            .output()
            .unwrap()
    };
    let here = tempfile::tempdir().unwrap();
    let out = run(&["start", "basic", "--port", &port, "--no-persistence"], here.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(home.path().join("state/mockgate/servers").is_dir(), "the per-user state folder");
    let there = tempfile::tempdir().unwrap();
    let listed = String::from_utf8_lossy(&run(&["list"], there.path()).stdout).into_owned();
    assert!(listed.contains(&port) && listed.contains("basic"), "seen from another folder: {listed}");
    assert!(run(&["stop", "--port", &port], there.path()).status.success());
}

#[test]
fn init_scaffolds_a_profile_that_serves_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("team-api");
    let run =
        |args: &[&str]| mockctl().env("MOCKGATE_STATE_DIR", dir.path().join("state")).args(args).output().unwrap();
    let out = run(&["init", profile.to_str().unwrap(), "--resource", "users:name,email"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    let key = said.split("X-API-Key: ").nth(1).and_then(|r| r.split('\'').next()).expect("the key is shown").to_owned();
    for f in ["api.json", "auth.json", "endpoints.json", "README.md"] {
        assert!(profile.join(f).is_file(), "{f}");
    }
    assert!(!run(&["init", profile.to_str().unwrap()]).status.success(), "never over an existing profile");

    let port = free_port().to_string();
    let started = run(&["start", profile.to_str().unwrap(), "--port", &port, "--no-persistence"]);
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
    let post = |body: &str, key: &str| {
        raw(
            &port,
            &format!(
                "POST /api/users HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    assert!(post(r#"{"name":"Ada","email":"ada@example.com"}"#, &key).starts_with("HTTP/1.1 201"));
    assert!(post(r#"{"name":"No email"}"#, &key).starts_with("HTTP/1.1 400"), "fields are required");
    assert!(post(r#"{"name":"Ada","email":"a@b.c"}"#, "wrong").starts_with("HTTP/1.1 401"), "writes need the key");
    assert!(raw_get(&port, "/api/users?limit=1", None).starts_with("HTTP/1.1 200"));
    assert!(raw_get(&port, "/api/users/1", None).starts_with("HTTP/1.1 200"), "the seed record");
    assert!(run(&["stop", "--all"]).status.success());
}

#[test]
fn logs_tell_instances_and_servers_apart() {
    let dir = tempfile::tempdir().unwrap();
    let run =
        |args: &[&str]| mockctl().env("MOCKGATE_STATE_DIR", dir.path().join("state")).args(args).output().unwrap();
    let ports: Vec<String> = (0..2).map(|_| free_port().to_string()).collect();
    for port in &ports {
        let out = run(&["start", "tests/fixtures/gateway", "--port", port, "--no-persistence"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(raw_get(port, "/v1/notes/n1", None).starts_with("HTTP/1.1 200"));
    }
    let other = free_port().to_string();
    assert!(run(&["start", "basic", "--port", &other, "--no-persistence"]).status.success());
    let shown = eventually(|| {
        let text = String::from_utf8_lossy(&run(&["logs", "gateway"]).stdout).into_owned();
        ports.iter().all(|p| text.contains(&format!("(port {p})"))).then_some(text)
    });
    assert!(shown.lines().filter(|l| l.contains("GET /v1/notes/n1 200")).count() >= 2, "{shown}");
    let all = String::from_utf8_lossy(&run(&["logs"]).stdout).into_owned();
    assert!(all.contains("==> ") && all.contains("gateway.log <==") && all.contains("basic.log <=="), "{all}");
    assert!(run(&["stop", "--all"]).status.success());
}
