//! `docker-compose.yml` is a valid Compose file that wires the gateway to Redis as
//! the README says. (No Docker engine runs here; the image's command line itself is
//! exercised against a real Redis in `cli::the_container_command_line_…`.)

use crate::common::repo_path;
use serde_json::Value;

fn compose_file() -> Value {
    let text = std::fs::read_to_string(repo_path("docker-compose.yml")).expect("docker-compose.yml");
    yaml_serde::from_str(&text).expect("docker-compose.yml is YAML")
}

fn spec() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo_path("tests/fixtures/compose-spec.json")).expect("compose spec");
    jsonschema::validator_for(&serde_json::from_str(&text).expect("JSON")).expect("the Compose schema compiles")
}

fn problems(doc: &Value) -> Vec<String> {
    spec().iter_errors(doc).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

#[test]
fn the_compose_file_follows_the_compose_specification() {
    let doc = compose_file();
    let found = problems(&doc);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_schema_check_would_catch_a_mistake() {
    let mut doc = compose_file();
    let gateway = doc["services"]["mockgate"].as_object_mut().unwrap();
    let ports = gateway.remove("ports").unwrap();
    gateway.insert("port".into(), ports);
    assert!(!problems(&doc).is_empty(), "`port` is not a service key");
}

#[test]
fn the_gateway_serves_port_8000_with_its_data_in_a_durable_redis() {
    let doc = compose_file();
    let gateway = &doc["services"]["mockgate"];
    assert_eq!(gateway["ports"][0], "8000:8000");
    let redis_service = gateway["environment"]["REDIS_HOST"].as_str().expect("REDIS_HOST");
    let redis = &doc["services"][redis_service];
    assert!(redis.is_object(), "REDIS_HOST names the Redis service");
    assert_eq!(gateway["depends_on"][redis_service]["condition"], "service_healthy");
    assert!(redis["healthcheck"]["test"].as_array().is_some_and(|t| t.iter().any(|p| p == "ping")));
    let command: Vec<&str> = redis["command"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(command.windows(2).any(|w| w == ["--appendonly", "yes"]), "{command:?}");
    let volume = redis["volumes"][0].as_str().unwrap();
    let (name, mount) = volume.split_once(':').unwrap();
    assert_eq!(mount, "/data");
    assert!(doc["volumes"].get(name).is_some(), "the named volume {name} is declared");
    // The image serves the persistence profile on that port by default.
    let dockerfile = std::fs::read_to_string(repo_path("Dockerfile")).unwrap();
    assert!(dockerfile.contains("EXPOSE 8000"), "{dockerfile}");
    assert!(dockerfile.contains(r#""start", "persistence", "--foreground", "--host", "0.0.0.0""#), "{dockerfile}");
}
