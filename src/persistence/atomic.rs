//! `atomic: true` (or `transaction: true`, or Mock-and-Roll's `batch_operation`) with a list
//! of operations: every operation is read and computed first, then all of them commit
//! as one store transaction, so they happen together or not at all, even with other
//! gateway instances writing the same entities. A missing target, a broken rule or a
//! conflict fails the whole request and writes nothing. Later operations see earlier
//! ones' results by entity name (`{{orders.id}}`), `{{generated_id}}` and, in an
//! update's `data`, the stored values as `{{current.x}}`.

use super::rules::{Plan, Role};
use super::{
    Action, ActionError, ActionInput, Create, Delete, MergeStrategy, Outcome, Read, Update, existing, retrying,
};
use crate::config::{CompileCx, PersistenceDef};
use crate::store::{Cond, Store, Write};
use serde_json::{Map, Value};

#[derive(Debug)]
pub struct Atomic {
    pub ops: Vec<AtomicOp>,
}

/// What an atomic block may hold: single-entity operations (a list or another atomic
/// block is refused when the profile loads).
#[derive(Debug)]
pub enum AtomicOp {
    Create(Create),
    Read(Read),
    Update(Update),
    Delete(Delete),
}

impl AtomicOp {
    pub fn entity(&self) -> &str {
        match self {
            AtomicOp::Create(a) => &a.entity,
            AtomicOp::Read(a) => &a.entity,
            AtomicOp::Update(a) => &a.entity,
            AtomicOp::Delete(a) => &a.entity,
        }
    }

    /// The operation and its entity type, e.g. `update products`.
    pub fn label(&self) -> String {
        let verb = match self {
            AtomicOp::Create(_) => "create",
            AtomicOp::Read(_) => "read",
            AtomicOp::Update(_) => "update",
            AtomicOp::Delete(_) => "delete",
        };
        format!("{verb} {}", self.entity())
    }
}

impl Atomic {
    pub fn parse(def: &PersistenceDef, at: &str, cx: &mut CompileCx<'_>) -> Option<Atomic> {
        let (list, name) =
            if def.operations.is_empty() { (&def.entities, "entities") } else { (&def.operations, "operations") };
        if list.is_empty() {
            cx.problem(format!("{at}.operations"), "no operations", "at least one {\"entity_name\", \"action\", ...}");
            return None;
        }
        let mut ops = Vec::with_capacity(list.len());
        let mut ok = true;
        for (i, op) in list.iter().enumerate() {
            let here = format!("{at}.{name}[{i}]");
            if op.atomic.is_some() || op.transaction.is_some() || !op.operations.is_empty() {
                cx.problem(&here, "a nested atomic block", "create, read, update or delete operations");
                ok = false;
                continue;
            }
            match Action::parse(op, &here, cx) {
                Some(Action::List(_)) => {
                    cx.problem(
                        format!("{here}.action"),
                        "list inside an atomic block",
                        "create, read, update or delete",
                    );
                    ok = false;
                }
                Some(Action::Atomic(_)) => {
                    cx.problem(&here, "a nested atomic block", "create, read, update or delete operations");
                    ok = false;
                }
                Some(Action::Update(mut u)) => {
                    // An operation's `data` names the fields it changes.
                    if op.merge_strategy.is_none() {
                        u.strategy = MergeStrategy::Merge;
                    }
                    ops.push(AtomicOp::Update(u));
                }
                Some(Action::Create(c)) => ops.push(AtomicOp::Create(c)),
                Some(Action::Read(r)) => ops.push(AtomicOp::Read(r)),
                Some(Action::Delete(d)) => ops.push(AtomicOp::Delete(d)),
                None => ok = false,
            }
        }
        ok.then_some(Atomic { ops })
    }

    pub fn entity(&self) -> &str {
        self.ops.first().map_or("", AtomicOp::entity)
    }

    pub async fn apply(&self, store: &dyn Store, input: &ActionInput<'_>) -> Result<Outcome, ActionError> {
        retrying(self.entity(), "", async || {
            let mut vars = Map::new();
            let mut plan = Plan::default();
            let mut results = Map::new();
            let mut created = false;
            for op in &self.ops {
                let (entity, value) = match op {
                    AtomicOp::Create(c) => {
                        let (key, entity) = c.build(store, input, &mut vars).await?;
                        c.plan(&mut plan, input, &key, &entity);
                        created = true;
                        (&c.entity, entity)
                    }
                    AtomicOp::Update(u) => {
                        let id = u.key.resolve(input.request)?;
                        let current = existing(store, &u.entity, &id).await?;
                        let updated = u.updated(&id, &current, input, &vars)?;
                        u.plan(&mut plan, input, &id, &current, &updated);
                        (&u.entity, updated)
                    }
                    AtomicOp::Delete(d) => {
                        let id = d.key.resolve(input.request)?;
                        let current = existing(store, &d.entity, &id).await?;
                        d.plan(&mut plan, store, input, &id, &current).await?;
                        (&d.entity, current)
                    }
                    AtomicOp::Read(r) => {
                        let id = r.key.resolve(input.request)?;
                        let current = existing(store, &r.entity, &id).await?;
                        // What was read must still hold when everything commits.
                        let check = Write::Check { entity: r.entity.clone(), id, cond: Cond::Equals(current.clone()) };
                        plan.push(check, Role::Dependent);
                        (&r.entity, current)
                    }
                };
                if !vars.contains_key(super::STORED_ENTITY) {
                    vars.insert(super::STORED_ENTITY.into(), value.clone());
                }
                vars.insert(entity.clone(), value.clone());
                results.insert(entity.clone(), value);
            }
            Ok(plan.commit(store).await.map(|_| {
                vars.insert("operations".into(), Value::Object(results.clone()));
                let status = if created { 201 } else { 200 };
                Outcome { vars, status, body: Some(Value::Object(results)), ..Outcome::default() }
            }))
        })
        .await
    }
}
