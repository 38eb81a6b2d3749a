//! Indexes of the in-memory engine (and so of the file store): a list that filters
//! `?role=admin` on a large entity type looks up the ids whose `role` reads as
//! `admin` instead of reading every entity, and a list sorted by `age` walks the
//! entities in `age` order and stops at the end of its page.
//!
//! An index is built the first time a type is filtered or sorted by a field (one
//! pass, under the engine's lock), or at start and after each replacement of the data
//! for the fields a profile declares (`"indexes"` on a persistence block), and from
//! then on kept exact by every put and delete; anything that replaces the data
//! wholesale (a reset, a load, a purge) drops the indexes, and they are built again
//! when next asked for. A lookup gives candidates only: the list still checks each
//! one against the whole query (every filter, the search, the TTL), so an index can
//! make a list faster, never different.
//!
//! Equality keys follow [`crate::json::equals_text`], the comparison a filter makes:
//! a string is its text, a number its value (`25` and `25.0` are one key), booleans
//! and `null` their words, an array each of its items; objects never match. Sort keys
//! are [`SortKey`]s, ordered as a sort compares values; ties are broken by each
//! row's creation sequence, so equal keys keep creation order as a scan's sort does.
//!
//! hashbrown's default hasher (foldhash), not SipHash: the keys are the mock's own
//! data, and building an index of a million ids is the stall this shortens.

use super::SortKey;
use super::doc::Doc;
use hashbrown::HashMap;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;

/// Types smaller than this are scanned unless a field is declared: building and
/// keeping an index costs more.
pub const MIN_ROWS: usize = 512;
/// Fields indexed per entity type at most, of each kind, besides declared ones;
/// filters and sorts on others scan.
pub const MAX_PER_TYPE: usize = 8;

/// Key text → the entities holding it, by creation sequence (so in creation order:
/// a filtered page reads its page and no more) → id.
pub type FieldIndex = HashMap<String, Holders>;

/// The entities holding one key: creation sequence → id.
pub type Holders = BTreeMap<u64, Box<str>>;

/// (sort key, creation sequence, id), in the order a sort gives.
pub type SortEntry = (SortKey, u64, Box<str>);
pub type SortIndex = BTreeSet<SortEntry>;

/// Entity type → the fields its profile declares indexed.
pub type DeclaredIndexes = std::collections::BTreeMap<String, std::collections::BTreeSet<String>>;

#[derive(Debug, Default)]
pub struct Indexes {
    by: HashMap<String, HashMap<String, FieldIndex>>,
    sorted: HashMap<String, HashMap<String, SortIndex>>,
    declared: Arc<DeclaredIndexes>,
}

/// A copy of the data (a snapshot) does not carry the indexes; they are built again
/// where they are used. What is declared stays.
impl Clone for Indexes {
    fn clone(&self) -> Self {
        Indexes { declared: Arc::clone(&self.declared), ..Indexes::default() }
    }
}

impl Indexes {
    pub fn clear(&mut self) {
        self.by.clear();
        self.sorted.clear();
    }

    pub fn declare(&mut self, declared: Arc<DeclaredIndexes>) {
        self.declared = declared;
    }

    pub fn declared(&self) -> Arc<DeclaredIndexes> {
        Arc::clone(&self.declared)
    }

    pub fn is_declared(&self, entity: &str, field: &str) -> bool {
        self.declared.get(entity).is_some_and(|f| f.contains(field))
    }

    pub fn get(&self, entity: &str, field: &str) -> Option<&FieldIndex> {
        self.by.get(entity)?.get(field)
    }

    pub fn sorted(&self, entity: &str, field: &str) -> Option<&SortIndex> {
        self.sorted.get(entity)?.get(field)
    }

    /// Whether a list of `rows` entities filtering `field` should use (and so build)
    /// its equality index.
    pub fn wants(&self, entity: &str, field: &str, rows: usize) -> bool {
        self.is_declared(entity, field)
            || (rows >= MIN_ROWS && self.by.get(entity).is_none_or(|f| f.len() < MAX_PER_TYPE))
    }

    /// Whether a list of `rows` entities sorted by `field` should use (and so build)
    /// its sort index.
    pub fn wants_sorted(&self, entity: &str, field: &str, rows: usize) -> bool {
        self.is_declared(entity, field)
            || (rows >= MIN_ROWS && self.sorted.get(entity).is_none_or(|f| f.len() < MAX_PER_TYPE))
    }

    /// Builds the equality index of `field` over `rows` (id, creation sequence, value).
    pub fn build<'a>(&mut self, entity: &str, field: &str, rows: impl Iterator<Item = (&'a String, u64, &'a Doc)>) {
        let mut index = FieldIndex::new();
        // One key buffer for every row: a key is allocated once, where it is new.
        let mut buf = String::new();
        for (id, seq, doc) in rows {
            let Some(v) = doc.field(field) else { continue };
            each_key(&v, &mut buf, &mut |key| match index.get_mut(key) {
                Some(ids) => {
                    ids.insert(seq, id.as_str().into());
                }
                None => {
                    index.insert(key.to_owned(), BTreeMap::from([(seq, id.as_str().into())]));
                }
            });
        }
        self.by.entry(entity.to_owned()).or_default().insert(field.to_owned(), index);
    }

    /// Builds the sort index of `field` over `rows` (id, creation sequence, value):
    /// the entries are made, sorted once and put into the tree in bulk.
    pub fn build_sorted<'a>(
        &mut self,
        entity: &str,
        field: &str,
        rows: impl Iterator<Item = (&'a String, u64, &'a Doc)>,
    ) {
        let entries: Vec<SortEntry> =
            rows.map(|(id, seq, doc)| (SortKey::of(doc.field(field).as_ref()), seq, id.as_str().into())).collect();
        self.sorted.entry(entity.to_owned()).or_default().insert(field.to_owned(), entries.into_iter().collect());
    }

    /// Keeps the type's indexes exact as `id` (created `seq`th) goes from `old` to `new`.
    pub fn update(&mut self, entity: &str, id: &str, seq: u64, old: Option<&Doc>, new: Option<&Value>) {
        // Each field of the old text is read once, though both kinds may index it.
        let mut read: Vec<(String, Option<Value>)> = Vec::new();
        let mut old_field = |field: &str| -> Option<Value> {
            let doc = old?;
            if let Some((_, v)) = read.iter().find(|(f, _)| *f == field) {
                return v.clone();
            }
            let v = doc.field(field);
            read.push((field.to_owned(), v.clone()));
            v
        };
        if let Some(fields) = self.by.get_mut(entity) {
            for (field, index) in fields.iter_mut() {
                let old = keys(old_field(field).as_ref());
                let new = keys(new.and_then(|v| crate::json::field_at(v, field)));
                if old == new {
                    continue;
                }
                for key in old {
                    if let Some(ids) = index.get_mut(&key) {
                        ids.remove(&seq);
                        if ids.is_empty() {
                            index.remove(&key);
                        }
                    }
                }
                for key in new {
                    index.entry(key).or_default().insert(seq, id.into());
                }
            }
        }
        if let Some(fields) = self.sorted.get_mut(entity) {
            for (field, index) in fields.iter_mut() {
                let old = old.map(|_| SortKey::of(old_field(field).as_ref()));
                let new = new.map(|v| SortKey::of(crate::json::field_at(v, field)));
                if old == new {
                    continue;
                }
                let id: Box<str> = id.into();
                if let Some(old) = old {
                    index.remove(&(old, seq, id.clone()));
                }
                if let Some(new) = new {
                    index.insert((new, seq, id));
                }
            }
        }
    }
}

/// The entries of a sort index in the order of a sort by its field, descending or
/// not; equal keys keep creation order either way (the order [`super::ListQuery`]
/// gives). Descending walks the keys from the greatest, each key's run forwards:
/// one tree lookup per distinct key, nothing buffered.
pub fn walk(index: &SortIndex, descending: bool) -> Box<dyn Iterator<Item = &SortEntry> + '_> {
    if !descending {
        return Box::new(index.iter());
    }
    let first = |key: &SortKey| (key.clone(), 0, Box::<str>::from(""));
    let mut run: Option<(&SortKey, std::collections::btree_set::Range<'_, SortEntry>)> = None;
    let mut below = index.last().map(|e| &e.0);
    Box::new(std::iter::from_fn(move || {
        loop {
            if let Some((key, entries)) = &mut run {
                match entries.next() {
                    Some(e) if e.0 == **key => return Some(e),
                    _ => {
                        // The next key down: the greatest entry before this key's first.
                        below = index.range((Bound::Unbounded, Bound::Excluded(first(key)))).next_back().map(|e| &e.0);
                        run = None;
                    }
                }
            }
            let key = below.take()?;
            run = Some((key, index.range((Bound::Included(first(key)), Bound::Unbounded))));
        }
    }))
}

/// The start of a Redis sort index member for `key` (the creation sequence and the id
/// follow it): byte strings ordered as the keys are, ending in a NUL that no key's
/// part holds, so a key's entries share exactly this prefix and a shorter key sorts
/// first. A kind letter, then: a string's bytes (NUL written 0x01 0x01, 0x01 written
/// 0x01 0x02, an order-keeping escape); a number as `0` (too large for an `f64`) or
/// `1` and the sixteen hex digits of its bits flipped to order as unsigned; an array
/// or object its escaped JSON text; a boolean `0` or `1`; nothing for missing.
pub fn sort_member_prefix(key: &SortKey) -> String {
    use super::query::Num;
    let escaped = |out: &mut String, text: &str| {
        for c in text.chars() {
            match c {
                '\0' => out.push_str("\u{1}\u{1}"),
                '\u{1}' => out.push_str("\u{1}\u{2}"),
                c => out.push(c),
            }
        }
    };
    let mut out = String::new();
    match key {
        SortKey::Str(s) => {
            out.push('a');
            escaped(&mut out, s);
        }
        SortKey::Num(Num(None)) => out.push_str("b0"),
        SortKey::Num(Num(Some(x))) => {
            let x = if *x == 0.0 { 0.0 } else { *x };
            let bits = x.to_bits();
            let ordered = if bits >> 63 == 1 { !bits } else { bits | 1 << 63 };
            out.push_str(&format!("b1{ordered:016X}"));
        }
        SortKey::Arr(text) => {
            out.push('c');
            escaped(&mut out, text);
        }
        SortKey::Bool(b) => out.push_str(if *b { "d1" } else { "d0" }),
        SortKey::Obj(text) => {
            out.push('e');
            escaped(&mut out, text);
        }
        SortKey::Last => out.push('f'),
    }
    out.push('\0');
    out
}

/// The keys a field's value is found under.
pub fn keys(v: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(v) = v {
        push_keys(v, &mut out);
    }
    out
}

fn push_keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(format!("s{s}")),
        Value::Number(n) => out.extend(n.as_f64().map(number_key)),
        Value::Bool(b) => out.push(format!("b{b}")),
        Value::Null => out.push("z".into()),
        Value::Array(items) => items.iter().for_each(|i| push_keys(i, out)),
        Value::Object(_) => {}
    }
}

/// Calls `f` with each key of `v`, written into `buf`.
fn each_key(v: &Value, buf: &mut String, f: &mut dyn FnMut(&str)) {
    use std::fmt::Write as _;
    buf.clear();
    match v {
        Value::String(s) => {
            buf.push('s');
            buf.push_str(s);
        }
        Value::Number(n) => match n.as_f64() {
            Some(x) => {
                let _ = write!(buf, "n{}", if x == 0.0 { 0.0 } else { x });
            }
            None => return,
        },
        Value::Bool(b) => {
            let _ = write!(buf, "b{b}");
        }
        Value::Null => buf.push('z'),
        Value::Array(items) => {
            for i in items {
                each_key(i, buf, f);
            }
            return;
        }
        Value::Object(_) => return,
    }
    f(buf);
}

fn number_key(f: f64) -> String {
    // -0 and 0 are equal numbers.
    format!("n{}", if f == 0.0 { 0.0 } else { f })
}

/// The keys under which a filter's text `want` is found.
pub fn wanted(want: &str) -> Vec<String> {
    let mut out = vec![format!("s{want}")];
    if let Ok(f) = want.parse::<f64>() {
        out.push(number_key(f));
    }
    if want == "true" || want == "false" {
        out.push(format!("b{want}"));
    }
    if want == "null" {
        out.push("z".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::equals_text;
    use serde_json::json;

    #[test]
    fn building_and_updating_give_the_same_keys() {
        for v in
            [json!("a"), json!(2.5), json!(-0.0), json!(false), json!(null), json!([1, ["x", true]]), json!({"a": 1})]
        {
            let mut got = Vec::new();
            each_key(&v, &mut String::new(), &mut |k| got.push(k.to_owned()));
            assert_eq!(got, keys(Some(&v)), "{v}");
        }
    }

    #[test]
    fn sort_member_prefixes_order_as_the_keys() {
        let values = [
            json!(null),
            json!("b"),
            json!("a"),
            json!("ab"),
            json!("a\u{0}"),
            json!("a\u{1}"),
            json!("a\u{2}"),
            json!(""),
            json!("é"),
            json!(3),
            json!(-1.5),
            json!(-2),
            json!(0),
            json!(-0.0),
            json!(1e300),
            json!(-1e300),
            serde_json::from_str::<Value>("1e400").unwrap(),
            json!([1, 2]),
            json!([]),
            json!(["a\u{0}"]),
            json!(true),
            json!(false),
            json!({"a": 1}),
            json!({}),
        ];
        let mut all: Vec<Option<&Value>> = values.iter().map(Some).collect();
        all.push(None);
        for a in &all {
            for b in &all {
                let (ka, kb) = (SortKey::of(*a), SortKey::of(*b));
                let (pa, pb) = (sort_member_prefix(&ka), sort_member_prefix(&kb));
                // Whole members: the prefix, a creation sequence, an id.
                let (ma, mb) = (format!("{pa}0000000000000002x"), format!("{pb}0000000000000001y"));
                assert_eq!(pa.cmp(&pb), ka.cmp(&kb), "{a:?} vs {b:?}");
                if ka != kb {
                    assert_eq!(ma.cmp(&mb), ka.cmp(&kb), "{a:?} vs {b:?}: members");
                }
                assert_eq!(pa.matches('\0').count(), 1, "{pa:?}");
            }
        }
    }

    #[test]
    fn keys_agree_with_the_filter_comparison() {
        let values = [
            json!("25"),
            json!(25),
            json!(25.0),
            json!(-0.0),
            json!(0),
            json!(true),
            json!(null),
            json!(["a", 25]),
            json!({"a": 1}),
            json!("true"),
            json!([["x"]]),
        ];
        let wants = ["25", "25.0", "0", "-0", "true", "null", "a", "x", "1", "25e0"];
        for v in &values {
            for w in wants {
                let by_index = keys(Some(v)).iter().any(|k| wanted(w).contains(k));
                assert_eq!(by_index, equals_text(v, w), "{v} vs {w:?}");
            }
        }
    }
}
