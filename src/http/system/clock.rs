//! `/system/clock`: the namespace's clock, which drives its templates' time helpers,
//! `created_at` / `updated_at`, and entity and session expiry (embedded stores).

use super::Answer;
use crate::gateway::ApiError;
use crate::http::state::AppState;
use crate::persistence::rules::Violation;
use crate::store::ClockChange;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

fn describe(clock: &crate::store::TestClock) -> Value {
    let now = crate::template::iso_ms(clock.now_i64());
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
    let before = clock.now_i64();
    let change = match body.iter().next() {
        Some((k, Value::Bool(on))) if k == "freeze" => {
            let was = clock.frozen();
            clock.freeze(*on);
            match (was, *on) {
                (false, true) => Some(ClockChange::Freeze),
                (true, false) => Some(ClockChange::Thaw),
                _ => None,
            }
        }
        Some((k, Value::String(s))) if k == "set" => {
            let at = chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|e| invalid(&format!("set: {s:?} is not an RFC 3339 time ({e})")))?;
            clock.set(at.timestamp_millis());
            Some(ClockChange::Shift(at.timestamp_millis() - before))
        }
        Some((k, Value::Number(n))) if k == "advance_seconds" => match n.as_f64() {
            Some(secs) if secs >= 0.0 && secs.is_finite() && secs < 1e12 => {
                let ms = (secs * 1000.0) as i64;
                clock.advance(ms);
                Some(ClockChange::Shift(ms))
            }
            _ => return Err(invalid("advance_seconds must be a number of seconds >= 0")),
        },
        _ => return Err(invalid(EXPECTED)),
    };
    moved(&t, change.into_iter().collect()).await?;
    Ok(HttpResponse::Ok().json(describe(clock)))
}

/// Tells the store how the clock moved (Redis moves its expiries to match) and drops
/// reads cached before the move, which would outlive their time.
async fn moved(t: &super::Target, changes: Vec<ClockChange>) -> Result<(), ApiError> {
    for change in changes {
        t.store().clock_changed(change).await.map_err(crate::admin::AdminError::from)?;
    }
    t.cache().invalidate(None);
    Ok(())
}

pub async fn reset(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let t = super::target(&req, &state).await?;
    let clock = t.clock();
    let mut changes = Vec::new();
    if clock.frozen() {
        changes.push(ClockChange::Thaw);
    }
    changes.push(ClockChange::Shift(-clock.offset_ms()));
    clock.reset();
    moved(&t, changes).await?;
    Ok(HttpResponse::Ok().json(describe(t.clock())))
}
