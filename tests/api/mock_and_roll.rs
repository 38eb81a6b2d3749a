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
