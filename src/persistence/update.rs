use super::{ActionError, ActionInput, CREATED_AT, KeySource, Outcome, UPDATED_AT};
use crate::config::{CompileCx, PersistenceDef};
use crate::store::{Cond, Found, Store, StoreError, Transaction, Ttl, Write};
use crate::template::{Body, RenderCtx, iso};
use serde_json::{Map, Value};

/// How an update combines the stored entity with the new fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeStrategy {
    /// The new fields replace the entity (id and `created_at` are kept).
    Replace,
    /// RFC 7396 merge patch: objects merge recursively, `null` removes a field.
    Merge,
}

/// How many times an update re-reads and retries when another write got in first.
const MAX_ATTEMPTS: usize = 16;

/// Updates one entity by id; 404 when it does not exist. The write is a
/// compare-and-set against the version read, so a concurrent update is never lost.
#[derive(Debug)]
pub struct Update {
    pub entity: String,
    pub key: KeySource,
    pub strategy: MergeStrategy,
    /// Refreshes the entity's expiry when set; otherwise the expiry is kept.
    pub ttl: Option<u64>,
    /// The new fields; the request body when absent. May use `{{current.x}}`.
    pub data: Option<Body>,
}

impl Update {
    pub fn parse(
        def: &PersistenceDef,
        entity: String,
        at: &str,
        cx: &mut CompileCx<'_>,
    ) -> Option<Update> {
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
        Some(Update {
            key: KeySource::from_def(def, cx),
            entity,
            strategy,
            ttl: def.ttl,
            data,
        })
    }

    pub async fn apply(
        &self,
        store: &dyn Store,
        input: &ActionInput<'_>,
    ) -> Result<Outcome, ActionError> {
        let id = self.key.resolve(input.request)?;
        let not_found = || ActionError::NotFound {
            entity: self.entity.clone(),
            id: id.clone(),
        };
        for _ in 0..MAX_ATTEMPTS {
            let current = store.get(&self.entity, &id).await?.ok_or_else(not_found)?;
            let patch = match &self.data {
                Some(t) => {
                    let mut vars = Map::new();
                    vars.insert("current".into(), current.clone());
                    t.render(&RenderCtx::new(
                        input.request,
                        &vars,
                        input.now,
                        input.engine,
                    ))?
                }
                None => input.request.body.clone(),
            };
            let Value::Object(patch) = patch else {
                return Err(ActionError::NotAnObject {
                    entity: self.entity.clone(),
                });
            };
            let updated = self.combine(&current, patch, input);
            let ttl = self.ttl.map_or(Ttl::Keep, Ttl::Seconds);
            let put = Write::Put {
                entity: self.entity.clone(),
                id: id.clone(),
                value: updated.clone(),
                ttl,
                cond: Cond::Equals(current.clone()),
            };
            match store.commit(Transaction::single(put)).await {
                Ok(_) => {
                    let mut vars = Map::new();
                    vars.insert("entity_id".into(), Value::String(id));
                    vars.insert("previous_entity".into(), current);
                    vars.insert("stored_entity".into(), updated.clone());
                    return Ok(Outcome {
                        vars,
                        status: 200,
                        body: Some(updated),
                    });
                }
                Err(StoreError::ConditionFailed {
                    found: Found::Missing,
                    ..
                }) => return Err(not_found()),
                // Someone else wrote in between: read again and recompute.
                Err(StoreError::ConditionFailed { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ActionError::WriteConflict {
            entity: self.entity.clone(),
            id,
        })
    }

    fn combine(
        &self,
        current: &Value,
        patch: Map<String, Value>,
        input: &ActionInput<'_>,
    ) -> Value {
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
        // The id and creation time belong to the entity, not to the request.
        for field in [super::ID_FIELD, CREATED_AT] {
            match current.get(field) {
                Some(v) => out.insert(field.into(), v.clone()),
                None => out.shift_remove(field),
            };
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
        assert_eq!(
            doc,
            json!({"a": "z", "c": {"d": "e"}, "keep": 1, "new": [1]})
        );
    }
}
