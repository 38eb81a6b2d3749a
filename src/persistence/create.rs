//! `create`: a new entity from the body or a `data` template, with a generated id,
//! timestamps, its unique claims and reference checks in one commit.

use super::rules::Violation;
use super::rules::{Plan, Role};
use super::{ActionError, ActionInput, CREATED_AT, Outcome, UPDATED_AT, etag, plan_error};
use crate::config::{CompileCx, PersistenceDef};
use crate::store::{Cond, Store, Ttl, Write, id_key};
use crate::template::{Body, RenderCtx, iso};
use serde_json::{Map, Value};

/// How `create` makes an id when the request brings none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdGen {
    /// A random UUID (v4).
    Uuid,
    /// 1, 2, 3, ... per entity type; the counter survives restarts.
    Increment,
    /// The request must bring the id.
    None,
    /// Made from this text field of the body (`"A Title!"` → `a-title`); a uuid when
    /// the field is empty.
    Slug(String),
}

/// Stores a new entity; 409 when its id or a unique value is taken, 400 when it
/// breaks a constraint or references a missing entity.
#[derive(Debug)]
pub struct Create {
    pub entity: String,
    /// The entity's id field (`key_field`, default `id`).
    pub id_field: String,
    pub id_gen: IdGen,
    pub ttl: Option<u64>,
    /// What to store; the request body when absent.
    pub data: Option<Body>,
    /// Fields that must be present and not empty.
    pub required: Vec<String>,
    /// Mock-and-Roll's `store_response_body`: the chosen response's body, rendered
    /// once, is what is stored (with the id) and what the client reads.
    pub store_response: bool,
    /// `request_wrapper`: the body's field holding the entity.
    pub wrapper: Option<String>,
}

impl Create {
    pub fn parse(def: &PersistenceDef, entity: String, at: &str, cx: &mut CompileCx<'_>) -> Option<Create> {
        let id_gen = match &def.auto_generate_id {
            None | Some(Value::Bool(true)) => IdGen::Uuid,
            Some(Value::Bool(false)) => IdGen::None,
            Some(Value::String(s)) if s == "uuid" => IdGen::Uuid,
            Some(Value::String(s)) if matches!(s.as_str(), "increment" | "autoincrement" | "sequence") => {
                IdGen::Increment
            }
            Some(Value::String(s)) if s.starts_with("slug:") && s.len() > 5 => IdGen::Slug(s[5..].to_owned()),
            Some(other) => {
                cx.problem(
                    format!("{at}.auto_generate_id"),
                    format!("found {other}"),
                    "true, false, \"uuid\", \"increment\" or \"slug:<field>\"",
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
                .or_else(|| def.key_pattern.as_deref().and_then(super::placeholder))
                .unwrap_or_else(|| super::ID_FIELD.to_owned()),
            id_gen,
            ttl: def.ttl,
            data,
            required: def.validation.as_ref().map(|v| v.required_fields.clone()).unwrap_or_default(),
            store_response: def.store_response_body == Some(true),
            wrapper: def.request_wrapper.clone(),
        })
    }

    async fn generate(
        &self,
        store: &dyn Store,
        fields: Option<&Map<String, Value>>,
    ) -> Result<Option<Value>, ActionError> {
        Ok(match &self.id_gen {
            IdGen::Uuid => Some(Value::String(uuid::Uuid::new_v4().to_string())),
            IdGen::Increment => Some(Value::from(store.next_id(&self.entity).await?)),
            IdGen::None => None,
            IdGen::Slug(field) => {
                let slug = fields.and_then(|f| f.get(field)).and_then(Value::as_str).map(slugify).unwrap_or_default();
                Some(Value::String(if slug.is_empty() { uuid::Uuid::new_v4().to_string() } else { slug }))
            }
        })
    }

    /// The entity this request would create, with its key; nothing is written.
    pub async fn build(
        &self,
        store: &dyn Store,
        input: &ActionInput<'_>,
        vars: &mut Map<String, Value>,
    ) -> Result<(String, Value), ActionError> {
        // A `data` template may use `{{generated_id}}`, so the id comes first there.
        let template = self.data.as_ref().or(if self.store_response { input.response_body } else { None });
        let pre_id = if template.is_some() { self.generate(store, None).await? } else { None };
        let fields = match template {
            Some(t) => {
                vars.insert(super::GENERATED_ID.into(), pre_id.clone().unwrap_or(Value::Null));
                t.render(&RenderCtx::new(input.request, vars, input.now, input.engine))?
            }
            None => match &self.wrapper {
                Some(w) => input.request.body.get(w).cloned().unwrap_or(Value::Null),
                None => input.request.body.clone(),
            },
        };
        let Value::Object(mut fields) = fields else {
            return Err(ActionError::NotAnObject { entity: self.entity.clone() });
        };
        // On a nested route (`/users/{user_id}/posts`) the path names the parent.
        if template.is_none()
            && let Value::Object(params) = &input.request.params
        {
            for (k, v) in params {
                fields.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let missing: Vec<Violation> = self
            .required
            .iter()
            .filter(|f| fields.get(f.as_str()).is_none_or(|v| v.is_null() || v == ""))
            .map(|f| Violation { path: format!("/{f}"), message: "is required".into() })
            .collect();
        if !missing.is_empty() {
            return Err(ActionError::Invalid { entity: self.entity.clone(), violations: missing });
        }
        let given = fields.shift_remove(&self.id_field).filter(|v| !matches!(v, Value::Null) && v != "");
        let id_value = match (given, pre_id) {
            (Some(v), _) | (None, Some(v)) => v,
            (None, None) => self
                .generate(store, Some(&fields))
                .await?
                .ok_or_else(|| ActionError::MissingId { field: self.id_field.clone() })?,
        };
        let key = id_key(&id_value).ok_or_else(|| ActionError::BadId { entity: self.entity.clone() })?;

        let rules = input.rules.of(&self.entity);
        let now = Value::String(iso(input.now));
        let mut entity = Map::with_capacity(fields.len() + 4);
        entity.insert(self.id_field.clone(), id_value.clone());
        for (k, v) in fields {
            if k != CREATED_AT && k != UPDATED_AT && Some(&k) != rules.version_field.as_ref() {
                entity.insert(k, v);
            }
        }
        if let Some(vf) = &rules.version_field {
            entity.insert(vf.clone(), Value::from(1));
        }
        entity.insert(CREATED_AT.into(), now.clone());
        entity.insert(UPDATED_AT.into(), now);
        let entity = Value::Object(entity);
        let violations = rules.violations(&entity);
        if !violations.is_empty() {
            return Err(ActionError::Invalid { entity: self.entity.clone(), violations });
        }
        vars.insert(super::GENERATED_ID.into(), id_value);
        Ok((key, entity))
    }

    /// Adds this creation to a plan.
    pub fn plan(&self, plan: &mut Plan, input: &ActionInput<'_>, key: &str, entity: &Value) {
        let rules = input.rules.of(&self.entity);
        let ttl = self.ttl.map_or(Ttl::Persist, Ttl::Seconds);
        let put = Write::Put {
            entity: self.entity.clone(),
            id: key.to_owned(),
            value: entity.clone(),
            ttl,
            cond: Cond::Absent,
        };
        plan.push(put, Role::Main);
        plan.claims(rules, &self.entity, key, None, Some(entity), ttl);
        plan.references(rules, None, entity);
    }

    pub async fn apply(&self, store: &dyn Store, input: &ActionInput<'_>) -> Result<Outcome, ActionError> {
        let mut vars = Map::new();
        let (key, entity) = self.build(store, input, &mut vars).await?;
        let mut plan = Plan::default();
        self.plan(&mut plan, input, &key, &entity);
        plan.commit(store).await.map_err(|e| plan_error(e, &self.entity, &key))?;
        let headers = etag(input.rules.of(&self.entity), &entity);
        vars.insert(super::ENTITY_ID.into(), Value::String(key));
        if let Some(v) = input.rules.of(&self.entity).version_field.as_ref().and_then(|f| entity.get(f)) {
            vars.insert("incremented_version".into(), v.clone());
        }
        vars.insert(super::STORED_ENTITY.into(), entity.clone());
        // What a client reads back: its response template, then the stored id and
        // the stored fields the template does not mention (Mock-and-Roll's create).
        let created = match (&self.data, &entity) {
            (None, Value::Object(m)) => Some(super::Created {
                id: (self.id_field.clone(), m.get(&self.id_field).cloned().unwrap_or(Value::Null)),
                fields: m.clone(),
            }),
            _ => None,
        };
        Ok(Outcome {
            vars,
            status: 201,
            body: Some(entity),
            headers,
            created,
            body_is_final: self.store_response && input.response_body.is_some(),
            ..Outcome::default()
        })
    }
}

/// `"Hello, World!"` → `hello-world`: lower-case letters and digits joined by `-`.
pub fn slugify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}
