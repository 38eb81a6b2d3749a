//! Logging: human-readable lines on a terminal, JSON lines in log files (which
//! `mockctl logs` and `mockctl search` read), rotated by size; and request and
//! response bodies made fit for the access log (`logging.bodies`).
//!
//! The filter comes from `MOCKGATE_LOG` (or `RUST_LOG`), else the profile's
//! `logging.level`, else `info`; `--debug-persistence` adds `mockgate::store=debug`.
//! Background servers (`MOCKGATE_LOG_FILE`, set by `mockctl start`) write only JSON to
//! that file; foreground servers write text to stderr and, when the profile names a
//! `logging.file`, JSON lines there as well. File writes happen on a background thread
//! (`tracing_appender::non_blocking`, lossless), so requests do not wait on the disk.
//! Lines logged while a request is handled (store operations under
//! `--debug-persistence`) carry its `request` span, and with it the request id: in
//! JSON as `"span": {"request_id": ...}`, in text as a `request{request_id=...}` prefix.

use crate::config::{ConfigError, LoggingDef};
use serde_json::Value;
use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// `logging` in `api.json`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Logging {
    /// The default filter (`MOCKGATE_LOG` or `RUST_LOG` win over it).
    pub level: String,
    pub file: Option<PathBuf>,
    pub max_bytes: u64,
    pub max_files: usize,
    /// Log bodies, cut to this many bytes.
    pub body_bytes: Option<usize>,
    /// `DELETE /system/logging/logs` may empty the log file.
    pub allow_deletion: bool,
}

impl Default for Logging {
    fn default() -> Self {
        Logging {
            level: "info".into(),
            file: None,
            max_bytes: 10 * 1024 * 1024,
            max_files: 5,
            body_bytes: None,
            allow_deletion: true,
        }
    }
}

impl Logging {
    /// `logging` in `api.json`; problems are reported against that file.
    pub fn parse(def: Option<&LoggingDef>, problems: &mut Vec<ConfigError>) -> Logging {
        let mut out = Logging::default();
        let Some(def) = def else { return out };
        if let Some(level) = def.level.as_deref().map(python_level) {
            let level = &level;
            // Every directive must end in a level: a bare word would be read as a target.
            const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
            let levels_ok = level.split(',').map(str::trim).filter(|d| !d.is_empty()).all(|d| {
                let lvl = d.rsplit_once('=').map_or(d, |(_, l)| l);
                LEVELS.contains(&lvl.to_ascii_lowercase().as_str())
            });
            match tracing_subscriber::EnvFilter::builder().parse(level) {
                Ok(_) if levels_ok => out.level = level.clone(),
                _ => problems.push(problem(
                    "logging.level",
                    format!("{level:?} is not a log filter"),
                    "a level (error, warn, info, debug, trace) or directives such as \"info,mockgate::store=debug\"",
                )),
            }
        }
        out.file = def.file.as_ref().filter(|f| !f.is_empty()).map(PathBuf::from);
        match def.max_size_mb {
            Some(0) => problems.push(problem("logging.max_size_mb", "found 0".into(), "at least 1")),
            Some(mb) => out.max_bytes = mb.saturating_mul(1024 * 1024),
            None => {}
        }
        if let Some(n) = def.max_files {
            out.max_files = n;
        }
        if def.bodies == Some(true) {
            out.body_bytes = Some(def.max_body_bytes.unwrap_or(1024));
        }
        out.allow_deletion = def.allow_log_deletion != Some(false);
        out
    }
}

/// Python's level names, which Mock-and-Roll profiles use, as filter levels:
/// `WARNING` → `warn`, `CRITICAL` → `error`; anything else as it is.
pub fn python_level(level: &str) -> String {
    match level.trim().to_ascii_uppercase().as_str() {
        "WARNING" => "warn".into(),
        "CRITICAL" | "FATAL" => "error".into(),
        "DEBUG" | "INFO" | "ERROR" => level.trim().to_ascii_lowercase(),
        _ => level.to_owned(),
    }
}

/// The running server's filter, which `POST /system/logging/config` may change.
static LEVEL: std::sync::OnceLock<(
    tracing_subscriber::reload::Handle<EnvFilter, tracing_subscriber::Registry>,
    std::sync::Mutex<String>,
)> = std::sync::OnceLock::new();

/// The level the server logs at now.
pub fn current_level() -> Option<String> {
    LEVEL.get().map(|(_, l)| l.lock().map(|l| l.clone()).unwrap_or_default())
}

/// Changes the running server's level: `DEBUG`, `INFO`, `WARNING`, `ERROR` or `CRITICAL`
/// (or the lower-case filter levels). `Err` says what is accepted.
pub fn set_level(level: &str) -> Result<(), String> {
    const EXPECTED: &str = "Invalid log level. Must be one of: DEBUG, INFO, WARNING, ERROR, CRITICAL";
    let normal = python_level(level);
    if !["error", "warn", "info", "debug", "trace"].contains(&normal.as_str()) {
        return Err(EXPECTED.into());
    }
    let Some((handle, current)) = LEVEL.get() else {
        return Err("this process's log level cannot be changed".into());
    };
    handle.reload(EnvFilter::new(&normal)).map_err(|e| e.to_string())?;
    if let Ok(mut c) = current.lock() {
        *c = normal;
    }
    Ok(())
}

/// The last `n` lines of a log file, and how many it has.
pub fn tail(path: &Path, n: usize) -> std::io::Result<(usize, Vec<String>)> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, Vec::new())),
        Err(e) => return Err(e),
    };
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(n);
    Ok((lines.len(), lines[from..].iter().map(|l| (*l).to_owned()).collect()))
}

/// Empties a log file (the writer appends, so it goes on at the start).
pub fn clear(path: &Path) -> std::io::Result<()> {
    match OpenOptions::new().write(true).open(path) {
        Ok(f) => f.set_len(0),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn problem(json_path: &str, found: String, expected: &str) -> ConfigError {
    ConfigError {
        file: "api.json".into(),
        json_path: json_path.into(),
        found,
        expected: expected.into(),
        endpoint: String::new(),
    }
}

/// How a `mockctl start` process logs.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub logging: Logging,
    pub debug_persistence: bool,
}

/// Installs the global subscriber for tests and tools: text (or JSON with
/// `MOCKGATE_LOG_FORMAT=json`) on stderr. Later calls are ignored.
pub fn init(default: &str) {
    let filter = filter(default, false);
    let _ = tracing_subscriber::registry().with(filter).with(stderr_layer(json_requested())).try_init();
}

/// Installs the server's subscriber. Keep the guard until exit: dropping it flushes
/// the file writer.
pub fn init_server(opts: &LogOptions) -> Option<WorkerGuard> {
    let filter = filter(&opts.logging.level, opts.debug_persistence);
    let background = std::env::var_os("MOCKGATE_LOG_FILE").map(PathBuf::from);
    let file = background.clone().or_else(|| opts.logging.file.clone());
    let (file_layer, guard) = match file {
        Some(path) => match RotatingFile::open(&path, opts.logging.max_bytes, opts.logging.max_files) {
            Ok(writer) => {
                // Lossless: past 128k queued lines a request waits rather than a line
                // being dropped, since these logs are what `mockctl search` reads.
                let (writer, guard) =
                    tracing_appender::non_blocking::NonBlockingBuilder::default().lossy(false).finish(writer);
                let layer = tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(writer);
                (Some(layer), Some(guard))
            }
            Err(e) => {
                eprintln!("cannot write the log file {}: {e}; logging to stderr only", path.display());
                (None, None)
            }
        },
        None => (None, None),
    };
    // A background server's stderr is its log file already.
    let stderr = (background.is_none() || file_layer.is_none()).then(|| stderr_layer(json_requested()));
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
    if tracing_subscriber::registry().with(filter).with(stderr).with(file_layer).try_init().is_ok() {
        let _ = LEVEL.set((handle, std::sync::Mutex::new(opts.logging.level.clone())));
    }
    guard
}

/// `MOCKGATE_LOG_FORMAT=json`: JSON lines on stderr too.
fn json_requested() -> bool {
    std::env::var("MOCKGATE_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"))
}

fn filter(default: &str, debug_persistence: bool) -> EnvFilter {
    let mut directives = std::env::var("MOCKGATE_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .filter(|d| EnvFilter::builder().parse(d).is_ok())
        .unwrap_or_else(|| default.to_owned());
    if debug_persistence {
        directives.push_str(",mockgate::store=debug");
    }
    EnvFilter::builder().parse(&directives).unwrap_or_else(|_| EnvFilter::new("info"))
}

fn stderr_layer<S>(json: bool) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    if json {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .boxed()
    }
}

/// What the logs must never show: the values of secret-looking keys (password, token,
/// secret, key, authorization, session, cookie, credential), every credential the
/// profile defines wherever it appears (whatever its key name), and session ids (the
/// ids of the entity types that hold sessions).
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    /// The profile's credentials, longest first (so a longer one is never left half
    /// shown by masking a shorter one inside it).
    values: Vec<String>,
    /// Entity types whose ids are session ids.
    pub session_entities: std::collections::HashSet<String>,
}

const MASK: &str = "***";

impl Secrets {
    pub fn new(values: impl IntoIterator<Item = String>, session_entities: impl IntoIterator<Item = String>) -> Self {
        let mut values: Vec<String> = values.into_iter().filter(|v| v.len() >= 3).collect();
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        Secrets { values, session_entities: session_entities.into_iter().collect() }
    }

    /// One more credential (the settings' system key).
    pub fn add(&mut self, value: &str) {
        *self = Secrets::new(self.values.iter().cloned().chain([value.to_owned()]), self.session_entities.drain());
    }

    fn secret_key(key: &str) -> bool {
        // Header names arrive in lower case: those need no copy to compare.
        let lower;
        let k = if key.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = key.to_ascii_lowercase();
            lower.as_str()
        } else {
            key
        };
        ["pass", "secret", "token", "key", "authorization", "session", "cookie", "credential"]
            .iter()
            .any(|s| k.contains(s))
            || k == "sid"
    }

    /// Masks, at any depth, the values of secret-looking keys and every credential.
    pub fn mask(&self, v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, v) in m.iter_mut() {
                    if Self::secret_key(k) && !v.is_null() {
                        *v = Value::String(MASK.into());
                    } else {
                        self.mask(v);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|v| self.mask(v)),
            Value::String(s) if self.values.iter().any(|c| s.contains(c.as_str())) => *s = self.mask_text(s),
            _ => {}
        }
    }

    /// A header value for the request journal: masked whole under a secret-looking
    /// name (`authorization`, `x-api-key`, `cookie`, …), else with every credential replaced.
    pub fn mask_header<'v>(&self, name: &str, value: &'v str) -> std::borrow::Cow<'v, str> {
        if Self::secret_key(name) {
            std::borrow::Cow::Borrowed(MASK)
        } else if self.values.iter().any(|c| value.contains(c.as_str())) {
            std::borrow::Cow::Owned(self.mask_text(value))
        } else {
            std::borrow::Cow::Borrowed(value)
        }
    }

    /// Text with every credential replaced.
    pub fn mask_text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for c in &self.values {
            if out.contains(c.as_str()) {
                out = out.replace(c.as_str(), MASK);
            }
        }
        out
    }

    /// A store id for the log: masked when it is a session id.
    pub fn id<'a>(&self, entity: &str, id: &'a str) -> &'a str {
        if self.session_entities.contains(entity) { MASK } else { id }
    }
}

/// A body for the log: JSON (or a form, read as one) with secrets masked, cut to
/// `cap` bytes on a character boundary.
pub fn loggable_body(body: &[u8], cap: usize, secrets: &Secrets) -> String {
    let parsed = serde_json::from_slice::<Value>(body).ok().or_else(|| {
        // Only what looks like a form is read as one; other text is logged as text.
        if !body.contains(&b'=') {
            return None;
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
        (!pairs.is_empty()).then(|| Value::Object(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect()))
    });
    match parsed {
        Some(mut v) => {
            secrets.mask(&mut v);
            cut(v.to_string(), cap)
        }
        None => cut(secrets.mask_text(&String::from_utf8_lossy(body)), cap),
    }
}

/// A value for the log (a response body), secrets masked, cut to `cap` bytes.
pub fn loggable_value(v: &Value, cap: usize, secrets: &Secrets) -> String {
    let mut v = v.clone();
    secrets.mask(&mut v);
    cut(v.to_string(), cap)
}

fn cut(mut s: String, cap: usize) -> String {
    if s.len() > cap {
        let mut end = cap;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// `error: cause: cause`, for the log.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// A log file that is renamed to `<file>.1` (older ones shifting to `.2`, …, at most
/// `keep` of them) when the next line would take it past `max_bytes`.
pub struct RotatingFile {
    path: PathBuf,
    file: File,
    written: u64,
    max_bytes: u64,
    keep: usize,
}

impl RotatingFile {
    pub fn open(path: &Path, max_bytes: u64, keep: usize) -> std::io::Result<RotatingFile> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let written = file.metadata()?.len();
        Ok(RotatingFile { path: path.to_owned(), file, written, max_bytes: max_bytes.max(1), keep })
    }

    /// `<file>.n`.
    pub fn rotated(path: &Path, n: usize) -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.file.flush()?;
        if self.keep == 0 {
            self.file.set_len(0)?;
        } else {
            let _ = std::fs::remove_file(Self::rotated(&self.path, self.keep));
            for n in (1..self.keep).rev() {
                let _ = std::fs::rename(Self::rotated(&self.path, n), Self::rotated(&self.path, n + 1));
            }
            std::fs::rename(&self.path, Self::rotated(&self.path, 1))?;
            self.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        }
        self.written = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.written > 0 && self.written + buf.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_rotate_by_size_and_keep_only_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/app.log");
        let mut f = RotatingFile::open(&path, 100, 2).unwrap();
        for i in 0..10 {
            // 40-byte lines: two fit in 100 bytes, the third rotates.
            writeln!(f, "line {i:02} {}", "x".repeat(31)).unwrap();
        }
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        let current = read(&path);
        assert_eq!(current.lines().count(), 2, "{current}");
        assert!(current.contains("line 09"));
        assert!(read(&RotatingFile::rotated(&path, 1)).contains("line 07"));
        assert!(read(&RotatingFile::rotated(&path, 2)).contains("line 05"));
        assert!(!RotatingFile::rotated(&path, 3).exists(), "only two rotated files are kept");
        for p in [path.clone(), RotatingFile::rotated(&path, 1), RotatingFile::rotated(&path, 2)] {
            assert!(std::fs::metadata(&p).unwrap().len() <= 100);
        }
    }

    #[test]
    fn an_existing_file_counts_towards_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, "x".repeat(90)).unwrap();
        let mut f = RotatingFile::open(&path, 100, 1).unwrap();
        f.write_all(b"twenty bytes of text").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "twenty bytes of text");
        assert_eq!(std::fs::read_to_string(RotatingFile::rotated(&path, 1)).unwrap().len(), 90);
    }
}

#[cfg(test)]
mod secret_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_masked_at_any_depth_under_any_name() {
        let secrets = Secrets::new(["k-123456".to_owned(), "hunter22".to_owned()], ["sessions".to_owned()]);
        let body = json!({
            "user": {"password": "p1", "profile": {"api_key": "x", "note": "my key is k-123456!"}},
            "items": [{"token": "t"}, {"session_id": "s"}, {"sid": "c"}],
            "free": "hunter22",
            "name": "Ada", "side": "left"
        });
        let logged = loggable_value(&body, 10_000, &secrets);
        for secret in ["p1", "\"x\"", "k-123456", "\"t\"", "\"s\"", "\"c\"", "hunter22"] {
            assert!(!logged.contains(secret), "{secret} in {logged}");
        }
        assert!(logged.contains("Ada") && logged.contains("left"), "{logged}");
        assert!(logged.contains("my key is ***!"), "{logged}");
        let form = loggable_body(b"user=ada&password=pw123&note=k-123456", 1000, &secrets);
        assert!(!form.contains("pw123") && !form.contains("k-123456") && form.contains("ada"), "{form}");
        assert_eq!(loggable_body(b"plain words, k-123456", 1000, &secrets), "plain words, ***");
        assert_eq!(secrets.id("sessions", "abc"), "***");
        assert_eq!(secrets.id("users", "abc"), "abc");
    }
}
