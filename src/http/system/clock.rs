//! `/system/clock`: the namespace's clock, which drives its templates' time helpers,
//! `created_at` / `updated_at`, and entity and session expiry (embedded stores).

use super::Answer;
use crate::gateway::ApiError;
use crate::http::state::AppState;
use crate::persistence::rules::Violation;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

fn describe(clock: &crate::store::TestClock) -> Value {
    let now = chrono::DateTime::from_timestamp_millis(clock.now_i64())
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    json!({"now": now, "frozen": clock.frozen(), "offset_ms": clock.offset_ms()})
}

fn invalid(message: &str) -> ApiError {
    ApiError::Validation(vec![Violation { path: "/".into(), message: message.into() }])
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let t = super::target(&req, &state).await?;
    Ok(HttpResponse::Ok().json(describe(t.clock())))
}

/// `{"freeze": bool}`, `{"set": "<RFC 3339>"}` or `{"advance_seconds": n}` (n >= 0).
pub async fn change(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    const EXPECTED: &str =
        "expected one of {\"freeze\": true|false}, {\"set\": \"<RFC 3339>\"}, {\"advance_seconds\": n >= 0}";
    let bytes = super::body(&req, payload, &state).await?;
    let body: serde_json::Map<String, Value> = serde_json::from_slice(&bytes).map_err(ApiError::MalformedJson)?;
    let t = super::target(&req, &state).await?;
    let clock = t.clock();
    if body.len() != 1 {
        return Err(invalid(EXPECTED));
    }
    match body.iter().next() {
        Some((k, Value::Bool(on))) if k == "freeze" => clock.freeze(*on),
        Some((k, Value::String(s))) if k == "set" => {
            let at = chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|e| invalid(&format!("set: {s:?} is not an RFC 3339 time ({e})")))?;
            clock.set(at.timestamp_millis());
        }
        Some((k, Value::Number(n))) if k == "advance_seconds" => match n.as_f64() {
            Some(secs) if secs >= 0.0 && secs.is_finite() && secs < 1e12 => clock.advance((secs * 1000.0) as i64),
            _ => return Err(invalid("advance_seconds must be a number of seconds >= 0")),
        },
        _ => return Err(invalid(EXPECTED)),
    }
    // Reads cached before the move would outlive their time.
    t.cache().invalidate(None);
    Ok(HttpResponse::Ok().json(describe(clock)))
}

pub async fn reset(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let t = super::target(&req, &state).await?;
    t.clock().reset();
    t.cache().invalidate(None);
    Ok(HttpResponse::Ok().json(describe(t.clock())))
}
