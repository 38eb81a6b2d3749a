//! `mockctl start`: in the background by default (a detached `--foreground` child
//! that records itself in the state folder), or in the foreground for containers.

use super::state::{self, ServerRecord};
use crate::http::Server;
use crate::profile::Profile;
use crate::settings::{Overrides, Settings};
use crate::store::BackendKind;
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Args, Clone)]
#[command(after_help = "Examples:
  mockctl start persistence                 serve the persistence profile in the background on :8000
  mockctl start ./my-api --port 0 --json    any free port, the server's record as JSON (test fixtures)
  mockctl start shop --foreground --reset   stay attached, start from the seed data")]
pub struct StartArgs {
    /// Profile name (under ./configs/, or built in: see `mockctl profiles`) or folder
    /// [default: $MOCK_CONFIG_FOLDER, else $CONFIG_FOLDER, as Mock-and-Roll reads them].
    #[arg(default_value_t = String::new(), hide_default_value = true)]
    pub profile: String,
    /// Port to listen on (default 8000, or the profile's server.port); 0 picks any free
    /// one, which `--json` prints [env: MOCKGATE_PORT].
    #[arg(long)]
    pub port: Option<u16>,
    /// Address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
    /// [env: MOCKGATE_HOST].
    #[arg(long)]
    pub host: Option<String>,
    /// Folder of the embedded store (default: data/<profile>/) [env: MOCKGATE_DATA_DIR].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Stay in the foreground instead of returning once the server answers (containers).
    #[arg(long)]
    pub foreground: bool,
    /// Discard stored data and start from the profile's seed data.
    #[arg(long)]
    pub reset: bool,
    /// Keep everything in memory; nothing is written to disk.
    #[arg(long)]
    pub no_persistence: bool,
    /// Number of worker threads (default: one per core) [env: MOCKGATE_WORKERS].
    #[arg(long)]
    pub workers: Option<usize>,
    /// Use this Redis (e.g. redis://127.0.0.1:6379/0); it must answer. Give its password
    /// with REDIS_PASSWORD or --redis-password-file rather than in the URL, which other
    /// users of the machine can read in the process list [env: MOCKGATE_REDIS_URL, REDIS_URL].
    #[arg(long)]
    pub redis_url: Option<String>,
    /// A file holding the Redis password (its first line) [env: MOCKGATE_REDIS_PASSWORD_FILE].
    #[arg(long, value_name = "FILE")]
    pub redis_password_file: Option<PathBuf>,
    /// The Redis URL lists Redis Cluster seed nodes, comma-separated [env: MOCKGATE_REDIS_CLUSTER].
    #[arg(long)]
    pub redis_cluster: bool,
    /// Let web pages of any origin call the mock (the default unless api.json's `cors`
    /// says otherwise) [env: MOCKGATE_CORS=true].
    #[arg(long, conflicts_with = "no_cors")]
    pub cors: bool,
    /// No CORS headers at all: browsers refuse cross-origin calls [env: MOCKGATE_CORS=false].
    #[arg(long)]
    pub no_cors: bool,
    /// Start from this snapshot (see /system/snapshots) [env: MOCKGATE_SNAPSHOT].
    #[arg(long)]
    pub snapshot: Option<String>,
    /// Load this JSON seed file at start (checked like /system/seed).
    #[arg(long = "seed", value_name = "FILE")]
    pub seed_file: Option<PathBuf>,
    /// Reload the profile when its files change; a broken edit keeps the old one serving.
    #[arg(long)]
    pub watch: bool,
    /// Log every store operation (entity, id, outcome, time) at debug level.
    #[arg(long)]
    pub debug_persistence: bool,
    /// Print the started server's record (url, pid, port, profile, backend, log) as JSON.
    #[arg(long)]
    pub json: bool,
    /// The request header that names a namespace (over the profile's namespaces.header;
    /// default X-Mockgate-Namespace) [env: MOCKGATE_NAMESPACE_HEADER].
    #[arg(long, env = "MOCKGATE_NAMESPACE_HEADER", value_name = "NAME")]
    pub namespace_header: Option<String>,
    /// Log at debug level: every request's details and what the store did (the
    /// persistence guide's `--debug-persistence --verbose`) [env: MOCKGATE_LOG=debug].
    #[arg(long)]
    pub verbose: bool,
    /// Refuse to start when the profile holds keys mockgate does not read (or reads
    /// without effect); otherwise they are warnings [env: MOCKGATE_STRICT].
    #[arg(long, env = "MOCKGATE_STRICT")]
    pub strict: bool,
    /// Record no requests (the profile's journal.enabled: false); `/system/requests`
    /// then answers 409.
    #[arg(long)]
    pub no_journal: bool,
}

pub fn run(mut args: StartArgs) -> anyhow::Result<()> {
    args.profile = super::profile_or_env(&args.profile)?;
    if !args.foreground && !cfg!(unix) {
        anyhow::bail!("background servers need Linux or macOS; use --foreground, or WSL or Docker on Windows");
    }
    if args.foreground { foreground(args) } else { background(args) }
}

fn foreground(args: StartArgs) -> anyhow::Result<()> {
    let dir = super::resolve_profile(&args.profile)?;
    let mut profile = Profile::load_with(&dir, args.strict).map_err(anyhow::Error::new).context("cannot start")?;
    if args.verbose {
        profile.logging.level = "debug".into();
    }
    if let Some(h) = &args.namespace_header {
        if h.is_empty() || !h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            anyhow::bail!("--namespace-header {h:?}: expected a header name of letters, digits and -");
        }
        profile.namespaces.header = h.to_ascii_lowercase();
    }
    if args.no_journal {
        profile.journal.enabled = false;
    }
    let _flush_logs_at_exit = crate::telemetry::init_server(&crate::telemetry::LogOptions {
        logging: profile.logging.clone(),
        debug_persistence: args.debug_persistence,
    });
    for w in &profile.warnings {
        tracing::warn!("profile: {w}");
    }
    let overrides = Overrides {
        host: args.host,
        port: args.port,
        data_dir: args.data_dir,
        backend: if args.no_persistence {
            Some(BackendKind::Memory)
        } else {
            args.redis_url.as_ref().map(|_| BackendKind::Redis)
        },
        workers: args.workers,
        reset: args.reset,
        redis_url: args.redis_url,
        redis_password_file: args.redis_password_file,
        redis_cluster: args.redis_cluster,
        cors: if args.cors {
            Some(true)
        } else if args.no_cors {
            Some(false)
        } else {
            None
        },
        snapshot: args.snapshot,
        seed_file: args.seed_file,
    };
    let settings = Settings::load(&profile, overrides).context("invalid settings")?;
    actix_web::rt::System::new().block_on(serve(settings, profile, dir, args.watch))
}

async fn serve(settings: Settings, profile: Profile, dir: PathBuf, watch: bool) -> anyhow::Result<()> {
    let name = profile.name.clone();
    let endpoints = profile.endpoints.len();
    let unprotected = !profile.system.protected && settings.system_key.is_none();
    let opened = profile.system.opened;
    let log_file = profile
        .logging
        .file
        .as_ref()
        .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone()).display().to_string());
    let server = match Server::build(&settings, profile).await {
        Ok(server) => server,
        Err(e @ crate::http::StartError::Bind { .. }) => {
            return Err(anyhow::Error::new(e).context(format!("cannot start{}", port_holder(settings.port))));
        }
        Err(e) => return Err(anyhow::Error::new(e).context("cannot start")),
    };
    let s = server.started().clone();
    if let Some(note) = &s.note {
        tracing::warn!("{note}");
    }
    tracing::info!(
        "mockgate {} serving profile {name} ({endpoints} endpoints) at {} on the {} backend, {}{}",
        env!("CARGO_PKG_VERSION"),
        s.url,
        s.backend,
        s.storage,
        if s.seeded { ", seeded" } else { "" }
    );
    if opened && settings.system_key.is_none() {
        tracing::warn!("the /system API is open: system.protect_endpoints is false in api.json");
    } else if let Some(key) = &s.generated_system_key {
        tracing::warn!(
            "no system key is configured and the server listens on {}: the /system API key for this run is {key} \
             (set MOCKGATE_SYSTEM_KEY or system.api_keys to choose one)",
            settings.host
        );
    } else if unprotected {
        tracing::warn!(
            "no system key is configured: the /system API answers only clients on this machine (set MOCKGATE_SYSTEM_KEY)"
        );
    }
    let record = ServerRecord {
        pid: std::process::id(),
        port: server.port(),
        url: s.url.clone(),
        profile: name.clone(),
        // Absolute: `mockctl snapshot` reads the profile from any folder.
        profile_dir: std::path::absolute(&dir).unwrap_or_else(|_| dir.clone()).display().to_string(),
        backend: s.backend.to_owned(),
        log: std::env::var("MOCKGATE_LOG_FILE").ok().or(log_file),
        started_at: crate::template::iso(chrono::Utc::now()),
        note: s.note.clone(),
    };
    // What the watcher compares edits with is read before the server is recorded: a
    // client that waits for the record and then edits the profile must see its edit
    // picked up.
    let watching = watch.then(|| crate::reload::watch(dir.clone(), server.reloader(), crate::reload::DEFAULT_INTERVAL));
    // A server that cannot record itself still serves; `mockctl list` just won't see it.
    if let Err(e) = state::write(&record) {
        tracing::warn!("{e:#}");
    }
    let watcher = watching.map(|w| {
        tracing::info!("watching {} for changes", dir.display());
        tokio::spawn(w)
    });
    let result = server.run_until_stopped().await.context("server failed");
    if let Some(w) = watcher {
        w.abort();
    }
    state::remove(record.port, record.pid);
    result
}

/// How the user ran this command, for hints: `mockctl`, a path to it, or `cargo run`.
fn invoked_as() -> String {
    let argv0 = std::env::args().next().unwrap_or_else(|| "mockctl".into());
    if std::env::var_os("CARGO").is_some() && argv0.contains("target/release") {
        return "cargo run --release --".into();
    }
    if std::env::var_os("CARGO").is_some() && argv0.contains("target/debug") {
        return "cargo run --".into();
    }
    let name = std::path::Path::new(&argv0).file_name().map(|n| n.to_string_lossy().into_owned());
    let on_path = name.as_deref().is_some_and(|n| {
        std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(n).exists()))
    });
    match name {
        Some(n) if on_path && !argv0.contains('/') => n,
        _ => argv0,
    }
}

/// Who holds `port`, when it is one of ours, and what to do instead.
fn port_holder(port: u16) -> String {
    let holder = state::all().into_iter().map(|(r, _)| r).find(|r| r.port == port && port != 0);
    let who = holder.map_or(String::new(), |r| {
        format!(
            ": port {port} is taken by mockgate serving profile {} (pid {}; `mockctl stop --port {port}` stops it)",
            r.profile, r.pid
        )
    });
    format!("{who}; choose another port with --port, or --port 0 for any free one")
}

/// Starts the same command with `--foreground` as a detached child writing to a log
/// file, and returns once that server has recorded itself, or reports why it failed.
fn background(args: StartArgs) -> anyhow::Result<()> {
    let name = super::resolve_profile(&args.profile)?
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| args.profile.clone());
    // A profile that cannot load is reported here, as a foreground start would; its
    // warnings go to this terminal, not only to the log.
    let profile = Profile::load_with(&super::resolve_profile(&args.profile)?, args.strict)
        .map_err(anyhow::Error::new)
        .context("cannot start")?;
    for w in &profile.warnings {
        eprintln!("warning: {w}");
    }
    // The profile's `logging.file` if it names one, else the state folder's.
    let log = profile.logging.file.clone().unwrap_or_else(|| state::log_path(&name));
    let log = std::path::absolute(&log).unwrap_or(log);
    std::fs::create_dir_all(log.parent().expect("a log path has a folder"))?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .with_context(|| format!("Failed to open the log file {}", log.display()))?;
    let started_at = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let exe = std::env::current_exe().context("Failed to find the mockctl binary")?;
    let mut cmd = Command::new(exe);
    cmd.arg("start").arg(&args.profile).arg("--foreground");
    forward(&mut cmd, &args);
    // The Redis address travels in the environment, not the command line: a password
    // in it would be readable by anyone listing processes.
    if let Some(url) = &args.redis_url {
        cmd.env("MOCKGATE_REDIS_URL", url).env("MOCKGATE_BACKEND", "redis");
    }
    cmd.env("MOCKGATE_LOG_FILE", &log).stdin(Stdio::null()).stdout(file.try_clone()?).stderr(file);
    // Its own process group: a Ctrl-C in this terminal does not reach it.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().context("Failed to start the server process")?;
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(r) = state::all().into_iter().map(|(r, _)| r).find(|r| r.pid == pid) {
            if args.json {
                // The record, and the shape Mock-and-Roll's `start --json` prints, which
                // scripts parse.
                let mut out = serde_json::to_value(&r)?;
                let host = r.url.split("://").nth(1).and_then(|h| h.rsplit_once(':')).map_or("127.0.0.1", |(h, _)| h);
                out["status"] = "success".into();
                out["action"] = "server_started".into();
                out["server"] = serde_json::json!({
                    "config_name": r.profile,
                    "pid": r.pid,
                    "host": host,
                    "port": r.port,
                    "base_url": r.url,
                    "docs_url": format!("{}/docs", r.url),
                    "openapi_url": format!("{}/openapi.json", r.url),
                    "started_at": r.started_at,
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(());
            }
            println!("mockgate is serving profile {} at {}", r.profile, r.url);
            if let Some(note) = &r.note {
                println!("  note: {note}");
            }
            println!("  pid {}, {} backend, log {}", r.pid, r.backend, log.display());
            println!("  API docs: {}/docs/", r.url);
            println!("  stop it with: {} stop --port {}", invoked_as(), r.port);
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: String = text
                .get(started_at as usize..)
                .unwrap_or(&text)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(super::logs::message)
                .collect::<Vec<_>>()
                .join("\n");
            anyhow::bail!("the server exited ({status}):\n{tail}");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            anyhow::bail!("the server did not start within 60 s; see {}", log.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn forward(cmd: &mut Command, a: &StartArgs) {
    let mut opt = |flag: &str, v: Option<String>| {
        if let Some(v) = v {
            cmd.arg(flag).arg(v);
        }
    };
    opt("--port", a.port.map(|p| p.to_string()));
    opt("--host", a.host.clone());
    opt("--data-dir", a.data_dir.as_ref().map(|p| p.display().to_string()));
    opt("--workers", a.workers.map(|w| w.to_string()));
    opt("--redis-password-file", a.redis_password_file.as_ref().map(|p| p.display().to_string()));
    opt("--snapshot", a.snapshot.clone());
    opt("--seed", a.seed_file.as_ref().map(|p| p.display().to_string()));
    opt("--namespace-header", a.namespace_header.clone());
    for (on, flag) in [
        (a.reset, "--reset"),
        (a.no_persistence, "--no-persistence"),
        (a.redis_cluster, "--redis-cluster"),
        (a.cors, "--cors"),
        (a.no_cors, "--no-cors"),
        (a.watch, "--watch"),
        (a.debug_persistence, "--debug-persistence"),
        (a.strict, "--strict"),
        (a.verbose, "--verbose"),
        (a.no_journal, "--no-journal"),
    ] {
        if on {
            cmd.arg(flag);
        }
    }
}
