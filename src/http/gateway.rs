//! The catch-all handler: every request that is not `/system` (or one of the built-in
//! conveniences) goes to the gateway.

use super::state::AppState;
use crate::gateway::{ApiError, RequestCtx, Trace};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use std::sync::Arc;

/// Reads the body, lets the gateway answer, records the exchange in the request
/// journal, and hands its [`Trace`] to the access log and the metrics through the
/// response's extensions.
pub async fn handle(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    let start = std::time::Instant::now();
    let mut trace = Trace::default();
    let gateway = state.gateway();
    let body_cap = gateway.profile().logging.body_bytes;
    let profile = gateway.profile();
    let journals = &state.journals;
    let mut received = bytes::Bytes::new();
    let answered = match read_body(&req, payload, profile.max_body_bytes, profile.limits.body_timeout).await {
        Ok(body) => {
            if let Some(cap) = body_cap.filter(|_| !body.is_empty()) {
                trace.request_body = Some(crate::telemetry::loggable_body(&body, cap, &profile.secrets));
            }
            if journals.enabled() {
                received = body.clone();
            }
            let mut ctx = credentials(&req);
            ctx.body = body;
            gateway.handle(ctx, &mut trace).await
        }
        Err(e) => Err(e),
    };
    let outcome = match &answered {
        Ok(_) => "ok",
        Err(e) => e.status_and_code().1,
    };
    let mut reply = answered.unwrap_or_else(|e| e.to_reply());
    if let (Some(cap), Some(body)) = (body_cap, &reply.body) {
        trace.response_body = Some(crate::telemetry::loggable_value(body, cap, &profile.secrets));
    }
    if req.method() == actix_web::http::Method::HEAD {
        reply.body = None;
    }
    if let Some(d) = trace.delay {
        // A timer, not a blocked worker: other requests keep their speed.
        tokio::time::sleep(d).await;
    }
    if let Some(f) = trace.fault
        && !trace.injected.iter().any(|i| i["kind"] == f.name())
    {
        trace.injected.push(serde_json::json!({"kind": f.name(), "rule": "profile"}));
    }
    let encoded = super::error::encode(&reply);
    if journals.enabled() {
        let entry = journal_entry(&req, &gateway, &received, &reply, &encoded, &mut trace, outcome, start);
        journals.record(entry);
    }
    let mut res = match (trace.fault, trace.dribble) {
        (Some(fault), _) => super::faults::respond(&req, fault),
        // Only a body can come in pieces.
        (None, Some(d)) if encoded.body.is_some() => {
            let body = encoded.body.clone().unwrap_or_default();
            let res = super::error::respond(&reply, super::error::Encoded { body: None, ..encoded });
            let stream = super::faults::dribble(body, d);
            res.set_body(actix_web::body::BoxBody::new(actix_web::body::BodyStream::new(stream)))
        }
        _ => super::error::respond(&reply, encoded),
    };
    res.extensions_mut().insert(trace);
    res
}

/// What the journal keeps of one exchange: headers masked as the logs mask secrets,
/// bodies cut to `journal.max_body_bytes`.
#[allow(clippy::too_many_arguments)]
fn journal_entry(
    req: &HttpRequest,
    gateway: &crate::gateway::Gateway,
    body: &[u8],
    reply: &crate::gateway::Reply,
    encoded: &super::error::Encoded,
    trace: &mut Trace,
    outcome: &'static str,
    start: std::time::Instant,
) -> crate::journal::Entry {
    let profile = gateway.profile();
    let cap = profile.journal.max_body_bytes;
    let secrets = &profile.secrets;
    let settings = gateway.namespaces().settings();
    let namespace = match &trace.namespace {
        Some(ns) => Some(ns.to_string()),
        None => {
            let header = req.headers().get(settings.header.as_str()).and_then(|v| v.to_str().ok());
            crate::namespaces::requested(settings, header, req.query_string()).map(str::to_owned)
        }
    };
    let at_ms = trace.now_ms.unwrap_or_else(|| gateway.namespaces().clock_of(namespace.as_deref()).now_i64());
    let id = req.extensions().get::<super::state::RequestId>().map_or_else(Arc::default, |r| Arc::clone(&r.0));
    let size = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 2).sum();
    let mut headers = crate::journal::Headers::with_capacity(size);
    for (k, v) in req.headers().iter() {
        if let Ok(v) = v.to_str() {
            headers.push(k.as_str(), &secrets.mask_header(k.as_str(), v));
        }
    }
    let sent = encoded.body.as_deref().unwrap_or_default();
    crate::journal::Entry {
        id,
        seq: 0,
        at_ms,
        namespace,
        instance: Default::default(),
        method: method_name(req.method()),
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        headers,
        body: crate::journal::cut(body, cap),
        body_bytes: body.len(),
        route: trace.route.clone(),
        rule: trace.rule,
        unmatched: trace.unmatched.take().map(|u| *u),
        status: reply.status,
        response_headers: reply.headers.clone(),
        response_json: encoded.add_json_type,
        response_body: crate::journal::cut(sent, cap),
        response_body_bytes: sent.len(),
        latency_ms: start.elapsed().as_secs_f64() * 1000.0,
        action: trace.action.clone(),
        outcome: std::borrow::Cow::Borrowed(outcome),
        injected: trace.injected.clone(),
    }
}

/// A method's name, without a copy for the common ones.
fn method_name(m: &actix_web::http::Method) -> std::borrow::Cow<'static, str> {
    use std::borrow::Cow::{Borrowed, Owned};
    match m.as_str() {
        "GET" => Borrowed("GET"),
        "POST" => Borrowed("POST"),
        "PUT" => Borrowed("PUT"),
        "PATCH" => Borrowed("PATCH"),
        "DELETE" => Borrowed("DELETE"),
        "HEAD" => Borrowed("HEAD"),
        "OPTIONS" => Borrowed("OPTIONS"),
        other => Owned(other.to_owned()),
    }
}

/// The request without its body, as the gateway and the guards see it.
pub fn credentials(req: &HttpRequest) -> RequestCtx {
    RequestCtx {
        method: req.method().as_str().to_owned(),
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        headers: req
            .headers()
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned())))
            .collect(),
        body: bytes::Bytes::new(),
    }
}

/// The whole body, refused when it is larger than `limit` or has not arrived within
/// `timeout` (a client that sends headers and then stalls must not hold a connection).
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<bytes::Bytes, ApiError> {
    let declared =
        req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let mut buf = web::BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    loop {
        let next = tokio::time::timeout_at(deadline, payload.next()).await;
        let chunk = match next {
            Err(_) => return Err(ApiError::BodyTimeout { seconds: timeout.as_secs_f64() }),
            Ok(None) => break,
            Ok(Some(chunk)) => chunk.map_err(|e| ApiError::UnreadableBody(Box::new(e)))?,
        };
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}
