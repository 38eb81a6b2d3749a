//! OpenAPI schemas to self-contained JSON Schema 2020-12, as mockgate's validators and
//! response shapes read them.
//!
//! - every `$ref` is inlined (local or in another file); a schema that refers to
//!   itself is cut where it recurses (`{}`: anything), and converted targets are
//!   cached, so a large document costs one conversion per component;
//! - OpenAPI 3.0 and Swagger 2.0 dialect becomes JSON Schema: `nullable` (and
//!   `x-nullable`) adds `null` to the type, boolean `exclusiveMinimum` /
//!   `exclusiveMaximum` become numbers, `example` becomes `examples`, `type: file`
//!   anything; OpenAPI-only annotations (`xml`, `discriminator`, `externalDocs`,
//!   extensions) are left out;
//! - for a request, `readOnly` fields are not required (a server generates them);
//!   for a response, `writeOnly` fields are not required (and a response shape hides
//!   them).

use super::doc::{Docs, ImportError, escape};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Which side of an exchange a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Request,
    Response,
}

/// Converts schemas of one import; keeps what it converted.
#[derive(Debug, Default)]
pub struct Converter {
    cache: HashMap<(PathBuf, String, Side), Value>,
    /// References being expanded, to cut recursion.
    stack: Vec<(PathBuf, String)>,
}

const MAX_DEPTH: usize = 64;

impl Converter {
    /// `schema`, written in `file` at `at`, as JSON Schema.
    pub fn convert(
        &mut self,
        docs: &mut Docs,
        file: &Path,
        at: &str,
        schema: &Value,
        side: Side,
    ) -> Result<Value, ImportError> {
        self.walk(docs, file, at, schema, side, 0)
    }

    fn walk(
        &mut self,
        docs: &mut Docs,
        file: &Path,
        at: &str,
        schema: &Value,
        side: Side,
        depth: usize,
    ) -> Result<Value, ImportError> {
        let Value::Object(s) = schema else {
            return match schema {
                Value::Bool(_) => Ok(schema.clone()),
                _ => Err(ImportError::at(file, at, format!("found {}", kind(schema)), "a schema object")),
            };
        };
        if depth > MAX_DEPTH {
            return Ok(Value::Object(Map::new()));
        }
        if let Some(reference) = s.get("$ref") {
            let Some(reference) = reference.as_str() else {
                return Err(ImportError::at(file, &format!("{at}/$ref"), "a $ref that is not text", "a URI reference"));
            };
            let (target_file, pointer, target) = docs.resolve(file, at, reference)?;
            let key = (target_file.clone(), pointer.clone());
            let converted = if self.stack.contains(&key) {
                Value::Object(Map::new())
            } else if let Some(done) = self.cache.get(&(key.0.clone(), key.1.clone(), side)) {
                done.clone()
            } else {
                self.stack.push(key.clone());
                let out = self.walk(docs, &target_file, &pointer, &target, side, depth + 1);
                self.stack.pop();
                let out = out?;
                self.cache.insert((key.0, key.1, side), out.clone());
                out
            };
            // OpenAPI 3.1 allows keywords beside a $ref: both must hold.
            let siblings: Map<String, Value> = s
                .iter()
                .filter(|(k, _)| !is_annotation(k) && *k != "$ref")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if siblings.is_empty() {
                return Ok(converted);
            }
            let rest = self.walk(docs, file, at, &Value::Object(siblings), side, depth + 1)?;
            return Ok(serde_json::json!({"allOf": [converted, rest]}));
        }
        let mut out = Map::with_capacity(s.len());
        for (k, v) in s {
            let here = format!("{at}/{}", escape(k));
            match k.as_str() {
                "properties" | "patternProperties" | "$defs" | "definitions" | "dependentSchemas" => {
                    let Value::Object(props) = v else {
                        return Err(ImportError::at(file, &here, format!("found {}", kind(v)), "an object of schemas"));
                    };
                    let mut converted = Map::with_capacity(props.len());
                    for (name, p) in props {
                        let at = format!("{here}/{}", escape(name));
                        converted.insert(name.clone(), self.walk(docs, file, &at, p, side, depth + 1)?);
                    }
                    out.insert(k.clone(), Value::Object(converted));
                }
                "items"
                | "additionalProperties"
                | "not"
                | "contains"
                | "propertyNames"
                | "if"
                | "then"
                | "else"
                | "unevaluatedProperties"
                | "unevaluatedItems"
                | "additionalItems" => match v {
                    // Swagger 2.0 / JSON Schema draft 4 tuple `items`.
                    Value::Array(items) if k == "items" => {
                        let mut converted = Vec::with_capacity(items.len());
                        for (i, item) in items.iter().enumerate() {
                            converted.push(self.walk(docs, file, &format!("{here}/{i}"), item, side, depth + 1)?);
                        }
                        out.insert("prefixItems".into(), Value::Array(converted));
                    }
                    _ => {
                        out.insert(k.clone(), self.walk(docs, file, &here, v, side, depth + 1)?);
                    }
                },
                "allOf" | "oneOf" | "anyOf" | "prefixItems" => {
                    let Value::Array(branches) = v else {
                        return Err(ImportError::at(file, &here, format!("found {}", kind(v)), "an array of schemas"));
                    };
                    let tag = s.get("discriminator").filter(|_| k == "oneOf" || k == "anyOf");
                    let mut converted = Vec::with_capacity(branches.len());
                    for (i, b) in branches.iter().enumerate() {
                        let branch = self.walk(docs, file, &format!("{here}/{i}"), b, side, depth + 1)?;
                        converted.push(match tag.and_then(|d| discriminated(d, b)) {
                            // The discriminator decides which branch a value is.
                            Some((prop, value)) => serde_json::json!({"allOf": [branch, {
                                "type": "object", "required": [prop], "properties": {prop: {"const": value}}
                            }]}),
                            None => branch,
                        });
                    }
                    out.insert(k.clone(), Value::Array(converted));
                }
                "type" => match v {
                    Value::String(t) if t == "file" => {}
                    Value::String(_) | Value::Array(_) => {
                        out.insert(k.clone(), v.clone());
                    }
                    _ => {
                        return Err(ImportError::at(
                            file,
                            &here,
                            format!("found {}", kind(v)),
                            "a type name or a list of them",
                        ));
                    }
                },
                "exclusiveMinimum" | "exclusiveMaximum" => {
                    // OpenAPI 3.0: a boolean beside minimum / maximum.
                    let bound = if k == "exclusiveMinimum" { "minimum" } else { "maximum" };
                    match v {
                        Value::Bool(true) => {
                            if let Some(b) = s.get(bound) {
                                out.insert(k.clone(), b.clone());
                            }
                        }
                        Value::Bool(false) => {}
                        _ => {
                            out.insert(k.clone(), v.clone());
                        }
                    }
                }
                "minimum" | "maximum" => {
                    let exclusive = if k == "minimum" { "exclusiveMinimum" } else { "exclusiveMaximum" };
                    if s.get(exclusive) != Some(&Value::Bool(true)) {
                        out.insert(k.clone(), v.clone());
                    }
                }
                "example" => {
                    if !s.contains_key("examples") {
                        out.insert("examples".into(), Value::Array(vec![v.clone()]));
                    }
                }
                "examples" => {
                    // OpenAPI 3.0 media-type style examples (a map) are not JSON Schema's.
                    if let Value::Array(_) = v {
                        out.insert(k.clone(), v.clone());
                    }
                }
                "required" => {
                    if let Value::Array(_) = v {
                        out.insert(k.clone(), v.clone());
                    }
                }
                _ if is_annotation(k) => {}
                _ => {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        if s.get("nullable") == Some(&Value::Bool(true)) || s.get("x-nullable") == Some(&Value::Bool(true)) {
            nullable(&mut out);
        }
        // A server makes readOnly fields; a client never sees writeOnly ones.
        let hidden = if side == Side::Request { "readOnly" } else { "writeOnly" };
        if let (Some(Value::Array(req)), Some(Value::Object(props))) = (out.get("required"), s.get("properties")) {
            let keep: Vec<Value> = req
                .iter()
                .filter(|r| {
                    r.as_str().and_then(|r| props.get(r)).is_none_or(|p| p.get(hidden) != Some(&Value::Bool(true)))
                })
                .cloned()
                .collect();
            if keep.is_empty() {
                out.remove("required");
            } else {
                out.insert("required".into(), Value::Array(keep));
            }
        }
        Ok(Value::Object(out))
    }
}

/// A `oneOf` branch's discriminator value: its key in `mapping`, else the name of
/// the schema it refers to (`#/components/schemas/Cat` → `Cat`).
fn discriminated(discriminator: &Value, branch: &Value) -> Option<(String, String)> {
    let prop = discriminator.get("propertyName")?.as_str()?.to_owned();
    let reference = branch.get("$ref")?.as_str()?;
    let name = reference.rsplit('/').next()?;
    let mapped = discriminator.get("mapping").and_then(Value::as_object).and_then(|m| {
        m.iter().find(|(_, v)| v.as_str().is_some_and(|v| v == reference || v == name)).map(|(k, _)| k.clone())
    });
    Some((prop, mapped.unwrap_or_else(|| name.to_owned())))
}

/// OpenAPI annotations JSON Schema does not know, and extensions.
fn is_annotation(k: &str) -> bool {
    k.starts_with("x-") || matches!(k, "nullable" | "xml" | "discriminator" | "externalDocs")
}

fn nullable(out: &mut Map<String, Value>) {
    match out.get_mut("type") {
        Some(Value::String(t)) => {
            let t = std::mem::take(t);
            out.insert("type".into(), serde_json::json!([t, "null"]));
        }
        Some(Value::Array(ts)) if !ts.iter().any(|t| t == "null") => ts.push(Value::from("null")),
        _ => {}
    }
    if let Some(Value::Array(e)) = out.get_mut("enum")
        && !e.contains(&Value::Null)
    {
        e.push(Value::Null);
    }
}

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn convert(doc: Value, schema: Value, side: Side) -> Value {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spec.json");
        std::fs::write(&path, doc.to_string()).unwrap();
        let mut docs = Docs::default();
        let file = docs.open(&path).unwrap();
        Converter::default().convert(&mut docs, &file, "/x", &schema, side).unwrap()
    }

    #[test]
    fn openapi_3_0_dialect_becomes_json_schema() {
        let doc = json!({"components": {"schemas": {"Pet": {
            "type": "object", "required": ["id", "name", "password"], "xml": {"name": "pet"},
            "properties": {"id": {"type": "integer", "readOnly": true},
                           "name": {"type": "string", "nullable": true, "example": "Rex"},
                           "password": {"type": "string", "writeOnly": true},
                           "age": {"type": "integer", "minimum": 0, "exclusiveMinimum": true},
                           "parent": {"$ref": "#/components/schemas/Pet"}}}}}});
        let req = convert(doc.clone(), json!({"$ref": "#/components/schemas/Pet"}), Side::Request);
        assert_eq!(req["required"], json!(["name", "password"]));
        assert_eq!(req["properties"]["name"]["type"], json!(["string", "null"]));
        assert_eq!(req["properties"]["name"]["examples"], json!(["Rex"]));
        assert_eq!(req["properties"]["age"], json!({"type": "integer", "exclusiveMinimum": 0}));
        assert_eq!(req["properties"]["parent"], json!({}), "recursion is cut where it recurses");
        assert!(req.get("xml").is_none());
        let resp = convert(doc, json!({"$ref": "#/components/schemas/Pet"}), Side::Response);
        assert_eq!(resp["required"], json!(["id", "name"]));
        jsonschema::validator_for(&resp).unwrap();
    }

    #[test]
    fn a_discriminator_decides_the_branch() {
        let doc = json!({"components": {"schemas": {
            "Cat": {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string"}, "purrs": {"type": "boolean"}}},
            "Dog": {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string"}, "barks": {"type": "boolean"}}}}}});
        let pet = json!({"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
                         "discriminator": {"propertyName": "kind", "mapping": {"dog": "#/components/schemas/Dog"}}});
        let s = convert(doc, pet, Side::Request);
        let v = jsonschema::validator_for(&s).unwrap();
        assert!(v.is_valid(&json!({"kind": "Cat", "purrs": true})));
        assert!(v.is_valid(&json!({"kind": "dog"})));
        assert!(!v.is_valid(&json!({"kind": "Dog"})), "mapped to `dog`");
        assert_eq!(crate::sample::sample(&s, None)["kind"], "Cat");
    }
}
