//! Checks a profile as written and compiles it into a [`Profile`], collecting every
//! problem with its file and JSON path.

use super::*;
use crate::auth::{AuthMethod, KeyLocation, SessionLocation};
use crate::persistence::Persist;
use crate::routing::{Conditions, PathTemplate};
use crate::store::id_key;
use indexmap::IndexMap;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// What compiling one file's parts needs: the problem list, the template registry and
/// the current endpoint's path parameters.
pub struct CompileCx<'a> {
    file: &'static str,
    problems: &'a mut Vec<ConfigError>,
    pub engine: &'a mut TemplateEngine,
    /// Path parameter names of the endpoint being compiled.
    pub params: Vec<String>,
    /// Query parameters that carry credentials (query api keys) on this endpoint, so
    /// list actions never read them as filters.
    pub credential_params: Vec<String>,
    /// Entity-type rules gathered from every persistence block.
    pub rules: &'a mut crate::persistence::rules::Rules,
}

impl CompileCx<'_> {
    pub fn problem(&mut self, json_path: impl Into<String>, found: impl Into<String>, expected: impl Into<String>) {
        self.problems.push(ConfigError {
            file: self.file.to_owned(),
            json_path: json_path.into(),
            found: found.into(),
            expected: expected.into(),
        });
    }

    /// Compiles an optional JSON template tree. `None` means it was invalid (and
    /// reported); `Some(None)` means there was none.
    pub fn body(&mut self, value: Option<&Value>, at: &str) -> Option<Option<Body>> {
        let Some(value) = value else {
            return Some(None);
        };
        let params = self.params.clone();
        match self.engine.compile_body(value, &params) {
            Ok(b) => Some(Some(b)),
            Err((inner, msg)) => {
                self.problem(format!("{at}{inner}"), msg, "");
                None
            }
        }
    }

    pub fn template(&mut self, src: &str, at: &str) -> Option<Template> {
        let params = self.params.clone();
        match self.engine.compile(src, &params) {
            Ok(t) => Some(t),
            Err(msg) => {
                self.problem(at, msg, "");
                None
            }
        }
    }
}

pub fn compile(
    name: String,
    dir: PathBuf,
    api: ApiDef,
    auth: AuthFileDef,
    endpoints: EndpointsFileDef,
) -> Result<Profile, Vec<ConfigError>> {
    let mut problems = Vec::new();
    let mut engine = TemplateEngine::new();
    let mut rules = crate::persistence::rules::Rules::default();

    let info = api_info(&api, &name, &mut problems);
    let backend = backend(api.persistence.as_ref(), &mut problems);
    let seed = seed(&api, &mut problems);
    let methods = auth_methods(&auth, &mut problems);
    let seeded: Vec<String> = seed.keys().cloned().collect();
    let generator = match &api.generate_data {
        None | Some(Value::Null) => None,
        Some(def) => {
            let mut cx = CompileCx {
                file: "api.json",
                problems: &mut problems,
                engine: &mut engine,
                params: Vec::new(),
                credential_params: Vec::new(),
                rules: &mut rules,
            };
            crate::generate::Generator::parse(def, &seeded, &mut cx)
        }
    };
    let system = system_guard(&api, &auth, &mut problems);
    let logging = logging(api.logging.as_ref(), &mut problems);

    let mut compiled = Vec::with_capacity(endpoints.endpoints.len());
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for (i, def) in endpoints.endpoints.iter().enumerate() {
        let mut cx = CompileCx {
            file: "endpoints.json",
            problems: &mut problems,
            engine: &mut engine,
            params: Vec::new(),
            credential_params: Vec::new(),
            rules: &mut rules,
        };
        if let Some(ep) = endpoint(def, i, &info.root_path, &methods, &mut cx) {
            let key = (ep.method.clone(), normalised(ep.path.as_str()));
            if let Some(first) = seen.insert(key, i) {
                cx.problem(
                    format!("endpoints[{i}].path"),
                    format!("{} {} is already defined by endpoints[{first}]", ep.method, ep.path.as_str()),
                    "each method and path once",
                );
            }
            compiled.push(ep);
        }
    }

    if !problems.is_empty() {
        return Err(problems);
    }
    rules.link();
    let server = api.server.unwrap_or_default();
    let mut profile = Profile {
        name,
        dir,
        info,
        backend,
        host: server.host,
        port: server.port,
        max_body_bytes: server.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
        system,
        endpoints: compiled,
        seed,
        generator,
        engine,
        rules,
        openapi: OpenApiDoc::default(),
        logging,
    };
    let doc = crate::openapi::document(&profile, &endpoints);
    profile.openapi = OpenApiDoc(serde_json::to_vec(&doc).map(bytes::Bytes::from).unwrap_or_default());
    Ok(profile)
}

/// `/users/{id}` and `/users/{user_id}` are the same route.
fn normalised(path: &str) -> String {
    path.split('/').map(|s| if s.starts_with('{') { "{}" } else { s }).collect::<Vec<_>>().join("/")
}

fn api_problem(problems: &mut Vec<ConfigError>, json_path: &str, found: String, expected: &str) {
    problems.push(ConfigError {
        file: "api.json".into(),
        json_path: json_path.into(),
        found,
        expected: expected.into(),
    });
}

fn api_info(api: &ApiDef, name: &str, problems: &mut Vec<ConfigError>) -> ApiInfo {
    let root = api.root_path.clone().unwrap_or_default();
    let trimmed = root.trim_end_matches('/').to_owned();
    if !trimmed.is_empty() && (!trimmed.starts_with('/') || trimmed.contains(['{', '}', '?', '#'])) {
        api_problem(problems, "root_path", format!("found {root:?}"), "a path such as \"/api/v1\"");
    }
    ApiInfo {
        name: api.name.clone().unwrap_or_else(|| name.to_owned()),
        version: api.version.clone().unwrap_or_else(|| "1.0.0".into()),
        description: api.description.clone().unwrap_or_default(),
        root_path: trimmed,
    }
}

fn backend(v: Option<&Value>, problems: &mut Vec<ConfigError>) -> BackendChoice {
    const EXPECTED: &str = "\"memory\", \"file\", \"redis\" or an object with \"backend\"";
    let cluster = v.and_then(|v| v.get("cluster")).and_then(Value::as_bool).unwrap_or(false);
    let (kind, url, prefix) = match v {
        None | Some(Value::Null) => return BackendChoice::Unspecified,
        Some(Value::Bool(false)) => return BackendChoice::Memory,
        Some(Value::String(s)) => (s.as_str(), None, None),
        Some(Value::Object(m)) => {
            let kind = m.get("backend").or_else(|| m.get("type")).and_then(Value::as_str).unwrap_or("");
            let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
            (kind, text("url"), text("key_prefix"))
        }
        Some(other) => {
            api_problem(problems, "persistence", format!("found {other}"), EXPECTED);
            return BackendChoice::Unspecified;
        }
    };
    match kind {
        "memory" | "none" => BackendChoice::Memory,
        "file" | "embedded" => BackendChoice::File,
        "redis" => BackendChoice::Redis { url, prefix, cluster },
        other => {
            api_problem(problems, "persistence", format!("unknown backend {other:?}"), EXPECTED);
            BackendChoice::Unspecified
        }
    }
}

fn seed(api: &ApiDef, problems: &mut Vec<ConfigError>) -> Dataset {
    let mut out: Dataset = IndexMap::new();
    let mut sources: Vec<(String, &IndexMap<String, Vec<Value>>)> = Vec::new();
    if let Some(s) = api.data_seeding.as_ref().filter(|s| s.enabled != Some(false)) {
        sources.push(("data_seeding.entities".into(), &s.entities));
    }
    if let Some(s) = api.system.as_ref().and_then(|s| s.data_seeding.as_ref()).filter(|s| s.enabled != Some(false)) {
        sources.push(("system.data_seeding.entities".into(), &s.entities));
    }
    if let Some(d) = &api.data {
        sources.push(("data".into(), d));
    }
    for (at, entities) in sources {
        for (entity, records) in entities {
            if !crate::persistence::valid_entity_name(entity) {
                api_problem(
                    problems,
                    &format!("{at}.{entity}"),
                    format!("bad entity name {entity:?}"),
                    "letters, digits, `_`, `-` or `.`",
                );
                continue;
            }
            let table = out.entry(entity.clone()).or_default();
            for (i, record) in records.iter().enumerate() {
                let here = format!("{at}.{entity}[{i}]");
                let Some(id) = record.as_object().and_then(|o| o.get("id")).and_then(id_key) else {
                    api_problem(
                        problems,
                        &here,
                        "record without an id".into(),
                        "an object with a string or number \"id\"",
                    );
                    continue;
                };
                if table.insert(id.clone(), record.clone()).is_some() {
                    api_problem(
                        problems,
                        &format!("{here}.id"),
                        format!("duplicate id {id:?}"),
                        "ids unique per entity",
                    );
                }
            }
        }
    }
    out
}

fn auth_methods(auth: &AuthFileDef, problems: &mut Vec<ConfigError>) -> HashMap<String, Arc<AuthMethod>> {
    let mut out = HashMap::new();
    for (name, def) in &auth.authentication_methods {
        let at = format!("authentication_methods.{name}");
        let mut problem = |path: String, found: String, expected: &str| {
            problems.push(ConfigError { file: "auth.json".into(), json_path: path, found, expected: expected.into() });
        };
        let kind = def.kind.as_deref().unwrap_or("");
        let method = match kind {
            "api_key" | "apikey" => {
                let location = match def.location.as_deref() {
                    None | Some("header") => KeyLocation::Header,
                    Some("query") => KeyLocation::Query,
                    Some(other) => {
                        problem(
                            format!("{at}.location"),
                            format!("unknown location {other:?}"),
                            "\"header\" or \"query\"",
                        );
                        continue;
                    }
                };
                if def.valid_keys.is_empty() {
                    problem(format!("{at}.valid_keys"), "no keys".into(), "at least one key");
                    continue;
                }
                AuthMethod::ApiKey {
                    name: def.name.clone().unwrap_or_else(|| "X-API-Key".into()),
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
                problem(format!("{at}.type"), found, "one of api_key, http_basic, oidc, session");
                continue;
            }
        };
        out.insert(name.clone(), Arc::new(method));
    }
    out
}

fn logging(def: Option<&LoggingDef>, problems: &mut Vec<ConfigError>) -> Logging {
    let mut out = Logging::default();
    let Some(def) = def else { return out };
    if let Some(level) = &def.level {
        // Every directive must end in a level: a bare word would be read as a target.
        const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
        let levels_ok = level.split(',').map(str::trim).filter(|d| !d.is_empty()).all(|d| {
            let lvl = d.rsplit_once('=').map_or(d, |(_, l)| l);
            LEVELS.contains(&lvl.to_ascii_lowercase().as_str())
        });
        match tracing_subscriber::EnvFilter::builder().parse(level) {
            Ok(_) if levels_ok => out.level = level.clone(),
            _ => api_problem(
                problems,
                "logging.level",
                format!("{level:?} is not a log filter"),
                "a level (error, warn, info, debug, trace) or directives such as \"info,mockgate::store=debug\"",
            ),
        }
    }
    out.file = def.file.as_ref().filter(|f| !f.is_empty()).map(PathBuf::from);
    match def.max_size_mb {
        Some(0) => api_problem(problems, "logging.max_size_mb", "found 0".into(), "at least 1"),
        Some(mb) => out.max_bytes = mb.saturating_mul(1024 * 1024),
        None => {}
    }
    if let Some(n) = def.max_files {
        out.max_files = n;
    }
    if def.bodies == Some(true) {
        out.body_bytes = Some(def.max_body_bytes.unwrap_or(1024));
    }
    out
}

fn system_guard(api: &ApiDef, auth: &AuthFileDef, problems: &mut Vec<ConfigError>) -> SystemGuard {
    let system = api.system.as_ref();
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
            api_problem(
                problems,
                "system.auth_method",
                format!("no auth.json method named {named:?}"),
                "the name of an api_key method in auth.json",
            );
        }
        None => {}
    }
    let protect = system.and_then(|s| s.protect_endpoints).unwrap_or(true);
    SystemGuard { protected: protect && !keys.is_empty(), keys, alt_header, opened: !protect }
}

fn endpoint(
    def: &EndpointDef,
    i: usize,
    root: &str,
    methods: &HashMap<String, Arc<AuthMethod>>,
    cx: &mut CompileCx<'_>,
) -> Option<Endpoint> {
    let at = format!("endpoints[{i}]");
    let method = def.method.to_ascii_uppercase();
    let mut ok = true;
    if !METHODS.contains(&method.as_str()) {
        cx.problem(format!("{at}.method"), format!("unknown method {:?}", def.method), METHODS.join(", "));
        ok = false;
    }
    let path = match PathTemplate::parse(&format!("{root}{}", def.path)) {
        Ok(p) => Some(p),
        Err(msg) => {
            cx.problem(format!("{at}.path"), msg, "");
            None
        }
    };
    cx.params = path.as_ref().map(PathTemplate::params).unwrap_or_default();

    let mut auth = EndpointAuth { methods: Vec::new(), required_scopes: def.required_scopes.clone() };
    cx.credential_params = def
        .authentication
        .iter()
        .filter_map(|name| match methods.get(name).map(|m| &**m) {
            Some(AuthMethod::ApiKey { name, location: KeyLocation::Query, .. }) => Some(name.clone()),
            _ => None,
        })
        .collect();
    for (j, name) in def.authentication.iter().enumerate() {
        match methods.get(name) {
            Some(m) => auth.methods.push((name.clone(), Arc::clone(m))),
            None => {
                let mut known: Vec<&str> = methods.keys().map(String::as_str).collect();
                known.sort_unstable();
                let expected = if known.is_empty() {
                    "a method defined in auth.json (it defines none)".to_owned()
                } else {
                    format!("one of {}", known.join(", "))
                };
                cx.problem(
                    format!("{at}.authentication[{j}]"),
                    format!("unknown authentication method {name:?}"),
                    expected,
                );
                ok = false;
            }
        }
    }
    if !auth.required_scopes.is_empty() && !auth.methods.iter().any(|(_, m)| matches!(**m, AuthMethod::Bearer { .. })) {
        cx.problem(
            format!("{at}.required_scopes"),
            "scopes without a bearer (oidc) method in authentication",
            "an oidc method listed in authentication",
        );
        ok = false;
    }

    let schema = match &def.request_body_schema {
        None | Some(Value::Null) => None,
        Some(s) => match jsonschema::options().should_validate_formats(true).build(s) {
            Ok(v) => Some(v),
            Err(e) => {
                cx.problem(format!("{at}.request_body_schema"), format!("invalid JSON Schema: {e}"), "");
                ok = false;
                None
            }
        },
    };

    let persistence = match &def.persistence {
        None => None,
        Some(p) => {
            let a = Persist::parse(p, &format!("{at}.persistence"), cx);
            ok &= a.is_some();
            a
        }
    };

    if def.responses.is_empty() && def.persistence.is_none() {
        cx.problem(format!("{at}.responses"), "no responses and no persistence action", "at least one response");
        ok = false;
    }
    let mut responses = Vec::with_capacity(def.responses.len());
    for (j, r) in def.responses.iter().enumerate() {
        match response(r, &format!("{at}.responses[{j}]"), cx) {
            Some(rule) => responses.push(rule),
            None => ok = false,
        }
    }

    let path = path?;
    ok.then(|| Endpoint {
        method,
        route: path.as_str().into(),
        path,
        name: def.name.clone().or_else(|| def.summary.clone()),
        tag: def.tag.clone(),
        auth,
        schema,
        persistence,
        responses,
        at,
    })
}

fn response(def: &ResponseRuleDef, at: &str, cx: &mut CompileCx<'_>) -> Option<ResponseRule> {
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

    let persistence = match &def.persistence {
        None => None,
        Some(p) => {
            let a = Persist::parse(p, &format!("{at}.persistence"), cx);
            ok &= a.is_some();
            a
        }
    };

    let r = &def.response;
    let status = match &r.status_code {
        None | Some(Value::Null) => StatusSpec::Default,
        Some(Value::Number(n)) => match n.as_u64().filter(|s| (100..=599).contains(s)) {
            Some(s) => StatusSpec::Fixed(s as u16),
            None => {
                cx.problem(
                    format!("{at}.response.status_code"),
                    format!("found {n}"),
                    "an HTTP status from 100 to 599",
                );
                ok = false;
                StatusSpec::Default
            }
        },
        Some(Value::String(s)) => match s.trim().parse::<u16>() {
            Ok(n) if (100..=599).contains(&n) => StatusSpec::Fixed(n),
            _ => match cx.template(s, &format!("{at}.response.status_code")) {
                Some(Template::Literal(_)) => {
                    cx.problem(
                        format!("{at}.response.status_code"),
                        format!("found {s:?}"),
                        "an HTTP status from 100 to 599, or a template",
                    );
                    ok = false;
                    StatusSpec::Default
                }
                Some(t) => StatusSpec::Template(t),
                None => {
                    ok = false;
                    StatusSpec::Default
                }
            },
        },
        Some(other) => {
            cx.problem(
                format!("{at}.response.status_code"),
                format!("found {other}"),
                "an HTTP status from 100 to 599",
            );
            ok = false;
            StatusSpec::Default
        }
    };

    let mut headers = Vec::with_capacity(r.headers.len());
    for (name, value) in &r.headers {
        let here = format!("{at}.response.headers.{name}");
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)) {
            cx.problem(&here, format!("bad header name {name:?}"), "a token of letters, digits and -");
            ok = false;
            continue;
        }
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(_) | Value::Bool(_) => value.to_string(),
            other => {
                cx.problem(&here, format!("found {other}"), "a string");
                ok = false;
                continue;
            }
        };
        match cx.template(&text, &here) {
            Some(t) => headers.push((name.clone(), t)),
            None => ok = false,
        }
    }

    let body = cx.body(r.body.as_ref(), &format!("{at}.response.body"));
    ok &= body.is_some();
    ok.then(|| ResponseRule { conditions, persistence, status, headers, body: body.flatten() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(endpoints: Value) -> Vec<String> {
        let eps: EndpointsFileDef = serde_json::from_value(endpoints).unwrap();
        match compile("t".into(), PathBuf::from("t"), ApiDef::default(), AuthFileDef::default(), eps) {
            Ok(_) => vec![],
            Err(e) => e.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn reports_every_problem_with_file_and_json_path() {
        let errs = errors(json!({"endpoints": [
            {"method": "GET", "path": "/ok", "responses": [{"response": {"status_code": 200}}]},
            {"method": "GET", "path": "/a", "responses": [{"response": {"status_code": 200}}]},
            {"method": "GET", "path": "/a", "responses": [{"response": {"status_code": 200}}]},
            {"method": "FETCH", "path": "/b/{id}", "persistence": {"entity_name": "users", "action": "craete"}},
            {"method": "GET", "path": "/c", "authentication": ["nope"], "responses": [{"response": {"status_code": 700, "body": "{{a +}}"}}]}
        ]}));
        assert_eq!(
            errs,
            vec![
                "endpoints.json: endpoints[2].path: GET /a is already defined by endpoints[1], expected each method and path once",
                "endpoints.json: endpoints[3].method: unknown method \"FETCH\", expected GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS",
                "endpoints.json: endpoints[3].persistence.action: unknown action \"craete\", expected one of create, read, update, delete, list",
                "endpoints.json: endpoints[4].authentication[0]: unknown authentication method \"nope\", expected a method defined in auth.json (it defines none)",
                "endpoints.json: endpoints[4].responses[0].response.status_code: found 700, expected an HTTP status from 100 to 599",
                "endpoints.json: endpoints[4].responses[0].response.body: cannot read `{{a +}}`: expression ends too early",
            ]
        );
    }
}
