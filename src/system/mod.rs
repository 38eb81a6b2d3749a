//! The `/system` admin API, behind the `X-System-Key` guard.

use crate::error::ApiError;
use crate::server::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::scope("/system").route("/health", web::get().to(health)));
}

/// The guard, applied by every handler first.
fn guard(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let ctx = crate::server::credentials(req);
    state.gateway.profile().system.check(&ctx).map_err(ApiError::from)
}

async fn health(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    guard(&req, &state)?;
    let store = state.gateway.store();
    let counts = store.counts().await.map_err(crate::persistence::ActionError::from)?;
    let entities: serde_json::Map<String, serde_json::Value> =
        // `__unique.*` tables are bookkeeping for unique fields, not user data.
        counts.into_iter().filter(|(k, _)| !k.starts_with("__")).map(|(k, v)| (k, json!(v))).collect();
    let profile = state.gateway.profile();
    Ok(HttpResponse::Ok().json(json!({
        "status": "healthy",
        "profile": profile.name,
        "api": {"name": profile.info.name, "version": profile.info.version},
        "backend": store.backend(),
        "uptime_seconds": state.started.elapsed().as_secs(),
        "entities": entities,
        "version": env!("CARGO_PKG_VERSION"),
    })))
}
