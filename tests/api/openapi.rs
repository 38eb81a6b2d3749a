//! `/openapi.json` is a valid OpenAPI 3.1 document describing the loaded profile and
//! the system API; `/docs` serves Swagger UI from the binary.

use crate::common::{Backend, TestApp, repo_path, spawn_app};
use reqwest::StatusCode;
use serde_json::Value;

/// The official OpenAPI 3.1 schema (https://spec.openapis.org/oas/3.1/schema/2022-10-07).
fn oas31() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo_path("tests/fixtures/openapi-3.1-schema.json")).expect("schema file");
    let schema: Value = serde_json::from_str(&text).expect("schema JSON");
    jsonschema::validator_for(&schema).expect("the OpenAPI 3.1 schema compiles")
}

fn violations(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    validator.iter_errors(doc).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

async fn document(app: &TestApp) -> Value {
    let res = app.client.get(format!("{}/openapi.json", app.address)).send().await.expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/json");
    res.json().await.expect("JSON")
}

fn endpoints_of(profile: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo_path(&format!("{profile}/endpoints.json"))).expect("endpoints.json");
    let v: Value = serde_json::from_str(&text).expect("JSON");
    v["endpoints"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn every_shipped_profile_documents_itself_in_valid_openapi_3_1() {
    let validator = oas31();
    for profile in ["configs/basic", "configs/persistence", "configs/shop"] {
        let app = spawn_app(profile, Backend::Memory).await;
        let doc = document(&app).await;
        let problems = violations(&validator, &doc);
        assert!(problems.is_empty(), "{profile}: {problems:#?}");
        assert_eq!(doc["openapi"], "3.1.0");

        // Every endpoint is there, under its path template and method, with its path
        // parameters declared and its request schema carried over unchanged.
        let api_json: Value =
            serde_json::from_str(&std::fs::read_to_string(repo_path(&format!("{profile}/api.json"))).unwrap()).unwrap();
        let root = api_json["root_path"].as_str().unwrap_or("").trim_end_matches('/').to_owned();
        let mut ids = std::collections::HashSet::new();
        for ep in endpoints_of(profile) {
            let path = format!("{root}{}", ep["path"].as_str().unwrap());
            let method = ep["method"].as_str().unwrap().to_lowercase();
            let op = &doc["paths"][&path][&method];
            assert!(op.is_object(), "{profile}: {method} {path} is missing");
            assert!(ids.insert(op["operationId"].as_str().expect("operationId").to_owned()), "unique operation ids");
            for param in path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')) {
                let declared = op["parameters"].as_array().is_some_and(|ps| {
                    ps.iter().any(|p| p["name"] == param && p["in"] == "path" && p["required"] == true)
                });
                assert!(declared, "{profile}: {method} {path} declares path parameter {param}");
            }
            if let Some(schema) = ep.get("request_body_schema") {
                let reference = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{profile}: {method} {path} has a request body"));
                let name = reference.strip_prefix("#/components/schemas/").expect("a component reference");
                assert_eq!(&doc["components"]["schemas"][name], schema, "{profile}: {method} {path}");
            }
            let wants_auth = ep["authentication"].as_array().is_some_and(|a| !a.is_empty());
            assert_eq!(op["security"].is_array(), wants_auth, "{profile}: {method} {path} security");
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()));
        }
        // Component schemas are themselves valid JSON Schemas.
        for (name, schema) in doc["components"]["schemas"].as_object().expect("schemas") {
            assert!(jsonschema::meta::is_valid(schema), "{profile}: schema {name}");
        }
        // The system API documents itself under the System tag, behind the system key.
        let health = &doc["paths"]["/system/health"]["get"];
        assert_eq!(health["tags"][0], "System");
        assert!(health["security"][0].get("SystemKey").is_some());
        assert_eq!(doc["components"]["securitySchemes"]["SystemKey"]["name"], "X-System-Key");
        assert!(doc["paths"]["/system/snapshots/restore"]["post"]["requestBody"].is_object());
        assert!(doc["paths"]["/system/snapshots"]["post"]["responses"]["201"].is_object(), "as served");
        assert!(doc["paths"]["/system/snapshots/{name}"]["delete"]["responses"]["204"].is_object());
        assert!(doc["paths"]["/system/data/{entity}/{id}"]["delete"]["responses"]["204"].is_object());
        assert!(doc["tags"].as_array().unwrap().iter().any(|t| t["name"] == "System"));
        app.stop().await;
    }
}

#[tokio::test]
async fn security_schemes_follow_auth_json() {
    let app = spawn_app("configs/persistence", Backend::Memory).await;
    let doc = document(&app).await;
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["api_key"], serde_json::json!({"type": "apiKey", "in": "header", "name": "X-API-Key"}));
    let login = &doc["paths"]["/api/v1/auth/me"]["get"];
    let scheme = login["security"][0].as_object().unwrap().keys().next().unwrap().clone();
    assert!(
        ["apiKey", "http"].contains(&schemes[&scheme]["type"].as_str().unwrap()),
        "session auth is documented: {}",
        schemes[&scheme]
    );
}

#[tokio::test]
async fn the_validator_catches_a_broken_document() {
    // A control: the check above would notice a document that is not OpenAPI 3.1.
    let app = spawn_app("configs/persistence", Backend::Memory).await;
    let mut doc = document(&app).await;
    doc.as_object_mut().unwrap().remove("info");
    doc["paths"]["/api/v1/users"]["post"]["responses"] = Value::String("none".into());
    assert!(violations(&oas31(), &doc).len() >= 2);
}

#[tokio::test]
async fn swagger_ui_is_served_by_the_binary() {
    let app = spawn_app("configs/persistence", Backend::Memory).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = client.get(format!("{}/docs", app.address)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.headers()["location"], "/docs/");
    let page = app.client.get(format!("{}/docs/", app.address)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui-bundle.js") && !html.contains("https://"), "no assets from the internet");
    let init = app.client.get(format!("{}/docs/swagger-initializer.js", app.address)).send().await.unwrap();
    assert!(init.text().await.unwrap().contains("\"url\": \"/openapi.json\""));
    let bundle = app.client.get(format!("{}/docs/swagger-ui-bundle.js", app.address)).send().await.unwrap();
    assert_eq!(bundle.status(), StatusCode::OK);
    assert!(bundle.bytes().await.unwrap().len() > 100_000, "the real Swagger UI bundle");
}
