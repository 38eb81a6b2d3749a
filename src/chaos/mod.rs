//! Chaos: breaking things on purpose, per namespace, seeded and recorded.
//!
//! [`delay`] is the delay vocabulary profiles and rules share. [`Chaos`] holds the run
//! time rules (`/system/chaos`): each matches requests of one namespace (method, path
//! or template, prefix, endpoint, a header) and injects a delay, a canned answer (a 503
//! with `Retry-After`, say), a fault inside the persistence action (a lost
//! compare-and-set, a store that is down) or a rate limit. Rules live in the namespace
//! registry's store, so every instance on one Redis applies the same ones (each
//! instance re-reads them every [`REFRESH`]); a rule's decisions come from its seed and
//! the number of the matching request, counted in that store, so a seed replays the
//! same injections whichever instance takes each request. With no rules the cost is
//! one atomic load.

pub mod delay;

pub use delay::{Delay, Dribble, Fault};

use crate::persistence::rules::Violation;
use crate::routing::PathTemplate;
use crate::store::{Cond, ListQuery, Store, StoreError, Transaction, Ttl, Write};
use crate::template::iso_ms;
use arc_swap::ArcSwap;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often an instance re-reads the rules other instances may have changed.
pub const REFRESH: Duration = Duration::from_millis(500);
/// The registry's entity type for rules.
const RULES: &str = "chaos";

/// A fault inside the persistence action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFault {
    /// As a lost compare-and-set: the endpoint's 409 (or 412 under `If-Match`), nothing written.
    Conflict,
    /// As a backend that is down: 503, nothing written.
    Unavailable,
}

/// A canned answer: status, headers, body.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

enum PathMatch {
    Exact(String),
    Template(PathTemplate),
}

/// A rule as the requests see it.
struct Rule {
    id: Arc<str>,
    /// The rule as `GET /system/chaos` shows it.
    shown: Value,
    method: Option<String>,
    path: Option<PathMatch>,
    path_prefix: Option<String>,
    route: Option<String>,
    headers: Vec<(String, String)>,
    probability: f64,
    seed: u64,
    times: Option<u64>,
    expires_ms: Option<i64>,
    delay: Option<Delay>,
    canned: Option<Canned>,
    store: Option<StoreFault>,
    /// At most this many requests per this many ms, then 429.
    rate: Option<(u64, u64)>,
    fault: Option<Fault>,
}

impl Rule {
    /// Decisions need the matching request's number.
    fn counted(&self) -> bool {
        self.probability < 1.0
            || self.times.is_some()
            || matches!(self.delay, Some(Delay::Uniform(..) | Delay::LogNormal { .. }))
    }

    fn matches(&self, method: &str, path: &str, route: &str, header: &dyn Fn(&str) -> Option<String>) -> bool {
        self.method.as_ref().is_none_or(|m| m == method)
            && self.path.as_ref().is_none_or(|p| match p {
                PathMatch::Exact(p) => p == path,
                PathMatch::Template(t) => t.matches_path(path),
            })
            && self.path_prefix.as_ref().is_none_or(|p| path.starts_with(p.as_str()))
            && self.route.as_ref().is_none_or(|r| r == route)
            && self.headers.iter().all(|(k, v)| header(k).as_deref() == Some(v.as_str()))
    }
}

/// What a rule injected into one request.
#[derive(Debug, Clone, Default)]
pub struct Injection {
    pub rule: String,
    pub delay: Option<Duration>,
    pub canned: Option<Canned>,
    pub store: Option<StoreFault>,
    /// Over the rate limit: seconds until it resets.
    pub rate_limited: Option<u64>,
    pub fault: Option<Fault>,
}

impl Injection {
    /// Each kind injected (for the journal, the access log and the metrics).
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut k = Vec::new();
        if self.delay.is_some() {
            k.push("delay");
        }
        if self.canned.is_some() {
            k.push("status");
        }
        match self.store {
            Some(StoreFault::Conflict) => k.push("store_conflict"),
            Some(StoreFault::Unavailable) => k.push("store_unavailable"),
            None => {}
        }
        if self.rate_limited.is_some() {
            k.push("rate_limit");
        }
        if let Some(f) = self.fault {
            k.push(f.name());
        }
        k
    }

    /// As the journal records it.
    pub fn describe(&self) -> Vec<Value> {
        self.kinds().into_iter().map(|kind| json!({"kind": kind, "rule": self.rule})).collect()
    }
}

/// Every namespace's rules on one server.
pub struct Chaos {
    store: Arc<dyn Store>,
    /// Namespace (`""`: the default one) → its rules, in creation order.
    rules: ArcSwap<HashMap<String, Vec<Arc<Rule>>>>,
    /// Rate-limit windows, per rule: (window start ms, requests in it). Per instance.
    windows: Mutex<HashMap<Arc<str>, (i64, u64)>>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn violation(path: &str, message: impl Into<String>) -> Violation {
    Violation { path: path.to_owned(), message: message.into() }
}

/// The keys a rule may have, and its `match` and `action`.
const RULE_KEYS: &[&str] = &["match", "probability", "seed", "times", "ttl_seconds", "action"];
const MATCH_KEYS: &[&str] = &["method", "path", "path_prefix", "route", "header"];
const ACTION_KEYS: &[&str] = &["delay", "status", "body", "headers", "fault", "store", "rate_limit"];

fn unknown(m: &Map<String, Value>, at: &str, keys: &[&str], problems: &mut Vec<Violation>) {
    for k in m.keys().filter(|k| !keys.contains(&k.as_str())) {
        problems.push(violation(&format!("{at}/{k}"), format!("unknown key; expected one of {}", keys.join(", "))));
    }
}

/// Compiles a stored rule; `Err` lists every problem with its JSON pointer.
fn compile(def: &Value) -> Result<Rule, Vec<Violation>> {
    let mut problems = Vec::new();
    let m = def.as_object().ok_or_else(|| vec![violation("/", "expected an object")])?;
    unknown(
        m,
        "",
        &[RULE_KEYS, &["id", "namespace", "created_at", "expires_at_ms", "seed_chosen"]].concat(),
        &mut problems,
    );
    let text = |v: &Value, at: &str, problems: &mut Vec<Violation>| -> Option<String> {
        match v.as_str() {
            Some(s) if !s.is_empty() => Some(s.to_owned()),
            _ => {
                problems.push(violation(at, "expected a non-empty string"));
                None
            }
        }
    };
    let empty = Map::new();
    let matcher = match m.get("match") {
        None => &empty,
        Some(Value::Object(mm)) => mm,
        Some(_) => {
            problems.push(violation("/match", "expected an object"));
            &empty
        }
    };
    unknown(matcher, "/match", MATCH_KEYS, &mut problems);
    let method =
        matcher.get("method").and_then(|v| text(v, "/match/method", &mut problems)).map(|s| s.to_ascii_uppercase());
    let path = matcher.get("path").and_then(|v| text(v, "/match/path", &mut problems)).and_then(|p| {
        if p.contains('{') {
            match PathTemplate::parse(&p) {
                Ok(t) => Some(PathMatch::Template(t)),
                Err(e) => {
                    problems.push(violation("/match/path", e));
                    None
                }
            }
        } else {
            Some(PathMatch::Exact(p))
        }
    });
    let path_prefix = matcher.get("path_prefix").and_then(|v| text(v, "/match/path_prefix", &mut problems));
    let route = matcher.get("route").and_then(|v| text(v, "/match/route", &mut problems));
    let mut headers = Vec::new();
    match matcher.get("header") {
        None => {}
        Some(Value::Object(h)) => {
            for (k, v) in h {
                match v.as_str() {
                    Some(v) => headers.push((k.to_ascii_lowercase(), v.to_owned())),
                    None => problems.push(violation(&format!("/match/header/{k}"), "expected a string")),
                }
            }
        }
        Some(_) => problems.push(violation("/match/header", "expected an object of name: value")),
    }
    let probability = match m.get("probability") {
        None => 1.0,
        Some(v) => match v.as_f64().filter(|p| (0.0..=1.0).contains(p)) {
            Some(p) => p,
            None => {
                problems.push(violation("/probability", "expected a number from 0 to 1"));
                1.0
            }
        },
    };
    let whole = |k: &str, min: u64, problems: &mut Vec<Violation>| match m.get(k) {
        None => None,
        Some(v) => match v.as_u64().filter(|n| *n >= min) {
            Some(n) => Some(n),
            None => {
                problems.push(violation(&format!("/{k}"), format!("expected a whole number of at least {min}")));
                None
            }
        },
    };
    let seed = whole("seed", 0, &mut problems).unwrap_or(0);
    let times = whole("times", 1, &mut problems);
    let _ = whole("ttl_seconds", 1, &mut problems);
    let expires_ms = m.get("expires_at_ms").and_then(Value::as_i64);
    let action = match m.get("action") {
        Some(Value::Object(a)) if !a.is_empty() => a.clone(),
        _ => {
            problems.push(violation(
                "/action",
                format!("expected an object with one or more of {}", ACTION_KEYS.join(", ")),
            ));
            Map::new()
        }
    };
    unknown(&action, "/action", ACTION_KEYS, &mut problems);
    let delay = action.get("delay").and_then(|d| match Delay::parse(d) {
        Ok(d) => Some(d),
        Err(found) => {
            problems.push(violation("/action/delay", format!("{found}; expected {}", delay::EXPECTED)));
            None
        }
    });
    let canned = match action.get("status") {
        None => {
            for k in ["body", "headers"] {
                if action.contains_key(k) {
                    problems.push(violation(&format!("/action/{k}"), "needs a status to go with"));
                }
            }
            None
        }
        Some(s) => {
            let status = s.as_u64().filter(|s| (200..=599).contains(s)).map(|s| s as u16);
            if status.is_none() {
                problems.push(violation("/action/status", "expected a status from 200 to 599"));
            }
            let mut hs = Vec::new();
            match action.get("headers") {
                None => {}
                Some(Value::Object(h)) => {
                    for (k, v) in h {
                        let ok = !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
                        match (ok, crate::json::to_text(v)) {
                            (true, v) if !v.contains(['\r', '\n']) => hs.push((k.clone(), v)),
                            _ => problems.push(violation(
                                &format!("/action/headers/{k}"),
                                "expected a header name and a one-line value",
                            )),
                        }
                    }
                }
                Some(_) => problems.push(violation("/action/headers", "expected an object of name: value")),
            }
            status.map(|status| Canned { status, headers: hs, body: action.get("body").cloned() })
        }
    };
    let fault = action.get("fault").and_then(|f| match Fault::parse(f) {
        Ok(f) => Some(f),
        Err(found) => {
            problems.push(violation("/action/fault", format!("{found}; expected {}", Fault::NAMES)));
            None
        }
    });
    let store = match action.get("store").map(|v| v.as_str()) {
        None => None,
        Some(Some("conflict")) => Some(StoreFault::Conflict),
        Some(Some("unavailable")) => Some(StoreFault::Unavailable),
        Some(_) => {
            problems.push(violation("/action/store", "expected \"conflict\" or \"unavailable\""));
            None
        }
    };
    let rate = match action.get("rate_limit") {
        None => None,
        Some(Value::Object(r)) => {
            let n = r.get("requests").and_then(Value::as_u64);
            let per = r.get("per_seconds").and_then(Value::as_f64).filter(|s| *s > 0.0 && *s <= 86_400.0);
            match (n, per, r.len()) {
                (Some(n), Some(per), 2) => Some((n, (per * 1000.0) as u64)),
                _ => {
                    problems.push(violation("/action/rate_limit", "expected {\"requests\": n, \"per_seconds\": s}"));
                    None
                }
            }
        }
        Some(_) => {
            problems.push(violation("/action/rate_limit", "expected {\"requests\": n, \"per_seconds\": s}"));
            None
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let id: Arc<str> = m.get("id").and_then(Value::as_str).unwrap_or("").into();
    let mut shown = def.clone();
    if let Some(o) = shown.as_object_mut() {
        if let Some(ms) = o.remove("expires_at_ms").and_then(|v| v.as_i64()) {
            o.insert("expires_at".into(), json!(iso_ms(ms)));
        }
        o.remove("seed_chosen");
    }
    Ok(Rule {
        id,
        shown,
        method,
        path,
        path_prefix,
        route,
        headers,
        probability,
        seed,
        times,
        expires_ms,
        delay,
        canned,
        store,
        rate,
        fault,
    })
}

impl Chaos {
    /// Rules kept in `store` (the namespace registry's).
    pub fn new(store: Arc<dyn Store>) -> Chaos {
        Chaos { store, rules: ArcSwap::from_pointee(HashMap::new()), windows: Mutex::default() }
    }

    /// Re-reads every rule (other instances may have changed them); drops expired ones.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let page = self.store.list(RULES, &ListQuery::default()).await?;
        let now = now_ms();
        let mut map: HashMap<String, Vec<Arc<Rule>>> = HashMap::new();
        for def in page.items {
            let Ok(rule) = compile(&def) else { continue };
            if rule.expires_ms.is_some_and(|e| e <= now) {
                let _ = self.remove(&rule.id).await;
                continue;
            }
            let ns = def.get("namespace").and_then(Value::as_str).unwrap_or("").to_owned();
            map.entry(ns).or_default().push(Arc::new(rule));
        }
        self.rules.store(Arc::new(map));
        Ok(())
    }

    async fn remove(&self, id: &str) -> Result<bool, StoreError> {
        let w = Write::Delete { entity: RULES.into(), id: id.to_owned(), cond: Cond::Present };
        match self.store.commit(Transaction { writes: vec![w] }).await {
            Ok(_) => Ok(true),
            Err(StoreError::ConditionFailed { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Adds a rule to `namespace` (`None`: the default one): checked, given an id and,
    /// without one, a seed; answers the rule as listed.
    pub async fn add(&self, namespace: Option<&str>, body: &Value) -> Result<Value, ChaosError> {
        let mut def = body.clone();
        let Some(m) = def.as_object_mut() else {
            return Err(ChaosError::Invalid(vec![violation("/", "expected an object")]));
        };
        for k in ["id", "namespace", "created_at", "expires_at_ms", "seed_chosen"] {
            if m.contains_key(k) {
                return Err(ChaosError::Invalid(vec![violation(&format!("/{k}"), "is set by the server")]));
            }
        }
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        m.insert("id".into(), json!(id));
        m.insert("namespace".into(), json!(namespace));
        m.insert("created_at".into(), json!(iso_ms(now_ms())));
        if !m.contains_key("seed") {
            m.insert("seed".into(), json!(rand::random::<u32>()));
            m.insert("seed_chosen".into(), json!(true));
        }
        if let Some(ttl) = m.get("ttl_seconds").and_then(Value::as_u64) {
            m.insert("expires_at_ms".into(), json!(now_ms() + ttl as i64 * 1000));
        }
        let rule = compile(&def).map_err(ChaosError::Invalid)?;
        let w = Write::Put { entity: RULES.into(), id, value: def, ttl: Ttl::Persist, cond: Cond::Absent };
        self.store.commit(Transaction { writes: vec![w] }).await?;
        self.refresh().await?;
        Ok(rule.shown)
    }

    /// The namespace's rules, as listed.
    pub async fn list(&self, namespace: Option<&str>) -> Result<Vec<Value>, StoreError> {
        self.refresh().await?;
        let rules = self.rules.load();
        Ok(rules.get(namespace.unwrap_or("")).map(|r| r.iter().map(|r| r.shown.clone()).collect()).unwrap_or_default())
    }

    /// Removes one of the namespace's rules; whether it existed.
    pub async fn delete(&self, namespace: Option<&str>, id: &str) -> Result<bool, StoreError> {
        self.refresh().await?;
        let owned = self.rules.load().get(namespace.unwrap_or("")).is_some_and(|r| r.iter().any(|r| &*r.id == id));
        let removed = owned && self.remove(id).await?;
        self.refresh().await?;
        Ok(removed)
    }

    /// Removes all of the namespace's rules; how many there were.
    pub async fn clear(&self, namespace: Option<&str>) -> Result<usize, StoreError> {
        self.refresh().await?;
        let ids: Vec<Arc<str>> = self
            .rules
            .load()
            .get(namespace.unwrap_or(""))
            .map(|r| r.iter().map(|r| Arc::clone(&r.id)).collect())
            .unwrap_or_default();
        let mut n = 0;
        for id in ids {
            n += usize::from(self.remove(&id).await?);
        }
        self.refresh().await?;
        Ok(n)
    }

    /// What the first rule of `namespace` that matches the request injects, if any.
    /// A store that does not answer the rule's counter injects nothing.
    pub async fn decide(
        &self,
        namespace: Option<&str>,
        method: &str,
        path: &str,
        route: &str,
        header: &dyn Fn(&str) -> Option<String>,
    ) -> Option<Injection> {
        let rules = self.rules.load();
        if rules.is_empty() {
            return None;
        }
        let list = rules.get(namespace.unwrap_or(""))?;
        let now = now_ms();
        for rule in list {
            if rule.expires_ms.is_some_and(|e| e <= now) || !rule.matches(method, path, route, header) {
                continue;
            }
            let n = if rule.counted() {
                match self.store.next_id(&format!("chaos-{}", rule.id)).await {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::debug!(error = %crate::telemetry::error_chain(&e), "chaos: no counter, nothing injected");
                        continue;
                    }
                }
            } else {
                0
            };
            if rule.probability < 1.0 && delay::unit(rule.seed, n) >= rule.probability {
                continue;
            }
            if let Some(times) = rule.times {
                let hits = if rule.probability < 1.0 {
                    self.store.next_id(&format!("chaos-{}-hits", rule.id)).await.unwrap_or(u64::MAX)
                } else {
                    n
                };
                if hits > times {
                    // Retired: gone for every instance.
                    let _ = self.remove(&rule.id).await;
                    let _ = self.refresh().await;
                    continue;
                }
            }
            let mut injection = Injection { rule: rule.id.to_string(), ..Injection::default() };
            if let Some((limit, per_ms)) = rule.rate {
                let mut windows = crate::store::lock(&self.windows);
                let w = windows.entry(Arc::clone(&rule.id)).or_insert((now, 0));
                if now - w.0 >= per_ms as i64 {
                    *w = (now, 0);
                }
                w.1 += 1;
                if w.1 <= limit {
                    continue;
                }
                let left_ms = (w.0 + per_ms as i64 - now).max(0) as u64;
                injection.rate_limited = Some(left_ms.div_ceil(1000).max(1));
            }
            injection.delay = rule.delay.map(|d| {
                if rule.counted() {
                    d.sample(delay::unit(rule.seed ^ 0xD1, n), delay::unit(rule.seed ^ 0xD2, n))
                } else {
                    d.sample_any()
                }
            });
            injection.canned = rule.canned.clone();
            injection.store = rule.store;
            injection.fault = rule.fault;
            return Some(injection);
        }
        None
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChaosError {
    #[error("the chaos rule is invalid ({} problem{})", .0.len(), if .0.len() == 1 { "" } else { "s" })]
    Invalid(Vec<Violation>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_rules_are_refused_with_every_problem() {
        let rule =
            json!({"match": {"methd": "GET"}, "probability": 2, "action": {"status": 99, "store": "gone", "sleep": 1}});
        let problems = compile(&rule).err().unwrap();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["/match/methd", "/probability", "/action/sleep", "/action/status", "/action/store"]);
        assert!(compile(&json!({"action": {}})).is_err(), "an action does something");
        assert!(compile(&json!({"action": {"status": 503, "headers": {"Retry-After": 2}}})).is_ok());
    }
}
