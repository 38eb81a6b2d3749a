//! One line per request (request id, method, path, route, status, latency, and the
//! persistence action with its time), the request metrics, the connection cap's
//! refusals (`limits`), and a `request` span
//! around the handler carrying the request id, so that `--debug-persistence` store
//! lines name the request they belong to.

use super::state::AppState;
use crate::gateway::Trace;
use actix_web::HttpMessage;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    // The caller's X-Request-Id when it sends a sane one, else a new time-ordered id.
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| Arc::from(new_request_id().as_str()), Arc::from);
    req.extensions_mut().insert(super::state::RequestId(Arc::clone(&request_id)));
    let span = tracing::info_span!("request", request_id = %request_id);
    // Only a request from a web page pays for CORS (one gateway lookup).
    let cors = match (req.headers().contains_key("origin"), req.app_data::<web::Data<AppState>>()) {
        (true, Some(state)) => {
            let gateway = state.gateway();
            super::cors::grant(&req, &gateway).map(|grant| (grant, gateway))
        }
        _ => None,
    };
    let early = super::limits::refusal(&req).or_else(|| {
        let (grant, gateway) = cors.as_ref()?;
        super::cors::preflight(&req, gateway, grant)
    });
    // A connection over the cap, or a preflight, is answered here, before anything else runs.
    let mut res = match early {
        Some(answer) => req.into_response(answer).map_into_right_body(),
        None => next.call(req).instrument(span).await?.map_into_left_body(),
    };
    if let Some((grant, _)) = &cors {
        super::cors::apply(res.headers_mut(), grant);
    }
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(actix_web::http::header::HeaderName::from_static("x-request-id"), value);
    }
    let elapsed = start.elapsed();
    let status = res.status().as_u16();
    // Taken out, not cloned: nothing reads it after this.
    let trace = res.response_mut().extensions_mut().remove::<Trace>();
    // The gateway's endpoint, or the matched `/system` resource; never the raw path.
    let pattern = if trace.is_none() { res.request().match_pattern() } else { None };
    let route = match &trace {
        Some(t) => t.route.as_deref(),
        None => pattern.as_deref(),
    }
    .unwrap_or(crate::metrics::UNMATCHED);
    let state = res.request().app_data::<web::Data<AppState>>().cloned();
    let gateway = state.as_ref().map(|s| s.gateway());
    // The namespace the gateway served; for anything else (`/system`), the one named.
    let named: Option<&str> = match (&trace, &gateway) {
        (Some(t), _) => t.namespace.as_deref(),
        (None, Some(g)) => {
            res.request().headers().get(g.namespaces().settings().header.as_str()).and_then(|v| v.to_str().ok())
        }
        (None, None) => None,
    };
    if let (Some(state), Some(g)) = (&state, &gateway) {
        let labelled = if g.namespaces().settings().metrics_label { named } else { None };
        state.metrics.observe_request(method.as_str(), route, labelled, status, elapsed);
        for injected in trace.iter().flat_map(|t| &t.injected) {
            state.metrics.fault_injected(injected["kind"].as_str().unwrap_or(""), route);
        }
    }
    let injected: Option<String> = trace.as_ref().filter(|t| !t.injected.is_empty()).map(|t| {
        t.injected
            .iter()
            .map(|i| format!("{} ({})", i["kind"].as_str().unwrap_or(""), i["rule"].as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join(", ")
    });
    let micros = elapsed.as_micros();
    let latency_ms = micros as f64 / 1000.0;
    let (action, persistence_ms) = match &trace {
        Some(Trace { action: Some(a), persistence, .. }) => {
            (Some(a.as_ref()), Some(persistence.as_secs_f64() * 1000.0))
        }
        _ => (None, None),
    };
    // Probes come every few seconds from load balancers and health checks.
    if super::probes::PATHS.contains(&path.as_str()) && trace.is_none() {
        tracing::debug!(target: "mockgate::access", request_id = %request_id, status, "{method} {path} {status}");
        return Ok(res);
    }
    let port = res.request().app_config().local_addr().port();
    tracing::info!(
        target: "mockgate::access",
        request_id = %request_id,
        port,
        namespace = named,
        method = %method,
        path = %path,
        route = %route,
        status,
        latency_ms,
        action,
        persistence_ms,
        request_body = trace.as_ref().and_then(|t| t.request_body.as_deref()),
        response_body = trace.as_ref().and_then(|t| t.response_body.as_deref()),
        injected = injected.as_deref(),
        "{method} {path} {status} {}.{:03}ms{}{}{}",
        micros / 1000,
        micros % 1000,
        if action.is_some() { " (" } else { "" },
        action.unwrap_or(""),
        if action.is_some() { ")" } else { "" },
    );
    Ok(res)
}

/// A UUIDv7 (time-ordered to the millisecond) whose random bits come from the thread's
/// generator, seeded once: `Uuid::now_v7` asks the kernel for them on every request.
fn new_request_id() -> String {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let random: [u8; 10] = rand::random();
    let id = uuid::Builder::from_unix_timestamp_millis(ms, &random).into_uuid();
    let mut buf = uuid::Uuid::encode_buffer();
    id.hyphenated().encode_lower(&mut buf).to_owned()
}
