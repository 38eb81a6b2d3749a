//! `/system/namespaces`: create, list, describe and delete namespaces.

use super::Answer;
use crate::gateway::ApiError;
use crate::http::state::AppState;
use crate::namespaces::describe_json;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    from_snapshot: Option<String>,
    ttl_seconds: Option<u64>,
}

/// 201 with the new namespace; 409 if it exists.
pub async fn create(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let bytes = super::body(&req, payload, &state).await?;
    let b: CreateBody = serde_json::from_slice(&bytes).map_err(ApiError::MalformedJson)?;
    let gateway = state.gateway();
    let profile = gateway.profile();
    let info = gateway
        .namespaces()
        .create(&b.name, b.from_snapshot.as_deref(), b.ttl_seconds, gateway.store(), || profile.initial_data())
        .await?;
    let (info, counts) = gateway.namespaces().describe(&info.name).await?;
    Ok(HttpResponse::Created().json(describe_json(&info, &counts)))
}

pub async fn list(state: web::Data<AppState>) -> Answer {
    let gateway = state.gateway();
    let all = gateway.namespaces().list().await?;
    let listed: Vec<_> = all.iter().map(|(info, counts)| describe_json(info, counts)).collect();
    Ok(HttpResponse::Ok().json(json!({"count": listed.len(), "namespaces": listed})))
}

pub async fn get(state: web::Data<AppState>, path: web::Path<String>) -> Answer {
    let (info, counts) = state.gateway().namespaces().describe(&path).await?;
    Ok(HttpResponse::Ok().json(describe_json(&info, &counts)))
}

/// 204: the namespace and all its data are gone.
pub async fn delete(state: web::Data<AppState>, path: web::Path<String>) -> Answer {
    state.gateway().namespaces().delete(&path).await?;
    // Its journal goes with it (a later namespace of the same name starts afresh).
    let _ = state.journals.clear(Some(&path)).await;
    Ok(HttpResponse::NoContent().finish())
}
