//! The same code on a real Redis Cluster: every key of an action shares one hash tag.

use crate::common::cluster::RedisCluster;
use crate::common::repo_path;
use mockgate::{Profile, Server, Settings};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_conformance_suite_and_an_atomic_order_pass_on_redis_cluster() {
    if !crate::common::redis::available() {
        return;
    }
    let cluster = RedisCluster::start();
    let urls = cluster.urls();
    // Each case has its own hash tag, so the cases land on different nodes.
    crate::conformance::run_all(|case| crate::conformance::cluster_store(&urls, case)).await;

    let profile = Profile::load(&repo_path("configs/persistence")).unwrap();
    let mut settings = Settings::ephemeral(None, "redis");
    settings.redis_url = Some(urls.clone());
    settings.redis_cluster = true;
    let server = Server::build(&settings, profile).await.expect("starts on the cluster");
    assert!(server.started().storage.starts_with("data in cluster redis://127.0.0.1:"), "{}", server.started().storage);
    let base = format!("http://127.0.0.1:{}/api/v1", server.port());
    let handle = server.handle();
    tokio::spawn(server.run_until_stopped());
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        client.post(format!("{base}{path}")).header("X-API-Key", "demo-api-key-123").json(&body).send()
    };
    let res = post("/orders", json!({"user_id": "user_001", "product_id": 1, "quantity": 4})).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["inventory_left"], 96);
    let res = post("/users", json!({"name": "Dup", "email": "admin@example.com"})).await.unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT, "unique claims work on the cluster");

    // Namespaces are the unit that scales out: 30 of them spread over the three nodes,
    // while each one's atomic operations stay on its own slot.
    for n in 0..30 {
        let ns = format!("ns-{n}");
        let user = json!({"name": "N", "email": format!("n{n}@example.com")});
        let res = client
            .post(format!("{base}/users"))
            .header("X-API-Key", "demo-api-key-123")
            .header("X-Mockgate-Namespace", &ns)
            .json(&user)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED, "{ns}");
        let order = json!({"user_id": "user_001", "product_id": 1, "quantity": 1});
        let res = client
            .post(format!("{base}/orders"))
            .header("X-API-Key", "demo-api-key-123")
            .header("X-Mockgate-Namespace", &ns)
            .json(&order)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED, "an atomic order inside {ns}");
    }
    let mut per_node = Vec::new();
    for port in &cluster.ports {
        let mut conn = redis::Client::open(format!("redis://127.0.0.1:{port}"))
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let keys: Vec<String> = redis::cmd("KEYS").arg("*|ns=*").query_async(&mut conn).await.unwrap();
        // The namespaces' data; their request journals are streams hashed by name alone.
        per_node.push(keys.iter().filter(|k| !k.contains(":log:")).count() as f64);
    }
    let mean = per_node.iter().sum::<f64>() / per_node.len() as f64;
    assert!(mean > 0.0);
    assert!(per_node.iter().all(|n| (n - mean).abs() <= 0.2 * mean), "keys per node {per_node:?}, mean {mean}");
    // Each namespace's request journal is a stream on the cluster, read back whole.
    for ns in ["ns-0", "ns-17", "ns-29"] {
        let res = client
            .post(format!("{}/system/requests/verify", base.trim_end_matches("/api/v1")))
            .header("X-API-Key", "system-admin-key-123")
            .header("X-Mockgate-Namespace", ns)
            .json(&json!({"method": "POST", "path_pattern": "/api/v1/(users|orders)", "count": 2}))
            .send()
            .await
            .unwrap();
        let status = res.status();
        assert_eq!(status, StatusCode::OK, "{ns}: {}", res.text().await.unwrap());
    }
    handle.stop(false).await;
}
