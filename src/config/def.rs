//! The profile as users write it: permissive serde structs that mirror `api.json`,
//! `auth.json` and `endpoints.json` (Mock-and-Roll's format, extended).
//!
//! Keys not declared here are skipped by serde and reported by [`super::keys`] with
//! their JSON path (a warning, an error with `--strict`). Mock-and-Roll's own keys are
//! declared, including those mockgate accepts without using (the compile step says
//! so). Values whose shape depends on their content (templates, conditions, schemas)
//! stay `serde_json::Value` here and are checked by the part that owns them, which
//! knows the JSON path of every problem.

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

/// `api.json`.
#[derive(Debug, Default, Deserialize)]
pub struct ApiDef {
    /// Display name; Mock-and-Roll writes `api_name`.
    #[serde(alias = "api_name")]
    pub name: Option<String>,
    pub version: Option<String>,
    pub description: Option<String>,
    /// Prefix for every endpoint path, e.g. `/api/v1`.
    pub root_path: Option<String>,
    /// Backend selection: `"memory"`, `"file"`, `"redis"` or an object with `backend`.
    pub persistence: Option<Value>,
    pub system: Option<SystemDef>,
    /// Mock-and-Roll's form: `{"enabled": true, "entities": {"users": [..]}}`.
    pub data_seeding: Option<SeedingDef>,
    /// Pretendo's form: `{"users": [..]}`.
    pub data: Option<IndexMap<String, Vec<Value>>>,
    /// Generated data: `{"seed", "counts", "entities": {entity: {field: generator}}}`.
    pub generate_data: Option<Value>,
    pub server: Option<ServerDef>,
    pub logging: Option<LoggingDef>,
    /// Browser access: `true` (default, any origin), `false`, or an object.
    pub cors: Option<Value>,
    /// Namespaces: `{"header", "query_param", "max", "idle_ttl_seconds"}`.
    pub namespaces: Option<Value>,
    /// The request journal: `{"enabled", "max_entries", "max_body_bytes"}` or a bool.
    pub journal: Option<Value>,
    /// The delay of every endpoint without one of its own.
    pub latency: Option<Value>,
    /// `false`: endpoints answer only under `root_path`, not also without it.
    pub unprefixed_paths: Option<bool>,
    /// Mock-and-Roll's Swagger UI settings (`airgapped_mode` and display options);
    /// the UI is always served from the binary, so it works offline as it is.
    pub swagger_ui: Option<SwaggerUiDef>,
    /// Mock-and-Roll reads the display options from here in air-gapped mode.
    pub swagger: Option<SwaggerUiDef>,
    /// Mock-and-Roll's OpenAPI metadata, accepted without effect.
    pub support: Option<Value>,
    pub terms_of_service: Option<Value>,
    pub license: Option<Value>,
    pub openapi_tags: Option<Value>,
    pub base_url: Option<Value>,
}

/// `swagger_ui` (or `swagger`) in `api.json`: accepted for Mock-and-Roll profiles.
#[derive(Debug, Default, Deserialize)]
pub struct SwaggerUiDef {
    /// Needs nothing: mockgate's Swagger UI never loads anything from the network.
    #[allow(dead_code)]
    pub airgapped_mode: Option<bool>,
    pub doc_expansion: Option<Value>,
    pub default_models_expand_depth: Option<Value>,
    pub default_model_expand_depth: Option<Value>,
    pub display_request_duration: Option<Value>,
    pub try_it_out_enabled: Option<Value>,
}

/// `logging` in `api.json`.
#[derive(Debug, Default, Deserialize)]
pub struct LoggingDef {
    /// A filter such as `info` or `info,mockgate::store=debug` (`MOCKGATE_LOG` wins).
    pub level: Option<String>,
    /// Also write JSON lines here (relative to the working directory); Mock-and-Roll
    /// writes `file_path`.
    #[serde(alias = "file_path")]
    pub file: Option<String>,
    /// Rotate the log file when it grows past this many megabytes (default 10).
    #[serde(alias = "max_file_size_mb")]
    pub max_size_mb: Option<u64>,
    /// Rotated files kept next to it: `<file>.1` (newest) … (default 5).
    #[serde(alias = "backup_count")]
    pub max_files: Option<usize>,
    /// Log request and response bodies in the access log (secrets masked).
    #[serde(alias = "log_request_body", alias = "log_bodies")]
    pub bodies: Option<bool>,
    /// At most this many bytes of each logged body (default 1024).
    #[serde(alias = "max_body_log_size")]
    pub max_body_bytes: Option<usize>,
    /// `false`: `DELETE /system/logging/logs` is refused (403).
    pub allow_log_deletion: Option<bool>,
    /// Mock-and-Roll's switches, accepted without effect: the access log is always
    /// written, to standard error and (with `file`) to the file, as JSON lines.
    pub enabled: Option<bool>,
    pub console_enabled: Option<bool>,
    pub file_enabled: Option<bool>,
    pub format: Option<String>,
    pub request_response_logging: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SystemDef {
    /// `false` opens `/system` without a key.
    pub protect_endpoints: Option<bool>,
    /// Name of the `auth.json` method whose keys guard `/system` (Mock-and-Roll).
    pub auth_method: Option<String>,
    /// Keys accepted in `X-System-Key`.
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// Mock-and-Roll also places `data_seeding` under `system`.
    pub data_seeding: Option<SeedingDef>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SeedingDef {
    pub enabled: Option<bool>,
    #[serde(default)]
    pub entities: IndexMap<String, Vec<Value>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ServerDef {
    pub host: Option<String>,
    pub port: Option<u16>,
    /// Largest accepted request body in bytes (default 1 MiB).
    pub max_body_bytes: Option<usize>,
    /// Seconds a request body may take to arrive once its headers have (default 10):
    /// a slower client gets 408 and its connection is closed.
    pub body_timeout_seconds: Option<f64>,
    /// Seconds an idle keep-alive connection stays open (default 5).
    pub keep_alive_seconds: Option<f64>,
    /// Connections one instance serves at once (default 10000); more are answered 503
    /// and closed.
    pub max_connections: Option<usize>,
}

/// `auth.json`.
#[derive(Debug, Default, Deserialize)]
pub struct AuthFileDef {
    #[serde(default)]
    pub authentication_methods: IndexMap<String, AuthMethodDef>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AuthMethodDef {
    /// `api_key`, `http_basic`, `oidc` (or `bearer`).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Header or query parameter name for `api_key`.
    pub name: Option<String>,
    /// `header` (default) or `query`.
    pub location: Option<String>,
    #[serde(default)]
    pub valid_keys: Vec<String>,
    #[serde(default)]
    pub valid_credentials: Vec<CredentialDef>,
    #[serde(default)]
    pub valid_tokens: Vec<TokenDef>,
    /// For `session`: the entity type holding sessions (default `sessions`).
    pub entity_name: Option<String>,
    /// Mock-and-Roll's cookie sessions (`session_based`, `vmanage_session`): the
    /// cookie's name (default `JSESSIONID`) and the sessions it may carry, each
    /// `{"session_id", "csrf_token"?, "username"?, ...}`.
    pub session_cookie: Option<String>,
    #[serde(default)]
    pub valid_sessions: Vec<IndexMap<String, Value>>,
    /// Descriptive OAuth/OIDC settings, accepted without effect (tokens are checked
    /// against `valid_tokens`).
    pub description: Option<Value>,
    pub scheme: Option<Value>,
    pub bearer_format: Option<Value>,
    pub authorization_url: Option<Value>,
    pub token_url: Option<Value>,
    pub openid_connect_url: Option<Value>,
    pub client_id: Option<Value>,
    pub client_secret: Option<Value>,
    pub redirect_uri: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub struct CredentialDef {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Deserialize)]
pub struct TokenDef {
    pub access_token: String,
    /// Space-separated scopes, as OAuth 2 writes them.
    pub scope: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Token details Mock-and-Roll profiles carry, accepted without effect.
    pub token_type: Option<Value>,
    pub expires_in: Option<Value>,
    pub refresh_token: Option<Value>,
    pub id_token: Option<Value>,
    pub client_id: Option<Value>,
}

/// `endpoints.json`.
#[derive(Debug, Default, Deserialize)]
pub struct EndpointsFileDef {
    #[serde(default)]
    pub endpoints: Vec<EndpointDef>,
}

#[derive(Debug, Default, Deserialize)]
pub struct EndpointDef {
    pub method: String,
    pub path: String,
    pub name: Option<String>,
    /// A tag name, `{"name"}`, or a list of either.
    pub tag: Option<Value>,
    pub summary: Option<String>,
    pub description: Option<String>,
    /// Names of `auth.json` methods; any one passing is enough.
    #[serde(default, deserialize_with = "null_as_default")]
    pub authentication: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub required_scopes: Vec<String>,
    pub request_body_schema: Option<Value>,
    pub persistence: Option<PersistenceDef>,
    #[serde(default)]
    pub responses: Vec<ResponseRuleDef>,
    /// Headers that must have exactly this value; otherwise 400 (Mock-and-Roll).
    #[serde(default)]
    pub required_headers: IndexMap<String, String>,
    /// The answer of a read or delete whose entity does not exist (Mock-and-Roll).
    pub not_found_response: Option<ResponseDef>,
    /// Query parameters, documented; a `required` one that is missing is a 400.
    #[serde(default)]
    pub query_parameters: Vec<QueryParameterDef>,
    /// Path, query, header and cookie parameters checked by their JSON Schema, as an
    /// OpenAPI operation declares them: `{"name", "in", "required", "schema"}`.
    #[serde(default)]
    pub parameters: Vec<ParameterDef>,
    /// Mock-and-Roll's form login: the body is form-encoded (`j_username`, `j_password`).
    pub form_parameters: Option<Value>,
    /// Mock-and-Roll's `{"Content-Type": ...}`: only documents the request.
    pub request_headers: Option<IndexMap<String, Value>>,
    /// Wait before answering: milliseconds, `{"fixed_ms"}`, `{"uniform_ms"}` or `{"lognormal"}`.
    pub delay: Option<Value>,
    /// Answer with a broken connection instead: `connection_reset`, `empty_response`, …
    pub fault: Option<Value>,
    /// Send the body in pieces: `{"chunks", "duration_ms"}`.
    pub dribble: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct QueryParameterDef {
    pub name: String,
    #[serde(default)]
    pub required: bool,
    pub description: Option<String>,
    /// `string` (default), `integer`, `number` or `boolean`, for the document.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// One entry of an endpoint's `parameters`.
#[derive(Debug, Default, Deserialize)]
pub struct ParameterDef {
    pub name: String,
    /// `path`, `query`, `header` or `cookie`.
    #[serde(rename = "in")]
    pub location: String,
    /// Path parameters are always required.
    #[serde(default)]
    pub required: bool,
    pub schema: Option<Value>,
    pub description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ResponseRuleDef {
    pub body_conditions: Option<Value>,
    pub query_conditions: Option<Value>,
    pub header_conditions: Option<Value>,
    pub path_conditions: Option<Value>,
    /// Runs only when this response is chosen.
    pub persistence: Option<PersistenceDef>,
    #[serde(default)]
    pub response: ResponseDef,
    /// Wait before answering with this response (over the endpoint's `delay`).
    pub delay: Option<Value>,
    /// Answer with a broken connection instead (over the endpoint's `fault`).
    pub fault: Option<Value>,
    /// Send this response's body in pieces (over the endpoint's `dribble`).
    pub dribble: Option<Value>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct ResponseDef {
    /// A number, or a template string that renders to one.
    pub status_code: Option<Value>,
    #[serde(default)]
    pub headers: IndexMap<String, Value>,
    pub body: Option<Value>,
    /// The JSON Schema the answered body must satisfy: fields it does not allow are
    /// left out, required ones the body lacks are generated, text ids become numbers
    /// where it says `integer`.
    pub schema: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PersistenceDef {
    pub entity_name: Option<String>,
    pub action: Option<String>,
    /// For `create`: the entity's id field. Otherwise: the path parameter or body
    /// field holding the id.
    pub key_field: Option<String>,
    /// `true`/`"uuid"` or `"increment"`.
    pub auto_generate_id: Option<Value>,
    /// Seconds until the entity expires.
    pub ttl: Option<u64>,
    /// `replace` (default) or `merge` (RFC 7396 merge patch).
    pub merge_strategy: Option<String>,
    pub pagination: Option<PaginationDef>,
    /// Template for the stored entity; the request body when absent.
    pub data: Option<Value>,
    /// Create and update: the entity is this field of the request body (a wrapper
    /// object such as `{"article": {...}}`), not the whole body.
    pub request_wrapper: Option<String>,
    pub validation: Option<ValidationDef>,
    /// Local field → the entity type whose id it holds.
    #[serde(default)]
    pub relationships: IndexMap<String, RelationshipDef>,
    pub optimistic_lock: Option<OptimisticLockDef>,
    /// `atomic: true` (or `transaction: true`) with `operations`: all or nothing.
    pub atomic: Option<bool>,
    pub transaction: Option<bool>,
    #[serde(default)]
    pub operations: Vec<PersistenceDef>,
    /// Where the id sits in a key, e.g. `myapi:users:{user_id}`: the placeholder names
    /// the key field when `key_field` is absent.
    pub key_pattern: Option<String>,
    /// Secondary lookups by a field, e.g. `{"by_email": "myapi:users:email:{email}"}`.
    #[serde(default)]
    pub index_patterns: IndexMap<String, String>,
    /// On a read: find the entity through this index instead of by id.
    #[serde(alias = "lookup")]
    pub index: Option<String>,
    /// Read cache: `{"enabled": true, "ttl": 300}` (seconds).
    pub cache: Option<CacheDef>,
    /// What to do when the store fails, the entity is missing, or validation fails.
    pub error_handling: Option<ErrorHandlingDef>,
    /// `false`: the entity type lives in memory only (the embedded store never writes
    /// it to disk).
    pub persistent: Option<bool>,
    /// Mock-and-Roll's batch form: `batch_operation: true` with `entities: [...]`.
    pub batch_operation: Option<bool>,
    #[serde(default)]
    pub entities: Vec<PersistenceDef>,
    /// Mock-and-Roll: the path parameter holding the id (`key_field` in mockgate's terms).
    pub id_path_param: Option<String>,
    /// Mock-and-Roll lists: the response body's key that receives the entities, and
    /// the key that receives their count.
    pub response_list_key: Option<String>,
    pub response_count_key: Option<String>,
    /// Mock-and-Roll lists: the query parameters that filter (others are ignored).
    pub filter_by_query_params: Option<Vec<String>>,
    /// Fields of the entity type that lists filter or sort by, indexed from the
    /// start whatever the type's size (dotted names reach nested fields).
    #[serde(default)]
    pub indexes: Vec<String>,
    /// Mock-and-Roll creates: store the whole rendered response, not just the request.
    pub store_response_body: Option<bool>,
    /// Mock-and-Roll: unique across the entity type (as `validation.unique_fields`).
    #[serde(default)]
    pub unique_fields: Vec<String>,
    /// Mock-and-Roll: fields that must name an existing entity (404 otherwise).
    #[serde(default)]
    pub required_entities: Vec<RequiredEntityDef>,
    /// Mock-and-Roll: entities deleted with this one, found by their foreign key.
    #[serde(default)]
    pub cascade_delete: Vec<CascadeDef>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RequiredEntityDef {
    pub field: String,
    pub entity_name: String,
    pub error_message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CascadeDef {
    pub entity_name: String,
    pub foreign_key: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ValidationDef {
    #[serde(default)]
    pub required_fields: Vec<String>,
    /// Unique across the entity type, on every endpoint that writes it.
    #[serde(default)]
    pub unique_fields: Vec<String>,
    /// Constraints that hold for the entity type on every write.
    #[serde(default)]
    pub field_constraints: IndexMap<String, ConstraintDef>,
}

#[derive(Debug, Default, Deserialize, Clone)]
pub struct ConstraintDef {
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub pattern: Option<String>,
    #[serde(rename = "enum")]
    pub allowed: Option<Vec<Value>>,
    /// `email` is checked.
    pub format: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RelationshipDef {
    /// The referenced entity type.
    pub entity: String,
    /// `true`: the field must be present.
    pub required: Option<bool>,
    /// `restrict` (default), `cascade` or `nullify`.
    pub on_delete: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct OptimisticLockDef {
    /// Default `version`.
    pub version_field: Option<String>,
    /// Template for the version the client expects; default: the body's version field.
    pub expected_version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PaginationDef {
    pub enabled: Option<bool>,
    pub default_limit: Option<usize>,
    pub max_limit: Option<usize>,
    /// The query parameter holding the page size (default `limit`), e.g. `per_page`.
    pub limit_param: Option<String>,
    /// The query parameter holding how many to skip (default `offset`), e.g. `skip`.
    pub offset_param: Option<String>,
    /// A 1-based page number instead of an offset, e.g. `page`.
    pub page_param: Option<String>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Default, Deserialize)]
pub struct ErrorHandlingDef {
    /// `return_503` (default) or `fallback_response`.
    pub on_connection_failure: Option<String>,
    /// `return_404` (default) or `fallback_response`.
    pub on_data_not_found: Option<String>,
    /// `return_400` (default) or `return_422`.
    pub on_validation_error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CacheDef {
    pub enabled: Option<bool>,
    /// Seconds an entry is served from the cache (default 60).
    pub ttl: Option<u64>,
    /// Accepted for Mock-and-Roll profiles; cache keys are internal.
    pub key_prefix: Option<String>,
}
