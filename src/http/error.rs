//! Replies and errors as actix responses. The status/code table itself is the
//! gateway's ([`ApiError::status_and_code`]); this is only the conversion.

use crate::gateway::{ApiError, Reply};
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::Value;

impl actix_web::ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status_and_code().0).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        self.to_reply().into()
    }
}

/// A reply's body as sent: its bytes, and whether it goes out as JSON without a
/// content type of its own (so one is added).
pub struct Encoded {
    pub body: Option<bytes::Bytes>,
    pub add_json_type: bool,
}

/// Serialises a reply's body once (the response and the request journal share it).
pub fn encode(reply: &Reply) -> Encoded {
    let content_type = reply.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-type")).map(|(_, v)| v);
    let no_body = matches!(reply.status, 204 | 304) || reply.status < 200;
    match &reply.body {
        Some(_) if no_body => Encoded { body: None, add_json_type: false },
        None => Encoded { body: None, add_json_type: false },
        // A string body under a non-JSON content type is sent as text.
        Some(Value::String(s)) if content_type.is_some_and(|c| !c.contains("json")) => {
            Encoded { body: Some(bytes::Bytes::from(s.clone().into_bytes())), add_json_type: false }
        }
        Some(v) => Encoded {
            body: Some(bytes::Bytes::from(serde_json::to_vec(v).unwrap_or_default())),
            add_json_type: content_type.is_none(),
        },
    }
}

/// The response for `reply`, whose body is `encoded`.
pub fn respond(reply: &Reply, encoded: Encoded) -> HttpResponse {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = HttpResponse::build(status);
    for (name, value) in &reply.headers {
        res.append_header((name.as_str(), value.as_str()));
    }
    // A body that did not arrive in time may still be on its way: the connection
    // cannot be reused.
    if reply.status == 408 {
        res.force_close();
    }
    if encoded.add_json_type {
        res.insert_header(("content-type", "application/json"));
    }
    match encoded.body {
        Some(b) => res.body(b),
        None => res.finish(),
    }
}

impl From<Reply> for HttpResponse {
    fn from(reply: Reply) -> HttpResponse {
        let encoded = encode(&reply);
        respond(&reply, encoded)
    }
}

/// A query string or path the `/system` extractors cannot read: a 400 like any other.
pub fn bad_part(what: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> actix_web::Error {
    ApiError::BadRequestPart { what, source: Box::new(e) }.into()
}
