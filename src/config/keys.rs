//! Keys a profile file holds that mockgate does not read. They are found while the
//! file is deserialised (`serde_ignored` reports every key a struct skipped, with its
//! path), and each comes with the keys that are read at that place, so that a slip
//! can be named: `endpoints[4].persistence.uniqe_fields: unknown key, did you mean
//! "unique_fields"?`. Values kept as raw JSON (templates, conditions, schemas) are not
//! walked here; their parsers check them.

use super::def::*;
use serde::de::{self, DeserializeOwned, Visitor};
use std::fmt;

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A key the deserialiser skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey {
    /// The path of the object holding the key.
    pub parent: Vec<Segment>,
    pub key: String,
}

impl UnknownKey {
    /// `endpoints[4].persistence.uniqe_fields`.
    pub fn json_path(&self) -> String {
        let mut out = path_text(&self.parent);
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(&self.key);
        out
    }
}

fn path_text(segments: &[Segment]) -> String {
    let mut out = String::new();
    for s in segments {
        match s {
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Why a file could not be read as `T`: the message and the JSON path where it went wrong.
#[derive(Debug)]
pub struct ReadError {
    pub message: String,
    /// Empty for the whole file.
    pub json_path: String,
}

/// Reads `text` as `T`, with every key it skipped.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<(T, Vec<UnknownKey>), ReadError> {
    let mut unknown = Vec::new();
    let de = &mut serde_json::Deserializer::from_str(text);
    let value = {
        let mut skipped = |path: serde_ignored::Path<'_>| {
            let mut segments = segments(&path);
            if let Some(Segment::Key(key)) = segments.pop() {
                unknown.push(UnknownKey { parent: segments, key });
            }
        };
        let ignored = serde_ignored::Deserializer::new(&mut *de, &mut skipped);
        serde_path_to_error::deserialize::<_, T>(ignored).map_err(|e| {
            let path = e.path().to_string();
            ReadError { json_path: if path == "." { String::new() } else { path }, message: e.into_inner().to_string() }
        })?
    };
    de.end().map_err(|e| ReadError { message: e.to_string(), json_path: String::new() })?;
    Ok((value, unknown))
}

fn segments(path: &serde_ignored::Path<'_>) -> Vec<Segment> {
    use serde_ignored::Path;
    match path {
        Path::Root => Vec::new(),
        Path::Seq { parent, index } => {
            let mut v = segments(parent);
            v.push(Segment::Index(*index));
            v
        }
        Path::Map { parent, key } => {
            let mut v = segments(parent);
            v.push(Segment::Key(key.to_string()));
            v
        }
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => segments(parent),
    }
}

/// The keys `file` reads in the object at `parent`; empty when the place is not one
/// of the profile's structures.
pub fn expected_keys(file: &str, parent: &[Segment]) -> &'static [&'static str] {
    // Shapes: `*` stands for any one step (an index, or a name the user chose).
    let shape: Vec<&str> = parent
        .iter()
        .map(|s| match s {
            Segment::Key(k) => k.as_str(),
            Segment::Index(_) => "*",
        })
        .collect();
    let is = |pattern: &[&str]| shape.len() == pattern.len() && fits(&shape, pattern);
    let ends = |pattern: &[&str]| shape.len() >= pattern.len() && fits(&shape[shape.len() - pattern.len()..], pattern);
    match file {
        "api.json" => {
            if is(&[]) {
                fields_of::<ApiDef>()
            } else if is(&["system"]) {
                fields_of::<SystemDef>()
            } else if is(&["data_seeding"]) || is(&["system", "data_seeding"]) {
                fields_of::<SeedingDef>()
            } else if is(&["server"]) {
                fields_of::<ServerDef>()
            } else if is(&["logging"]) {
                fields_of::<LoggingDef>()
            } else if is(&["swagger_ui"]) || is(&["swagger"]) {
                fields_of::<SwaggerUiDef>()
            } else {
                &[]
            }
        }
        "auth.json" => {
            if is(&[]) {
                fields_of::<AuthFileDef>()
            } else if is(&["authentication_methods", "*"]) {
                fields_of::<AuthMethodDef>()
            } else if ends(&["valid_credentials", "*"]) {
                fields_of::<CredentialDef>()
            } else if ends(&["valid_tokens", "*"]) {
                fields_of::<TokenDef>()
            } else {
                &[]
            }
        }
        "endpoints.json" => {
            if is(&[]) {
                fields_of::<EndpointsFileDef>()
            } else if is(&["endpoints", "*"]) {
                fields_of::<EndpointDef>()
            } else if ends(&["responses", "*", "response"]) {
                fields_of::<ResponseDef>()
            } else if ends(&["responses", "*"]) {
                fields_of::<ResponseRuleDef>()
            } else if ends(&["not_found_response"]) {
                fields_of::<ResponseDef>()
            } else if ends(&["persistence"]) || ends(&["operations", "*"]) || ends(&["entities", "*"]) {
                fields_of::<PersistenceDef>()
            } else if ends(&["validation"]) {
                fields_of::<ValidationDef>()
            } else if ends(&["field_constraints", "*"]) {
                fields_of::<ConstraintDef>()
            } else if ends(&["relationships", "*"]) {
                fields_of::<RelationshipDef>()
            } else if ends(&["required_entities", "*"]) {
                fields_of::<RequiredEntityDef>()
            } else if ends(&["cascade_delete", "*"]) {
                fields_of::<CascadeDef>()
            } else if ends(&["optimistic_lock"]) {
                fields_of::<OptimisticLockDef>()
            } else if ends(&["pagination"]) {
                fields_of::<PaginationDef>()
            } else if ends(&["error_handling"]) {
                fields_of::<ErrorHandlingDef>()
            } else if ends(&["cache"]) {
                fields_of::<CacheDef>()
            } else if ends(&["query_parameters", "*"]) {
                fields_of::<QueryParameterDef>()
            } else {
                &[]
            }
        }
        _ => &[],
    }
}

fn fits(shape: &[&str], pattern: &[&str]) -> bool {
    shape.iter().zip(pattern).all(|(s, p)| *p == "*" || s == p)
}

/// The closest key of `expected` to `key`: the same but for case or separators, or
/// a slip of one letter (two in longer names).
pub fn closest<'k>(key: &str, expected: &[&'k str]) -> Option<&'k str> {
    let norm = key.to_ascii_lowercase().replace(['-', ' '], "_");
    expected
        .iter()
        .map(|k| (strsim::damerau_levenshtein(&norm, k), *k))
        .filter(|(d, k)| *d <= if k.len() > 6 { 2 } else { 1 })
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// The field names a struct's `Deserialize` asks for, learnt by asking it to read a
/// probe that records them and stops.
fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

struct Probe<'f>(&'f mut &'static [&'static str]);

#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("probe")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Stop
    }
}

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        *self.0 = fields;
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_keys_come_with_their_path() {
        let text = r#"{"endpoints": [{"method": "GET", "path": "/a"},
            {"method": "POST", "path": "/b", "persistence": {"entity_name": "b", "action": "create", "uniqe_fields": ["x"]}}]}"#;
        let (_, unknown): (EndpointsFileDef, _) = from_str(text).unwrap();
        assert_eq!(unknown.len(), 1, "{unknown:?}");
        assert_eq!(unknown[0].json_path(), "endpoints[1].persistence.uniqe_fields");
        let expected = expected_keys("endpoints.json", &unknown[0].parent);
        assert!(expected.contains(&"unique_fields"), "{expected:?}");
        assert_eq!(closest("uniqe_fields", expected), Some("unique_fields"));
        assert_eq!(closest("colour", expected), None);
    }

    #[test]
    fn nested_places_know_their_keys() {
        let text = r#"{"authentication_methods": {"team": {"type": "api_key", "valid_key": ["k"]}}, "extra": 1}"#;
        let (_, unknown): (AuthFileDef, _) = from_str(text).unwrap();
        let paths: Vec<String> = unknown.iter().map(UnknownKey::json_path).collect();
        assert_eq!(paths, ["authentication_methods.team.valid_key", "extra"]);
        assert_eq!(closest("valid_key", expected_keys("auth.json", &unknown[0].parent)), Some("valid_keys"));
        assert!(expected_keys("auth.json", &[]).contains(&"authentication_methods"));
    }

    #[test]
    fn type_errors_and_trailing_text_keep_their_place() {
        let e = from_str::<EndpointsFileDef>(r#"{"endpoints": [{"method": 3, "path": "/a"}]}"#).unwrap_err();
        assert_eq!(e.json_path, "endpoints[0].method");
        let e = from_str::<EndpointsFileDef>(r#"{"endpoints": []} x"#).unwrap_err();
        assert!(e.message.contains("trailing"), "{}", e.message);
    }
}
