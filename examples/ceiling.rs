//! The benchmark's ceilings: the same HTTP stack (actix-web, same workers, same
//! listener setup) doing the least work a request can do.
//! - `GET /static`: a fixed JSON body;
//! - `POST /redis/items`: one raw Redis `SET` of the request body under a new uuid key;
//! - `GET /redis/items/{id}`: one raw Redis `GET`, returned as is;
//!
//! and, for the choice of Redis connection (the README's design notes):
//! - `GET /redis/own/items/{id}`: the same `GET` on a connection of the worker's own
//!   (one multiplexed connection per worker instead of one for all);
//! - `GET /redis/pool/items/{id}`: the same `GET` on a connection checked out of a
//!   `deadpool-redis` pool (a checkout sends `UNWATCH` + `PING`);
//! - `PUT /redis/watch/items/{id}`: a versioned update the WATCH/MULTI way: check out a
//!   connection, `WATCH`, `GET`, bump `version` and set `price` in Rust, `MULTI`/`SET`/
//!   `EXEC`, again on a conflict.
//!
//! Usage: `ceiling <port> [workers] [redis-url]`.

use actix_web::{App, HttpResponse, HttpServer, web};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use std::sync::atomic::{AtomicUsize, Ordering};

const BODY: &str = r#"{"status":"ok","message":"static response","items":[1,2,3]}"#;

struct Redis {
    shared: ConnectionManager,
    pool: deadpool_redis::Pool,
}

type Conn = web::Data<Option<Redis>>;

fn unavailable(e: impl std::fmt::Display) -> HttpResponse {
    HttpResponse::ServiceUnavailable().body(e.to_string())
}

async fn set(redis: Conn, body: web::Bytes) -> HttpResponse {
    let Some(redis) = redis.get_ref() else { return HttpResponse::NotFound().finish() };
    let id = uuid::Uuid::new_v4().to_string();
    match redis.shared.clone().set::<_, _, ()>(format!("ceiling:{id}"), body.as_ref()).await {
        Ok(()) => HttpResponse::Created().content_type("application/json").body(format!("{{\"id\":\"{id}\"}}")),
        Err(e) => unavailable(e),
    }
}

async fn get_on(conn: &mut impl redis::aio::ConnectionLike, id: &str) -> HttpResponse {
    match redis::cmd("GET").arg(format!("ceiling:{id}")).query_async::<Option<Vec<u8>>>(conn).await {
        Ok(Some(v)) => HttpResponse::Ok().content_type("application/json").body(v),
        Ok(None) => HttpResponse::NotFound().finish(),
        Err(e) => unavailable(e),
    }
}

async fn get(redis: Conn, id: web::Path<String>) -> HttpResponse {
    let Some(redis) = redis.get_ref() else { return HttpResponse::NotFound().finish() };
    get_on(&mut redis.shared.clone(), &id).await
}

async fn get_own(own: web::Data<Option<ConnectionManager>>, id: web::Path<String>) -> HttpResponse {
    let Some(conn) = own.get_ref() else { return HttpResponse::NotFound().finish() };
    get_on(&mut conn.clone(), &id).await
}

async fn get_pooled(redis: Conn, id: web::Path<String>) -> HttpResponse {
    let Some(redis) = redis.get_ref() else { return HttpResponse::NotFound().finish() };
    match redis.pool.get().await {
        Ok(mut conn) => get_on(&mut conn, &id).await,
        Err(e) => unavailable(e),
    }
}

async fn update_watched(redis: Conn, id: web::Path<String>, body: web::Json<serde_json::Value>) -> HttpResponse {
    let Some(redis) = redis.get_ref() else { return HttpResponse::NotFound().finish() };
    let mut conn = match redis.pool.get().await {
        Ok(conn) => conn,
        Err(e) => return unavailable(e),
    };
    let key = format!("ceiling:{id}");
    for _ in 0..16 {
        let read: redis::RedisResult<Option<String>> = async {
            redis::cmd("WATCH").arg(&key).query_async::<()>(&mut *conn).await?;
            redis::cmd("GET").arg(&key).query_async(&mut *conn).await
        }
        .await;
        let current = match read {
            Ok(Some(text)) => text,
            Ok(None) => return HttpResponse::NotFound().finish(),
            Err(e) => return unavailable(e),
        };
        let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&current) else {
            return HttpResponse::InternalServerError().finish();
        };
        let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
        value["version"] = (version + 1).into();
        value["price"] = body.get("price").cloned().unwrap_or_default();
        let text = value.to_string();
        let done: redis::RedisResult<Option<()>> =
            redis::pipe().atomic().set(&key, &text).ignore().query_async(&mut *conn).await;
        match done {
            Ok(Some(())) => return HttpResponse::Ok().content_type("application/json").body(text),
            Ok(None) => continue,
            Err(e) => return unavailable(e),
        }
    }
    HttpResponse::Conflict().finish()
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(8090);
    let workers: usize = args.next().and_then(|w| w.parse().ok()).unwrap_or(2);
    let (redis, own) = match args.next() {
        Some(url) => {
            let client = redis::Client::open(url.as_str()).map_err(std::io::Error::other)?;
            let shared = client.get_connection_manager().await.map_err(std::io::Error::other)?;
            let mut own = Vec::new();
            for _ in 0..workers {
                own.push(client.get_connection_manager().await.map_err(std::io::Error::other)?);
            }
            let pool = deadpool_redis::Config::from_url(url)
                .create_pool(Some(deadpool_redis::Runtime::Tokio1))
                .map_err(std::io::Error::other)?;
            (Some(Redis { shared, pool }), own)
        }
        None => (None, Vec::new()),
    };
    let redis = web::Data::new(redis);
    let next = std::sync::Arc::new(AtomicUsize::new(0));
    HttpServer::new(move || {
        // Each worker runs this factory once: hand it its own connection.
        let mine = (!own.is_empty()).then(|| own[next.fetch_add(1, Ordering::Relaxed) % own.len()].clone());
        App::new()
            .app_data(redis.clone())
            .app_data(web::Data::new(mine))
            .route(
                "/static",
                web::get().to(|| async { HttpResponse::Ok().content_type("application/json").body(BODY) }),
            )
            .route("/redis/items", web::post().to(set))
            .route("/redis/items/{id}", web::get().to(get))
            .route("/redis/own/items/{id}", web::get().to(get_own))
            .route("/redis/pool/items/{id}", web::get().to(get_pooled))
            .route("/redis/watch/items/{id}", web::put().to(update_watched))
    })
    .workers(workers)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
