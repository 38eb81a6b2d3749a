use crate::common::repo_path;
use mockgate::Profile;

#[test]
fn shipped_profiles_load() {
    for name in ["configs/basic", "configs/persistence", "configs/shop", "tests/fixtures/gateway"] {
        if let Err(e) = Profile::load(&repo_path(name)) {
            panic!("{e}");
        }
    }
}

#[test]
fn a_broken_profile_reports_every_problem_with_file_and_json_path() {
    let err = Profile::load(&repo_path("tests/fixtures/broken")).unwrap_err();
    let lines: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        vec![
            "api.json: root_path: found \"api\", expected a path such as \"/api/v1\"",
            "api.json: persistence: unknown backend \"cassandra\", expected \"memory\", \"file\", \"redis\" or an object with \"backend\"",
            "auth.json: authentication_methods.weird.type: unknown type \"kerberos\", expected one of api_key, http_basic, oidc, session, session_based",
            "endpoints.json: endpoints[0].path (GET /ok): path \"api/ok\" must start with `/`",
            "endpoints.json: endpoints[1].path (POST /users): path \"api/users\" must start with `/`",
            "endpoints.json: endpoints[1].persistence.action (POST /users): unknown action \"craete\", expected one of create, read, update, delete, list",
            "endpoints.json: endpoints[2].path (GET /users/{id}): path \"api/users/{id}\" must start with `/`",
            "endpoints.json: endpoints[2].authentication[0] (GET /users/{id}): unknown authentication method \"missing\", expected one of key",
            "endpoints.json: endpoints[2].responses[0].response.body.x (GET /users/{id}): cannot read `{{nope(}}`: unknown helper `nope`",
            "endpoints.json: endpoints[3].path (POST /schema): path \"api/schema\" must start with `/`",
            "endpoints.json: endpoints[3].request_body_schema (POST /schema): invalid JSON Schema: \"wat\" is not valid under any of the schemas listed in the 'anyOf' keyword",
        ]
    );
}

#[test]
fn a_type_error_names_the_json_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("api.json"), "{}").unwrap();
    std::fs::write(
        dir.path().join("endpoints.json"),
        r#"{"endpoints": [{"method": "GET", "path": "/a", "responses": [{"response": {"headers": "x"}}]}]}"#,
    )
    .unwrap();
    let err = Profile::load(dir.path()).unwrap_err();
    assert_eq!(err.problems.len(), 1);
    let line = err.problems[0].to_string();
    assert!(
        line.starts_with(
            "endpoints.json: endpoints[0].responses[0].response.headers: invalid type: string \"x\", expected a map"
        ),
        "{line}"
    );
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("api.json"), "{}").unwrap();
    let err = Profile::load(dir.path()).unwrap_err();
    assert!(err.problems[0].to_string().starts_with("endpoints.json: missing"), "{err}");
}

#[test]
fn logging_settings_are_checked_at_load() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("endpoints.json"), r#"{"endpoints": []}"#).unwrap();
    let api = r#"{"logging": {"level": "loud", "max_size_mb": 0}}"#;
    std::fs::write(dir.path().join("api.json"), api).unwrap();
    let err = Profile::load(dir.path()).unwrap_err();
    let lines: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].starts_with("api.json: logging.level: \"loud\" is not a log filter"), "{}", lines[0]);
    assert_eq!(lines[1], "api.json: logging.max_size_mb: found 0, expected at least 1");

    let api = r#"{"logging": {"level": "warn,mockgate::access=info", "file": "logs/x.log", "max_size_mb": 2,
                  "max_files": 3, "bodies": true}}"#;
    std::fs::write(dir.path().join("api.json"), api).unwrap();
    let logging = Profile::load(dir.path()).unwrap_or_else(|e| panic!("{e}")).logging;
    assert_eq!(logging.level, "warn,mockgate::access=info");
    assert_eq!(logging.file.as_deref(), Some(std::path::Path::new("logs/x.log")));
    assert_eq!((logging.max_bytes, logging.max_files, logging.body_bytes), (2 * 1024 * 1024, 3, Some(1024)));
}

#[test]
fn declared_indexes_are_checked_at_load() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("api.json"), "{}").unwrap();
    let load = |endpoints: &str| {
        std::fs::write(dir.path().join("endpoints.json"), endpoints).unwrap();
        Profile::load(dir.path())
    };
    let problems = |endpoints: &str| -> Vec<String> {
        load(endpoints).unwrap_err().problems.iter().map(ToString::to_string).collect()
    };
    let lines = problems(
        r#"{"endpoints": [{"method": "GET", "path": "/teams", "persistence": {"entity_name": "teams",
            "action": "list", "indexes": "name"}}]}"#,
    );
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let want = "endpoints.json: endpoints[0].persistence.indexes: invalid type: string \"name\", expected a sequence";
    assert!(lines[0].starts_with(want), "{}", lines[0]);

    let lines = problems(
        r#"{"endpoints": [{"method": "GET", "path": "/users", "persistence": {"entity_name": "users",
            "action": "list", "indexes": ["role", "", "address..city"]}}]}"#,
    );
    let why = "expected a field name (dotted names reach nested fields)";
    assert_eq!(
        lines,
        [
            format!("endpoints.json: endpoints[0].persistence.indexes[1] (GET /users): found \"\", {why}"),
            format!("endpoints.json: endpoints[0].persistence.indexes[2] (GET /users): found \"address..city\", {why}"),
        ]
    );

    // Declarations on every endpoint of a type add up; the parameters a list filters
    // by are indexed too.
    let profile = load(
        r#"{"endpoints": [{"method": "GET", "path": "/users", "persistence": {"entity_name": "users",
            "action": "list", "indexes": ["role", "address.city"]}},
            {"method": "POST", "path": "/users", "persistence": {"entity_name": "users", "action": "create",
            "indexes": ["age"]}},
            {"method": "GET", "path": "/people", "persistence": {"entity_name": "users", "action": "list",
            "filter_by_query_params": ["city"]}}]}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let declared = profile.rules.indexes();
    let fields: Vec<&str> = declared["users"].iter().map(String::as_str).collect();
    assert_eq!(fields, ["address.city", "age", "city", "role"]);
}
