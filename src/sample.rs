//! A value for a JSON Schema: the schema's own example when it has one, otherwise one
//! made from its type, `format` and the property's name (an `email` looks like an
//! email, a `createdAt` like a timestamp), within its bounds. Deterministic: the same
//! schema always gives the same sample.
//!
//! The OpenAPI importer answers operations it serves statically with these, and a
//! response `schema` fills the required fields a stored entity lacks with them.

use serde_json::{Map, Value, json};

/// Nesting deeper than this is answered with the empty value of its type.
const MAX_DEPTH: usize = 8;

/// A sample for `schema`; `name` is the property it is for, if any.
pub fn sample(schema: &Value, name: Option<&str>) -> Value {
    at(schema, name, 0)
}

fn at(schema: &Value, name: Option<&str>, depth: usize) -> Value {
    let Value::Object(s) = schema else { return Value::Null };
    if let Some(v) = s.get("const") {
        return v.clone();
    }
    if let Some(v) = s.get("examples").and_then(Value::as_array).and_then(|e| e.first()) {
        return v.clone();
    }
    if let Some(v) = s.get("example").or_else(|| s.get("default")) {
        return v.clone();
    }
    if let Some(v) = s.get("enum").and_then(Value::as_array).and_then(|e| e.iter().find(|v| !v.is_null()).or(e.first()))
    {
        return v.clone();
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        for branch in all {
            match at(branch, name, depth) {
                Value::Object(m) => merged.extend(m),
                other if all.len() == 1 => return other,
                _ => {}
            }
        }
        if let Value::Object(own) = object(s, depth) {
            merged.extend(own);
        }
        return Value::Object(merged);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(first) = s.get(key).and_then(Value::as_array).and_then(|b| b.first()) {
            return at(first, name, depth);
        }
    }
    match type_of(s) {
        Some("object") => object(s, depth),
        Some("array") => {
            let max = s.get("maxItems").and_then(Value::as_u64);
            let min = s.get("minItems").and_then(Value::as_u64).unwrap_or(1).max(1);
            if max == Some(0) || depth >= MAX_DEPTH {
                return json!([]);
            }
            let item = at(s.get("items").unwrap_or(&Value::Null), singular(name), depth + 1);
            Value::Array(vec![item; min.min(max.unwrap_or(min)).min(3) as usize])
        }
        Some("string") => Value::String(text(s, name)),
        Some("integer") => Value::from(integer(s)),
        Some("number") => number(s),
        Some("boolean") => Value::Bool(true),
        Some("null") => Value::Null,
        _ => Value::Null,
    }
}

/// The schema's type: `type`, the first of a type array that is not `null`, or what
/// its keywords imply.
pub fn type_of(s: &Map<String, Value>) -> Option<&str> {
    match s.get("type") {
        Some(Value::String(t)) => Some(t.as_str()),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null").or(Some("null")),
        _ if s.contains_key("properties") || s.contains_key("additionalProperties") => Some("object"),
        _ if s.contains_key("items") => Some("array"),
        _ => None,
    }
}

fn object(s: &Map<String, Value>, depth: usize) -> Value {
    let mut out = Map::new();
    if depth >= MAX_DEPTH {
        return Value::Object(out);
    }
    if let Some(Value::Object(props)) = s.get("properties") {
        for (k, p) in props {
            out.insert(k.clone(), at(p, Some(k), depth + 1));
        }
    }
    Value::Object(out)
}

fn singular(name: Option<&str>) -> Option<&str> {
    name.map(|n| n.strip_suffix('s').filter(|s| !s.is_empty()).unwrap_or(n))
}

fn text(s: &Map<String, Value>, name: Option<&str>) -> String {
    let format = s.get("format").and_then(Value::as_str).unwrap_or("");
    let by_format = match format {
        "date-time" => Some("2026-01-15T09:30:00Z"),
        "date" => Some("2026-01-15"),
        "time" => Some("09:30:00Z"),
        "uuid" => Some("3fa85f64-5717-4562-b3fc-2c963f66afa6"),
        "email" | "idn-email" => Some("jane.doe@example.com"),
        "uri" | "url" | "iri" | "uri-reference" => Some("https://example.com/resource/1"),
        "hostname" | "idn-hostname" => Some("example.com"),
        "ipv4" => Some("192.0.2.10"),
        "ipv6" => Some("2001:db8::10"),
        "byte" => Some("c2FtcGxl"),
        "binary" => Some(""),
        "password" => Some("s3cret-Passw0rd"),
        "duration" => Some("PT1H"),
        _ => None,
    };
    let lower = name.unwrap_or("").to_ascii_lowercase().replace(['_', '-'], "");
    let by_name = || -> &'static str {
        let ends = |w: &str| lower.ends_with(w);
        match lower.as_str() {
            _ if lower.contains("email") => "jane.doe@example.com",
            "firstname" | "givenname" => "Jane",
            "lastname" | "surname" | "familyname" => "Doe",
            "username" | "login" | "user" => "janedoe",
            _ if lower.contains("password") => "s3cret-Passw0rd",
            _ if lower.contains("phone") => "+1-202-555-0143",
            _ if ends("url") || ends("uri") || ends("link") || ends("href") => "https://example.com/resource/1",
            _ if ends("at") && lower.len() > 4 || lower.contains("date") || lower.contains("time") => {
                "2026-01-15T09:30:00Z"
            }
            _ if ends("uuid") || ends("guid") => "3fa85f64-5717-4562-b3fc-2c963f66afa6",
            _ if ends("id") || lower == "key" || lower == "slug" => "abc123",
            "name" | "fullname" | "displayname" => "Jane Doe",
            _ if ends("name") => "Sample name",
            "city" => "Springfield",
            "country" => "US",
            "title" => "A sample title",
            "description" | "summary" | "body" | "content" | "text" | "message" | "comment" => {
                "Lorem ipsum dolor sit amet."
            }
            "status" | "state" => "active",
            "token" | "accesstoken" => "sample-token",
            _ => "string",
        }
    };
    let mut out = by_format.map(str::to_owned).unwrap_or_else(|| by_name().to_owned());
    let min = s.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
    let max = s.get("maxLength").and_then(Value::as_u64).map(|m| m as usize);
    while out.chars().count() < min {
        out.push('x');
    }
    if let Some(max) = max.filter(|m| out.chars().count() > *m) {
        out = out.chars().take(max).collect();
    }
    out
}

fn bound(s: &Map<String, Value>, key: &str, exclusive: &str) -> Option<(f64, bool)> {
    match (s.get(key).and_then(Value::as_f64), s.get(exclusive)) {
        (_, Some(Value::Number(n))) => n.as_f64().map(|f| (f, true)),
        (Some(f), Some(Value::Bool(true))) => Some((f, true)),
        (Some(f), _) => Some((f, false)),
        _ => None,
    }
}

fn integer(s: &Map<String, Value>) -> i64 {
    let low =
        bound(s, "minimum", "exclusiveMinimum").map(|(f, ex)| if ex { f.floor() as i64 + 1 } else { f.ceil() as i64 });
    let high =
        bound(s, "maximum", "exclusiveMaximum").map(|(f, ex)| if ex { f.ceil() as i64 - 1 } else { f.floor() as i64 });
    let mut n = low.unwrap_or(1);
    if let Some(h) = high {
        n = n.min(h);
    }
    if let Some(m) = s.get("multipleOf").and_then(Value::as_i64).filter(|m| *m > 0) {
        n = n.div_euclid(m).saturating_add(i64::from(n.rem_euclid(m) != 0)).saturating_mul(m);
    }
    n
}

fn number(s: &Map<String, Value>) -> Value {
    let low = bound(s, "minimum", "exclusiveMinimum").map(|(f, ex)| if ex { f + 0.5 } else { f });
    let high = bound(s, "maximum", "exclusiveMaximum").map(|(f, ex)| if ex { f - 0.5 } else { f });
    let mut n = low.unwrap_or(1.5);
    if let Some(h) = high {
        n = n.min(h);
    }
    serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_win_then_formats_names_and_bounds() {
        assert_eq!(sample(&json!({"type": "integer", "example": 10}), None), json!(10));
        assert_eq!(sample(&json!({"type": "string", "examples": ["x"]}), None), json!("x"));
        assert_eq!(sample(&json!({"enum": ["placed", "approved"]}), None), json!("placed"));
        let user = json!({"type": "object", "properties": {
            "email": {"type": "string"}, "createdAt": {"type": "string", "format": "date-time"},
            "age": {"type": "integer", "minimum": 18, "maximum": 99},
            "score": {"type": "number", "exclusiveMaximum": 1},
            "tags": {"type": "array", "items": {"type": "string"}},
            "id": {"type": ["integer", "null"]}
        }});
        let v = sample(&user, None);
        assert_eq!(v["email"], "jane.doe@example.com");
        assert_eq!(v["createdAt"], "2026-01-15T09:30:00Z");
        assert_eq!(v["age"], 18);
        assert!(v["score"].as_f64().unwrap() < 1.0);
        assert_eq!(v["tags"], json!(["string"]));
        assert_eq!(v["id"], 1);
        assert_eq!(
            sample(&json!({"type": "string", "minLength": 12, "maxLength": 12}), Some("code")).as_str().unwrap().len(),
            12
        );
    }

    #[test]
    fn all_of_merges_and_one_of_takes_the_first() {
        let s =
            json!({"allOf": [{"properties": {"a": {"type": "integer"}}}, {"properties": {"b": {"type": "boolean"}}}]});
        assert_eq!(sample(&s, None), json!({"a": 1, "b": true}));
        let s = json!({"oneOf": [{"type": "string", "format": "uuid"}, {"type": "integer"}]});
        assert_eq!(sample(&s, None), json!("3fa85f64-5717-4562-b3fc-2c963f66afa6"));
    }
}
