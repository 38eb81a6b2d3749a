//! `cors` in `api.json`: which web pages may call the mock from a browser. On by
//! default for any origin, as json-server and Mockoon do; `false` turns it off;
//! an object narrows it. The HTTP layer applies it.

use crate::config::ConfigError;
use serde_json::Value;

/// The compiled CORS policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    pub enabled: bool,
    /// Allowed origins; `None` allows any.
    pub origins: Option<Vec<String>>,
    /// Send `Access-Control-Allow-Credentials: true` (the origin is then echoed, never `*`).
    pub credentials: bool,
    /// Request headers a preflight allows; `None` allows whatever it asks for.
    pub headers: Option<Vec<String>>,
    /// Seconds a browser may cache a preflight's answer.
    pub max_age: u64,
    /// Also answer `/system` (off by default: a page a developer happens to visit must
    /// not be able to reset the mock's data with a shipped demo key).
    pub system: bool,
}

impl Default for Cors {
    fn default() -> Self {
        Cors { enabled: true, origins: None, credentials: false, headers: None, max_age: 600, system: false }
    }
}

const EXPECTED: &str =
    "true, false, or {\"origins\": [...], \"credentials\": bool, \"headers\": [...], \"max_age\": n, \"system\": bool}";

impl Cors {
    pub fn parse(def: Option<&Value>, problems: &mut Vec<ConfigError>) -> Cors {
        let mut problem = |at: &str, found: String, expected: &str| {
            problems.push(ConfigError {
                file: "api.json".into(),
                json_path: format!("cors{at}"),
                found,
                endpoint: String::new(),
                expected: expected.into(),
            })
        };
        let mut out = Cors::default();
        let map = match def {
            None | Some(Value::Null) | Some(Value::Bool(true)) => return out,
            Some(Value::Bool(false)) => return Cors { enabled: false, ..out },
            Some(Value::Object(m)) => m,
            Some(other) => {
                problem("", format!("found {other}"), EXPECTED);
                return out;
            }
        };
        let strings = |v: &Value| -> Option<Vec<String>> {
            v.as_array()?.iter().map(|s| s.as_str().map(str::to_owned)).collect()
        };
        for (key, v) in map {
            let at = format!(".{key}");
            match key.as_str() {
                "enabled" => match v.as_bool() {
                    Some(b) => out.enabled = b,
                    None => problem(&at, format!("found {v}"), "true or false"),
                },
                "origins" => match strings(v) {
                    Some(list) if list.iter().any(|o| o == "*") => out.origins = None,
                    Some(list) => out.origins = Some(list.iter().map(|o| o.trim_end_matches('/').to_owned()).collect()),
                    None => problem(&at, format!("found {v}"), "a list of origins such as \"http://localhost:3000\""),
                },
                "credentials" => match v.as_bool() {
                    Some(b) => out.credentials = b,
                    None => problem(&at, format!("found {v}"), "true or false"),
                },
                "headers" => match strings(v) {
                    Some(list) => out.headers = Some(list),
                    None => problem(&at, format!("found {v}"), "a list of header names"),
                },
                "max_age" => match v.as_u64() {
                    Some(n) => out.max_age = n,
                    None => problem(&at, format!("found {v}"), "a number of seconds"),
                },
                "system" => match v.as_bool() {
                    Some(b) => out.system = b,
                    None => problem(&at, format!("found {v}"), "true or false"),
                },
                other => problem(
                    &at,
                    format!("unknown key {other:?}"),
                    "enabled, origins, credentials, headers, max_age or system",
                ),
            }
        }
        out
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if allowed.
    pub fn allow_origin<'a>(&self, origin: &'a str) -> Option<&'a str> {
        if !self.enabled {
            return None;
        }
        match &self.origins {
            None if !self.credentials => Some("*"),
            None => Some(origin),
            Some(list) => list.iter().any(|o| o == origin.trim_end_matches('/')).then_some(origin),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn any_origin_by_default_and_narrowed_by_a_list() {
        let mut problems = Vec::new();
        assert_eq!(Cors::parse(None, &mut problems).allow_origin("http://a.test"), Some("*"));
        assert_eq!(Cors::parse(Some(&json!(false)), &mut problems).allow_origin("http://a.test"), None);
        let listed =
            Cors::parse(Some(&json!({"origins": ["http://localhost:3000/"], "credentials": true})), &mut problems);
        assert_eq!(listed.allow_origin("http://localhost:3000"), Some("http://localhost:3000"));
        assert_eq!(listed.allow_origin("http://evil.test"), None);
        let credentials = Cors::parse(Some(&json!({"credentials": true})), &mut problems);
        assert_eq!(credentials.allow_origin("http://a.test"), Some("http://a.test"), "never * with credentials");
        assert!(problems.is_empty(), "{problems:?}");
        Cors::parse(Some(&json!({"origin": ["x"], "max_age": "long"})), &mut problems);
        let found: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("api.json: cors.origin: unknown key"), "{found:?}");
    }
}
