//! Request patterns (what `find`, `verify` and `verify-sequence` look for), the
//! filters of `GET /system/requests`, and near misses: for a recorded request that did
//! not match, which field differed, what was expected and what arrived.

use super::Entry;
use crate::persistence::rules::Violation;
use serde_json::{Map, Value, json};

/// Where the path must be: exactly, by regular expression, or by endpoint template.
#[derive(Debug, Clone)]
enum PathMatch {
    Exact(String),
    Regex(regex::Regex),
    Route(String),
}

/// One step of a plain JSON path (`$.items[0].sku`).
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A request pattern, checked once when the request that carries it arrives.
#[derive(Debug, Clone, Default)]
pub struct Pattern {
    method: Option<String>,
    path: Option<PathMatch>,
    query: Vec<(String, Value)>,
    headers: Vec<(String, Value)>,
    body: Option<Value>,
    body_paths: Vec<(String, Vec<Step>, Value)>,
    since_ms: Option<i64>,
    /// The pattern as written, for answers.
    source: Map<String, Value>,
}

/// One way a recorded request differed from a pattern.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Difference {
    /// `method`, `path`, `route`, `query.<name>`, `headers.<name>`, `body`, `body $.a[0]`, `time`.
    pub field: String,
    pub expected: Value,
    pub actual: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// The keys a pattern may have.
pub const PATTERN_KEYS: &[&str] =
    &["method", "path", "path_pattern", "route", "query", "headers", "body", "body_json_path", "since"];

fn violation(path: &str, message: impl Into<String>) -> Violation {
    Violation { path: path.to_owned(), message: message.into() }
}

/// `10m`, `30s`, `1h` before `now_ms`, or an RFC 3339 time; epoch ms.
pub fn parse_since(text: &str, now_ms: i64) -> Result<i64, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    match humantime::parse_duration(text) {
        Ok(d) => Ok(now_ms - i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)),
        Err(_) => Err(format!("{text:?} is neither an RFC 3339 time nor a duration such as 10m or 30s")),
    }
}

/// `$.items[0].sku`, `$['a b'].c`, or `items[0].sku` (the `$.` may be left out).
fn parse_json_path(text: &str) -> Result<Vec<Step>, String> {
    let bad = || format!("{text:?} is not a plain JSON path such as $.items[0].sku (no wildcards or filters)");
    let rest = text.strip_prefix('$').unwrap_or(text);
    let mut steps = Vec::new();
    let mut chars = rest.char_indices().peekable();
    let mut first = !text.starts_with('$');
    while let Some(&(i, c)) = chars.peek() {
        if c == '[' {
            chars.next();
            let inner_start = i + 1;
            let close = rest[inner_start..].find(']').ok_or_else(bad)? + inner_start;
            let inner = rest[inner_start..close].trim();
            let step = if let Some(q) = inner.strip_prefix('\'').and_then(|q| q.strip_suffix('\'')) {
                Step::Key(q.to_owned())
            } else if let Some(q) = inner.strip_prefix('"').and_then(|q| q.strip_suffix('"')) {
                Step::Key(q.to_owned())
            } else {
                Step::Index(inner.parse().map_err(|_| bad())?)
            };
            steps.push(step);
            while chars.peek().is_some_and(|&(j, _)| j <= close) {
                chars.next();
            }
        } else {
            if c == '.' {
                chars.next();
            } else if !first {
                return Err(bad());
            }
            let start = chars.peek().map_or(rest.len(), |&(j, _)| j);
            let mut end = start;
            while let Some(&(j, c)) = chars.peek() {
                if c == '.' || c == '[' {
                    break;
                }
                end = j + c.len_utf8();
                chars.next();
            }
            let name = &rest[start..end];
            if name.is_empty() || name == "*" || name.contains(['?', '(', '*']) {
                return Err(bad());
            }
            steps.push(Step::Key(name.to_owned()));
        }
        first = false;
    }
    Ok(steps)
}

fn walk<'v>(v: &'v Value, steps: &[Step]) -> Option<&'v Value> {
    steps.iter().try_fold(v, |cur, s| match (s, cur) {
        (Step::Key(k), Value::Object(m)) => m.get(k),
        (Step::Index(i), Value::Array(a)) => a.get(*i),
        _ => None,
    })
}

fn text_pairs(v: &Value, at: &str, lower: bool, problems: &mut Vec<Violation>) -> Vec<(String, Value)> {
    match v {
        Value::Object(m) => m
            .iter()
            .filter_map(|(k, v)| match v {
                Value::Object(_) | Value::Array(_) => {
                    problems.push(violation(&format!("/{at}/{k}"), "expected a string, number or boolean"));
                    None
                }
                _ => Some((if lower { k.to_ascii_lowercase() } else { k.clone() }, v.clone())),
            })
            .collect(),
        _ => {
            problems.push(violation(&format!("/{at}"), "expected an object of name: value"));
            Vec::new()
        }
    }
}

impl Pattern {
    /// A pattern from `m`, whose keys outside [`PATTERN_KEYS`] are the caller's
    /// (`count`, `at_least`, …: listed in `also`); every problem is reported.
    pub fn parse(m: &Map<String, Value>, also: &[&str], now_ms: i64) -> Result<Pattern, Vec<Violation>> {
        let mut p = Pattern::default();
        let mut problems = Vec::new();
        let mut paths = 0;
        for (k, v) in m {
            if !PATTERN_KEYS.contains(&k.as_str()) {
                if !also.contains(&k.as_str()) {
                    let keys: Vec<&str> = PATTERN_KEYS.iter().chain(also).copied().collect();
                    problems
                        .push(violation(&format!("/{k}"), format!("unknown key; expected one of {}", keys.join(", "))));
                }
                continue;
            }
            p.source.insert(k.clone(), v.clone());
            match (k.as_str(), v) {
                ("method", Value::String(s)) if !s.is_empty() => p.method = Some(s.to_ascii_uppercase()),
                ("path", Value::String(s)) if s.starts_with('/') => {
                    paths += 1;
                    p.path = Some(PathMatch::Exact(s.clone()));
                }
                ("path_pattern", Value::String(s)) => {
                    paths += 1;
                    match regex::Regex::new(&format!("^(?:{s})$")) {
                        Ok(r) => p.path = Some(PathMatch::Regex(r)),
                        Err(e) => problems.push(violation("/path_pattern", format!("not a regular expression: {e}"))),
                    }
                }
                ("route", Value::String(s)) if s.starts_with('/') => {
                    paths += 1;
                    p.path = Some(PathMatch::Route(s.clone()));
                }
                ("query", v) => p.query = text_pairs(v, "query", false, &mut problems),
                ("headers", v) => p.headers = text_pairs(v, "headers", true, &mut problems),
                ("body", v) => p.body = Some(v.clone()),
                ("body_json_path", Value::Object(paths)) => {
                    for (text, want) in paths {
                        match parse_json_path(text) {
                            Ok(steps) => p.body_paths.push((text.clone(), steps, want.clone())),
                            Err(e) => problems.push(violation(&format!("/body_json_path/{text}"), e)),
                        }
                    }
                }
                ("since", Value::String(s)) => match parse_since(s, now_ms) {
                    Ok(ms) => p.since_ms = Some(ms),
                    Err(e) => problems.push(violation("/since", e)),
                },
                ("method", _) => problems.push(violation("/method", "expected a method name such as POST")),
                ("path" | "route", _) => problems.push(violation(&format!("/{k}"), "expected a path starting with /")),
                ("path_pattern", _) => problems.push(violation("/path_pattern", "expected a regular expression")),
                ("body_json_path", _) => {
                    problems.push(violation("/body_json_path", "expected an object of JSON path: value"))
                }
                _ => problems.push(violation("/since", "expected an RFC 3339 time or a duration such as 10m")),
            }
        }
        if paths > 1 {
            problems.push(violation("/", "give one of path, path_pattern and route"));
        }
        if problems.is_empty() { Ok(p) } else { Err(problems) }
    }

    /// The pattern as it was written.
    pub fn source(&self) -> Value {
        Value::Object(self.source.clone())
    }

    pub fn matches(&self, e: &Entry) -> bool {
        self.differences(e, true).is_empty()
    }

    /// Every way `e` differs from the pattern (just the first when `first_only`).
    pub fn differences(&self, e: &Entry, first_only: bool) -> Vec<Difference> {
        let mut out = Vec::new();
        let mut push = |d: Difference| {
            out.push(d);
            first_only
        };
        let diff = |field: &str, expected: Value, actual: Value, why: Option<String>| Difference {
            field: field.to_owned(),
            expected,
            actual,
            why,
        };
        if let Some(m) = &self.method
            && !m.eq_ignore_ascii_case(&e.method)
            && push(diff("method", json!(m), json!(e.method), None))
        {
            return out;
        }
        let path_diff = match &self.path {
            Some(PathMatch::Exact(p)) if *p != e.path => {
                Some(diff("path", json!(p), json!(e.path), path_detail(p, &e.path)))
            }
            Some(PathMatch::Regex(r)) if !r.is_match(&e.path) => Some(diff(
                "path",
                json!(self.source["path_pattern"]),
                json!(e.path),
                Some("does not match the pattern".into()),
            )),
            Some(PathMatch::Route(r)) if e.route.as_deref() != Some(r.as_str()) => {
                Some(diff("route", json!(r), json!(e.route), None))
            }
            _ => None,
        };
        if let Some(d) = path_diff
            && push(d)
        {
            return out;
        }
        if let Some(since) = self.since_ms
            && e.at_ms < since
            && push(diff(
                "time",
                json!(super::iso_ms(since)),
                json!(super::iso_ms(e.at_ms)),
                Some("before since".into()),
            ))
        {
            return out;
        }
        if !self.query.is_empty() {
            let query = super::query_object(&e.query);
            for (name, want) in &self.query {
                let got = query.get(name);
                if got.is_none_or(|g| crate::json::to_text(g) != crate::json::to_text(want))
                    && push(diff(&format!("query.{name}"), want.clone(), got.cloned().unwrap_or(Value::Null), None))
                {
                    return out;
                }
            }
        }
        for (name, want) in &self.headers {
            let got = e.header(name);
            if got != Some(crate::json::to_text(want).as_str())
                && push(diff(&format!("headers.{name}"), want.clone(), json!(got), None))
            {
                return out;
            }
        }
        if self.body.is_none() && self.body_paths.is_empty() {
            return out;
        }
        let body = e.body_json().unwrap_or(Value::Null);
        if let Some(want) = &self.body {
            let mut found = Vec::new();
            contains(want, &body, "$", &mut found);
            for (path, expected, actual) in found {
                let field = if path == "$" { "body".to_owned() } else { format!("body {path}") };
                if push(diff(&field, expected, actual, None)) {
                    return out;
                }
            }
        }
        for (text, steps, want) in &self.body_paths {
            let got = walk(&body, steps);
            if !got.is_some_and(|g| same(g, want))
                && push(diff(&format!("body {text}"), want.clone(), got.cloned().unwrap_or(Value::Null), None))
            {
                return out;
            }
        }
        out
    }
}

/// `segment 2: `order` vs `orders``: where two paths part.
fn path_detail(want: &str, got: &str) -> Option<String> {
    let w: Vec<&str> = want.split('/').filter(|s| !s.is_empty()).collect();
    let g: Vec<&str> = got.split('/').filter(|s| !s.is_empty()).collect();
    for (i, (a, b)) in w.iter().zip(&g).enumerate() {
        if a != b {
            return Some(format!("differs at segment {}: `{b}` vs `{a}`", i + 1));
        }
    }
    (w.len() != g.len()).then(|| format!("has {} segments, the pattern {}", g.len(), w.len()))
}

/// Whether `got` contains `want` (objects as subsets, arrays and scalars exactly);
/// each place it does not goes into `found` as (JSON path, expected, actual).
fn contains(want: &Value, got: &Value, path: &str, found: &mut Vec<(String, Value, Value)>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let plain = !k.is_empty() && k.chars().all(|c| c.is_alphanumeric() || c == '_');
                let sub = if plain { format!("{path}.{k}") } else { format!("{path}[{}]", json!(k)) };
                match g.get(k) {
                    Some(gv) => contains(wv, gv, &sub, found),
                    None => found.push((sub, wv.clone(), Value::Null)),
                }
            }
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                let sub = format!("{path}[{i}]");
                if !same(wv, gv) {
                    // Arrays match exactly; name the first item that differs.
                    let before = found.len();
                    contains(wv, gv, &sub, found);
                    if found.len() == before {
                        found.push((sub, wv.clone(), gv.clone()));
                    }
                }
            }
        }
        (Value::Array(w), Value::Array(g)) if w.len() != g.len() => {
            found.push((path.to_owned(), want.clone(), got.clone()));
        }
        (w, g) if same(w, g) => {}
        _ => found.push((path.to_owned(), want.clone(), got.clone())),
    }
}

/// Equal as JSON, numbers by value (`1` and `1.0` are the same amount).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// How many matches a verification wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    pub at_least: usize,
    pub at_most: Option<usize>,
}

pub const EXPECT_KEYS: &[&str] = &["count", "at_least", "at_most"];

impl Expect {
    /// `count`, or `at_least` and/or `at_most`; neither means at least once.
    pub fn parse(m: &Map<String, Value>) -> Result<Expect, Vec<Violation>> {
        let num = |k: &str| -> Result<Option<usize>, Violation> {
            match m.get(k) {
                None => Ok(None),
                Some(v) => v
                    .as_u64()
                    .map(|n| Some(n as usize))
                    .ok_or_else(|| violation(&format!("/{k}"), "expected a whole number")),
            }
        };
        let (count, least, most) = match (num("count"), num("at_least"), num("at_most")) {
            (Ok(c), Ok(l), Ok(m)) => (c, l, m),
            (c, l, m) => return Err([c.err(), l.err(), m.err()].into_iter().flatten().collect()),
        };
        match (count, least, most) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                Err(vec![violation("/count", "give count, or at_least and/or at_most, not both")])
            }
            (Some(n), None, None) => Ok(Expect { at_least: n, at_most: Some(n) }),
            (None, l, m) => Ok(Expect { at_least: l.unwrap_or(if m.is_some() { 0 } else { 1 }), at_most: m }),
        }
    }

    pub fn holds(&self, n: usize) -> bool {
        n >= self.at_least && self.at_most.is_none_or(|m| n <= m)
    }

    /// As the answer shows it: `{"count": 2}`, `{"at_least": 1}`, …
    pub fn describe(&self) -> Value {
        match self.at_most {
            Some(m) if m == self.at_least => json!({"count": m}),
            Some(m) if self.at_least > 0 => json!({"at_least": self.at_least, "at_most": m}),
            Some(m) => json!({"at_most": m}),
            None => json!({"at_least": self.at_least}),
        }
    }
}

/// A short account of a request, for near misses and matches.
pub fn summary(e: &Entry) -> Value {
    json!({
        "id": e.id,
        "time": super::iso_ms(e.at_ms),
        "method": e.method,
        "path": e.path,
        "query": super::query_object(&e.query),
        "route": e.route,
        "status": e.status,
    })
}

/// The (up to 3) entries closest to `p` that do not match it, each with every
/// difference; the fewest differences first, the newest first among equals.
pub fn near_misses<'e>(p: &Pattern, entries: impl Iterator<Item = &'e Entry>) -> Vec<Value> {
    let mut scored: Vec<(usize, usize, &Entry, Vec<Difference>)> = entries
        .enumerate()
        .filter_map(|(i, e)| {
            let d = p.differences(e, false);
            // A different method or path weighs more than a different value.
            let weight =
                d.iter().map(|d| if matches!(d.field.as_str(), "method" | "path" | "route") { 2 } else { 1 }).sum();
            (!d.is_empty()).then_some((weight, i, e, d))
        })
        .collect();
    scored.sort_by_key(|(w, i, _, _)| (*w, *i));
    scored.into_iter().take(3).map(|(_, _, e, d)| json!({"request": summary(e), "differences": d})).collect()
}

/// The filters of `GET /system/requests`, read from its query string.
#[derive(Debug, Default)]
pub struct Filter {
    pub method: Option<String>,
    pub path: Option<String>,
    pub path_prefix: Option<String>,
    pub route: Option<String>,
    /// A code (`404`) or a class (`4xx`): the range it covers.
    pub status: Option<(u16, u16)>,
    pub since_ms: Option<i64>,
    pub limit: usize,
    pub offset: usize,
}

pub const FILTER_KEYS: &[&str] =
    &["method", "path", "path_prefix", "route", "status", "since", "limit", "offset", "namespace"];

impl Filter {
    pub fn parse(query: &str, now_ms: i64) -> Result<Filter, Vec<Violation>> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(query).map_err(|e| vec![violation("/", format!("not a query string: {e}"))])?;
        let mut f = Filter { limit: 100, ..Filter::default() };
        let mut problems = Vec::new();
        for (k, v) in pairs {
            let at = format!("?{k}");
            match k.as_str() {
                "method" => f.method = Some(v.to_ascii_uppercase()),
                "path" => f.path = Some(v),
                "path_prefix" => f.path_prefix = Some(v),
                "route" => f.route = Some(v),
                "status" => {
                    let class =
                        v.strip_suffix("xx").and_then(|d| d.parse::<u16>().ok()).filter(|d| (1..=5).contains(d));
                    match (class, v.parse::<u16>()) {
                        (Some(d), _) => f.status = Some((d * 100, d * 100 + 99)),
                        (None, Ok(n)) if (100..=599).contains(&n) => f.status = Some((n, n)),
                        _ => problems.push(violation(
                            &at,
                            format!("{v:?}: expected a status such as 404 or a class such as 4xx"),
                        )),
                    }
                }
                "since" => match parse_since(&v, now_ms) {
                    Ok(ms) => f.since_ms = Some(ms),
                    Err(e) => problems.push(violation(&at, e)),
                },
                "limit" | "offset" => match v.parse::<usize>() {
                    Ok(n) if k == "limit" => f.limit = n.min(10_000),
                    Ok(n) => f.offset = n,
                    Err(_) => problems.push(violation(&at, format!("{v:?}: expected a whole number"))),
                },
                "namespace" => {}
                _ => problems
                    .push(violation(&at, format!("unknown parameter; expected one of {}", FILTER_KEYS.join(", ")))),
            }
        }
        if problems.is_empty() { Ok(f) } else { Err(problems) }
    }

    pub fn matches(&self, e: &Entry) -> bool {
        self.method.as_ref().is_none_or(|m| *m == *e.method)
            && self.path.as_ref().is_none_or(|p| *p == e.path)
            && self.path_prefix.as_ref().is_none_or(|p| e.path.starts_with(p.as_str()))
            && self.route.as_ref().is_none_or(|r| e.route.as_deref() == Some(r.as_str()))
            && self.status.is_none_or(|(lo, hi)| (lo..=hi).contains(&e.status))
            && self.since_ms.is_none_or(|s| e.at_ms >= s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(method: &str, path: &str, query: &str, body: Value) -> Entry {
        let body = body.to_string();
        Entry {
            method: method.to_owned().into(),
            path: path.into(),
            query: query.into(),
            body_bytes: body.len(),
            body,
            headers: [("x-tenant", "acme")].into_iter().collect(),
            route: Some("/orders".into()),
            ..Entry::default()
        }
    }

    fn pattern(v: Value) -> Result<Pattern, Vec<Violation>> {
        Pattern::parse(v.as_object().unwrap(), EXPECT_KEYS, 0)
    }

    #[test]
    fn patterns_match_every_part() {
        let e =
            entry("POST", "/orders", "sku=x&n=2", json!({"sku": "x", "items": [{"sku": "a", "n": 1}], "note": "hi"}));
        for ok in [
            json!({"method": "post", "path": "/orders"}),
            json!({"path_pattern": "/ord.*"}),
            json!({"route": "/orders", "query": {"n": 2}}),
            json!({"headers": {"X-Tenant": "acme"}}),
            json!({"body": {"sku": "x", "items": [{"sku": "a", "n": 1.0}]}}),
            json!({"body_json_path": {"$.items[0].sku": "a", "note": "hi", "$['sku']": "x"}}),
        ] {
            assert!(pattern(ok.clone()).unwrap().matches(&e), "{ok}");
        }
        for bad in [
            json!({"method": "GET"}),
            json!({"path": "/order"}),
            json!({"path_pattern": "/ord"}),
            json!({"query": {"n": 3}}),
            json!({"headers": {"x-tenant": "other"}}),
            json!({"body": {"items": [{"sku": "a"}]}}),
            json!({"body_json_path": {"$.items[1].sku": "a"}}),
        ] {
            assert!(!pattern(bad.clone()).unwrap().matches(&e), "{bad}");
        }
    }

    #[test]
    fn differences_name_the_field() {
        let e = entry("GET", "/orders/7", "", json!({"type": "minor", "items": [{"sku": "b"}]}));
        let p = pattern(
            json!({"method": "POST", "path": "/orders/8", "body": {"type": "important", "items": [{"sku": "a"}]}}),
        )
        .unwrap();
        let d = p.differences(&e, false);
        let fields: Vec<&str> = d.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["method", "path", "body $.type", "body $.items[0].sku"]);
        assert_eq!(d[1].why.as_deref(), Some("differs at segment 2: `7` vs `8`"));
        assert_eq!(d[2].expected, json!("important"));
        assert_eq!(d[2].actual, json!("minor"));
    }

    #[test]
    fn bad_patterns_say_where() {
        let problems = pattern(json!({"methd": "GET", "path": "orders", "body_json_path": {"$..x": 1}})).unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["/methd", "/path", "/body_json_path/$..x"]);
        assert!(pattern(json!({"path": "/a", "route": "/a"})).is_err());
        assert!(Expect::parse(json!({"count": 1, "at_least": 1}).as_object().unwrap()).is_err());
    }

    #[test]
    fn expectations_and_filters() {
        let e = |v: Value| Expect::parse(v.as_object().unwrap()).unwrap();
        assert!(e(json!({})).holds(1) && !e(json!({})).holds(0));
        assert!(e(json!({"count": 2})).holds(2) && !e(json!({"count": 2})).holds(3));
        assert!(e(json!({"at_most": 1})).holds(0));
        assert_eq!(e(json!({"at_most": 1})).describe(), json!({"at_most": 1}));
        let f = Filter::parse("status=4xx&method=get&since=10m", 600_000).unwrap();
        assert_eq!((f.status, f.method.as_deref(), f.since_ms), (Some((400, 499)), Some("GET"), Some(0)));
        assert!(Filter::parse("status=6xx", 0).is_err());
        assert!(Filter::parse("sttus=404", 0).is_err());
    }
}
