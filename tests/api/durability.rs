//! The embedded file store across restarts, and its refusals.

use crate::common::{Backend, repo_path, spawn_in};
use mockgate::{Profile, Server, Settings};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PROFILE: &str = "tests/fixtures/gateway";

#[tokio::test]
async fn data_survives_a_restart_and_seeds_load_only_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_in(PROFILE, Backend::File, dir.path().to_owned()).await;
    assert_eq!(app.post("/v1/notes", &json!({"id": "kept", "text": "survives"})).await.0, StatusCode::CREATED);
    assert_eq!(app.delete("/v1/notes/n1").await.0, StatusCode::NO_CONTENT, "delete the seeded note");
    app.stop().await;

    let app = spawn_in(PROFILE, Backend::File, dir.path().to_owned()).await;
    assert_eq!(app.get("/v1/notes/kept").await.1["text"], "survives");
    assert_eq!(app.get("/v1/notes/n1").await.0, StatusCode::NOT_FOUND, "seed data is not loaded again");
    app.stop().await;
}

#[tokio::test]
async fn db_json_is_pretty_and_readable() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_in(PROFILE, Backend::File, dir.path().to_owned()).await;
    app.post("/v1/notes", &json!({"id": "b", "text": "two"})).await;
    app.post("/v1/tickets", &json!({"title": "t"})).await;
    app.stop().await;
    let text = std::fs::read_to_string(dir.path().join("db.json")).unwrap();
    assert!(text.starts_with("{\n  \"format\": \"mockgate/1\",\n  \"seq\": "), "{text}");
    assert!(text.contains("\n  \"entities\": {\n    \"notes\": {\n      \"n1\": {"), "{text}");
    let db: Value = serde_json::from_str(&text).unwrap();
    let ids: Vec<&String> = db["entities"]["notes"].as_object().unwrap().keys().collect();
    assert_eq!(ids, vec!["n1", "b"], "creation order");
    assert_eq!(db["sequences"]["tickets"], 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("db.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o644, 0o644, "readable like any file");
    }
}

#[tokio::test]
async fn a_corrupt_data_file_stops_the_start_and_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let broken = b"{\n  \"format\": \"mockgate/1\",\n  \"entities\": {\"notes\": [\n";
    std::fs::write(dir.path().join("db.json"), broken).unwrap();
    let profile = Profile::load(&repo_path(PROFILE)).unwrap();
    let settings = Settings::ephemeral(Some(dir.path().to_owned()), "file");
    let err = Server::build(&settings, profile).await.err().expect("start is refused");
    let chain = mockgate::telemetry::error_chain(&err);
    assert!(chain.contains("db.json is unreadable"), "{chain}");
    assert!(chain.contains("line 3"), "{chain}");
    assert_eq!(std::fs::read(dir.path().join("db.json")).unwrap(), broken);
}

#[tokio::test]
async fn two_servers_cannot_share_a_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_in(PROFILE, Backend::File, dir.path().to_owned()).await;
    let profile = Profile::load(&repo_path(PROFILE)).unwrap();
    let settings = Settings::ephemeral(Some(dir.path().to_owned()), "file");
    let err = Server::build(&settings, profile).await.err().expect("second start is refused");
    assert!(mockgate::telemetry::error_chain(&err).contains("in use by another mockgate process"));
    app.stop().await;
}

/// A journal written by a process that died: lines as the file store writes them.
fn journal_line(seq: u64, id: &str, text: &str) -> String {
    format!(
        "{{\"seq\":{seq},\"ops\":[{{\"put\":{{\"e\":\"notes\",\"id\":\"{id}\",\"v\":{{\"id\":\"{id}\",\"text\":\"{text}\"}},\"x\":null}}}}]}}\n"
    )
}

#[tokio::test]
async fn a_torn_last_journal_line_is_dropped_and_the_rest_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let journal =
        format!("{}{}{{\"seq\":3,\"ops\":[{{\"put\":", journal_line(1, "a", "first"), journal_line(2, "b", "second"));
    std::fs::write(dir.path().join("journal-000001.jsonl"), journal).unwrap();
    let app = spawn_in(PROFILE, Backend::File, dir.path().to_owned()).await;
    assert_eq!(app.get("/v1/notes/a").await.1["text"], "first");
    assert_eq!(app.get("/v1/notes/b").await.1["text"], "second");
    assert_eq!(
        app.get("/v1/notes/n1").await.0,
        StatusCode::NOT_FOUND,
        "a folder with a journal is not fresh: no reseed"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_corrupt_journal_line_stops_the_start_with_its_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let journal = format!("{}not json\n{}", journal_line(1, "a", "first"), journal_line(3, "c", "third"));
    std::fs::write(dir.path().join("journal-000001.jsonl"), &journal).unwrap();
    let profile = Profile::load(&repo_path(PROFILE)).unwrap();
    let settings = Settings::ephemeral(Some(dir.path().to_owned()), "file");
    let err = Server::build(&settings, profile).await.err().expect("start is refused");
    let chain = mockgate::telemetry::error_chain(&err);
    assert!(chain.contains("journal-000001.jsonl is unreadable: line 2:"), "{chain}");
    assert_eq!(std::fs::read_to_string(dir.path().join("journal-000001.jsonl")).unwrap(), journal, "left untouched");
}

#[tokio::test]
async fn a_non_persistent_entity_type_never_reaches_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_in(PROFILE, Backend::File, dir.path().to_owned()).await;
    let (status, _) = app.post("/v1/sessions", &json!({"user": "ada"})).await;
    assert_eq!(status, StatusCode::CREATED);
    app.post("/v1/notes", &json!({"id": "kept", "text": "on disk"})).await;
    app.stop().await;
    let on_disk = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect::<String>();
    assert!(on_disk.contains("on disk"));
    assert!(!on_disk.contains("ada"), "no journal line or snapshot holds the session");
}

#[tokio::test]
async fn an_entity_at_the_depth_limit_is_read_back_after_a_restart_and_from_the_journal() {
    let deep = json!({"id": "deep", "tree": crate::validation::nested(63)});
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_in(PROFILE, Backend::File, dir.path().to_owned()).await;
    assert_eq!(app.post("/v1/notes", &deep).await.0, StatusCode::CREATED);
    app.stop().await;
    let app = spawn_in(PROFILE, Backend::File, dir.path().to_owned()).await;
    assert_eq!(app.get("/v1/notes/deep").await.1["tree"], deep["tree"], "from db.json");
    app.stop().await;

    // The same entity in a journal line (as a crash before the next snapshot leaves it).
    let journal = tempfile::tempdir().unwrap();
    let line = json!({"seq": 1, "ops": [{"put": {"e": "notes", "id": "deep", "v": deep, "x": null}}]});
    std::fs::write(journal.path().join("journal-000001.jsonl"), format!("{line}\n")).unwrap();
    let app = spawn_in(PROFILE, Backend::File, journal.path().to_owned()).await;
    assert_eq!(app.get("/v1/notes/deep").await.1, deep, "replayed from the journal");
    app.stop().await;
}

#[tokio::test]
async fn a_torn_line_is_cut_off_so_every_later_start_recovers_too() {
    let dir = tempfile::tempdir().unwrap();
    let torn = format!("{}{{\"seq\":2,\"ops\":[{{\"put\":", journal_line(1, "a", "first"));
    std::fs::write(dir.path().join("journal-000001.jsonl"), &torn).unwrap();
    for round in 0..3 {
        let app = spawn_in(PROFILE, Backend::File, dir.path().to_owned()).await;
        assert_eq!(app.get("/v1/notes/a").await.1["text"], "first", "start {round}");
        app.stop().await;
    }
    let segment = std::fs::read_to_string(dir.path().join("journal-000001.jsonl")).unwrap_or_default();
    assert!(!segment.contains("\"seq\":2"), "the torn bytes are gone: {segment:?}");
}

#[tokio::test]
async fn temporary_files_left_by_a_crash_are_removed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("snapshots")).unwrap();
    for leftover in [".tmpAb12Cd", "snapshots/.tmpXy34Zw"] {
        std::fs::write(dir.path().join(leftover), "x".repeat(1000)).unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let app = spawn_in(PROFILE, Backend::File, dir.path().to_owned()).await;
    assert!(!dir.path().join(".tmpAb12Cd").exists());
    assert!(!dir.path().join("snapshots/.tmpXy34Zw").exists());
    assert!(dir.path().join("notes.txt").exists(), "only the store's own temporary files go");
    app.stop().await;
}
