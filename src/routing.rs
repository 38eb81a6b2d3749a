//! Matching a request to an endpoint: compiled path templates, then per-response
//! conditions on body, query, headers and path parameters.
//!
//! Path templates are split into segments once at load. Among the endpoints whose
//! template matches a path, the most specific wins (a literal segment beats a
//! parameter at the first position where they differ: `/users/me` before
//! `/users/{id}`), then the one declared first. "No endpoint" and "wrong method" are
//! values, not errors, as wiremock treats an unmatched request.

use crate::config::{CompileCx, ResponseRuleDef};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

/// A compiled path such as `/api/v1/users/{user_id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    text: String,
    segments: Vec<Segment>,
}

impl PathTemplate {
    /// Parses a template; `Err` says what is wrong with it.
    pub fn parse(text: &str) -> Result<PathTemplate, String> {
        if !text.starts_with('/') {
            return Err(format!("path {text:?} must start with `/`"));
        }
        let mut segments = Vec::new();
        for raw in text.split('/').filter(|s| !s.is_empty()) {
            let seg = if let Some(name) = raw.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
                if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
                    return Err(format!("bad path parameter `{raw}` in {text:?}: use letters, digits, `_` or `-`"));
                }
                if segments.iter().any(|s| matches!(s, Segment::Param(p) if p == name)) {
                    return Err(format!("path parameter `{name}` appears twice in {text:?}"));
                }
                Segment::Param(name.to_owned())
            } else if raw.contains(['{', '}']) {
                return Err(format!(
                    "segment `{raw}` of {text:?} mixes text and braces; a parameter must be a whole segment"
                ));
            } else {
                Segment::Literal(raw.to_owned())
            };
            segments.push(seg);
        }
        Ok(PathTemplate { text: text.to_owned(), segments })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Parameter names in order.
    pub fn params(&self) -> Vec<String> {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Param(p) => Some(p.clone()),
                Segment::Literal(_) => None,
            })
            .collect()
    }

    /// Whether a raw (percent-encoded) path fits the template.
    pub fn matches_path(&self, path: &str) -> bool {
        self.matches(&segments(path)).is_some()
    }

    /// Matches percent-decoded segments; returns the parameters on success.
    fn matches(&self, segs: &[String]) -> Option<Map<String, Value>> {
        if segs.len() != self.segments.len() {
            return None;
        }
        let mut params = Map::new();
        for (t, s) in self.segments.iter().zip(segs) {
            match t {
                Segment::Literal(l) if l == s => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => {
                    params.insert(name.clone(), Value::String(s.clone()));
                }
            }
        }
        Some(params)
    }

    /// Literal segments sort before parameters, position by position.
    fn specificity(&self) -> Vec<bool> {
        self.segments.iter().map(|s| matches!(s, Segment::Literal(_))).collect()
    }
}

/// What the router found for a method and path.
#[derive(Debug, PartialEq)]
pub enum RouteMatch {
    /// Index of the endpoint, and its path parameters.
    Found(usize, Map<String, Value>),
    /// The path exists, with these methods only.
    MethodNotAllowed(Vec<String>),
    NotFound,
}

/// Every endpoint's method and template, in declaration order.
#[derive(Debug, Default)]
pub struct Router {
    routes: Vec<(String, PathTemplate)>,
}

impl Router {
    pub fn new(routes: Vec<(String, PathTemplate)>) -> Self {
        Router { routes }
    }

    /// Every method some endpoint serves at `path` (GET also answering HEAD).
    pub fn methods(&self, path: &str) -> Vec<String> {
        let segs = segments(path);
        let mut out: Vec<String> = Vec::new();
        for (m, template) in &self.routes {
            if template.matches(&segs).is_some() && !out.contains(m) {
                out.push(m.clone());
            }
        }
        out
    }

    pub fn find(&self, method: &str, path: &str) -> RouteMatch {
        let segs = segments(path);
        let mut best: Option<(usize, Map<String, Value>, Vec<bool>)> = None;
        let mut allowed: Vec<String> = Vec::new();
        for (i, (m, template)) in self.routes.iter().enumerate() {
            let Some(params) = template.matches(&segs) else {
                continue;
            };
            // HEAD is answered by GET endpoints, as HTTP expects.
            let method_ok = m == method || (method == "HEAD" && m == "GET");
            if !method_ok {
                if !allowed.contains(m) {
                    allowed.push(m.clone());
                }
                continue;
            }
            let spec = template.specificity();
            if best.as_ref().is_none_or(|(_, _, b)| spec > *b) {
                best = Some((i, params, spec));
            }
        }
        match (best, allowed.is_empty()) {
            (Some((i, params, _)), _) => RouteMatch::Found(i, params),
            (None, false) => RouteMatch::MethodNotAllowed(allowed),
            (None, true) => RouteMatch::NotFound,
        }
    }
}

/// How close a request came to an endpoint, and why it missed: the near-miss
/// diagnostics of unmatched requests (`did_you_mean`, `/system/requests/unmatched`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Miss {
    pub method: String,
    /// The endpoint's path template.
    pub route: String,
    /// The response rule, for a request whose endpoint matched but no rule did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<usize>,
    /// What differed, one reason each, as a person would say it.
    pub why: Vec<String>,
    /// Lower is closer: 1 for a typo in one segment or another method, 1.5 per
    /// missing or extra segment, 2.5 for a different word; up to [`NEAR`] is a near miss.
    #[serde(default)]
    pub distance: f64,
}

/// Why a request was not served by an endpoint, with the endpoints that came closest.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Unmatched {
    /// `no_route`, `method_not_allowed`, `no_matching_response` or `authentication_failed`.
    pub kind: String,
    pub closest: Vec<Miss>,
}

/// A miss at most this far is offered as `did_you_mean`.
pub const NEAR: f64 = 2.0;

impl Router {
    /// The `limit` endpoints closest to `method path`, closest first; only those
    /// within a few differences.
    pub fn closest(&self, method: &str, path: &str, limit: usize) -> Vec<Miss> {
        let segs = segments(path);
        let mut misses: Vec<Miss> = self
            .routes
            .iter()
            .map(|(m, template)| template.miss(m, method, &segs))
            .filter(|m| m.distance > 0.0 && m.distance <= 6.0)
            .collect();
        misses.sort_by(|a, b| a.distance.total_cmp(&b.distance));
        misses.truncate(limit);
        misses
    }
}

impl PathTemplate {
    /// What separates `method segs` from this endpoint; distance 0 is a match.
    fn miss(&self, own_method: &str, method: &str, segs: &[String]) -> Miss {
        let mut why = Vec::new();
        let mut distance = 0.0;
        if own_method != method && !(method == "HEAD" && own_method == "GET") {
            why.push(format!("method differs: {method}, the endpoint takes {own_method}"));
            distance += 1.0;
        }
        for (i, (t, s)) in self.segments.iter().zip(segs).enumerate() {
            if let Segment::Literal(l) = t
                && l != s
            {
                let typo = strsim::damerau_levenshtein(l, s) <= if l.len() > 5 { 2 } else { 1 };
                why.push(format!("path differs at segment {}: `{s}` vs `{l}`", i + 1));
                distance += if typo { 1.0 } else { 2.5 };
            }
        }
        if segs.len() != self.segments.len() {
            why.push(format!("path has {} segments, the endpoint {}", segs.len(), self.segments.len()));
            distance += 1.5 * segs.len().abs_diff(self.segments.len()) as f64;
        }
        Miss { method: own_method.to_owned(), route: self.text.clone(), rule: None, why, distance }
    }
}

/// A path's percent-decoded segments (empty ones, as from `//` or a trailing `/`, dropped).
fn segments(path: &str) -> Vec<String> {
    path.split('/').filter(|s| !s.is_empty()).map(decode).collect()
}

fn decode(seg: &str) -> String {
    percent_encoding::percent_decode_str(seg).decode_utf8_lossy().into_owned()
}

/// One response rule's conditions. Empty means "always".
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    pub body: Vec<(String, Value)>,
    pub query: Vec<(String, Value)>,
    /// Header names lower-cased.
    pub headers: Vec<(String, Value)>,
    pub path: Vec<(String, Value)>,
}

/// The request parts conditions look at.
pub struct Inputs<'a> {
    pub body: &'a Value,
    pub query: &'a Value,
    pub headers: &'a Value,
    pub path: &'a Value,
}

impl Conditions {
    pub fn is_empty(&self) -> bool {
        self.body.is_empty() && self.query.is_empty() && self.headers.is_empty() && self.path.is_empty()
    }

    pub fn matches(&self, r: &Inputs<'_>) -> bool {
        all(&self.body, r.body, false)
            && all(&self.query, r.query, true)
            && all(&self.headers, r.headers, true)
            && all(&self.path, r.path, true)
    }
}

impl Conditions {
    /// Every condition `r` fails, as a person would say it (`body condition `type`
    /// expected "important", got "minor"`).
    pub fn explain(&self, r: &Inputs<'_>) -> Vec<String> {
        let mut out = Vec::new();
        for (kind, conds, source, textual) in [
            ("body", &self.body, r.body, false),
            ("query", &self.query, r.query, true),
            ("header", &self.headers, r.headers, true),
            ("path", &self.path, r.path, true),
        ] {
            for (field, want) in conds {
                if !holds(field, want, source, textual) {
                    let got =
                        crate::json::field_at(source, field).map_or_else(|| "nothing".to_owned(), Value::to_string);
                    out.push(format!("{kind} condition `{field}` expected {want}, got {got}"));
                }
            }
        }
        out
    }
}

impl Conditions {
    /// A response rule's `body_conditions`, `query_conditions`, `header_conditions` and
    /// `path_conditions`; `None` when one of them is not an object (reported).
    pub fn parse(def: &ResponseRuleDef, at: &str, cx: &mut CompileCx<'_>) -> Option<Conditions> {
        let mut ok = true;
        let mut conditions = Conditions::default();
        for (name, source, lower) in [
            ("body_conditions", &def.body_conditions, false),
            ("query_conditions", &def.query_conditions, false),
            ("header_conditions", &def.header_conditions, true),
            ("path_conditions", &def.path_conditions, false),
        ] {
            let list = match source {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Object(m)) => {
                    m.iter().map(|(k, v)| (if lower { k.to_ascii_lowercase() } else { k.clone() }, v.clone())).collect()
                }
                Some(other) => {
                    cx.problem(format!("{at}.{name}"), format!("found {other}"), "an object of field: value, or null");
                    ok = false;
                    continue;
                }
            };
            match name {
                "body_conditions" => conditions.body = list,
                "query_conditions" => conditions.query = list,
                "header_conditions" => conditions.headers = list,
                _ => conditions.path = list,
            }
        }

        ok.then_some(conditions)
    }
}

/// `null` expects the field missing, `null` or empty (Mock-and-Roll's rule). Query,
/// header and path values are text, so there `123` matches `"123"`.
fn all(conds: &[(String, Value)], source: &Value, textual: bool) -> bool {
    conds.iter().all(|(field, want)| holds(field, want, source, textual))
}

fn holds(field: &str, want: &Value, source: &Value, textual: bool) -> bool {
    let got = crate::json::field_at(source, field);
    match (want, got) {
        (Value::Null, None | Some(Value::Null)) => true,
        (Value::Null, Some(Value::String(s))) => s.is_empty(),
        (Value::Null, Some(_)) => false,
        (_, None) => false,
        (want, Some(got)) if textual => crate::json::to_text(want) == crate::json::to_text(got),
        (want, Some(got)) => want == got,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn router() -> Router {
        let routes = [
            ("GET", "/users/{id}"),
            ("GET", "/users/me"),
            ("POST", "/users"),
            ("GET", "/users"),
            ("DELETE", "/users/{id}"),
        ];
        Router::new(routes.iter().map(|(m, p)| (m.to_string(), PathTemplate::parse(p).unwrap())).collect())
    }

    #[test]
    fn finds_endpoints_by_method_and_template() {
        let r = router();
        let mut params = Map::new();
        params.insert("id".into(), json!("a b"));
        assert_eq!(r.find("GET", "/users/a%20b"), RouteMatch::Found(0, params));
        assert_eq!(r.find("GET", "/users/me"), RouteMatch::Found(1, Map::new()));
        assert_eq!(r.find("GET", "/users/"), RouteMatch::Found(3, Map::new()));
        assert_eq!(r.find("HEAD", "/users"), RouteMatch::Found(3, Map::new()));
        assert_eq!(r.find("PUT", "/users/1"), RouteMatch::MethodNotAllowed(vec!["GET".into(), "DELETE".into()]));
        assert_eq!(r.find("GET", "/nope"), RouteMatch::NotFound);
    }

    #[test]
    fn near_misses_name_what_differs() {
        let r = router();
        let misses = r.closest("GET", "/usres/7", 3);
        assert_eq!(misses[0].route, "/users/{id}");
        assert_eq!(misses[0].why, ["path differs at segment 1: `usres` vs `users`"]);
        assert!(misses[0].distance <= NEAR);
        let misses = r.closest("PATCH", "/users", 3);
        assert_eq!(misses[0].why, ["method differs: PATCH, the endpoint takes POST"]);
        assert!(r.closest("GET", "/a/b/c/d/e/f/g", 3).is_empty(), "nothing close");
        let body = json!({"type": "minor"});
        let empty = json!({});
        let inputs = Inputs { body: &body, query: &empty, headers: &empty, path: &empty };
        let c = Conditions { body: vec![("type".into(), json!("important"))], ..Default::default() };
        assert_eq!(c.explain(&inputs), [r#"body condition `type` expected "important", got "minor""#]);
    }

    #[test]
    fn rejects_bad_templates() {
        for bad in ["users", "/users/{}", "/users/{id}/{id}", "/users/x{id}", "/a/{b c}"] {
            assert!(PathTemplate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn conditions_follow_mock_and_roll() {
        let body = json!({"username": "admin", "title": "", "n": 3});
        let empty = json!({});
        let path = json!({"item_id": "123"});
        let inputs = Inputs { body: &body, query: &empty, headers: &empty, path: &path };
        let cond = |body: Vec<(&str, Value)>, path: Vec<(&str, Value)>| Conditions {
            body: body.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            path: path.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            ..Default::default()
        };
        assert!(cond(vec![], vec![]).matches(&inputs));
        assert!(cond(vec![("username", json!("admin"))], vec![]).matches(&inputs));
        assert!(!cond(vec![("username", json!("root"))], vec![]).matches(&inputs));
        assert!(cond(vec![("title", Value::Null), ("missing", Value::Null)], vec![]).matches(&inputs));
        assert!(!cond(vec![("username", Value::Null)], vec![]).matches(&inputs));
        assert!(!cond(vec![("n", json!("3"))], vec![]).matches(&inputs), "body values compare as JSON");
        assert!(cond(vec![], vec![("item_id", json!(123))]).matches(&inputs), "path values compare as text");
    }
}
