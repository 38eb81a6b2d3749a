//! `/openapi.json` (the gateway's document, serialised when it was built), Swagger UI
//! at `/docs`, served by the binary so it works without internet, and `GET /` for a
//! profile that has no root route of its own: where to look next.

use super::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};

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

/// Mock-and-Roll's air-gapped asset paths (`/static/swagger-ui/swagger-ui.css`, ...):
/// the same files, which the binary serves under `/docs/`.
pub async fn static_asset(file: web::Path<String>) -> HttpResponse {
    if file.is_empty() || !file.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
        return HttpResponse::NotFound().json(serde_json::json!({
            "error": {"code": "route_not_found", "message": "no such Swagger UI file"}
        }));
    }
    HttpResponse::PermanentRedirect().insert_header(("Location", format!("/docs/{file}"))).finish()
}

pub async fn favicon() -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header(("Location", "/docs/favicon-32x32.png")).finish()
}

/// `GET /`: a small page for a browser, JSON for everything else.
pub async fn landing(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let gateway = state.gateway();
    let info = &gateway.profile().info;
    let html = req.headers().get("accept").and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if html {
        let page = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{name}</title></head><body>\
             <h1>{name} {version}</h1><p>A mockgate mock ({n} endpoints{root}).</p><ul>\
             <li><a href=\"/docs/\">API docs (Swagger UI)</a></li><li><a href=\"/openapi.json\">OpenAPI document</a></li>\
             <li><a href=\"/healthz\">/healthz</a> and <a href=\"/readyz\">/readyz</a></li></ul></body></html>",
            name = escape(&info.name),
            version = escape(&info.version),
            n = gateway.profile().endpoints.len(),
            root =
                if info.root_path.is_empty() { String::new() } else { format!(" under {}", escape(&info.root_path)) },
        );
        return HttpResponse::Ok().content_type("text/html; charset=utf-8").body(page);
    }
    HttpResponse::Ok().json(serde_json::json!({
        // Mock-and-Roll's answer, which health scripts of its users check.
        "message": "Mock server is running.",
        "api": format!("{} {}", info.name, info.version),
        "root_path": info.root_path,
        "docs": "/docs/",
        "openapi": "/openapi.json",
        "health": "/healthz",
        "ready": "/readyz",
    }))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
