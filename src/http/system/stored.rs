//! Mock-and-Roll's admin paths over the stored data, which its users' scripts call:
//! `/system/cache/info` (the store), `/system/cache/entities/{entity}[/{id}]` (stored
//! entities, in its `{id, entity_type, created_at, data}` wrapper) and
//! `DELETE /system/cache/flush` (this profile's data only, never the whole Redis
//! database). mockgate's own read cache is under `/system/cache/reads`.

use super::Answer;
use crate::admin::{self, AdminError};
use crate::http::state::AppState;
use crate::store::ListQuery;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

/// The store: `connected` (Redis) or `active`, the number of stored entities, memory.
pub async fn info(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let t = super::target(&req, &state).await?;
    let store = t.store();
    match admin::status(store).await {
        Ok((info, counts)) => {
            let keys: usize = counts.values().sum();
            let status = if store.backend() == "redis" { "connected" } else { "active" };
            Ok(HttpResponse::Ok().json(json!({
                "status": status,
                "backend": store.backend(),
                "keys": keys,
                "memory_used": info.get("used_memory").cloned().unwrap_or(Value::Null),
                "uptime": state.started.elapsed().as_secs(),
                "collections": counts.keys().collect::<Vec<_>>(),
                "entities": counts,
            })))
        }
        Err(e) => Ok(HttpResponse::ServiceUnavailable().insert_header(("Retry-After", "1")).json(json!({
            "status": "disconnected",
            "backend": store.backend(),
            "keys": 0,
            "reason": crate::telemetry::error_chain(&e),
        }))),
    }
}

/// Empties this profile's data (no seed data is loaded again; `POST /system/reset` does that).
pub async fn flush(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let t = super::target(&req, &state).await?;
    t.store().replace_all(Default::default()).await.map_err(AdminError::from)?;
    t.cache().invalidate(None);
    Ok(HttpResponse::Ok().json(json!({"status": "success", "message": "Cache flushed successfully"})))
}

/// Mock-and-Roll's storage wrapper around an entity.
fn wrapper(entity_type: &str, entity: &Value) -> Value {
    json!({
        "id": entity.get(crate::persistence::ID_FIELD).cloned().unwrap_or(Value::Null),
        "entity_type": entity_type,
        "created_at": entity.get(crate::persistence::CREATED_AT).cloned().unwrap_or(Value::Null),
        "data": entity,
    })
}

pub async fn list(req: HttpRequest, state: web::Data<AppState>, path: web::Path<String>) -> Answer {
    let t = super::target(&req, &state).await?;
    let page = t.store().list(&path, &ListQuery::default()).await.map_err(AdminError::from)?;
    let entities: Vec<Value> = page.items.iter().map(|e| wrapper(&path, e)).collect();
    Ok(HttpResponse::Ok().json(json!({
        "status": "success",
        "data": {"entity_name": path.as_str(), "entities": entities, "count": page.total},
    })))
}

pub async fn get(req: HttpRequest, state: web::Data<AppState>, path: web::Path<(String, String)>) -> Answer {
    let (entity, id) = path.into_inner();
    let t = super::target(&req, &state).await?;
    match t.store().get(&entity, &id).await.map_err(AdminError::from)? {
        Some(v) => Ok(HttpResponse::Ok().json(json!({
            "status": "success",
            "data": {"entity_name": entity, "entity_id": id, "entity": wrapper(&entity, &v)},
        }))),
        None => Err(AdminError::NotFound { entity, id }.into()),
    }
}

/// Deletes one stored entity with its unique claims (as `DELETE /system/data/...`).
pub async fn delete(req: HttpRequest, state: web::Data<AppState>, path: web::Path<(String, String)>) -> Answer {
    let (entity, id) = path.into_inner();
    super::data::remove(&super::target(&req, &state).await?, &entity, &id).await?;
    let message = format!("Entity {entity}:{id} deleted from cache");
    Ok(HttpResponse::Ok().json(json!({"status": "success", "message": message})))
}
