//! Persistence actions, written once over `&dyn Store`.
//!
//! Like mini-redis's `cmd/`, each action has its own file holding its parse (from an
//! endpoint's `persistence` block, at profile load) and its `apply` (per request), and
//! [`Action`] dispatches. An action's results become template variables
//! (`stored_entity`, `generated_id`, `entity_list`, ...) and give the response its
//! default status and body.

mod atomic;
pub mod cache;
mod create;
mod delete;
mod list;
mod read;
pub mod rules;
mod update;

pub use atomic::Atomic;
pub use create::{Create, slugify};
pub use delete::Delete;
pub use list::List;
pub use read::Read;
pub use update::{MergeStrategy, Update};

use crate::config::{CompileCx, PersistenceDef};
use crate::store::{Store, StoreError, id_key, valid_entity_name};
use crate::template::{RenderError, RequestData, TemplateEngine};
use chrono::{DateTime, Utc};
use rules::{PlanError, Rules, Violation};
use serde_json::{Map, Value};

/// One endpoint's (or one response's) persistence action.
#[derive(Debug)]
pub enum Action {
    Create(Create),
    Read(Read),
    Update(Update),
    Delete(Delete),
    List(List),
    /// Several operations that commit together or not at all.
    Atomic(Atomic),
}

pub const ACTIONS: &str = "create, read, update, delete, list";

/// What an action sees of the request.
pub struct ActionInput<'a> {
    pub request: &'a RequestData,
    pub now: DateTime<Utc>,
    pub engine: &'a TemplateEngine,
    /// Every entity type's rules.
    pub rules: &'a Rules,
    /// This instance's read cache.
    pub cache: &'a cache::ReadCache,
    /// The chosen response's body template (what `store_response_body` stores).
    pub response_body: Option<&'a crate::template::Body>,
}

/// What a create stored, as a Mock-and-Roll client reads it back: the response
/// template with the stored id set and the stored fields it lacks added.
#[derive(Debug, Default)]
pub struct Created {
    pub id: (String, Value),
    pub fields: Map<String, Value>,
}

/// What an action gives the response.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Template variables.
    pub vars: Map<String, Value>,
    /// Status when the response does not set one.
    pub status: u16,
    /// Body when the response does not set one.
    pub body: Option<Value>,
    /// Headers the action adds (`ETag`).
    pub headers: Vec<(String, String)>,
    /// Keys set on the rendered response body (when it is an object): a Mock-and-Roll
    /// list's `response_list_key` and `response_count_key`, a create's id.
    pub inject: Vec<(String, Value)>,
    /// A create's echo of what it stored, for a response template that mentions none
    /// of the action's results (Mock-and-Roll's create).
    pub created: Option<Created>,
    /// `body` is the answer even when the response has a body template (it was
    /// rendered already, to be stored).
    pub body_is_final: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("{} {id:?} not found", crate::words::singular(entity))]
    NotFound { entity: String, id: String },
    #[error("the {entity} failed validation ({} problem{})", .violations.len(), if .violations.len() == 1 { "" } else { "s" })]
    Invalid { entity: String, violations: Vec<Violation> },
    #[error("another {} already has {field} {value:?}", crate::words::singular(entity))]
    UniqueViolation { entity: String, field: String, value: String },
    #[error("{} {id:?} is at version {actual}, not {expected}", crate::words::singular(entity))]
    VersionConflict { entity: String, id: String, expected: u64, actual: u64 },
    #[error(
        "If-Match {expected} does not match the current version {actual} of {} {id:?}",
        crate::words::singular(entity)
    )]
    PreconditionFailed { entity: String, id: String, expected: String, actual: u64 },
    #[error("{} {id:?} is still referenced by {}", crate::words::singular(entity), crate::words::count(*count, by))]
    Restricted { entity: String, id: String, by: String, count: usize },
    /// A Mock-and-Roll `required_entities` entry names no existing entity.
    #[error("{message}")]
    ReferenceNotFound { message: String },
    /// A seeded Mock-and-Roll list item: read-only.
    #[error("{} {id:?} is protected and cannot be deleted", crate::words::singular(entity))]
    Protected { entity: String, id: String },
    #[error("{} {id:?} already exists", crate::words::singular(entity))]
    AlreadyExists { entity: String, id: String },
    #[error("no id given: expected `{field}` in the path, query or body")]
    MissingId { field: String },
    #[error("the {entity} id must be a non-empty string or a number")]
    BadId { entity: String },
    #[error("the request body must be a JSON object to be stored as {entity}")]
    NotAnObject { entity: String },
    #[error("query parameter `{param}`: {message}")]
    BadQuery { param: String, message: String },
    #[error("{} {id:?} kept changing during the update; try again", crate::words::singular(entity))]
    WriteConflict { entity: String, id: String },
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Action {
    /// Checks and compiles a `persistence` block found at JSON path `at`.
    pub fn parse(def: &PersistenceDef, at: &str, cx: &mut CompileCx<'_>) -> Option<Action> {
        if def.error_handling.is_some() && (at.contains(".operations[") || at.contains(".entities[")) {
            cx.problem(
                format!("{at}.error_handling"),
                "error_handling on one operation",
                "error_handling on the atomic block",
            );
        }
        if def.atomic == Some(true) || def.transaction == Some(true) || def.batch_operation == Some(true) {
            return Atomic::parse(def, at, cx).map(Action::Atomic);
        }
        let Some(entity) = def.entity_name.as_deref().filter(|e| valid_entity_name(e)) else {
            let found = match &def.entity_name {
                None => "missing entity_name".to_owned(),
                Some(e) => format!("bad entity_name {e:?}"),
            };
            cx.problem(format!("{at}.entity_name"), found, "a name of letters, digits, `_`, `-` or `.`");
            return None;
        };
        let Some(action) = def.action.as_deref() else {
            cx.problem(format!("{at}.action"), "missing action", format!("one of {ACTIONS}"));
            return None;
        };
        let entity = entity.to_owned();
        match action {
            "create" => Create::parse(def, entity, at, cx).map(Action::Create),
            "read" | "get" => Read::parse(def, entity, at, cx).map(Action::Read),
            "retrieve" => Read::parse(def, entity, at, cx).map(|r| Action::Read(Read { retrieve: true, ..r })),
            "update" => Update::parse(def, entity, at, cx).map(Action::Update),
            "delete" => Some(Action::Delete(Delete::parse(def, entity, cx))),
            "list" => List::parse(def, entity, at, cx).map(Action::List),
            other => {
                cx.problem(format!("{at}.action"), format!("unknown action {other:?}"), format!("one of {ACTIONS}"));
                None
            }
        }
    }

    pub async fn apply(&self, store: &dyn Store, input: &ActionInput<'_>) -> Result<Outcome, ActionError> {
        let result = match self {
            Action::Create(a) => a.apply(store, input).await,
            Action::Read(a) => a.apply(store, input).await,
            Action::Update(a) => a.apply(store, input).await,
            Action::Delete(a) => a.apply(store, input).await,
            Action::List(a) => a.apply(store, input).await,
            Action::Atomic(a) => a.apply(store, input).await,
        };
        // This instance's own writes are never hidden by its read cache.
        match self {
            Action::Read(_) | Action::List(_) => {}
            Action::Atomic(a) => a.ops.iter().for_each(|op| {
                input.cache.invalidate(Some(op.entity()));
            }),
            write => {
                input.cache.invalidate(Some(write.entity()));
            }
        }
        result
    }

    /// Whether it may add entities (a create, or an atomic block with one).
    pub fn creates(&self) -> bool {
        match self {
            Action::Create(_) => true,
            Action::Atomic(a) => a.ops.iter().any(|op| matches!(op, atomic::AtomicOp::Create(_))),
            _ => false,
        }
    }

    pub fn entity(&self) -> &str {
        match self {
            Action::Create(a) => &a.entity,
            Action::Read(a) => &a.entity,
            Action::Update(a) => &a.entity,
            Action::Delete(a) => &a.entity,
            Action::List(a) => &a.entity,
            Action::Atomic(a) => a.entity(),
        }
    }
}

/// Where an action finds the id of the entity it works on.
#[derive(Debug, Clone)]
pub struct KeySource {
    /// Path parameter, query parameter or body field name.
    pub field: String,
}

impl KeySource {
    /// `key_field` if given; otherwise the endpoint's last path parameter, or `id`.
    fn from_def(def: &PersistenceDef, cx: &CompileCx<'_>) -> KeySource {
        let field = def
            .key_field
            .clone()
            .or_else(|| def.id_path_param.clone())
            .or_else(|| def.key_pattern.as_deref().and_then(placeholder))
            .or_else(|| cx.params.last().cloned())
            .unwrap_or_else(|| "id".to_owned());
        KeySource { field }
    }

    /// The value of `field` in the request: the path parameter, then the query
    /// parameter, then the body field. An id belongs to the URL first, so a body that
    /// carries its own `id` cannot redirect an update to another entity. (Templates'
    /// `{{request.x}}` looks in the opposite order, body first, because there the
    /// body's fields are the data being written; `{{request.path.x}}` and friends say
    /// which one explicitly.)
    fn value_of<'r>(field: &str, req: &'r RequestData) -> Option<&'r Value> {
        req.params.get(field).or_else(|| req.query.get(field)).or_else(|| req.body.get(field))
    }

    fn resolve(&self, req: &RequestData) -> Result<String, ActionError> {
        // A logout names no id: `session_id` is the authenticated session's own.
        let own_session = || (self.field == "session_id").then(|| req.session.get(ID_FIELD)).flatten();
        let v = Self::value_of(&self.field, req).or_else(own_session);
        v.and_then(id_key).ok_or_else(|| ActionError::MissingId { field: self.field.clone() })
    }
}

/// The field that holds an entity's id in stored entities.
pub const ID_FIELD: &str = "id";
/// Template variables the actions set.
pub const STORED_ENTITY: &str = "stored_entity";
pub const ENTITY_ID: &str = "entity_id";
pub const GENERATED_ID: &str = "generated_id";
pub const PREVIOUS_ENTITY: &str = "previous_entity";
pub const CREATED_AT: &str = "created_at";
pub const UPDATED_AT: &str = "updated_at";

/// The error for a plan that failed for good.
fn plan_error(e: PlanError, entity: &str, id: &str) -> ActionError {
    match e {
        PlanError::Retry => ActionError::WriteConflict { entity: entity.to_owned(), id: id.to_owned() },
        PlanError::Main(crate::store::Found::Missing, entity, id) => ActionError::NotFound { entity, id },
        PlanError::Main(_, entity, id) => ActionError::AlreadyExists { entity, id },
        PlanError::Unique { entity, field, value } => ActionError::UniqueViolation { entity, field, value },
        PlanError::Dangling(v) => ActionError::Invalid { entity: entity.to_owned(), violations: vec![v] },
        PlanError::Required(message) => ActionError::ReferenceNotFound { message },
        PlanError::Store(e) => ActionError::Store(e),
    }
}

/// `ETag: "<version>"` for an entity type that is locked optimistically.
fn etag(rules: &rules::EntityRules, entity: &serde_json::Value) -> Vec<(String, String)> {
    match &rules.version_field {
        Some(f) => vec![("ETag".to_owned(), format!("\"{}\"", rules::version_of(entity, f)))],
        None => Vec::new(),
    }
}

/// How many times an action that reads, computes and commits tries again when another
/// write got in between. Each failed try means another writer succeeded, so even a
/// hot row drains; the bound only guards against pathological starvation.
const MAX_ATTEMPTS: u32 = 64;

/// Runs a read → compute → commit attempt until it commits: a plan that failed only
/// because something it read changed meanwhile ([`PlanError::Retry`]) is tried again
/// after a short pause; any other failure is final and becomes the action's error for
/// `entity`/`id`.
async fn retrying<T>(
    entity: &str,
    id: &str,
    mut attempt: impl AsyncFnMut() -> Result<Result<T, PlanError>, ActionError>,
) -> Result<T, ActionError> {
    for n in 0..MAX_ATTEMPTS {
        match attempt().await? {
            Ok(done) => return Ok(done),
            Err(PlanError::Retry) => back_off(n).await,
            Err(e) => return Err(plan_error(e, entity, id)),
        }
    }
    Err(ActionError::WriteConflict { entity: entity.to_owned(), id: id.to_owned() })
}

/// A short random pause before trying again, growing with the attempt, so that
/// writers contending for one entity spread out instead of colliding in lockstep.
async fn back_off(attempt: u32) {
    let ceiling_us = 200u64 << attempt.min(6);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let jitter = (u64::from(nanos) ^ u64::from(attempt).wrapping_mul(0x9E37_79B9)) % ceiling_us;
    tokio::time::sleep(std::time::Duration::from_micros(jitter)).await;
}

/// A persistence action with its `error_handling`.
#[derive(Debug)]
pub struct Persist {
    pub action: Action,
    pub on_error: ErrorHandling,
    /// `create users`, `atomic (3 operations)`: for access logs.
    pub label: std::sync::Arc<str>,
}

/// What a failure of the action turns into.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorHandling {
    /// Store unavailable: render the chosen response anyway (without results)
    /// instead of answering 503.
    pub fallback_on_connection_failure: bool,
    /// Entity missing: render the chosen response anyway instead of answering 404.
    pub fallback_on_not_found: bool,
    /// Validation failures answer 422 instead of 400.
    pub validation_status_422: bool,
}

/// What the gateway does with a failed action.
pub enum Recovery {
    /// Answer with this error.
    Fail(ActionError),
    /// Go on to render the response without the action's results.
    Fallback,
}

impl Persist {
    pub fn parse(def: &PersistenceDef, at: &str, cx: &mut CompileCx<'_>) -> Option<Persist> {
        let on_error = ErrorHandling::parse(def.error_handling.as_ref(), &format!("{at}.error_handling"), cx)?;
        let action = Action::parse(def, at, cx)?;
        let label = action.label().into();
        Some(Persist { action, on_error, label })
    }
}

impl Action {
    /// The action and its entity type, e.g. `update products`.
    pub fn label(&self) -> String {
        match self {
            Action::Create(a) => format!("create {}", a.entity),
            Action::Read(a) => format!("read {}", a.entity),
            Action::Update(a) => format!("update {}", a.entity),
            Action::Delete(a) => format!("delete {}", a.entity),
            Action::List(a) => format!("list {}", a.entity),
            Action::Atomic(a) => {
                let ops: Vec<String> = a.ops.iter().map(atomic::AtomicOp::label).collect();
                format!("atomic [{}]", ops.join(", "))
            }
        }
    }
}

impl ErrorHandling {
    fn parse(def: Option<&crate::config::ErrorHandlingDef>, at: &str, cx: &mut CompileCx<'_>) -> Option<ErrorHandling> {
        let Some(def) = def else { return Some(ErrorHandling::default()) };
        let mut ok = true;
        let mut pick = |field: &str, value: Option<&str>, default: &str, other: &str| -> bool {
            match value {
                None => false,
                Some(v) if v == default => false,
                Some(v) if v == other => true,
                Some(v) => {
                    cx.problem(
                        format!("{at}.{field}"),
                        format!("unknown choice {v:?}"),
                        format!("\"{default}\" or \"{other}\""),
                    );
                    ok = false;
                    false
                }
            }
        };
        let handling = ErrorHandling {
            fallback_on_connection_failure: pick(
                "on_connection_failure",
                def.on_connection_failure.as_deref(),
                "return_503",
                "fallback_response",
            ),
            fallback_on_not_found: pick(
                "on_data_not_found",
                def.on_data_not_found.as_deref(),
                "return_404",
                "fallback_response",
            ),
            validation_status_422: pick(
                "on_validation_error",
                def.on_validation_error.as_deref(),
                "return_400",
                "return_422",
            ),
        };
        ok.then_some(handling)
    }

    /// Decides what a failure becomes. (Whether a validation failure answers 422 is
    /// the response's business: see [`ErrorHandling::validation_status_422`].)
    pub fn recover(&self, e: ActionError) -> Recovery {
        match e {
            ActionError::Store(e) if e.is_unavailable() && self.fallback_on_connection_failure => Recovery::Fallback,
            ActionError::NotFound { .. } if self.fallback_on_not_found => Recovery::Fallback,
            e => Recovery::Fail(e),
        }
    }
}

/// The last `{name}` of a key or index pattern.
pub fn placeholder(pattern: &str) -> Option<String> {
    let start = pattern.rfind('{')?;
    let end = start + pattern[start..].find('}')?;
    let name = &pattern[start + 1..end];
    (!name.is_empty()).then(|| name.to_owned())
}

/// The stored entity, or `NotFound`: what every action that changes one starts with.
async fn existing(store: &dyn Store, entity: &str, id: &str) -> Result<Value, ActionError> {
    store.get(entity, id).await?.ok_or_else(|| ActionError::NotFound { entity: entity.to_owned(), id: id.to_owned() })
}
