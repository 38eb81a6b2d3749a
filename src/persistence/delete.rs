//! `delete`: one entity by id, with what its relationships require.

use super::rules::{OnDelete, Plan, Role};
use super::{ActionError, ActionInput, ENTITY_ID, KeySource, Outcome, STORED_ENTITY, retrying};
use crate::config::{CompileCx, PersistenceDef};
use crate::store::{Cond, ListQuery, Store, Ttl, Write, id_key};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// Deletes one entity by id; 404 when it does not exist. Entities that reference it
/// are handled by their relationship's `on_delete` (restrict: 409; cascade: deleted
/// too; nullify: the field set to null), all in the same atomic commit, which also
/// requires the entity's reference guard to be as it was when the referencing
/// entities were looked up: a reference made meanwhile makes the delete look again. The deleted
/// entity is available to the response as `stored_entity`.
#[derive(Debug)]
pub struct Delete {
    pub entity: String,
    pub key: KeySource,
}

impl Delete {
    pub fn parse(def: &PersistenceDef, entity: String, cx: &mut CompileCx<'_>) -> Delete {
        Delete { entity, key: KeySource::from_def(def, cx) }
    }

    pub async fn apply(&self, store: &dyn Store, input: &ActionInput<'_>) -> Result<Outcome, ActionError> {
        let id = self.key.resolve(input.request)?;
        if input.rules.of(&self.entity).protected.contains(&id) {
            return Err(ActionError::Protected { entity: self.entity.clone(), id });
        }
        retrying(&self.entity, &id, async || {
            let current = super::existing(store, &self.entity, &id).await?;
            let mut plan = Plan::default();
            self.plan(&mut plan, store, input, &id, &current).await?;
            Ok(plan.commit(store).await.map(|_| {
                let mut vars = Map::new();
                vars.insert(ENTITY_ID.into(), Value::String(id.clone()));
                vars.insert(STORED_ENTITY.into(), current);
                Outcome { vars, status: 204, ..Outcome::default() }
            }))
        })
        .await
    }

    /// Adds the deletion of `current` and everything its relationships require.
    pub async fn plan(
        &self,
        plan: &mut Plan,
        store: &dyn Store,
        input: &ActionInput<'_>,
        id: &str,
        current: &Value,
    ) -> Result<(), ActionError> {
        let rules = input.rules;
        plan.push(
            Write::Delete { entity: self.entity.clone(), id: id.to_owned(), cond: Cond::Equals(current.clone()) },
            Role::Main,
        );
        plan.claims(rules.of(&self.entity), &self.entity, id, Some(current), None, Ttl::Keep);
        // Walk the entities that reference what is being deleted, breadth first.
        let mut pending = vec![(self.entity.clone(), id.to_owned())];
        let mut seen: HashSet<(String, String)> = pending.iter().cloned().collect();
        while let Some((entity, id)) = pending.pop() {
            if rules.of(&entity).referenced_by.iter().any(|(_, r)| r.on_delete != OnDelete::Ignore) {
                plan.pin_guard(store, &entity, &id).await?;
            }
            for (source, r) in &rules.of(&entity).referenced_by {
                if r.on_delete == OnDelete::Ignore {
                    continue;
                }
                let query = ListQuery { filters: vec![(r.field.clone(), id.clone())], ..ListQuery::default() };
                let children = store.list(source, &query).await?.items;
                if children.is_empty() {
                    continue;
                }
                match r.on_delete {
                    OnDelete::Restrict => {
                        return Err(ActionError::Restricted { entity, id, by: source.clone(), count: children.len() });
                    }
                    OnDelete::Cascade => {
                        for child in children {
                            let Some(child_id) = child.get(super::ID_FIELD).and_then(id_key) else {
                                continue;
                            };
                            // Seeded read-only entities stay (as in Mock-and-Roll).
                            if rules.of(source).protected.contains(&child_id)
                                || !seen.insert((source.clone(), child_id.clone()))
                            {
                                continue;
                            }
                            plan.claims(rules.of(source), source, &child_id, Some(&child), None, Ttl::Keep);
                            let w = Write::Delete {
                                entity: source.clone(),
                                id: child_id.clone(),
                                cond: Cond::Equals(child),
                            };
                            plan.push(w, Role::Dependent);
                            pending.push((source.clone(), child_id));
                        }
                    }
                    OnDelete::Ignore => {}
                    OnDelete::Nullify => {
                        for child in children {
                            let Some(child_id) = child.get(super::ID_FIELD).and_then(id_key) else {
                                continue;
                            };
                            let mut nulled = child.clone();
                            super::rules::set_field(&mut nulled, &r.field, Value::Null);
                            let w = Write::Put {
                                entity: source.clone(),
                                id: child_id,
                                value: nulled,
                                ttl: Ttl::Keep,
                                cond: Cond::Equals(child),
                            };
                            plan.push(w, Role::Dependent);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
