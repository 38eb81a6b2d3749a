//! Profiles: what users write (`def`) and what the engine runs (`Profile`).
//!
//! [`Profile::load`] reads the three files, deserialises them with the JSON path of
//! any type error, then `validate` checks and compiles everything (path templates,
//! templates, JSON Schemas, persistence actions, auth methods), collecting every
//! problem with its file and JSON path instead of stopping at the first. Nothing is
//! parsed or checked again at request time. `mockctl validate-config` and a failed
//! start print the same errors.

mod def;
mod validate;

pub use def::*;
pub use validate::CompileCx;

use crate::auth::{EndpointAuth, SystemGuard};
use crate::persistence::Persist;
use crate::routing::{Conditions, PathTemplate};
use crate::store::Dataset;
use crate::template::{Body, Template, TemplateEngine};
use serde::de::DeserializeOwned;
use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in a profile: where it is and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// `api.json`, `auth.json` or `endpoints.json`.
    pub file: String,
    /// JSON path such as `endpoints[3].persistence.action`; empty for the whole file.
    pub json_path: String,
    /// What was found, e.g. `unknown action "craete"`.
    pub found: String,
    /// What would be valid there; may be empty.
    pub expected: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file)?;
        if !self.json_path.is_empty() {
            write!(f, "{}: ", self.json_path)?;
        }
        write!(f, "{}", self.found)?;
        if !self.expected.is_empty() {
            write!(f, ", expected {}", self.expected)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found while loading a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileError {
    pub dir: PathBuf,
    pub problems: Vec<ConfigError>,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(f, "profile {} is invalid ({n} problem{}):", self.dir.display(), if n == 1 { "" } else { "s" })?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ProfileError {}

/// Which storage backend the profile asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// Nothing said: the embedded `file` backend.
    #[default]
    Unspecified,
    Memory,
    File,
    /// Redis, with an address and key prefix if the profile gives them.
    Redis {
        url: Option<String>,
        prefix: Option<String>,
        /// `url` lists Redis Cluster seed nodes.
        cluster: bool,
    },
}

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
    pub system: SystemGuard,
    pub endpoints: Vec<Endpoint>,
    /// Data loaded on first start and on reset.
    pub seed: Dataset,
    /// Generated data added to the seed data.
    pub generator: Option<crate::generate::Generator>,
    pub engine: TemplateEngine,
    /// Entity-type rules: constraints, unique fields, versions, relationships.
    pub rules: crate::persistence::rules::Rules,
    /// The OpenAPI 3.1 document, serialised once at load (`/openapi.json`).
    pub openapi: OpenApiDoc,
    pub logging: Logging,
}

/// A serialised OpenAPI document; `Debug` shows only its size.
#[derive(Clone, Default)]
pub struct OpenApiDoc(pub bytes::Bytes);

impl fmt::Debug for OpenApiDoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpenApiDoc({} bytes)", self.0.len())
    }
}

/// `logging` in `api.json`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Logging {
    /// The default filter (`MOCKGATE_LOG` or `RUST_LOG` win over it).
    pub level: String,
    pub file: Option<PathBuf>,
    pub max_bytes: u64,
    pub max_files: usize,
    /// Log bodies, cut to this many bytes.
    pub body_bytes: Option<usize>,
}

impl Default for Logging {
    fn default() -> Self {
        Logging { level: "info".into(), file: None, max_bytes: 10 * 1024 * 1024, max_files: 5, body_bytes: None }
    }
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
    pub tag: Option<String>,
    pub auth: EndpointAuth,
    pub schema: Option<jsonschema::Validator>,
    pub persistence: Option<Persist>,
    pub responses: Vec<ResponseRule>,
    /// Where the endpoint is defined, e.g. `endpoints[3]`, for logs and errors.
    pub at: String,
}

/// One entry of `responses`.
#[derive(Debug)]
pub struct ResponseRule {
    pub conditions: Conditions,
    /// Runs only when this rule is chosen (after the endpoint's own action).
    pub persistence: Option<Persist>,
    pub status: StatusSpec,
    pub headers: Vec<(String, Template)>,
    pub body: Option<Body>,
}

#[derive(Debug)]
pub enum StatusSpec {
    /// The persistence action's default (201 create, 204 delete, 200 otherwise).
    Default,
    Fixed(u16),
    Template(Template),
}

/// Default request body limit: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

impl Profile {
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

    /// Loads and compiles the profile in `dir`.
    pub fn load(dir: &Path) -> Result<Profile, ProfileError> {
        let fail = |problems| ProfileError { dir: dir.to_owned(), problems };
        if !dir.is_dir() {
            return Err(fail(vec![ConfigError {
                file: dir.display().to_string(),
                json_path: String::new(),
                found: "no such profile folder".into(),
                expected: "a folder with api.json and endpoints.json".into(),
            }]));
        }
        let mut problems = Vec::new();
        let api: Option<ApiDef> = read(dir, "api.json", true, &mut problems);
        let auth: Option<AuthFileDef> = read(dir, "auth.json", false, &mut problems);
        let endpoints: Option<EndpointsFileDef> = read(dir, "endpoints.json", true, &mut problems);
        if !problems.is_empty() {
            return Err(fail(problems));
        }
        let name = dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "profile".into());
        validate::compile(
            name,
            dir.to_owned(),
            api.unwrap_or_default(),
            auth.unwrap_or_default(),
            endpoints.unwrap_or_default(),
        )
        .map_err(fail)
    }
}

/// Reads one file; a missing optional file is `None`, a missing required one a problem.
fn read<T: DeserializeOwned>(dir: &Path, file: &str, required: bool, problems: &mut Vec<ConfigError>) -> Option<T> {
    let problem = |found: String, json_path: String| ConfigError {
        file: file.to_owned(),
        json_path,
        found,
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
    let de = &mut serde_json::Deserializer::from_str(&text);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Some(v),
        Err(e) => {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            problems.push(problem(e.into_inner().to_string(), path));
            None
        }
    }
}
