//! This instance's read cache: statistics, cached ids and entries, clearing.

use super::Answer;
use crate::admin::AdminError;
use crate::http::state::AppState;
use actix_web::{HttpResponse, web};
use serde_json::json;

pub async fn clear(state: web::Data<AppState>) -> HttpResponse {
    let cleared = state.gateway().cache().invalidate(None);
    HttpResponse::Ok().json(json!({"cleared": cleared}))
}

pub async fn clear_entity(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let cleared = state.gateway().cache().invalidate(Some(&path));
    HttpResponse::Ok().json(json!({"entity": path.as_str(), "cleared": cleared}))
}

pub async fn clear_one(state: web::Data<AppState>, path: web::Path<(String, String)>) -> HttpResponse {
    let (entity, id) = path.into_inner();
    let cleared = state.gateway().cache().invalidate_one(&entity, &id);
    HttpResponse::Ok().json(json!({"entity": entity, "id": id, "cleared": usize::from(cleared)}))
}

pub async fn stats(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.gateway().cache().stats())
}

pub async fn ids(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"entity": path.as_str(), "ids": state.gateway().cache().ids(&path)}))
}

pub async fn one(state: web::Data<AppState>, path: web::Path<(String, String)>) -> Answer {
    let (entity, id) = path.into_inner();
    match state.gateway().cache().get(&entity, &id) {
        Some(v) => Ok(HttpResponse::Ok().json(json!({"entity": entity, "id": id, "value": v}))),
        None => Err(AdminError::NotFound { entity: format!("cached {entity}"), id }.into()),
    }
}
