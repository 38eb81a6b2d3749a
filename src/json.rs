//! Small helpers over `serde_json::Value` shared by routing, templates, list queries
//! and persistence: walking a path into a value, and reading a value as text.

use serde_json::Value;

/// The value at `segments` below `v`: object keys by name, array items by index.
pub fn walk<'a, 's>(v: &'a Value, segments: impl IntoIterator<Item = &'s str>) -> Option<&'a Value> {
    segments.into_iter().try_fold(v, |cur, seg| match cur {
        Value::Object(m) => m.get(seg),
        Value::Array(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// The field named `dotted`: a key of that exact name first, else the dotted path
/// (`address.city`, `items.0.sku`).
pub fn field_at<'a>(v: &'a Value, dotted: &str) -> Option<&'a Value> {
    if let Some(direct) = v.get(dotted) {
        return Some(direct);
    }
    walk(v, dotted.split('.'))
}

/// `a=1&b=x` as an object of strings (a repeated name keeps its last value; an
/// unreadable query string is an empty object).
pub fn query_object(query: &str) -> serde_json::Map<String, Value> {
    if query.is_empty() {
        return serde_json::Map::new();
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect()
}

/// A query-string value against a JSON value: `3` matches `3` and `"3"`, `true`
/// matches `true`, `null` matches `null`.
pub fn equals_text(v: &Value, want: &str) -> bool {
    match v {
        Value::String(s) => s == want,
        Value::Number(n) => want.parse::<f64>().ok().zip(n.as_f64()).is_some_and(|(a, b)| a == b),
        Value::Bool(b) => want == if *b { "true" } else { "false" },
        Value::Null => want == "null",
        Value::Array(items) => items.iter().any(|i| equals_text(i, want)),
        Value::Object(_) => false,
    }
}

/// How a value reads inside text: strings as they are, `null` as nothing, the rest as JSON.
pub fn to_text(v: &Value) -> String {
    let mut s = String::new();
    push_text(&mut s, v);
    s
}

/// [`to_text`], appending to `out`.
pub fn push_text(out: &mut String, v: &Value) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Null => {}
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_reach_nested_fields_and_array_items() {
        let v = json!({"a.b": 1, "a": {"b": 2, "c": [10, 20]}});
        assert_eq!(field_at(&v, "a.b"), Some(&json!(1)), "an exact key wins");
        assert_eq!(field_at(&v, "a.c.1"), Some(&json!(20)));
        assert_eq!(field_at(&v, "a.c.x"), None);
        assert_eq!(walk(&v, ["a", "b"]), Some(&json!(2)));
    }

    #[test]
    fn text_forms() {
        assert_eq!(to_text(&json!("x")), "x");
        assert_eq!(to_text(&Value::Null), "");
        assert_eq!(to_text(&json!(3)), "3");
        assert!(equals_text(&json!(3), "3.0"));
        assert!(equals_text(&json!(["a", "b"]), "b"));
        assert!(!equals_text(&json!({"a": 1}), "a"));
    }
}
