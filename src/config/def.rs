//! The profile as users write it: permissive serde structs that mirror `api.json`,
//! `auth.json` and `endpoints.json` (Mock-and-Roll's format, extended).
//!
//! Unknown keys are ignored so that Mock-and-Roll profiles (which carry Swagger UI,
//! logging and other settings of their own) load unchanged. Values whose shape depends
//! on their content (templates, conditions, schemas) stay `serde_json::Value` here and
//! are checked in [`super::validate`], which knows the JSON path of every problem.

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
    /// Keys not listed here, kept so that near-misses of keys that decide who may call
    /// the API are refused (see `auth::check_security_keys`).
    #[serde(flatten)]
    pub unknown: IndexMap<String, Value>,
}

/// `logging` in `api.json`.
#[derive(Debug, Default, Deserialize)]
pub struct LoggingDef {
    /// A filter such as `info` or `info,mockgate::store=debug` (`MOCKGATE_LOG` wins).
    pub level: Option<String>,
    /// Also write JSON lines here (relative to the working directory).
    pub file: Option<String>,
    /// Rotate the log file when it grows past this many megabytes (default 10).
    pub max_size_mb: Option<u64>,
    /// Rotated files kept next to it: `<file>.1` (newest) … (default 5).
    pub max_files: Option<usize>,
    /// Log request and response bodies in the access log (secrets masked).
    #[serde(alias = "log_request_body", alias = "log_bodies")]
    pub bodies: Option<bool>,
    /// At most this many bytes of each logged body (default 1024).
    pub max_body_bytes: Option<usize>,
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
    /// Keys not listed here, kept so that near-misses of keys that decide who may call
    /// the API are refused (see `auth::check_security_keys`).
    #[serde(flatten)]
    pub unknown: IndexMap<String, Value>,
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
    /// Keys not listed here, kept so that near-misses of keys that decide who may call
    /// the API are refused (see `auth::check_security_keys`).
    #[serde(flatten)]
    pub unknown: IndexMap<String, Value>,
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
    /// Keys not listed here, kept so that near-misses of keys that decide who may call
    /// the API are refused (see `auth::check_security_keys`).
    #[serde(flatten)]
    pub unknown: IndexMap<String, Value>,
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
    pub tag: Option<String>,
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
    /// Keys not listed here, kept so that near-misses of keys that decide who may call
    /// the API are refused (see `auth::check_security_keys`).
    #[serde(flatten)]
    pub unknown: IndexMap<String, Value>,
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
}

#[derive(Debug, Default, Deserialize)]
pub struct ResponseDef {
    /// A number, or a template string that renders to one.
    pub status_code: Option<Value>,
    #[serde(default)]
    pub headers: IndexMap<String, Value>,
    pub body: Option<Value>,
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
