//! Named snapshots of all data: create, list, restore, delete.

use super::Answer;
use crate::admin::{self, AdminError};
use crate::gateway::ApiError;
use crate::http::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct SnapshotBody {
    name: String,
    #[serde(default)]
    description: String,
}

fn body(bytes: &[u8]) -> Result<SnapshotBody, ApiError> {
    serde_json::from_slice(bytes).map_err(ApiError::MalformedJson)
}

pub async fn create(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let b = body(&super::body(&req, payload, &state).await?)?;
    let t = super::target(&req, &state).await?;
    let meta = admin::create_snapshot(t.store(), &b.name, &b.description).await?;
    Ok(HttpResponse::Created().json(meta))
}

pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let t = super::target(&req, &state).await?;
    let snapshots = t.store().snapshots().await.map_err(AdminError::from)?;
    Ok(HttpResponse::Ok().json(json!({"snapshots": snapshots})))
}

/// Replaces all data with a snapshot's, in one step.
pub async fn restore(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let b = body(&super::body(&req, payload, &state).await?)?;
    let t = super::target(&req, &state).await?;
    admin::restore(t.store(), &b.name).await?;
    t.cache().invalidate(None);
    let entities = admin::counts(t.store()).await.map_err(AdminError::from)?;
    Ok(HttpResponse::Ok().json(json!({"restored": b.name, "entities": entities})))
}

pub async fn delete(req: HttpRequest, state: web::Data<AppState>, path: web::Path<String>) -> Answer {
    let t = super::target(&req, &state).await?;
    admin::delete_snapshot(t.store(), &path).await?;
    Ok(HttpResponse::NoContent().finish())
}
