//! CORS: on for any origin by default, narrowed or turned off by the profile or
//! `--no-cors`; preflights answered with the path's methods; allow headers on every
//! answer, errors included; none for `/system` unless asked. The last test has a real
//! browser call the mock from a page on another origin.

use crate::common::{Backend, TestApp, spawn_app};
use reqwest::{Method, StatusCode};

const PROFILE: &str = "tests/fixtures/cors";
const PAGE: &str = "http://localhost:3000";

fn header<'a>(res: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn preflight(app: &TestApp, path: &str, method: &str) -> reqwest::Response {
    app.request(Method::OPTIONS, path)
        .header("Origin", PAGE)
        .header("Access-Control-Request-Method", method)
        .header("Access-Control-Request-Headers", "content-type, if-match")
        .send()
        .await
        .unwrap()
}

/// A copy of the fixture with `cors` set to `value`.
async fn with_cors(value: serde_json::Value) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    for f in ["auth.json", "endpoints.json"] {
        std::fs::copy(crate::common::repo_path(PROFILE).join(f), dir.path().join(f)).unwrap();
    }
    let mut api: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(crate::common::repo_path(PROFILE).join("api.json")).unwrap())
            .unwrap();
    api["cors"] = value;
    std::fs::write(dir.path().join("api.json"), api.to_string()).unwrap();
    (spawn_app(dir.path().to_str().unwrap(), Backend::Memory).await, dir)
}

#[tokio::test]
async fn a_preflight_from_any_origin_gets_the_methods_of_its_path() {
    let app = spawn_app(PROFILE, Backend::Memory).await;
    let res = preflight(&app, "/notes/n1", "PATCH").await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&res, "access-control-allow-origin"), Some("*"));
    assert_eq!(header(&res, "access-control-allow-methods"), Some("GET, PATCH, DELETE"));
    assert_eq!(header(&res, "access-control-allow-headers"), Some("content-type, if-match"));
    assert_eq!(header(&res, "access-control-max-age"), Some("600"));
}

#[tokio::test]
async fn every_answer_to_a_page_carries_the_allow_headers_errors_included() {
    let app = spawn_app(PROFILE, Backend::Memory).await;
    for (method, path, status) in
        [(Method::GET, "/notes/n1", 200), (Method::GET, "/nowhere", 404), (Method::DELETE, "/notes/n1", 401)]
    {
        let res = app.request(method, path).header("Origin", PAGE).send().await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{path}");
        assert_eq!(header(&res, "access-control-allow-origin"), Some("*"), "{path}");
        let exposed = header(&res, "access-control-expose-headers").unwrap_or("");
        assert!(exposed.contains("ETag") && exposed.contains("Location"), "{exposed}");
    }
    let res = app.request(Method::GET, "/notes/n1").send().await.unwrap();
    assert_eq!(header(&res, "access-control-allow-origin"), None, "no Origin, no CORS headers");
}

#[tokio::test]
async fn the_system_api_gets_no_cors_headers_unless_the_profile_asks() {
    let app = spawn_app(PROFILE, Backend::Memory).await;
    let res =
        app.request(Method::GET, "/system/health").header("Origin", PAGE).header("X-System-Key", "cors-system-key");
    let res = res.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    let res = preflight(&app, "/system/reset", "POST").await;
    assert_eq!(header(&res, "access-control-allow-origin"), None, "a page cannot reset the mock");

    let (app, _dir) = with_cors(serde_json::json!({"system": true})).await;
    let res = preflight(&app, "/system/reset", "POST").await;
    assert_eq!((res.status(), header(&res, "access-control-allow-origin")), (StatusCode::NO_CONTENT, Some("*")));
}

#[tokio::test]
async fn cors_false_in_the_profile_or_no_cors_on_the_command_line_turns_it_off() {
    let (app, _dir) = with_cors(serde_json::json!(false)).await;
    let res = app.request(Method::GET, "/notes/n1").header("Origin", PAGE).send().await.unwrap();
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    assert_ne!(preflight(&app, "/notes/n1", "PATCH").await.status(), StatusCode::NO_CONTENT);

    let profile = mockgate::Profile::load(&crate::common::repo_path(PROFILE)).unwrap();
    let mut settings = mockgate::Settings::ephemeral(None, "memory");
    settings.cors = Some(false);
    let server = mockgate::Server::build(&settings, profile).await.unwrap();
    let port = server.port();
    tokio::spawn(server.run_until_stopped());
    let res = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/notes/n1"))
        .header("Origin", PAGE)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&res, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn listed_origins_with_credentials_are_echoed_and_others_refused() {
    let (app, _dir) = with_cors(serde_json::json!({"origins": [PAGE], "credentials": true, "max_age": 60})).await;
    let res = app.request(Method::GET, "/notes/n1").header("Origin", PAGE).send().await.unwrap();
    assert_eq!(header(&res, "access-control-allow-origin"), Some(PAGE));
    assert_eq!(header(&res, "access-control-allow-credentials"), Some("true"));
    assert_eq!(header(&res, "vary"), Some("Origin"));
    assert_eq!(header(&preflight(&app, "/notes/n1", "PATCH").await, "access-control-max-age"), Some("60"));
    let res = app.request(Method::GET, "/notes/n1").header("Origin", "http://evil.test").send().await.unwrap();
    assert_eq!((res.status(), header(&res, "access-control-allow-origin")), (StatusCode::OK, None));
}

/// A page served on one loopback port calls the mock on another with `fetch()`: a
/// GET, a JSON POST, and a PATCH with `If-Match` from the POST's exposed `ETag`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_page_on_another_origin_can_call_the_mock() {
    let Some(chromium) = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| std::process::Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()))
    else {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED cors::a_browser_page_on_another_origin_can_call_the_mock: no chromium (apt-get install chromium)"
        );
        assert!(std::env::var("CI").is_err(), "CI installs chromium");
        return;
    };
    let mock = spawn_app(PROFILE, Backend::Memory).await;
    let page = spawn_app("tests/fixtures/cors-page", Backend::Memory).await;
    let mock_port = mock.address.rsplit(':').next().unwrap().to_owned();
    let url = format!("{}/page?mock={mock_port}", page.address);
    let profile_dir = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(chromium)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
            .arg(format!("--user-data-dir={}", profile_dir.path().display()))
            .args(["--virtual-time-budget=10000", "--timeout=20000", "--dump-dom", &url])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("GET 200 | POST 201 etag=\"1\" | PATCH 200 patched v2"),
        "the page's calls: {dom}\n{}",
        String::from_utf8_lossy(&out.stderr).lines().take(20).collect::<Vec<_>>().join("\n")
    );
    assert_eq!(mock.get("/notes/b1").await.1["text"], "patched", "the browser's writes landed");
}
