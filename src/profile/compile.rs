//! Checks a profile as written and compiles it into a [`Profile`], collecting every
//! problem with its file and JSON path. Each part parses its own block; this file
//! only walks the files and puts the parts together.

use super::{
    ApiInfo, Cors, DEFAULT_MAX_BODY_BYTES, Endpoint, EndpointDoc, Limits, NotFoundRule, Profile, ResponseRule,
    StatusSpec,
};
use crate::auth::{AuthMethod, EndpointAuth, KeyLocation, SystemGuard};
use crate::config::keys::UnknownKey;
use crate::config::{ApiDef, AuthFileDef, CompileCx, ConfigError, EndpointDef, EndpointsFileDef, ServerDef};
use crate::persistence::Action;
use crate::persistence::Persist;
use crate::persistence::rules::Rules;
use crate::routing::PathTemplate;
use crate::store::{BackendChoice, Dataset, id_key, valid_entity_name};
use crate::telemetry::{Logging, Secrets};
use crate::template::TemplateEngine;
use indexmap::IndexMap;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

pub fn compile(
    name: String,
    dir: PathBuf,
    mut api: ApiDef,
    auth: AuthFileDef,
    endpoints: EndpointsFileDef,
    unknown: &[(&'static str, UnknownKey)],
) -> Result<Profile, Vec<ConfigError>> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut engine = TemplateEngine::new();
    for (file, key) in unknown {
        match crate::auth::security_near_miss(file, key) {
            Some(p) => problems.push(p),
            None => warnings.push(unknown_key(file, key)),
        }
    }
    without_effect(&api, &auth, &endpoints, &mut warnings);

    let info = api_info(&api, &name, &mut problems);
    let backend = backend(api.persistence.as_ref(), &mut problems);
    let mut seed = seed(&api, &mut problems);
    let methods = AuthMethod::parse_all(&auth, &mut problems);
    let seeded: Vec<String> = seed.keys().cloned().collect();
    let generator = match &api.generate_data {
        None | Some(Value::Null) => None,
        Some(def) => {
            let mut cx = CompileCx::new("api.json", &mut problems, &mut engine);
            crate::generate::Generator::parse(def, &seeded, &mut cx)
        }
    };
    let system = SystemGuard::parse(api.system.as_ref(), &auth, &mut problems);
    let logging = Logging::parse(api.logging.as_ref(), &mut problems);
    let secrets = secrets(&methods, &system);
    let auth_values = crate::auth::AuthValues::new(&methods);
    let namespaces = super::NamespaceSettings::parse(api.namespaces.as_ref(), &mut problems);
    let journal = super::JournalSettings::parse(api.journal.as_ref(), &mut problems);
    let latency = super::knob(
        api.latency.as_ref(),
        "latency".into(),
        crate::chaos::Delay::parse,
        crate::chaos::delay::EXPECTED,
        &mut CompileCx::new("api.json", &mut problems, &mut engine),
        &mut true,
    );
    let cors = Cors::parse(api.cors.as_ref(), &mut problems);

    let mut compiled = Vec::with_capacity(endpoints.endpoints.len());
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for (i, def) in endpoints.endpoints.iter().enumerate() {
        let mut cx = CompileCx::new("endpoints.json", &mut problems, &mut engine);
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
    let mut rules = Rules::gather(&endpoints, &mut CompileCx::new("endpoints.json", &mut problems, &mut engine));
    static_items(&compiled, &mut seed, &mut rules);
    let server = api.server.take().unwrap_or_default();
    let limits = limits(&server, &mut problems);

    label_endpoints(&mut warnings, &endpoints);
    if !problems.is_empty() {
        label_endpoints(&mut problems, &endpoints);
        return Err(problems);
    }
    let unprefixed = !info.root_path.is_empty() && api.unprefixed_paths != Some(false);
    Ok(Profile {
        name,
        dir,
        info,
        backend,
        host: server.host,
        port: server.port,
        max_body_bytes: server.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
        limits,
        system,
        endpoints: compiled,
        seed,
        generator,
        engine,
        rules,
        logging,
        secrets,
        cors,
        auth_values,
        namespaces,
        journal,
        latency,
        unprefixed,
        warnings,
    })
}

/// Mock-and-Roll seeds the static `items` of a list endpoint's response (those with an
/// `id`) and keeps them read-only: a delete of one is refused.
fn static_items(endpoints: &[Endpoint], seed: &mut Dataset, rules: &mut Rules) {
    for ep in endpoints {
        let Some(Action::List(list)) = ep.persistence.as_ref().map(|p| &p.action) else { continue };
        let Some(key) = &list.list_key else { continue };
        let items = ep.responses.first().and_then(|r| r.example.as_ref()).and_then(|b| b.get(key));
        for item in items.and_then(Value::as_array).into_iter().flatten() {
            let Some(id) = item.get("id").and_then(id_key) else { continue };
            seed.entry(list.entity.clone()).or_default().entry(id.clone()).or_insert_with(|| item.clone());
            rules.entry(&list.entity).protected.insert(id);
        }
    }
}

/// The warning for a key nothing reads, naming the key that was probably meant.
fn unknown_key(file: &str, key: &UnknownKey) -> ConfigError {
    let expected = crate::config::keys::expected_keys(file, &key.parent);
    let (found, expected) = match crate::config::keys::closest(&key.key, expected) {
        Some(k) => (format!("unknown key, did you mean {k:?}?"), String::new()),
        None if expected.is_empty() => ("unknown key".to_owned(), String::new()),
        None if expected.len() == 1 => ("unknown key".to_owned(), format!("{:?}", expected[0])),
        None => ("unknown key".to_owned(), format!("one of {}", expected.join(", "))),
    };
    ConfigError { file: file.to_owned(), json_path: key.json_path(), found, expected, endpoint: String::new() }
}

/// Keys that are understood but change nothing in mockgate: each is said once.
fn without_effect(api: &ApiDef, auth: &AuthFileDef, endpoints: &EndpointsFileDef, warnings: &mut Vec<ConfigError>) {
    let mut note = |file: &str, json_path: String, why: &str| {
        warnings.push(ConfigError {
            file: file.to_owned(),
            json_path,
            found: format!("accepted without effect: {why}"),
            expected: String::new(),
            endpoint: String::new(),
        });
    };
    let meta = [
        ("support", api.support.is_some()),
        ("terms_of_service", api.terms_of_service.is_some()),
        ("license", api.license.is_some()),
        ("openapi_tags", api.openapi_tags.is_some()),
        ("base_url", api.base_url.is_some()),
    ];
    for (key, _) in meta.iter().filter(|(_, present)| *present) {
        note("api.json", (*key).to_owned(), "/openapi.json does not carry it");
    }
    for (at, ui) in [("swagger_ui", &api.swagger_ui), ("swagger", &api.swagger)] {
        let Some(ui) = ui else { continue };
        let display = [
            ("doc_expansion", ui.doc_expansion.is_some()),
            ("default_models_expand_depth", ui.default_models_expand_depth.is_some()),
            ("default_model_expand_depth", ui.default_model_expand_depth.is_some()),
            ("display_request_duration", ui.display_request_duration.is_some()),
            ("try_it_out_enabled", ui.try_it_out_enabled.is_some()),
        ];
        for (key, _) in display.iter().filter(|(_, present)| *present) {
            note("api.json", format!("{at}.{key}"), "the Swagger UI at /docs/ keeps its own display settings");
        }
    }
    if let Some(l) = &api.logging {
        let switches = [
            ("enabled", l.enabled.is_some()),
            ("console_enabled", l.console_enabled.is_some()),
            ("file_enabled", l.file_enabled.is_some()),
            ("format", l.format.is_some()),
            ("request_response_logging", l.request_response_logging.is_some()),
        ];
        for (key, _) in switches.iter().filter(|(_, present)| *present) {
            note(
                "api.json",
                format!("logging.{key}"),
                "the access log is always written, as JSON lines, to standard error and to logging.file when set",
            );
        }
    }
    for (name, m) in &auth.authentication_methods {
        let descriptive = [
            ("authorization_url", m.authorization_url.is_some()),
            ("token_url", m.token_url.is_some()),
            ("openid_connect_url", m.openid_connect_url.is_some()),
            ("client_id", m.client_id.is_some()),
            ("client_secret", m.client_secret.is_some()),
            ("redirect_uri", m.redirect_uri.is_some()),
        ];
        for (key, _) in descriptive.iter().filter(|(_, present)| *present) {
            note(
                "auth.json",
                format!("authentication_methods.{name}.{key}"),
                "bearer tokens are checked against valid_tokens only",
            );
        }
    }
    for (i, ep) in endpoints.endpoints.iter().enumerate() {
        if ep.request_headers.is_some() {
            note("endpoints.json", format!("endpoints[{i}].request_headers"), "the request's own Content-Type decides");
        }
        let mut persistence: Vec<(String, &crate::config::PersistenceDef)> = Vec::new();
        if let Some(p) = &ep.persistence {
            persistence.push((format!("endpoints[{i}].persistence"), p));
        }
        for (r, rule) in ep.responses.iter().enumerate() {
            if let Some(p) = &rule.persistence {
                persistence.push((format!("endpoints[{i}].responses[{r}].persistence"), p));
            }
        }
        for (at, p) in persistence {
            if p.cache.as_ref().is_some_and(|c| c.key_prefix.is_some()) {
                note("endpoints.json", format!("{at}.cache.key_prefix"), "read-cache keys are internal");
            }
        }
    }
}

/// Every credential the profile defines, and the entity types that hold sessions.
fn secrets(methods: &HashMap<String, Arc<AuthMethod>>, system: &SystemGuard) -> Secrets {
    let mut values: Vec<String> = system.keys.clone();
    let mut sessions = Vec::new();
    for m in methods.values() {
        match m.as_ref() {
            AuthMethod::ApiKey { keys, .. } => values.extend(keys.iter().cloned()),
            AuthMethod::Basic { credentials } => values.extend(credentials.iter().map(|(_, p)| p.clone())),
            AuthMethod::Bearer { tokens } => values.extend(tokens.keys().cloned()),
            AuthMethod::Session { entity, .. } => sessions.push(entity.clone()),
            AuthMethod::StaticSessions { sessions: listed, .. } => {
                for s in listed {
                    for key in ["session_id", "csrf_token"] {
                        if let Some(v) = s.get(key).and_then(Value::as_str) {
                            values.push(v.to_owned());
                        }
                    }
                }
            }
        }
    }
    Secrets::new(values, sessions)
}

/// Names the endpoint of each problem in `endpoints.json` by its method and path, as
/// written, next to the JSON path (`endpoints[3]` is hard to find in a long file).
fn label_endpoints(problems: &mut [ConfigError], endpoints: &EndpointsFileDef) {
    for p in problems.iter_mut().filter(|p| p.file == "endpoints.json") {
        let index = p
            .json_path
            .strip_prefix("endpoints[")
            .and_then(|r| r.split(']').next())
            .and_then(|n| n.parse::<usize>().ok());
        if let Some(def) = index.and_then(|i| endpoints.endpoints.get(i)) {
            p.endpoint = format!("{} {}", def.method.to_ascii_uppercase(), def.path);
        }
    }
}

/// `server`'s timeouts and connection cap, checked.
fn limits(server: &ServerDef, problems: &mut Vec<ConfigError>) -> Limits {
    let mut out = Limits::default();
    let mut seconds = |at: &str, v: Option<f64>, into: &mut std::time::Duration| match v {
        None => {}
        Some(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => *into = std::time::Duration::from_secs_f64(s),
        Some(s) => problems.push(ConfigError {
            file: "api.json".into(),
            json_path: format!("server.{at}"),
            found: format!("found {s}"),
            endpoint: String::new(),
            expected: "a number of seconds above 0 and at most 86400".into(),
        }),
    };
    seconds("body_timeout_seconds", server.body_timeout_seconds, &mut out.body_timeout);
    seconds("keep_alive_seconds", server.keep_alive_seconds, &mut out.keep_alive);
    match server.max_connections {
        Some(0) => problems.push(ConfigError {
            file: "api.json".into(),
            json_path: "server.max_connections".into(),
            found: "found 0".into(),
            endpoint: String::new(),
            expected: "at least 1".into(),
        }),
        Some(n) => out.max_connections = n,
        None => {}
    }
    out
}

/// `"tag"`, `{"name": "tag"}`, or a list of either.
fn tags(v: Option<&Value>, at: &str, cx: &mut CompileCx<'_>) -> Option<Vec<String>> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(m) => m.get("name").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    };
    let found = match v {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(one).collect(),
        Some(v) => one(v).map(|t| vec![t]),
    };
    if found.is_none() {
        cx.problem(
            at,
            format!("found {}", v.unwrap_or(&Value::Null)),
            "a tag name, {\"name\": ...}, or a list of them",
        );
    }
    found
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
        endpoint: String::new(),
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
            if !valid_entity_name(entity) {
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
    // `users/x` under root `/api/v1` would silently become `/api/v1users/x`.
    let path = if !def.path.starts_with('/') {
        cx.problem(
            format!("{at}.path"),
            format!("found {:?}", def.path),
            "a path starting with `/`, such as \"/users\"",
        );
        None
    } else {
        match PathTemplate::parse(&format!("{root}{}", def.path)) {
            Ok(p) => Some(p),
            Err(msg) => {
                cx.problem(format!("{at}.path"), msg, "");
                None
            }
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

    let mut persistence = match &def.persistence {
        None => None,
        Some(p) => {
            let a = Persist::parse(p, &format!("{at}.persistence"), cx);
            ok &= a.is_some();
            a
        }
    };
    // A login stores what its response says about the session (`user_id`,
    // `permissions`, ...), never the request's password.
    if let Some(Persist { action: Action::Create(c), .. }) = persistence.as_mut()
        && c.data.is_none()
        && methods.values().any(|m| matches!(m.as_ref(), AuthMethod::Session { entity, .. } if *entity == c.entity))
    {
        c.store_response = true;
    }

    if def.responses.is_empty() && def.persistence.is_none() {
        cx.problem(format!("{at}.responses"), "no responses and no persistence action", "at least one response");
        ok = false;
    }
    let mut responses = Vec::with_capacity(def.responses.len());
    for (j, r) in def.responses.iter().enumerate() {
        match ResponseRule::parse(r, &format!("{at}.responses[{j}]"), cx) {
            Some(rule) => responses.push(rule),
            None => ok = false,
        }
    }

    let tags = tags(def.tag.as_ref(), &format!("{at}.tag"), cx);
    ok &= tags.is_some();
    let retrieve = matches!(persistence.as_ref().map(|p| &p.action), Some(Action::Read(r)) if r.retrieve);
    let not_found = match &def.not_found_response {
        Some(r) => {
            let rule = crate::config::ResponseRuleDef { response: r.clone(), ..Default::default() };
            let parsed = ResponseRule::parse(&rule, &format!("{at}.not_found_response"), cx);
            ok &= parsed.is_some();
            parsed.map(|r| NotFoundRule::Own(Box::new(r)))
        }
        None if retrieve => responses.iter().position(|r| r.conditions.is_empty()).map(NotFoundRule::Rule),
        None => None,
    };
    let conflict = def
        .persistence
        .as_ref()
        .filter(|p| !p.unique_fields.is_empty())
        .and_then(|_| responses.iter().position(|r| matches!(r.status, StatusSpec::Fixed(409))));
    let required_headers =
        def.required_headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), k.clone(), v.clone())).collect();
    let required_query = def.query_parameters.iter().filter(|q| q.required).map(|q| q.name.clone()).collect();
    let params = super::params::Params::parse(&def.parameters, &at, cx);
    ok &= params.is_some();
    use crate::chaos::{Delay, Dribble, Fault, delay::EXPECTED};
    let delay = super::knob(def.delay.as_ref(), format!("{at}.delay"), Delay::parse, EXPECTED, cx, &mut ok);
    let fault = super::knob(def.fault.as_ref(), format!("{at}.fault"), Fault::parse, Fault::NAMES, cx, &mut ok);
    let dribble =
        super::knob(def.dribble.as_ref(), format!("{at}.dribble"), Dribble::parse, Dribble::EXPECTED, cx, &mut ok);
    let path = path?;
    ok.then(|| Endpoint {
        delay,
        fault,
        dribble,
        method,
        route: path.as_str().into(),
        path,
        name: def.name.clone().or_else(|| def.summary.clone()),
        doc: EndpointDoc {
            name: def.name.clone(),
            summary: def.summary.clone(),
            description: def.description.clone(),
            body_schema: def.request_body_schema.clone(),
        },
        tags: tags.unwrap_or_default(),
        auth,
        schema,
        persistence,
        responses,
        at,
        required_headers,
        required_query,
        params: params.unwrap_or_default(),
        not_found,
        conflict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(endpoints: Value) -> Vec<String> {
        let eps: EndpointsFileDef = serde_json::from_value(endpoints).unwrap();
        match compile("t".into(), PathBuf::from("t"), ApiDef::default(), AuthFileDef::default(), eps, &[]) {
            Ok(_) => vec![],
            Err(e) => e.iter().map(without_label).collect(),
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

/// A problem as text without its endpoint label: the tests below are about paths.
#[cfg(test)]
fn without_label(e: &ConfigError) -> String {
    ConfigError { endpoint: String::new(), ..e.clone() }.to_string()
}

#[cfg(test)]
mod rule_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entity_rule_problems_are_reported_at_their_block() {
        let eps: EndpointsFileDef = serde_json::from_value(json!({"endpoints": [
            {"method": "POST", "path": "/users", "persistence": {"entity_name": "users", "action": "create",
                "validation": {"field_constraints": {"name": {"pattern": "("}, "email": {"format": "phone"}}},
                "relationships": {"team_id": {"entity": "teams", "on_delete": "explode"}}}},
            {"method": "PUT", "path": "/users/{id}", "persistence": {"entity_name": "users", "action": "update",
                "optimistic_lock": {"version_field": "rev"}},
             "responses": [{"persistence": {"atomic": true, "operations": [
                {"entity_name": "users", "action": "update", "optimistic_lock": {"version_field": "v"}}]},
                "response": {"status_code": 200}}]}
        ]}))
        .unwrap();
        let errs: Vec<String> =
            match compile("t".into(), PathBuf::from("t"), ApiDef::default(), AuthFileDef::default(), eps, &[]) {
                Ok(_) => vec![],
                Err(e) => e.iter().map(without_label).collect(),
            };
        assert_eq!(errs.len(), 4, "{errs:#?}");
        assert!(errs[0].starts_with("endpoints.json: endpoints[0].persistence.validation.field_constraints.name.pattern: invalid regular expression"), "{}", errs[0]);
        assert_eq!(
            errs[1],
            "endpoints.json: endpoints[0].persistence.validation.field_constraints.email.format: unknown format \"phone\", expected \"email\""
        );
        assert_eq!(
            errs[2],
            "endpoints.json: endpoints[0].persistence.relationships.team_id.on_delete: unknown rule \"explode\", expected \"restrict\", \"cascade\" or \"nullify\""
        );
        assert_eq!(
            errs[3],
            "endpoints.json: endpoints[1].responses[0].persistence.operations[0].optimistic_lock.version_field: users is already locked on \"rev\", here on \"v\", expected one version field per entity type"
        );
    }
}

#[cfg(test)]
mod refusal_tests {
    use super::*;
    use serde_json::json;

    fn problems(api: Value, endpoints: Value) -> Vec<String> {
        let api: ApiDef = serde_json::from_value(api).unwrap();
        let eps: EndpointsFileDef = serde_json::from_value(endpoints).unwrap();
        match compile("t".into(), PathBuf::from("t"), api, AuthFileDef::default(), eps, &[]) {
            Ok(_) => vec![],
            Err(e) => e.iter().map(without_label).collect(),
        }
    }

    fn one(response: Value) -> Value {
        json!({"endpoints": [{"method": "GET", "path": "/a", "responses": [response]}]})
    }

    #[test]
    fn what_could_only_fail_at_request_time_is_refused_at_load() {
        let cases = [
            (
                one(json!({"response": {"status_code": 101}})),
                "endpoints.json: endpoints[0].responses[0].response.status_code: found 101, expected a final status from 200 to 599 (1xx statuses are informational)",
            ),
            (
                one(json!({"response": {"status_code": "199"}})),
                "endpoints.json: endpoints[0].responses[0].response.status_code: found \"199\", expected a final status from 200 to 599 (1xx statuses are informational)",
            ),
            (
                one(json!({"response": {"status_code": 200, "body": {"x": "{{> header}}"}}})),
                "endpoints.json: endpoints[0].responses[0].response.body.x: partials are not supported: `{{> header}}`",
            ),
            (
                one(json!({"response": {"status_code": 200, "body": {"x": "{{#if}}yes{{/if}}"}}})),
                "endpoints.json: endpoints[0].responses[0].response.body.x: `{{#if}}` needs a value to test or walk, as in `{{#if request.x}}`",
            ),
        ];
        for (endpoints, want) in cases {
            assert_eq!(problems(json!({}), endpoints), vec![want.to_owned()]);
        }
    }

    #[test]
    fn problems_name_their_endpoint_by_method_and_path() {
        let eps: EndpointsFileDef = serde_json::from_value(json!({"endpoints": [
            {"method": "get", "path": "/ok", "responses": [{"response": {"status_code": 200}}]},
            {"method": "post", "path": "/users", "persistence": {"entity_name": "users", "action": "craete"}}
        ]}))
        .unwrap();
        let err =
            compile("t".into(), PathBuf::from("t"), ApiDef::default(), AuthFileDef::default(), eps, &[]).unwrap_err();
        assert_eq!(
            err[0].to_string(),
            "endpoints.json: endpoints[1].persistence.action (POST /users): unknown action \"craete\", expected one of create, read, update, delete, list"
        );
    }

    #[test]
    fn a_path_must_start_with_a_slash() {
        let eps = json!({"endpoints": [{"method": "GET", "path": "users/x", "responses": [{"response": {"status_code": 200}}]}]});
        assert_eq!(
            problems(json!({"root_path": "/api/v1"}), eps),
            vec!["endpoints.json: endpoints[0].path: found \"users/x\", expected a path starting with `/`, such as \"/users\"".to_owned()]
        );
    }

    #[test]
    fn generated_counts_are_bounded() {
        let api = json!({"generate_data": {"counts": {"users": 100_000_000u64}, "entities": {"users": {}}}});
        let ok = one(json!({"response": {"status_code": 200}}));
        assert_eq!(
            problems(api, ok),
            vec!["api.json: generate_data.counts.users: found 100000000, expected at most 10000000".to_owned()]
        );
    }

    #[test]
    fn server_limits_are_checked() {
        let api = json!({"server": {"body_timeout_seconds": 0, "keep_alive_seconds": -1, "max_connections": 0}});
        let found = problems(api, one(json!({"response": {"status_code": 200}})));
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(found[0].starts_with("api.json: server.body_timeout_seconds: found 0"), "{found:#?}");
    }
}
