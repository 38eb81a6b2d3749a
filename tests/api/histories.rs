//! Randomised histories: eight clients send random mixes of creates, updates, deletes,
//! atomic orders, unique-value races and resets, over two instances sharing a Redis and
//! over one instance on the file store; afterwards the data must satisfy every
//! invariant: no orphan, no duplicate unique value, stock never below zero and
//! conserved, every acknowledged write readable, every list equal to the set of
//! readable entities. The seed is fixed (set `MOCKGATE_HISTORY_SEED` to explore).

use crate::common::{Backend, RedisServer, TestApp, spawn_with};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};

const PROFILE: &str = "tests/fixtures/histories";
const WORKERS: u64 = 8;
const STOCK: i64 = 20;

/// xorshift64*: small, deterministic for a seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn seed() -> u64 {
    std::env::var("MOCKGATE_HISTORY_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5EED_CAFE)
}

/// What one phase-two worker had acknowledged: users (id → email) and posts.
#[derive(Default)]
struct Acked {
    users: HashMap<String, String>,
    posts: Vec<String>,
}

/// One random request of the racing phase; every answer must be one the API promises.
/// Returns what was tried and how it was answered.
async fn racing_step(app: &TestApp, rng: &mut Rng, w: u64, n: u64, resets: bool) -> (&'static str, u16) {
    let user = format!("u{}", rng.below(8));
    let email = format!("e{}@example.com", rng.below(20));
    let (what, (status, body)) = match rng.below(if resets { 104 } else { 99 }) {
        0..=19 => ("create user", app.post("/users", &json!({"id": user, "name": "Racer", "email": email})).await),
        20..=29 => ("update user", app.patch(&format!("/users/{user}"), &json!({"email": email})).await),
        30..=41 => ("delete user", app.delete(&format!("/users/{user}")).await),
        42..=51 => {
            ("create post", app.post(&format!("/users/{user}/posts"), &json!({"id": format!("p{w}-{n}")})).await)
        }
        52..=59 => {
            // A post and its user's delete side by side: the race restrict and cascade
            // must decide inside the commit.
            let (path, posts, body) =
                (format!("/users/{user}"), format!("/users/{user}/posts"), json!({"id": format!("r{w}-{n}")}));
            let (post, delete) = tokio::join!(app.post(&posts, &body), app.delete(&path));
            let allowed = [201, 400, 409];
            assert!(allowed.contains(&post.0.as_u16()), "worker {w} step {n}: racing post {post:?}");
            ("racing delete", delete)
        }
        60..=69 => {
            let invoice = json!({"id": format!("i{}", rng.below(15)), "customer": user});
            ("create invoice", app.post("/invoices", &invoice).await)
        }
        70..=77 => ("delete invoice", app.delete(&format!("/invoices/i{}", rng.below(15))).await),
        78..=98 => {
            let order = json!({"product_id": format!("p{}", 1 + rng.below(3)), "quantity": 1 + rng.below(5)});
            ("order", app.post("/orders", &order).await)
        }
        _ => ("reset", app.send(app.request(reqwest::Method::POST, "/system/reset")).await),
    };
    let allowed = [200, 201, 204, 400, 404, 409];
    assert!(allowed.contains(&status.as_u16()), "worker {w} step {n}: {what} answered {status} {body}");
    (what, status.as_u16())
}

/// One request of the tracked phase: every create names a fresh id and email, so each
/// acknowledged one must still be there at the end.
async fn tracked_step(app: &TestApp, rng: &mut Rng, w: u64, n: u64, acked: &mut Acked) {
    match rng.below(3) {
        0 => {
            let (id, email) = (format!("w{w}-{n}"), format!("w{w}-{n}@example.com"));
            let (status, body) = app.post("/users", &json!({"id": id, "name": "Writer", "email": email})).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            acked.users.insert(id, email);
        }
        1 => {
            let Some(owner) = acked.users.keys().next().cloned() else { return };
            let id = format!("q{w}-{n}");
            let (status, body) = app.post(&format!("/users/{owner}/posts"), &json!({"id": id})).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            acked.posts.push(id);
        }
        _ => {
            let order = json!({"product_id": format!("p{}", 1 + rng.below(3)), "quantity": 1});
            let (status, body) = app.post("/orders", &order).await;
            assert!(status == StatusCode::CREATED || status == StatusCode::BAD_REQUEST, "{status} {body}");
        }
    }
}

async fn all(app: &TestApp, entity: &str) -> Vec<Value> {
    let (status, page) = app.get(&format!("/system/data/{entity}?limit=10000")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().cloned().unwrap_or_default()
}

fn ids(rows: &[Value]) -> HashSet<String> {
    rows.iter().filter_map(|r| r["id"].as_str().map(str::to_owned)).collect()
}

/// Every invariant, read through `app`.
async fn check_invariants(app: &TestApp, acked: &[Acked]) {
    let users = all(app, "users").await;
    let user_ids = ids(&users);
    let posts = all(app, "posts").await;
    let invoices = all(app, "invoices").await;
    let orders = all(app, "orders").await;
    let products = all(app, "products").await;

    let orphan_posts: Vec<&Value> =
        posts.iter().filter(|p| !user_ids.contains(p["user_id"].as_str().unwrap_or(""))).collect();
    assert!(orphan_posts.is_empty(), "posts without their user: {orphan_posts:?}");
    let orphan_invoices: Vec<&Value> =
        invoices.iter().filter(|i| !user_ids.contains(i["customer"].as_str().unwrap_or(""))).collect();
    assert!(orphan_invoices.is_empty(), "invoices without their customer: {orphan_invoices:?}");

    let mut emails = HashMap::new();
    for u in &users {
        let email = u["email"].as_str().unwrap().to_owned();
        if let Some(other) = emails.insert(email.clone(), u["id"].clone()) {
            panic!("{email} is held by {other} and {}", u["id"]);
        }
    }
    let claims = all(app, "__unique.users.email").await;
    assert_eq!(claims.len(), users.len(), "one claim per user: {claims:?}");
    for claim in &claims {
        let holder = &claim["id"];
        assert!(emails.values().any(|id| id == holder), "claim {claim} names no user holding it");
    }

    for p in &products {
        let stock = p["stock"].as_i64().unwrap();
        assert!(stock >= 0, "stock below zero: {p}");
        let sold: i64 = orders
            .iter()
            .filter(|o| o["product_id"] == p["id"])
            .map(|o| o["quantity"].as_i64().or_else(|| o["quantity"].as_str()?.parse().ok()).unwrap())
            .sum();
        assert_eq!(stock + sold, STOCK, "{}: stock {stock} and {sold} sold", p["id"]);
    }

    let post_ids = ids(&posts);
    for a in acked {
        for (id, email) in &a.users {
            let (status, user) = app.get(&format!("/users/{id}")).await;
            assert_eq!(
                (status, user["email"].as_str()),
                (StatusCode::OK, Some(email.as_str())),
                "acknowledged user {id}"
            );
        }
        for id in &a.posts {
            assert!(post_ids.contains(id), "acknowledged post {id} is gone");
        }
    }
    // The list is the set of readable entities: everything listed reads, and every id
    // the history used reads only if listed.
    let mut candidates: HashSet<String> = (0..8).map(|i| format!("u{i}")).collect();
    candidates.extend(user_ids.iter().cloned());
    for id in candidates {
        let (status, _) = app.get(&format!("/users/{id}")).await;
        assert_eq!(
            status == StatusCode::OK,
            user_ids.contains(&id),
            "user {id}: read {status}, listed {}",
            user_ids.contains(&id)
        );
    }
}

async fn history(apps: &[&TestApp], seed: u64, racing: u64, tracked: u64) {
    let phase = |tracked_phase: bool| {
        futures_util::future::join_all((0..WORKERS).map(move |w| {
            let apps = apps.to_vec();
            async move {
                let mut rng = Rng(seed ^ (w + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(tracked_phase));
                let mut acked = Acked::default();
                let mut seen = HashSet::new();
                let steps = if tracked_phase { tracked } else { racing };
                for n in 0..steps {
                    let app = apps[rng.below(apps.len() as u64) as usize];
                    if tracked_phase {
                        tracked_step(app, &mut rng, w, n, &mut acked).await;
                    } else {
                        seen.insert(racing_step(app, &mut rng, w, n, w == 0).await);
                    }
                }
                (acked, seen)
            }
        }))
    };
    let seen: HashSet<(&str, u16)> = phase(false).await.into_iter().flat_map(|(_, s)| s).collect();
    // The history went through the interesting cases, not only the easy ones.
    for outcome in [
        ("delete user", 204),
        ("delete user", 409),
        ("create user", 409),
        ("order", 201),
        ("order", 400),
        ("create post", 400),
        ("reset", 200),
    ] {
        assert!(seen.contains(&outcome), "the history never saw {outcome:?}: {seen:?}");
    }
    let acked: Vec<Acked> = phase(true).await.into_iter().map(|(a, _)| a).collect();
    for app in apps {
        check_invariants(app, &acked).await;
    }
}

fn system(app: TestApp) -> TestApp {
    app.with_header("X-System-Key", "unused-no-key-is-configured")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_histories_on_two_instances_sharing_redis_keep_every_invariant() {
    if !crate::common::redis::available() {
        return;
    }
    let redis = RedisServer::start();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = system(spawn_with(PROFILE, Backend::Redis, dirs[0].path().to_owned(), Some(redis.url())).await);
    let b = system(spawn_with(PROFILE, Backend::Redis, dirs[1].path().to_owned(), Some(redis.url())).await);
    assert_eq!(a.send(a.request(reqwest::Method::POST, "/system/reset")).await.0, StatusCode::OK);
    history(&[&a, &b], seed(), 800, 30).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_histories_on_the_file_store_keep_every_invariant() {
    let dir = tempfile::tempdir().unwrap();
    let app = system(spawn_with(PROFILE, Backend::File, dir.path().to_owned(), None).await);
    history(&[&app], seed() ^ 1, 800, 30).await;
}
