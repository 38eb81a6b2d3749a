//! Rules that belong to an entity type rather than to one endpoint: field constraints,
//! unique fields, the optimistic-lock version field, and relationships. They are
//! gathered from every `persistence` block of the profile at load and enforced on
//! every write of that type, whichever endpoint makes it.
//!
//! Integrity is expressed as conditions of the same store transaction as the write
//! itself ([`Plan`]), so it holds under concurrency and across gateway instances:
//! - a unique value is a *claim*, an entity `__unique.<type>.<field>` whose id is the
//!   value, written with `Cond::Absent` next to the entity;
//! - a reference is a `Write::Check` that the referenced entity is present.

use crate::config::{CompileCx, EndpointsFileDef, PersistenceDef, RelationshipDef, ValidationDef};
use crate::store::{Cond, Store, StoreError, Transaction, Ttl, Write, id_key};
use regex::Regex;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::collections::HashSet;

/// One failed check of a request body or an entity, with the JSON pointer of the
/// offending value.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Violation {
    pub path: String,
    pub message: String,
}

/// What to do with referencing entities when the referenced one is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    Restrict,
    Cascade,
    Nullify,
    /// Mock-and-Roll's default: deleting the referenced entity leaves the others as
    /// they are (only its `cascade_delete` entries remove any).
    Ignore,
}

#[derive(Debug, Clone)]
pub struct Reference {
    /// The field of the referencing entity that holds the id.
    pub field: String,
    /// The referenced entity type.
    pub target: String,
    pub required: bool,
    pub on_delete: OnDelete,
    /// Whether a write must find the referenced entity (false for a reference known
    /// only from a `cascade_delete`).
    pub checked: bool,
    /// Mock-and-Roll's `required_entities[].error_message`: a missing referenced
    /// entity answers 404 with it instead of a 400 violation.
    pub missing: Option<String>,
}

/// One field's constraints.
#[derive(Debug, Clone, Default)]
pub struct Constraint {
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub pattern: Option<Regex>,
    pub allowed: Option<Vec<Value>>,
    pub email: bool,
}

#[derive(Debug, Clone, Default)]
pub struct EntityRules {
    pub unique: Vec<String>,
    pub constraints: Vec<(String, Constraint)>,
    /// Set when any endpoint locks this type optimistically.
    pub version_field: Option<String>,
    pub references: Vec<Reference>,
    /// `(referencing type, reference)` pairs pointing at this type.
    pub referenced_by: Vec<(String, Reference)>,
    /// `persistent: false`: kept in memory only by the embedded store.
    pub transient: bool,
    /// Ids seeded from a Mock-and-Roll list endpoint's static items: read-only.
    pub protected: HashSet<String>,
    /// `key_pattern`, e.g. `myapi:users:{user_id}`: the Redis key of each entity.
    pub key_pattern: Option<String>,
    /// Fields declared indexed (`"indexes"` on any of the type's endpoints).
    pub indexes: std::collections::BTreeSet<String>,
}

/// Every entity type's rules.
#[derive(Debug, Default)]
pub struct Rules {
    entities: HashMap<String, EntityRules>,
}

static NONE: std::sync::LazyLock<EntityRules> = std::sync::LazyLock::new(EntityRules::default);

impl Rules {
    /// Entity types kept in memory only, with their unique-claim tables.
    pub fn transient(&self) -> std::collections::HashSet<String> {
        let mut out = std::collections::HashSet::new();
        for (name, r) in self.entities.iter().filter(|(_, r)| r.transient) {
            out.insert(name.clone());
            out.insert(guard_entity(name));
            out.extend(r.unique.iter().map(|f| claim_entity(name, f)));
        }
        out
    }

    /// The indexed fields of every type that declares some.
    pub fn indexes(&self) -> crate::store::DeclaredIndexes {
        self.entities
            .iter()
            .filter(|(_, r)| !r.indexes.is_empty())
            .map(|(name, r)| (name.clone(), r.indexes.clone()))
            .collect()
    }

    /// `(entity type, key_pattern)` for every type that has one.
    pub fn key_patterns(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> =
            self.entities.iter().filter_map(|(name, r)| r.key_pattern.clone().map(|p| (name.clone(), p))).collect();
        out.sort();
        out
    }

    pub fn of(&self, entity: &str) -> &EntityRules {
        self.entities.get(entity).unwrap_or(&NONE)
    }

    pub fn entry(&mut self, entity: &str) -> &mut EntityRules {
        self.entities.entry(entity.to_owned()).or_default()
    }

    /// Links every reference to its target's `referenced_by`.
    fn link(&mut self) {
        let mut incoming: Vec<(String, String, Reference)> = Vec::new();
        for (name, rules) in &self.entities {
            for r in &rules.references {
                incoming.push((r.target.clone(), name.clone(), r.clone()));
            }
        }
        for (target, source, r) in incoming {
            self.entry(&target).referenced_by.push((source, r));
        }
    }

    /// Seed data as the actions would have stored it: locked types get version 1 where
    /// they have none, and unique values get their claims.
    pub fn prepare_seed(&self, mut data: crate::store::Dataset) -> crate::store::Dataset {
        for (entity, rows) in data.iter_mut() {
            if let Some(vf) = &self.of(entity).version_field {
                for row in rows.values_mut() {
                    if row.get(vf).is_none() {
                        set_field(row, vf, Value::from(1));
                    }
                }
            }
        }
        let claims = self.seed_claims(&data);
        data.extend(claims);
        data
    }

    fn seed_claims(&self, data: &crate::store::Dataset) -> crate::store::Dataset {
        let mut out = crate::store::Dataset::new();
        for (entity, rows) in data {
            for field in &self.of(entity).unique {
                for (id, row) in rows {
                    if let Some(key) = row.get(field).and_then(claim_key) {
                        out.entry(claim_entity(entity, field)).or_default().insert(key, json!({"id": id}));
                    }
                }
            }
        }
        out
    }
}

impl Rules {
    /// Gathers the entity-type rules of every `persistence` block of the profile: the
    /// endpoints', their responses', and the operations of atomic blocks. Problems are
    /// reported at the block's JSON path. References are then linked to their targets.
    pub fn gather(endpoints: &EndpointsFileDef, cx: &mut CompileCx<'_>) -> Rules {
        let mut rules = Rules::default();
        for (i, ep) in endpoints.endpoints.iter().enumerate() {
            if let Some(p) = &ep.persistence {
                rules.block(p, &format!("endpoints[{i}].persistence"), cx);
            }
            for (j, r) in ep.responses.iter().enumerate() {
                if let Some(p) = &r.persistence {
                    rules.block(p, &format!("endpoints[{i}].responses[{j}].persistence"), cx);
                }
            }
        }
        rules.link();
        rules
    }

    /// One block, or each operation of an atomic one (nested blocks are refused by
    /// the action's own parse).
    fn block(&mut self, def: &PersistenceDef, at: &str, cx: &mut CompileCx<'_>) {
        if def.atomic == Some(true) || def.transaction == Some(true) || def.batch_operation == Some(true) {
            let (list, name) =
                if def.operations.is_empty() { (&def.entities, "entities") } else { (&def.operations, "operations") };
            for (k, op) in list.iter().enumerate() {
                if op.atomic.is_none() && op.transaction.is_none() && op.operations.is_empty() {
                    self.block(op, &format!("{at}.{name}[{k}]"), cx);
                }
            }
            return;
        }
        if let (Some(entity), Some(_)) = (def.entity_name.as_deref(), def.action.as_deref())
            && crate::store::valid_entity_name(entity)
        {
            self.register(def, entity, at, cx);
        }
    }

    /// Records what one `persistence` block says about its entity type as a whole.
    fn register(&mut self, def: &PersistenceDef, entity: &str, at: &str, cx: &mut CompileCx<'_>) {
        if def.persistent == Some(false) {
            self.entry(entity).transient = true;
        }
        if let Some(v) = &def.validation {
            let constraints = constraints(v, at, cx);
            let r = self.entry(entity);
            for u in &v.unique_fields {
                if !r.unique.contains(u) {
                    r.unique.push(u.clone());
                }
            }
            for (field, c) in constraints {
                r.constraints.retain(|(f, _)| f != &field);
                r.constraints.push((field, c));
            }
        }
        if let Some(pattern) = &def.key_pattern {
            let opens = pattern.matches('{').count();
            let well_formed = opens == 1
                && pattern.matches('}').count() == 1
                && pattern.find('{') < pattern.find('}')
                && !pattern.contains("{}")
                && !pattern.contains(char::is_whitespace);
            match self.entry(entity).key_pattern.clone() {
                _ if !well_formed => cx.problem(
                    format!("{at}.key_pattern"),
                    format!("found {pattern:?}"),
                    "a key with one {field} placeholder for the id, such as \"myapi:users:{user_id}\"",
                ),
                Some(p) if p != *pattern => cx.problem(
                    format!("{at}.key_pattern"),
                    format!("{entity} already has key_pattern {p:?}, here {pattern:?}"),
                    "one key_pattern per entity type",
                ),
                _ => self.entry(entity).key_pattern = Some(pattern.clone()),
            }
        }
        for (k, field) in def.indexes.iter().enumerate() {
            if field.is_empty() || field.split('.').any(str::is_empty) {
                let found = format!("found {field:?}");
                cx.problem(format!("{at}.indexes[{k}]"), found, "a field name (dotted names reach nested fields)");
                continue;
            }
            self.entry(entity).indexes.insert(field.clone());
        }
        // The parameters a list filters by are the fields it looks up: indexed as if
        // declared (Mock-and-Roll profiles and imported OpenAPI documents name them).
        if def.action.as_deref() == Some("list")
            && let Some(params) = &def.filter_by_query_params
        {
            let fields = params.iter().filter(|f| !f.is_empty() && !f.split('.').any(str::is_empty));
            self.entry(entity).indexes.extend(fields.cloned());
        }
        for u in &def.unique_fields {
            let r = self.entry(entity);
            if !r.unique.contains(u) {
                r.unique.push(u.clone());
            }
        }
        for (field, rel) in &def.relationships {
            if let Some(reference) = Reference::parse(field, rel, &format!("{at}.relationships.{field}"), cx) {
                let r = self.entry(entity);
                r.references.retain(|x| x.field != *field);
                r.references.push(reference);
            }
        }
        for (k, req) in def.required_entities.iter().enumerate() {
            if !crate::store::valid_entity_name(&req.entity_name) {
                let found = format!("bad entity name {:?}", req.entity_name);
                cx.problem(format!("{at}.required_entities[{k}].entity_name"), found, "an entity type name");
                continue;
            }
            let message = req.error_message.clone().unwrap_or_else(|| default_not_found(&req.entity_name));
            let r = self.entry(entity);
            match r.references.iter_mut().find(|x| x.field == req.field && x.target == req.entity_name) {
                Some(x) => {
                    x.checked = true;
                    x.missing = Some(message);
                }
                None => r.references.push(Reference {
                    field: req.field.clone(),
                    target: req.entity_name.clone(),
                    required: false,
                    on_delete: OnDelete::Ignore,
                    checked: true,
                    missing: Some(message),
                }),
            }
        }
        for (k, c) in def.cascade_delete.iter().enumerate() {
            if !crate::store::valid_entity_name(&c.entity_name) {
                let found = format!("bad entity name {:?}", c.entity_name);
                cx.problem(format!("{at}.cascade_delete[{k}].entity_name"), found, "an entity type name");
                continue;
            }
            let r = self.entry(&c.entity_name);
            match r.references.iter_mut().find(|x| x.field == c.foreign_key && x.target == entity) {
                Some(x) => x.on_delete = OnDelete::Cascade,
                None => r.references.push(Reference {
                    field: c.foreign_key.clone(),
                    target: entity.to_owned(),
                    required: false,
                    on_delete: OnDelete::Cascade,
                    checked: false,
                    missing: None,
                }),
            }
        }
        if let Some(lock) = &def.optimistic_lock {
            let field = lock.version_field.clone().unwrap_or_else(|| "version".to_owned());
            match self.entry(entity).version_field.clone() {
                Some(f) if f != field => cx.problem(
                    format!("{at}.optimistic_lock.version_field"),
                    format!("{entity} is already locked on {f:?}, here on {field:?}"),
                    "one version field per entity type",
                ),
                _ => self.entry(entity).version_field = Some(field),
            }
        }
    }
}

/// `validation.field_constraints`, checked; a constraint with a problem is left out.
fn constraints(v: &ValidationDef, at: &str, cx: &mut CompileCx<'_>) -> Vec<(String, Constraint)> {
    let mut out = Vec::new();
    for (field, c) in &v.field_constraints {
        let here = format!("{at}.validation.field_constraints.{field}");
        let pattern = match c.pattern.as_deref().map(Regex::new) {
            None => None,
            Some(Ok(r)) => Some(r),
            Some(Err(e)) => {
                cx.problem(format!("{here}.pattern"), format!("invalid regular expression: {e}"), "");
                continue;
            }
        };
        let email = match c.format.as_deref() {
            None => false,
            Some("email") => true,
            Some(other) => {
                cx.problem(format!("{here}.format"), format!("unknown format {other:?}"), "\"email\"");
                continue;
            }
        };
        let constraint = Constraint {
            min_length: c.min_length,
            max_length: c.max_length,
            min: c.min,
            max: c.max,
            pattern,
            allowed: c.allowed.clone(),
            email,
        };
        out.push((field.clone(), constraint));
    }
    out
}

impl Reference {
    /// One entry of `relationships`, found at `at`.
    fn parse(field: &str, rel: &RelationshipDef, at: &str, cx: &mut CompileCx<'_>) -> Option<Reference> {
        let on_delete = match rel.on_delete.as_deref() {
            None | Some("restrict") => OnDelete::Restrict,
            Some("cascade") => OnDelete::Cascade,
            Some("nullify" | "set_null") => OnDelete::Nullify,
            Some(other) => {
                cx.problem(
                    format!("{at}.on_delete"),
                    format!("unknown rule {other:?}"),
                    "\"restrict\", \"cascade\" or \"nullify\"",
                );
                return None;
            }
        };
        if !crate::store::valid_entity_name(&rel.entity) {
            cx.problem(format!("{at}.entity"), format!("bad entity name {:?}", rel.entity), "an entity type name");
            return None;
        }
        let required = rel.required.unwrap_or(false);
        Some(Reference {
            field: field.to_owned(),
            target: rel.entity.clone(),
            required,
            on_delete,
            checked: true,
            missing: None,
        })
    }
}

/// Mock-and-Roll's message for a missing required entity: `customers` → `Customer not found.`
fn default_not_found(entity: &str) -> String {
    let one = entity.strip_suffix('s').unwrap_or(entity);
    let mut chars = one.chars();
    let title: String = chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default();
    format!("{title} not found.")
}

/// The bookkeeping table of reference guards for `target`: a row per entity of that
/// type that something has referenced, rewritten (with a fresh mark) by every write
/// that makes a new reference to it. Restrict, cascade and nullify are decided inside
/// the delete's commit by requiring the mark it read to be unchanged.
pub fn guard_entity(target: &str) -> String {
    format!("__guard.{target}")
}

pub fn claim_entity(entity: &str, field: &str) -> String {
    format!("__unique.{entity}.{field}")
}

/// The claim id for a value: strings as they are, other values as JSON.
fn claim_key(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

static EMAIL: std::sync::LazyLock<Regex> =
    std::sync::LazyLock::new(|| Regex::new(r"^[^@\s]+@[^@\s]+\.[^@\s]+$").expect("a valid regex"));

impl Constraint {
    fn check(&self, field: &str, v: &Value, out: &mut Vec<Violation>) {
        let mut fail = |message: String| out.push(Violation { path: format!("/{field}"), message });
        if v.is_null() {
            return;
        }
        if let Some(allowed) = &self.allowed
            && !allowed.contains(v)
        {
            fail(format!("{v} is not one of {}", Value::Array(allowed.clone())));
        }
        if let Some(s) = v.as_str() {
            let n = s.chars().count();
            if let Some(min) = self.min_length.filter(|m| n < *m) {
                fail(format!("must be at least {min} characters long, got {n}"));
            }
            if let Some(max) = self.max_length.filter(|m| n > *m) {
                fail(format!("must be at most {max} characters long, got {n}"));
            }
            if let Some(p) = self.pattern.as_ref().filter(|p| !p.is_match(s)) {
                fail(format!("{s:?} does not match the pattern {}", p.as_str()));
            }
            if self.email && !EMAIL.is_match(s) {
                fail(format!("{s:?} is not an email address"));
            }
        } else if self.email || self.pattern.is_some() || self.min_length.is_some() || self.max_length.is_some() {
            fail(format!("must be a string, got {v}"));
        }
        if self.min.is_some() || self.max.is_some() {
            match v.as_f64() {
                Some(x) => {
                    if let Some(min) = self.min.filter(|m| x < *m) {
                        fail(format!("must be at least {min}, got {x}"));
                    }
                    if let Some(max) = self.max.filter(|m| x > *m) {
                        fail(format!("must be at most {max}, got {x}"));
                    }
                }
                None => fail(format!("must be a number, got {v}")),
            }
        }
    }
}

impl EntityRules {
    /// Constraint violations of a whole entity.
    pub fn violations(&self, entity: &Value) -> Vec<Violation> {
        let mut out = Vec::new();
        for (field, c) in &self.constraints {
            if let Some(v) = entity.get(field) {
                c.check(field, v, &mut out);
            }
        }
        for r in &self.references {
            if r.required && entity.get(&r.field).is_none_or(|v| claim_key(v).is_none()) {
                out.push(Violation {
                    path: format!("/{}", r.field),
                    message: format!("is required: the id of a {} entity", r.target),
                });
            }
        }
        out
    }
}

/// What a write in a [`Plan`] is for, so a failed condition can be explained.
#[derive(Debug, Clone)]
pub enum Role {
    /// The entity the action is about.
    Main,
    Claim {
        entity: String,
        field: String,
        value: String,
    },
    Reference {
        field: String,
        target: String,
        id: String,
        /// The 404 message of a Mock-and-Roll required entity.
        missing: Option<String>,
    },
    /// An entity changed by a cascade or nullify.
    Dependent,
}

/// Why a plan did not commit.
#[derive(Debug)]
pub enum PlanError {
    /// Something it read changed meanwhile: read again and retry.
    Retry,
    /// A main entity (which one: type and id) was missing or already existed.
    Main(crate::store::Found, String, String),
    Unique {
        entity: String,
        field: String,
        value: String,
    },
    Dangling(Violation),
    /// A Mock-and-Roll required entity is missing: 404 with this message.
    Required(String),
    Store(StoreError),
}

/// A transaction under construction, each write with its role.
#[derive(Debug, Default)]
pub struct Plan {
    writes: Vec<Write>,
    roles: Vec<Role>,
}

impl Plan {
    pub fn push(&mut self, w: Write, role: Role) {
        self.writes.push(w);
        self.roles.push(role);
    }

    /// Claims to release and take when an entity goes from `old` to `new`.
    pub fn claims(
        &mut self,
        rules: &EntityRules,
        entity: &str,
        id: &str,
        old: Option<&Value>,
        new: Option<&Value>,
        ttl: Ttl,
    ) {
        for field in &rules.unique {
            let before = old.and_then(|o| o.get(field)).and_then(claim_key);
            let after = new.and_then(|n| n.get(field)).and_then(claim_key);
            let claims = claim_entity(entity, field);
            if before == after {
                continue;
            }
            if let Some(b) = before {
                self.push(Write::Delete { entity: claims.clone(), id: b, cond: Cond::Any }, Role::Dependent);
            }
            if let Some(a) = after {
                let w = Write::Put { entity: claims, id: a.clone(), value: json!({"id": id}), ttl, cond: Cond::Absent };
                self.push(w, Role::Claim { entity: entity.to_owned(), field: field.clone(), value: a });
            }
        }
    }

    /// Checks that every referenced entity exists when the write commits, and marks
    /// the guard of each one it newly references ([`guard_entity`]), so that a delete
    /// of that entity which looked for referencing entities before this write cannot
    /// commit without looking again.
    pub fn references(&mut self, rules: &EntityRules, old: Option<&Value>, new: &Value) {
        for r in &rules.references {
            if let Some(id) = new.get(&r.field).and_then(id_key) {
                let already = old.and_then(|o| o.get(&r.field)).and_then(id_key).is_some_and(|was| was == id);
                if !already {
                    let mark = Value::String(uuid::Uuid::new_v4().simple().to_string());
                    let w = Write::Put {
                        entity: guard_entity(&r.target),
                        id: id.clone(),
                        value: mark,
                        ttl: Ttl::Persist,
                        cond: Cond::Any,
                    };
                    self.push(w, Role::Dependent);
                }
                if !r.checked {
                    continue;
                }
                let w = Write::Check { entity: r.target.clone(), id: id.clone(), cond: Cond::Present };
                let role = Role::Reference {
                    field: r.field.clone(),
                    target: r.target.clone(),
                    id,
                    missing: r.missing.clone(),
                };
                self.push(w, role);
            }
        }
    }

    /// Before a delete of `entity/id` looks for entities that reference it: pins the
    /// entity's guard as it is now, so the delete commits only if no write made a new
    /// reference to it meanwhile (otherwise the plan is retried and looks again). The
    /// guard goes with the entity.
    pub async fn pin_guard(&mut self, store: &dyn Store, entity: &str, id: &str) -> Result<(), StoreError> {
        let guard = guard_entity(entity);
        let w = match store.get(&guard, id).await? {
            Some(mark) => Write::Delete { entity: guard, id: id.to_owned(), cond: Cond::Equals(mark) },
            None => Write::Check { entity: guard, id: id.to_owned(), cond: Cond::Absent },
        };
        self.push(w, Role::Dependent);
        Ok(())
    }

    pub async fn commit(self, store: &dyn Store) -> Result<(), PlanError> {
        match store.commit(Transaction { writes: self.writes }).await {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed { index, found, entity: failed_entity, id: failed_id }) => {
                Err(match (&self.roles[index], found) {
                    (_, crate::store::Found::Changed) => PlanError::Retry,
                    (Role::Main, f) => PlanError::Main(f, failed_entity, failed_id),
                    (Role::Claim { entity, field, value }, _) => {
                        PlanError::Unique { entity: entity.clone(), field: field.clone(), value: value.clone() }
                    }
                    (Role::Reference { missing: Some(message), .. }, _) => PlanError::Required(message.clone()),
                    (Role::Reference { field, target, id, missing: None }, _) => PlanError::Dangling(Violation {
                        path: format!("/{field}"),
                        message: format!("{target} {id:?} does not exist"),
                    }),
                    (Role::Dependent, _) => PlanError::Retry,
                })
            }
            Err(e) => Err(PlanError::Store(e)),
        }
    }
}

/// The entity's version, 0 when it has none.
pub fn version_of(entity: &Value, field: &str) -> u64 {
    match entity.get(field) {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

/// Sets `field` on an object value.
pub fn set_field(entity: &mut Value, field: &str, v: Value) {
    if let Value::Object(m) = entity {
        m.insert(field.to_owned(), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Found, MemoryStore};

    fn messages(c: &Constraint, v: Value) -> Vec<String> {
        let mut out = Vec::new();
        c.check("f", &v, &mut out);
        assert!(out.iter().all(|v| v.path == "/f"), "{out:?}");
        out.into_iter().map(|v| v.message).collect()
    }

    #[test]
    fn constraints_check_strings_numbers_and_enums() {
        let text = Constraint { min_length: Some(2), max_length: Some(4), ..Constraint::default() };
        let pattern = Constraint { pattern: Some(Regex::new("^[a-z]+$").unwrap()), ..Constraint::default() };
        let email = Constraint { email: true, ..Constraint::default() };
        let range = Constraint { min: Some(1.0), max: Some(10.0), ..Constraint::default() };
        let allowed = Constraint { allowed: Some(vec![json!("a"), json!(1)]), ..Constraint::default() };
        let cases: Vec<(&Constraint, Value, Vec<&str>)> = vec![
            (&text, json!("abc"), vec![]),
            (&text, json!("é"), vec!["must be at least 2 characters long, got 1"]),
            (&text, json!("abcde"), vec!["must be at most 4 characters long, got 5"]),
            (&text, json!(12), vec!["must be a string, got 12"]),
            (&text, Value::Null, vec![]),
            (&pattern, json!("abc"), vec![]),
            (&pattern, json!("aB"), vec!["\"aB\" does not match the pattern ^[a-z]+$"]),
            (&email, json!("a@b.io"), vec![]),
            (&email, json!("a@b"), vec!["\"a@b\" is not an email address"]),
            (&range, json!(1), vec![]),
            (&range, json!(10.5), vec!["must be at most 10, got 10.5"]),
            (&range, json!(0), vec!["must be at least 1, got 0"]),
            (&range, json!("5"), vec!["must be a number, got \"5\""]),
            (&allowed, json!(1), vec![]),
            (&allowed, json!("b"), vec!["\"b\" is not one of [\"a\",1]"]),
        ];
        for (c, v, want) in cases {
            assert_eq!(messages(c, v.clone()), want, "{v}");
        }
    }

    #[test]
    fn required_references_are_violations_of_the_whole_entity() {
        let rules = EntityRules {
            references: vec![Reference {
                field: "user_id".into(),
                target: "users".into(),
                required: true,
                on_delete: OnDelete::Restrict,
                checked: true,
                missing: None,
            }],
            ..EntityRules::default()
        };
        assert!(rules.violations(&json!({"user_id": "u1"})).is_empty());
        let missing = rules.violations(&json!({"user_id": ""}));
        assert_eq!(
            missing,
            vec![Violation { path: "/user_id".into(), message: "is required: the id of a users entity".into() }]
        );
    }

    fn put(entity: &str, id: &str, cond: Cond) -> Write {
        Write::Put { entity: entity.into(), id: id.into(), value: json!({"id": id}), ttl: Ttl::Persist, cond }
    }

    /// Each role explains its own failed condition.
    #[tokio::test]
    async fn a_failed_condition_becomes_the_error_of_its_role() {
        let store = MemoryStore::default();
        let mut seed = Plan::default();
        seed.push(put("users", "u1", Cond::Absent), Role::Main);
        seed.push(put("__unique.users.email", "a@b.io", Cond::Absent), Role::Dependent);
        seed.commit(&store).await.unwrap();

        let mut exists = Plan::default();
        exists.push(put("users", "u1", Cond::Absent), Role::Main);
        assert!(
            matches!(exists.commit(&store).await, Err(PlanError::Main(Found::Exists, e, i)) if e == "users" && i == "u1")
        );

        let mut missing = Plan::default();
        missing.push(put("users", "u9", Cond::Present), Role::Main);
        assert!(matches!(missing.commit(&store).await, Err(PlanError::Main(Found::Missing, _, _))));

        let mut claim = Plan::default();
        claim.push(put("users", "u2", Cond::Absent), Role::Main);
        let role = Role::Claim { entity: "users".into(), field: "email".into(), value: "a@b.io".into() };
        claim.push(put("__unique.users.email", "a@b.io", Cond::Absent), role);
        assert!(matches!(claim.commit(&store).await, Err(PlanError::Unique { field, .. }) if field == "email"));

        let mut dangling = Plan::default();
        dangling.push(put("orders", "o1", Cond::Absent), Role::Main);
        let check = Write::Check { entity: "users".into(), id: "ghost".into(), cond: Cond::Present };
        dangling.push(
            check,
            Role::Reference { field: "user_id".into(), target: "users".into(), id: "ghost".into(), missing: None },
        );
        match dangling.commit(&store).await {
            Err(PlanError::Dangling(v)) => {
                assert_eq!((v.path.as_str(), v.message.as_str()), ("/user_id", "users \"ghost\" does not exist"))
            }
            other => panic!("{other:?}"),
        }

        let mut changed = Plan::default();
        let stale = Write::Put {
            entity: "users".into(),
            id: "u1".into(),
            value: json!({}),
            ttl: Ttl::Keep,
            cond: Cond::Equals(json!({"id": "old"})),
        };
        changed.push(stale, Role::Main);
        assert!(matches!(changed.commit(&store).await, Err(PlanError::Retry)), "a changed entity is read again");

        let mut dependent = Plan::default();
        dependent.push(put("users", "u1", Cond::Absent), Role::Dependent);
        assert!(matches!(dependent.commit(&store).await, Err(PlanError::Retry)));
        assert_eq!(store.get("orders", "o1").await.unwrap(), None, "nothing of a failed plan was written");
    }

    #[test]
    fn claims_move_with_the_unique_value() {
        let rules = EntityRules { unique: vec!["email".into()], ..EntityRules::default() };
        let mut plan = Plan::default();
        let old = json!({"email": "a@b.io"});
        let new = json!({"email": "c@d.io"});
        plan.claims(&rules, "users", "u1", Some(&old), Some(&new), Ttl::Keep);
        let writes: Vec<(&str, &str, &Cond)> = plan.writes.iter().map(|w| (w.entity(), w.id(), w.cond())).collect();
        assert_eq!(
            writes,
            vec![("__unique.users.email", "a@b.io", &Cond::Any), ("__unique.users.email", "c@d.io", &Cond::Absent)]
        );
        let mut unchanged = Plan::default();
        unchanged.claims(&rules, "users", "u1", Some(&old), Some(&old), Ttl::Keep);
        assert!(unchanged.writes.is_empty());
    }
}
