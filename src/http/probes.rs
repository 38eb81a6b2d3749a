//! Liveness and readiness, unauthenticated and without details (those are behind the
//! key at `/system/health`): `/healthz` answers while the process serves, `/readyz`
//! only while its backend answers too. Neither is written to the access log unless
//! `mockgate::access=debug` asks for it.

use super::state::AppState;
use actix_web::{HttpResponse, web};
use serde_json::json;

/// The paths of the probes, which the access log keeps quiet about.
pub const PATHS: [&str; 2] = ["/healthz", "/readyz"];

pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    match state.gateway().store().info().await {
        Ok(_) => HttpResponse::Ok().json(json!({"status": "ready"})),
        Err(_) => {
            HttpResponse::ServiceUnavailable().insert_header(("Retry-After", "1")).json(json!({"status": "not ready"}))
        }
    }
}
