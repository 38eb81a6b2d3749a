//! `read`: one entity by id, or through an index pattern, optionally from the read cache.

use super::placeholder;
use super::{ActionError, ActionInput, KeySource, Outcome, etag};
use crate::config::{CompileCx, PersistenceDef};
use crate::store::{ListQuery, Store, id_key};
use serde_json::{Map, Value};

/// Reads one entity by id; 404 when it does not exist. Locked types send an `ETag`.
#[derive(Debug)]
pub struct Read {
    pub entity: String,
    pub key: KeySource,
    /// How long this instance may serve a read from its cache.
    pub cache_ttl: Option<std::time::Duration>,
    /// Find the entity by this field (an `index_patterns` entry) instead of by id.
    pub index_field: Option<String>,
    /// Mock-and-Roll's `retrieve`: a found entity is the answer as stored (the
    /// response rules answer only when it is missing).
    pub retrieve: bool,
}

impl Read {
    pub fn parse(def: &PersistenceDef, entity: String, at: &str, cx: &mut CompileCx<'_>) -> Option<Read> {
        let cache_ttl = def
            .cache
            .as_ref()
            .filter(|c| c.enabled != Some(false))
            .map(|c| std::time::Duration::from_secs(c.ttl.unwrap_or(60)));
        let index_field = match def.index.as_deref() {
            None => None,
            Some(name) => match def.index_patterns.get(name).and_then(|p| placeholder(p)) {
                Some(field) => Some(field),
                None => {
                    let known: Vec<&str> = def.index_patterns.keys().map(String::as_str).collect();
                    cx.problem(
                        format!("{at}.index"),
                        format!("no index pattern {name:?} with a {{field}} placeholder"),
                        format!("one of the index_patterns ({})", known.join(", ")),
                    );
                    return None;
                }
            },
        };
        Some(Read { entity, key: KeySource::from_def(def, cx), cache_ttl, index_field, retrieve: false })
    }

    /// The id of the entity whose indexed field has the requested value.
    async fn id_by_index(
        &self,
        field: &str,
        store: &dyn Store,
        input: &ActionInput<'_>,
    ) -> Result<String, ActionError> {
        let missing = || ActionError::MissingId { field: field.to_owned() };
        let value = KeySource::value_of(field, input.request).filter(|v| !v.is_null()).ok_or_else(missing)?;
        let text = crate::json::to_text(value);
        let not_found = || ActionError::NotFound { entity: self.entity.clone(), id: format!("{field}={text}") };
        if input.rules.of(&self.entity).unique.iter().any(|u| u == field) {
            // A unique field's claim names its owner: one lookup.
            let claim = store.get(&super::rules::claim_entity(&self.entity, field), &text).await?;
            return claim.and_then(|c| c.get(super::ID_FIELD).and_then(id_key)).ok_or_else(not_found);
        }
        let query =
            ListQuery { filters: vec![(field.to_owned(), text.clone())], limit: Some(1), ..ListQuery::default() };
        let page = store.list(&self.entity, &query).await?;
        page.items.first().and_then(|e| e.get(super::ID_FIELD)).and_then(id_key).ok_or_else(not_found)
    }

    pub async fn apply(&self, store: &dyn Store, input: &ActionInput<'_>) -> Result<Outcome, ActionError> {
        let id = match &self.index_field {
            Some(field) => self.id_by_index(field, store, input).await?,
            None => self.key.resolve(input.request)?,
        };
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
        vars.insert(super::ENTITY_ID.into(), Value::String(id));
        vars.insert(super::STORED_ENTITY.into(), found.clone());
        Ok(Outcome { vars, status: 200, body: Some(found), headers, ..Outcome::default() })
    }
}
