use super::{ActionError, ActionInput, KeySource, Outcome};
use crate::config::{CompileCx, PersistenceDef};
use crate::store::{Cond, Store, StoreError, Transaction, Write};
use serde_json::{Map, Value};

/// Deletes one entity by id; 404 when it does not exist. The deleted entity is
/// available to the response as `stored_entity`.
#[derive(Debug)]
pub struct Delete {
    pub entity: String,
    pub key: KeySource,
}

impl Delete {
    pub fn parse(def: &PersistenceDef, entity: String, cx: &mut CompileCx<'_>) -> Delete {
        Delete {
            entity,
            key: KeySource::from_def(def, cx),
        }
    }

    pub async fn apply(
        &self,
        store: &dyn Store,
        input: &ActionInput<'_>,
    ) -> Result<Outcome, ActionError> {
        let id = self.key.resolve(input.request)?;
        let delete = Write::Delete {
            entity: self.entity.clone(),
            id: id.clone(),
            cond: Cond::Present,
        };
        let previous = match store.commit(Transaction::single(delete)).await {
            Ok(mut prev) => prev.pop().flatten(),
            Err(StoreError::ConditionFailed { .. }) => {
                return Err(ActionError::NotFound {
                    entity: self.entity.clone(),
                    id,
                });
            }
            Err(e) => return Err(e.into()),
        };
        let mut vars = Map::new();
        vars.insert("entity_id".into(), Value::String(id));
        vars.insert("stored_entity".into(), previous.unwrap_or(Value::Null));
        Ok(Outcome {
            vars,
            status: 204,
            body: None,
        })
    }
}
