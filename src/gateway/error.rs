//! The one table where failures become HTTP answers: each error has a status and a
//! stable snake_case code, and every error body has the same shape:
//! `{"error": {"code": "...", "message": "...", "violations": [...]?}}`.
//! A 500 tells the client nothing internal; the cause is logged once. This module
//! speaks HTTP in numbers and headers only; the HTTP layer turns a [`Reply`] into a
//! server response.

use super::Reply;
use crate::admin::AdminError;
use crate::auth::{AuthError, SystemAuthError};
use crate::persistence::rules::Violation;
use crate::persistence::{ActionError, ErrorHandling};
use crate::store::StoreError;
use crate::telemetry::error_chain;
use crate::template::RenderError;
use serde_json::{Value, json};

type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no endpoint matches {method} {path}")]
    NoRoute { method: String, path: String },
    #[error("{method} is not allowed here; allowed: {}", .allowed.join(", "))]
    MethodNotAllowed { method: String, allowed: Vec<String> },
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    SystemAuth(#[from] SystemAuthError),
    #[error("request body is larger than the {limit}-byte limit")]
    PayloadTooLarge { limit: usize },
    #[error("content type {found:?} is not supported here; send application/json")]
    UnsupportedMediaType { found: String },
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(#[source] serde_json::Error),
    #[error("bad form body: {0}")]
    MalformedForm(#[source] serde_urlencoded::de::Error),
    #[error("could not read the body: {0}")]
    UnreadableBody(#[source] Cause),
    #[error("request body failed validation ({} problem{})", .0.len(), if .0.len() == 1 { "" } else { "s" })]
    Validation(Vec<Violation>),
    /// A validation failure on an endpoint whose `error_handling` asks for 422.
    #[error("the {entity} failed validation ({} problem{})", .violations.len(), if .violations.len() == 1 { "" } else { "s" })]
    Unprocessable { entity: String, violations: Vec<Violation> },
    #[error("no response rule matches this request")]
    NoMatchingResponse,
    #[error("bad {what}: {source}")]
    BadRequestPart { what: &'static str, source: Cause },
    #[error("status_code template rendered {rendered}, not an HTTP status")]
    BadStatusTemplate { rendered: Value },
    #[error(transparent)]
    Action(#[from] ActionError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Render(#[from] RenderError),
}

impl ApiError {
    /// A failed action, as the endpoint's `error_handling` wants it answered.
    pub fn from_action(e: ActionError, handling: &ErrorHandling) -> ApiError {
        match e {
            ActionError::Invalid { entity, violations } if handling.validation_status_422 => {
                ApiError::Unprocessable { entity, violations }
            }
            e => ApiError::Action(e),
        }
    }

    /// Status and stable code: the whole mapping, in one table.
    pub fn status_and_code(&self) -> (u16, &'static str) {
        match self {
            ApiError::NoRoute { .. } => (404, "route_not_found"),
            ApiError::MethodNotAllowed { .. } => (405, "method_not_allowed"),
            ApiError::Auth(AuthError::Missing { .. }) => (401, "authentication_required"),
            ApiError::Auth(AuthError::Invalid { .. }) => (401, "invalid_credentials"),
            ApiError::Auth(AuthError::InsufficientScope { .. }) => (403, "insufficient_scope"),
            ApiError::SystemAuth(SystemAuthError::Missing) => (401, "system_key_missing"),
            ApiError::SystemAuth(SystemAuthError::Wrong) => (403, "system_key_invalid"),
            ApiError::PayloadTooLarge { .. } => (413, "payload_too_large"),
            ApiError::UnsupportedMediaType { .. } => (415, "unsupported_media_type"),
            ApiError::MalformedJson(_) | ApiError::MalformedForm(_) | ApiError::UnreadableBody(_) => {
                (400, "malformed_json")
            }
            ApiError::Validation(_) => (400, "validation_failed"),
            ApiError::Unprocessable { .. } => (422, "validation_failed"),
            ApiError::NoMatchingResponse => (400, "no_matching_response"),
            ApiError::BadRequestPart { .. } => (400, "bad_request"),
            ApiError::BadStatusTemplate { .. } => (500, "internal_error"),
            ApiError::Action(a) => action_status(a),
            ApiError::Admin(a) => match a {
                AdminError::Invalid(_) => (400, "validation_failed"),
                AdminError::NotFound { .. } => (404, "entity_not_found"),
                AdminError::NoDataFile { .. } => (400, "bad_request"),
                AdminError::Changed { .. } => (409, "write_conflict"),
                AdminError::Store(s) => store_status(s),
            },
            ApiError::Render(r) => render_status(r),
        }
    }

    fn violations(&self) -> Option<&[Violation]> {
        match self {
            ApiError::Validation(v)
            | ApiError::Unprocessable { violations: v, .. }
            | ApiError::Action(ActionError::Invalid { violations: v, .. })
            | ApiError::Admin(AdminError::Invalid(v)) => Some(v),
            _ => None,
        }
    }

    fn body(&self, status: u16, code: &str) -> Value {
        let message = if status == 500 { "internal error; see the server log".to_owned() } else { self.to_string() };
        let mut error = json!({"code": code, "message": message});
        if let Some(v) = self.violations() {
            error["violations"] = json!(v);
        }
        if let ApiError::MethodNotAllowed { allowed, .. } = self {
            error["allowed"] = json!(allowed);
        }
        json!({ "error": error })
    }

    /// The error as a reply, headers included (`WWW-Authenticate`, `Allow`, `Retry-After`).
    pub fn to_reply(&self) -> Reply {
        let (status, code) = self.status_and_code();
        if status >= 500 {
            tracing::error!(error = %error_chain(self), code, "request failed");
        }
        let mut headers = Vec::new();
        match self {
            ApiError::Auth(a) => {
                headers.extend(a.challenges().iter().map(|c| ("WWW-Authenticate".to_owned(), c.clone())))
            }
            ApiError::SystemAuth(SystemAuthError::Missing) => {
                headers.push(("WWW-Authenticate".into(), "SystemKey header=\"X-System-Key\"".into()))
            }
            ApiError::MethodNotAllowed { allowed, .. } => headers.push(("Allow".into(), allowed.join(", "))),
            _ if status == 503 => headers.push(("Retry-After".into(), "1".into())),
            _ => {}
        }
        Reply { status, headers, body: Some(self.body(status, code)) }
    }
}

fn action_status(a: &ActionError) -> (u16, &'static str) {
    match a {
        ActionError::NotFound { .. } => (404, "entity_not_found"),
        ActionError::Invalid { .. } => (400, "validation_failed"),
        ActionError::UniqueViolation { .. } => (409, "unique_violation"),
        ActionError::VersionConflict { .. } => (409, "version_conflict"),
        ActionError::PreconditionFailed { .. } => (412, "precondition_failed"),
        ActionError::Restricted { .. } => (409, "delete_restricted"),
        ActionError::AlreadyExists { .. } => (409, "already_exists"),
        ActionError::MissingId { .. } => (400, "missing_id"),
        ActionError::BadId { .. } => (400, "invalid_id"),
        ActionError::NotAnObject { .. } => (400, "invalid_body"),
        ActionError::BadQuery { .. } => (400, "invalid_query"),
        ActionError::WriteConflict { .. } => (409, "write_conflict"),
        ActionError::Render(r) => render_status(r),
        ActionError::Store(s) => store_status(s),
    }
}

fn render_status(r: &RenderError) -> (u16, &'static str) {
    match r {
        RenderError::Eval { .. } => (400, "invalid_template_input"),
        RenderError::Handlebars(_) => (500, "internal_error"),
    }
}

fn store_status(s: &StoreError) -> (u16, &'static str) {
    match s {
        StoreError::ConditionFailed { .. } => (409, "conflict"),
        StoreError::Unavailable(_) => (503, "backend_unavailable"),
        _ => (500, "internal_error"),
    }
}
