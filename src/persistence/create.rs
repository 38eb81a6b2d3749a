use super::{ActionError, ActionInput, CREATED_AT, Outcome, UPDATED_AT};
use crate::config::{CompileCx, PersistenceDef};
use crate::store::{Cond, Store, StoreError, Transaction, Ttl, Write, id_key};
use crate::template::{Body, RenderCtx, iso};
use serde_json::{Map, Value};

/// How `create` makes an id when the request brings none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdGen {
    /// A random UUID (v4).
    Uuid,
    /// 1, 2, 3, ... per entity type; the counter survives restarts.
    Increment,
    /// The request must bring the id.
    None,
}

/// Stores a new entity; 409 when its id is taken.
#[derive(Debug)]
pub struct Create {
    pub entity: String,
    /// The entity's id field (`key_field`, default `id`).
    pub id_field: String,
    pub id_gen: IdGen,
    pub ttl: Option<u64>,
    /// What to store; the request body when absent.
    pub data: Option<Body>,
}

impl Create {
    pub fn parse(
        def: &PersistenceDef,
        entity: String,
        at: &str,
        cx: &mut CompileCx<'_>,
    ) -> Option<Create> {
        let id_gen = match &def.auto_generate_id {
            None | Some(Value::Bool(true)) => IdGen::Uuid,
            Some(Value::Bool(false)) => IdGen::None,
            Some(Value::String(s)) if s == "uuid" => IdGen::Uuid,
            Some(Value::String(s))
                if matches!(s.as_str(), "increment" | "autoincrement" | "sequence") =>
            {
                IdGen::Increment
            }
            Some(other) => {
                cx.problem(
                    format!("{at}.auto_generate_id"),
                    format!("found {other}"),
                    "true, false, \"uuid\" or \"increment\"",
                );
                return None;
            }
        };
        let data = cx.body(def.data.as_ref(), &format!("{at}.data"))?;
        Some(Create {
            entity,
            id_field: def
                .key_field
                .clone()
                .unwrap_or_else(|| super::ID_FIELD.to_owned()),
            id_gen,
            ttl: def.ttl,
            data,
        })
    }

    async fn generate(&self, store: &dyn Store) -> Result<Option<Value>, ActionError> {
        Ok(match self.id_gen {
            IdGen::Uuid => Some(Value::String(uuid::Uuid::new_v4().to_string())),
            IdGen::Increment => Some(Value::from(store.next_id(&self.entity).await?)),
            IdGen::None => None,
        })
    }

    pub async fn apply(
        &self,
        store: &dyn Store,
        input: &ActionInput<'_>,
    ) -> Result<Outcome, ActionError> {
        let mut vars = Map::new();
        // A `data` template may use `{{generated_id}}`, so the id comes first there.
        let pre_id = if self.data.is_some() {
            self.generate(store).await?
        } else {
            None
        };
        let fields = match &self.data {
            Some(t) => {
                vars.insert("generated_id".into(), pre_id.clone().unwrap_or(Value::Null));
                t.render(&RenderCtx::new(
                    input.request,
                    &vars,
                    input.now,
                    input.engine,
                ))?
            }
            None => input.request.body.clone(),
        };
        let Value::Object(mut fields) = fields else {
            return Err(ActionError::NotAnObject {
                entity: self.entity.clone(),
            });
        };
        let given = fields
            .shift_remove(&self.id_field)
            .filter(|v| !matches!(v, Value::Null) && v != "");
        let id_value = match (given, pre_id) {
            (Some(v), _) | (None, Some(v)) => v,
            (None, None) => self
                .generate(store)
                .await?
                .ok_or_else(|| ActionError::MissingId {
                    field: self.id_field.clone(),
                })?,
        };
        let key = id_key(&id_value).ok_or_else(|| ActionError::BadId {
            entity: self.entity.clone(),
        })?;

        let now = Value::String(iso(input.now));
        let mut entity = Map::with_capacity(fields.len() + 3);
        entity.insert(self.id_field.clone(), id_value.clone());
        for (k, v) in fields {
            if k != CREATED_AT && k != UPDATED_AT {
                entity.insert(k, v);
            }
        }
        entity.insert(CREATED_AT.into(), now.clone());
        entity.insert(UPDATED_AT.into(), now);
        let entity = Value::Object(entity);

        let ttl = self.ttl.map_or(Ttl::Persist, Ttl::Seconds);
        let put = Write::Put {
            entity: self.entity.clone(),
            id: key.clone(),
            value: entity.clone(),
            ttl,
            cond: Cond::Absent,
        };
        match store.commit(Transaction::single(put)).await {
            Ok(_) => {}
            Err(StoreError::ConditionFailed { .. }) => {
                return Err(ActionError::AlreadyExists {
                    entity: self.entity.clone(),
                    id: key,
                });
            }
            Err(e) => return Err(e.into()),
        }
        vars.insert("generated_id".into(), id_value);
        vars.insert("entity_id".into(), Value::String(key));
        vars.insert("stored_entity".into(), entity.clone());
        Ok(Outcome {
            vars,
            status: 201,
            body: Some(entity),
        })
    }
}
