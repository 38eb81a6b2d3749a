//! What a client may hold, tried with raw sockets: a body must arrive in time, idle
//! connections are closed, and beyond the connection cap a connection is refused
//! with 503 at once.

use crate::common::{Backend, TestApp, spawn_app};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The gateway fixture with tight limits, in a folder of its own.
async fn limited() -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    for f in ["auth.json", "endpoints.json"] {
        std::fs::copy(crate::common::repo_path("tests/fixtures/gateway").join(f), dir.path().join(f)).unwrap();
    }
    let api = serde_json::json!({
        "name": "Limited", "root_path": "/v1", "persistence": "memory",
        "server": {"body_timeout_seconds": 0.5, "keep_alive_seconds": 1, "max_connections": 3},
        "data": {"notes": [{"id": "n1", "text": "seeded"}]}
    });
    std::fs::write(dir.path().join("api.json"), api.to_string()).unwrap();
    (spawn_app(dir.path().to_str().unwrap(), Backend::Memory).await, dir)
}

fn connect(app: &TestApp) -> TcpStream {
    let s = TcpStream::connect(app.address.trim_start_matches("http://")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Everything the server sends until it closes the connection.
fn read_to_close(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_in_time_is_408_and_the_connection_closed() {
    let (app, _dir) = limited().await;
    let mut s = connect(&app);
    let started = Instant::now();
    s.write_all(
        b"POST /v1/notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\":",
    )
    .unwrap();
    let answer = tokio::task::spawn_blocking(move || read_to_close(&mut s)).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(450) && took < Duration::from_secs(5), "closed after {took:?}");
    assert_eq!(app.get("/v1/notes/n1").await.0, reqwest::StatusCode::OK, "others are served meanwhile");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let (app, _dir) = limited().await;
    let mut s = connect(&app);
    s.write_all(b"GET /v1/notes/n1 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let started = Instant::now();
    let answer = tokio::task::spawn_blocking(move || read_to_close(&mut s)).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(5), "closed after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_connection_cap_a_connection_is_refused_with_503() {
    let (app, _dir) = limited().await;
    let ask = |s: &mut TcpStream| {
        s.write_all(b"GET /v1/notes/n1 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let mut held: Vec<TcpStream> = (0..3).map(|_| connect(&app)).collect();
    for s in &mut held {
        assert!(ask(s).starts_with("HTTP/1.1 200"));
    }
    let mut extra = connect(&app);
    extra.write_all(b"GET /v1/notes/n1 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let refused = tokio::task::spawn_blocking(move || read_to_close(&mut extra)).await.unwrap();
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("too_many_connections"), "{refused}");
    // A place frees up when a connection closes.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut again = connect(&app);
        if ask(&mut again).starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "no place freed up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
