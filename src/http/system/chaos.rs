//! `/system/chaos`: the namespace's run-time fault rules — add, list, delete one,
//! delete all. The rules themselves are [`crate::chaos`]'s.

use super::Answer;
use crate::admin::AdminError;
use crate::chaos::ChaosError;
use crate::gateway::ApiError;
use crate::http::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

fn store_error(e: crate::store::StoreError) -> ApiError {
    AdminError::from(e).into()
}

/// 201 with the rule (its id, and its seed when none was given).
pub async fn add(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let ns = super::named_checked(&req, &state)?;
    let bytes = super::body(&req, payload, &state).await?;
    let body: Value = serde_json::from_slice(&bytes).map_err(ApiError::MalformedJson)?;
    match state.gateway().namespaces().chaos().add(ns.as_deref(), &body).await {
        Ok(rule) => Ok(HttpResponse::Created().json(rule)),
        Err(ChaosError::Invalid(v)) => Err(ApiError::Validation(v)),
        Err(ChaosError::Store(e)) => Err(store_error(e)),
    }
}

pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let ns = super::named_checked(&req, &state)?;
    let rules = state.gateway().namespaces().chaos().list(ns.as_deref()).await.map_err(store_error)?;
    Ok(HttpResponse::Ok().json(json!({"namespace": ns, "count": rules.len(), "rules": rules})))
}

pub async fn delete(req: HttpRequest, state: web::Data<AppState>, id: web::Path<String>) -> Answer {
    let ns = super::named_checked(&req, &state)?;
    if state.gateway().namespaces().chaos().delete(ns.as_deref(), &id).await.map_err(store_error)? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(AdminError::NotFound { entity: "chaos rule".into(), id: id.into_inner() }.into())
    }
}

pub async fn clear(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let ns = super::named_checked(&req, &state)?;
    let n = state.gateway().namespaces().chaos().clear(ns.as_deref()).await.map_err(store_error)?;
    Ok(HttpResponse::Ok().json(json!({"namespace": ns, "removed": n})))
}
