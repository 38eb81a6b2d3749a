//! One request through the whole pipeline, with no server types: route, authenticate,
//! parse and validate the body, choose a response rule, run its persistence action,
//! render. [`error`] is the table that turns every failure into a status, a code and a
//! body. The HTTP layer (the `http` module) only converts at the edges.
//!
//! A [`Gateway`] is what one loaded profile serves: its router, its read cache and its
//! OpenAPI document, over the store. A reload builds a new one over the same store.

mod error;

pub use error::ApiError;

use crate::auth::{AuthOutcome, Credentials};
use crate::namespaces::{Namespaces, Space};
use crate::openapi::SystemOp;
use crate::persistence::cache::ReadCache;
use crate::persistence::rules::Violation;
use crate::persistence::{Action, ActionError, ActionInput, Outcome, Persist, Recovery};
use crate::profile::{Endpoint, NotFoundRule, Profile, ResponseRule, StatusSpec};
use crate::routing::{Inputs, Miss, RouteMatch, Router, Unmatched};
use crate::store::Store;
use crate::template::{RenderCtx, RequestData};
use bytes::Bytes;
use chrono::Utc;
use serde_json::Value;
use std::sync::Arc;

/// A request as the gateway sees it.
#[derive(Debug, Clone, Default)]
pub struct RequestCtx {
    /// Upper-case method.
    pub method: String,
    /// The path without the query string, still percent-encoded.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// Headers with lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Credentials for RequestCtx {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn query_param(&self, name: &str) -> Option<&str> {
        // Only api keys in the query use this; they are plain tokens in practice.
        crate::namespaces::query_value(&self.query, name)
    }
}

/// What to send back.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

/// What the access log and the metrics learn about a request the gateway handled.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// The matched endpoint's path template; `None` when no endpoint matched.
    pub route: Option<Arc<str>>,
    /// The persistence action that ran last, e.g. `create users`.
    pub action: Option<Arc<str>>,
    /// Time spent in persistence actions (store round trips included).
    pub persistence: std::time::Duration,
    /// The namespace the request named; `None` for the default one.
    pub namespace: Option<Arc<str>>,
    /// With `logging.bodies`: the bodies, secrets masked, cut to the configured size.
    pub request_body: Option<String>,
    pub response_body: Option<String>,
    /// The response rule chosen (its index in the endpoint's `responses`).
    pub rule: Option<usize>,
    /// No endpoint (or no response rule) served it: why, with the closest endpoints.
    pub unmatched: Option<Box<Unmatched>>,
    /// The namespace's clock when the request was served, in epoch ms.
    pub now_ms: Option<i64>,
    /// What chaos rules injected: `{"kind", "rule"}` each.
    pub injected: Vec<Value>,
    /// Wait this long before answering (the profile's delays and a rule's).
    pub delay: Option<std::time::Duration>,
    /// Break the connection instead of answering (the profile's or a rule's `fault`).
    pub fault: Option<crate::chaos::Fault>,
    /// Send the body in pieces.
    pub dribble: Option<crate::chaos::Dribble>,
}

/// The profile's endpoints over a store. Shared by every worker.
pub struct Gateway {
    profile: Arc<Profile>,
    store: Arc<dyn Store>,
    /// The namespaces next to the default data (they outlive a reload).
    namespaces: Arc<Namespaces>,
    router: Router,
    cache: ReadCache,
    /// The OpenAPI 3.1 document of the profile and the `/system` API, serialised once.
    openapi: Bytes,
}

impl Gateway {
    /// Serves `profile` over `store`; `system` describes the admin API the HTTP layer
    /// registers, for the OpenAPI document.
    pub fn new(profile: Arc<Profile>, store: Arc<dyn Store>, namespaces: Arc<Namespaces>, system: &[SystemOp]) -> Self {
        let router = Router::new(profile.endpoints.iter().map(|e| (e.method.clone(), e.path.clone())).collect());
        let doc = crate::openapi::document(&profile, system);
        let openapi = Bytes::from(serde_json::to_vec(&doc).expect("JSON values always serialise"));
        Gateway { profile, store, namespaces, router, cache: ReadCache::default(), openapi }
    }

    pub fn namespaces(&self) -> &Namespaces {
        &self.namespaces
    }

    /// The namespace a request names (created on first use), or `None` for the
    /// default one; `from` names a snapshot to fork a new one from.
    pub async fn space(&self, name: Option<&str>, from: Option<&str>) -> Result<Option<Arc<Space>>, ApiError> {
        let Some(name) = name else { return Ok(None) };
        let profile = &self.profile;
        let space = self.namespaces.get_or_create(name, from, self.store.as_ref(), || profile.initial_data()).await?;
        Ok(Some(space))
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The OpenAPI document, as served at `/openapi.json`.
    pub fn openapi(&self) -> &Bytes {
        &self.openapi
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The methods the profile serves at `path`, for CORS preflights.
    pub fn methods(&self, path: &str) -> Vec<String> {
        let methods = self.router.methods(path);
        if methods.is_empty() && self.profile.unprefixed {
            return self.router.methods(&format!("{}{}", self.profile.info.root_path, path));
        }
        methods
    }

    /// This instance's read cache.
    pub fn cache(&self) -> &ReadCache {
        &self.cache
    }

    /// Answers one request; `trace` says what happened, error or not.
    pub async fn handle(&self, req: RequestCtx, trace: &mut Trace) -> Result<Reply, ApiError> {
        let mut found = self.router.find(&req.method, &req.path);
        if matches!(found, RouteMatch::NotFound) && self.profile.unprefixed {
            // `/items/42` reaches `/api/v1/items/42`, as in Mock-and-Roll.
            found = self.router.find(&req.method, &format!("{}{}", self.profile.info.root_path, req.path));
        }
        let settings = self.namespaces.settings();
        let named = crate::namespaces::requested(settings, req.header(&settings.header), &req.query);
        let (index, params) = match found {
            RouteMatch::Found(i, params) => (i, params),
            RouteMatch::MethodNotAllowed(allowed) => {
                self.unmatched(trace, "method_not_allowed", &req, named);
                return Err(ApiError::MethodNotAllowed { method: req.method, allowed });
            }
            RouteMatch::NotFound => {
                let guess = self.unmatched(trace, "no_route", &req, named);
                return Err(ApiError::NoRoute { method: req.method, path: req.path, guess });
            }
        };
        let ep = &self.profile.endpoints[index];
        trace.route = Some(Arc::clone(&ep.route));
        let space = self.space(named, req.header(crate::namespaces::FROM_HEADER)).await?;
        trace.namespace = space.as_ref().map(|s| Arc::clone(&s.name));
        let mut chaos_delay = std::time::Duration::ZERO;
        let mut chaos_fault = None;
        trace.delay = ep.delay.or(self.profile.latency).map(|d| d.sample_any());
        trace.fault = ep.fault;
        trace.dribble = ep.dribble;
        let header = |h: &str| req.header(h).map(str::to_owned);
        let injection = self.namespaces.chaos().decide(named, &req.method, &req.path, ep.route.as_ref(), &header).await;
        let mut store_fault = None;
        if let Some(inj) = injection {
            trace.injected = inj.describe();
            if let Some(d) = inj.delay {
                chaos_delay = d;
                trace.delay = Some(trace.delay.unwrap_or_default() + d);
            }
            if inj.fault.is_some() {
                chaos_fault = inj.fault;
                trace.fault = inj.fault;
            }
            if let Some(retry_after) = inj.rate_limited {
                return Err(ApiError::RateLimited { retry_after });
            }
            if let Some(c) = inj.canned {
                return Ok(Reply { status: c.status, headers: c.headers, body: c.body });
            }
            store_fault = inj.store.map(|f| (f, inj.rule));
        }
        let (store, cache) = match &space {
            Some(s) => (s.store.as_ref(), &s.cache),
            None => (self.store.as_ref(), &self.cache),
        };
        let session = match self.authenticate(ep, &req, store).await {
            Ok(session) => session,
            Err(e) => {
                if matches!(e, ApiError::Auth(_)) {
                    let why = vec![format!("authentication failed: {e}")];
                    let miss = Miss {
                        method: ep.method.clone(),
                        route: ep.path.as_str().to_owned(),
                        rule: None,
                        why,
                        distance: 1.0,
                    };
                    trace.unmatched =
                        Some(Box::new(Unmatched { kind: "authentication_failed".into(), closest: vec![miss] }));
                }
                return Err(e);
            }
        };
        let body = parse_body(&req, ep)?;
        let mut violations = Vec::new();
        if !ep.params.is_empty() {
            let header = |h: &str| req.header(h);
            let src = crate::profile::params::Sources { path: &params, query: &req.query, header: &header };
            ep.params.check(&src, &mut violations);
        }
        if let Some(schema) = &ep.schema {
            violations.extend(violations_of(schema, &body));
        }
        if !violations.is_empty() {
            return Err(ApiError::Validation(violations));
        }
        for (lower, name, expected) in &ep.required_headers {
            let received = req.header(lower);
            if received != Some(expected.as_str()) {
                return Err(ApiError::HeaderMismatch {
                    name: name.clone(),
                    expected: expected.clone(),
                    received: received.map(str::to_owned),
                });
            }
        }
        let data = RequestData {
            method: Value::String(req.method),
            body,
            query: Value::Object(crate::json::query_object(&req.query)),
            headers: Value::Object(req.headers.into_iter().map(|(k, v)| (k, Value::String(v))).collect()),
            params: Value::Object(params),
            session,
        };
        if let Some(name) = ep.required_query.iter().find(|q| data.query.get(q.as_str()).is_none()) {
            return Err(ApiError::MissingQueryParameter { name: name.clone() });
        }
        // A Mock-and-Roll `retrieve` answers the entity as stored; its rules answer
        // only a missing one.
        let retrieve = matches!(ep.persistence.as_ref().map(|p| &p.action), Some(Action::Read(r)) if r.retrieve);
        let inputs = Inputs { body: &data.body, query: &data.query, headers: &data.headers, path: &data.params };
        let chosen = if retrieve { None } else { ep.responses.iter().position(|r| r.conditions.matches(&inputs)) };
        let rule = chosen.map(|i| &ep.responses[i]);
        trace.rule = chosen;
        if let Some(d) = rule.and_then(|r| r.delay) {
            trace.delay = Some(d.sample_any() + chaos_delay);
        }
        if let Some(r) = rule {
            // A chaos rule's fault wins over the profile's.
            trace.fault = chaos_fault.or(r.fault).or(ep.fault);
            trace.dribble = r.dribble.or(ep.dribble);
        }
        if rule.is_none() && !ep.responses.is_empty() && !retrieve {
            let closest = closest_rules(ep, &inputs);
            let guess = closest.first().filter(|m| m.distance <= crate::routing::NEAR).cloned().map(Box::new);
            trace.unmatched = Some(Box::new(Unmatched { kind: "no_matching_response".into(), closest }));
            return Err(ApiError::NoMatchingResponse { guess });
        }

        // The namespace's clock, which tests may freeze or move (`/system/clock`).
        let clock = space.as_ref().map_or(self.namespaces.clock(), |s| &s.clock);
        let now_ms = clock.now_i64();
        trace.now_ms = Some(now_ms);
        let now = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_else(Utc::now);
        let input = ActionInput {
            request: &data,
            now,
            engine: &self.profile.engine,
            rules: &self.profile.rules,
            cache,
            response_body: rule.and_then(|r| r.body.as_ref()),
        };
        // A response that is itself an error (a 401 for bad credentials, say) stores nothing.
        let is_error = matches!(rule.map(|r| &r.status), Some(StatusSpec::Fixed(s)) if *s >= 400);
        if let (Some(space), Some(max)) = (&space, self.namespaces.settings().max_entities) {
            let creates =
                ep.persistence.iter().chain(rule.and_then(|r| r.persistence.as_ref())).any(|p| p.action.creates());
            if creates && !is_error {
                let held: usize = crate::admin::counts(store).await.map_err(ActionError::from)?.values().sum();
                if held >= max {
                    return Err(crate::namespaces::NamespaceError::Full { name: space.name.to_string(), max }.into());
                }
            }
        }
        let mut outcome = Outcome { status: 200, ..Outcome::default() };
        let acts = ep.persistence.is_some() || rule.is_some_and(|r| r.persistence.is_some());
        if let Some((fault, rule)) = store_fault {
            if acts && !is_error {
                // Nothing is written: the action fails as the store would make it fail.
                return Err(match fault {
                    crate::chaos::StoreFault::Conflict => {
                        ApiError::InjectedConflict { rule, precondition: req_if_match(&data) }
                    }
                    crate::chaos::StoreFault::Unavailable => ApiError::InjectedUnavailable { rule },
                });
            }
            // An endpoint that stores nothing has no store to break.
            trace.injected.retain(|i| !i["kind"].as_str().is_some_and(|k| k.starts_with("store_")));
        }
        if !is_error {
            let actions = ep.persistence.iter().chain(rule.and_then(|r| r.persistence.as_ref()));
            for persist in actions {
                trace.action = Some(Arc::clone(&persist.label));
                let start = std::time::Instant::now();
                let result = Self::run(persist, store, &input, outcome).await;
                trace.persistence += start.elapsed();
                outcome = match result {
                    Ok(next) => next,
                    Err(e) => return self.answer_failure(ep, e, &data, now),
                };
            }
        }
        render(rule, outcome, &data, now, &self.profile)
    }

    /// Notes in `trace` that no endpoint served the request, with the closest ones;
    /// returns the closest when it is near enough to offer as `did_you_mean`.
    fn unmatched(&self, trace: &mut Trace, kind: &str, req: &RequestCtx, named: Option<&str>) -> Option<Box<Miss>> {
        let mut closest = self.router.closest(&req.method, &req.path, 3);
        if self.profile.unprefixed {
            let prefixed = format!("{}{}", self.profile.info.root_path, req.path);
            closest.extend(self.router.closest(&req.method, &prefixed, 3));
            closest.sort_by(|a, b| a.distance.total_cmp(&b.distance));
            closest.dedup_by(|a, b| a.method == b.method && a.route == b.route);
            closest.truncate(3);
        }
        let guess = closest.first().filter(|m| m.distance <= crate::routing::NEAR).cloned().map(Box::new);
        trace.namespace = named.map(Arc::from);
        trace.unmatched = Some(Box::new(Unmatched { kind: kind.to_owned(), closest }));
        guess
    }

    /// A failed action, unless the endpoint has a response for it: its
    /// `not_found_response` (or a `retrieve`'s fallback rule) for a missing entity, its
    /// 409 rule for a unique conflict (Mock-and-Roll).
    fn answer_failure(
        &self,
        ep: &Endpoint,
        e: ApiError,
        data: &RequestData,
        now: chrono::DateTime<Utc>,
    ) -> Result<Reply, ApiError> {
        let (rule, status) = match (&e, &ep.not_found, ep.conflict) {
            (ApiError::Action(ActionError::NotFound { .. }), Some(NotFoundRule::Own(r)), _) => (r.as_ref(), 404),
            (ApiError::Action(ActionError::NotFound { .. }), Some(NotFoundRule::Rule(i)), _) => {
                (&ep.responses[*i], 404)
            }
            (ApiError::Action(ActionError::UniqueViolation { .. }), _, Some(i)) => (&ep.responses[i], 409),
            _ => return Err(e),
        };
        render(Some(rule), Outcome { status, ..Outcome::default() }, data, now, &self.profile)
    }

    /// Runs the endpoint's checks; a presented session id must name a live session.
    async fn authenticate(&self, ep: &Endpoint, req: &RequestCtx, store: &dyn Store) -> Result<Value, ApiError> {
        match ep.auth.check_all(req)? {
            AuthOutcome::Pass => Ok(Value::Null),
            AuthOutcome::PassWith(session) => Ok(session),
            AuthOutcome::Session { entity, id, otherwise } => {
                match store.get(&entity, &id).await.map_err(ActionError::from)? {
                    Some(session) => Ok(session),
                    None => Err(otherwise.into()),
                }
            }
        }
    }

    async fn run(
        persist: &Persist,
        store: &dyn Store,
        input: &ActionInput<'_>,
        before: Outcome,
    ) -> Result<Outcome, ApiError> {
        let mut next = match persist.action.apply(store, input).await {
            Ok(next) => next,
            Err(e) => match persist.on_error.recover(e) {
                Recovery::Fail(e) => return Err(ApiError::from_action(e, &persist.on_error)),
                // The profile asked for its response even without the results.
                Recovery::Fallback => return Ok(before),
            },
        };
        // Variables of an earlier action stay visible unless the later one sets them.
        for (k, v) in before.vars {
            next.vars.entry(k).or_insert(v);
        }
        Ok(next)
    }
}

/// Whether the request named the version it expects (`If-Match`).
fn req_if_match(data: &RequestData) -> bool {
    data.headers.get("if-match").is_some()
}

/// The endpoint's response rules ordered by how many of their conditions the request
/// failed, each with what it failed (at most 3).
fn closest_rules(ep: &Endpoint, inputs: &Inputs<'_>) -> Vec<Miss> {
    let mut misses: Vec<Miss> = ep
        .responses
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let why = r.conditions.explain(inputs);
            let distance = why.len() as f64;
            Miss { method: ep.method.clone(), route: ep.path.as_str().to_owned(), rule: Some(i), why, distance }
        })
        .collect();
    misses.sort_by(|a, b| a.distance.total_cmp(&b.distance));
    misses.truncate(3);
    misses
}

fn render(
    rule: Option<&ResponseRule>,
    outcome: Outcome,
    data: &RequestData,
    now: chrono::DateTime<Utc>,
    profile: &Profile,
) -> Result<Reply, ApiError> {
    let cx = RenderCtx::new(data, &outcome.vars, now, &profile.engine);
    let status = match rule.map(|r| &r.status) {
        None | Some(StatusSpec::Default) => outcome.status,
        Some(StatusSpec::Fixed(s)) => *s,
        Some(StatusSpec::Template(t)) => {
            let v = t.render(&cx)?;
            let n = match &v {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            };
            n.and_then(|n| u16::try_from(n).ok())
                .filter(|n| crate::profile::FINAL_STATUSES.contains(n))
                .ok_or_else(|| ApiError::BadStatusTemplate { rendered: v.clone() })?
        }
    };
    let mut headers = outcome.headers.clone();
    if let Some(r) = rule {
        for (name, t) in &r.headers {
            headers.push((name.clone(), t.render_string(&cx)?));
        }
    }
    let mut body = match rule.and_then(|r| r.body.as_ref()) {
        Some(b) if !outcome.body_is_final => Some(b.render(&cx)?),
        _ => outcome.body.clone(),
    };
    if let Some(Value::Object(m)) = &mut body {
        for (k, v) in &outcome.inject {
            m.insert(k.clone(), v.clone());
        }
        let echo = rule.is_some_and(|r| r.body.is_some() && !r.mentions_results && !outcome.body_is_final);
        if let Some(created) = outcome.created.as_ref().filter(|_| echo) {
            m.insert(created.id.0.clone(), created.id.1.clone());
            for (k, v) in &created.fields {
                m.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    if let (Some(shape), Some(b)) = (rule.and_then(|r| r.shape.as_ref()), &mut body) {
        shape.apply(b);
    }
    if rule.is_some_and(|r| r.auth_placeholders) {
        let mut picks = std::collections::HashMap::new();
        for (_, value) in headers.iter_mut() {
            *value = profile.auth_values.expand(value, &data.session, &mut picks);
        }
        if let Some(b) = &mut body {
            expand_auth(b, profile, &data.session, &mut picks);
        }
    }
    Ok(Reply { status, headers, body })
}

/// Mock-and-Roll's `${auth.…}` placeholders in every string of a rendered body.
fn expand_auth(
    v: &mut Value,
    profile: &Profile,
    session: &Value,
    picks: &mut std::collections::HashMap<String, usize>,
) {
    match v {
        Value::String(s) if s.contains("${auth.") => *s = profile.auth_values.expand(s, session, picks),
        Value::Array(items) => items.iter_mut().for_each(|i| expand_auth(i, profile, session, picks)),
        Value::Object(m) => m.values_mut().for_each(|i| expand_auth(i, profile, session, picks)),
        _ => {}
    }
}

/// JSON when the content type says so or says nothing; forms become objects of
/// strings; other types are refused on endpoints that read the body.
fn parse_body(req: &RequestCtx, ep: &Endpoint) -> Result<Value, ApiError> {
    if req.body.is_empty() {
        return Ok(Value::Null);
    }
    let content_type = req.header("content-type").unwrap_or("").to_ascii_lowercase();
    let media = content_type.split(';').next().unwrap_or("").trim();
    if media.is_empty() || media == "application/json" || media.ends_with("+json") || media == "text/json" {
        let v: Value = serde_json::from_slice(&req.body).map_err(ApiError::MalformedJson)?;
        // What is accepted can be stored, and what is stored can be read back.
        if let Some(path) = crate::store::too_deep(&v) {
            let message = format!("nests deeper than {} levels", crate::store::MAX_DEPTH);
            return Err(ApiError::Validation(vec![Violation { path, message }]));
        }
        return Ok(v);
    }
    if media == "application/x-www-form-urlencoded" {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&req.body).map_err(ApiError::MalformedForm)?;
        return Ok(Value::Object(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect()));
    }
    if reads_body(ep) {
        return Err(ApiError::UnsupportedMediaType { found: media.to_owned() });
    }
    Ok(Value::Null)
}

fn reads_body(ep: &Endpoint) -> bool {
    ep.schema.is_some()
        || matches!(ep.persistence.as_ref().map(|p| &p.action), Some(Action::Create(_) | Action::Update(_)))
        || ep.responses.iter().any(|r| !r.conditions.body.is_empty())
}

fn violations_of(schema: &jsonschema::Validator, body: &Value) -> Vec<Violation> {
    schema
        .iter_errors(body)
        .map(|e| {
            let path = e.instance_path().as_str();
            // The validator says `"x" is not a "email"`; people read `is not a valid email`.
            let message = match e.kind() {
                jsonschema::error::ValidationErrorKind::Format { format } => {
                    format!("{} is not a valid {}", e.instance(), format.replace('-', " "))
                }
                _ => e.to_string(),
            };
            Violation { path: if path.is_empty() { "/".to_owned() } else { path.to_owned() }, message }
        })
        .collect()
}
