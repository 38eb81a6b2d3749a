//! The OpenAPI 3.1 document of a loaded profile and of the `/system` API, built once
//! per gateway (at start and on each reload) and served as bytes at `/openapi.json`;
//! Swagger UI at `/docs` reads it.
//!
//! The `/system` part is generated from [`SystemOp`]s, the same table the HTTP layer
//! registers its admin routes from, so the two cannot drift apart.
//!
//! The structure (paths, operations, parameters, responses, security schemes, tags)
//! is built with utoipa's typed builders. Request body schemas are the profile's own
//! JSON Schemas, which OpenAPI 3.1 takes as they are (its schema dialect is JSON
//! Schema 2020-12): utoipa's `Schema` type models a subset, so operations refer to
//! them as `#/components/schemas/<name>` and the schemas themselves are inserted
//! verbatim into the serialised document.

use crate::auth::{AuthMethod, KeyLocation, SessionLocation};
use crate::persistence::Action;
use crate::profile::{Endpoint, Profile, ResponseRule, StatusSpec};
use crate::words::singular;
use indexmap::IndexMap;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashSet};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApiBuilder, PathItem, Paths, Ref, Required, ResponseBuilder,
    ResponsesBuilder, Schema,
};
use utoipa::openapi::{ObjectBuilder, Type};

/// The tag of the `/system` API's operations.
pub const SYSTEM_TAG: &str = "System";
const SYSTEM_SCHEME: &str = "SystemKey";

/// An HTTP method of the system API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Delete,
}

/// What a successful system operation answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    Json,
    /// Prometheus text.
    Text,
    None,
}

/// The request body a system operation reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Seed,
    Snapshot,
    /// Any JSON object (the operation's description says what it reads).
    Object,
}

/// One operation of the `/system` API, as documented. Path parameters come from the
/// `{name}` segments of `path`.
#[derive(Debug, Clone, Copy)]
pub struct SystemOp {
    pub verb: Verb,
    /// Below `/system`, e.g. `/data/{entity}`.
    pub path: &'static str,
    pub summary: &'static str,
    pub status: u16,
    /// The success response's description.
    pub answer: &'static str,
    pub content: Content,
    /// Query parameters: name, description, whether it is a number.
    pub query: &'static [(&'static str, &'static str, bool)],
    pub body: Option<BodyKind>,
    /// Errors besides the system key's 401/403: status and description.
    pub errors: &'static [(u16, &'static str)],
}

/// The OpenAPI document of `profile` and the `system` operations, as JSON.
pub fn document(profile: &Profile, system: &[SystemOp]) -> Value {
    let mut schemas: IndexMap<String, Value> = IndexMap::new();
    schemas.insert("Error".into(), error_schema());
    let mut paths: IndexMap<String, PathItem> = IndexMap::new();
    let mut tags: BTreeSet<String> = BTreeSet::new();
    let mut operation_ids: HashSet<String> = HashSet::new();

    for ep in &profile.endpoints {
        let Some(method) = http_method(&ep.method) else { continue };
        let ep_tags = if ep.tags.is_empty() {
            vec![default_tag(ep.path.as_str(), &profile.info.root_path)]
        } else {
            ep.tags.clone()
        };
        tags.extend(ep_tags.iter().cloned());
        let doc = &ep.doc;
        let id = unique(&mut operation_ids, operation_id(ep));
        let mut op = OperationBuilder::new()
            .tags(Some(ep_tags))
            .operation_id(Some(id.clone()))
            .summary(doc.summary.clone().or_else(|| doc.name.clone()).or_else(|| Some(default_summary(ep))))
            .description(doc.description.clone())
            .parameters(Some(parameters(ep)));
        if let Some(schema) = &doc.body_schema {
            let name = format!("{}Body", upper_first(&id));
            schemas.insert(name.clone(), schema.clone());
            op = op.request_body(Some(json_body(&name, true)));
        } else if matches!(ep.persistence.as_ref().map(|p| &p.action), Some(Action::Create(_) | Action::Update(_))) {
            op = op.request_body(Some(any_json_body()));
        }
        for (name, _) in &ep.auth.methods {
            let scopes = if matches!(profile_method(ep, name), Some(AuthMethod::Bearer { .. })) {
                ep.auth.required_scopes.clone()
            } else {
                Vec::new()
            };
            op = op.security(SecurityRequirement::new(name.clone(), scopes));
        }
        op = op.responses(responses(ep));
        let item = paths.entry(ep.path.as_str().to_owned()).or_default();
        item.merge_operations(PathItem::new(method, op));
    }
    system_schemas(&mut schemas);
    for sys in system {
        let path = format!("/system{}", sys.path);
        let op = system_operation(sys)
            .tag(SYSTEM_TAG)
            .summary(Some(sys.summary))
            .security(SecurityRequirement::new(SYSTEM_SCHEME, [""; 0]));
        paths.entry(path).or_default().merge_operations(PathItem::new(verb(sys.verb), op));
    }

    let mut components = ComponentsBuilder::new();
    for (name, scheme) in security_schemes(profile) {
        components = components.security_scheme(name, scheme);
    }
    let mut path_set = Paths::new();
    path_set.paths = paths.into_iter().collect();
    let mut tag_list: Vec<_> = tags.into_iter().map(|t| TagBuilder::new().name(t).build()).collect();
    tag_list.push(
        TagBuilder::new()
            .name(SYSTEM_TAG)
            .description(Some("Administration: health, metrics, cache, data, seeding and snapshots (X-System-Key)"))
            .build(),
    );
    let description = (!profile.info.description.is_empty()).then(|| profile.info.description.clone());
    let api = OpenApiBuilder::new()
        .info(InfoBuilder::new().title(&profile.info.name).version(&profile.info.version).description(description))
        .paths(path_set)
        .components(Some(components.build()))
        .tags(Some(tag_list))
        .build();
    let mut doc = serde_json::to_value(&api).unwrap_or_else(|_| json!({}));
    doc["components"]["schemas"] = Value::Object(schemas.into_iter().collect());
    doc
}

fn http_method(m: &str) -> Option<HttpMethod> {
    Some(match m {
        "GET" => HttpMethod::Get,
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "PATCH" => HttpMethod::Patch,
        "DELETE" => HttpMethod::Delete,
        "HEAD" => HttpMethod::Head,
        "OPTIONS" => HttpMethod::Options,
        "TRACE" => HttpMethod::Trace,
        _ => return None,
    })
}

/// `/api/v1/users/{id}` under root `/api/v1` → `users`.
fn default_tag(path: &str, root: &str) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .split('/')
        .find(|s| !s.is_empty() && !s.starts_with('{'))
        .unwrap_or("default")
        .to_owned()
}

/// `Create a product`, `List products`, `Atomic [create orders, update products]`.
fn default_summary(ep: &Endpoint) -> String {
    let Some(persist) = &ep.persistence else { return format!("{} {}", ep.method, ep.path.as_str()) };
    let one = |verb: &str, entity: &str| format!("{verb} a {}", singular(entity));
    match &persist.action {
        Action::Create(a) => one("Create", &a.entity),
        Action::Read(a) => one("Read", &a.entity),
        Action::Update(a) => one("Update", &a.entity),
        Action::Delete(a) => one("Delete", &a.entity),
        Action::List(a) => format!("List {}", a.entity.replace('_', " ")),
        Action::Atomic(_) => upper_first(&persist.label),
    }
}

/// From the endpoint's name (`Create user` → `createUser`), else its action
/// (`update products` → `updateProducts`), else method and path (`getApiV1Health`).
fn operation_id(ep: &Endpoint) -> String {
    let source = match (ep.doc.name.as_deref(), ep.persistence.as_ref()) {
        (Some(name), _) if name.chars().any(char::is_alphanumeric) => name.to_owned(),
        (_, Some(p)) if !matches!(p.action, Action::Atomic(_)) => p.label.to_string(),
        _ => format!("{} {}", ep.method, ep.path.as_str()),
    };
    camel(&source)
}

/// `POST /api/v1/users` → `postApiV1Users`.
fn camel(text: &str) -> String {
    let mut out = String::new();
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let word = word.to_lowercase();
        out.push_str(&if out.is_empty() { word } else { upper_first(&word) });
    }
    out
}

fn unique(seen: &mut HashSet<String>, id: String) -> String {
    let mut candidate = id.clone();
    let mut n = 2;
    while !seen.insert(candidate.clone()) {
        candidate = format!("{id}{n}");
        n += 1;
    }
    candidate
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

fn string_schema() -> Schema {
    ObjectBuilder::new().schema_type(Type::String).into()
}

fn integer_schema(min: i64) -> Schema {
    ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(min as f64)).into()
}

fn param(name: &str, at: ParameterIn, required: bool, schema: Schema, description: &str) -> ParameterBuilder {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(at)
        .required(if required { Required::True } else { Required::False })
        .schema(Some(schema))
        .description((!description.is_empty()).then(|| description.to_owned()))
}

fn parameters(ep: &Endpoint) -> Vec<utoipa::openapi::path::Parameter> {
    let mut out: Vec<utoipa::openapi::path::Parameter> = Vec::new();
    let mut named: HashSet<(String, &'static str)> = HashSet::new();
    let mut add = |p: ParameterBuilder, name: &str, at: &'static str, out: &mut Vec<_>| {
        if named.insert((name.to_ascii_lowercase(), at)) {
            out.push(p.build());
        }
    };
    for name in ep.path.params() {
        add(param(&name, ParameterIn::Path, true, string_schema(), ""), &name, "path", &mut out);
    }
    match ep.persistence.as_ref().map(|p| &p.action) {
        Some(Action::List(list)) => {
            let limit = match list.pagination {
                Some(p) => format!("Page size (default {}, at most {})", p.default_limit, p.max_limit),
                None => "Page size (default: everything)".to_owned(),
            };
            for (name, schema, text) in [
                ("limit", integer_schema(0), limit.as_str()),
                ("offset", integer_schema(0), "Entities to skip"),
                ("sort", string_schema(), "Field to sort by; `-field` sorts descending"),
                ("search", string_schema(), "Substring searched in every string field, any case"),
            ] {
                add(param(name, ParameterIn::Query, false, schema, text), name, "query", &mut out);
            }
        }
        Some(Action::Update(u)) if u.lock.is_some() => {
            let text = "The version the client last saw (ETag); a stale one answers 412";
            add(param("If-Match", ParameterIn::Header, false, string_schema(), text), "if-match", "header", &mut out);
        }
        _ => {}
    }
    for rule in &ep.responses {
        for (name, _) in &rule.conditions.query {
            let p = param(name, ParameterIn::Query, false, string_schema(), "Selects a response (see responses)");
            add(p, name, "query", &mut out);
        }
        for (name, _) in &rule.conditions.headers {
            let p = param(name, ParameterIn::Header, false, string_schema(), "Selects a response (see responses)");
            add(p, name, "header", &mut out);
        }
    }
    out
}

fn json_body(schema: &str, required: bool) -> utoipa::openapi::request_body::RequestBody {
    RequestBodyBuilder::new()
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name(schema))).build())
        .required(Some(if required { Required::True } else { Required::False }))
        .build()
}

fn any_json_body() -> utoipa::openapi::request_body::RequestBody {
    let object: Schema = ObjectBuilder::new().schema_type(Type::Object).into();
    RequestBodyBuilder::new()
        .content("application/json", ContentBuilder::new().schema(Some(object)).build())
        .required(Some(Required::True))
        .build()
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("Error"))).build())
        .build()
}

fn responses(ep: &Endpoint) -> utoipa::openapi::Responses {
    let action = ep.persistence.as_ref().map(|p| &p.action);
    let default_status = match action {
        Some(Action::Create(_)) => 201,
        Some(Action::Delete(_)) => 204,
        _ => 200,
    };
    // One response per status the profile's rules can answer, with the first rule's
    // body as the example (templates appear as written).
    let mut by_status: IndexMap<String, (Vec<String>, Option<Value>)> = IndexMap::new();
    for rule in &ep.responses {
        let status = match &rule.status {
            StatusSpec::Default => default_status.to_string(),
            StatusSpec::Fixed(s) => s.to_string(),
            StatusSpec::Template(_) => "default".to_owned(),
        };
        let entry = by_status.entry(status).or_default();
        entry.0.push(describe_conditions(rule));
        if entry.1.is_none() {
            entry.1 = rule.example.clone();
        }
    }
    if by_status.is_empty() {
        by_status.insert(default_status.to_string(), (vec![String::new()], None));
    }
    let mut out = ResponsesBuilder::new();
    for (status, (conditions, example)) in by_status {
        let conditions: Vec<String> = conditions.into_iter().filter(|c| !c.is_empty()).collect();
        let description = if conditions.is_empty() {
            reason(&status).to_owned()
        } else {
            format!("{} ({})", reason(&status), conditions.join("; or "))
        };
        let mut r = ResponseBuilder::new().description(description);
        if status != "204" {
            let content = ContentBuilder::new().example(example).build();
            r = r.content("application/json", content);
        }
        out = out.response(status, r.build());
    }
    let reads_body = ep.doc.body_schema.is_some() || matches!(action, Some(Action::Create(_) | Action::Update(_)));
    if reads_body || matches!(action, Some(Action::List(_))) {
        out =
            out.response("400", error_response("Malformed JSON, failed validation (with each violation) or bad query"));
    }
    if !ep.auth.methods.is_empty() {
        out = out.response("401", error_response("Missing or invalid credentials"));
        if !ep.auth.required_scopes.is_empty() {
            out = out.response("403", error_response("The token lacks a required scope"));
        }
    }
    if matches!(action, Some(Action::Read(_) | Action::Update(_) | Action::Delete(_) | Action::Atomic(_))) {
        out = out.response("404", error_response("No such entity"));
    }
    if matches!(action, Some(Action::Create(_) | Action::Update(_) | Action::Delete(_) | Action::Atomic(_))) {
        out = out.response(
            "409",
            error_response("Conflict: the id or a unique field is taken, a stale version, or still referenced"),
        );
    }
    if matches!(action, Some(Action::Update(u)) if u.lock.is_some()) {
        out = out.response("412", error_response("If-Match names a version that is no longer current"));
    }
    if reads_body {
        out = out.response("413", error_response("The body is larger than the server accepts"));
    }
    if action.is_some() {
        out = out.response("503", error_response("The storage backend is unavailable; retry after Retry-After"));
    }
    out.build()
}

fn describe_conditions(rule: &ResponseRule) -> String {
    let c = &rule.conditions;
    let mut parts = Vec::new();
    for (what, conds) in [("body", &c.body), ("query", &c.query), ("header", &c.headers), ("path", &c.path)] {
        for (k, v) in conds {
            parts.push(format!("{what} `{k}` = `{v}`"));
        }
    }
    if parts.is_empty() { String::new() } else { format!("when {}", parts.join(" and ")) }
}

fn reason(status: &str) -> &'static str {
    status
        .parse::<u16>()
        .ok()
        .and_then(|s| http::StatusCode::from_u16(s).ok())
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Response")
}

fn profile_method<'a>(ep: &'a Endpoint, name: &str) -> Option<&'a AuthMethod> {
    ep.auth.methods.iter().find(|(n, _)| n == name).map(|(_, m)| m.as_ref())
}

fn security_schemes(profile: &Profile) -> Vec<(String, SecurityScheme)> {
    let mut out: IndexMap<String, SecurityScheme> = IndexMap::new();
    for ep in &profile.endpoints {
        for (name, method) in &ep.auth.methods {
            if out.contains_key(name) {
                continue;
            }
            let scheme = match method.as_ref() {
                AuthMethod::ApiKey { name: key, location: KeyLocation::Header, .. } => {
                    SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(key)))
                }
                AuthMethod::ApiKey { name: key, location: KeyLocation::Query, .. } => {
                    SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::new(key)))
                }
                AuthMethod::ApiKey { name: key, location: KeyLocation::Cookie, .. } => {
                    SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(key)))
                }
                AuthMethod::Basic { .. } => SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
                AuthMethod::Bearer { .. } => SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
                AuthMethod::StaticSessions { cookie, .. } => {
                    SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                        cookie.clone(),
                        "A session id listed in auth.json's valid_sessions".to_owned(),
                    )))
                }
                AuthMethod::Session { name: key, location, entity } => {
                    let text = format!("A session id: the id of a live `{entity}` entity, created by logging in");
                    match location {
                        SessionLocation::Header => {
                            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(key.clone(), text)))
                        }
                        SessionLocation::Query => {
                            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(key.clone(), text)))
                        }
                        SessionLocation::Cookie => {
                            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(key.clone(), text)))
                        }
                        SessionLocation::Bearer => {
                            let mut http = Http::new(HttpAuthScheme::Bearer);
                            http.description = Some(text);
                            SecurityScheme::Http(http)
                        }
                    }
                }
            };
            out.insert(name.clone(), scheme);
        }
    }
    out.insert(
        SYSTEM_SCHEME.into(),
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-System-Key".to_owned(),
            "The system key (api.json `system.api_keys` or MOCKGATE_SYSTEM_KEY)".to_owned(),
        ))),
    );
    out.into_iter().collect()
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "examples": ["validation_failed", "entity_not_found", "conflict"]},
                "message": {"type": "string"},
                "violations": {"type": "array", "items": {
                    "type": "object",
                    "properties": {"path": {"type": "string"}, "message": {"type": "string"}}
                }},
                "allowed": {"type": "array", "items": {"type": "string"}}
            }
        }}
    })
}

fn verb(v: Verb) -> HttpMethod {
    match v {
        Verb::Get => HttpMethod::Get,
        Verb::Post => HttpMethod::Post,
        Verb::Delete => HttpMethod::Delete,
    }
}

/// The request bodies of the system API.
fn system_schemas(schemas: &mut IndexMap<String, Value>) {
    schemas.insert(
        "SeedBody".into(),
        json!({"type": "object", "required": ["entities"], "properties": {"entities": {
            "type": "object",
            "description": "Entity type → records, each checked like a create; all or nothing",
            "additionalProperties": {"type": "array", "items": {"type": "object"}}
        }}}),
    );
    schemas.insert(
        "SnapshotBody".into(),
        json!({"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "pattern": crate::admin::SNAPSHOT_NAME_PATTERN},
            "description": {"type": "string"}
        }}),
    );
}

/// One system operation: its parameters, body, success answer, and errors, with the
/// system key's two.
fn system_operation(sys: &SystemOp) -> OperationBuilder {
    let mut success = ResponseBuilder::new().description(sys.answer);
    match sys.content {
        Content::Json => success = success.content("application/json", ContentBuilder::new().build()),
        Content::Text => {
            success = success.content("text/plain", ContentBuilder::new().schema(Some(string_schema())).build())
        }
        Content::None => {}
    }
    let mut op = OperationBuilder::new()
        .response(sys.status.to_string(), success.build())
        .response("401", error_response("No X-System-Key"))
        .response("403", error_response("Wrong X-System-Key"));
    for name in sys.path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')) {
        op = op.parameter(param(name, ParameterIn::Path, true, string_schema(), "").build());
    }
    for (name, text, number) in sys.query {
        let schema = if *number { integer_schema(0) } else { string_schema() };
        op = op.parameter(param(name, ParameterIn::Query, false, schema, text).build());
    }
    match sys.body {
        Some(BodyKind::Seed) => op = op.request_body(Some(json_body("SeedBody", true))),
        Some(BodyKind::Snapshot) => op = op.request_body(Some(json_body("SnapshotBody", true))),
        Some(BodyKind::Object) => op = op.request_body(Some(any_json_body())),
        None => {}
    }
    for (status, text) in sys.errors {
        op = op.response(status.to_string(), error_response(text));
    }
    op
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_skip_the_root_path_and_parameters() {
        assert_eq!(default_tag("/api/v1/users/{id}", "/api/v1"), "users");
        assert_eq!(default_tag("/{tenant}/orders", ""), "orders");
        assert_eq!(default_tag("/", ""), "default");
    }

    #[test]
    fn operation_ids_are_camel_case() {
        assert_eq!(camel("POST /api/v1/users/{id}"), "postApiV1UsersId");
        assert_eq!(camel("Create user"), "createUser");
    }

    #[test]
    fn operation_ids_are_unique() {
        let mut seen = HashSet::new();
        assert_eq!(unique(&mut seen, "getUser".into()), "getUser");
        assert_eq!(unique(&mut seen, "getUser".into()), "getUser2");
        assert_eq!(unique(&mut seen, "getUser".into()), "getUser3");
    }
}
