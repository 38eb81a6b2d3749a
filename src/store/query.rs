//! List queries, evaluated the same way by every backend.

use crate::json::{equals_text, field_at};
use serde_json::Value;
use std::borrow::Cow;
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
    ///
    /// Without a sort only the page is copied. With one, each match's sort key is read
    /// once, and a page (`offset + limit` entities) is a bounded top-k: a selection
    /// that puts the first `offset + limit` in front (linear on average), then a sort
    /// of those alone, never of everything. Equal keys keep creation order.
    pub fn apply<'a>(&self, entities: impl Iterator<Item = &'a Value>) -> Page {
        self.page(entities.filter(|v| self.matches(v)))
    }

    /// Sorts and pages entities already known to match, in creation order.
    pub fn page<'a>(&self, matched: impl Iterator<Item = &'a Value>) -> Page {
        self.page_by(
            matched,
            |v| self.sort.as_ref().and_then(|s| field_at(v, &s.field)).map(Cow::Borrowed),
            Value::clone,
        )
    }

    /// [`ListQuery::page`] over any kind of entity: `key` reads an entity's sort
    /// field, `value` makes an entity of the page a value (called for the page only).
    pub fn page_by<'a, T: Copy>(
        &self,
        matched: impl Iterator<Item = T>,
        key: impl Fn(T) -> Option<Cow<'a, Value>>,
        value: impl Fn(T) -> Value,
    ) -> Page {
        let end = self.offset.saturating_add(self.limit.unwrap_or(usize::MAX));
        let Some(sort) = &self.sort else {
            let mut total = 0;
            let mut items = Vec::new();
            for v in matched {
                if total >= self.offset && total < end {
                    items.push(value(v));
                }
                total += 1;
            }
            return Page { items, total };
        };
        type Keyed<'k, T> = (Option<Cow<'k, Value>>, usize, T);
        let mut keyed: Vec<Keyed<'a, T>> = matched.enumerate().map(|(i, v)| (key(v), i, v)).collect();
        let total = keyed.len();
        let order = |a: &Keyed<'a, T>, b: &Keyed<'a, T>| {
            let ord = compare(a.0.as_deref(), b.0.as_deref());
            let ord = if sort.descending { ord.reverse() } else { ord };
            // The position breaks ties: the order is total, and stable.
            ord.then(a.1.cmp(&b.1))
        };
        let end = end.min(total);
        if end == 0 {
            return Page { items: Vec::new(), total };
        }
        if end < total {
            keyed.select_nth_unstable_by(end - 1, order);
            keyed.truncate(end);
        }
        keyed.sort_unstable_by(order);
        let items = keyed.into_iter().skip(self.offset).map(|(_, _, v)| value(v)).collect();
        Page { items, total }
    }
}

pub(super) fn contains_text(v: &Value, needle_lower: &str) -> bool {
    match v {
        Value::String(s) => s.to_lowercase().contains(needle_lower),
        Value::Array(items) => items.iter().any(|i| contains_text(i, needle_lower)),
        Value::Object(m) => m.values().any(|i| contains_text(i, needle_lower)),
        _ => false,
    }
}

/// A value's place in the order [`compare`] gives, as a key an ordered index can hold.
///
/// [`compare`] orders two values of one kind by their contents and values of
/// different kinds by their JSON texts, whose first characters differ by kind (`"`
/// before digits and `-`, before `[`, before `f`/`t`, before `{`); so the order is
/// first by kind, in that sequence, then within the kind, with missing and `null` last.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SortKey {
    Str(String),
    Num(Num),
    /// An array, by its JSON text.
    Arr(String),
    Bool(bool),
    /// An object, by its JSON text.
    Obj(String),
    Last,
}

/// A number as [`compare`] orders it: by its `f64` value, numbers too large for one
/// first (`None`), `-0` equal to `0`.
#[derive(Debug, Clone, Copy)]
pub struct Num(pub(super) Option<f64>);

impl PartialEq for Num {
    fn eq(&self, other: &Num) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Num {}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Num) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Num {
    fn cmp(&self, other: &Num) -> Ordering {
        match (self.0, other.0) {
            (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
            (x, y) => x.is_some().cmp(&y.is_some()),
        }
    }
}

impl SortKey {
    pub fn of(v: Option<&Value>) -> SortKey {
        match v {
            None | Some(Value::Null) => SortKey::Last,
            Some(Value::String(s)) => SortKey::Str(s.clone()),
            Some(Value::Number(n)) => SortKey::Num(Num(n.as_f64())),
            Some(v @ Value::Array(_)) => SortKey::Arr(v.to_string()),
            Some(Value::Bool(b)) => SortKey::Bool(*b),
            Some(v @ Value::Object(_)) => SortKey::Obj(v.to_string()),
        }
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

    /// The plain definition: filter, stable full sort, then the page.
    fn naive(q: &ListQuery, all: &[Value]) -> Page {
        let mut m: Vec<&Value> = all.iter().filter(|v| q.matches(v)).collect();
        if let Some(sort) = &q.sort {
            m.sort_by(|a, b| {
                let ord = compare(field_at(a, &sort.field), field_at(b, &sort.field));
                if sort.descending { ord.reverse() } else { ord }
            });
        }
        let total = m.len();
        Page { items: m.into_iter().skip(q.offset).take(q.limit.unwrap_or(usize::MAX)).cloned().collect(), total }
    }

    #[test]
    fn the_bounded_top_k_answers_as_a_full_sort_does() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(17);
        for round in 0..300 {
            let n = rng.random_range(0..60);
            let all: Vec<Value> = (0..n)
                .map(|i| {
                    let role = ["admin", "user", "guest"][rng.random_range(0..3)];
                    let mut v = json!({"id": i, "role": role});
                    // Few distinct ages, so ties are common; some entities have none.
                    if rng.random_range(0..5) > 0 {
                        v["age"] = json!(rng.random_range(0..8));
                    }
                    v
                })
                .collect();
            let q = ListQuery {
                offset: rng.random_range(0..8),
                limit: if rng.random_range(0..4) == 0 { None } else { Some(rng.random_range(0..12)) },
                filters: if rng.random_range(0..3) == 0 { vec![("role".into(), "user".into())] } else { vec![] },
                search: None,
                sort: (rng.random_range(0..4) > 0)
                    .then(|| Sort { field: "age".into(), descending: rng.random_range(0..2) == 0 }),
            };
            assert_eq!(q.apply(all.iter()), naive(&q, &all), "round {round}: {q:?}");
        }
    }

    #[test]
    fn sort_keys_order_as_the_comparison_does() {
        let values = [
            json!(null),
            json!("b"),
            json!("a"),
            json!(""),
            json!(3),
            json!(-1.5),
            json!(0),
            json!(-0.0),
            json!(1e300),
            serde_json::from_str::<Value>("1e400").unwrap(),
            serde_json::from_str::<Value>("2e400").unwrap(),
            json!(18446744073709551615u64),
            json!(18446744073709551614u64),
            json!([1, 2]),
            json!([]),
            json!(["a"]),
            json!(true),
            json!(false),
            json!({"a": 1}),
            json!({}),
        ];
        let all: Vec<Option<&Value>> = std::iter::once(None).chain(values.iter().map(Some)).collect();
        for a in &all {
            for b in &all {
                assert_eq!(SortKey::of(*a).cmp(&SortKey::of(*b)), compare(*a, *b), "{a:?} vs {b:?}");
            }
        }
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
