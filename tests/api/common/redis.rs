//! A real `redis-server` per test: free loopback port, no persistence, killed and
//! reaped on drop. Missing binary: tests skip loudly, or fail with
//! `MOCKGATE_REQUIRE_REDIS=1` (CI).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

fn binary() -> String {
    std::env::var("MOCKGATE_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into())
}

/// A loopback `redis-server` on `port` with no persistence, its files in `dir`.
pub fn command(port: u16, dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(binary());
    cmd.args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
    ])
    .arg("--dir")
    .arg(dir)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    cmd
}

/// Whether Redis tests can run here; panics when CI requires them and they cannot.
pub fn available() -> bool {
    let found = Command::new(binary())
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        if std::env::var("MOCKGATE_REQUIRE_REDIS").is_ok_and(|v| v == "1") {
            panic!("redis-server is required (MOCKGATE_REQUIRE_REDIS=1) but `{}` cannot run", binary());
        }
        skipped();
    }
    found
}

/// Says, past libtest's output capture, that this test did nothing, with a running
/// count, so a local run without `redis-server` cannot look fully green by accident.
fn skipped() {
    use std::io::Write as _;
    static SKIPPED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SKIPPED.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    // Written to the stream itself: libtest captures only the print macros.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: redis-server not found ({n} Redis test{} skipped so far; install it to run them)",
        if n == 1 { "" } else { "s" }
    );
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Self::start_on(port)
    }

    /// Starts on a given port (restart tests reuse the port).
    pub fn start_on(port: u16) -> RedisServer {
        let dir = tempfile::tempdir().unwrap();
        let child = command(port, dir.path()).spawn().expect("redis-server starts");
        let server = RedisServer { child, port, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !server.answers() {
            assert!(Instant::now() < deadline, "redis-server on port {port} did not answer PING");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
