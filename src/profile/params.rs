//! An endpoint's `parameters`: path, query, header and cookie values checked by type,
//! format, enum and `required`, as an OpenAPI operation declares them.
//!
//! ```json
//! "parameters": [
//!   {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100}},
//!   {"name": "petId", "in": "path", "required": true, "schema": {"type": "integer"}}
//! ]
//! ```
//!
//! A value arrives as text; it is read as the schema's type first (`"5"` as 5 for an
//! integer, `a,b` or repeated keys for an array) and then validated, so a failure says
//! what a client sent wrong (`/query/limit: 500 is greater than the maximum of 100`).
//! Every violation of a request is reported at once, with the body's.

use crate::config::{CompileCx, ParameterDef};
use crate::persistence::rules::Violation;
use serde_json::Value;

/// Where a parameter is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    Path,
    Query,
    Header,
    Cookie,
}

impl In {
    fn name(self) -> &'static str {
        match self {
            In::Path => "path",
            In::Query => "query",
            In::Header => "header",
            In::Cookie => "cookie",
        }
    }
}

/// How a parameter's text becomes the value its schema checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Integer,
    Number,
    Boolean,
    /// Items of this kind, from `a,b,c` or repeated keys.
    Array(Scalar),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    Text,
    Integer,
    Number,
    Boolean,
}

/// One declared parameter.
#[derive(Debug)]
struct Param {
    name: String,
    /// Lower-case, for headers.
    lower: String,
    at: In,
    required: bool,
    kind: Kind,
    schema: Option<jsonschema::Validator>,
}

/// An endpoint's parameter checks, compiled at load.
#[derive(Debug, Default)]
pub struct Params {
    items: Vec<Param>,
}

/// The raw values of one request that parameters are read from.
pub struct Sources<'a> {
    pub path: &'a serde_json::Map<String, Value>,
    /// The raw query string, without `?`.
    pub query: &'a str,
    pub header: &'a dyn Fn(&str) -> Option<&'a str>,
}

impl Params {
    pub fn parse(defs: &[ParameterDef], at: &str, cx: &mut CompileCx<'_>) -> Option<Params> {
        let mut ok = true;
        let mut items = Vec::with_capacity(defs.len());
        for (i, def) in defs.iter().enumerate() {
            let here = format!("{at}.parameters[{i}]");
            let location = match def.location.as_str() {
                "path" => In::Path,
                "query" => In::Query,
                "header" => In::Header,
                "cookie" => In::Cookie,
                other => {
                    cx.problem(format!("{here}.in"), format!("found {other:?}"), "path, query, header or cookie");
                    ok = false;
                    continue;
                }
            };
            let schema = match &def.schema {
                None | Some(Value::Null) => None,
                Some(s) => match jsonschema::options().should_validate_formats(true).build(s) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        cx.problem(format!("{here}.schema"), format!("invalid JSON Schema: {e}"), "");
                        ok = false;
                        continue;
                    }
                },
            };
            items.push(Param {
                name: def.name.clone(),
                lower: def.name.to_ascii_lowercase(),
                at: location,
                required: def.required || location == In::Path,
                kind: kind(def.schema.as_ref()),
                schema,
            });
        }
        ok.then_some(Params { items })
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Every violation of the declared parameters, in declaration order.
    pub fn check(&self, src: &Sources<'_>, out: &mut Vec<Violation>) {
        // The query string is read once, and only when a query parameter is declared.
        let mut pairs: Option<Vec<(String, String)>> = None;
        for p in &self.items {
            let value = match p.at {
                In::Path => src.path.get(&p.name).and_then(Value::as_str).map(|s| read(s, p.kind)),
                In::Header => (src.header)(&p.lower).map(|s| read(s, p.kind)),
                In::Cookie => crate::auth::cookie_value((src.header)("cookie"), &p.name).map(|v| read(v, p.kind)),
                In::Query => {
                    let pairs = pairs.get_or_insert_with(|| serde_urlencoded::from_str(src.query).unwrap_or_default());
                    query_value(pairs, &p.name, p.kind)
                }
            };
            let pointer = || format!("/{}/{}", p.at.name(), p.name);
            let Some(value) = value else {
                if p.required {
                    out.push(Violation { path: pointer(), message: "is required".into() });
                }
                continue;
            };
            if let Some(schema) = &p.schema {
                for e in schema.iter_errors(&value) {
                    let inner = e.instance_path().as_str();
                    out.push(Violation { path: format!("{}{inner}", pointer()), message: e.to_string() });
                }
            }
        }
    }
}

fn kind(schema: Option<&Value>) -> Kind {
    fn ty(s: Option<&Value>) -> Option<&str> {
        s.and_then(Value::as_object).and_then(crate::sample::type_of)
    }
    let scalar = |t: Option<&str>| match t {
        Some("integer") => Scalar::Integer,
        Some("number") => Scalar::Number,
        Some("boolean") => Scalar::Boolean,
        _ => Scalar::Text,
    };
    match ty(schema) {
        Some("array") => Kind::Array(scalar(ty(schema.and_then(|s| s.get("items"))))),
        Some("integer") => Kind::Integer,
        Some("number") => Kind::Number,
        Some("boolean") => Kind::Boolean,
        _ => Kind::Text,
    }
}

/// The value a parameter's text stands for; text that is not of the type stays text
/// (and fails the schema's `type`, which says so).
fn read(text: &str, kind: Kind) -> Value {
    match kind {
        Kind::Text => Value::String(text.to_owned()),
        Kind::Integer => scalar(text, Scalar::Integer),
        Kind::Number => scalar(text, Scalar::Number),
        Kind::Boolean => scalar(text, Scalar::Boolean),
        Kind::Array(item) => Value::Array(text.split(',').map(|t| scalar(t, item)).collect()),
    }
}

fn scalar(text: &str, kind: Scalar) -> Value {
    let parsed = match kind {
        Scalar::Text => None,
        Scalar::Integer => text.parse::<i64>().ok().map(Value::from),
        Scalar::Number => text.parse::<f64>().ok().and_then(|f| serde_json::Number::from_f64(f).map(Value::Number)),
        Scalar::Boolean => match text {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
    };
    parsed.unwrap_or_else(|| Value::String(text.to_owned()))
}

/// A query parameter: repeated keys (`tags=a&tags=b`) make an array's items.
fn query_value(pairs: &[(String, String)], name: &str, kind: Kind) -> Option<Value> {
    let mut found = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
    match kind {
        Kind::Array(item) => {
            let items: Vec<Value> = found.flat_map(|v| v.split(',')).map(|t| scalar(t, item)).collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        _ => found.next_back().map(|v| read(v, kind)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(defs: Value) -> Params {
        let defs: Vec<ParameterDef> = serde_json::from_value(defs).unwrap();
        let mut problems = Vec::new();
        let mut engine = crate::template::TemplateEngine::new();
        let mut cx = CompileCx::new("endpoints.json", &mut problems, &mut engine);
        let p = Params::parse(&defs, "endpoints[0]", &mut cx).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        p
    }

    fn check(p: &Params, path: Value, query: &str, headers: &[(&str, &str)]) -> Vec<String> {
        let path = path.as_object().cloned().unwrap_or_default();
        let headers: Vec<(String, String)> = headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        let mut out = Vec::new();
        p.check(&Sources { path: &path, query, header: &header }, &mut out);
        out.into_iter().map(|v| format!("{}: {}", v.path, v.message)).collect()
    }

    #[test]
    fn reads_text_as_the_declared_type_and_reports_every_violation() {
        let p = params(json!([
            {"name": "petId", "in": "path", "schema": {"type": "integer"}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100}},
            {"name": "status", "in": "query", "required": true, "schema": {"type": "string", "enum": ["a", "b"]}},
            {"name": "X-Trace", "in": "header", "schema": {"type": "string", "format": "uuid"}},
            {"name": "tags", "in": "query", "schema": {"type": "array", "items": {"type": "integer"}}}
        ]));
        assert!(check(&p, json!({"petId": "7"}), "limit=5&status=a&tags=1,2&tags=3", &[]).is_empty());
        let v = check(&p, json!({"petId": "seven"}), "limit=500&tags=1,x", &[("x-trace", "nope")]);
        assert_eq!(v.len(), 5, "{v:?}");
        assert!(v[0].starts_with("/path/petId: \"seven\" is not of type \"integer\""), "{v:?}");
        assert!(v[1].starts_with("/query/limit: 500 is greater than the maximum of 100"), "{v:?}");
        assert_eq!(v[2], "/query/status: is required");
        assert!(v[3].starts_with("/header/X-Trace: "), "{v:?}");
        assert!(v[4].starts_with("/query/tags/1: \"x\" is not of type \"integer\""), "{v:?}");
    }

    #[test]
    fn an_unknown_location_is_a_load_problem() {
        let defs: Vec<ParameterDef> = serde_json::from_value(json!([{"name": "a", "in": "body"}])).unwrap();
        let mut problems = Vec::new();
        let mut engine = crate::template::TemplateEngine::new();
        let mut cx = CompileCx::new("endpoints.json", &mut problems, &mut engine);
        assert!(Params::parse(&defs, "endpoints[0]", &mut cx).is_none());
        assert_eq!(problems[0].json_path, "endpoints[0].parameters[0].in");
    }
}
