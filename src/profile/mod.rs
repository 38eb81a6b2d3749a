//! The profile as the engine runs it: checked and compiled once, at load.
//!
//! [`Profile::load`] reads the three files, deserialises them with the JSON path of
//! any type error, then [`compile`] checks and compiles everything (path templates,
//! templates, JSON Schemas, persistence actions, auth methods), collecting every
//! problem with its file and JSON path instead of stopping at the first. Each part
//! parses its own settings; this module only orchestrates. Nothing is parsed or
//! checked again at request time. `mockctl validate-config` and a failed start print
//! the same errors.

mod compile;
mod cors;
mod journal;
mod namespaces;
pub mod params;
mod response;
pub mod shape;

pub use cors::Cors;
pub use journal::JournalSettings;
pub use namespaces::NamespaceSettings;
pub use response::{FINAL_STATUSES, ResponseRule, StatusSpec};

use crate::auth::{EndpointAuth, SystemGuard};
use crate::config::keys::UnknownKey;
use crate::config::{ApiDef, AuthFileDef, ConfigError, EndpointsFileDef, ProfileError};
use crate::persistence::Persist;
use crate::persistence::rules::Rules;
use crate::routing::PathTemplate;
use crate::store::{BackendChoice, Dataset};
use crate::telemetry::{Logging, Secrets};
use crate::template::TemplateEngine;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The API's descriptive fields.
#[derive(Debug, Clone, Default)]
pub struct ApiInfo {
    pub name: String,
    pub version: String,
    pub description: String,
    /// Normalised: empty, or starts with `/` and has no trailing `/`.
    pub root_path: String,
}

/// A checked, compiled profile.
#[derive(Debug)]
pub struct Profile {
    /// The folder's name.
    pub name: String,
    pub dir: PathBuf,
    pub info: ApiInfo,
    pub backend: BackendChoice,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub max_body_bytes: usize,
    /// Timeouts and the connection cap (`server` in `api.json`).
    pub limits: Limits,
    pub system: SystemGuard,
    pub endpoints: Vec<Endpoint>,
    /// Data loaded on first start and on reset.
    pub seed: Dataset,
    /// Generated data added to the seed data.
    pub generator: Option<crate::generate::Generator>,
    pub engine: TemplateEngine,
    /// Entity-type rules: constraints, unique fields, versions, relationships.
    pub rules: Rules,
    pub logging: Logging,
    /// What the logs must never show.
    pub secrets: Secrets,
    /// Which web pages may call the mock from a browser.
    pub cors: Cors,
    /// The header that names a namespace, and the limits.
    pub namespaces: NamespaceSettings,
    /// What the request journal records.
    pub journal: JournalSettings,
    /// `latency` in `api.json`: the delay of every endpoint without one of its own.
    pub latency: Option<crate::chaos::Delay>,
    /// What `${auth.…}` placeholders in responses draw on.
    pub auth_values: crate::auth::AuthValues,
    /// Endpoints also answer without `root_path` (`/items/42` as `/api/v1/items/42`),
    /// as in Mock-and-Roll; `unprefixed_paths: false` in `api.json` turns it off.
    pub unprefixed: bool,
    /// Keys nothing reads, and keys read without effect: reported, not refused
    /// (unless the profile is loaded strictly).
    pub warnings: Vec<ConfigError>,
}

/// One endpoint, ready to serve.
#[derive(Debug)]
pub struct Endpoint {
    /// Upper-case HTTP method.
    pub method: String,
    /// The full path, `root_path` included.
    pub path: PathTemplate,
    /// The path template's text, the `route` of logs and metrics.
    pub route: std::sync::Arc<str>,
    pub name: Option<String>,
    /// OpenAPI tags; empty: one made from the path.
    pub tags: Vec<String>,
    pub auth: EndpointAuth,
    pub schema: Option<jsonschema::Validator>,
    pub persistence: Option<Persist>,
    pub responses: Vec<ResponseRule>,
    /// Where the endpoint is defined, e.g. `endpoints[3]`, for logs and errors.
    pub at: String,
    /// Mock-and-Roll's `required_headers`: (lower-case name, name as written, value).
    pub required_headers: Vec<(String, String, String)>,
    /// `query_parameters` marked `required`.
    pub required_query: Vec<String>,
    /// `parameters`: path, query, header and cookie values checked by their schema.
    pub params: params::Params,
    /// The answer when the entity to read or delete does not exist: the endpoint's
    /// `not_found_response`, or for a Mock-and-Roll `retrieve` its first rule without
    /// conditions (status 404 unless it says otherwise).
    pub not_found: Option<NotFoundRule>,
    /// The response that answers a unique-field conflict: for Mock-and-Roll's
    /// `persistence.unique_fields`, its first rule with status 409.
    pub conflict: Option<usize>,
    /// What the OpenAPI document says about it, as the profile wrote it.
    pub doc: EndpointDoc,
    /// Wait this long before answering (`delay`).
    pub delay: Option<crate::chaos::Delay>,
    /// Answer with a broken connection instead (`fault`).
    pub fault: Option<crate::chaos::Fault>,
    /// Send the body in pieces (`dribble`).
    pub dribble: Option<crate::chaos::Dribble>,
}

/// An optional setting read with `parse`; a problem (with `expected`) is reported at `at`.
fn knob<T>(
    v: Option<&Value>,
    at: String,
    parse: fn(&Value) -> Result<T, String>,
    expected: &str,
    cx: &mut crate::config::CompileCx<'_>,
    ok: &mut bool,
) -> Option<T> {
    match v.map(parse)? {
        Ok(t) => Some(t),
        Err(found) => {
            cx.problem(at, found, expected);
            *ok = false;
            None
        }
    }
}

/// Which response answers a missing entity.
#[derive(Debug)]
pub enum NotFoundRule {
    /// `not_found_response`.
    Own(Box<ResponseRule>),
    /// One of the endpoint's response rules.
    Rule(usize),
}

/// An endpoint's descriptive fields, kept for documentation.
#[derive(Debug, Clone, Default)]
pub struct EndpointDoc {
    pub name: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    /// `request_body_schema` as written (OpenAPI 3.1 takes it verbatim).
    pub body_schema: Option<Value>,
}

/// How long clients may take and how many may be connected at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub body_timeout: std::time::Duration,
    pub keep_alive: std::time::Duration,
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_timeout: std::time::Duration::from_secs(10),
            keep_alive: std::time::Duration::from_secs(5),
            max_connections: 10_000,
        }
    }
}

/// Default request body limit: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

impl Profile {
    /// Whether the profile itself answers `GET /` (directly, or unprefixed).
    pub fn defines_root(&self) -> bool {
        let root = format!("{}/", self.info.root_path);
        self.endpoints.iter().any(|e| {
            let p = e.path.as_str();
            e.method == "GET" && (p == "/" || (self.unprefixed && (p == root || p == self.info.root_path)))
        })
    }

    /// The data a fresh or reset store starts with: seed data plus generated data,
    /// with the bookkeeping the entity rules need (versions, unique claims).
    pub fn initial_data(&self) -> Dataset {
        let mut data = self.seed.clone();
        if let Some(g) = &self.generator {
            for (entity, rows) in g.generate(&self.seed) {
                data.entry(entity).or_default().extend(rows);
            }
        }
        self.rules.prepare_seed(data)
    }

    /// Loads and compiles the profile in `dir`; keys it does not understand are
    /// [`Profile::warnings`].
    pub fn load(dir: &Path) -> Result<Profile, ProfileError> {
        Profile::load_with(dir, false)
    }

    /// As [`Profile::load`]; `strict` makes every warning a problem.
    pub fn load_with(dir: &Path, strict: bool) -> Result<Profile, ProfileError> {
        let fail = |problems| ProfileError { dir: dir.to_owned(), problems };
        if crate::import::is_spec(dir) {
            return Profile::import(dir, strict);
        }
        if !dir.is_dir() {
            return Err(fail(vec![ConfigError {
                file: dir.display().to_string(),
                json_path: String::new(),
                found: "no such profile folder".into(),
                endpoint: String::new(),
                expected: "a folder with api.json and endpoints.json".into(),
            }]));
        }
        let mut problems = Vec::new();
        let mut unknown = Vec::new();
        let api: Option<ApiDef> = read(dir, "api.json", true, &mut problems, &mut unknown);
        // No auth.json means no authentication, as in Mock-and-Roll.
        let auth: Option<AuthFileDef> = read(dir, "auth.json", false, &mut problems, &mut unknown);
        let endpoints: Option<EndpointsFileDef> = read(dir, "endpoints.json", true, &mut problems, &mut unknown);
        if !problems.is_empty() {
            return Err(fail(problems));
        }
        let name = dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "profile".into());
        finish(name, dir.to_owned(), (api, auth, endpoints), &unknown, strict).map_err(fail)
    }
}

impl Profile {
    /// An OpenAPI document, imported in memory and compiled as the profile it makes
    /// (`mockctl start spec.yaml`); its problems name the document's file and JSON pointer.
    fn import(spec: &Path, strict: bool) -> Result<Profile, ProfileError> {
        let fail = |problems| ProfileError { dir: spec.to_owned(), problems };
        let imported = crate::import::import(spec, &crate::import::Options::default()).map_err(|e| {
            fail(vec![ConfigError {
                file: e.file,
                json_path: if e.pointer.is_empty() { String::new() } else { format!("#{}", e.pointer) },
                found: e.found,
                endpoint: String::new(),
                expected: e.expected,
            }])
        })?;
        let mut problems = Vec::new();
        let mut unknown = Vec::new();
        let api: Option<ApiDef> = parse_value("api.json", &imported.api, &mut problems, &mut unknown);
        let auth: Option<AuthFileDef> = parse_value("auth.json", &imported.auth, &mut problems, &mut unknown);
        let endpoints: Option<EndpointsFileDef> =
            parse_value("endpoints.json", &imported.endpoints, &mut problems, &mut unknown);
        if !problems.is_empty() {
            return Err(fail(problems));
        }
        let name = spec.file_stem().map_or_else(|| "openapi".into(), |n| n.to_string_lossy().into_owned());
        let dir = spec.parent().map(Path::to_owned).unwrap_or_default();
        finish(name, dir, (api, auth, endpoints), &unknown, strict).map_err(fail)
    }
}

/// The three files as read (a missing optional one is `None`).
type Read = (Option<ApiDef>, Option<AuthFileDef>, Option<EndpointsFileDef>);

/// Compiles what was read; `strict` makes every warning a problem.
fn finish(
    name: String,
    dir: PathBuf,
    (api, auth, endpoints): Read,
    unknown: &[(&'static str, UnknownKey)],
    strict: bool,
) -> Result<Profile, Vec<ConfigError>> {
    let profile = compile::compile(
        name,
        dir,
        api.unwrap_or_default(),
        auth.unwrap_or_default(),
        endpoints.unwrap_or_default(),
        unknown,
    )?;
    if strict && !profile.warnings.is_empty() {
        return Err(profile.warnings);
    }
    Ok(profile)
}

/// One generated file, checked as if it had been read.
fn parse_value<T: DeserializeOwned>(
    file: &'static str,
    v: &Value,
    problems: &mut Vec<ConfigError>,
    unknown: &mut Vec<(&'static str, UnknownKey)>,
) -> Option<T> {
    parse_text(file, &v.to_string(), problems, unknown)
}

/// One file's text, deserialised; the keys it holds that nothing reads go to `unknown`.
fn parse_text<T: DeserializeOwned>(
    file: &'static str,
    text: &str,
    problems: &mut Vec<ConfigError>,
    unknown: &mut Vec<(&'static str, UnknownKey)>,
) -> Option<T> {
    match crate::config::keys::from_str::<T>(text) {
        Ok((v, skipped)) => {
            unknown.extend(skipped.into_iter().map(|k| (file, k)));
            Some(v)
        }
        Err(e) => {
            problems.push(ConfigError {
                file: file.to_owned(),
                json_path: e.json_path,
                found: e.message,
                endpoint: String::new(),
                expected: String::new(),
            });
            None
        }
    }
}

/// Reads one file; a missing optional file is `None`, a missing required one a problem.
/// The keys it holds that nothing reads go to `unknown`.
fn read<T: DeserializeOwned>(
    dir: &Path,
    file: &'static str,
    required: bool,
    problems: &mut Vec<ConfigError>,
    unknown: &mut Vec<(&'static str, UnknownKey)>,
) -> Option<T> {
    let problem = |found: String, json_path: String| ConfigError {
        file: file.to_owned(),
        json_path,
        found,
        endpoint: String::new(),
        expected: String::new(),
    };
    let text = match std::fs::read_to_string(dir.join(file)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return None,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            problems.push(problem(format!("missing (looked in {})", dir.display()), String::new()));
            return None;
        }
        Err(e) => {
            problems.push(problem(format!("cannot read: {e}"), String::new()));
            return None;
        }
    };
    parse_text(file, &text, problems, unknown)
}
