//! `/system/requests`: the namespace's request journal — list and filter, one entry,
//! find and verify by pattern (with near misses when a verification fails), verify a
//! sequence, the unmatched requests with their closest endpoints, and clearing it.
//! Also `/system/data/{entity}/verify`, the same kind of assertion over stored data.

use super::Answer;
use crate::admin::AdminError;
use crate::gateway::ApiError;
use crate::http::state::AppState;
use crate::journal::pattern::{self, EXPECT_KEYS, Expect, Filter, Pattern};
use crate::journal::{Entry, Journals};
use crate::persistence::rules::Violation;
use crate::store::ListQuery;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};
use std::sync::Arc;

fn journals(state: &AppState) -> Result<&Journals, ApiError> {
    if state.journals.enabled() { Ok(&state.journals) } else { Err(ApiError::JournalDisabled) }
}

fn now_ms(state: &AppState, namespace: Option<&str>) -> i64 {
    state.gateway().namespaces().clock_of(namespace).now_i64()
}

async fn entries(state: &AppState, namespace: Option<&str>) -> Result<Vec<Arc<Entry>>, ApiError> {
    Ok(journals(state)?.entries(namespace).await.map_err(AdminError::from)?)
}

/// A JSON object from the body, or a 400 saying what is wrong.
async fn object(req: &HttpRequest, payload: web::Payload, state: &AppState) -> Result<Map<String, Value>, ApiError> {
    let bytes = super::body(req, payload, state).await?;
    match serde_json::from_slice::<Value>(&bytes).map_err(ApiError::MalformedJson)? {
        Value::Object(m) => Ok(m),
        other => Err(ApiError::Validation(vec![Violation {
            path: "/".into(),
            message: format!("expected an object, found {other}"),
        }])),
    }
}

/// `within_ms`: how long a verification may wait to hold (requests an app sends in
/// the background, or entries still on their way from other instances); by default
/// the journal's grace (200 ms when shared, else none).
fn within(body: &Map<String, Value>, journals: &Journals) -> Result<std::time::Duration, ApiError> {
    match body.get("within_ms") {
        None => Ok(journals.grace()),
        Some(v) => v.as_u64().filter(|ms| *ms <= 60_000).map(std::time::Duration::from_millis).ok_or_else(|| {
            ApiError::Validation(vec![Violation {
                path: "/within_ms".into(),
                message: "expected milliseconds from 0 to 60000".into(),
            }])
        }),
    }
}

/// Re-reads the journal until `check` holds or `wait` is over; `check` answers
/// whether it holds and whether waiting could change that.
async fn settle<T>(
    state: &AppState,
    namespace: Option<&str>,
    wait: std::time::Duration,
    mut check: impl FnMut(&[Arc<Entry>]) -> (bool, bool, T),
) -> Result<(Vec<Arc<Entry>>, bool, T), ApiError> {
    let deadline = std::time::Instant::now() + wait;
    loop {
        let all = entries(state, namespace).await?;
        let (holds, may_change, out) = check(&all);
        if holds || !may_change || std::time::Instant::now() >= deadline {
            return Ok((all, holds, out));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn expectation_failed(body: Value) -> HttpResponse {
    HttpResponse::build(StatusCode::EXPECTATION_FAILED).json(body)
}

/// `GET /system/requests?method=&path=&path_prefix=&route=&status=&since=&limit=&offset=`, newest first.
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let ns = super::named_checked(&req, &state)?;
    let filter = Filter::parse(req.query_string(), now_ms(&state, ns.as_deref())).map_err(ApiError::Validation)?;
    let all = entries(&state, ns.as_deref()).await?;
    let matching: Vec<&Arc<Entry>> = all.iter().filter(|e| filter.matches(e)).collect();
    let page: Vec<Value> = matching.iter().skip(filter.offset).take(filter.limit).map(|e| e.view()).collect();
    Ok(HttpResponse::Ok().json(json!({
        "namespace": ns,
        "total": matching.len(),
        "offset": filter.offset,
        "limit": filter.limit,
        "requests": page,
    })))
}

/// `GET /system/requests/{id}`.
pub async fn one(req: HttpRequest, state: web::Data<AppState>, id: web::Path<String>) -> Answer {
    let ns = super::named_checked(&req, &state)?;
    let all = entries(&state, ns.as_deref()).await?;
    match all.iter().find(|e| *e.id == **id) {
        Some(e) => Ok(HttpResponse::Ok().json(e.view())),
        None => Err(AdminError::NotFound { entity: "request".into(), id: id.into_inner() }.into()),
    }
}

/// `DELETE /system/requests`: empties the namespace's journal.
pub async fn clear(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let ns = super::named_checked(&req, &state)?;
    let journals = journals(&state)?;
    let held = journals.len(ns.as_deref()).await.map_err(AdminError::from)?;
    journals.clear(ns.as_deref()).await.map_err(AdminError::from)?;
    Ok(HttpResponse::Ok().json(json!({"namespace": ns, "cleared": held})))
}

/// `POST /system/requests/find` with a pattern (and `limit`): the matching requests, newest first.
pub async fn find(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let ns = super::named_checked(&req, &state)?;
    let body = object(&req, payload, &state).await?;
    let p = Pattern::parse(&body, &["limit"], now_ms(&state, ns.as_deref())).map_err(ApiError::Validation)?;
    let limit = match body.get("limit") {
        None => 100,
        Some(v) => v.as_u64().map(|n| n as usize).ok_or_else(|| {
            ApiError::Validation(vec![Violation { path: "/limit".into(), message: "expected a whole number".into() }])
        })?,
    };
    let all = entries(&state, ns.as_deref()).await?;
    let found: Vec<&Arc<Entry>> = all.iter().filter(|e| p.matches(e)).collect();
    let shown: Vec<Value> = found.iter().take(limit).map(|e| e.view()).collect();
    Ok(HttpResponse::Ok().json(json!({"count": found.len(), "requests": shown})))
}

/// `POST /system/requests/verify` with a pattern and `count`, `at_least` or `at_most`:
/// 200 when it holds, 417 with the near misses when not.
pub async fn verify(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let ns = super::named_checked(&req, &state)?;
    let body = object(&req, payload, &state).await?;
    const ALSO: &[&str] = &["count", "at_least", "at_most", "within_ms"];
    let parsed = (Pattern::parse(&body, ALSO, now_ms(&state, ns.as_deref())), Expect::parse(&body));
    let (p, expect) = match parsed {
        (Ok(p), Ok(e)) => (p, e),
        (p, e) => return Err(ApiError::Validation([p.err(), e.err()].into_iter().flatten().flatten().collect())),
    };
    let wait = within(&body, journals(&state)?)?;
    let (all, holds, n) = settle(&state, ns.as_deref(), wait, |all| {
        let n = all.iter().filter(|e| p.matches(e)).count();
        // More requests can only raise the count.
        (expect.holds(n), n < expect.at_least, n)
    })
    .await?;
    if holds {
        return Ok(HttpResponse::Ok().json(json!({"verified": true, "count": n})));
    }
    let matching: Vec<&Arc<Entry>> = all.iter().filter(|e| p.matches(e)).collect();
    let mut answer = json!({
        "verified": false,
        "count": n,
        "expected": expect.describe(),
        "pattern": p.source(),
        "near_misses": [],
    });
    if n < expect.at_least {
        answer["near_misses"] = json!(pattern::near_misses(&p, all.iter().map(|e| e.as_ref())));
    } else {
        // Too many: the ones that matched are what to look at.
        answer["matches"] = json!(matching.iter().take(5).map(|e| pattern::summary(e)).collect::<Vec<_>>());
    }
    Ok(expectation_failed(answer))
}

/// `POST /system/requests/verify-sequence` with `{"sequence": [pattern, …]}`: the
/// patterns matched requests in this order (others may come between).
pub async fn verify_sequence(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let ns = super::named_checked(&req, &state)?;
    let body = object(&req, payload, &state).await?;
    let now = now_ms(&state, ns.as_deref());
    let bad = |path: &str, message: &str| {
        ApiError::Validation(vec![Violation { path: path.into(), message: message.into() }])
    };
    if let Some(k) = body.keys().find(|k| *k != "sequence" && *k != "within_ms") {
        return Err(bad(&format!("/{k}"), "unknown key; expected sequence, within_ms"));
    }
    let list = match body.get("sequence") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        _ => return Err(bad("/sequence", "expected a non-empty array of request patterns")),
    };
    let mut patterns = Vec::with_capacity(list.len());
    let mut problems = Vec::new();
    for (i, item) in list.iter().enumerate() {
        match item.as_object().map(|m| Pattern::parse(m, &[], now)) {
            Some(Ok(p)) => patterns.push(p),
            Some(Err(v)) => problems.extend(
                v.into_iter().map(|v| Violation { path: format!("/sequence/{i}{}", v.path), message: v.message }),
            ),
            None => problems
                .push(Violation { path: format!("/sequence/{i}"), message: "expected a request pattern".into() }),
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    let wait = within(&body, journals(&state)?)?;
    // How many patterns matched in order, and the ids they matched, oldest first.
    let in_order = |all: &[Arc<Entry>]| {
        let mut matched: Vec<String> = Vec::new();
        let mut from = all.len();
        for p in &patterns {
            // `all` is newest first: walk it from the end.
            match all[..from].iter().rposition(|e| p.matches(e)) {
                Some(at) => {
                    matched.push(all[at].id.to_string());
                    from = at;
                }
                None => break,
            }
        }
        let done = matched.len() == patterns.len();
        (done, true, (matched, from))
    };
    let (all, done, (matched, from)) = settle(&state, ns.as_deref(), wait, in_order).await?;
    if done {
        return Ok(HttpResponse::Ok().json(json!({"verified": true, "matched": matched})));
    }
    let i = matched.len();
    let p = &patterns[i];
    // The requests after the last match, newest first.
    let after = &all[..from];
    Ok(expectation_failed(json!({
        "verified": false,
        "matched": matched,
        "failed_at": i,
        "expected": p.source(),
        "near_misses": pattern::near_misses(p, after.iter().map(|e| e.as_ref())),
    })))
}

/// `GET /system/requests/unmatched`: requests no endpoint (or no response rule)
/// served, newest first, each with the closest endpoints and why they missed.
pub async fn unmatched(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let ns = super::named_checked(&req, &state)?;
    let filter = Filter::parse(req.query_string(), now_ms(&state, ns.as_deref())).map_err(ApiError::Validation)?;
    let all = entries(&state, ns.as_deref()).await?;
    let found: Vec<&Arc<Entry>> = all.iter().filter(|e| e.unmatched.is_some() && filter.matches(e)).collect();
    let page: Vec<Value> = found
        .iter()
        .skip(filter.offset)
        .take(filter.limit)
        .map(|e| {
            let mut v = pattern::summary(e);
            if let Some(u) = &e.unmatched {
                v["reason"] = json!(u.kind);
                v["closest"] = json!(u.closest);
            }
            v
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"namespace": ns, "total": found.len(), "requests": page})))
}

/// `POST /system/data/{entity}/verify` with `{"where": {field: value}, "count"? |
/// "at_least"? | "at_most"?}`: 200 when as many stored entities match, 417 with the
/// closest ones when not.
pub async fn verify_data(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    entity: web::Path<String>,
) -> Answer {
    let body = object(&req, payload, &state).await?;
    let mut problems = Vec::new();
    for k in body.keys().filter(|k| *k != "where" && !EXPECT_KEYS.contains(&k.as_str())) {
        problems.push(Violation {
            path: format!("/{k}"),
            message: "unknown key; expected where, count, at_least, at_most".into(),
        });
    }
    let conditions = match body.get("where") {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            problems.push(Violation { path: "/where".into(), message: "expected an object of field: value".into() });
            Map::new()
        }
    };
    let expect = Expect::parse(&body).map_err(|v| problems.extend(v));
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    let expect = expect.unwrap_or(Expect { at_least: 1, at_most: None });
    let t = super::target(&req, &state).await?;
    let page = t.store().list(&entity, &ListQuery::default()).await.map_err(AdminError::from)?;
    let differences = |v: &Value| -> Vec<Value> {
        conditions
            .iter()
            .filter_map(|(field, want)| {
                let got = crate::json::field_at(v, field);
                let same = match (want, got) {
                    (Value::Number(a), Some(Value::Number(b))) => a.as_f64() == b.as_f64(),
                    (Value::Null, None) => true,
                    (w, Some(g)) => w == g,
                    (_, None) => false,
                };
                (!same).then(|| json!({"field": field, "expected": want, "actual": got}))
            })
            .collect()
    };
    let scored: Vec<(Vec<Value>, &Value)> = page.items.iter().map(|v| (differences(v), v)).collect();
    let n = scored.iter().filter(|(d, _)| d.is_empty()).count();
    if expect.holds(n) {
        return Ok(HttpResponse::Ok().json(json!({"verified": true, "entity": entity.as_str(), "count": n})));
    }
    let mut answer = json!({
        "verified": false,
        "entity": entity.as_str(),
        "count": n,
        "expected": expect.describe(),
        "where": conditions,
    });
    if n < expect.at_least {
        let mut misses: Vec<&(Vec<Value>, &Value)> = scored.iter().filter(|(d, _)| !d.is_empty()).collect();
        misses.sort_by_key(|(d, _)| d.len());
        answer["closest"] =
            json!(misses.iter().take(3).map(|(d, v)| json!({"entity": v, "differences": d})).collect::<Vec<_>>());
    } else {
        let matches: Vec<&Value> = scored.iter().filter(|(d, _)| d.is_empty()).map(|(_, v)| *v).take(5).collect();
        answer["matches"] = json!(matches);
    }
    Ok(expectation_failed(answer))
}
