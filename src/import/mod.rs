//! OpenAPI documents to profiles: `mockctl import spec.yaml` writes one,
//! `mockctl start spec.yaml` serves one without writing it.
//!
//! [`doc`] reads the documents (YAML or JSON, `$ref`s into other files), [`schema`]
//! turns their schemas into self-contained JSON Schema, [`spec`] reads OpenAPI 3.0 /
//! 3.1 and Swagger 2.0 into one model, [`infer`] finds the entity types (a collection
//! and its item path) and decides what each operation does, and [`report`] says what
//! was made and why. The result is an ordinary profile (api.json, auth.json,
//! endpoints.json) that the profile compiler checks like any other; this module knows
//! nothing of how profiles run.

mod doc;
mod infer;
mod report;
mod schema;
mod spec;

pub use doc::ImportError;
pub use report::Report;

use infer::{Auth, IdKind, Mapping, Resource};
use serde_json::{Map, Value, json};
use std::path::Path;

/// The system key an imported profile's `/system` answers to.
pub const SYSTEM_KEY: &str = "mockgate-system-demo-key";

/// Generated records per entity type unless `--records` says otherwise.
pub const DEFAULT_RECORDS: usize = 5;

#[derive(Debug, Clone)]
pub struct Options {
    /// Generated records per entity type.
    pub records: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { records: DEFAULT_RECORDS }
    }
}

/// A profile made from a document.
#[derive(Debug, Clone)]
pub struct Imported {
    pub api: Value,
    pub auth: Value,
    pub endpoints: Value,
    pub report: Report,
}

/// Whether `path` names a document to import rather than a profile folder.
pub fn is_spec(path: &Path) -> bool {
    path.is_file() && path.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
}

/// Imports the document at `path`.
pub fn import(path: &Path, opts: &Options) -> Result<Imported, ImportError> {
    let mut docs = doc::Docs::default();
    let root = docs.open(path)?;
    let mut conv = schema::Converter::default();
    let spec = spec::read(&mut docs, &mut conv, &root)?;
    let mut report = Report {
        source: path.display().to_string(),
        version: spec.version.clone(),
        title: spec.title.clone(),
        operations: spec.ops.len(),
        system_key: SYSTEM_KEY.to_owned(),
        records: opts.records,
        ..Report::default()
    };
    let resources = infer::resources(&spec, &mut report);
    let auth = Auth::new(&spec, &mut report);
    let mut endpoints = Vec::with_capacity(spec.ops.len());
    let mut checked = infer::Checked::default();
    // (method, path with parameters blanked): what is served once.
    let mut routes: std::collections::HashMap<(String, String), String> = std::collections::HashMap::new();
    for op in &spec.ops {
        let mapping = match op.method.as_str() {
            "TRACE" | "OPTIONS" => Mapping::Static(format!("{} is answered by the server itself", op.method)),
            _ => infer::map(op, &resources),
        };
        if matches!(op.method.as_str(), "TRACE" | "OPTIONS") {
            report.statics.push(report::StaticOp {
                method: op.method.clone(),
                path: op.path.clone(),
                why: "not served: mockgate answers OPTIONS (CORS preflights) itself and never TRACE".into(),
            });
            continue;
        }
        let shape = infer::route(&op.path).0;
        let blanked: Vec<&str> = shape.split('/').map(|s| if s.starts_with('{') { "{}" } else { s }).collect();
        let blanked = blanked.join("/").trim_end_matches('/').to_owned();
        if let Some(first) = routes.get(&(op.method.clone(), blanked.clone())) {
            report.statics.push(report::StaticOp {
                method: op.method.clone(),
                path: op.path.clone(),
                why: format!("not served: the same route as {first}"),
            });
            continue;
        }
        routes.insert((op.method.clone(), blanked), format!("`{} {}`", op.method, op.path));
        let label = match &mapping {
            Mapping::Crud { resource, action, merge, .. } => Some((
                resource.entity.clone(),
                format!("{} {} {action}{}", op.method, op.path, if *merge { " (merge)" } else { "" }),
            )),
            Mapping::List { resource, .. } => {
                Some((resource.entity.clone(), format!("{} {} list", op.method, op.path)))
            }
            Mapping::Static(_) => None,
        };
        if let Some((entity, what)) = label
            && let Some(r) = report.resources.iter_mut().find(|r| r.entity == entity)
        {
            r.actions.push(what);
        }
        endpoints.push(infer::endpoint(op, &mapping, &auth, &mut checked, &mut report));
    }
    let mut api = Map::new();
    api.insert("name".into(), json!(spec.title));
    api.insert("version".into(), json!(spec.api_version));
    let described = spec.description.as_deref().and_then(|d| d.lines().find(|l| !l.trim().is_empty()));
    let origin = format!(
        "Imported from {} (OpenAPI {}) by mockctl import; edit freely.",
        path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned()),
        spec.version
    );
    api.insert(
        "description".into(),
        json!(match described {
            Some(d) => format!("{} {origin}", d.trim()),
            None => origin,
        }),
    );
    if !spec.root_path.is_empty() {
        api.insert("root_path".into(), json!(spec.root_path));
    }
    api.insert("system".into(), json!({"api_keys": [SYSTEM_KEY]}));
    if !resources.is_empty() && opts.records > 0 {
        api.insert("generate_data".into(), generate_data(&resources, opts.records));
    }
    let auth_file = json!({"authentication_methods": auth.methods});
    Ok(Imported { api: Value::Object(api), auth: auth_file, endpoints: json!({"endpoints": endpoints}), report })
}

impl Imported {
    /// Writes the profile and `IMPORT.md` into `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let pretty = |v: &Value| serde_json::to_string_pretty(v).map(|s| s + "\n").unwrap_or_default();
        std::fs::write(dir.join("api.json"), pretty(&self.api))?;
        std::fs::write(dir.join("auth.json"), pretty(&self.auth))?;
        std::fs::write(dir.join("endpoints.json"), pretty(&self.endpoints))?;
        std::fs::write(dir.join("IMPORT.md"), self.report.markdown())
    }
}

/// `generate_data`: `records` of each entity type, parents before the types that
/// name them, every field made from its schema.
fn generate_data(resources: &[Resource], records: usize) -> Value {
    let mut order: Vec<&Resource> = Vec::new();
    let mut pending: Vec<&Resource> = resources.iter().collect();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|r| {
            let ready = r
                .parent
                .as_ref()
                .is_none_or(|(p, _)| order.iter().any(|o| o.entity == *p) || !resources.iter().any(|o| o.entity == *p));
            if ready {
                order.push(r);
            }
            !ready
        });
        if pending.len() == before {
            order.append(&mut pending);
        }
    }
    let mut counts = Map::new();
    let mut keys = Map::new();
    let mut entities = Map::new();
    for r in order {
        if counts.contains_key(&r.entity) {
            continue;
        }
        counts.insert(r.entity.clone(), json!(records));
        if r.key != "id" {
            keys.insert(r.entity.clone(), json!(r.key));
        }
        let mut fields = Map::new();
        let props = infer::properties(&r.schema);
        for (name, schema) in &props {
            if *name == r.key {
                // Keys must differ: a sequence (1..n) unless they look like user names.
                let key = match &r.id {
                    IdKind::Increment => continue,
                    IdKind::Uuid => json!({"type": "uuid"}),
                    _ if name.to_ascii_lowercase().contains("user") => json!({"type": "username"}),
                    _ => json!({"type": "sequence"}),
                };
                fields.insert(name.clone(), key);
                continue;
            }
            fields.insert(name.clone(), generator(name, schema));
        }
        if let Some((parent, field)) = &r.parent
            && resources.iter().any(|o| o.entity == *parent)
        {
            fields.insert(field.clone(), json!({"type": "ref", "entity": parent}));
        }
        if !props.contains_key(&r.key) && r.id == IdKind::Uuid {
            fields.insert(r.key.clone(), json!({"type": "uuid"}));
        }
        entities.insert(r.entity.clone(), Value::Object(fields));
    }
    let mut out = json!({"seed": 42, "counts": counts, "entities": entities});
    if !keys.is_empty() {
        out["keys"] = Value::Object(keys);
    }
    out
}

/// A `generate_data` generator for one field: varied where the schema leaves room,
/// its example or a sample where it constrains the text.
fn generator(name: &str, schema: &Value) -> Value {
    let sample = || json!({"type": "constant", "value": crate::sample::sample(schema, Some(name))});
    let Some(s) = schema.as_object() else { return sample() };
    if let Some(values) = s.get("enum").and_then(Value::as_array).filter(|v| !v.is_empty()) {
        return json!({"type": "pickOne", "values": values});
    }
    if s.contains_key("const") || s.contains_key("pattern") {
        return sample();
    }
    let lower = name.to_ascii_lowercase().replace(['_', '-'], "");
    let bound = |k: &str| s.get(k).and_then(Value::as_f64);
    match crate::sample::type_of(s) {
        Some("integer") => {
            let min = bound("minimum").unwrap_or(1.0);
            let max = bound("maximum").unwrap_or(min.max(0.0) + 999.0);
            if s.contains_key("exclusiveMinimum") || s.contains_key("exclusiveMaximum") || s.contains_key("multipleOf")
            {
                return sample();
            }
            json!({"type": "number", "min": min, "max": max})
        }
        Some("number") => {
            if s.contains_key("exclusiveMinimum") || s.contains_key("exclusiveMaximum") || s.contains_key("multipleOf")
            {
                return sample();
            }
            let min = bound("minimum").unwrap_or(0.0);
            json!({"type": "number", "min": min, "max": bound("maximum").unwrap_or(min + 1000.0), "decimals": 2})
        }
        Some("boolean") => json!({"type": "boolean"}),
        Some("string") => {
            let short = s.get("maxLength").and_then(Value::as_u64).is_some_and(|m| m < 40)
                || s.get("minLength").and_then(Value::as_u64).is_some_and(|m| m > 3);
            match s.get("format").and_then(Value::as_str) {
                Some("email") => return json!({"type": "email", "domain": "example.com"}),
                Some("date-time") => return json!({"type": "datetime", "from": "2024-01-01", "to": "2026-12-31"}),
                Some("date") => return json!({"type": "date", "from": "2024-01-01", "to": "2026-12-31"}),
                Some("uuid") => return json!({"type": "uuid"}),
                Some(_) => return sample(),
                None => {}
            }
            if short {
                return sample();
            }
            match lower.as_str() {
                _ if lower.contains("email") => json!({"type": "email", "domain": "example.com"}),
                "username" | "login" => json!({"type": "username"}),
                "firstname" | "givenname" => json!({"type": "first_name"}),
                "lastname" | "surname" | "familyname" => json!({"type": "last_name"}),
                "name" | "fullname" | "displayname" | "author" => json!({"type": "name"}),
                "title" | "summary" | "headline" => json!({"type": "lorem", "words": 4}),
                "description" | "body" | "content" | "bio" | "text" | "comment" | "message" => {
                    json!({"type": "lorem", "sentences": 2})
                }
                _ if lower.ends_with("at") && lower.len() > 4 || lower.contains("date") => {
                    json!({"type": "datetime", "from": "2024-01-01", "to": "2026-12-31"})
                }
                _ if lower.ends_with("name") => json!({"type": "lorem", "words": 2}),
                _ => sample(),
            }
        }
        _ => sample(),
    }
}
