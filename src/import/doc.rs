//! The documents of one import: the spec and the files its `$ref`s name, read once
//! (YAML or JSON), and `$ref` resolution with the file and JSON pointer of every
//! problem.

use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A document that cannot be imported: where, what was found, what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    pub file: String,
    /// A JSON pointer into `file` (`/paths/~1pets/get`), empty for the whole file.
    pub pointer: String,
    pub found: String,
    pub expected: String,
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if !self.pointer.is_empty() {
            write!(f, ": #{}", self.pointer)?;
        }
        write!(f, ": {}", self.found)?;
        if !self.expected.is_empty() {
            write!(f, "; expected {}", self.expected)?;
        }
        Ok(())
    }
}

impl std::error::Error for ImportError {}

impl ImportError {
    pub fn at(file: &Path, pointer: &str, found: impl Into<String>, expected: impl Into<String>) -> ImportError {
        ImportError {
            file: file.display().to_string(),
            pointer: pointer.to_owned(),
            found: found.into(),
            expected: expected.into(),
        }
    }
}

/// Every file read so far, by canonical path.
#[derive(Debug, Default)]
pub struct Docs {
    files: HashMap<PathBuf, Value>,
}

/// `/` and `~` escaped for a JSON pointer segment.
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

impl Docs {
    /// Reads `path` (and keeps it); the canonical path is the file's name from then on.
    pub fn open(&mut self, path: &Path) -> Result<PathBuf, ImportError> {
        let canonical = path
            .canonicalize()
            .map_err(|e| ImportError::at(path, "", format!("cannot read: {e}"), "an OpenAPI document"))?;
        if !self.files.contains_key(&canonical) {
            let value = parse_file(&canonical)?;
            self.files.insert(canonical.clone(), value);
        }
        Ok(canonical)
    }

    pub fn get(&self, file: &Path) -> &Value {
        static NULL: Value = Value::Null;
        self.files.get(file).unwrap_or(&NULL)
    }

    /// What `reference` (as written in `file`, at `from`) names: its file, pointer and value.
    pub fn resolve(
        &mut self,
        file: &Path,
        from: &str,
        reference: &str,
    ) -> Result<(PathBuf, String, Value), ImportError> {
        let (target, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let target = if target.is_empty() {
            file.to_owned()
        } else if target.starts_with("http://") || target.starts_with("https://") {
            return Err(ImportError::at(
                file,
                from,
                format!("$ref {reference:?} names a remote document"),
                "a local reference (#/...) or a relative file; download it next to the spec",
            ));
        } else {
            let base = file.parent().unwrap_or(Path::new("."));
            self.open(&base.join(target)).map_err(|mut e| {
                e.found = format!("$ref {reference:?} at #{from}: {}", e.found);
                e
            })?
        };
        let pointer = percent_encoding::percent_decode_str(fragment).decode_utf8_lossy().into_owned();
        let value = if pointer.is_empty() { Some(self.get(&target)) } else { self.get(&target).pointer(&pointer) };
        match value {
            Some(v) => Ok((target.clone(), pointer, v.clone())),
            None => Err(ImportError::at(
                file,
                from,
                format!("$ref {reference:?} names nothing"),
                format!("a JSON pointer into {}", target.display()),
            )),
        }
    }
}

fn parse_file(path: &Path) -> Result<Value, ImportError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ImportError::at(path, "", format!("cannot read: {e}"), "an OpenAPI document"))?;
    parse_text(&text, path.extension().and_then(|e| e.to_str()) == Some("json"))
        .map_err(|found| ImportError::at(path, "", found, "a YAML or JSON document"))
}

/// A document's text as JSON; YAML unless `json` (JSON is YAML too, but serde_json
/// says where a JSON file is broken more precisely).
pub fn parse_text(text: &str, json: bool) -> Result<Value, String> {
    if json {
        return serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"));
    }
    let yaml: yaml_serde::Value = yaml_serde::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
    Ok(to_json(yaml))
}

/// YAML to JSON: mapping keys that are numbers or booleans (`200:` in `responses`)
/// become their text.
fn to_json(v: yaml_serde::Value) -> Value {
    use yaml_serde::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64().and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        Y::Number(n) => n.to_string(),
                        Y::Bool(b) => b.to_string(),
                        Y::Null => "null".to_owned(),
                        other => yaml_serde::to_string(&other).unwrap_or_default().trim().to_owned(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => to_json(t.value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_numeric_keys_become_text_and_refs_resolve_across_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("api.yaml"), "responses:\n  200: {$ref: 'common.yaml#/Pet'}\n").unwrap();
        std::fs::write(dir.path().join("common.yaml"), "Pet: {type: object}\n").unwrap();
        let mut docs = Docs::default();
        let root = docs.open(&dir.path().join("api.yaml")).unwrap();
        assert_eq!(docs.get(&root)["responses"]["200"]["$ref"], "common.yaml#/Pet");
        let (file, pointer, v) = docs.resolve(&root, "/responses/200", "common.yaml#/Pet").unwrap();
        assert!(file.ends_with("common.yaml"));
        assert_eq!((pointer.as_str(), v), ("/Pet", json!({"type": "object"})));
        let e = docs.resolve(&root, "/responses/200", "#/components/schemas/Nope").unwrap_err();
        assert_eq!(e.pointer, "/responses/200");
        assert!(e.found.contains("names nothing"), "{e}");
        let e = docs.resolve(&root, "/x", "missing.yaml#/A").unwrap_err();
        assert!(e.to_string().contains("missing.yaml"), "{e}");
    }

    #[test]
    fn broken_yaml_says_where() {
        let e = parse_text("a: [1, 2\nb: c", false).unwrap_err();
        assert!(e.contains("line"), "{e}");
    }
}
