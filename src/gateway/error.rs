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
use crate::routing::Miss;
use crate::store::StoreError;
use crate::telemetry::error_chain;
use crate::template::RenderError;
use serde_json::{Value, json};

type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `guess`: the endpoint that came closest, when one is near.
    #[error("no endpoint matches {method} {path}")]
    NoRoute { method: String, path: String, guess: Option<Box<Miss>> },
    #[error("{method} is not allowed here; allowed: {}", .allowed.join(", "))]
    MethodNotAllowed { method: String, allowed: Vec<String> },
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    SystemAuth(#[from] SystemAuthError),
    #[error("request body is larger than the {limit}-byte limit")]
    PayloadTooLarge { limit: usize },
    #[error("the request body did not arrive within {seconds} s")]
    BodyTimeout { seconds: f64 },
    #[error("this instance serves as many connections as it may; try again shortly")]
    TooManyConnections,
    #[error("content type {found:?} is not supported here; send application/json")]
    UnsupportedMediaType { found: String },
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(#[source] serde_json::Error),
    #[error("bad form body: {0}")]
    MalformedForm(#[source] serde_urlencoded::de::Error),
    #[error("could not read the body: {0}")]
    UnreadableBody(#[source] Cause),
    #[error("{} failed validation ({} problem{})", validated(.0), .0.len(), if .0.len() == 1 { "" } else { "s" })]
    Validation(Vec<Violation>),
    /// A validation failure on an endpoint whose `error_handling` asks for 422.
    #[error("the {entity} failed validation ({} problem{})", .violations.len(), if .violations.len() == 1 { "" } else { "s" })]
    Unprocessable { entity: String, violations: Vec<Violation> },
    /// A chaos rule's `rate_limit`.
    #[error("rate limit exceeded; retry in {retry_after} s")]
    RateLimited { retry_after: u64 },
    /// A chaos rule's `store: conflict`: what a lost compare-and-set answers (412 when
    /// the request named a version with `If-Match`).
    #[error("the entity changed meanwhile; read it again and retry (injected by chaos rule {rule})")]
    InjectedConflict { rule: String, precondition: bool },
    /// A chaos rule's `store: unavailable`.
    #[error("the storage backend is unavailable (injected by chaos rule {rule})")]
    InjectedUnavailable { rule: String },
    #[error("the request journal is off on this server (journal.enabled is false, or --no-journal)")]
    JournalDisabled,
    #[error("no response rule matches this request")]
    NoMatchingResponse { guess: Option<Box<Miss>> },
    /// Mock-and-Roll's `required_headers`.
    #[error("Missing or invalid header: {name}")]
    HeaderMismatch { name: String, expected: String, received: Option<String> },
    #[error("query parameter `{name}` is required")]
    MissingQueryParameter { name: String },
    #[error("bad {what}: {source}")]
    BadRequestPart { what: &'static str, source: Cause },
    #[error("this endpoint's status_code template rendered {rendered}, not a status from 200 to 599")]
    BadStatusTemplate { rendered: Value },
    #[error(transparent)]
    Action(#[from] ActionError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Namespace(#[from] crate::namespaces::NamespaceError),
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
            ApiError::SystemAuth(SystemAuthError::LoopbackOnly) => (403, "system_key_not_configured"),
            ApiError::PayloadTooLarge { .. } => (413, "payload_too_large"),
            ApiError::BodyTimeout { .. } => (408, "request_timeout"),
            ApiError::TooManyConnections => (503, "too_many_connections"),
            ApiError::UnsupportedMediaType { .. } => (415, "unsupported_media_type"),
            ApiError::MalformedJson(_) | ApiError::MalformedForm(_) | ApiError::UnreadableBody(_) => {
                (400, "malformed_json")
            }
            ApiError::Validation(_) => (400, "validation_failed"),
            ApiError::Unprocessable { .. } => (422, "validation_failed"),
            ApiError::NoMatchingResponse { .. } => (400, "no_matching_response"),
            ApiError::JournalDisabled => (409, "journal_disabled"),
            ApiError::RateLimited { .. } => (429, "rate_limited"),
            ApiError::InjectedConflict { precondition: false, .. } => (409, "version_conflict"),
            ApiError::InjectedConflict { precondition: true, .. } => (412, "precondition_failed"),
            ApiError::InjectedUnavailable { .. } => (503, "backend_unavailable"),
            ApiError::HeaderMismatch { .. } => (400, "header_mismatch"),
            ApiError::MissingQueryParameter { .. } => (400, "missing_query_parameter"),
            ApiError::BadRequestPart { .. } => (400, "bad_request"),
            ApiError::BadStatusTemplate { .. } => (500, "invalid_status_template"),
            ApiError::Action(a) => action_status(a),
            ApiError::Admin(a) => match a {
                AdminError::Invalid(_) => (400, "validation_failed"),
                AdminError::NotFound { .. } => (404, "entity_not_found"),
                AdminError::NoDataFile { .. } => (400, "bad_request"),
                AdminError::Changed { .. } => (409, "write_conflict"),
                AdminError::Store(s) => store_status(s),
            },
            ApiError::Render(r) => render_status(r),
            ApiError::Namespace(n) => {
                use crate::namespaces::NamespaceError as N;
                match n {
                    N::BadName(_) => (400, "invalid_namespace"),
                    N::Exists(_) => (409, "namespace_exists"),
                    N::NotFound(_) => (404, "namespace_not_found"),
                    N::TooMany { .. } => (429, "too_many_namespaces"),
                    N::NotReady(_) => (503, "namespace_not_ready"),
                    N::Full { .. } => (507, "namespace_full"),
                    N::Admin(AdminError::NotFound { .. }) => (404, "snapshot_not_found"),
                    N::Admin(AdminError::Invalid(_)) => (400, "validation_failed"),
                    N::Admin(AdminError::Store(s)) | N::Store(s) => store_status(s),
                    N::Admin(_) => (400, "bad_request"),
                }
            }
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

    fn body(&self, code: &str) -> Value {
        // An internal failure tells the client nothing; a profile's own mistake (its
        // status template) says what it is, since nothing internal is in it.
        let message =
            if code == "internal_error" { "internal error; see the server log".to_owned() } else { self.to_string() };
        let mut error = json!({"code": code, "message": message});
        if let Some(v) = self.violations() {
            error["violations"] = json!(v);
        }
        if let ApiError::MethodNotAllowed { allowed, .. } = self {
            error["allowed"] = json!(allowed);
        }
        if let ApiError::NoRoute { guess: Some(g), .. } | ApiError::NoMatchingResponse { guess: Some(g) } = self {
            let mut guess = json!({"method": g.method, "path": g.route, "why": g.why});
            if let Some(rule) = g.rule {
                guess["response_rule"] = json!(rule);
            }
            error["did_you_mean"] = guess;
        }
        if let ApiError::HeaderMismatch { expected, received, .. } = self {
            error["expected"] = json!(expected);
            error["received"] = json!(received);
        }
        if let ApiError::Action(ActionError::Protected { .. }) = self {
            // Mock-and-Roll's body, which its users' clients read, next to ours.
            return json!({
                "error": error,
                "message": "This resource is protected and cannot be deleted.",
                "errors": [{"description": "Protected resources from the initial configuration are read-only."}],
            });
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
            ApiError::RateLimited { retry_after } => headers.push(("Retry-After".into(), retry_after.to_string())),
            _ if status == 503 => headers.push(("Retry-After".into(), "1".into())),
            _ => {}
        }
        Reply { status, headers, body: Some(self.body(code)) }
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
        ActionError::ReferenceNotFound { .. } => (404, "reference_not_found"),
        ActionError::Protected { .. } => (403, "protected"),
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
        StoreError::TooDeep { .. } => (400, "too_deeply_nested"),
        StoreError::Unavailable(_) | StoreError::Indeterminate(_) => (503, "backend_unavailable"),
        _ => (500, "internal_error"),
    }
}

/// What failed: the body, or the request when a parameter did (`/query/limit`).
fn validated(violations: &[Violation]) -> &'static str {
    let param = |p: &str| ["/path/", "/query/", "/header/", "/cookie/"].iter().any(|s| p.starts_with(s));
    if violations.iter().any(|v| param(&v.path)) { "request" } else { "request body" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Found;

    fn v() -> Vec<Violation> {
        vec![Violation { path: "/email".into(), message: "is required".into() }]
    }

    fn down() -> StoreError {
        StoreError::Unavailable("connection refused".into())
    }

    /// Every error the server can answer with: its status, its code, and whether the
    /// body lists violations. A change here is a change of the public API.
    #[test]
    fn every_error_has_one_status_and_one_code() {
        let json_error = serde_json::from_str::<Value>("{").unwrap_err();
        let form_error = serde_urlencoded::from_bytes::<Vec<(String, u32)>>(b"n=x").unwrap_err();
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (ApiError::NoRoute { method: "GET".into(), path: "/x".into(), guess: None }, 404, "route_not_found"),
            (
                ApiError::MethodNotAllowed { method: "PUT".into(), allowed: vec!["GET".into()] },
                405,
                "method_not_allowed",
            ),
            (
                ApiError::Auth(AuthError::Missing { expected: vec![], challenges: vec![] }),
                401,
                "authentication_required",
            ),
            (ApiError::Auth(AuthError::Invalid { challenges: vec![] }), 401, "invalid_credentials"),
            (
                ApiError::Auth(AuthError::InsufficientScope { missing: vec!["w".into()], challenges: vec![] }),
                403,
                "insufficient_scope",
            ),
            (ApiError::SystemAuth(SystemAuthError::Missing), 401, "system_key_missing"),
            (ApiError::SystemAuth(SystemAuthError::Wrong), 403, "system_key_invalid"),
            (ApiError::SystemAuth(SystemAuthError::LoopbackOnly), 403, "system_key_not_configured"),
            (ApiError::PayloadTooLarge { limit: 10 }, 413, "payload_too_large"),
            (ApiError::BodyTimeout { seconds: 10.0 }, 408, "request_timeout"),
            (ApiError::TooManyConnections, 503, "too_many_connections"),
            (ApiError::UnsupportedMediaType { found: "text/xml".into() }, 415, "unsupported_media_type"),
            (ApiError::MalformedJson(json_error), 400, "malformed_json"),
            (ApiError::UnreadableBody("reset".into()), 400, "malformed_json"),
            (ApiError::Validation(v()), 400, "validation_failed"),
            (ApiError::Unprocessable { entity: "users".into(), violations: v() }, 422, "validation_failed"),
            (ApiError::NoMatchingResponse { guess: None }, 400, "no_matching_response"),
            (ApiError::JournalDisabled, 409, "journal_disabled"),
            (ApiError::BadRequestPart { what: "query string", source: "x".into() }, 400, "bad_request"),
            (ApiError::BadStatusTemplate { rendered: json!(999) }, 500, "invalid_status_template"),
            (ApiError::Render(RenderError::Handlebars("x".into())), 500, "internal_error"),
            (ApiError::Admin(AdminError::Invalid(v())), 400, "validation_failed"),
            (
                ApiError::Admin(AdminError::NotFound { entity: "snapshot".into(), id: "s".into() }),
                404,
                "entity_not_found",
            ),
            (ApiError::Admin(AdminError::NoDataFile { backend: "memory" }), 400, "bad_request"),
            (ApiError::Admin(AdminError::Changed { entity: "u".into(), id: "1".into() }), 409, "write_conflict"),
            (ApiError::Admin(AdminError::Store(down())), 503, "backend_unavailable"),
        ];
        let action = |e: ActionError| ApiError::Action(e);
        let (entity, id) = ("users".to_owned(), "1".to_owned());
        let actions: Vec<(ApiError, u16, &str)> = vec![
            (action(ActionError::NotFound { entity: entity.clone(), id: id.clone() }), 404, "entity_not_found"),
            (action(ActionError::Invalid { entity: entity.clone(), violations: v() }), 400, "validation_failed"),
            (
                action(ActionError::UniqueViolation {
                    entity: entity.clone(),
                    field: "email".into(),
                    value: "a".into(),
                }),
                409,
                "unique_violation",
            ),
            (
                action(ActionError::VersionConflict { entity: entity.clone(), id: id.clone(), expected: 1, actual: 2 }),
                409,
                "version_conflict",
            ),
            (
                action(ActionError::PreconditionFailed {
                    entity: entity.clone(),
                    id: id.clone(),
                    expected: "1".into(),
                    actual: 2,
                }),
                412,
                "precondition_failed",
            ),
            (
                action(ActionError::Restricted {
                    entity: entity.clone(),
                    id: id.clone(),
                    by: "orders".into(),
                    count: 1,
                }),
                409,
                "delete_restricted",
            ),
            (action(ActionError::AlreadyExists { entity: entity.clone(), id: id.clone() }), 409, "already_exists"),
            (action(ActionError::MissingId { field: "id".into() }), 400, "missing_id"),
            (action(ActionError::BadId { entity: entity.clone() }), 400, "invalid_id"),
            (action(ActionError::NotAnObject { entity: entity.clone() }), 400, "invalid_body"),
            (action(ActionError::BadQuery { param: "limit".into(), message: "x".into() }), 400, "invalid_query"),
            (action(ActionError::WriteConflict { entity: entity.clone(), id: id.clone() }), 409, "write_conflict"),
            (
                action(ActionError::Store(StoreError::ConditionFailed {
                    index: 0,
                    entity: entity.clone(),
                    id: id.clone(),
                    found: Found::Changed,
                })),
                409,
                "conflict",
            ),
            (action(ActionError::Store(down())), 503, "backend_unavailable"),
            (action(ActionError::Store(StoreError::Indeterminate("reset".into()))), 503, "backend_unavailable"),
            (
                action(ActionError::Store(StoreError::TooDeep {
                    entity: entity.clone(),
                    id: id.clone(),
                    path: "/a".into(),
                })),
                400,
                "too_deeply_nested",
            ),
            (
                action(ActionError::Store(StoreError::Corrupt { path: "db.json".into(), reason: "x".into() })),
                500,
                "internal_error",
            ),
        ];
        let form = (ApiError::MalformedForm(form_error), 400, "malformed_json");
        for (e, status, code) in cases.into_iter().chain(actions).chain([form]) {
            assert_eq!(e.status_and_code(), (status, code), "{e:?}");
            let reply = e.to_reply();
            assert_eq!(reply.status, status, "{e:?}");
            let body = reply.body.expect("every error has a body");
            let error = body["error"].as_object().expect("{\"error\": {...}}");
            assert_eq!(error["code"], code);
            assert!(error["message"].is_string());
            if code == "internal_error" {
                assert_eq!(error["message"], "internal error; see the server log", "500s say nothing internal");
            }
            assert_eq!(error.contains_key("violations"), e.violations().is_some(), "{e:?}");
            let retry = reply.headers.iter().any(|(k, v)| k == "Retry-After" && v == "1");
            assert_eq!(retry, status == 503, "{e:?}: Retry-After on every 503 only");
        }
    }

    #[test]
    fn error_bodies_carry_their_details_and_headers() {
        let e = ApiError::Validation(v());
        assert_eq!(
            e.to_reply().body.unwrap(),
            json!({"error": {"code": "validation_failed", "message": "request body failed validation (1 problem)",
                   "violations": [{"path": "/email", "message": "is required"}]}})
        );
        let e = ApiError::MethodNotAllowed { method: "PUT".into(), allowed: vec!["GET".into(), "DELETE".into()] };
        let reply = e.to_reply();
        assert_eq!(reply.body.unwrap()["error"]["allowed"], json!(["GET", "DELETE"]));
        assert!(reply.headers.contains(&("Allow".into(), "GET, DELETE".into())));
        let reply = ApiError::SystemAuth(SystemAuthError::Missing).to_reply();
        assert!(reply.headers.contains(&("WWW-Authenticate".into(), "SystemKey header=\"X-System-Key\"".into())));
    }

    #[test]
    fn validation_failures_answer_422_only_when_the_endpoint_asks() {
        let invalid = || ActionError::Invalid { entity: "users".into(), violations: v() };
        let plain = ErrorHandling::default();
        let asks = ErrorHandling { validation_status_422: true, ..ErrorHandling::default() };
        assert_eq!(ApiError::from_action(invalid(), &plain).status_and_code().0, 400);
        assert_eq!(ApiError::from_action(invalid(), &asks).status_and_code().0, 422);
        let missing = ActionError::NotFound { entity: "users".into(), id: "1".into() };
        assert_eq!(ApiError::from_action(missing, &asks).status_and_code().0, 404);
    }
}
