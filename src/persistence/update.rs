//! `update`: read, merge or replace, commit only if nothing changed meanwhile; with
//! optimistic locking, versions and `If-Match`.

use super::rules::{Plan, Role, set_field, version_of};
use super::{
    ActionError, ActionInput, CREATED_AT, ENTITY_ID, KeySource, Outcome, PREVIOUS_ENTITY, STORED_ENTITY, UPDATED_AT,
    etag, retrying,
};
use crate::config::{CompileCx, PersistenceDef};
use crate::store::{Cond, Store, Ttl, Write};
use crate::template::{Body, RenderCtx, Template, iso};
use serde_json::{Map, Value};

/// How an update combines the stored entity with the new fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeStrategy {
    /// The new fields replace the entity (id and `created_at` are kept).
    Replace,
    /// RFC 7396 merge patch: objects merge recursively, `null` removes a field.
    Merge,
}

/// Optimistic locking on an update endpoint.
#[derive(Debug)]
pub struct Lock {
    pub field: String,
    /// The version the client expects; default: the body's version field.
    pub expected: Option<Template>,
}

/// Updates one entity by id; 404 when it does not exist. The write is a
/// compare-and-set against the version read, so a concurrent update is never lost;
/// with `optimistic_lock`, a stale expected version is 409 and a stale `If-Match` 412.
#[derive(Debug)]
pub struct Update {
    pub entity: String,
    pub key: KeySource,
    pub strategy: MergeStrategy,
    /// Refreshes the entity's expiry when set; otherwise the expiry is kept.
    pub ttl: Option<u64>,
    /// The new fields; the request body when absent. May use `{{current.x}}`.
    pub data: Option<Body>,
    pub lock: Option<Lock>,
    /// `request_wrapper`: the body's field holding the fields.
    pub wrapper: Option<String>,
}

impl Update {
    pub fn parse(def: &PersistenceDef, entity: String, at: &str, cx: &mut CompileCx<'_>) -> Option<Update> {
        let strategy = match def.merge_strategy.as_deref() {
            None | Some("replace") => MergeStrategy::Replace,
            Some("merge" | "patch") => MergeStrategy::Merge,
            Some(other) => {
                cx.problem(
                    format!("{at}.merge_strategy"),
                    format!("unknown strategy {other:?}"),
                    "\"replace\" or \"merge\"",
                );
                return None;
            }
        };
        let data = cx.body(def.data.as_ref(), &format!("{at}.data"))?;
        let lock = match &def.optimistic_lock {
            None => None,
            Some(l) => {
                let expected = match l.expected_version.as_deref() {
                    None => None,
                    Some(src) => Some(cx.template(src, &format!("{at}.optimistic_lock.expected_version"))?),
                };
                Some(Lock { field: l.version_field.clone().unwrap_or_else(|| "version".into()), expected })
            }
        };
        let wrapper = def.request_wrapper.clone();
        Some(Update { key: KeySource::from_def(def, cx), entity, strategy, ttl: def.ttl, data, lock, wrapper })
    }

    pub async fn apply(&self, store: &dyn Store, input: &ActionInput<'_>) -> Result<Outcome, ActionError> {
        let id = self.key.resolve(input.request)?;
        // Someone else wrote in between: read again and recompute.
        retrying(&self.entity, &id, async || {
            let current = super::existing(store, &self.entity, &id).await?;
            let updated = self.updated(&id, &current, input, &Map::new())?;
            let mut plan = Plan::default();
            self.plan(&mut plan, input, &id, &current, &updated);
            Ok(plan.commit(store).await.map(|_| {
                let rules = input.rules.of(&self.entity);
                let mut vars = Map::new();
                vars.insert(ENTITY_ID.into(), Value::String(id.clone()));
                if let Some(v) = rules.version_field.as_ref().and_then(|f| updated.get(f)) {
                    vars.insert("incremented_version".into(), v.clone());
                }
                vars.insert(PREVIOUS_ENTITY.into(), current);
                vars.insert(STORED_ENTITY.into(), updated.clone());
                Outcome { vars, status: 200, headers: etag(rules, &updated), body: Some(updated), ..Outcome::default() }
            }))
        })
        .await
    }

    /// The entity after this update, checked; nothing is written.
    /// `base` holds variables of earlier operations in an atomic action.
    pub fn updated(
        &self,
        id: &str,
        current: &Value,
        input: &ActionInput<'_>,
        base: &Map<String, Value>,
    ) -> Result<Value, ActionError> {
        let rules = input.rules.of(&self.entity);
        let mut vars = base.clone();
        vars.insert("current".into(), current.clone());
        let cx = RenderCtx::new(input.request, &vars, input.now, input.engine);
        if let Some(lock) = &self.lock {
            self.check_version(lock, id, current, input, &cx)?;
        }
        let patch = match (&self.data, &self.wrapper) {
            (Some(t), _) => t.render(&cx)?,
            (None, Some(w)) => input.request.body.get(w).cloned().unwrap_or(Value::Null),
            (None, None) => input.request.body.clone(),
        };
        let Value::Object(patch) = patch else {
            return Err(ActionError::NotAnObject { entity: self.entity.clone() });
        };
        let mut updated = self.combine(current, patch, input);
        if let Some(vf) = &rules.version_field {
            set_field(&mut updated, vf, Value::from(version_of(current, vf) + 1));
        }
        let violations = rules.violations(&updated);
        if !violations.is_empty() {
            return Err(ActionError::Invalid { entity: self.entity.clone(), violations });
        }
        Ok(updated)
    }

    fn check_version(
        &self,
        lock: &Lock,
        id: &str,
        current: &Value,
        input: &ActionInput<'_>,
        cx: &RenderCtx<'_>,
    ) -> Result<(), ActionError> {
        let actual = version_of(current, &lock.field);
        if let Some(tag) = input.request.headers.get("if-match").and_then(Value::as_str) {
            let tag = tag.trim();
            let wanted = tag.trim_start_matches("W/").trim_matches('"');
            if tag != "*" && wanted.parse::<u64>().ok() != Some(actual) {
                return Err(ActionError::PreconditionFailed {
                    entity: self.entity.clone(),
                    id: id.to_owned(),
                    expected: tag.to_owned(),
                    actual,
                });
            }
            return Ok(());
        }
        let expected = match &lock.expected {
            Some(t) => t.render(cx)?,
            None => input.request.body.get(&lock.field).cloned().unwrap_or(Value::Null),
        };
        let expected = match &expected {
            Value::Number(n) => n.as_u64(),
            Value::String(s) if !s.is_empty() => s.trim().parse().ok(),
            _ => None,
        };
        match expected {
            Some(e) if e != actual => Err(ActionError::VersionConflict {
                entity: self.entity.clone(),
                id: id.to_owned(),
                expected: e,
                actual,
            }),
            _ => Ok(()),
        }
    }

    /// Adds this update to a plan.
    pub fn plan(&self, plan: &mut Plan, input: &ActionInput<'_>, id: &str, current: &Value, updated: &Value) {
        let rules = input.rules.of(&self.entity);
        let ttl = self.ttl.map_or(Ttl::Keep, Ttl::Seconds);
        let put = Write::Put {
            entity: self.entity.clone(),
            id: id.to_owned(),
            value: updated.clone(),
            ttl,
            cond: Cond::Equals(current.clone()),
        };
        plan.push(put, Role::Main);
        plan.claims(rules, &self.entity, id, Some(current), Some(updated), ttl);
        plan.references(rules, Some(current), updated);
    }

    fn combine(&self, current: &Value, patch: Map<String, Value>, input: &ActionInput<'_>) -> Value {
        let mut out = match self.strategy {
            MergeStrategy::Replace => {
                let mut m = Map::with_capacity(patch.len() + 3);
                if let Some(id) = current.get(super::ID_FIELD) {
                    m.insert(super::ID_FIELD.into(), id.clone());
                }
                m.extend(patch);
                m
            }
            MergeStrategy::Merge => {
                let mut merged = current.clone();
                merge_patch(&mut merged, Value::Object(patch));
                match merged {
                    Value::Object(m) => m,
                    _ => Map::new(),
                }
            }
        };
        // The id and creation time belong to the entity, not to the request; so does
        // a key stored under its own name (`username` on `PUT /users/{username}`).
        for field in [super::ID_FIELD, CREATED_AT] {
            match current.get(field) {
                Some(v) => out.insert(field.into(), v.clone()),
                None => out.shift_remove(field),
            };
        }
        if let Some(v) = current.get(&self.key.field) {
            out.insert(self.key.field.clone(), v.clone());
        }
        out.insert(UPDATED_AT.into(), Value::String(iso(input.now)));
        Value::Object(out)
    }
}

/// RFC 7396 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: Value) {
    let Value::Object(patch) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let map = target.as_object_mut().expect("made an object above");
    for (k, v) in patch {
        if v.is_null() {
            map.shift_remove(&k);
        } else {
            merge_patch(map.entry(k).or_insert(Value::Null), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::merge_patch;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "keep": 1});
        merge_patch(&mut doc, json!({"a": "z", "c": {"f": null}, "new": [1]}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}, "keep": 1, "new": [1]}));
    }
}
