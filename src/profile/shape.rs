//! A response's `schema`: the answered body is made to say what the contract says.
//!
//! Compiled once from a self-contained JSON Schema (the OpenAPI importer writes its
//! response schemas with every `$ref` resolved). At answer time, in one pass over
//! the rendered body:
//! - an object drops the fields its schema does not allow (`additionalProperties:
//!   false`, or `writeOnly` fields such as a password), and gains the `required` ones
//!   it lacks, generated from their schema;
//! - text where the schema says `integer` or `number` (a path parameter stored on a
//!   nested create, an id typed as text) becomes that number when it reads as one,
//!   and a number where it says `string` becomes text;
//! - arrays shape every item; `allOf` branches are merged; `oneOf`/`anyOf` leave the
//!   value as it is (which branch it meant is the body's business).

use serde_json::{Map, Value};

/// What to do with a value, compiled from its schema.
#[derive(Debug, Clone, Default)]
pub enum Shape {
    #[default]
    Any,
    Object(Box<ObjectShape>),
    Array(Box<Shape>),
    Integer,
    Number,
    Text,
}

#[derive(Debug, Clone, Default)]
pub struct ObjectShape {
    props: Vec<(String, Shape)>,
    /// Required fields and the sample a body without them gets.
    fill: Vec<(String, Value)>,
    /// Only `props` are allowed.
    closed: bool,
    /// Fields the response must not carry.
    hidden: Vec<String>,
}

const MAX_DEPTH: usize = 32;

impl Shape {
    pub fn parse(schema: &Value) -> Shape {
        parse(schema, 0)
    }

    pub fn is_any(&self) -> bool {
        matches!(self, Shape::Any)
    }

    /// Makes `v` conform, in place.
    pub fn apply(&self, v: &mut Value) {
        match (self, v) {
            (Shape::Object(o), Value::Object(m)) => o.apply(m),
            (Shape::Array(item), Value::Array(items)) => items.iter_mut().for_each(|i| item.apply(i)),
            (Shape::Integer, v @ Value::String(_)) => {
                if let Some(n) = v.as_str().and_then(|s| s.trim().parse::<i64>().ok()) {
                    *v = Value::from(n);
                }
            }
            (Shape::Number, v @ Value::String(_)) => {
                if let Some(n) =
                    v.as_str().and_then(|s| s.trim().parse::<f64>().ok()).and_then(serde_json::Number::from_f64)
                {
                    *v = Value::Number(n);
                }
            }
            (Shape::Text, v @ Value::Number(_)) => *v = Value::String(v.to_string()),
            _ => {}
        }
    }
}

impl ObjectShape {
    fn apply(&self, m: &mut Map<String, Value>) {
        for (k, s) in &self.props {
            if !m.contains_key(k)
                && let Some(v) = same_meaning(m, k)
            {
                m.insert(k.clone(), v);
            }
            if let Some(v) = m.get_mut(k) {
                s.apply(v);
            }
        }
        if self.closed {
            m.retain(|k, _| self.props.iter().any(|(p, _)| p == k));
        }
        for k in &self.hidden {
            m.shift_remove(k);
        }
        for (k, sample) in &self.fill {
            if !m.contains_key(k) {
                m.insert(k.clone(), sample.clone());
            }
        }
    }

    fn merge(&mut self, other: ObjectShape) {
        for (k, s) in other.props {
            match self.props.iter_mut().find(|(p, _)| *p == k) {
                Some((_, mine)) if mine.is_any() => *mine = s,
                Some(_) => {}
                None => self.props.push((k, s)),
            }
        }
        for (k, v) in other.fill {
            if !self.fill.iter().any(|(f, _)| *f == k) {
                self.fill.push((k, v));
            }
        }
        self.hidden.extend(other.hidden);
        self.closed |= other.closed;
    }
}

/// The value of a field spelled another way (`created_at` for `createdAt`).
fn same_meaning(m: &Map<String, Value>, name: &str) -> Option<Value> {
    fn plain(s: &str) -> impl Iterator<Item = u8> + '_ {
        s.bytes().filter(|b| *b != b'_' && *b != b'-').map(|b| b.to_ascii_lowercase())
    }
    m.iter().find(|(k, _)| plain(k).eq(plain(name))).map(|(_, v)| v.clone())
}

fn parse(schema: &Value, depth: usize) -> Shape {
    let Value::Object(s) = schema else { return Shape::Any };
    if depth > MAX_DEPTH {
        return Shape::Any;
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        let mut merged = ObjectShape::default();
        let mut objects = 0;
        for branch in all.iter().chain(std::iter::once(schema)) {
            let shape = if std::ptr::eq(branch, schema) { own_object(s, depth) } else { parse(branch, depth + 1) };
            if let Shape::Object(o) = shape {
                merged.merge(*o);
                objects += 1;
            }
        }
        return if objects > 0 { Shape::Object(Box::new(merged)) } else { Shape::Any };
    }
    if s.contains_key("oneOf") || s.contains_key("anyOf") {
        return Shape::Any;
    }
    match crate::sample::type_of(s) {
        Some("object") => own_object(s, depth),
        Some("array") => Shape::Array(Box::new(s.get("items").map_or(Shape::Any, |i| parse(i, depth + 1)))),
        Some("integer") => Shape::Integer,
        Some("number") => Shape::Number,
        Some("string") => Shape::Text,
        _ => Shape::Any,
    }
}

fn own_object(s: &Map<String, Value>, depth: usize) -> Shape {
    let props = s.get("properties").and_then(Value::as_object);
    let mut o =
        ObjectShape { closed: s.get("additionalProperties") == Some(&Value::Bool(false)), ..Default::default() };
    for (k, p) in props.into_iter().flatten() {
        if p.get("writeOnly") == Some(&Value::Bool(true)) {
            o.hidden.push(k.clone());
            continue;
        }
        o.props.push((k.clone(), parse(p, depth + 1)));
    }
    for k in s.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        let Some(p) = props.and_then(|p| p.get(k)) else { continue };
        if p.get("writeOnly") != Some(&Value::Bool(true)) {
            o.fill.push((k.to_owned(), crate::sample::sample(p, Some(k))));
        }
    }
    if o.props.is_empty() && o.fill.is_empty() && o.hidden.is_empty() && !o.closed {
        return Shape::Any;
    }
    Shape::Object(Box::new(o))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn drops_what_is_not_allowed_fills_what_is_required_and_fixes_number_text() {
        let schema = json!({"type": "array", "items": {
            "type": "object", "additionalProperties": false, "required": ["id", "name", "kind"],
            "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                           "kind": {"type": "string", "enum": ["cat", "dog"]},
                           "owner_id": {"type": "integer"}, "secret": {"type": "string", "writeOnly": true}}
        }});
        let mut body = json!([{"id": "7", "name": 5, "owner_id": "x", "created_at": "2026", "secret": "s"}]);
        Shape::parse(&schema).apply(&mut body);
        assert_eq!(body, json!([{"id": 7, "name": "5", "owner_id": "x", "kind": "cat"}]));
        // A field the schema spells another way is the same field.
        let schema = json!({"type": "object", "additionalProperties": false, "required": ["createdAt"],
                            "properties": {"createdAt": {"type": "string"}, "ownerId": {"type": "integer"}}});
        let mut body = json!({"created_at": "2026-12-01T00:00:00Z", "owner_id": "4"});
        Shape::parse(&schema).apply(&mut body);
        assert_eq!(body, json!({"createdAt": "2026-12-01T00:00:00Z", "ownerId": 4}));
    }

    #[test]
    fn all_of_branches_merge_and_one_of_is_left_alone() {
        let schema = json!({"allOf": [
            {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
            {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}
        ]});
        let mut body = json!({"id": "3", "extra": true});
        Shape::parse(&schema).apply(&mut body);
        assert_eq!(body, json!({"id": 3, "extra": true, "name": "Jane Doe"}));
        let mut body = json!({"id": "3"});
        Shape::parse(&json!({"oneOf": [{"type": "object"}]})).apply(&mut body);
        assert_eq!(body, json!({"id": "3"}));
    }
}
