//! `/openapi.json` (the gateway's document, serialised when it was built) and Swagger
//! UI at `/docs`, served by the binary so it works without internet.

use super::state::AppState;
use actix_web::{HttpResponse, web};

pub async fn openapi_document(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(state.gateway().openapi().clone())
}

/// Swagger UI's page and assets under a `/docs` scope. A scope is a prefix test;
/// Swagger UI's own `{_:.*}` pattern is a regex that would otherwise run for every
/// gateway request.
pub fn swagger_ui() -> actix_web::Scope {
    web::scope("/docs")
        .route(
            "",
            web::get()
                .to(|| async { HttpResponse::PermanentRedirect().insert_header(("Location", "/docs/")).finish() }),
        )
        .service(utoipa_swagger_ui::SwaggerUi::new("/{_:.*}").config(utoipa_swagger_ui::Config::from("/openapi.json")))
}
