//! The benchmark's ceiling: the same HTTP stack (actix-web, same workers, same
//! listener setup) answering a fixed JSON body from a minimal handler.
//! Usage: `ceiling <port> [workers]`.

use actix_web::{App, HttpResponse, HttpServer, web};

const BODY: &str = r#"{"status":"ok","message":"static response","items":[1,2,3]}"#;

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(8090);
    let workers: usize = args.next().and_then(|w| w.parse().ok()).unwrap_or(2);
    HttpServer::new(|| {
        App::new().route(
            "/static",
            web::get().to(|| async { HttpResponse::Ok().content_type("application/json").body(BODY) }),
        )
    })
    .workers(workers)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
