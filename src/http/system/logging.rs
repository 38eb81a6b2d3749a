//! Mock-and-Roll's `/system/logging/*`: the logging settings, changing the level of the
//! running server, and reading or emptying its log file.

use super::Answer;
use crate::http::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};

/// `allow_log_deletion` as changed at run time: 0 unchanged, 1 false, 2 true.
static DELETION: AtomicU8 = AtomicU8::new(0);

fn error(status: u16, code: &str, message: impl Into<String>) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    HttpResponse::build(status).json(json!({"error": {"code": code, "message": message.into()}}))
}

/// The file this server logs to: a background server's, else the profile's `logging.file`.
fn log_file(state: &AppState) -> Option<PathBuf> {
    std::env::var_os("MOCKGATE_LOG_FILE").map(PathBuf::from).or_else(|| state.gateway().profile().logging.file.clone())
}

fn deletion_allowed(state: &AppState) -> bool {
    match DELETION.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => state.gateway().profile().logging.allow_deletion,
    }
}

fn status_data(state: &AppState) -> Value {
    let gateway = state.gateway();
    let logging = &gateway.profile().logging;
    let file = log_file(state);
    let size = file.as_ref().and_then(|f| std::fs::metadata(f).ok()).map(|m| m.len());
    json!({
        "enabled": true,
        "level": crate::telemetry::current_level().unwrap_or_else(|| logging.level.clone()).to_ascii_uppercase(),
        "console_enabled": std::env::var_os("MOCKGATE_LOG_FILE").is_none(),
        "file_enabled": file.is_some(),
        "file_path": file.as_ref().map(|f| f.display().to_string()),
        "format": "json",
        "max_file_size_mb": logging.max_bytes / (1024 * 1024),
        "backup_count": logging.max_files,
        "max_body_log_size": logging.body_bytes,
        "request_response_logging": true,
        "allow_log_deletion": deletion_allowed(state),
        "file_exists": size.is_some(),
        "file_size_bytes": size.unwrap_or(0),
        "file_size_mb": (size.unwrap_or(0) as f64 / (1024.0 * 1024.0) * 100.0).round() / 100.0,
    })
}

pub async fn status(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "success", "data": status_data(&state)}))
}

/// Changes `level` and `allow_log_deletion` of the running server; the other settings
/// (file, size, format) are fixed at start and say so.
pub async fn config(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let bytes = super::body(&req, payload, &state).await?;
    let body: Map<String, Value> = serde_json::from_slice(&bytes).map_err(crate::gateway::ApiError::MalformedJson)?;
    if body.is_empty() {
        return Ok(error(400, "bad_request", "No configuration parameters provided"));
    }
    let fixed: Vec<&str> =
        body.keys().map(String::as_str).filter(|k| !["level", "allow_log_deletion"].contains(k)).collect();
    if !fixed.is_empty() {
        let message = format!(
            "{} cannot change while the server runs (set them under logging in api.json); level and allow_log_deletion can",
            fixed.join(", ")
        );
        return Ok(error(400, "bad_request", message));
    }
    let allow = match body.get("allow_log_deletion") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            return Ok(error(400, "bad_request", format!("allow_log_deletion must be true or false, not {other}")));
        }
    };
    if let Some(level) = body.get("level") {
        let Some(level) = level.as_str() else {
            return Ok(error(
                400,
                "bad_request",
                "Invalid log level. Must be one of: DEBUG, INFO, WARNING, ERROR, CRITICAL",
            ));
        };
        if let Err(message) = crate::telemetry::set_level(level) {
            return Ok(error(400, "bad_request", message));
        }
    }
    if let Some(allow) = allow {
        DELETION.store(if allow { 2 } else { 1 }, Ordering::Relaxed);
    }
    Ok(HttpResponse::Ok().json(json!({
        "status": "success",
        "message": "Logging configuration updated successfully",
        "data": status_data(&state),
    })))
}

#[derive(serde::Deserialize)]
pub struct LinesQuery {
    lines: Option<String>,
}

/// The last `lines` (1 to 10000, default 50) lines of the log file.
pub async fn logs(state: web::Data<AppState>, query: web::Query<LinesQuery>) -> Answer {
    let n = match query.lines.as_deref().map(str::parse::<usize>) {
        None => 50,
        Some(Ok(n)) if (1..=10_000).contains(&n) => n,
        Some(_) => return Ok(error(400, "invalid_query", "lines must be a whole number from 1 to 10000")),
    };
    let (total, lines) = match log_file(&state).map(|f| crate::telemetry::tail(&f, n)) {
        Some(Ok(found)) => found,
        Some(Err(e)) => return Ok(error(500, "internal_error", format!("cannot read the log file: {e}"))),
        None => (0, Vec::new()),
    };
    Ok(HttpResponse::Ok().json(json!({
        "status": "success",
        "data": {"total_lines": total, "returned_lines": lines.len(), "logs": lines},
    })))
}

/// Empties the log file, unless `allow_log_deletion` is false.
pub async fn clear(state: web::Data<AppState>) -> Answer {
    if !deletion_allowed(&state) {
        return Ok(error(403, "forbidden", "Log file deletion is disabled in the configuration"));
    }
    if let Some(Err(e)) = log_file(&state).map(|f| crate::telemetry::clear(&f)) {
        return Ok(error(500, "internal_error", format!("cannot empty the log file: {e}")));
    }
    Ok(HttpResponse::Ok().json(json!({"status": "success", "message": "Log file cleared successfully"})))
}
