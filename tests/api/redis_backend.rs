//! What only the Redis backend does: shared state, selection rules, outages.

use crate::common::{Backend, RedisServer, code, repo_path, spawn_app, spawn_with};
use mockgate::{Profile, Server, Settings};
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

const PROFILE: &str = "tests/fixtures/gateway";

#[tokio::test]
async fn two_gateway_instances_share_one_redis() {
    if !crate::common::redis::available() {
        return;
    }
    let a = spawn_app(PROFILE, Backend::Redis).await;
    let url = a.redis.as_ref().unwrap().url();
    let b = spawn_with(PROFILE, Backend::Redis, std::path::PathBuf::from("unused-on-redis"), Some(url)).await;

    assert_eq!(a.post("/v1/notes", &json!({"id": "shared", "text": "from a"})).await.0, StatusCode::CREATED);
    assert_eq!(b.get("/v1/notes/shared").await.1["text"], "from a");
    assert_eq!(b.patch("/v1/notes/shared", &json!({"text": "from b"})).await.0, StatusCode::OK);
    assert_eq!(a.get("/v1/notes/shared").await.1["text"], "from b");
    let (status, body) = b.post("/v1/notes", &json!({"id": "shared"})).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "already_exists"), "uniqueness holds across instances");
    assert_eq!(b.get("/v1/notes").await.1["total"], 2, "b did not reseed the shared data");
}

#[tokio::test]
async fn concurrent_updates_through_two_instances_lose_nothing() {
    if !crate::common::redis::available() {
        return;
    }
    let a = spawn_app(PROFILE, Backend::Redis).await;
    let url = a.redis.as_ref().unwrap().url();
    let b = spawn_with(PROFILE, Backend::Redis, std::path::PathBuf::from("unused-on-redis"), Some(url)).await;
    a.post("/v1/tickets", &json!({"title": "counter"})).await;
    // Each merge reads the note, adds its own field and writes it back: a lost update
    // would drop another writer's field.
    let mut tasks = Vec::new();
    for app in [&a, &b] {
        for i in 0..8 {
            let (client, address) = (app.client.clone(), app.address.clone());
            tasks.push(tokio::spawn(async move {
                let res = client
                    .patch(format!("{address}/v1/notes/n1"))
                    .json(&json!({format!("k{i}"): i}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), StatusCode::OK);
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (_, note) = a.get("/v1/notes/n1").await;
    for i in 0..8 {
        assert_eq!(note[format!("k{i}")], i, "every merge survived: {note}");
    }
}

#[tokio::test]
async fn an_explicit_redis_that_does_not_answer_fails_the_start_with_its_address() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let profile = Profile::load(&repo_path(PROFILE)).unwrap();
    let mut settings = Settings::ephemeral(None, "redis");
    settings.redis_url = Some(format!("redis://:hunter2@127.0.0.1:{port}"));
    let err = Server::build(&settings, profile).await.err().expect("start fails");
    let text = mockgate::telemetry::error_chain(&err);
    assert!(text.starts_with(&format!("cannot connect to Redis at redis://127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("hunter2"), "no password in messages: {text}");
}

#[tokio::test]
async fn a_profile_asking_for_redis_falls_back_to_the_file_store_when_none_is_around() {
    if std::net::TcpStream::connect("127.0.0.1:6379").is_ok() {
        eprintln!("SKIPPED: something listens on 127.0.0.1:6379");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let profile = Profile::load(&repo_path("configs/persistence")).unwrap();
    let mut settings = Settings::ephemeral(Some(dir.path().to_owned()), "");
    settings.backend = None;
    let server = Server::build(&settings, profile).await.unwrap();
    assert_eq!(server.started().backend, "file");
    assert_eq!(
        server.started().note.as_deref(),
        Some("no Redis configured and none answering at redis://127.0.0.1:6379; using the embedded file store")
    );
}

#[tokio::test]
async fn a_redis_outage_is_a_503_and_the_gateway_recovers_by_itself() {
    if !crate::common::redis::available() {
        return;
    }
    let mut app = spawn_app(PROFILE, Backend::Redis).await;
    let port = app.redis.as_ref().unwrap().port;
    drop(app.redis.take());

    let started = Instant::now();
    let res = app.request(reqwest::Method::GET, "/v1/notes/n1").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["retry-after"], "1");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(code(&body), "backend_unavailable");
    assert!(started.elapsed() < Duration::from_secs(5), "fails fast, took {:?}", started.elapsed());
    let (status, health) = app.get("/system/health").await;
    assert_eq!(
        (status, health["status"].clone(), health["redis"]["connected"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!("unhealthy"), json!(false))
    );
    let (status, body) = app.get("/v1/maybe/n1").await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"note": null, "served": true})),
        "on_connection_failure: fallback_response"
    );

    app.redis = Some(RedisServer::start_on(port));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, _) = app.post("/v1/notes", &json!({"id": "after", "text": "back"})).await;
        if status == StatusCode::CREATED {
            break;
        }
        assert!(Instant::now() < deadline, "did not recover, last status {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.get("/v1/notes/after").await.1["text"], "back");
}

/// `cmdstat_<name>` calls from `INFO commandstats`.
async fn calls(conn: &mut redis::aio::MultiplexedConnection, name: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query_async(conn).await.unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{name}:calls=")))
        .and_then(|rest| rest.split(',').next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn writes_and_pages_run_loaded_scripts_and_load_them_again_when_redis_forgets_them() {
    if !crate::common::redis::available() {
        return;
    }
    let mut app = spawn_app(PROFILE, Backend::Redis).await;
    let url = app.redis.as_ref().unwrap().url();
    let mut conn = redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query_async(&mut conn).await.unwrap();

    let mut step = 0;
    let mut round = async |app: &crate::common::TestApp| {
        step += 1;
        let id = format!("s{step}");
        assert_eq!(app.post("/v1/notes", &json!({"id": id, "text": "new"})).await.0, StatusCode::CREATED);
        assert_eq!(app.patch(&format!("/v1/notes/{id}"), &json!({"text": "changed"})).await.0, StatusCode::OK);
        let (status, page) = app.get("/v1/notes?limit=2&offset=1").await;
        assert_eq!((status, page["total"].clone()), (StatusCode::OK, json!(1 + step)));
        assert_eq!(app.get(&format!("/v1/notes/{id}")).await.1["text"], "changed");
    };
    round(&app).await;
    let evalsha = calls(&mut conn, "evalsha").await;
    assert!(evalsha >= 3, "a create, an update and a page each ran a script by its hash ({evalsha})");
    assert_eq!(calls(&mut conn, "eval").await, 0, "no script text is sent per request");
    let loaded = calls(&mut conn, "script|load").await;

    // A Redis that forgot every script (SCRIPT FLUSH, a failover, a restart): the next
    // call of each meets NOSCRIPT, loads the script and runs it; nothing fails.
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query_async(&mut conn).await.unwrap();
    round(&app).await;
    assert!(calls(&mut conn, "script|load").await > loaded, "the scripts were loaded again");

    let port = app.redis.as_ref().unwrap().port;
    drop(app.redis.take());
    app.redis = Some(crate::common::RedisServer::start_on(port));
    let deadline = Instant::now() + Duration::from_secs(15);
    while app.get("/v1/notes/n1").await.0 == StatusCode::SERVICE_UNAVAILABLE {
        assert!(Instant::now() < deadline, "did not reconnect");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The restarted Redis is empty (no persistence in tests) and has no scripts.
    assert_eq!(app.post("/v1/notes", &json!({"id": "after-restart"})).await.0, StatusCode::CREATED);
    assert_eq!(app.get("/v1/notes?limit=5").await.1["total"], 1);
}

#[tokio::test]
async fn a_read_cache_serves_this_instance_until_its_ttl_or_its_own_write() {
    if !crate::common::redis::available() {
        return;
    }
    let a = spawn_app(PROFILE, Backend::Redis).await;
    let url = a.redis.as_ref().unwrap().url();
    let b = spawn_with(PROFILE, Backend::Redis, std::path::PathBuf::from("unused-on-redis"), Some(url)).await;
    assert_eq!(a.get("/v1/cached-notes/n1").await.1["text"], "seeded");
    assert_eq!(b.patch("/v1/notes/n1", &json!({"text": "changed by b"})).await.0, StatusCode::OK);
    assert_eq!(a.get("/v1/cached-notes/n1").await.1["text"], "seeded", "served from a's cache");
    assert_eq!(a.get("/v1/notes/n1").await.1["text"], "changed by b", "uncached reads see it at once");
    assert_eq!(a.patch("/v1/notes/n1", &json!({"text": "changed by a"})).await.0, StatusCode::OK);
    assert_eq!(a.get("/v1/cached-notes/n1").await.1["text"], "changed by a", "a's own write dropped its cache");
}

#[tokio::test]
async fn an_admin_delete_during_a_redis_outage_is_a_503_not_a_conflict() {
    if !crate::common::redis::available() {
        return;
    }
    let mut app = spawn_app(PROFILE, Backend::Redis).await;
    assert_eq!(app.get("/system/data/notes/n1").await.0, StatusCode::OK);
    drop(app.redis.take());
    let res = app.request(reqwest::Method::DELETE, "/system/data/notes/n1").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["retry-after"], "1");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(code(&body), "backend_unavailable");
}

/// Resets racing eight writers on Redis leave nothing behind: every entity key is in
/// its type's index and every unique claim belongs to the user holding that value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_under_concurrent_writers_leave_no_key_outside_the_index_and_no_stale_claim() {
    if !crate::common::redis::available() {
        return;
    }
    let app = std::sync::Arc::new(spawn_app("tests/fixtures/integrity", Backend::Redis).await);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..8 {
        let (app, stop) = (app.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let user =
                    json!({"id": format!("w{w}-{n}"), "name": "Writer", "email": format!("w{w}-{n}@example.com")});
                let (status, _) = app.post("/users", &user).await;
                assert!(status == StatusCode::CREATED || status == StatusCode::CONFLICT, "{status}");
                n += 1;
            }
            n
        }));
    }
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(app.request(reqwest::Method::POST, "/system/reset").send().await.unwrap().status(), StatusCode::OK);
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut written = 0;
    for w in writers {
        written += w.await.unwrap();
    }
    assert!(written > 50, "the writers wrote ({written})");

    let url = app.redis.as_ref().unwrap().url();
    let mut conn = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*:e:*").query_async(&mut conn).await.unwrap();
    // Users are named by their key_pattern, `myapi:users:{id}`; everything else by the
    // default layout `<prefix>:e:<entity>:<id>`.
    let index: Vec<String> = redis::cmd("KEYS").arg("*:i:users").query_async(&mut conn).await.unwrap();
    let user_prefix = index.first().map(|i| i.trim_end_matches(":i:users").to_owned()).unwrap_or_default();
    let user_keys: Vec<String> = redis::cmd("KEYS").arg("myapi:users:*").query_async(&mut conn).await.unwrap();
    let named = user_keys.iter().map(|k| (user_prefix.as_str(), "users", k.strip_prefix("myapi:users:").unwrap(), k));
    let others = keys.iter().map(|key| {
        let (prefix, rest) = key.split_once(":e:").unwrap();
        let (entity, id) = rest.split_once(':').unwrap();
        (prefix, entity, id, key)
    });
    assert!(!keys.iter().any(|k| k.contains(":e:users:")), "no user under the default layout: {keys:?}");
    let mut users = std::collections::HashMap::new();
    for (prefix, entity, id, key) in named.chain(others) {
        let score: Option<f64> =
            redis::cmd("ZSCORE").arg(format!("{prefix}:i:{entity}")).arg(id).query_async(&mut conn).await.unwrap();
        assert!(score.is_some(), "{key} is outside its index");
        if entity == "users" {
            let text: String = redis::cmd("GET").arg(key).query_async(&mut conn).await.unwrap();
            let user: serde_json::Value = serde_json::from_str(&text).unwrap();
            users.insert(id.to_owned(), user["email"].as_str().unwrap().to_owned());
        }
    }
    for key in keys.iter().filter(|k| k.contains(":e:__unique.users.email:")) {
        let email = key.rsplit_once(":e:__unique.users.email:").unwrap().1;
        let text: String = redis::cmd("GET").arg(key).query_async(&mut conn).await.unwrap();
        let holder = serde_json::from_str::<serde_json::Value>(&text).unwrap()["id"].as_str().unwrap().to_owned();
        assert_eq!(users.get(&holder).map(String::as_str), Some(email), "claim {key} is stale");
    }
    // And the API agrees: every address no user holds can be taken again.
    let (status, _) = app.post("/users", &json!({"name": "After", "email": "w0-0@example.com"})).await;
    let holder = users.iter().find(|(_, e)| *e == "w0-0@example.com");
    assert_eq!(status == StatusCode::CONFLICT, holder.is_some(), "w0-0@example.com held by {holder:?}");
}

#[tokio::test]
async fn liveness_and_readiness_need_no_key_and_readiness_follows_the_backend() {
    if !crate::common::redis::available() {
        return;
    }
    let mut app = spawn_app(PROFILE, Backend::Redis).await;
    let probe = |path: &'static str| {
        let client = app.client.clone();
        let url = format!("{}{path}", app.address);
        async move {
            let res = client.get(url).send().await.unwrap();
            (res.status(), res.json::<serde_json::Value>().await.unwrap())
        }
    };
    assert_eq!(probe("/healthz").await, (StatusCode::OK, json!({"status": "ok"})));
    assert_eq!(probe("/readyz").await, (StatusCode::OK, json!({"status": "ready"})));
    drop(app.redis.take());
    assert_eq!(probe("/readyz").await, (StatusCode::SERVICE_UNAVAILABLE, json!({"status": "not ready"})), "no details");
    assert_eq!(probe("/healthz").await.0, StatusCode::OK, "the process still answers");
}
