//! OpenAPI import (`mockctl import`, `mockctl start spec.yaml`): every document in
//! tests/fixtures/openapi (real public descriptions) and tests/fixtures/openapi-own
//! (written here for what those lack: OpenAPI 3.1, Swagger 2.0, wrappers, nesting)
//! imports, validates, and serves every operation with its documented status and a
//! body that conforms to the document's own response schema, checked by a JSON Schema
//! validator over the document itself (not over anything the importer made).

use crate::common::{Backend, TestApp, mockctl_in, repo_path, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

const SYSTEM_KEY: &str = "mockgate-system-demo-key";

const DOCUMENTS: [&str; 6] = [
    "tests/fixtures/openapi/petstore.yaml",
    "tests/fixtures/openapi/petstore-expanded.yaml",
    "tests/fixtures/openapi/swagger-petstore-3.yaml",
    "tests/fixtures/openapi/uspto.yaml",
    "tests/fixtures/openapi-own/conduit.yaml",
    "tests/fixtures/openapi-own/inventory.swagger.json",
];

fn read_doc(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).unwrap()
    } else {
        yaml_serde::from_str(&text).unwrap()
    }
}

/// `s` with local and relative-file `$ref`s inlined (the fixtures do not recurse).
fn resolve(doc: &Value, dir: &Path, s: &Value) -> Value {
    match s {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                let (file, pointer) = r.split_once('#').unwrap_or((r, ""));
                let target = if file.is_empty() { doc.clone() } else { read_doc(&dir.join(file)) };
                let found = target.pointer(pointer).unwrap_or_else(|| panic!("{r} names nothing")).clone();
                return resolve(&target, dir, &found);
            }
            Value::Object(m.iter().map(|(k, v)| (k.clone(), resolve(doc, dir, v))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| resolve(doc, dir, v)).collect()),
        other => other.clone(),
    }
}

/// A request value for a (resolved) schema: every property but read-only ones.
fn make(s: &Value, name: &str) -> Value {
    if let Some(v) = s.get("example").or_else(|| s.get("const")).or_else(|| s.get("default")) {
        return v.clone();
    }
    if let Some(v) = s.get("enum").and_then(|e| e.get(0)) {
        return v.clone();
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        let mut out = Map::new();
        for b in all {
            if let Value::Object(m) = make(b, name) {
                out.extend(m);
            }
        }
        return Value::Object(out);
    }
    let ty = match s.get("type") {
        Some(Value::Array(ts)) => ts.iter().find(|t| *t != "null").cloned().unwrap_or(Value::Null),
        Some(t) => t.clone(),
        None if s.get("properties").is_some() => json!("object"),
        None => json!("string"),
    };
    match ty.as_str().unwrap_or("") {
        "object" => Value::Object(
            s.get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter(|(_, p)| p.get("readOnly") != Some(&Value::Bool(true)))
                .map(|(k, p)| (k.clone(), make(p, k)))
                .collect(),
        ),
        "array" => json!([make(s.get("items").unwrap_or(&json!({})), name)]),
        "integer" => json!(s.get("minimum").and_then(Value::as_i64).unwrap_or(1)),
        "number" => json!(1.5),
        "boolean" => json!(true),
        _ => match s.get("format").and_then(Value::as_str) {
            Some("email") => json!(format!("{name}@example.com")),
            Some("date-time") => json!("2026-01-01T00:00:00Z"),
            Some("uuid") => json!("3fa85f64-5717-4562-b3fc-2c963f66afa6"),
            _ => json!(format!("{name}-value")),
        },
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn escape(seg: &str) -> String {
    seg.replace('~', "~0").replace('/', "~1")
}

/// One operation of a document, and where its parts are.
struct Operation {
    method: String,
    path: String,
    /// JSON pointer of the operation.
    at: String,
    op: Value,
    params: Vec<Value>,
}

fn operations(doc: &Value, dir: &Path) -> Vec<Operation> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let shared: Vec<Value> = item.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
        for (method, op) in item.as_object().unwrap() {
            if !["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            let mut params: Vec<Value> = shared.iter().map(|p| resolve(doc, dir, p)).collect();
            for p in op.get("parameters").and_then(Value::as_array).into_iter().flatten() {
                let p = resolve(doc, dir, p);
                params.retain(|q| !(q["name"] == p["name"] && q["in"] == p["in"]));
                params.push(p);
            }
            out.push(Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                at: format!("/paths/{}/{method}", escape(path)),
                op: op.clone(),
                params,
            });
        }
    }
    // Deletes last, so every other operation finds what it names.
    out.sort_by_key(|o| o.method == "DELETE");
    out
}

/// Validates response bodies against the document's own schemas.
struct Contract {
    registry: jsonschema::Registry<'static>,
    base: String,
    swagger2: bool,
}

impl Contract {
    fn new(doc: &Value, path: &Path) -> Contract {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let base = format!("https://spec.test/{name}");
        let mut registry = jsonschema::Registry::new().add(base.clone(), doc.clone()).unwrap();
        // Relative files the document refers to.
        for entry in std::fs::read_dir(path.parent().unwrap()).unwrap() {
            let p = entry.unwrap().path();
            if p != path && p.extension().is_some_and(|e| e == "json" || e == "yaml") {
                let other = format!("https://spec.test/{}", p.file_name().unwrap().to_string_lossy());
                registry = registry.add(other, read_doc(&p)).unwrap();
            }
        }
        let registry = registry.prepare().unwrap();
        Contract { registry, base, swagger2: doc.get("swagger").is_some() }
    }

    /// Problems of `body` against the schema of `op`'s response `status`, if it has one.
    fn check(&self, doc: &Value, op: &Operation, status: &str, body: &Value) -> Vec<String> {
        let pointer = if self.swagger2 {
            format!("{}/responses/{status}/schema", op.at)
        } else {
            format!("{}/responses/{status}/content/application~1json/schema", op.at)
        };
        if doc.pointer(&pointer).is_none() {
            return vec![];
        }
        let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
        let schema = json!({"$ref": format!("{}#{fragment}", self.base)});
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .with_registry(&self.registry)
            .build(&schema)
            .unwrap_or_else(|e| panic!("{pointer}: {e}"));
        validator.iter_errors(body).map(|e| format!("{}: {e}", e.instance_path())).collect()
    }
}

/// The documented status a successful call answers: the first 2xx, else 200.
fn documented_status(op: &Value) -> String {
    let mut codes: Vec<&String> = op["responses"].as_object().unwrap().keys().filter(|k| k.starts_with('2')).collect();
    codes.sort();
    codes.first().map_or_else(|| "200".to_owned(), |c| (*c).clone())
}

/// Imports `doc` with mockctl into a fresh folder; returns the folder.
fn import(doc: &str, state: &Path) -> PathBuf {
    let out = state.join("profile");
    let run = mockctl_in(state);
    let o = run(&["import", doc, "--out", out.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "import {doc}: {}{stdout}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("wrote "), "{stdout}");
    out
}

fn json_file(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Credentials for an endpoint's first authentication method, from the imported auth.json.
fn authenticate(
    rb: reqwest::RequestBuilder,
    endpoint: &Value,
    auth: &Value,
    query: &mut Vec<(String, String)>,
) -> reqwest::RequestBuilder {
    let Some(name) = endpoint["authentication"].get(0).and_then(Value::as_str) else { return rb };
    let m = &auth["authentication_methods"][name];
    match m["type"].as_str().unwrap() {
        "api_key" => {
            let (key, value) = (m["name"].as_str().unwrap(), m["valid_keys"][0].as_str().unwrap());
            match m["location"].as_str().unwrap_or("header") {
                "query" => {
                    query.push((key.to_owned(), value.to_owned()));
                    rb
                }
                "cookie" => rb.header("cookie", format!("{key}={value}")),
                _ => rb.header(key, value),
            }
        }
        "http_basic" => {
            let c = &m["valid_credentials"][0];
            rb.basic_auth(c["username"].as_str().unwrap(), c["password"].as_str())
        }
        "oidc" => rb.bearer_auth(m["valid_tokens"][0]["access_token"].as_str().unwrap()),
        other => panic!("unexpected method {other}"),
    }
}

/// A stored entity of `entity`, read through the system API.
async fn stored(app: &TestApp, entity: &str) -> Value {
    let rb = app.request(Method::GET, &format!("/system/data/{entity}")).header("X-System-Key", SYSTEM_KEY);
    let (status, body) = app.send(rb).await;
    assert_eq!(status, StatusCode::OK, "{entity}: {body}");
    body["items"].get(0).cloned().unwrap_or_else(|| panic!("no stored {entity}: {body}"))
}

async fn serves_every_operation_as_documented(doc_path: &str) {
    let state = tempfile::tempdir().unwrap();
    let profile = import(doc_path, state.path());
    assert!(profile.join("IMPORT.md").is_file());
    let run = mockctl_in(state.path());
    for target in [profile.to_str().unwrap(), doc_path] {
        let o = run(&["validate-config", target, "--strict"]);
        assert!(o.status.success(), "validate-config {target}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let abs = repo_path(doc_path);
    let dir = abs.parent().unwrap().to_owned();
    let doc = read_doc(&abs);
    let contract = Contract::new(&doc, &abs);
    let endpoints = json_file(&profile.join("endpoints.json"))["endpoints"].as_array().unwrap().clone();
    let auth = json_file(&profile.join("auth.json"));
    let root = json_file(&profile.join("api.json"))["root_path"].as_str().unwrap_or("").to_owned();
    // The document itself is served, not only the written profile.
    let app = spawn_app(doc_path, Backend::Memory).await;
    let mut created = 0;
    for op in operations(&doc, &dir) {
        let endpoint = endpoints
            .iter()
            .find(|e| e["method"] == op.method.as_str() && e["path"] == op.path.as_str())
            .unwrap_or_else(|| panic!("no endpoint for {} {}", op.method, op.path));
        let persistence = &endpoint["persistence"];
        let action = persistence["action"].as_str().unwrap_or("static");
        let record = match persistence["entity_name"].as_str() {
            Some(entity) => Some(stored(&app, entity).await),
            None => None,
        };
        let mut path = op.path.clone();
        let mut query: Vec<(String, String)> = Vec::new();
        let mut headers: Vec<(String, String)> = Vec::new();
        for p in &op.params {
            let name = p["name"].as_str().unwrap();
            let schema = p.get("schema").cloned().unwrap_or_else(|| p.clone());
            let sample = p.get("example").cloned().unwrap_or_else(|| make(&schema, name));
            let value = match (&record, p["in"].as_str().unwrap()) {
                (Some(r), "path") => {
                    let key = persistence["key_field"].as_str().unwrap_or("id");
                    r.get(name).or_else(|| r.get(key)).or_else(|| r.get("id")).map(text).unwrap()
                }
                _ => text(&sample),
            };
            match p["in"].as_str().unwrap() {
                "path" => path = path.replace(&format!("{{{name}}}"), &value),
                "query" if p["required"] == true => query.push((name.to_owned(), value)),
                "header" if p["required"] == true => headers.push((name.to_owned(), value)),
                _ => {}
            }
        }
        let method = Method::from_bytes(op.method.as_bytes()).unwrap();
        let mut url = format!("{root}{path}");
        let mut rb = authenticate(app.request(method.clone(), &url), endpoint, &auth, &mut query);
        if !query.is_empty() {
            url = format!("{url}?{}", serde_urlencoded::to_string(&query).unwrap());
            rb = authenticate(app.request(method, &url), endpoint, &auth, &mut Vec::new());
        }
        for (k, v) in &headers {
            rb = rb.header(k, v);
        }
        let swagger_body = op.params.iter().find(|p| p["in"] == "body").map(|p| p["schema"].clone());
        let form: Vec<&Value> = op.params.iter().filter(|p| p["in"] == "formData").collect();
        let content = op.op.pointer("/requestBody/content").map(|c| resolve(&doc, &dir, c));
        let json_schema =
            swagger_body.or_else(|| content.as_ref().and_then(|c| c.pointer("/application~1json/schema").cloned()));
        if let Some(schema) = json_schema {
            let mut body = make(&resolve(&doc, &dir, &schema), "body");
            let key = persistence["key_field"].as_str().unwrap_or("id");
            if let (Value::Object(b), Some(r)) = (&mut body, &record) {
                if action == "create" && b.contains_key(key) {
                    // A new entity needs a key nobody has.
                    created += 1;
                    let fresh =
                        if r[key].is_number() { json!(90_000 + created) } else { json!(format!("new-{created}")) };
                    b.insert(key.to_owned(), fresh);
                } else if action == "update" && b.contains_key(key) {
                    b.insert(key.to_owned(), r[key].clone());
                }
            }
            rb = rb.json(&body);
        } else if let Some(c) = content.as_ref().and_then(|c| c.as_object()).and_then(|c| c.iter().next()) {
            let (media, m) = c;
            if media == "application/x-www-form-urlencoded" {
                let props = m.pointer("/schema/properties").and_then(Value::as_object).cloned().unwrap_or_default();
                let pairs: Vec<(String, String)> = props.iter().map(|(k, s)| (k.clone(), text(&make(s, k)))).collect();
                rb = rb.header("content-type", media.as_str()).body(serde_urlencoded::to_string(&pairs).unwrap());
            } else {
                rb = rb.header("content-type", media.as_str()).body("raw bytes");
            }
        } else if !form.is_empty() {
            let pairs: Vec<(String, String)> =
                form.iter().map(|p| (p["name"].as_str().unwrap().to_owned(), "x".to_owned())).collect();
            let form = serde_urlencoded::to_string(&pairs).unwrap();
            rb = rb.header("content-type", "application/x-www-form-urlencoded").body(form);
        }
        let (status, body) = app.send(rb).await;
        let what = format!("{doc_path}: {} {path} ({action})", op.method);
        let expected = documented_status(&op.op);
        assert_ne!(status, StatusCode::NOT_FOUND, "{what}: {body}");
        assert_eq!(status.as_str(), expected, "{what}: {body}");
        let problems = contract.check(&doc, &op, &expected, &body);
        assert!(
            problems.is_empty(),
            "{what} answered {body}\nwhich breaks the document's schema:\n{}",
            problems.join("\n")
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn petstore_serves_every_operation_as_documented() {
    serves_every_operation_as_documented(DOCUMENTS[0]).await;
}

#[tokio::test]
async fn petstore_expanded_serves_every_operation_as_documented() {
    serves_every_operation_as_documented(DOCUMENTS[1]).await;
}

#[tokio::test]
async fn swagger_petstore_3_serves_every_operation_as_documented() {
    serves_every_operation_as_documented(DOCUMENTS[2]).await;
}

#[tokio::test]
async fn uspto_serves_every_operation_as_documented() {
    serves_every_operation_as_documented(DOCUMENTS[3]).await;
}

#[tokio::test]
async fn conduit_3_1_serves_every_operation_as_documented() {
    serves_every_operation_as_documented(DOCUMENTS[4]).await;
}

#[tokio::test]
async fn swagger_2_0_serves_every_operation_as_documented() {
    serves_every_operation_as_documented(DOCUMENTS[5]).await;
}

/// create → read back → list shows it → update → delete → 404, with what each petstore
/// offers (petstore.yaml has no update or delete; petstore-expanded no update).
async fn petstores_keep_what_they_are_given(backend: Backend) {
    // petstore.yaml: the client sends the id (Pet.id is required).
    let app = spawn_app(DOCUMENTS[0], backend).await;
    let (status, pet) = app.post("/v1/pets", &json!({"id": 77, "name": "Rex", "tag": "dog"})).await;
    assert_eq!(status, StatusCode::CREATED, "{pet}");
    assert_eq!((pet["id"].clone(), pet["name"].clone()), (json!(77), json!("Rex")));
    let (status, read) = app.get("/v1/pets/77").await;
    assert_eq!((status, read["tag"].clone()), (StatusCode::OK, json!("dog")));
    let (_, list) = app.get("/v1/pets").await;
    assert!(list.as_array().unwrap().iter().any(|p| p["id"] == 77), "{list}");
    let (status, dup) = app.post("/v1/pets", &json!({"id": 77, "name": "Rex"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{dup}");
    app.stop().await;

    // petstore-expanded: ids are made (NewPet has none); delete answers 204, then 404.
    let app = spawn_app(DOCUMENTS[1], backend).await;
    let (status, pet) = app.post("/v2/pets", &json!({"name": "Tom", "tag": "cat"})).await;
    assert_eq!(status, StatusCode::OK, "the documented status: {pet}");
    let id = pet["id"].as_i64().expect("an integer id, as the schema says");
    assert!(id > 5, "after the 5 generated pets: {id}");
    let (status, read) = app.get(&format!("/v2/pets/{id}")).await;
    assert_eq!((status, read["name"].clone()), (StatusCode::OK, json!("Tom")));
    let (_, list) = app.get("/v2/pets?limit=100").await;
    assert!(list.as_array().unwrap().iter().any(|p| p["id"] == id), "{list}");
    let (status, _) = app.delete(&format!("/v2/pets/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, missing) = app.get(&format!("/v2/pets/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The document's own Error shape: {code, message}.
    assert_eq!(missing["code"], 404, "{missing}");
    assert!(missing["message"].as_str().unwrap().contains("not found"), "{missing}");
    app.stop().await;

    // swagger-petstore-3: all five, behind its api key and OAuth scopes.
    let app = spawn_app(DOCUMENTS[2], backend).await.with_header("authorization", "Bearer petstore-auth-demo-token");
    let new = json!({"name": "Luna", "photoUrls": ["https://example.com/luna.jpg"], "status": "pending"});
    let (status, pet) = app.post("/api/v3/pet", &new).await;
    assert_eq!(status, StatusCode::OK, "{pet}");
    let id = pet["id"].as_i64().unwrap();
    let (status, read) = app.get(&format!("/api/v3/pet/{id}")).await;
    assert_eq!((status, read["name"].clone()), (StatusCode::OK, json!("Luna")));
    let (_, pending) = app.get("/api/v3/pet/findByStatus?status=pending").await;
    assert!(pending.as_array().unwrap().iter().any(|p| p["id"] == id), "{pending}");
    assert!(pending.as_array().unwrap().iter().all(|p| p["status"] == "pending"), "{pending}");
    let (status, updated) =
        app.put("/api/v3/pet", &json!({"id": id, "name": "Luna", "photoUrls": [], "status": "sold"})).await;
    assert_eq!((status, updated["status"].clone()), (StatusCode::OK, json!("sold")));
    let (_, pending) = app.get("/api/v3/pet/findByStatus?status=pending").await;
    assert!(!pending.as_array().unwrap().iter().any(|p| p["id"] == id), "no longer pending: {pending}");
    let (status, _) = app.delete(&format!("/api/v3/pet/{id}")).await;
    assert_eq!(status, StatusCode::OK, "the documented status");
    let (status, _) = app.get(&format!("/api/v3/pet/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Users are keyed by username; a replace keeps it.
    let (status, _) = app.post("/api/v3/user", &json!({"username": "ada", "email": "ada@example.com"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, user) = app.put("/api/v3/user/ada", &json!({"email": "ada@lovelace.org"})).await;
    assert_eq!(
        (status, user["username"].clone(), user["email"].clone()),
        (StatusCode::OK, json!("ada"), json!("ada@lovelace.org"))
    );
    app.stop().await;
}

on_every_backend!(petstores_keep_what_they_are_given);

#[tokio::test]
async fn parameters_and_bodies_are_checked_against_the_contract() {
    let app = spawn_app(DOCUMENTS[1], Backend::Memory).await;
    let (status, body) = app.get("/v2/pets/abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["violations"][0]["path"], "/path/id", "{body}");
    let (status, body) = app.get("/v2/pets?limit=ten").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["violations"][0]["path"], "/query/limit", "{body}");
    let (status, body) = app.post("/v2/pets", &json!({"tag": 5})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["violations"].as_array().unwrap().len(), 2, "name missing, tag not text: {body}");
    let (_, list) = app.get("/v2/pets").await;
    assert_eq!(list.as_array().unwrap().len(), 5, "nothing was stored: {list}");
    app.stop().await;

    let app = spawn_app(DOCUMENTS[0], Backend::Memory).await;
    let (status, body) = app.get("/v1/pets?limit=500").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["violations"][0]["message"].as_str().unwrap().contains("maximum of 100"), "{body}");
    assert_eq!(body["error"]["message"], "request failed validation (1 problem)");
    app.stop().await;
}

#[tokio::test]
async fn wrappers_slugs_nesting_and_extensions_of_an_openapi_3_1_document() {
    let app = spawn_app(DOCUMENTS[4], Backend::File).await;
    let auth = ("authorization", "Bearer token-demo-token");
    let post = |path: &str, body: Value| app.request(Method::POST, path).header(auth.0, auth.1).json(&body);
    // The wrapper is unwrapped: what is stored is the article; the key is a slug of its title.
    let (status, created) =
        app.send(post("/api/articles", json!({"article": {"title": "Hello, World!", "body": "b"}}))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let article = &created["article"];
    assert_eq!(article["slug"], "hello-world");
    // additionalProperties: false: mockgate's own timestamps appear under the contract's names.
    assert!(article.get("created_at").is_none(), "{created}");
    assert!(article["createdAt"].as_str().unwrap().starts_with("20"), "{created}");
    let (_, stored_article) = app
        .send(app.request(Method::GET, "/system/data/articles/hello-world").header("X-System-Key", SYSTEM_KEY))
        .await;
    assert!(stored_article.get("article").is_none(), "stored unwrapped: {stored_article}");
    // The list is shaped as the schema says, with its count.
    let (_, page) = app.get("/api/articles?limit=50").await;
    assert_eq!(page["articlesCount"], 6, "{page}");
    assert_eq!(page["articles"].as_array().unwrap().len(), 6);
    // A nested create names its parent; a missing parent is refused.
    let (status, c) = app.send(post("/api/articles/hello-world/comments", json!({"comment": {"body": "first"}}))).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!((c["comment"]["kind"].clone(), c["comment"]["slug"].clone()), (json!("comment"), json!("hello-world")));
    let (status, c) = app.send(post("/api/articles/nope/comments", json!({"comment": {"body": "x"}}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{c}");
    let (_, comments) = app.get("/api/articles/hello-world/comments").await;
    assert_eq!(comments["comments"].as_array().unwrap().len(), 1, "{comments}");
    // Writes need the bearer token; reads do not.
    let (status, _) = app.delete("/api/articles/hello-world").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.send(app.request(Method::DELETE, "/api/articles/hello-world").header(auth.0, auth.1)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Cascade: the article's comments went with it.
    let (_, all) = app.send(app.request(Method::GET, "/system/data/comments").header("X-System-Key", SYSTEM_KEY)).await;
    assert!(all["items"].as_array().unwrap().iter().all(|c| c["slug"] != "hello-world"), "{all}");
    let (status, missing) = app.get("/api/articles/hello-world").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(missing["errors"].is_object(), "the document's Error shape: {missing}");
    // x-mockgate-unique; writeOnly fields are never answered.
    let profile = json!({"username": "jo", "email": "jo@example.com", "password": "pw"});
    let (status, p) = app.post("/api/profiles", &profile).await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    assert!(p.get("password").is_none(), "{p}");
    let (status, p) = app.post("/api/profiles", &json!({"username": "jo2", "email": "jo@example.com"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");
    let (status, tags) = app.get("/api/tags").await;
    assert_eq!((status, tags), (StatusCode::OK, json!({"tags": ["rust", "mocks"]})), "the document's example");
    app.stop().await;
}

#[tokio::test]
async fn a_swagger_2_0_document_with_refs_into_another_file() {
    let app = spawn_app(DOCUMENTS[5], Backend::Memory).await;
    let (status, _) = app.get("/inv/items").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "basic or key required");
    let (status, health) = app.get("/inv/health").await;
    assert_eq!((status, health), (StatusCode::OK, json!({"status": "ok"})), "security: [] opens it");
    let item = json!({"name": "Hammer", "kind": "tool", "quantity": 3});
    let rb = app.request(Method::POST, "/inv/items").basic_auth("demo", Some("demo-password")).json(&item);
    let (status, created) = app.send(rb).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "format: uuid ids: {id}");
    let rb = app.request(Method::PATCH, &format!("/inv/items/{id}?key=key-demo-key")).json(&json!({"quantity": 0}));
    let (status, patched) = app.send(rb).await;
    assert_eq!(
        (status, patched["quantity"].clone(), patched["name"].clone()),
        (StatusCode::OK, json!(0), json!("Hammer"))
    );
    let rb = app
        .request(Method::POST, "/inv/items?key=key-demo-key")
        .json(&json!({"name": "x", "kind": "spoon", "quantity": -1}));
    let (status, bad) = app.send(rb).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    assert_eq!(bad["error"]["violations"].as_array().unwrap().len(), 2, "enum and minimum: {bad}");
    let (status, bad) = app.get("/inv/items/not-a-uuid?key=key-demo-key").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    // GitHub-style paging the document declares: per_page (default 3) and a 1-based page.
    let names = |v: &Value| v.as_array().unwrap().iter().map(|i| i["id"].clone()).collect::<Vec<_>>();
    let (_, all) = app.get("/inv/items?key=key-demo-key&per_page=50").await;
    assert_eq!(all.as_array().unwrap().len(), 6, "5 generated and the hammer: {all}");
    let (_, first) = app.get("/inv/items?key=key-demo-key").await;
    assert_eq!(names(&first), names(&all)[..3].to_vec(), "the default page size");
    let (_, second) = app.get("/inv/items?key=key-demo-key&per_page=2&page=2").await;
    assert_eq!(names(&second), names(&all)[2..4].to_vec());
    let (status, _) = app.get("/inv/items?key=key-demo-key&per_page=51").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the declared maximum");
    app.stop().await;
}

#[test]
fn a_broken_document_says_which_file_where_and_what_was_expected() {
    let state = tempfile::tempdir().unwrap();
    let run = mockctl_in(state.path());
    let cases = [
        (
            "openapi: 3.0.0\ninfo: {title: x, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {$ref: '#/components/schemas/Nope'}\n",
            vec!["bad.yaml", "#/paths/~1a/get/responses/200/content/application~1json/schema", "names nothing"],
        ),
        ("openapi: 4.0.0\npaths: {}\n", vec!["bad.yaml", "#/openapi", "3.0.x"]),
        ("openapi: 3.0.0\npaths:\n  /a: [1, 2\n", vec!["bad.yaml", "not YAML", "line"]),
        (
            "openapi: 3.0.0\npaths:\n  /a:\n    get:\n      parameters:\n        - {name: x, in: body}\n      responses: {}\n",
            vec!["bad.yaml", "#/paths/~1a/get/parameters/0/in", "path, query, header or cookie"],
        ),
    ];
    for (text, wanted) in cases {
        let spec = state.path().join("bad.yaml");
        std::fs::write(&spec, text).unwrap();
        for args in [
            vec!["import", spec.to_str().unwrap(), "--out", "/nonexistent/never"],
            vec!["validate-config", spec.to_str().unwrap()],
        ] {
            let o = run(&args);
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(!o.status.success(), "{args:?} succeeded on {text}");
            for w in &wanted {
                assert!(err.contains(w), "{args:?}: {w:?} not in {err}");
            }
        }
    }
    assert!(!Path::new("/nonexistent/never").exists());
}

#[test]
fn import_writes_a_profile_and_report_and_keeps_an_existing_one() {
    let state = tempfile::tempdir().unwrap();
    let out = import(DOCUMENTS[2], state.path());
    let report = std::fs::read_to_string(out.join("IMPORT.md")).unwrap();
    for line in [
        "| `pet` | `id` | auto-increment |",
        "| `user` | `username` | sent by the client |",
        "`GET /store/inventory`: no collection or item path of an entity",
        "Bearer petstore-auth-demo-token",
        "header `api_key: api-key-demo-key`",
        "X-System-Key: mockgate-system-demo-key",
    ] {
        assert!(report.contains(line), "{line:?} not in\n{report}");
    }
    let endpoints = json_file(&out.join("endpoints.json"));
    let first = &endpoints["endpoints"][0];
    assert!(first["description"].as_str().unwrap().contains("#/paths/~1pet/put"), "{first}");
    let run = mockctl_in(state.path());
    let again = run(&["import", DOCUMENTS[2], "--out", out.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let forced = run(&["import", DOCUMENTS[2], "--out", out.to_str().unwrap(), "--force", "--records", "2"]);
    assert!(forced.status.success(), "{}", String::from_utf8_lossy(&forced.stderr));
    let api = json_file(&out.join("api.json"));
    assert_eq!(api["generate_data"]["counts"]["pet"], 2);
}

#[tokio::test]
async fn a_watched_document_reloads_when_it_is_edited() {
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let spec = dir.path().join("api.yaml");
    let doc = |example: &str| {
        format!(
            "openapi: 3.0.0\ninfo: {{title: w, version: '1'}}\npaths:\n  /hello:\n    get:\n      responses:\n        '200':\n          description: hi\n          content:\n            application/json:\n              example: {{said: {example}}}\n"
        )
    };
    std::fs::write(&spec, doc("one")).unwrap();
    let profile = mockgate::Profile::load(&spec).unwrap_or_else(|e| panic!("{e}"));
    let settings = mockgate::Settings::ephemeral(Some(data.path().to_owned()), "memory");
    let server = mockgate::Server::build(&settings, profile).await.unwrap();
    let base = format!("http://127.0.0.1:{}", server.port());
    let watcher =
        tokio::spawn(mockgate::reload::watch(spec.clone(), server.reloader(), std::time::Duration::from_millis(40)));
    let handle = server.handle();
    tokio::spawn(server.run_until_stopped());
    let get = || async { reqwest::get(format!("{base}/hello")).await.unwrap().json::<Value>().await.unwrap() };
    assert_eq!(get().await, json!({"said": "one"}));
    std::fs::write(&spec, doc("two")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while get().await != json!({"said": "two"}) {
        assert!(std::time::Instant::now() < deadline, "the edit never took effect");
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    watcher.abort();
    handle.stop(true).await;
}

#[tokio::test]
async fn what_cannot_be_mapped_is_served_and_reported_never_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("odd.yaml");
    std::fs::write(
        &spec,
        r#"openapi: 3.0.3
info: {title: Odd, version: '1'}
paths:
  /files/{name}.{ext}:
    get:
      parameters:
        - {name: name, in: path, required: true, schema: {type: string}}
        - {name: ext, in: path, required: true, schema: {type: string, enum: [json]}}
      responses: {'200': {description: ok, content: {application/json: {schema: {type: string}}}}}
  /files/{stem}.{kind}:
    get: {responses: {'200': {description: ok}}}
  /nodes:
    post:
      requestBody: {content: {application/json: {schema: {$ref: '#/components/schemas/Node'}}}}
      responses: {}
  /nodes/{id}:
    get:
      responses: {'200': {description: ok, content: {application/json: {schema: {$ref: '#/components/schemas/Node'}}}}}
  /weird:
    get:
      security: [{undefined_scheme: []}]
      parameters: [{name: q, in: query, schema: {type: string, pattern: '[a-'}}]
      responses: {'2XX': {description: ok}}
  /echo:
    trace: {responses: {'200': {description: ok}}}
components:
  schemas:
    Node:
      type: object
      properties:
        id: {type: integer}
        children: {type: array, items: {$ref: '#/components/schemas/Node'}}
        big: {type: integer, minimum: 9.3e18}
"#,
    )
    .unwrap();
    let state = tempfile::tempdir().unwrap();
    let out = import(spec.to_str().unwrap(), state.path());
    let report = std::fs::read_to_string(out.join("IMPORT.md")).unwrap();
    for line in [
        "`GET /files/{stem}.{kind}`: not served: the same route as `GET /files/{name}.{ext}`",
        "`TRACE /echo`: not served",
        "GET /files/{name}.{ext}: served as `/files/{name}`",
        "GET /weird: the query parameter `q`: its schema is not checked",
    ] {
        assert!(report.contains(line), "{line:?} not in\n{report}");
    }
    let app = crate::common::spawn_app(spec.to_str().unwrap(), Backend::Memory).await;
    let (status, body) = app.get("/files/report.json").await;
    assert_eq!((status, body), (StatusCode::OK, json!("string")));
    let (status, node) = app.get("/nodes/1").await;
    assert_eq!(status, StatusCode::OK, "{node}");
    assert!(node["children"].is_array(), "a recursive schema is cut where it recurses: {node}");
    let (status, _) = app.get("/weird?q=x").await;
    assert_eq!(status, StatusCode::OK);
    let (status, created) = app.post("/nodes", &json!({"children": []})).await;
    assert_eq!(status, StatusCode::CREATED, "no documented status: the action's: {created}");
    app.stop().await;
}

#[tokio::test]
async fn x_mockgate_extensions_win_over_every_inference() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("codes.yaml");
    std::fs::write(
        &spec,
        r#"openapi: 3.0.3
info: {title: Codes, version: '1'}
paths:
  /login-codes:
    x-mockgate-entity: codes
    x-mockgate-key: code
    x-mockgate-ttl: 30
    x-mockgate-unique: [email]
    post:
      requestBody:
        required: true
        content: {application/json: {schema: {type: object, required: [code, email], properties: {code: {type: string}, email: {type: string}}}}}
      responses: {'201': {description: made}}
  /login-codes/{value}:
    x-mockgate-entity: codes
    x-mockgate-key: code
    get:
      parameters: [{name: value, in: path, required: true, schema: {type: string}}]
      responses: {'200': {description: one}}
"#,
    )
    .unwrap();
    let state = tempfile::tempdir().unwrap();
    let out = import(spec.to_str().unwrap(), state.path());
    let report = std::fs::read_to_string(out.join("IMPORT.md")).unwrap();
    assert!(report.contains("| `codes` | `code` | sent by the client |"), "{report}");
    let app = crate::common::spawn_app(spec.to_str().unwrap(), Backend::Memory).await;
    let (status, made) = app.post("/login-codes", &json!({"code": "123456", "email": "a@example.com"})).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let (status, again) = app.post("/login-codes", &json!({"code": "654321", "email": "a@example.com"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "x-mockgate-unique: {again}");
    let (status, read) = app.get("/login-codes/123456").await;
    assert_eq!((status, read["email"].clone()), (StatusCode::OK, json!("a@example.com")));
    // x-mockgate-ttl: 30 s later (on the mock's clock) it is gone.
    let rb = app
        .request(Method::POST, "/system/clock")
        .header("X-System-Key", SYSTEM_KEY)
        .json(&json!({"advance_seconds": 31}));
    let (status, _) = app.send(rb).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get("/login-codes/123456").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}
