//! CORS, as the profile's policy ([`Cors`]) says: preflights answered here, and the
//! allow headers added to every answer — errors included — for an allowed origin.
//! `/system` gets none unless the policy says `system: true`.

use crate::gateway::Gateway;
use crate::profile::Cors;
use actix_web::HttpResponse;
use actix_web::dev::ServiceRequest;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

/// What the answer to a request from `origin` gets.
pub struct Grant {
    allow_origin: HeaderValue,
    credentials: bool,
}

fn is_system(path: &str) -> bool {
    path == "/system" || path.starts_with("/system/") || path == "/metrics"
}

/// The grant for this request, if it comes from a page the policy allows.
pub fn grant(req: &ServiceRequest, gateway: &Gateway) -> Option<Grant> {
    let origin = req.headers().get("origin")?.to_str().ok()?;
    let cors = &gateway.profile().cors;
    if is_system(req.path()) && !cors.system {
        return None;
    }
    let allow = cors.allow_origin(origin)?;
    Some(Grant { allow_origin: HeaderValue::from_str(allow).ok()?, credentials: cors.credentials })
}

/// A preflight's answer: 204 with the methods the path serves and the headers asked
/// for (or the configured ones).
pub fn preflight(req: &ServiceRequest, gateway: &Gateway, grant: &Grant) -> Option<HttpResponse> {
    if req.method() != actix_web::http::Method::OPTIONS || !req.headers().contains_key("access-control-request-method")
    {
        return None;
    }
    let cors: &Cors = &gateway.profile().cors;
    let methods = if is_system(req.path()) {
        vec!["GET".into(), "POST".into(), "DELETE".into()]
    } else {
        gateway.methods(req.path())
    };
    let mut res = HttpResponse::NoContent();
    res.insert_header(("access-control-allow-methods", methods.join(", ")));
    let headers = match &cors.headers {
        Some(list) => list.join(", "),
        None => {
            req.headers().get("access-control-request-headers").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
        }
    };
    if !headers.is_empty() {
        res.insert_header(("access-control-allow-headers", headers));
    }
    res.insert_header(("access-control-max-age", cors.max_age.to_string()));
    let mut res = res.finish();
    apply(res.headers_mut(), grant);
    Some(res)
}

/// The allow headers of every answer.
pub fn apply(headers: &mut HeaderMap, grant: &Grant) {
    headers.insert(HeaderName::from_static("access-control-allow-origin"), grant.allow_origin.clone());
    headers.append(HeaderName::from_static("vary"), HeaderValue::from_static("Origin"));
    headers.insert(
        HeaderName::from_static("access-control-expose-headers"),
        HeaderValue::from_static("ETag, Location, X-Request-Id, Retry-After"),
    );
    if grant.credentials {
        headers.insert(HeaderName::from_static("access-control-allow-credentials"), HeaderValue::from_static("true"));
    }
}
