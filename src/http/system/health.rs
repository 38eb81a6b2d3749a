//! `/system/health` and the Prometheus metrics.

use super::Answer;
use crate::http::state::AppState;
use actix_web::{HttpResponse, web};
use serde_json::json;

pub async fn health(state: web::Data<AppState>) -> Answer {
    let gateway = state.gateway();
    let store = gateway.store();
    let profile = gateway.profile();
    let mut body = json!({
        "profile": profile.name,
        "api": {"name": profile.info.name, "version": profile.info.version},
        "backend": store.backend(),
        "uptime_seconds": state.started.elapsed().as_secs(),
        "profile_reloads": state.reloader.log().status(),
        "version": env!("CARGO_PKG_VERSION"),
        "instance": state.journals.instance(),
        "journal": {
            "enabled": state.journals.enabled(),
            "shared": state.journals.is_shared(),
            "max_entries": state.journals.settings().max_entries,
            "max_body_bytes": state.journals.settings().max_body_bytes,
            "dropped": state.journals.dropped(),
        },
    });
    match crate::admin::status(store).await {
        Ok((info, entities)) => {
            body["status"] = json!("healthy");
            body["namespaces"] = json!(gateway.namespaces().count().await.ok());
            body[store.backend()] = info;
            body["entities"] = json!(entities);
            Ok(HttpResponse::Ok().json(body))
        }
        Err(e) => {
            body["status"] = json!("unhealthy");
            body["reason"] = json!(crate::telemetry::error_chain(&e));
            if store.backend() == "redis" {
                body["redis"] = json!({"connected": false});
            }
            Ok(HttpResponse::ServiceUnavailable().insert_header(("Retry-After", "1")).json(body))
        }
    }
}

/// Prometheus text. Also served at `/metrics` (same guard; Prometheus sends the key
/// as `Authorization: Bearer <key>` with `authorization: {credentials: <key>}`).
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let counts = state.gateway().store().counts().await.ok();
    let text = state.metrics.render(counts.as_deref());
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(text)
}
