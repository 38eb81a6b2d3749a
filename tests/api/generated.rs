//! Generated data: realistic, deterministic, loaded like seed data.

use crate::common::{Backend, repo_path, spawn_app};
use serde_json::Value;
use std::collections::HashSet;

async fn generated_data_is_realistic_and_consistent(backend: Backend) {
    let app = spawn_app("tests/fixtures/generated", backend).await;
    let (_, users) = app.get("/users").await;
    let (_, posts) = app.get("/posts").await;
    assert_eq!((users["total"].clone(), posts["total"].clone()), (50.into(), 200.into()));
    let users = users["entities"].as_array().unwrap();
    let ids: HashSet<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 50, "unique uuids");
    for u in users {
        assert!(uuid::Uuid::parse_str(u["id"].as_str().unwrap()).is_ok());
        assert!(u["email"].as_str().unwrap().ends_with("@corp.example"), "{u}");
        assert!(["admin", "editor", "user"].contains(&u["role"].as_str().unwrap()));
        assert!(["red", "blue"].contains(&u["team"].as_str().unwrap()), "references seeded data");
        assert!(u["joined"].as_str().unwrap().starts_with("2024-"));
        assert!(u["active"].is_boolean() && !u["name"].as_str().unwrap().is_empty());
    }
    let admins = users.iter().filter(|u| u["role"] == "admin").count();
    assert!(admins < 15, "weights 1:4:15 make admins rare, got {admins} of 50");
    let (_, all_posts) = app.get("/posts?limit=1000").await;
    for p in all_posts["entities"].as_array().unwrap() {
        assert!(ids.contains(p["user_id"].as_str().unwrap()), "every post references a generated user");
        assert_eq!(p["title"].as_str().unwrap().split(' ').count(), 5);
        assert!((0..=1000).contains(&p["views"].as_i64().unwrap()));
        assert_eq!(p["kind"], "article");
    }
}

on_every_backend!(generated_data_is_realistic_and_consistent);

#[test]
fn the_same_seed_gives_the_same_data() {
    let load = || mockgate::Profile::load(&repo_path("tests/fixtures/generated")).unwrap().initial_data();
    let (a, b) = (load(), load());
    assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
    let first: &Value = a["users"].values().next().unwrap();
    assert!(first["username"].is_string());
}

#[test]
fn bad_generators_are_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let api = r#"{"generate_data": {"counts": {"posts": 3}, "entities": {"posts": {
        "user_id": {"type": "ref", "entity": "users"},
        "x": {"type": "telepathy"},
        "when": {"type": "date", "from": "yesterday"}}}}}"#;
    std::fs::write(dir.path().join("api.json"), api).unwrap();
    std::fs::write(dir.path().join("endpoints.json"), r#"{"endpoints": [{"method": "GET", "path": "/p", "persistence": {"entity_name": "posts", "action": "list"}}]}"#).unwrap();
    let err = mockgate::Profile::load(dir.path()).unwrap_err();
    let lines: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        vec![
            "api.json: generate_data.entities.posts.user_id: reference to \"users\", which is not generated or seeded before it, expected an entity listed earlier in counts, or seeded",
            "api.json: generate_data.entities.posts.x: unknown generator \"telepathy\", expected one of uuid, sequence, username, email, name, first_name, last_name, date, datetime, lorem, number, boolean, pickOne, ref, constant",
            "api.json: generate_data.entities.posts.when: bad date \"yesterday\" in from, expected YYYY-MM-DD",
        ]
    );
}
