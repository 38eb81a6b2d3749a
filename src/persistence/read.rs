use super::{ActionError, ActionInput, KeySource, Outcome, etag};
use crate::config::{CompileCx, PersistenceDef};
use crate::store::Store;
use serde_json::{Map, Value};

/// Reads one entity by id; 404 when it does not exist. Locked types send an `ETag`.
#[derive(Debug)]
pub struct Read {
    pub entity: String,
    pub key: KeySource,
}

impl Read {
    pub fn parse(def: &PersistenceDef, entity: String, cx: &mut CompileCx<'_>) -> Read {
        Read { entity, key: KeySource::from_def(def, cx) }
    }

    pub async fn apply(&self, store: &dyn Store, input: &ActionInput<'_>) -> Result<Outcome, ActionError> {
        let id = self.key.resolve(input.request)?;
        let Some(found) = store.get(&self.entity, &id).await? else {
            return Err(ActionError::NotFound { entity: self.entity.clone(), id });
        };
        let headers = etag(input.rules.of(&self.entity), &found);
        let mut vars = Map::new();
        vars.insert("entity_id".into(), Value::String(id));
        vars.insert("stored_entity".into(), found.clone());
        Ok(Outcome { vars, status: 200, body: Some(found), headers })
    }
}
