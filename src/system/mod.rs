//! The `/system` admin API, behind the `X-System-Key` guard: health, the read cache,
//! data inspection, seeding and reset, save, and snapshots. JSON in and out; errors
//! have the same shape as everywhere else.

use crate::error::{ApiError, Violation};
use crate::persistence::ActionError;
use crate::persistence::rules::{Plan, Role};
use crate::server::AppState;
use crate::store::{Cond, Dataset, ListQuery, StoreError, Ttl, Write, id_key};
use crate::template::iso;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/system")
            .route("/health", web::get().to(health))
            .route("/metrics", web::get().to(metrics))
            .route("/cache", web::delete().to(clear_cache))
            .route("/cache/flush", web::delete().to(clear_cache))
            .route("/cache/stats", web::get().to(cache_stats))
            .route("/cache/info", web::get().to(cache_stats))
            .route("/cache/entities/{entity}", web::get().to(cached_ids))
            .route("/cache/entities/{entity}", web::delete().to(clear_cached_entity))
            .route("/cache/entities/{entity}/{id}", web::get().to(cached_one))
            .route("/cache/entities/{entity}/{id}", web::delete().to(clear_cached_one))
            .route("/cache/{entity}", web::delete().to(clear_cached_entity))
            .route("/data", web::get().to(data_overview))
            .route("/data/{entity}", web::get().to(data_list))
            .route("/data/{entity}/{id}", web::get().to(data_get))
            .route("/data/{entity}/{id}", web::delete().to(data_delete))
            .route("/seed", web::post().to(seed))
            .route("/reseed", web::post().to(reset))
            .route("/reset", web::post().to(reset))
            .route("/save", web::post().to(save))
            .route("/load", web::post().to(load))
            .route("/snapshots", web::post().to(snapshot_create))
            .route("/snapshots", web::get().to(snapshot_list))
            .route("/snapshots/restore", web::post().to(snapshot_restore))
            .route("/snapshots/{name}", web::delete().to(snapshot_delete))
            .default_service(web::to(unknown)),
    );
}

type Reply = Result<HttpResponse, ApiError>;

/// The guard, applied by every handler first.
fn guard(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let ctx = crate::server::credentials(req);
    state.gateway().profile().system.check(&ctx).map_err(ApiError::from)
}

fn store_error(e: StoreError) -> ApiError {
    ApiError::Action(ActionError::Store(e))
}

fn not_found(entity: &str, id: &str) -> ApiError {
    ApiError::Action(ActionError::NotFound { entity: entity.to_owned(), id: id.to_owned() })
}

/// `__unique.*` tables are bookkeeping for unique fields, not user data.
fn is_user_entity(name: &str) -> bool {
    !name.starts_with("__")
}

async fn counts(state: &AppState) -> Result<Map<String, Value>, ApiError> {
    let counts = state.gateway().store().counts().await.map_err(store_error)?;
    Ok(counts.into_iter().filter(|(k, _)| is_user_entity(k)).map(|(k, v)| (k, json!(v))).collect())
}

async fn unknown(req: HttpRequest, state: web::Data<AppState>) -> Reply {
    guard(&req, &state)?;
    Err(ApiError::NoRoute { method: req.method().to_string(), path: req.path().to_owned() })
}

async fn health(req: HttpRequest, state: web::Data<AppState>) -> Reply {
    guard(&req, &state)?;
    let gateway = state.gateway();
    let store = gateway.store();
    let gateway = state.gateway();
    let profile = gateway.profile();
    let mut body = json!({
        "profile": profile.name,
        "api": {"name": profile.info.name, "version": profile.info.version},
        "backend": store.backend(),
        "uptime_seconds": state.started.elapsed().as_secs(),
        "profile_reloads": state.reloads.status(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    let checked = match store.info().await {
        Ok(info) => counts(&state).await.map(|c| (info, c)),
        Err(e) => Err(store_error(e)),
    };
    match checked {
        Ok((info, entities)) => {
            body["status"] = json!("healthy");
            body[store.backend()] = info;
            body["entities"] = Value::Object(entities);
            Ok(HttpResponse::Ok().json(body))
        }
        Err(e) => {
            body["status"] = json!("unhealthy");
            body["reason"] = json!(crate::error::error_chain(&e));
            if store.backend() == "redis" {
                body["redis"] = json!({"connected": false});
            }
            Ok(HttpResponse::ServiceUnavailable().insert_header(("Retry-After", "1")).json(body))
        }
    }
}

/// Prometheus text. Also served at `/metrics` (same guard; Prometheus sends the key
/// as `Authorization: Bearer <key>` with `authorization: {credentials: <key>}`).
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> Reply {
    guard(&req, &state)?;
    let counts = state.gateway().store().counts().await.ok();
    let text = state.metrics.render(counts.as_deref());
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(text))
}

async fn clear_cache(req: HttpRequest, state: web::Data<AppState>) -> Reply {
    guard(&req, &state)?;
    let cleared = state.gateway().cache().invalidate(None);
    Ok(HttpResponse::Ok().json(json!({"cleared": cleared})))
}

async fn clear_cached_entity(req: HttpRequest, state: web::Data<AppState>, path: web::Path<String>) -> Reply {
    guard(&req, &state)?;
    let cleared = state.gateway().cache().invalidate(Some(&path));
    Ok(HttpResponse::Ok().json(json!({"entity": path.as_str(), "cleared": cleared})))
}

async fn clear_cached_one(req: HttpRequest, state: web::Data<AppState>, path: web::Path<(String, String)>) -> Reply {
    guard(&req, &state)?;
    let (entity, id) = path.into_inner();
    let cleared = state.gateway().cache().invalidate_one(&entity, &id);
    Ok(HttpResponse::Ok().json(json!({"entity": entity, "id": id, "cleared": usize::from(cleared)})))
}

async fn cache_stats(req: HttpRequest, state: web::Data<AppState>) -> Reply {
    guard(&req, &state)?;
    Ok(HttpResponse::Ok().json(state.gateway().cache().stats()))
}

async fn cached_ids(req: HttpRequest, state: web::Data<AppState>, path: web::Path<String>) -> Reply {
    guard(&req, &state)?;
    Ok(HttpResponse::Ok().json(json!({"entity": path.as_str(), "ids": state.gateway().cache().ids(&path)})))
}

async fn cached_one(req: HttpRequest, state: web::Data<AppState>, path: web::Path<(String, String)>) -> Reply {
    guard(&req, &state)?;
    let (entity, id) = path.into_inner();
    match state.gateway().cache().get(&entity, &id) {
        Some(v) => Ok(HttpResponse::Ok().json(json!({"entity": entity, "id": id, "value": v}))),
        None => Err(not_found(&format!("cached {entity}"), &id)),
    }
}

async fn data_overview(req: HttpRequest, state: web::Data<AppState>) -> Reply {
    guard(&req, &state)?;
    let entities = counts(&state).await?;
    let total: u64 = entities.values().filter_map(Value::as_u64).sum();
    Ok(HttpResponse::Ok()
        .json(json!({"backend": state.gateway().store().backend(), "entities": entities, "total": total})))
}

#[derive(Deserialize)]
struct DataQuery {
    search: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

async fn data_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<DataQuery>,
) -> Reply {
    guard(&req, &state)?;
    let limit = query.limit.unwrap_or(100).min(10_000);
    let q = ListQuery {
        offset: query.offset.unwrap_or(0),
        limit: Some(limit),
        search: query.search.clone(),
        ..ListQuery::default()
    };
    let page = state.gateway().store().list(&path, &q).await.map_err(store_error)?;
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

async fn data_get(req: HttpRequest, state: web::Data<AppState>, path: web::Path<(String, String)>) -> Reply {
    guard(&req, &state)?;
    let (entity, id) = path.into_inner();
    match state.gateway().store().get(&entity, &id).await.map_err(store_error)? {
        Some(v) => Ok(HttpResponse::Ok().json(v)),
        None => Err(not_found(&entity, &id)),
    }
}

/// Deletes one entity with its unique claims; relationships are not followed (an
/// administrator's repair tool, like editing the data by hand).
async fn data_delete(req: HttpRequest, state: web::Data<AppState>, path: web::Path<(String, String)>) -> Reply {
    guard(&req, &state)?;
    let (entity, id) = path.into_inner();
    let gateway = state.gateway();
    let store = gateway.store();
    let current = store.get(&entity, &id).await.map_err(store_error)?.ok_or_else(|| not_found(&entity, &id))?;
    let mut plan = Plan::default();
    plan.push(
        Write::Delete { entity: entity.clone(), id: id.clone(), cond: Cond::Equals(current.clone()) },
        Role::Main,
    );
    plan.claims(state.gateway().profile().rules.of(&entity), &entity, &id, Some(&current), None, Ttl::Keep);
    plan.commit(store)
        .await
        .map_err(|_| ApiError::Action(ActionError::WriteConflict { entity: entity.clone(), id: id.clone() }))?;
    state.gateway().cache().invalidate(Some(&entity));
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
struct SeedBody {
    entities: Map<String, Value>,
}

/// Adds (or replaces) records, checked like creates; nothing is written if any fails.
async fn seed(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> Reply {
    guard(&req, &state)?;
    let body: SeedBody = serde_json::from_slice(&body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let added = apply_seed(state.gateway().store(), &state.gateway().profile().rules, &body.entities).await?;
    state.gateway().cache().invalidate(None);
    Ok(HttpResponse::Ok().json(json!({"seeded": added, "entities": counts(&state).await?})))
}

/// Merges `{"users": [{...}], ...}` into the stored data after checking every record
/// (an id, the entity type's constraints, unique values); all or nothing. Also used
/// by `mockctl start --seed FILE`. Returns how many records each type received.
pub async fn apply_seed(
    store: &dyn crate::store::Store,
    rules: &crate::persistence::rules::Rules,
    entities: &Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    let mut violations = Vec::new();
    let mut incoming = Dataset::new();
    for (entity, records) in entities {
        let at = format!("/entities/{entity}");
        if !crate::persistence::valid_entity_name(entity) || !is_user_entity(entity) {
            violations.push(Violation { path: at, message: "is not a valid entity name".into() });
            continue;
        }
        let Some(records) = records.as_array() else {
            violations.push(Violation { path: at, message: "must be an array of objects".into() });
            continue;
        };
        for (i, record) in records.iter().enumerate() {
            let here = format!("{at}/{i}");
            let Some(id) = record.as_object().and_then(|o| o.get("id")).and_then(id_key) else {
                violations
                    .push(Violation { path: here, message: "must be an object with a string or number id".into() });
                continue;
            };
            for v in rules.of(entity).violations(record) {
                violations.push(Violation { path: format!("{here}{}", v.path), message: v.message });
            }
            incoming.entry(entity.clone()).or_default().insert(id, record.clone());
        }
    }
    if !violations.is_empty() {
        return Err(ApiError::Validation(violations));
    }
    let mut data: Dataset =
        store.dump().await.map_err(store_error)?.into_iter().filter(|(e, _)| is_user_entity(e)).collect();
    let mut added = Map::new();
    for (entity, rows) in incoming {
        added.insert(entity.clone(), json!(rows.len()));
        data.entry(entity).or_default().extend(rows);
    }
    let duplicates = unique_duplicates(rules, &data);
    if !duplicates.is_empty() {
        return Err(ApiError::Validation(duplicates));
    }
    store.replace_all(rules.prepare_seed(data)).await.map_err(store_error)?;
    Ok(added)
}

/// Unique fields that two records would share.
fn unique_duplicates(rules: &crate::persistence::rules::Rules, data: &Dataset) -> Vec<Violation> {
    let mut out = Vec::new();
    for (entity, rows) in data {
        for field in &rules.of(entity).unique {
            let mut seen = std::collections::HashMap::new();
            for (id, row) in rows {
                let Some(v) = row.get(field).filter(|v| !v.is_null()) else { continue };
                if let Some(first) = seen.insert(v.to_string(), id.clone()) {
                    out.push(Violation {
                        path: format!("/entities/{entity}/{id}/{field}"),
                        message: format!("{v} is already the {field} of {entity} {first:?}"),
                    });
                }
            }
        }
    }
    out
}

/// Back to the profile's initial data.
async fn reset(req: HttpRequest, state: web::Data<AppState>) -> Reply {
    guard(&req, &state)?;
    let gateway = state.gateway();
    let profile = gateway.profile();
    state.gateway().store().replace_all(profile.initial_data()).await.map_err(store_error)?;
    state.gateway().cache().invalidate(None);
    Ok(HttpResponse::Ok().json(json!({"reset": true, "entities": counts(&state).await?})))
}

async fn save(req: HttpRequest, state: web::Data<AppState>) -> Reply {
    guard(&req, &state)?;
    let gateway = state.gateway();
    let store = gateway.store();
    store.flush().await.map_err(store_error)?;
    Ok(HttpResponse::Ok().json(json!({"saved": true, "backend": store.backend()})))
}

/// Reloads the data from the embedded store's `db.json` (after editing it by hand).
async fn load(req: HttpRequest, state: web::Data<AppState>) -> Reply {
    guard(&req, &state)?;
    let gateway = state.gateway();
    let store = gateway.store();
    if !store.load().await.map_err(store_error)? {
        return Err(ApiError::BadRequest(format!(
            "the {} backend has no data file to load; use snapshots to restore a saved state",
            store.backend()
        )));
    }
    state.gateway().cache().invalidate(None);
    Ok(HttpResponse::Ok().json(json!({"loaded": true, "entities": counts(&state).await?})))
}

/// Letters, digits, `-`, `_` and `.`, not starting with `.`: no path tricks.
fn snapshot_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::Validation(vec![Violation {
            path: "/name".into(),
            message: format!(
                "{name:?} is not a snapshot name: use letters, digits, `-`, `_` and `.`, not starting with `.`"
            ),
        }]))
    }
}

#[derive(Deserialize)]
struct SnapshotBody {
    name: String,
    #[serde(default)]
    description: String,
}

fn snapshot_body(body: &[u8]) -> Result<SnapshotBody, ApiError> {
    let b: SnapshotBody = serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    snapshot_name(&b.name)?;
    Ok(b)
}

async fn snapshot_create(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> Reply {
    guard(&req, &state)?;
    let b = snapshot_body(&body)?;
    let gateway = state.gateway();
    let store = gateway.store();
    let data = store.dump().await.map_err(store_error)?;
    let snapshot = json!({
        "name": b.name,
        "description": b.description,
        "created_at": iso(chrono::Utc::now()),
        "counts": counts(&state).await?,
        "data": data,
    });
    store.put_snapshot(&b.name, snapshot.clone()).await.map_err(store_error)?;
    Ok(HttpResponse::Created().json(crate::store::snapshot_meta(&snapshot)))
}

async fn snapshot_list(req: HttpRequest, state: web::Data<AppState>) -> Reply {
    guard(&req, &state)?;
    let snapshots = state.gateway().store().snapshots().await.map_err(store_error)?;
    Ok(HttpResponse::Ok().json(json!({"snapshots": snapshots})))
}

/// Replaces all data with a snapshot's, in one step.
async fn snapshot_restore(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> Reply {
    guard(&req, &state)?;
    let b = snapshot_body(&body)?;
    restore(state.gateway().store(), &b.name).await?;
    state.gateway().cache().invalidate(None);
    Ok(HttpResponse::Ok().json(json!({"restored": b.name, "entities": counts(&state).await?})))
}

/// Loads snapshot `name` into the store (also used by `mockctl start --snapshot`).
pub async fn restore(store: &dyn crate::store::Store, name: &str) -> Result<(), ApiError> {
    snapshot_name(name)?;
    let snapshot = store.get_snapshot(name).await.map_err(store_error)?.ok_or_else(|| not_found("snapshot", name))?;
    let data: Dataset = serde_json::from_value(snapshot.get("data").cloned().unwrap_or(Value::Null))
        .map_err(|e| ApiError::Internal(format!("snapshot {name} is unreadable: {e}")))?;
    store.replace_all(data).await.map_err(store_error)
}

async fn snapshot_delete(req: HttpRequest, state: web::Data<AppState>, path: web::Path<String>) -> Reply {
    guard(&req, &state)?;
    snapshot_name(&path)?;
    if state.gateway().store().delete_snapshot(&path).await.map_err(store_error)? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(not_found("snapshot", &path))
    }
}
