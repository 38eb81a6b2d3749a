//! The catch-all handler: every request that is not `/system` (or one of the built-in
//! conveniences) goes to the gateway.

use super::state::AppState;
use crate::gateway::{ApiError, RequestCtx, Trace};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;

/// Reads the body, lets the gateway answer, and hands its [`Trace`] to the access log
/// and the metrics through the response's extensions.
pub async fn handle(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    let mut trace = Trace::default();
    let gateway = state.gateway();
    let body_cap = gateway.profile().logging.body_bytes;
    let profile = gateway.profile();
    let answered = match read_body(&req, payload, profile.max_body_bytes, profile.limits.body_timeout).await {
        Ok(body) => {
            if let Some(cap) = body_cap.filter(|_| !body.is_empty()) {
                trace.request_body = Some(crate::telemetry::loggable_body(&body, cap, &profile.secrets));
            }
            let mut ctx = credentials(&req);
            ctx.body = body;
            gateway.handle(ctx, &mut trace).await
        }
        Err(e) => Err(e),
    };
    let mut reply = answered.unwrap_or_else(|e| e.to_reply());
    if let (Some(cap), Some(body)) = (body_cap, &reply.body) {
        trace.response_body = Some(crate::telemetry::loggable_value(body, cap, &profile.secrets));
    }
    if req.method() == actix_web::http::Method::HEAD {
        reply.body = None;
    }
    let mut res = HttpResponse::from(reply);
    res.extensions_mut().insert(trace);
    res
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
