//! What compiling a profile needs everywhere: the problem type with its file and JSON
//! path, the list of every problem found, and [`CompileCx`], which each part's `parse`
//! receives to report problems and compile templates.

use crate::template::{Body, Template, TemplateEngine};
use serde_json::Value;
use std::fmt;
use std::path::PathBuf;

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
    /// The endpoint the problem is in, as `METHOD /path`; empty outside endpoints.
    pub endpoint: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file)?;
        if !self.json_path.is_empty() {
            write!(f, "{}", self.json_path)?;
            if !self.endpoint.is_empty() {
                write!(f, " ({})", self.endpoint)?;
            }
            write!(f, ": ")?;
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
}

impl<'a> CompileCx<'a> {
    /// A context for compiling parts of `file`, reporting into `problems`.
    pub fn new(file: &'static str, problems: &'a mut Vec<ConfigError>, engine: &'a mut TemplateEngine) -> Self {
        CompileCx { file, problems, engine, params: Vec::new(), credential_params: Vec::new() }
    }

    pub fn problem(&mut self, json_path: impl Into<String>, found: impl Into<String>, expected: impl Into<String>) {
        self.problems.push(ConfigError {
            file: self.file.to_owned(),
            json_path: json_path.into(),
            found: found.into(),
            endpoint: String::new(),
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
