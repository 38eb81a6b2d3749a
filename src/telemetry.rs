//! Logging: one human-readable line per event on stderr, level from `MOCKGATE_LOG`
//! (or `RUST_LOG`), `info` by default.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; later calls are ignored (tests call it often).
/// Background servers (`MOCKGATE_LOG_FILE` set) and `MOCKGATE_LOG_FORMAT=json` write
/// JSON lines, which `mockctl logs` and `mockctl search` read.
pub fn init(default: &str) {
    let json = std::env::var_os("MOCKGATE_LOG_FILE").is_some()
        || std::env::var("MOCKGATE_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let filter = std::env::var("MOCKGATE_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| default.to_owned());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).with_current_span(false).try_init()
    } else {
        builder.with_target(false).with_ansi(std::io::stderr().is_terminal()).try_init()
    };
}
