//! The one place failures become HTTP: each error has a status and a stable
//! snake_case code, and every error body has the same shape:
//! `{"error": {"code": "...", "message": "...", "violations": [...]?}}`.
//! A 500 tells the client nothing internal; the cause is logged once.

use crate::auth::{AuthError, SystemAuthError};
use crate::gateway::Reply;
use crate::persistence::ActionError;
use crate::store::StoreError;
use crate::template::RenderError;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

/// One failed check of a request body, with the JSON pointer of the offending value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    pub path: String,
    pub message: String,
}

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
    MalformedJson(String),
    #[error("request body failed validation ({} problem{})", .0.len(), if .0.len() == 1 { "" } else { "s" })]
    Validation(Vec<Violation>),
    #[error("no response rule matches this request")]
    NoMatchingResponse,
    #[error(transparent)]
    Action(#[from] ActionError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
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
            ApiError::MalformedJson(_) => (400, "malformed_json"),
            ApiError::Validation(_) => (400, "validation_failed"),
            ApiError::NoMatchingResponse => (400, "no_matching_response"),
            ApiError::Action(a) => match a {
                ActionError::NotFound { .. } => (404, "entity_not_found"),
                ActionError::Invalid { .. } => (400, "validation_failed"),
                ActionError::Unprocessable { .. } => (422, "validation_failed"),
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
            },
            ApiError::Render(r) => render_status(r),
            ApiError::BadRequest(_) => (400, "bad_request"),
            ApiError::Internal(_) => (500, "internal_error"),
        }
    }

    fn body(&self, status: u16, code: &str) -> Value {
        let message = if status == 500 { "internal error; see the server log".to_owned() } else { self.to_string() };
        let mut error = json!({"code": code, "message": message});
        if let ApiError::Validation(v)
        | ApiError::Action(
            ActionError::Invalid { violations: v, .. } | ActionError::Unprocessable { violations: v, .. },
        ) = self
        {
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

/// `error: cause: cause`, for the log.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

impl actix_web::ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status_and_code().0).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        self.to_reply().into()
    }
}

impl From<Reply> for HttpResponse {
    fn from(reply: Reply) -> HttpResponse {
        let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = HttpResponse::build(status);
        let mut content_type: Option<String> = None;
        for (name, value) in &reply.headers {
            if name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.clone());
            }
            res.append_header((name.as_str(), value.as_str()));
        }
        let no_body = matches!(reply.status, 204 | 304) || reply.status < 200;
        match reply.body {
            Some(_) if no_body => res.finish(),
            None => res.finish(),
            // A string body under a non-JSON content type is sent as text.
            Some(Value::String(s)) if content_type.as_deref().is_some_and(|c| !c.contains("json")) => res.body(s),
            Some(v) => {
                if content_type.is_none() {
                    res.insert_header(("content-type", "application/json"));
                }
                res.body(serde_json::to_vec(&v).unwrap_or_default())
            }
        }
    }
}
