//! Simulated authentication: API keys (header or query), HTTP basic, and bearer
//! tokens with scopes; plus the guard of the `/system` API.
//!
//! An endpoint lists method names from `auth.json`; any one passing is enough, as with
//! OpenAPI security requirements. When none passes, the most informative failure wins:
//! a valid token lacking scopes (403) over wrong credentials (401) over none at all (401).
//! Secrets are compared in constant time and never logged.

use crate::config::keys::UnknownKey;
use crate::config::{AuthFileDef, ConfigError, SystemDef};
use base64::Engine as _;
use std::collections::HashMap;
use std::sync::Arc;
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLocation {
    Header,
    Query,
    Cookie,
}

/// One `auth.json` method, checked at load.
#[derive(Debug)]
pub enum AuthMethod {
    ApiKey {
        name: String,
        location: KeyLocation,
        keys: Vec<String>,
    },
    Basic {
        credentials: Vec<(String, String)>,
    },
    /// Token → the scopes it carries.
    Bearer {
        tokens: HashMap<String, Vec<String>>,
    },
    /// A session id that must name a live entity of `entity` (created by a login
    /// endpoint, usually with a TTL); checked against the store by the gateway.
    Session {
        entity: String,
        name: String,
        location: SessionLocation,
    },
    /// Mock-and-Roll's cookie sessions (`session_based`, `vmanage_session`): the
    /// session ids listed in `valid_sessions`, each with its properties.
    StaticSessions {
        cookie: String,
        sessions: Vec<serde_json::Map<String, serde_json::Value>>,
    },
}

/// Where a session id travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionLocation {
    Header,
    Query,
    Cookie,
    /// `Authorization: Bearer <session id>`.
    Bearer,
}

/// The outcome of the credential checks that need no store.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    Pass,
    /// Passed with a listed session, whose properties templates see.
    PassWith(serde_json::Value),
    /// Passes if this session exists; otherwise the error stands.
    Session {
        entity: String,
        id: String,
        otherwise: AuthError,
    },
}

/// The request parts authentication reads.
pub trait Credentials {
    /// A header by lower-case name.
    fn header(&self, name: &str) -> Option<&str>;
    fn query_param(&self, name: &str) -> Option<&str>;
}

impl AuthMethod {
    /// Every method of `auth.json`, by name; problems are reported against that file.
    pub fn parse_all(auth: &AuthFileDef, problems: &mut Vec<ConfigError>) -> HashMap<String, Arc<AuthMethod>> {
        let mut out = HashMap::new();
        for (name, def) in &auth.authentication_methods {
            let at = format!("authentication_methods.{name}");
            let mut problem = |path: String, found: String, expected: &str| {
                problems.push(ConfigError {
                    file: "auth.json".into(),
                    json_path: path,
                    found,
                    endpoint: String::new(),
                    expected: expected.into(),
                });
            };
            let kind = method_kind(name, def.kind.as_deref().unwrap_or(""));
            let method = match kind {
                "session_based" => {
                    let mut sessions = Vec::with_capacity(def.valid_sessions.len());
                    for (k, session) in def.valid_sessions.iter().enumerate() {
                        match session.get("session_id").and_then(serde_json::Value::as_str) {
                            Some(id) if !id.is_empty() => {
                                sessions.push(session.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                            }
                            _ => problem(
                                format!("{at}.valid_sessions[{k}].session_id"),
                                "missing".into(),
                                "the session's id, a non-empty string",
                            ),
                        }
                    }
                    if sessions.is_empty() {
                        problem(format!("{at}.valid_sessions"), "no sessions".into(), "at least one {\"session_id\"}");
                        continue;
                    }
                    let cookie = def.session_cookie.clone().or_else(|| def.name.clone());
                    AuthMethod::StaticSessions { cookie: cookie.unwrap_or_else(|| "JSESSIONID".into()), sessions }
                }
                "api_key" | "apikey" | "csrf_token" => {
                    let location = match def.location.as_deref() {
                        None | Some("header") => KeyLocation::Header,
                        Some("query") => KeyLocation::Query,
                        Some("cookie") => KeyLocation::Cookie,
                        Some(other) => {
                            problem(
                                format!("{at}.location"),
                                format!("unknown location {other:?}"),
                                "\"header\", \"query\" or \"cookie\"",
                            );
                            continue;
                        }
                    };
                    if def.valid_keys.is_empty() {
                        problem(format!("{at}.valid_keys"), "no keys".into(), "at least one key");
                        continue;
                    }
                    let default_header = if kind == "csrf_token" { "X-XSRF-TOKEN" } else { "X-API-Key" };
                    AuthMethod::ApiKey {
                        name: def.name.clone().unwrap_or_else(|| default_header.into()),
                        location,
                        keys: def.valid_keys.clone(),
                    }
                }
                "http_basic" | "basic" => {
                    if def.valid_credentials.is_empty() {
                        problem(
                            format!("{at}.valid_credentials"),
                            "no credentials".into(),
                            "at least one {\"username\", \"password\"}",
                        );
                        continue;
                    }
                    AuthMethod::Basic {
                        credentials: def
                            .valid_credentials
                            .iter()
                            .map(|c| (c.username.clone(), c.password.clone()))
                            .collect(),
                    }
                }
                "oidc" | "oauth2" | "bearer" | "http_bearer" => {
                    if def.valid_tokens.is_empty() {
                        problem(
                            format!("{at}.valid_tokens"),
                            "no tokens".into(),
                            "at least one {\"access_token\", \"scope\"}",
                        );
                        continue;
                    }
                    let tokens = def
                        .valid_tokens
                        .iter()
                        .map(|t| {
                            let mut scopes: Vec<String> =
                                t.scope.as_deref().unwrap_or("").split_whitespace().map(str::to_owned).collect();
                            scopes.extend(t.scopes.iter().cloned());
                            (t.access_token.clone(), scopes)
                        })
                        .collect();
                    AuthMethod::Bearer { tokens }
                }
                "session" => {
                    let location = match def.location.as_deref() {
                        None | Some("header") => SessionLocation::Header,
                        Some("query") => SessionLocation::Query,
                        Some("cookie") => SessionLocation::Cookie,
                        Some("bearer") => SessionLocation::Bearer,
                        Some(other) => {
                            problem(
                                format!("{at}.location"),
                                format!("unknown location {other:?}"),
                                "\"header\", \"query\", \"cookie\" or \"bearer\"",
                            );
                            continue;
                        }
                    };
                    AuthMethod::Session {
                        entity: def.entity_name.clone().unwrap_or_else(|| "sessions".into()),
                        name: def.name.clone().unwrap_or_else(|| "X-Session-Id".into()),
                        location,
                    }
                }
                other => {
                    let found =
                        if other.is_empty() { "missing type".to_owned() } else { format!("unknown type {other:?}") };
                    problem(format!("{at}.type"), found, "one of api_key, http_basic, oidc, session, session_based");
                    continue;
                }
            };
            out.insert(name.clone(), Arc::new(method));
        }
        out
    }
}

/// What Mock-and-Roll's `${auth.<method>.<selector>[.<prop>]}` placeholders draw on:
/// each method's keys and listed sessions.
#[derive(Debug, Default)]
pub struct AuthValues {
    methods: HashMap<String, (Vec<String>, Vec<Session>)>,
}

/// One listed session's properties (`session_id`, `csrf_token`, `username`, ...).
type Session = serde_json::Map<String, serde_json::Value>;

impl AuthValues {
    pub fn new(methods: &HashMap<String, Arc<AuthMethod>>) -> AuthValues {
        let methods = methods
            .iter()
            .filter_map(|(name, m)| match m.as_ref() {
                AuthMethod::ApiKey { keys, .. } => Some((name.clone(), (keys.clone(), Vec::new()))),
                AuthMethod::StaticSessions { sessions, .. } => Some((name.clone(), (Vec::new(), sessions.clone()))),
                _ => None,
            })
            .collect();
        AuthValues { methods }
    }

    /// `text` with every placeholder it can resolve replaced: `random_key` (one of the
    /// method's keys), `random_session.<prop>`, `current_session.<prop>` (the request's
    /// own session). One request's random picks are kept in `picks`, so a header and
    /// the body agree. Anything else stays as written.
    pub fn expand(&self, text: &str, current: &serde_json::Value, picks: &mut HashMap<String, usize>) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${auth.") {
            out.push_str(&rest[..start]);
            let Some(len) = rest[start..].find('}') else { break };
            let inner = &rest[start + 7..start + len];
            match self.resolve(inner, current, picks) {
                Some(v) => out.push_str(&v),
                None => out.push_str(&rest[start..=start + len]),
            }
            rest = &rest[start + len + 1..];
        }
        out.push_str(rest);
        out
    }

    fn resolve(&self, inner: &str, current: &serde_json::Value, picks: &mut HashMap<String, usize>) -> Option<String> {
        let mut parts = inner.splitn(3, '.');
        let (method, selector, prop) = (parts.next()?, parts.next()?, parts.next());
        let (keys, sessions) = self.methods.get(method)?;
        let mut pick = |what: &str, n: usize| -> Option<usize> {
            (n > 0).then(|| {
                *picks
                    .entry(format!("{method}.{what}"))
                    .or_insert_with(|| (uuid::Uuid::new_v4().as_u128() % n as u128) as usize)
            })
        };
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match (selector, prop) {
            ("random_key", None) => pick("key", keys.len()).map(|i| keys[i].clone()),
            ("random_session", Some(p)) => pick("session", sessions.len()).and_then(|i| sessions[i].get(p)).map(text),
            ("current_session", Some(p)) => current.get(p).map(text),
            _ => None,
        }
    }
}

/// A method's kind: its `type`, or for the names Mock-and-Roll's code keys off
/// (`api_key`, `csrf_token`, `basic_auth`, `oidc_*`, `vmanage_session`) what that name
/// means there, whatever `type` says (Mock-and-Roll reads `type` only for the docs).
fn method_kind<'a>(name: &str, kind: &'a str) -> &'a str {
    match name {
        "csrf_token" if kind.is_empty() || kind == "api_key" || kind == "csrf" => "csrf_token",
        "vmanage_session" => "session_based",
        "basic_auth" if kind.is_empty() => "http_basic",
        "api_key" if kind.is_empty() => "api_key",
        n if n.starts_with("oidc") && kind.is_empty() => "oidc",
        _ if kind == "csrf" => "csrf_token",
        _ => kind,
    }
}

/// Keys that decide who may call the API. A near-miss spelling of one (`Authentication`,
/// `api_key` for `api_keys`) is an error, whatever `--strict` says: ignored, it would
/// silently open a door. Returns the problem for such a key.
pub fn security_near_miss(file: &str, unknown: &UnknownKey) -> Option<ConfigError> {
    use crate::config::keys::Segment;
    let place: Vec<Option<&str>> = unknown
        .parent
        .iter()
        .map(|s| match s {
            Segment::Key(k) => Some(k.as_str()),
            Segment::Index(_) => None,
        })
        .collect();
    let keys: &[&str] = match (file, place.as_slice()) {
        ("api.json", []) => &["system"],
        ("api.json", [Some("system")]) => &["protect_endpoints", "api_keys", "auth_method"],
        ("auth.json", []) => &["authentication_methods"],
        ("auth.json", [Some("authentication_methods"), _]) => &[
            "type",
            "name",
            "location",
            "valid_keys",
            "valid_credentials",
            "valid_tokens",
            "entity_name",
            "valid_sessions",
            "session_cookie",
        ],
        ("endpoints.json", [Some("endpoints"), None]) => &["authentication", "required_scopes"],
        _ => &[],
    };
    let known = keys.iter().find(|known| is_near(&unknown.key, known))?;
    Some(ConfigError {
        file: file.to_owned(),
        json_path: unknown.json_path(),
        found: format!("unknown key {:?}", unknown.key),
        endpoint: String::new(),
        expected: format!("{known:?}, spelled exactly (it decides who may call the API)"),
    })
}

/// The same key but for case, separators or a slip of one or two letters.
fn is_near(key: &str, known: &str) -> bool {
    let key = key.to_ascii_lowercase().replace(['-', ' '], "_");
    let slips = if known.len() > 6 { 2 } else { 1 };
    key == known || strsim::damerau_levenshtein(&key, known) <= slips
}

/// An endpoint's requirements.
#[derive(Debug, Default, Clone)]
pub struct EndpointAuth {
    pub methods: Vec<(String, Arc<AuthMethod>)>,
    /// Scopes a bearer token must carry.
    pub required_scopes: Vec<String>,
}

/// Why a request was refused; each variant carries `WWW-Authenticate` challenges.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("authentication required: {}", describe(.expected))]
    Missing { expected: Vec<String>, challenges: Vec<String> },
    #[error("invalid credentials")]
    Invalid { challenges: Vec<String> },
    #[error("token lacks required scope(s): {}", .missing.join(", "))]
    InsufficientScope { missing: Vec<String>, challenges: Vec<String> },
}

fn describe(expected: &[String]) -> String {
    expected.join(" or ")
}

impl AuthError {
    pub fn challenges(&self) -> &[String] {
        match self {
            AuthError::Missing { challenges, .. }
            | AuthError::Invalid { challenges }
            | AuthError::InsufficientScope { challenges, .. } => challenges,
        }
    }
}

enum Verdict {
    Pass,
    Absent,
    PassWith(serde_json::Value),
    /// A session id to look up.
    Session(String, String),
    Wrong,
    MissingScopes(Vec<String>),
}

impl AuthMethod {
    fn check(&self, req: &dyn Credentials, required_scopes: &[String]) -> Verdict {
        match self {
            AuthMethod::StaticSessions { cookie, sessions } => {
                let Some(header) = req.header("cookie") else { return Verdict::Absent };
                // `JSESSIONID=abc; other=x`, or a bare `abc` (Mock-and-Roll accepts both).
                let given = header
                    .split(';')
                    .filter_map(|kv| kv.trim().split_once('='))
                    .find(|(k, _)| k == cookie)
                    .map(|(_, v)| v)
                    .or_else(|| (!header.contains('=')).then_some(header.trim()));
                match given {
                    None | Some("") => Verdict::Absent,
                    Some(id) => sessions
                        .iter()
                        .find(|s| {
                            s.get("session_id").and_then(serde_json::Value::as_str).is_some_and(|v| secret_eq(v, id))
                        })
                        .map_or(Verdict::Wrong, |s| Verdict::PassWith(serde_json::Value::Object(s.clone()))),
                }
            }
            AuthMethod::Session { entity, name, location } => {
                let given = match location {
                    SessionLocation::Header => req.header(&name.to_ascii_lowercase()),
                    SessionLocation::Query => req.query_param(name),
                    SessionLocation::Bearer => scheme_value(req.header("authorization"), "bearer").map(str::trim),
                    SessionLocation::Cookie => cookie_value(req.header("cookie"), name),
                };
                match given {
                    None | Some("") => Verdict::Absent,
                    Some(id) => Verdict::Session(entity.clone(), id.to_owned()),
                }
            }
            AuthMethod::ApiKey { name, location, keys } => {
                let given = match location {
                    KeyLocation::Header => req.header(&name.to_ascii_lowercase()),
                    KeyLocation::Query => req.query_param(name),
                    KeyLocation::Cookie => cookie_value(req.header("cookie"), name),
                };
                match given {
                    None | Some("") => Verdict::Absent,
                    Some(k) if keys.iter().any(|v| secret_eq(v, k)) => Verdict::Pass,
                    Some(_) => Verdict::Wrong,
                }
            }
            AuthMethod::Basic { credentials } => {
                let Some(encoded) = scheme_value(req.header("authorization"), "basic") else {
                    return Verdict::Absent;
                };
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok());
                let Some((user, pass)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
                    return Verdict::Wrong;
                };
                // Evaluate every entry so timing does not reveal which user exists.
                let ok = credentials.iter().fold(false, |acc, (u, p)| acc | (secret_eq(u, user) & secret_eq(p, pass)));
                if ok { Verdict::Pass } else { Verdict::Wrong }
            }
            AuthMethod::Bearer { tokens } => {
                let Some(token) = scheme_value(req.header("authorization"), "bearer") else {
                    return Verdict::Absent;
                };
                let token = token.trim();
                let Some(scopes) = tokens.iter().find(|(t, _)| secret_eq(t, token)).map(|(_, s)| s) else {
                    return Verdict::Wrong;
                };
                let missing: Vec<String> = required_scopes.iter().filter(|s| !scopes.contains(s)).cloned().collect();
                if missing.is_empty() { Verdict::Pass } else { Verdict::MissingScopes(missing) }
            }
        }
    }

    fn challenge(&self, required_scopes: &[String]) -> String {
        match self {
            AuthMethod::StaticSessions { cookie, .. } => format!("Session realm=\"mockgate\", cookie=\"{cookie}\""),
            AuthMethod::Session { name, .. } => format!("Session realm=\"mockgate\", name=\"{name}\""),
            AuthMethod::ApiKey { name, location: KeyLocation::Header, .. } => {
                format!("ApiKey realm=\"mockgate\", header=\"{name}\"")
            }
            AuthMethod::ApiKey { name, location: KeyLocation::Query, .. } => {
                format!("ApiKey realm=\"mockgate\", query=\"{name}\"")
            }
            AuthMethod::ApiKey { name, location: KeyLocation::Cookie, .. } => {
                format!("ApiKey realm=\"mockgate\", cookie=\"{name}\"")
            }
            AuthMethod::Basic { .. } => "Basic realm=\"mockgate\"".to_owned(),
            AuthMethod::Bearer { .. } if required_scopes.is_empty() => "Bearer realm=\"mockgate\"".to_owned(),
            AuthMethod::Bearer { .. } => format!("Bearer realm=\"mockgate\", scope=\"{}\"", required_scopes.join(" ")),
        }
    }

    fn what(&self) -> String {
        match self {
            AuthMethod::StaticSessions { cookie, .. } => format!("a session id in the {cookie} cookie"),
            AuthMethod::Session { name, location: SessionLocation::Cookie, .. } => {
                format!("a session id in the {name} cookie")
            }
            AuthMethod::Session { location: SessionLocation::Bearer, .. } => {
                "a session id as a bearer token".to_owned()
            }
            AuthMethod::Session { name, .. } => format!("a session id in {name}"),
            AuthMethod::ApiKey { name, location: KeyLocation::Header, .. } => {
                format!("an API key in the {name} header")
            }
            AuthMethod::ApiKey { name, location: KeyLocation::Query, .. } => {
                format!("an API key in the `{name}` query parameter")
            }
            AuthMethod::ApiKey { name, location: KeyLocation::Cookie, .. } => {
                format!("an API key in the {name} cookie")
            }
            AuthMethod::Basic { .. } => "HTTP basic credentials".to_owned(),
            AuthMethod::Bearer { .. } => "a bearer token".to_owned(),
        }
    }
}

/// The value of cookie `name` in a `Cookie` header (`a=1; b=2`).
pub fn cookie_value<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?.split(';').filter_map(|kv| kv.trim().split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v)
}

/// `Authorization: <scheme> <value>` with a case-insensitive scheme.
fn scheme_value<'a>(header: Option<&'a str>, scheme: &str) -> Option<&'a str> {
    let h = header?.trim_start();
    let (s, rest) = h.split_once(' ')?;
    s.eq_ignore_ascii_case(scheme).then_some(rest)
}

pub fn secret_eq(expected: &str, given: &str) -> bool {
    expected.as_bytes().ct_eq(given.as_bytes()).into()
}

impl EndpointAuth {
    /// The checks of an endpoint without sessions (the unit tests' view).
    #[cfg(test)]
    fn check(&self, req: &dyn Credentials) -> Result<(), AuthError> {
        match self.check_all(req)? {
            AuthOutcome::Pass | AuthOutcome::PassWith(_) => Ok(()),
            AuthOutcome::Session { otherwise, .. } => Err(otherwise),
        }
    }

    /// Every check that needs no store; a presented session id is left to the caller.
    pub fn check_all(&self, req: &dyn Credentials) -> Result<AuthOutcome, AuthError> {
        if self.methods.is_empty() {
            return Ok(AuthOutcome::Pass);
        }
        let mut wrong = false;
        let mut scopes: Option<Vec<String>> = None;
        let mut session = None;
        for (_, m) in &self.methods {
            match m.check(req, &self.required_scopes) {
                Verdict::Pass => return Ok(AuthOutcome::Pass),
                Verdict::PassWith(session) => return Ok(AuthOutcome::PassWith(session)),
                Verdict::Session(entity, id) => session = Some((entity, id)),
                Verdict::Absent => {}
                Verdict::Wrong => wrong = true,
                Verdict::MissingScopes(missing) => scopes = Some(missing),
            }
        }
        let challenges: Vec<String> = self.methods.iter().map(|(_, m)| m.challenge(&self.required_scopes)).collect();
        if let Some((entity, id)) = session {
            let otherwise = AuthError::Invalid { challenges };
            return Ok(AuthOutcome::Session { entity, id, otherwise });
        }
        Err(match (scopes, wrong) {
            (Some(missing), _) => AuthError::InsufficientScope {
                missing,
                challenges: vec![format!(
                    "Bearer realm=\"mockgate\", error=\"insufficient_scope\", scope=\"{}\"",
                    self.required_scopes.join(" ")
                )],
            },
            (None, true) => AuthError::Invalid { challenges },
            (None, false) => {
                AuthError::Missing { expected: self.methods.iter().map(|(_, m)| m.what()).collect(), challenges }
            }
        })
    }
}

/// Guards `/system`: keys from `api.json`, `auth.json`'s system method, or the
/// environment.
#[derive(Debug, Default, Clone)]
pub struct SystemGuard {
    /// `false` when the profile opened the system API (or configured no key).
    pub protected: bool,
    pub keys: Vec<String>,
    /// A second header that may carry the key (Mock-and-Roll sends `X-API-Key`).
    pub alt_header: Option<String>,
    /// The profile opened it on purpose (`system.protect_endpoints: false`).
    pub opened: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SystemAuthError {
    #[error("the system API needs an X-System-Key header")]
    Missing,
    #[error("the X-System-Key is not valid")]
    Wrong,
    #[error("no system key is configured, so the system API answers only clients on this machine")]
    LoopbackOnly,
}

impl SystemGuard {
    /// The guard from `api.json`'s `system` block and the `auth.json` method it names
    /// (`system_api_key` unless `auth_method` says otherwise).
    pub fn parse(system: Option<&SystemDef>, auth: &AuthFileDef, problems: &mut Vec<ConfigError>) -> SystemGuard {
        let mut keys: Vec<String> = system.map(|s| s.api_keys.clone()).unwrap_or_default();
        let method_name = system.and_then(|s| s.auth_method.clone());
        let mut alt_header = None;
        let named = method_name.as_deref().unwrap_or("system_api_key");
        match auth.authentication_methods.get(named) {
            Some(m) => {
                keys.extend(m.valid_keys.iter().cloned());
                alt_header = m.name.clone();
            }
            None if method_name.is_some() => {
                problems.push(ConfigError {
                    file: "api.json".into(),
                    json_path: "system.auth_method".into(),
                    found: format!("no auth.json method named {named:?}"),
                    endpoint: String::new(),
                    expected: "the name of an api_key method in auth.json".into(),
                });
            }
            None => {}
        }
        let protect = system.and_then(|s| s.protect_endpoints).unwrap_or(true);
        SystemGuard { protected: protect && !keys.is_empty(), keys, alt_header, opened: !protect }
    }

    /// Whether this request may use `/system`. With no key configured (and the API not
    /// opened on purpose), only clients on this machine may: `/system` is never open
    /// to the network by accident.
    pub fn check(&self, req: &dyn Credentials, peer_is_loopback: bool) -> Result<(), SystemAuthError> {
        if !self.protected {
            return if self.opened || peer_is_loopback { Ok(()) } else { Err(SystemAuthError::LoopbackOnly) };
        }
        let given = req
            .header("x-system-key")
            .or_else(|| self.alt_header.as_deref().and_then(|h| req.header(&h.to_ascii_lowercase())))
            .or_else(|| req.header("authorization").and_then(|v| v.strip_prefix("Bearer ")));
        match given {
            None | Some("") => Err(SystemAuthError::Missing),
            Some(k) if self.keys.iter().fold(false, |acc, v| acc | secret_eq(v, k)) => Ok(()),
            Some(_) => Err(SystemAuthError::Wrong),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ApiDef, EndpointsFileDef};

    struct Req(Vec<(&'static str, String)>, Vec<(&'static str, &'static str)>);

    impl Credentials for Req {
        fn header(&self, name: &str) -> Option<&str> {
            self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
        }
        fn query_param(&self, name: &str) -> Option<&str> {
            self.1.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
        }
    }

    fn endpoint(scopes: &[&str]) -> EndpointAuth {
        let key =
            AuthMethod::ApiKey { name: "X-API-Key".into(), location: KeyLocation::Header, keys: vec!["k1".into()] };
        let basic = AuthMethod::Basic { credentials: vec![("admin".into(), "secret".into())] };
        let mut tokens = HashMap::new();
        tokens.insert("t-read".to_owned(), vec!["read".to_owned()]);
        tokens.insert("t-admin".to_owned(), vec!["read".to_owned(), "admin".to_owned()]);
        EndpointAuth {
            methods: vec![
                ("api_key".into(), Arc::new(key)),
                ("basic".into(), Arc::new(basic)),
                ("oidc".into(), Arc::new(AuthMethod::Bearer { tokens })),
            ],
            required_scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn basic(user: &str, pass: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")))
    }

    #[test]
    fn any_one_method_is_enough() {
        let e = endpoint(&[]);
        assert_eq!(e.check(&Req(vec![("x-api-key", "k1".into())], vec![])), Ok(()));
        assert_eq!(e.check(&Req(vec![("authorization", basic("admin", "secret"))], vec![])), Ok(()));
        assert_eq!(e.check(&Req(vec![("authorization", "bearer t-read".into())], vec![])), Ok(()));
    }

    #[test]
    fn failures_are_ranked_scope_then_wrong_then_missing() {
        let e = endpoint(&["admin"]);
        assert!(matches!(e.check(&Req(vec![], vec![])), Err(AuthError::Missing { .. })));
        assert!(matches!(e.check(&Req(vec![("x-api-key", "nope".into())], vec![])), Err(AuthError::Invalid { .. })));
        assert!(matches!(
            e.check(&Req(vec![("authorization", basic("admin", "wrong"))], vec![])),
            Err(AuthError::Invalid { .. })
        ));
        let err = e.check(&Req(vec![("authorization", "Bearer t-read".into())], vec![])).unwrap_err();
        assert_eq!(
            err,
            AuthError::InsufficientScope { missing: vec!["admin".into()], challenges: err.challenges().to_vec() }
        );
        assert_eq!(e.check(&Req(vec![("authorization", "Bearer t-admin".into())], vec![])), Ok(()));
    }

    #[test]
    fn system_guard_distinguishes_missing_from_wrong() {
        let g = SystemGuard {
            protected: true,
            keys: vec!["sys".into()],
            alt_header: Some("X-API-Key".into()),
            opened: false,
        };
        assert_eq!(g.check(&Req(vec![], vec![]), true), Err(SystemAuthError::Missing));
        assert_eq!(g.check(&Req(vec![("x-system-key", "bad".into())], vec![]), true), Err(SystemAuthError::Wrong));
        assert_eq!(g.check(&Req(vec![("x-system-key", "sys".into())], vec![]), true), Ok(()));
        assert_eq!(g.check(&Req(vec![("x-api-key", "sys".into())], vec![]), true), Ok(()));
    }

    #[test]
    fn without_a_key_only_this_machine_may_use_the_system_api() {
        let nobody = Req(vec![], vec![]);
        let unset = SystemGuard { protected: false, keys: vec![], alt_header: None, opened: false };
        assert_eq!(unset.check(&nobody, true), Ok(()));
        assert_eq!(unset.check(&nobody, false), Err(SystemAuthError::LoopbackOnly));
        let opened = SystemGuard { opened: true, ..unset };
        assert_eq!(opened.check(&nobody, false), Ok(()), "protect_endpoints: false opens it on purpose");
    }

    #[test]
    fn near_misses_of_security_keys_are_refused() {
        use crate::config::keys::from_str;
        let (_, endpoints): (EndpointsFileDef, _) = from_str(
            r#"{"endpoints": [{"method": "GET", "path": "/a", "Authentication": ["k"], "required-scopes": ["r"], "colour": "red"}]}"#,
        )
        .unwrap();
        let (_, api): (ApiDef, _) = from_str(r#"{"system": {"api_key": ["s"], "protect_endpoint": true}}"#).unwrap();
        let (_, auth): (AuthFileDef, _) =
            from_str(r#"{"authentication_methods": {"k": {"type": "api_key", "valid_key": ["x"]}}}"#).unwrap();
        let all = api
            .iter()
            .map(|k| ("api.json", k))
            .chain(auth.iter().map(|k| ("auth.json", k)))
            .chain(endpoints.iter().map(|k| ("endpoints.json", k)));
        let problems: Vec<ConfigError> = all.filter_map(|(f, k)| security_near_miss(f, k)).collect();
        let paths: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.file, p.json_path)).collect();
        assert_eq!(
            paths,
            [
                "api.json: system.api_key",
                "api.json: system.protect_endpoint",
                "auth.json: authentication_methods.k.valid_key",
                "endpoints.json: endpoints[0].Authentication",
                "endpoints.json: endpoints[0].required-scopes",
            ]
        );
        assert!(problems[0].expected.starts_with("\"api_keys\""), "{}", problems[0]);
        assert!(
            !paths.iter().any(|p| p.contains("colour")),
            "keys far from any security key are not this check's business"
        );
    }
}
