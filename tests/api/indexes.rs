//! Declared indexes (`"indexes"` on a persistence block), end to end: what a client
//! reads through indexed filters and sorts, after creates, updates, deletes and a
//! reset, on the embedded store and on Redis, and what Redis holds afterwards.

use crate::common::{Backend, TestApp, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PROFILE: &str = "tests/fixtures/indexed";

fn ids(body: &Value) -> Vec<String> {
    body["entities"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|u| u["name"].as_str().unwrap().to_owned())
        .collect()
}

/// `(names of the page, total)` of a list.
async fn list(app: &TestApp, query: &str) -> (Vec<String>, u64) {
    let (status, body) = app.get(&format!("/users?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    (ids(&body), body["total"].as_u64().unwrap())
}

async fn indexed_lists_follow_every_write(backend: Backend) {
    let app = spawn_app(PROFILE, backend).await;
    // Seeded: s1 admin 50, s2 user 20, s3 admin 35.
    assert_eq!(list(&app, "role=admin&sort=-age").await, (vec!["Seed One".into(), "Seed Three".into()], 2));
    let mut made = Vec::new();
    for i in 0..30 {
        let role = if i % 3 == 0 { "admin" } else { "user" };
        let (status, body) =
            app.post("/users", &json!({"name": format!("u{i:02}"), "role": role, "age": i % 7 + 20})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        made.push(body["id"].as_str().unwrap().to_owned());
    }
    // Admins: the two seeds (50, 35), u00, u03, ... u27 (ages 20, 23, 26, 22, 25, 21, 24,
    // 20, 23, 26); equal ages keep creation order, descending too.
    let (page, total) = list(&app, "role=admin&sort=-age&limit=4").await;
    assert_eq!((page, total), (vec!["Seed One".into(), "Seed Three".into(), "u06".into(), "u27".into()], 12));
    // Everyone by age, descending: 50, 35, then the 26s (u06, u13, u20, u27).
    let (page, _) = list(&app, "sort=-age&offset=2&limit=3").await;
    assert_eq!(page, ["u06", "u13", "u20"]);
    let (page, total) = list(&app, "sort=age&limit=3").await;
    assert_eq!((page, total), (vec!["Seed Two".into(), "u00".into(), "u07".into()], 33));

    // An update moves an entity in the sort and between filter values.
    let (status, _) =
        app.put(&format!("/users/{}", made[1]), &json!({"name": "u01", "role": "admin", "age": 99})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list(&app, "role=admin&sort=-age&limit=1").await, (vec!["u01".into()], 13));
    assert_eq!(list(&app, "role=user&limit=1").await.1, 20);
    // A delete leaves every index.
    assert_eq!(app.delete(&format!("/users/{}", made[1])).await.0, StatusCode::NO_CONTENT);
    assert_eq!(list(&app, "role=admin&sort=-age&limit=1").await, (vec!["Seed One".into()], 12));
    assert_eq!(list(&app, "age=99").await, (vec![], 0));

    // A reset brings back the seeded data, and only it, in every index.
    let (status, body) = app.send(app.request(reqwest::Method::POST, "/system/reset")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(list(&app, "role=admin&sort=-age").await, (vec!["Seed One".into(), "Seed Three".into()], 2));
    assert_eq!(list(&app, "sort=age").await, (vec!["Seed Two".into(), "Seed Three".into(), "Seed One".into()], 3));
    assert_eq!(list(&app, "role=user&sort=-age").await, (vec!["Seed Two".into()], 1));

    if let Some(redis) = &app.redis {
        let conn = redis::Client::open(redis.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
        let keys = |pattern: &str| {
            let mut conn = conn.clone();
            let pattern = pattern.to_owned();
            async move {
                let mut k: Vec<String> = redis::cmd("KEYS").arg(pattern).query_async(&mut conn).await.unwrap();
                k.sort();
                k
            }
        };
        // One entry list per stored user; the sort indexes hold exactly the seeds.
        assert_eq!(keys("*:xm:users:*").await.len(), 3);
        let sorts = keys("*:xo:users:*").await;
        assert_eq!(sorts.len(), 2, "{sorts:?}");
        let mut conn = conn.clone();
        for key in &sorts {
            let n: usize = redis::cmd("ZCARD").arg(key).query_async(&mut conn).await.unwrap();
            assert_eq!(n, 3, "{key}");
        }
        let admins: Vec<String> = keys("*:x:users:4:role:sadmin").await;
        let members: Vec<String> =
            redis::cmd("ZRANGE").arg(&admins[0]).arg(0).arg(-1).query_async(&mut conn).await.unwrap();
        assert_eq!(members, ["s1", "s3"]);
    }
}

#[tokio::test]
async fn indexed_lists_follow_every_write_on_the_file_store() {
    indexed_lists_follow_every_write(Backend::File).await;
}

#[tokio::test]
async fn indexed_lists_follow_every_write_on_redis() {
    if crate::common::redis::available() {
        indexed_lists_follow_every_write(Backend::Redis).await;
    }
}

/// Data written before its fields were declared (an older profile) is indexed when a
/// store declaring them starts, once: a second start adds nothing, and writes from
/// then on keep the indexes.
#[tokio::test]
async fn a_redis_start_indexes_the_data_written_before_the_declaration() {
    use mockgate::store::{Cond, ListQuery, RedisStore, Sort, Store, Transaction, Ttl, Write};
    if !crate::common::redis::available() {
        return;
    }
    let server = crate::common::RedisServer::start();
    let url = server.url();
    let connect = || RedisStore::connect(&url, "test:{late}", std::time::Duration::from_secs(2));
    let plain = connect().await.unwrap();
    let put = |id: usize, age: usize| Write::Put {
        entity: "users".into(),
        id: id.to_string(),
        value: json!({"role": if id.is_multiple_of(2) { "admin" } else { "user" }, "age": age}),
        ttl: Ttl::Persist,
        cond: Cond::Any,
    };
    for i in 0..40 {
        plain.commit(Transaction::single(put(i, i % 9))).await.unwrap();
    }
    let declared: mockgate::store::DeclaredIndexes =
        [("users".to_owned(), ["role".to_owned(), "age".to_owned()].into())].into();
    let queries = [
        ListQuery { filters: vec![("role".into(), "admin".into())], limit: Some(5), ..Default::default() },
        ListQuery { sort: Some(Sort { field: "age".into(), descending: true }), limit: Some(6), ..Default::default() },
        ListQuery { sort: Some(Sort { field: "age".into(), descending: false }), offset: 3, ..Default::default() },
    ];
    let mut conn = redis::Client::open(server.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    for start in 0..2 {
        let indexed = connect().await.unwrap().with_indexes(declared.clone());
        indexed.build_indexes().await.unwrap();
        let stored = indexed.dump().await.unwrap().shift_remove("users").unwrap();
        for q in &queries {
            assert_eq!(indexed.list("users", q).await.unwrap(), q.apply(stored.values()), "start {start}: {q:?}");
        }
        // role and age: an equality and a sort entry each, as (key, member) pairs.
        let entries: usize = redis::cmd("LLEN").arg("test:{late}:xm:users:7").query_async(&mut conn).await.unwrap();
        assert_eq!(entries, 8, "start {start}");
        let mut built: Vec<String> =
            redis::cmd("SMEMBERS").arg("test:{late}:xb:users").query_async(&mut conn).await.unwrap();
        built.sort();
        assert_eq!(built, ["age", "role"]);
        indexed.commit(Transaction::single(put(7, 100 + start))).await.unwrap();
        let top = indexed.list("users", &queries[1]).await.unwrap();
        assert_eq!(top.items[0], json!({"role": "user", "age": 100 + start}), "start {start}");
    }
}
