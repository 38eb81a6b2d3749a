use super::{ActionError, ActionInput, KeySource, Outcome, etag};
use crate::config::{CompileCx, PersistenceDef};
use crate::store::Store;
use serde_json::{Map, Value};

/// Reads one entity by id; 404 when it does not exist. Locked types send an `ETag`.
#[derive(Debug)]
pub struct Read {
    pub entity: String,
    pub key: KeySource,
    /// How long this instance may serve a read from its cache.
    pub cache_ttl: Option<std::time::Duration>,
}

impl Read {
    pub fn parse(def: &PersistenceDef, entity: String, cx: &mut CompileCx<'_>) -> Read {
        let cache_ttl = def
            .cache
            .as_ref()
            .filter(|c| c.enabled != Some(false))
            .map(|c| std::time::Duration::from_secs(c.ttl.unwrap_or(60)));
        Read { entity, key: KeySource::from_def(def, cx), cache_ttl }
    }

    pub async fn apply(&self, store: &dyn Store, input: &ActionInput<'_>) -> Result<Outcome, ActionError> {
        let id = self.key.resolve(input.request)?;
        let cached = self.cache_ttl.and_then(|_| input.cache.get(&self.entity, &id));
        let found = match cached {
            Some(v) => v,
            None => {
                let Some(found) = store.get(&self.entity, &id).await? else {
                    return Err(ActionError::NotFound { entity: self.entity.clone(), id });
                };
                if let Some(ttl) = self.cache_ttl {
                    input.cache.put(&self.entity, &id, found.clone(), ttl);
                }
                found
            }
        };
        let headers = etag(input.rules.of(&self.entity), &found);
        let mut vars = Map::new();
        vars.insert("entity_id".into(), Value::String(id));
        vars.insert("stored_entity".into(), found.clone());
        Ok(Outcome { vars, status: 200, body: Some(found), headers })
    }
}
