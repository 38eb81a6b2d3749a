//! Mock-and-Roll profiles as a migrating team brings them (`tests/fixtures/mock-and-roll/`),
//! checked as that team would: what `validate-config` says, the status and body a client
//! reads, and what is stored afterwards.

use crate::common::repo_path;
use std::process::Command;

fn mockctl() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mockctl"));
    cmd.current_dir(repo_path(""));
    cmd.env_remove("MOCKGATE_LOG").env_remove("RUST_LOG").env_remove("MOCKGATE_STRICT");
    cmd.env("MOCKGATE_STATE_DIR", std::env::temp_dir().join(format!("mockgate-tests-{}", std::process::id())));
    cmd
}

const TYPOS: &str = "tests/fixtures/mock-and-roll/typos";

#[test]
fn keys_nothing_reads_are_warnings_with_their_place_and_the_likely_key() {
    let out = mockctl().args(["validate-config", TYPOS]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "a warning does not refuse the profile: {err}");
    for line in [
        "warning: endpoints.json: endpoints[1].persistence.uniqe_fields (POST /rooms): unknown key, did you mean \"unique_fields\"?",
        "warning: endpoints.json: endpoints[1].responses[0].response.header (POST /rooms): unknown key, did you mean \"headers\"?",
        "warning: endpoints.json: version: unknown key, expected \"endpoints\"",
        "warning: api.json: swagger_ui.doc_expansion: accepted without effect",
        "warning: api.json: logging.request_response_logging: accepted without effect",
    ] {
        assert!(err.contains(line), "missing {line:?} in:\n{err}");
    }
    assert_eq!(err.lines().filter(|l| l.starts_with("warning:")).count(), 5, "{err}");
    // Keys mockgate reads are not reported, Mock-and-Roll's spellings included.
    for quiet in ["max_body_log_size", "airgapped_mode", "api_name", "\"tag\""] {
        assert!(!err.contains(quiet), "{quiet} is understood: {err}");
    }
    assert!(String::from_utf8_lossy(&out.stdout).contains("5 warning(s): --strict makes them problems"));
}

#[test]
fn strict_makes_every_warning_a_problem() {
    let out = mockctl().args(["validate-config", TYPOS, "--strict"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is invalid (5 problems)"), "{err}");
    let json = mockctl().args(["validate-config", TYPOS, "--json"]).env("MOCKGATE_STRICT", "true").output().unwrap();
    assert_eq!(json.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(
        report["problems"][0],
        serde_json::json!({
            "file": "endpoints.json",
            "json_path": "endpoints[1].persistence.uniqe_fields",
            "found": "unknown key, did you mean \"unique_fields\"?",
            "expected": "",
            "endpoint": "POST /rooms"
        })
    );
    // Without --strict the same report lists them as warnings of a valid profile.
    let lenient = mockctl().args(["validate-config", TYPOS, "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&lenient.stdout).unwrap();
    assert_eq!(
        (report["valid"].clone(), report["warnings"].as_array().map(Vec::len)),
        (serde_json::json!(true), Some(5))
    );
}

#[test]
fn a_strict_start_refuses_before_anything_runs() {
    let state = tempfile::tempdir().unwrap();
    let out = mockctl()
        .args(["start", TYPOS, "--strict", "--port", "0", "--no-persistence"])
        .env("MOCKGATE_STATE_DIR", state.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot start") && err.contains("uniqe_fields"), "{err}");
    assert!(std::fs::read_dir(state.path()).unwrap().next().is_none(), "no server was recorded");
}

#[test]
fn the_shipped_profiles_have_nothing_to_warn_about() {
    for profile in ["basic", "persistence", "shop"] {
        let out = mockctl().args(["validate-config", profile, "--strict"]).output().unwrap();
        assert!(out.status.success(), "{profile}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

mod rooms {
    //! The Webex-style rooms profile on every backend.

    use crate::common::{Backend, TestApp, code, spawn_app};
    use reqwest::{Method, StatusCode};
    use serde_json::{Value, json};

    const ROOMS: &str = "tests/fixtures/mock-and-roll/rooms";

    async fn app(backend: Backend) -> TestApp {
        spawn_app(ROOMS, backend).await.with_header("X-API-Key", "webex-key-1")
    }

    fn ids(list: &Value, key: &str) -> Vec<String> {
        list[key].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
    }

    async fn static_items_are_seeded_listed_under_the_list_key_and_read_only(backend: Backend) {
        let app = app(backend).await;
        let (status, list) = app.get("/v1/rooms").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!((list["kind"].clone(), list["total"].clone()), (json!("room-list"), json!(1)), "{list}");
        assert_eq!(list["items"][0], json!({"id": "room-seeded-1", "title": "General", "type": "group"}));
        // The same endpoint without the root path.
        assert_eq!(app.get("/rooms").await, (status, list));
        let (status, body) = app.delete("/v1/rooms/room-seeded-1").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["message"], "This resource is protected and cannot be deleted.");
        assert_eq!(
            body["errors"],
            json!([{"description": "Protected resources from the initial configuration are read-only."}])
        );
        assert_eq!(app.get("/v1/rooms/room-seeded-1").await.0, StatusCode::OK, "still there");
    }

    async fn a_create_answers_its_template_with_the_stored_id_and_fields(backend: Backend) {
        let app = app(backend).await;
        let (status, created) = app.post("/v1/rooms", &json!({"title": "Design", "type": "group"})).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!((created["title"].clone(), created["isLocked"].clone()), (json!("Design"), json!(false)));
        let id = created["id"].as_str().unwrap().to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{created}");
        // The id the client received is the one stored: a retrieve answers the entity as stored.
        let (status, read) = app.get(&format!("/v1/rooms/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!((read["id"].as_str(), read["title"].as_str()), (Some(id.as_str()), Some("Design")));
        assert!(read.get("message").is_none(), "the retrieve's 404 rule answers only a missing room: {read}");
        let (_, list) = app.get("/v1/rooms").await;
        assert_eq!(list["total"], 2);
        assert!(ids(&list, "items").contains(&id));
    }

    async fn lists_filter_only_by_the_listed_parameters(backend: Backend) {
        let app = app(backend).await;
        app.post("/v1/rooms", &json!({"title": "One to one", "type": "direct"})).await;
        let (_, direct) = app.get("/v1/rooms?type=direct").await;
        assert_eq!((direct["total"].clone(), direct["items"][0]["title"].clone()), (json!(1), json!("One to one")));
        // `title` is not in filter_by_query_params: it filters nothing.
        let (_, all) = app.get("/v1/rooms?title=nothing-like-this").await;
        assert_eq!(all["total"], 2, "{all}");
    }

    async fn a_duplicate_answers_the_409_rule_and_stores_nothing(backend: Backend) {
        let app = app(backend).await;
        assert_eq!(app.post("/v1/rooms", &json!({"title": "Ops"})).await.0, StatusCode::CREATED);
        let (status, body) = app.post("/v1/rooms", &json!({"title": "Ops"})).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body, json!({"message": "A room with this title already exists."}));
        // The seeded title is taken too.
        assert_eq!(app.post("/v1/rooms", &json!({"title": "General"})).await.0, StatusCode::CONFLICT);
        let (status, body) = app.post("/v1/rooms", &json!({"title": ""})).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({"message": "Title cannot be empty."})));
        assert_eq!(app.get("/v1/rooms").await.1["total"], 2, "only General and the first Ops");
    }

    async fn a_missing_entity_gets_the_profile_s_own_answer(backend: Backend) {
        let app = app(backend).await;
        let (status, body) = app.get("/v1/rooms/no-such-room").await;
        assert_eq!(
            (status, body),
            (StatusCode::NOT_FOUND, json!({"message": "The requested resource could not be found."}))
        );
        let (status, body) = app.delete("/v1/rooms/no-such-room").await;
        assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({"message": "Room not found"})));
    }

    async fn required_entities_and_cascade_delete(backend: Backend) {
        let app = app(backend).await;
        let (status, body) =
            app.post("/v1/memberships", &json!({"roomId": "ghost", "personEmail": "a@example.com"})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            (code(&body), body["error"]["message"].as_str()),
            ("reference_not_found", Some("Room does not exist."))
        );
        assert_eq!(app.get("/v1/memberships").await.1["count"], 0, "nothing stored");

        let room = app.post("/v1/rooms", &json!({"title": "Standup"})).await.1["id"].as_str().unwrap().to_owned();
        for who in ["a@example.com", "b@example.com"] {
            let (status, m) = app.post("/v1/memberships", &json!({"roomId": room, "personEmail": who})).await;
            assert_eq!(status, StatusCode::CREATED, "{m}");
        }
        let general =
            app.post("/v1/memberships", &json!({"roomId": "room-seeded-1", "personEmail": "c@example.com"})).await;
        assert_eq!(general.0, StatusCode::CREATED);
        // Without a response_list_key a list answers {"entities", "count"}.
        let (_, mine) = app.get(&format!("/v1/memberships?roomId={room}")).await;
        assert_eq!(mine["count"], 2, "{mine}");
        assert_eq!(mine["entities"].as_array().unwrap().len(), 2);

        assert_eq!(app.delete(&format!("/v1/rooms/{room}")).await.0, StatusCode::NO_CONTENT);
        let (_, left) = app.get("/v1/memberships").await;
        assert_eq!(left["count"], 1, "the room's memberships went with it: {left}");
        assert_eq!(left["entities"][0]["roomId"], "room-seeded-1");
        assert_eq!(app.get(&format!("/v1/rooms/{room}")).await.0, StatusCode::NOT_FOUND);
    }

    async fn required_headers_and_query_parameters(backend: Backend) {
        let app = app(backend).await;
        let (status, body) = app.put("/v1/devices/d1/config", &json!({})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(code(&body), "header_mismatch");
        assert_eq!(body["error"]["message"], "Missing or invalid header: X-Request-Source");
        assert_eq!(
            (body["error"]["expected"].clone(), body["error"]["received"].clone()),
            (json!("controller"), Value::Null)
        );
        let wrong = app.request(Method::PUT, "/v1/devices/d1/config").header("X-Request-Source", "ui").json(&json!({}));
        assert_eq!(app.send(wrong).await.1["error"]["received"], "ui");
        let right =
            app.request(Method::PUT, "/v1/devices/d1/config").header("X-Request-Source", "controller").json(&json!({}));
        assert_eq!(app.send(right).await, (StatusCode::OK, json!({"applied": true})));

        let (status, body) = app.get("/v1/search").await;
        assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "missing_query_parameter"));
        assert_eq!(app.get("/v1/search?q=x").await, (StatusCode::OK, json!({"results": []})));
    }

    async fn store_response_body_stores_what_the_client_read(backend: Backend) {
        let app = app(backend).await;
        let (status, created) = app.post("/v1/templates", &json!({"name": "branch-router", "secret": "s3"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let template_id = created["templateId"].as_str().unwrap().to_owned();
        assert_eq!((created["name"].clone(), created["status"].clone()), (json!("branch-router"), json!("draft")));
        let (_, list) = app.get("/v1/templates").await;
        let stored = &list["data"][0];
        assert_eq!(stored["templateId"], template_id.as_str(), "the random id was rendered once: {list}");
        assert_eq!(stored["status"], "draft");
        assert!(stored.get("secret").is_none(), "the response is stored, not the request: {stored}");
    }

    on_every_backend!(
        static_items_are_seeded_listed_under_the_list_key_and_read_only,
        a_create_answers_its_template_with_the_stored_id_and_fields,
        lists_filter_only_by_the_listed_parameters,
        a_duplicate_answers_the_409_rule_and_stores_nothing,
        a_missing_entity_gets_the_profile_s_own_answer,
        required_entities_and_cascade_delete,
        required_headers_and_query_parameters,
        store_response_body_stores_what_the_client_read,
    );

    #[tokio::test]
    async fn built_in_paths_win_and_the_document_lists_each_endpoint_once() {
        let app = app(Backend::Memory).await;
        let (status, doc) = app.get("/openapi.json").await;
        assert_eq!(status, StatusCode::OK);
        let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
        assert!(paths.iter().any(|p| *p == "/v1/rooms"), "{paths:?}");
        assert!(!paths.iter().any(|p| *p == "/rooms"), "each endpoint once, under its root path: {paths:?}");
        assert_eq!(app.get("/").await.1["message"], "Mock server is running.");
        assert_eq!(app.get("/healthz").await.0, StatusCode::OK);
    }
}

#[test]
fn config_folder_names_the_profile_when_none_is_given() {
    let out =
        mockctl().arg("validate-config").env("CONFIG_FOLDER", "tests/fixtures/mock-and-roll/rooms").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("mock-and-roll/rooms is valid: 10 endpoint(s)"));
    // MOCK_CONFIG_FOLDER comes first, as in Mock-and-Roll.
    let out = mockctl()
        .arg("validate-config")
        .env("CONFIG_FOLDER", "tests/fixtures/mock-and-roll/rooms")
        .env("MOCK_CONFIG_FOLDER", TYPOS)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("typos is valid"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let none =
        mockctl().arg("validate-config").env_remove("CONFIG_FOLDER").env_remove("MOCK_CONFIG_FOLDER").output().unwrap();
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("set CONFIG_FOLDER"));
}

#[tokio::test]
async fn the_unprefixed_form_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["auth.json", "endpoints.json"] {
        std::fs::copy(repo_path("tests/fixtures/mock-and-roll/rooms").join(f), dir.path().join(f)).unwrap();
    }
    let api = r#"{"api_name": "rooms", "root_path": "/v1", "unprefixed_paths": false}"#;
    std::fs::write(dir.path().join("api.json"), api).unwrap();
    let app = crate::common::spawn_app(dir.path().to_str().unwrap(), crate::common::Backend::Memory)
        .await
        .with_header("X-API-Key", "webex-key-1");
    assert_eq!(app.get("/v1/rooms").await.0, reqwest::StatusCode::OK);
    let (status, body) = app.get("/rooms").await;
    assert_eq!((status, crate::common::code(&body)), (reqwest::StatusCode::NOT_FOUND, "route_not_found"));
}

mod vmanage {
    //! Authentication as Mock-and-Roll's vmanage profile uses it, on every backend.

    use crate::common::{Backend, TestApp, code, spawn_app};
    use reqwest::{Method, StatusCode};
    use serde_json::json;

    const VMANAGE: &str = "tests/fixtures/mock-and-roll/vmanage";

    fn with_cookie(app: &TestApp, path: &str, cookie: &str) -> reqwest::RequestBuilder {
        app.request(Method::GET, path).header("Cookie", cookie)
    }

    async fn form_login_hands_out_a_listed_session_consistently(backend: Backend) {
        let app = spawn_app(VMANAGE, backend).await;
        let login = |user: &str, pass: &str| {
            app.request(Method::POST, "/j_security_check")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(format!("j_username={user}&j_password={pass}"))
        };
        let res = login("admin", "admin").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
        let body: serde_json::Value = res.json().await.unwrap();
        let session = body["session"].as_str().unwrap();
        assert!(["sess-admin-1", "sess-op-2"].contains(&session), "{body}");
        // One random pick per request: the header and the body name the same session.
        assert_eq!(cookie, format!("JSESSIONID={session}; Path=/"));
        let user = if session == "sess-admin-1" { "admin" } else { "operator" };
        assert_eq!(body["user"], user);
        let res = login("admin", "wrong").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }

    async fn a_session_cookie_authenticates_and_its_properties_reach_the_response(backend: Backend) {
        let app = spawn_app(VMANAGE, backend).await;
        let res = with_cookie(&app, "/dataservice/client/token", "JSESSIONID=sess-op-2; lang=en").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        assert_eq!(res.text().await.unwrap(), "csrf-op-2", "a text/plain body is the text itself");
        // A bare cookie value is accepted too, as Mock-and-Roll does.
        let (status, me) = app.send(with_cookie(&app, "/dataservice/whoami", "sess-admin-1")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(me, json!({"username": "admin", "unknown": "${auth.nothing.random_key}"}));
        let (status, body) = app.send(with_cookie(&app, "/dataservice/whoami", "JSESSIONID=forged")).await;
        assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "invalid_credentials"));
        let (status, body) = app.get("/dataservice/whoami").await;
        assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "authentication_required"));
    }

    async fn csrf_tokens_travel_in_x_xsrf_token(backend: Backend) {
        let app = spawn_app(VMANAGE, backend).await;
        let post = |token: Option<&str>| {
            let rb = app.request(Method::POST, "/dataservice/template/device").json(&json!({}));
            match token {
                Some(t) => rb.header("X-XSRF-TOKEN", t),
                None => rb,
            }
        };
        assert_eq!(app.send(post(Some("csrf-admin-1"))).await.0, StatusCode::CREATED);
        assert_eq!(app.send(post(Some("nope"))).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(app.send(post(None)).await.0, StatusCode::UNAUTHORIZED);
    }

    async fn several_methods_mean_any_one_and_scopes_still_hold(backend: Backend) {
        let app = spawn_app(VMANAGE, backend).await;
        let call =
            |auth: &str| app.request(Method::GET, "/dataservice/admin/user").header("Authorization", auth.to_owned());
        assert_eq!(app.send(call("Basic YWRtaW46YWRtaW4=")).await.0, StatusCode::OK, "basic alone is enough");
        assert_eq!(app.send(call("Bearer tok-admin")).await.0, StatusCode::OK, "a bearer token alone too");
        let (status, body) = app.send(call("Bearer tok-read")).await;
        assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "insufficient_scope"));
        assert_eq!(app.send(call("Basic YWRtaW46bm9wZQ==")).await.0, StatusCode::UNAUTHORIZED);
    }

    on_every_backend!(
        form_login_hands_out_a_listed_session_consistently,
        a_session_cookie_authenticates_and_its_properties_reach_the_response,
        csrf_tokens_travel_in_x_xsrf_token,
        several_methods_mean_any_one_and_scopes_still_hold,
    );
}

/// The persistence guide's login and profile endpoints, as written there (no `data`
/// template): the session stored is what the response says about it.
async fn a_login_stores_what_its_response_says_never_the_password(backend: crate::common::Backend) {
    use reqwest::{Method, StatusCode};
    let app = crate::common::spawn_app("tests/fixtures/mock-and-roll/sessions", backend).await;
    let (status, login) =
        app.post("/api/auth/login", &serde_json::json!({"username": "admin", "password": "secret123"})).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let sid = login["session_id"].as_str().unwrap().to_owned();
    let profile = app.request(Method::GET, "/api/profile").header("X-Session-Id", &sid);
    let (status, me) = app.send(profile).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me, serde_json::json!({"user": "admin", "permissions": ["read", "write", "admin"]}));
    let stored =
        app.request(Method::GET, &format!("/system/data/sessions/{sid}")).header("X-System-Key", "sessions-admin-1");
    let (status, session) = app.send(stored).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["user_id"], "admin");
    assert!(session.get("password").is_none() && !session.to_string().contains("secret123"), "{session}");
    let wrong = app.post("/api/auth/login", &serde_json::json!({"username": "admin", "password": "nope"})).await;
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
}

on_every_backend!(a_login_stores_what_its_response_says_never_the_password);

mod admin {
    //! The admin paths Mock-and-Roll users script against, with its `X-API-Key`.

    use crate::common::{Backend, TestApp, code, spawn_app};
    use reqwest::{Method, StatusCode};
    use serde_json::json;

    async fn app(backend: Backend) -> TestApp {
        spawn_app("tests/fixtures/mock-and-roll/rooms", backend).await.with_header("X-API-Key", "webex-key-1")
    }

    /// A `/system` call with the system method's key in `X-API-Key`.
    fn system(app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
        app.client.request(method, format!("{}{path}", app.address)).header("X-API-Key", "webex-admin-1")
    }

    async fn cache_paths_read_and_delete_stored_entities(backend: Backend) {
        let app = app(backend).await;
        let id = app.post("/v1/rooms", &json!({"title": "Ops"})).await.1["id"].as_str().unwrap().to_owned();
        // A user key is not a system key, with or without the root path.
        for path in ["/system/cache/info", "/v1/system/cache/info"] {
            let user = app.client.get(format!("{}{path}", app.address)).header("X-API-Key", "webex-key-1");
            assert_ne!(app.send(user).await.0, StatusCode::OK, "{path}");
        }
        let (status, info) = app.send(system(&app, Method::GET, "/system/cache/info")).await;
        assert_eq!(status, StatusCode::OK, "{info}");
        let expected = if backend == Backend::Redis { "connected" } else { "active" };
        assert_eq!((info["status"].as_str(), info["keys"].as_u64()), (Some(expected), Some(2)), "{info}");
        assert_eq!(info["collections"], json!(["rooms"]));

        let (status, list) = app.send(system(&app, Method::GET, "/system/cache/entities/rooms")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!((list["status"].as_str(), list["data"]["count"].as_u64()), (Some("success"), Some(2)));
        let wrapped = &list["data"]["entities"].as_array().unwrap().iter().find(|e| e["id"] == id.as_str()).unwrap();
        assert_eq!((wrapped["entity_type"].as_str(), wrapped["data"]["title"].as_str()), (Some("rooms"), Some("Ops")));

        let one = format!("/system/cache/entities/rooms/{id}");
        let (status, got) = app.send(system(&app, Method::GET, &one)).await;
        assert_eq!((status, got["data"]["entity_id"].as_str()), (StatusCode::OK, Some(id.as_str())));
        let (status, gone) = app.send(system(&app, Method::DELETE, &one)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(gone["message"], format!("Entity rooms:{id} deleted from cache"));
        assert_eq!(app.get(&format!("/v1/rooms/{id}")).await.0, StatusCode::NOT_FOUND, "deleted from the store");
        let (status, body) = app.send(system(&app, Method::GET, &one)).await;
        assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "entity_not_found"));
        // mockgate's own read cache has paths of its own.
        assert_eq!(app.send(system(&app, Method::GET, "/system/cache/reads/rooms")).await.1["ids"], json!([]));
    }

    async fn flush_empties_this_profile_s_data_only(backend: Backend) {
        let app = app(backend).await;
        let foreign = match &app.redis {
            Some(r) => {
                let client = ::redis::Client::open(r.url()).unwrap();
                let mut conn = client.get_multiplexed_async_connection().await.unwrap();
                let _: () =
                    ::redis::cmd("SET").arg("another-app:key").arg("kept").query_async(&mut conn).await.unwrap();
                Some(conn)
            }
            None => None,
        };
        app.post("/v1/rooms", &json!({"title": "Ops"})).await;
        let (status, body) = app.send(system(&app, Method::DELETE, "/system/cache/flush")).await;
        assert_eq!(
            (status, body),
            (StatusCode::OK, json!({"status": "success", "message": "Cache flushed successfully"}))
        );
        assert_eq!(app.get("/v1/rooms").await.1["total"], 0, "the seeded room went too");
        assert_eq!(app.post("/v1/rooms", &json!({"title": "Ops"})).await.0, StatusCode::CREATED, "its claim went too");
        if let Some(mut conn) = foreign {
            let kept: Option<String> = ::redis::cmd("GET").arg("another-app:key").query_async(&mut conn).await.unwrap();
            assert_eq!(kept.as_deref(), Some("kept"), "never the whole Redis database");
        }
    }

    on_every_backend!(cache_paths_read_and_delete_stored_entities, flush_empties_this_profile_s_data_only);

    #[tokio::test]
    async fn swagger_assets_have_mock_and_roll_s_paths_too() {
        let app = app(Backend::Memory).await;
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let res = client.get(format!("{}/static/swagger-ui/swagger-ui.css", app.address)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(res.headers()["location"], "/docs/swagger-ui.css");
        let css = app.client.get(format!("{}/static/swagger-ui/swagger-ui.css", app.address)).send().await.unwrap();
        assert_eq!(css.status(), StatusCode::OK);
        assert!(css.headers()["content-type"].to_str().unwrap().contains("css"));
        let icon = app.client.get(format!("{}/favicon.ico", app.address)).send().await.unwrap();
        assert_eq!(icon.status(), StatusCode::OK);
    }
}

/// `/system/logging/*` on a server started as a user starts it.
#[tokio::test]
async fn logging_paths_report_change_the_level_and_read_or_empty_the_log() {
    let state = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| mockctl().env("MOCKGATE_STATE_DIR", state.path()).args(args).output().unwrap();
    let out = run(&["start", "tests/fixtures/mock-and-roll/rooms", "--port", "0", "--no-persistence", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let url = record["url"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, body: Option<serde_json::Value>| {
        let mut rb = client.request(method, format!("{url}{path}")).header("X-API-Key", "webex-admin-1");
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        async move {
            let res = rb.send().await.unwrap();
            (res.status().as_u16(), res.json::<serde_json::Value>().await.unwrap())
        }
    };
    use reqwest::Method;
    let (status, s) = call(Method::GET, "/system/logging/status", None).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!((s["data"]["level"].as_str(), s["data"]["file_enabled"].as_bool()), (Some("INFO"), Some(true)), "{s}");
    assert_eq!(s["data"]["file_exists"], true);
    let (status, logs) = call(Method::GET, "/system/logging/logs?lines=2", None).await;
    assert_eq!(status, 200);
    assert!(logs["data"]["total_lines"].as_u64().unwrap() >= 1, "{logs}");
    assert!(logs["data"]["returned_lines"].as_u64().unwrap() <= 2);
    assert_eq!(call(Method::GET, "/system/logging/logs?lines=0", None).await.0, 400);

    let (status, body) = call(Method::POST, "/system/logging/config", Some(serde_json::json!({}))).await;
    assert_eq!((status, body["error"]["message"].as_str()), (400, Some("No configuration parameters provided")));
    let (status, body) = call(Method::POST, "/system/logging/config", Some(serde_json::json!({"level": "LOUD"}))).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().starts_with("Invalid log level"), "{body}");
    let (status, body) =
        call(Method::POST, "/system/logging/config", Some(serde_json::json!({"file_path": "/tmp/x"}))).await;
    assert_eq!(status, 400, "fixed at start: {body}");
    let (status, body) =
        call(Method::POST, "/system/logging/config", Some(serde_json::json!({"level": "WARNING"}))).await;
    assert_eq!((status, body["data"]["level"].as_str()), (200, Some("WARN")), "{body}");

    // The log is written by a background writer: wait until the lines of the requests
    // above (the three refused configs) are in the file, so none lands after the delete.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, logs) = call(Method::GET, "/system/logging/logs?lines=1000", None).await;
        let refused = logs["data"]["logs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|l| l.as_str().is_some_and(|l| l.contains("POST /system/logging/config 400")))
            .count();
        if refused >= 3 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the log writer never caught up: {logs}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (status, _) = call(Method::DELETE, "/system/logging/logs", None).await;
    assert_eq!(status, 200);
    let (_, after) = call(Method::GET, "/system/logging/logs", None).await;
    assert!(after["data"]["total_lines"].as_u64().unwrap() <= 1, "emptied (at WARN nothing new is written): {after}");
    call(Method::POST, "/system/logging/config", Some(serde_json::json!({"allow_log_deletion": false}))).await;
    let (status, body) = call(Method::DELETE, "/system/logging/logs", None).await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (403, Some("Log file deletion is disabled in the configuration"))
    );
    assert!(run(&["stop", "--all"]).status.success());
}

/// `mockctl` as Mock-and-Roll users type it: `start --json`, `test`, `ls`/`show`, `clean-up`.
#[test]
fn mockctl_habits_of_mock_and_roll_users() {
    let state = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| mockctl().env("MOCKGATE_STATE_DIR", state.path()).args(args).output().unwrap();
    let out =
        run(&["start", "tests/fixtures/mock-and-roll/rooms", "--port", "0", "--no-persistence", "--json", "--verbose"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let started: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((started["status"].as_str(), started["action"].as_str()), (Some("success"), Some("server_started")));
    let server = &started["server"];
    assert_eq!(server["config_name"], "rooms");
    assert_eq!(server["base_url"], started["url"]);
    assert_eq!(server["openapi_url"], format!("{}/openapi.json", started["url"].as_str().unwrap()));
    assert!(server["port"].as_u64().is_some_and(|p| p > 0) && server["pid"].as_u64().is_some());

    let tested = run(&["test"]);
    let text = String::from_utf8_lossy(&tested.stdout);
    assert!(tested.status.success(), "{text}{}", String::from_utf8_lossy(&tested.stderr));
    for line in ["rooms on port", ": ok", "GET /openapi.json", "GET /docs/"] {
        assert!(text.contains(line), "{line:?} in {text}");
    }
    let report: serde_json::Value = serde_json::from_slice(&run(&["test", "rooms", "--json"]).stdout).unwrap();
    assert_eq!(report[0]["checks"].as_array().map(Vec::len), Some(3));
    assert_eq!(report[0]["ok"], true);
    assert!(!run(&["test", "no-such-profile"]).status.success());

    for alias in ["ls", "show", "l"] {
        let listed: serde_json::Value = serde_json::from_slice(&run(&[alias, "--json"]).stdout).unwrap();
        assert_eq!(listed.as_array().map(Vec::len), Some(1), "{alias}: {listed}");
    }
    let log = std::path::PathBuf::from(started["log"].as_str().unwrap());
    assert!(std::fs::read_to_string(&log).unwrap().contains("DEBUG"), "--verbose logs at debug level");
    let cleaned = run(&["clean-up"]);
    assert!(cleaned.status.success(), "{}", String::from_utf8_lossy(&cleaned.stderr));
    assert!(String::from_utf8_lossy(&cleaned.stdout).contains("stopped rooms"));
    assert!(!log.exists(), "the log file is gone");
    let listed: serde_json::Value = serde_json::from_slice(&run(&["list", "--json"]).stdout).unwrap();
    assert_eq!(listed, serde_json::json!([]));
    assert!(run(&["cleanup"]).status.success(), "nothing left to clean is fine");
}

/// On a single Redis, `key_pattern` names the entity's key as written: the persistence
/// guide's troubleshooting `redis-cli get "myapi:users:123"` finds the user.
#[tokio::test]
async fn key_pattern_names_the_redis_key_as_written() {
    if !crate::common::redis::available() {
        return;
    }
    let app = crate::common::spawn_app("tests/fixtures/mock-and-roll/keys", crate::common::Backend::Redis).await;
    let (status, created) = app.post("/users", &serde_json::json!({"user_id": "123", "name": "Ada"})).await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{created}");
    assert_eq!(app.get("/users/123").await.1["name"], "Ada");
    let url = app.redis.as_ref().unwrap().url();
    let mut conn = ::redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
    let text: Option<String> = ::redis::cmd("GET").arg("myapi:users:123").query_async(&mut conn).await.unwrap();
    let stored: serde_json::Value = serde_json::from_str(&text.expect("the key exists")).unwrap();
    assert_eq!((stored["user_id"].as_str(), stored["name"].as_str()), (Some("123"), Some("Ada")));
    assert_eq!(app.get("/users").await.1["total"], 1);
    // A reset removes it with the rest of the profile's data.
    let reset = app.request(reqwest::Method::POST, "/system/reset").header("X-System-Key", "keys-admin-1");
    assert_eq!(app.send(reset).await.0, reqwest::StatusCode::OK);
    let gone: Option<String> = ::redis::cmd("GET").arg("myapi:users:123").query_async(&mut conn).await.unwrap();
    assert_eq!(gone, None);
}
