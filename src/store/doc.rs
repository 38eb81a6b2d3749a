//! An entity as the embedded engine holds it: its compact JSON text in one shared
//! allocation, not a tree of maps and strings.
//!
//! A `serde_json::Value` of a six-field user costs about 1 KB (an ordered map per
//! object, a heap string per key, per string value and, with exact numbers, per
//! number); its compact text is under 200 bytes. So the engine keeps the text and
//! parses it where a value is needed: a read, each item of a page, a candidate of a
//! search. Filters and sorts read only the fields they name ([`Doc::field`] skips the
//! rest of the text without building it), and a search first looks for its words in
//! the raw text, so neither parses entities that cannot match.
//!
//! Equality is the stored text's, as on Redis; two texts that differ (a key order, a
//! number written `1.0` and `1`) are compared as values before a condition fails.

use super::{ListQuery, Page};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// Shared so that a snapshot of the engine copies pointers, not entities. Raw JSON
/// so that writing it (a journal line, `db.json`) copies the text without checking
/// it again.
#[derive(Clone)]
pub struct Doc(Arc<RawValue>);

impl Doc {
    pub fn new(v: &Value) -> Doc {
        Doc(serde_json::value::to_raw_value(v).expect("JSON values always serialise").into())
    }

    fn text(&self) -> &str {
        self.0.get()
    }

    /// The entity as a value. The text was written by `serde_json` or read as JSON
    /// from a data file, so it parses; were it ever not to, the entity reads as null
    /// and the reason is logged, rather than the server stopping.
    pub fn value(&self) -> Value {
        serde_json::from_str(self.text()).unwrap_or_else(|e| {
            tracing::error!(error = %e, "an entity's stored text does not parse");
            Value::Null
        })
    }

    /// Whether the entity is `v`: the same text, or else the same value.
    pub fn is(&self, v: &Value) -> bool {
        let text = serde_json::to_string(v).expect("JSON values always serialise");
        self.text() == text || self.value() == *v
    }

    /// The field named `dotted`, as [`crate::json::field_at`] finds it in the value
    /// (a key of that exact name first, else the dotted path), reading only that
    /// field's text into a value.
    pub fn field(&self, dotted: &str) -> Option<Value> {
        let (head, rest) = match dotted.split_once('.') {
            Some((head, rest)) => (head, Some(rest)),
            None => (dotted, None),
        };
        let mut de = serde_json::Deserializer::from_str(self.text());
        let found = Fields { exact: dotted, head: rest.map(|_| head) }.deserialize(&mut de).ok()?;
        match (found, rest) {
            (Found { exact: Some(v), .. }, _) => Some(v),
            (Found { head: Some(v), .. }, Some(rest)) => crate::json::walk(&v, rest.split('.')).cloned(),
            _ => None,
        }
    }

    /// False only when no string of the entity can contain `needle_lower` (a
    /// lower-case search word): the raw text, read ASCII-case-insensitively, lacks
    /// it. Conservative wherever the text could hide a match: non-ASCII text (whose
    /// lower case may be ASCII) and words with characters JSON escapes.
    pub fn may_contain(&self, needle_lower: &str) -> bool {
        let hay = self.text().as_bytes();
        let needle = needle_lower.as_bytes();
        if needle.is_empty() || !hay.is_ascii() || needle.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20) {
            return true;
        }
        hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
    }
}

/// [`ListQuery::apply`] over stored entities in creation order: filters read their
/// fields alone, a search parses only entities whose text may hold its word, a sort
/// reads each match's sort field, and only the page is made into values.
pub fn apply<'a>(query: &ListQuery, docs: impl Iterator<Item = &'a Doc>) -> Page {
    let needle = query.search.as_deref().map(str::to_lowercase);
    let matches = |d: &&Doc| match &needle {
        Some(needle) => {
            d.may_contain(needle) && {
                let v = d.value();
                query.matches(&v)
            }
        }
        None => query.filters.iter().all(|(f, want)| d.field(f).is_some_and(|x| crate::json::equals_text(&x, want))),
    };
    page(query, docs.filter(matches))
}

/// [`ListQuery::page`] over stored entities already known to match.
pub fn page<'a>(query: &ListQuery, matched: impl Iterator<Item = &'a Doc>) -> Page {
    let field = query.sort.as_ref().map(|s| s.field.as_str());
    query.page_by(matched, |d| field.and_then(|f| d.field(f)).map(Cow::Owned), Doc::value)
}

impl fmt::Debug for Doc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

impl PartialEq for Doc {
    fn eq(&self, other: &Doc) -> bool {
        self.text() == other.text()
    }
}

/// Written as the JSON it is, verbatim (in a pretty-printed file, one line).
impl Serialize for Doc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// Read as raw JSON text, checked but not built into a value. Text spread over lines
/// (a data file pretty-printed by an earlier version, or by hand) is made compact.
impl<'de> Deserialize<'de> for Doc {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Doc, D::Error> {
        let raw = <Box<RawValue>>::deserialize(d)?;
        if raw.get().contains('\n') {
            let v: Value = serde_json::from_str(raw.get()).map_err(de::Error::custom)?;
            return Ok(Doc::new(&v));
        }
        Ok(Doc(raw.into()))
    }
}

/// What [`Fields`] found at the top level of an entity.
#[derive(Default)]
struct Found {
    exact: Option<Value>,
    head: Option<Value>,
}

/// Reads the top-level keys `exact` and `head` of an object, skipping every other
/// (anything but an object is an error, which [`Doc::field`] reads as no field).
struct Fields<'s> {
    exact: &'s str,
    head: Option<&'s str>,
}

impl<'de> DeserializeSeed<'de> for Fields<'_> {
    type Value = Found;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Found, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Fields<'_> {
    type Value = Found;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an entity")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found, A::Error> {
        let mut found = Found::default();
        while let Some(key) = map.next_key_seed(Key(self.exact, self.head))? {
            // A repeated key keeps its last value, as a parsed value does.
            match key {
                Which::Exact => found.exact = Some(map.next_value()?),
                Which::Head => found.head = Some(map.next_value()?),
                Which::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

enum Which {
    Exact,
    Head,
    Other,
}

/// Compares a key with the two wanted names without keeping it.
struct Key<'s>(&'s str, Option<&'s str>);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = Which;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Which, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = Which;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Which, E> {
        Ok(if key == self.0 {
            Which::Exact
        } else if self.1 == Some(key) {
            Which::Head
        } else {
            Which::Other
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_read_from_the_text_are_the_fields_of_the_value() {
        let v = json!({"id": "1", "a.b": 5, "a": {"b": 6, "c": [1, {"d": "x"}]}, "n": 1.50, "s": "q\"t", "e": {}});
        let doc = Doc::new(&v);
        for path in ["id", "a.b", "a.c", "a.c.1.d", "a.c.0", "a.c.9", "n", "s", "e", "e.x", "missing", "id.x", ""] {
            assert_eq!(doc.field(path), crate::json::field_at(&v, path).cloned(), "{path}");
        }
        assert_eq!(doc.value(), v);
        for not_an_object in [json!([1, 2]), json!("text"), json!(3), json!(null)] {
            assert_eq!(Doc::new(&not_an_object).field("a"), None);
        }
    }

    #[test]
    fn a_search_skips_only_texts_that_cannot_hold_the_word() {
        let doc = Doc::new(&json!({"name": "Ada Lovelace", "city": "Oslo"}));
        assert!(doc.may_contain("lovel") && doc.may_contain("oslo"));
        assert!(!doc.may_contain("paris"));
        // Non-ASCII text and words JSON would escape are never skipped.
        assert!(Doc::new(&json!({"name": "\u{212a}elvin"})).may_contain("zz"));
        assert!(doc.may_contain("a\"b"));
    }

    #[test]
    fn equality_is_the_texts_or_else_the_values() {
        let doc: Doc = serde_json::from_str(r#"{"b":1,"a":2}"#).unwrap();
        assert!(doc.is(&json!({"b": 1, "a": 2})));
        assert!(doc.is(&json!({"a": 2, "b": 1})), "another key order is the same entity");
        assert!(!doc.is(&json!({"a": 2, "b": 3})));
    }

    #[test]
    fn written_verbatim_and_read_compact() {
        let doc: Doc = serde_json::from_str("{\n  \"a\": [1,\n 2],\n \"b\": \"x y\"\n}").unwrap();
        assert_eq!(doc.text(), r#"{"a":[1,2],"b":"x y"}"#);
        let file = serde_json::to_string_pretty(&json!({"rows": [1]})).unwrap();
        assert!(file.contains('\n'));
        let nested = serde_json::to_string_pretty(&std::collections::BTreeMap::from([("x", doc.clone())])).unwrap();
        assert_eq!(nested, "{\n  \"x\": {\"a\":[1,2],\"b\":\"x y\"}\n}");
        assert_eq!(serde_json::from_str::<Doc>(&serde_json::to_string(&doc).unwrap()).unwrap(), doc);
    }
}
