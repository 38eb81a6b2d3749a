//! Entity-type rules on every backend: constraints, unique fields, relationships,
//! optimistic locking.

use crate::common::{Backend, TestApp, code, spawn_app, spawn_with};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PROFILE: &str = "tests/fixtures/integrity";

async fn constraint_violations_are_all_listed_and_nothing_is_stored(backend: Backend) {
    let app = spawn_app(PROFILE, backend).await;
    let (status, body) =
        app.post("/users", &json!({"id": "bad", "name": "1", "email": "nope", "age": 200, "plan": "gold"})).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "validation_failed"));
    let mut paths: Vec<&str> =
        body["error"]["violations"].as_array().unwrap().iter().map(|v| v["path"].as_str().unwrap()).collect();
    paths.sort_unstable();
    assert_eq!(paths, vec!["/age", "/email", "/name", "/name", "/plan"], "{body}");
    let (status, body) = app.post("/users", &json!({"name": "No Mail"})).await;
    assert_eq!(body["error"]["violations"], json!([{"path": "/email", "message": "is required"}]));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(app.get("/users/bad").await.0, StatusCode::NOT_FOUND);
}

async fn a_unique_field_is_unique_across_creates_and_updates(backend: Backend) {
    let app = spawn_app(PROFILE, backend).await;
    let (status, body) = app.post("/users", &json!({"name": "Copy Cat", "email": "seeded@example.com"})).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "unique_violation"), "seed data holds its claims");
    assert_eq!(body["error"]["message"], "another user already has email \"seeded@example.com\"");
    let (status, ada) = app.post("/users", &json!({"id": "ada", "name": "Ada", "email": "ada@example.com"})).await;
    assert_eq!(status, StatusCode::CREATED, "{ada}");
    let (status, body) = app.patch("/users/ada", &json!({"email": "seeded@example.com"})).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "unique_violation"));
    // Changing the email frees the old one; deleting frees the new one.
    assert_eq!(app.patch("/users/ada", &json!({"email": "ada@new.example"})).await.0, StatusCode::OK);
    assert_eq!(
        app.post("/users", &json!({"id": "b", "name": "Bea", "email": "ada@example.com"})).await.0,
        StatusCode::CREATED
    );
    assert_eq!(app.delete("/users/ada").await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        app.post("/users", &json!({"id": "c", "name": "Cy", "email": "ada@new.example"})).await.0,
        StatusCode::CREATED
    );
}

async fn concurrent_creates_with_one_unique_value_have_exactly_one_winner(backend: Backend) {
    let app = spawn_app(PROFILE, backend).await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (client, address) = (app.client.clone(), app.address.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"id": format!("racer{i}"), "name": "Racer", "email": "same@example.com"});
            client.post(format!("{address}/users")).json(&body).send().await.unwrap().status()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 11);
}

async fn a_reference_must_exist(backend: Backend) {
    let app = spawn_app(PROFILE, backend).await;
    let (status, body) = app.post("/users/ghost/posts", &json!({"title": "hi"})).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "validation_failed"));
    assert_eq!(body["error"]["violations"], json!([{"path": "/user_id", "message": "users \"ghost\" does not exist"}]));
    let (status, post) = app.post("/users/u1/posts", &json!({"title": "hi"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(post["user_id"], "u1", "the nested route names the parent");
    let (_, posts) = app.get("/users/u1/posts").await;
    assert_eq!(posts["total"], 1);
}

async fn deleting_cascades_nullifies_and_restricts(backend: Backend) {
    let app = spawn_app(PROFILE, backend).await;
    app.post("/users", &json!({"id": "w", "name": "Writer", "email": "w@example.com"})).await;
    let (_, p1) = app.post("/users/w/posts", &json!({"id": "p1", "title": "one"})).await;
    app.post("/users/w/posts", &json!({"id": "p2", "title": "two"})).await;
    app.post("/comments", &json!({"id": "c1", "post_id": "p1", "text": "nice"})).await;
    assert_eq!(p1["id"], "p1");
    app.post("/invoices", &json!({"id": "i1", "customer": "w"})).await;

    let (status, body) = app.delete("/users/w").await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "delete_restricted"));
    assert_eq!(body["error"]["message"], "user \"w\" is still referenced by 1 invoice");
    assert_eq!(app.get("/posts/p1").await.0, StatusCode::OK, "a refused delete changes nothing");

    assert_eq!(app.delete("/invoices/i1").await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.delete("/users/w").await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/posts/p1").await.0, StatusCode::NOT_FOUND, "cascade");
    assert_eq!(app.get("/posts/p2").await.0, StatusCode::NOT_FOUND, "cascade");
    let (status, comment) = app.get("/comments/c1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(comment["post_id"], Value::Null, "nullify, two levels down");
}

async fn optimistic_locking_versions_every_update(backend: Backend) {
    let app = spawn_app(PROFILE, backend).await;
    let res = app.request(Method::GET, "/products/p1").send().await.unwrap();
    assert_eq!(res.headers()["etag"], "\"1\"", "seeded entities start at version 1");
    let (status, body) = app.put("/products/p1", &json!({"version": 1, "inventory": 4})).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"id": "p1", "version": 2})));

    let (status, body) = app.put("/products/p1", &json!({"version": 1, "inventory": 3})).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "version_conflict"));
    assert_eq!(body["error"]["message"], "product \"p1\" is at version 2, not 1");

    let stale = app.request(Method::PUT, "/products/p1").header("If-Match", "\"1\"").json(&json!({"inventory": 3}));
    let (status, body) = app.send(stale).await;
    assert_eq!((status, code(&body)), (StatusCode::PRECONDITION_FAILED, "precondition_failed"));
    let fresh = app.request(Method::PUT, "/products/p1").header("If-Match", "\"2\"").json(&json!({"inventory": 3}));
    assert_eq!(app.send(fresh).await.0, StatusCode::OK);

    let (status, body) = app.put("/products/p1", &json!({"inventory": -1})).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "validation_failed"));
    let (_, product) = app.get("/products/p1").await;
    assert_eq!((product["version"].clone(), product["inventory"].clone()), (json!(3), json!(3)));

    let (_, created) = app.post("/products", &json!({"id": "p9", "name": "New", "version": 40})).await;
    assert_eq!(created["version"], 1, "the server owns the version");
}

async fn concurrent_locked_increments_lose_nothing(backend: Backend) {
    let app = spawn_app(PROFILE, backend).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (client, address) = (app.client.clone(), app.address.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            while done < 5 {
                let p: Value = client.get(format!("{address}/products/p1")).send().await.unwrap().json().await.unwrap();
                let body = json!({"version": p["version"], "inventory": p["inventory"].as_i64().unwrap() + 1});
                let res = client.put(format!("{address}/products/p1")).json(&body).send().await.unwrap();
                match res.status() {
                    StatusCode::OK => done += 1,
                    StatusCode::CONFLICT => {}
                    other => panic!("unexpected {other}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (_, p) = app.get("/products/p1").await;
    assert_eq!(p["inventory"], 5 + 40);
    assert_eq!(p["version"], 1 + 40);
}

async fn index_patterns_find_entities_by_another_field(backend: Backend) {
    let app = spawn_app(PROFILE, backend).await;
    app.post("/users", &json!({"id": "z", "name": "Zoe", "email": "zoe@example.com", "plan": "pro"})).await;
    let (status, user) = app.get("/users/by-email/zoe@example.com").await;
    assert_eq!((status, user["id"].clone()), (StatusCode::OK, json!("z")));
    assert_eq!(app.get("/users/by-plan/pro").await.1["name"], "Zoe");
    let (status, body) = app.get("/users/by-email/nobody@example.com").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "entity_not_found"));
    app.patch("/users/z", &json!({"email": "zoe@new.example"})).await;
    assert_eq!(
        app.get("/users/by-email/zoe@example.com").await.0,
        StatusCode::NOT_FOUND,
        "the old value no longer leads here"
    );
    assert_eq!(app.get("/users/by-email/zoe@new.example").await.1["id"], "z");
}

/// Every stored entity of `entity` whose `field` names a user that no longer exists.
async fn orphans(app: &TestApp, entity: &str, field: &str) -> Vec<Value> {
    let system = |path: String| app.request(reqwest::Method::GET, &path).header("X-System-Key", "k");
    let (_, users) = app.send(system("/system/data/users?limit=10000".into())).await;
    let live: std::collections::HashSet<&str> =
        users["items"].as_array().unwrap().iter().filter_map(|u| u["id"].as_str()).collect();
    let (_, rows) = app.send(system(format!("/system/data/{entity}?limit=10000"))).await;
    rows["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r[field].as_str().is_some_and(|u| !live.contains(u)))
        .cloned()
        .collect()
}

/// Rounds of one parent delete racing several child creates: whichever wins, no child
/// may outlive its parent (cascade) and no parent may go while referenced (restrict).
async fn child_creates_racing_parent_deletes_leave_no_orphan(backend: Backend) {
    let app = spawn_app(PROFILE, backend).await;
    let rounds = 200;
    let (mut deleted, mut refused) = (0, 0);
    for round in 0..rounds {
        let user = format!("racer{round}");
        let (status, _) =
            app.post("/users", &json!({"id": user, "name": "Racer", "email": format!("{user}@example.com")})).await;
        assert_eq!(status, StatusCode::CREATED);
        let posts =
            (0..3).map(|i| app.post_owned(format!("/users/{user}/posts"), json!({"id": format!("{user}-p{i}")})));
        let invoice = app.post_owned("/invoices".into(), json!({"id": format!("{user}-i"), "customer": user}));
        let path = format!("/users/{user}");
        let delete = app.delete(&path);
        let (_, _, (status, _)) = tokio::join!(futures_util::future::join_all(posts), invoice, delete);
        match status {
            StatusCode::NO_CONTENT => deleted += 1,
            StatusCode::CONFLICT => refused += 1,
            other => panic!("round {round}: delete answered {other}"),
        }
    }
    assert_eq!(orphans(&app, "posts", "user_id").await, Vec::<Value>::new(), "cascade left posts behind");
    assert_eq!(orphans(&app, "invoices", "customer").await, Vec::<Value>::new(), "restrict let a customer go");
    assert_eq!(deleted + refused, rounds, "{deleted} deleted, {refused} refused");
}

on_every_backend!(
    child_creates_racing_parent_deletes_leave_no_orphan,
    index_patterns_find_entities_by_another_field,
    constraint_violations_are_all_listed_and_nothing_is_stored,
    a_unique_field_is_unique_across_creates_and_updates,
    concurrent_creates_with_one_unique_value_have_exactly_one_winner,
    a_reference_must_exist,
    deleting_cascades_nullifies_and_restricts,
    optimistic_locking_versions_every_update,
    concurrent_locked_increments_lose_nothing,
);

/// `clients` tasks, each making `each` successful read-modify-write increments with
/// optimistic locking (retrying on 409), spread over the given gateways.
async fn locked_increments(apps: &[&TestApp], clients: usize, each: usize) -> usize {
    let mut tasks = Vec::new();
    for c in 0..clients {
        let app = apps[c % apps.len()];
        let (client, address) = (app.client.clone(), app.address.clone());
        tasks.push(tokio::spawn(async move {
            let (mut done, mut conflicts) = (0, 0);
            while done < each {
                let p: Value = client.get(format!("{address}/products/p1")).send().await.unwrap().json().await.unwrap();
                let body = json!({"version": p["version"], "inventory": p["inventory"].as_i64().unwrap() + 1});
                match client.put(format!("{address}/products/p1")).json(&body).send().await.unwrap().status() {
                    StatusCode::OK => done += 1,
                    StatusCode::CONFLICT => conflicts += 1,
                    other => panic!("unexpected {other}"),
                }
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for t in tasks {
        conflicts += t.await.unwrap();
    }
    conflicts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_clients_on_two_instances_lose_no_locked_increment() {
    if !crate::common::redis::available() {
        return;
    }
    let a = spawn_app(PROFILE, Backend::Redis).await;
    let url = a.redis.as_ref().unwrap().url();
    let b = spawn_with(PROFILE, Backend::Redis, "unused-on-redis".into(), Some(url)).await;
    let conflicts = locked_increments(&[&a, &b], 16, 20).await;
    let (_, p) = b.get("/products/p1").await;
    assert_eq!(
        p["inventory"],
        5 + 320,
        "every acknowledged increment counted ({conflicts} stale attempts were refused)"
    );
    assert_eq!(p["version"], 1 + 320);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_clients_lose_no_locked_increment_on_the_file_store() {
    let app = spawn_app(PROFILE, Backend::File).await;
    let conflicts = locked_increments(&[&app], 16, 20).await;
    let (_, p) = app.get("/products/p1").await;
    assert_eq!(p["inventory"], 5 + 320, "{conflicts} stale attempts were refused");
    assert_eq!(p["version"], 1 + 320);
}

#[tokio::test]
async fn concurrent_creates_of_one_unique_value_on_two_instances_have_one_winner() {
    if !crate::common::redis::available() {
        return;
    }
    let a = spawn_app(PROFILE, Backend::Redis).await;
    let url = a.redis.as_ref().unwrap().url();
    let b = spawn_with(PROFILE, Backend::Redis, "unused-on-redis".into(), Some(url)).await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let app = if i % 2 == 0 { &a } else { &b };
        let req = app
            .request(Method::POST, "/users")
            .json(&json!({"id": format!("r{i}"), "name": "Racer", "email": "one@example.com"}));
        tasks.push(tokio::spawn(async move { req.send().await.unwrap().status() }));
    }
    let mut created = 0;
    for t in tasks {
        created += usize::from(t.await.unwrap() == StatusCode::CREATED);
    }
    assert_eq!(created, 1);
}
