//! List queries, evaluated the same way by every backend.

use crate::json::{equals_text, field_at};
use serde_json::Value;
use std::cmp::Ordering;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    pub offset: usize,
    /// `None`: everything after `offset`.
    pub limit: Option<usize>,
    /// Field equality (`?role=admin`); dotted names reach nested fields.
    pub filters: Vec<(String, String)>,
    /// Case-insensitive substring over every string field.
    pub search: Option<String>,
    pub sort: Option<Sort>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sort {
    pub field: String,
    pub descending: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub items: Vec<Value>,
    /// How many entities matched, across all pages.
    pub total: usize,
}

impl ListQuery {
    pub fn matches(&self, v: &Value) -> bool {
        self.filters.iter().all(|(field, want)| field_at(v, field).is_some_and(|x| equals_text(x, want)))
            && self.search.as_deref().is_none_or(|needle| contains_text(v, &needle.to_lowercase()))
    }

    /// Filters, sorts and pages entities given in creation order.
    pub fn apply<'a>(&self, entities: impl Iterator<Item = &'a Value>) -> Page {
        let mut matched: Vec<&Value> = entities.filter(|v| self.matches(v)).collect();
        if let Some(sort) = &self.sort {
            // A stable sort keeps creation order among equal keys.
            matched.sort_by(|a, b| {
                let ord = compare(field_at(a, &sort.field), field_at(b, &sort.field));
                if sort.descending { ord.reverse() } else { ord }
            });
        }
        let total = matched.len();
        let items = matched.into_iter().skip(self.offset).take(self.limit.unwrap_or(usize::MAX)).cloned().collect();
        Page { items, total }
    }
}

fn contains_text(v: &Value, needle_lower: &str) -> bool {
    match v {
        Value::String(s) => s.to_lowercase().contains(needle_lower),
        Value::Array(items) => items.iter().any(|i| contains_text(i, needle_lower)),
        Value::Object(m) => m.values().any(|i| contains_text(i, needle_lower)),
        _ => false,
    }
}

/// Missing values sort last; numbers numerically; strings lexically.
fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (None | Some(Value::Null), None | Some(Value::Null)) => Ordering::Equal,
        (None | Some(Value::Null), _) => Ordering::Greater,
        (_, None | Some(Value::Null)) => Ordering::Less,
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(Ordering::Equal)
        }
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn people() -> Vec<Value> {
        vec![
            json!({"id": "1", "name": "Ada", "age": 36, "role": "admin", "address": {"city": "London"}}),
            json!({"id": "2", "name": "Bob", "age": 25, "role": "user"}),
            json!({"id": "3", "name": "Cy", "age": 41, "role": "user", "address": {"city": "Paris"}}),
        ]
    }

    fn ids(page: &Page) -> Vec<&str> {
        page.items.iter().map(|v| v["id"].as_str().unwrap()).collect()
    }

    #[test]
    fn pages_filters_searches_and_sorts() {
        let all = people();
        let cases: Vec<(ListQuery, Vec<&str>, usize)> = vec![
            (ListQuery::default(), vec!["1", "2", "3"], 3),
            (ListQuery { offset: 1, limit: Some(1), ..Default::default() }, vec!["2"], 3),
            (ListQuery { filters: vec![("role".into(), "user".into())], ..Default::default() }, vec!["2", "3"], 2),
            (ListQuery { filters: vec![("age".into(), "25".into())], ..Default::default() }, vec!["2"], 1),
            (ListQuery { filters: vec![("address.city".into(), "Paris".into())], ..Default::default() }, vec!["3"], 1),
            (ListQuery { search: Some("LOND".into()), ..Default::default() }, vec!["1"], 1),
            (
                ListQuery { sort: Some(Sort { field: "age".into(), descending: true }), ..Default::default() },
                vec!["3", "1", "2"],
                3,
            ),
            (
                ListQuery {
                    sort: Some(Sort { field: "address.city".into(), descending: false }),
                    ..Default::default()
                },
                vec!["1", "3", "2"],
                3,
            ),
        ];
        for (q, want, total) in cases {
            let page = q.apply(all.iter());
            assert_eq!(ids(&page), want, "{q:?}");
            assert_eq!(page.total, total, "{q:?}");
        }
    }
}
