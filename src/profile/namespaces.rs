//! `namespaces` in `api.json`: the header that names a namespace, the limits.

use crate::config::ConfigError;
use serde_json::Value;
use std::time::Duration;

/// The request header that names a namespace, by default.
pub const DEFAULT_HEADER: &str = "x-mockgate-namespace";

/// `namespaces` in `api.json`, checked.
#[derive(Debug, Clone)]
pub struct NamespaceSettings {
    /// Lower-case header name.
    pub header: String,
    /// Also read from this query parameter (`namespaces.query_param`).
    pub query_param: Option<String>,
    /// At most this many namespaces (`namespaces.max`, default 1000).
    pub max: usize,
    /// An unused namespace is removed after this long (`idle_ttl_seconds`, default 3600).
    pub idle_ttl: Duration,
    /// Request metrics carry a `namespace` label (`metrics_label`, default off: only
    /// when the namespaces are few and known).
    pub metrics_label: bool,
    /// At most this many entities in one namespace (`max_entities`; none by default):
    /// a create beyond it is 507.
    pub max_entities: Option<usize>,
}

impl Default for NamespaceSettings {
    fn default() -> Self {
        NamespaceSettings {
            header: DEFAULT_HEADER.into(),
            query_param: None,
            max: 1000,
            idle_ttl: Duration::from_secs(3600),
            metrics_label: false,
            max_entities: None,
        }
    }
}

impl NamespaceSettings {
    /// `{"header", "query_param", "max", "idle_ttl_seconds", "metrics_label"}`; problems
    /// against `api.json`.
    pub fn parse(v: Option<&Value>, problems: &mut Vec<ConfigError>) -> NamespaceSettings {
        let mut out = NamespaceSettings::default();
        let mut problem = |at: &str, found: String, expected: &str| {
            problems.push(ConfigError {
                file: "api.json".into(),
                json_path: format!("namespaces{at}"),
                found,
                expected: expected.into(),
                endpoint: String::new(),
            })
        };
        let m = match v {
            None | Some(Value::Null) => return out,
            Some(Value::Object(m)) => m,
            Some(other) => {
                problem("", format!("found {other}"), "an object");
                return out;
            }
        };
        for (k, v) in m {
            match (k.as_str(), v) {
                ("header", Value::String(h))
                    if !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
                {
                    out.header = h.to_ascii_lowercase()
                }
                ("query_param", Value::String(q)) if !q.is_empty() => out.query_param = Some(q.clone()),
                ("max", Value::Number(n)) if n.as_u64().is_some_and(|n| n >= 1) => {
                    out.max = n.as_u64().unwrap_or(1000) as usize
                }
                ("idle_ttl_seconds", Value::Number(n)) if n.as_f64().is_some_and(|s| s > 0.0 && s.is_finite()) => {
                    out.idle_ttl = Duration::from_secs_f64(n.as_f64().unwrap_or(3600.0))
                }
                ("metrics_label", Value::Bool(b)) => out.metrics_label = *b,
                ("max_entities", Value::Number(n)) if n.as_u64().is_some_and(|n| n >= 1) => {
                    out.max_entities = n.as_u64().map(|n| n as usize)
                }
                ("max_entities", other) => {
                    problem(".max_entities", format!("found {other}"), "a whole number of at least 1")
                }
                ("metrics_label", other) => problem(".metrics_label", format!("found {other}"), "true or false"),
                ("header", other) => {
                    problem(".header", format!("found {other}"), "a header name of letters, digits and -")
                }
                ("query_param", other) => problem(".query_param", format!("found {other}"), "a parameter name"),
                ("max", other) => problem(".max", format!("found {other}"), "a whole number of at least 1"),
                ("idle_ttl_seconds", other) => {
                    problem(".idle_ttl_seconds", format!("found {other}"), "seconds above 0")
                }
                (other, _) => problem(
                    &format!(".{other}"),
                    "unknown key".into(),
                    "one of header, query_param, max, idle_ttl_seconds, metrics_label, max_entities",
                ),
            }
        }
        out
    }
}
