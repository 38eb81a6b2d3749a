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

impl From<Reply> for HttpResponse {
    fn from(reply: Reply) -> HttpResponse {
        let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = HttpResponse::build(status);
        let mut content_type: Option<String> = None;
        for (name, value) in &reply.headers {
            if name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.clone());
            }
            res.append_header((name.as_str(), value.as_str()));
        }
        // A body that did not arrive in time may still be on its way: the connection
        // cannot be reused.
        if reply.status == 408 {
            res.force_close();
        }
        let no_body = matches!(reply.status, 204 | 304) || reply.status < 200;
        match reply.body {
            Some(_) if no_body => res.finish(),
            None => res.finish(),
            // A string body under a non-JSON content type is sent as text.
            Some(Value::String(s)) if content_type.as_deref().is_some_and(|c| !c.contains("json")) => res.body(s),
            Some(v) => {
                if content_type.is_none() {
                    res.insert_header(("content-type", "application/json"));
                }
                res.body(serde_json::to_vec(&v).unwrap_or_default())
            }
        }
    }
}

/// A query string or path the `/system` extractors cannot read: a 400 like any other.
pub fn bad_part(what: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> actix_web::Error {
    ApiError::BadRequestPart { what, source: Box::new(e) }.into()
}
