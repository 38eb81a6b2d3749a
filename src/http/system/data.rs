//! Stored data: inspection, the admin delete, seeding, reset, save and load.

use super::Answer;
use crate::admin::{self, AdminError};
use crate::gateway::ApiError;
use crate::http::state::AppState;
use crate::store::ListQuery;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub async fn overview(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let t = super::target(&req, &state).await?;
    let entities = admin::counts(t.store()).await.map_err(AdminError::from)?;
    let total: usize = entities.values().sum();
    Ok(HttpResponse::Ok().json(json!({"backend": t.store().backend(), "entities": entities, "total": total})))
}

#[derive(Deserialize)]
pub struct DataQuery {
    search: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<DataQuery>,
) -> Answer {
    let t = super::target(&req, &state).await?;
    let limit = query.limit.unwrap_or(100).min(10_000);
    let q = ListQuery {
        offset: query.offset.unwrap_or(0),
        limit: Some(limit),
        search: query.search.clone(),
        ..ListQuery::default()
    };
    let page = t.store().list(&path, &q).await.map_err(AdminError::from)?;
    let has_more = q.offset + page.items.len() < page.total;
    Ok(HttpResponse::Ok().json(json!({
        "entity": path.as_str(),
        "items": page.items,
        "total": page.total,
        "limit": limit,
        "offset": q.offset,
        "has_more": has_more,
    })))
}

pub async fn get(req: HttpRequest, state: web::Data<AppState>, path: web::Path<(String, String)>) -> Answer {
    let (entity, id) = path.into_inner();
    let t = super::target(&req, &state).await?;
    match t.store().get(&entity, &id).await.map_err(AdminError::from)? {
        Some(v) => Ok(HttpResponse::Ok().json(v)),
        None => Err(AdminError::NotFound { entity, id }.into()),
    }
}

/// Deletes one entity with its unique claims; relationships are not followed.
pub async fn delete(req: HttpRequest, state: web::Data<AppState>, path: web::Path<(String, String)>) -> Answer {
    let (entity, id) = path.into_inner();
    remove(&super::target(&req, &state).await?, &entity, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The admin delete of one entity, and its entries in this instance's read cache.
pub async fn remove(t: &super::Target, entity: &str, id: &str) -> Result<(), crate::gateway::ApiError> {
    admin::delete(t.store(), &t.gateway.profile().rules, entity, id).await?;
    t.cache().invalidate(Some(entity));
    Ok(())
}

#[derive(Deserialize)]
struct SeedBody {
    entities: Map<String, Value>,
}

/// Adds (or replaces) records, checked like creates; nothing is written if any fails.
pub async fn seed(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let bytes = super::body(&req, payload, &state).await?;
    let body: SeedBody = serde_json::from_slice(&bytes).map_err(ApiError::MalformedJson)?;
    let t = super::target(&req, &state).await?;
    let added = admin::seed(t.store(), &t.gateway.profile().rules, &body.entities).await?;
    t.cache().invalidate(None);
    let entities = admin::counts(t.store()).await.map_err(AdminError::from)?;
    Ok(HttpResponse::Ok().json(json!({"seeded": added, "entities": entities})))
}

/// Back to the profile's initial data.
pub async fn reset(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let t = super::target(&req, &state).await?;
    admin::reset(t.store(), t.gateway.profile().initial_data()).await?;
    t.cache().invalidate(None);
    let entities = admin::counts(t.store()).await.map_err(AdminError::from)?;
    Ok(HttpResponse::Ok().json(json!({"reset": true, "entities": entities})))
}

pub async fn save(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let t = super::target(&req, &state).await?;
    t.store().flush().await.map_err(AdminError::from)?;
    Ok(HttpResponse::Ok().json(json!({"saved": true, "backend": t.store().backend()})))
}

/// Reloads the data from the embedded store's `db.json` (after editing it by hand).
pub async fn load(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let t = super::target(&req, &state).await?;
    admin::load(t.store()).await?;
    t.cache().invalidate(None);
    let entities = admin::counts(t.store()).await.map_err(AdminError::from)?;
    Ok(HttpResponse::Ok().json(json!({"loaded": true, "entities": entities})))
}
