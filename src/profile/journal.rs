//! `journal` in `api.json`: whether requests are recorded, and how much of them.

use crate::config::ConfigError;
use serde_json::Value;

/// `journal` in `api.json`, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalSettings {
    /// Record requests at all (`enabled`, default true; `--no-journal` turns it off).
    pub enabled: bool,
    /// Entries kept per namespace, newest first (`max_entries`, default 10,000).
    pub max_entries: usize,
    /// Request and response bodies are cut to this many bytes (`max_body_bytes`, 8 KiB).
    pub max_body_bytes: usize,
}

impl Default for JournalSettings {
    fn default() -> Self {
        JournalSettings { enabled: true, max_entries: 10_000, max_body_bytes: 8 * 1024 }
    }
}

impl JournalSettings {
    /// `{"enabled", "max_entries", "max_body_bytes"}`; problems against `api.json`.
    pub fn parse(v: Option<&Value>, problems: &mut Vec<ConfigError>) -> JournalSettings {
        let mut out = JournalSettings::default();
        let mut problem = |at: &str, found: String, expected: &str| {
            problems.push(ConfigError {
                file: "api.json".into(),
                json_path: format!("journal{at}"),
                found,
                expected: expected.into(),
                endpoint: String::new(),
            })
        };
        let m = match v {
            None | Some(Value::Null) => return out,
            Some(Value::Bool(on)) => {
                out.enabled = *on;
                return out;
            }
            Some(Value::Object(m)) => m,
            Some(other) => {
                problem("", format!("found {other}"), "an object, or true or false");
                return out;
            }
        };
        let whole = |n: &Value, min: u64, max: u64| n.as_u64().filter(|n| (min..=max).contains(n)).map(|n| n as usize);
        for (k, v) in m {
            match (k.as_str(), v) {
                ("enabled", Value::Bool(b)) => out.enabled = *b,
                ("enabled", other) => problem(".enabled", format!("found {other}"), "true or false"),
                ("max_entries", n) => match whole(n, 1, 1_000_000) {
                    Some(n) => out.max_entries = n,
                    None => problem(".max_entries", format!("found {n}"), "a whole number from 1 to 1000000"),
                },
                ("max_body_bytes", n) => match whole(n, 0, 1 << 20) {
                    Some(n) => out.max_body_bytes = n,
                    None => problem(".max_body_bytes", format!("found {n}"), "a whole number from 0 to 1048576"),
                },
                (other, _) => {
                    problem(&format!(".{other}"), "unknown key".into(), "one of enabled, max_entries, max_body_bytes")
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_are_checked_with_their_paths() {
        let mut problems = Vec::new();
        let s = JournalSettings::parse(Some(&json!({"max_entries": 50, "max_body_bytes": 16})), &mut problems);
        assert_eq!((s.enabled, s.max_entries, s.max_body_bytes), (true, 50, 16));
        assert!(problems.is_empty());
        assert!(!JournalSettings::parse(Some(&json!(false)), &mut problems).enabled);
        JournalSettings::parse(Some(&json!({"max_entries": 0, "keep": 1})), &mut problems);
        let paths: Vec<&str> = problems.iter().map(|p| p.json_path.as_str()).collect();
        assert_eq!(paths, ["journal.max_entries", "journal.keep"]);
    }
}
