//! The benchmark's ceilings: the same HTTP stack (actix-web, same workers, same
//! listener setup) doing the least work a request can do.
//! - `GET /static`: a fixed JSON body;
//! - `POST /redis/items`: one raw Redis `SET` of the request body under a new uuid key;
//! - `GET /redis/items/{id}`: one raw Redis `GET`, returned as is.
//!
//! Usage: `ceiling <port> [workers] [redis-url]`.

use actix_web::{App, HttpResponse, HttpServer, web};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

const BODY: &str = r#"{"status":"ok","message":"static response","items":[1,2,3]}"#;

async fn set(conn: web::Data<Option<ConnectionManager>>, body: web::Bytes) -> HttpResponse {
    let Some(mut conn) = conn.get_ref().clone() else { return HttpResponse::NotFound().finish() };
    let id = uuid::Uuid::new_v4().to_string();
    match conn.set::<_, _, ()>(format!("ceiling:{id}"), body.as_ref()).await {
        Ok(()) => HttpResponse::Created().content_type("application/json").body(format!("{{\"id\":\"{id}\"}}")),
        Err(e) => HttpResponse::ServiceUnavailable().body(e.to_string()),
    }
}

async fn get(conn: web::Data<Option<ConnectionManager>>, id: web::Path<String>) -> HttpResponse {
    let Some(mut conn) = conn.get_ref().clone() else { return HttpResponse::NotFound().finish() };
    match conn.get::<_, Option<Vec<u8>>>(format!("ceiling:{id}")).await {
        Ok(Some(v)) => HttpResponse::Ok().content_type("application/json").body(v),
        Ok(None) => HttpResponse::NotFound().finish(),
        Err(e) => HttpResponse::ServiceUnavailable().body(e.to_string()),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(8090);
    let workers: usize = args.next().and_then(|w| w.parse().ok()).unwrap_or(2);
    let conn = match args.next() {
        Some(url) => Some(
            redis::Client::open(url.as_str())
                .map_err(std::io::Error::other)?
                .get_connection_manager()
                .await
                .map_err(std::io::Error::other)?,
        ),
        None => None,
    };
    let conn = web::Data::new(conn);
    HttpServer::new(move || {
        App::new()
            .app_data(conn.clone())
            .route(
                "/static",
                web::get().to(|| async { HttpResponse::Ok().content_type("application/json").body(BODY) }),
            )
            .route("/redis/items", web::post().to(set))
            .route("/redis/items/{id}", web::get().to(get))
    })
    .workers(workers)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
