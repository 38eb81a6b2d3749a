//! Data administration without HTTP: seeding, reset, snapshots, the admin delete and
//! the counts the `/system` API and the start line report. Startup
//! (`--seed`, `--snapshot`, `--reset`) and the `/system` handlers both call these;
//! they return [`AdminError`], which the gateway's error table turns into an answer.

use crate::persistence::rules::{Plan, Role, Rules, Violation};
use crate::store::{Cond, Dataset, Snapshot, SnapshotMeta, Store, StoreError, Ttl, Write, id_key, valid_entity_name};
use indexmap::IndexMap;
use serde_json::{Map, Value};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Records or names that cannot be stored, each with its JSON pointer.
    #[error("{}", describe(.0))]
    Invalid(Vec<Violation>),
    #[error("{entity} {id:?} not found")]
    NotFound { entity: String, id: String },
    #[error("the {backend} backend has no data file to load; use snapshots to restore a saved state")]
    NoDataFile { backend: &'static str },
    #[error("{entity} {id:?} changed while it was being deleted; try again")]
    Changed { entity: String, id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn describe(v: &[Violation]) -> String {
    let n = v.len();
    let list: Vec<String> = v.iter().map(|v| format!("{}: {}", v.path, v.message)).collect();
    format!("{n} problem{}: {}", if n == 1 { "" } else { "s" }, list.join("; "))
}

fn invalid(path: String, message: impl Into<String>) -> AdminError {
    AdminError::Invalid(vec![Violation { path, message: message.into() }])
}

/// `__unique.*` tables are bookkeeping for unique fields, not user data.
pub fn is_user_entity(name: &str) -> bool {
    !name.starts_with("__")
}

/// User entity types with their live counts, by name.
/// The backend's details and the entity counts: what health and `/system/cache/info` report.
pub async fn status(store: &dyn Store) -> Result<(Value, IndexMap<String, usize>), StoreError> {
    let info = store.info().await?;
    Ok((info, counts(store).await?))
}

pub async fn counts(store: &dyn Store) -> Result<IndexMap<String, usize>, StoreError> {
    Ok(store.counts().await?.into_iter().filter(|(k, _)| is_user_entity(k)).collect())
}

/// Merges `{"users": [{...}], ...}` into the stored data after checking every record
/// (an id, the entity type's constraints, unique values); all or nothing. Returns how
/// many records each type received.
pub async fn seed(
    store: &dyn Store,
    rules: &Rules,
    entities: &Map<String, Value>,
) -> Result<IndexMap<String, usize>, AdminError> {
    let mut violations = Vec::new();
    let mut incoming = Dataset::new();
    for (entity, records) in entities {
        let at = format!("/entities/{entity}");
        if !valid_entity_name(entity) || !is_user_entity(entity) {
            violations.push(Violation { path: at, message: "is not a valid entity name".into() });
            continue;
        }
        let Some(records) = records.as_array() else {
            violations.push(Violation { path: at, message: "must be an array of objects".into() });
            continue;
        };
        for (i, record) in records.iter().enumerate() {
            let here = format!("{at}/{i}");
            let Some(id) = record.as_object().and_then(|o| o.get("id")).and_then(id_key) else {
                violations
                    .push(Violation { path: here, message: "must be an object with a string or number id".into() });
                continue;
            };
            for v in rules.of(entity).violations(record) {
                violations.push(Violation { path: format!("{here}{}", v.path), message: v.message });
            }
            incoming.entry(entity.clone()).or_default().insert(id, record.clone());
        }
    }
    if !violations.is_empty() {
        return Err(AdminError::Invalid(violations));
    }
    let mut data: Dataset = store.dump().await?.into_iter().filter(|(e, _)| is_user_entity(e)).collect();
    let mut added = IndexMap::new();
    for (entity, rows) in incoming {
        added.insert(entity.clone(), rows.len());
        data.entry(entity).or_default().extend(rows);
    }
    let duplicates = unique_duplicates(rules, &data);
    if !duplicates.is_empty() {
        return Err(AdminError::Invalid(duplicates));
    }
    store.replace_all(rules.prepare_seed(data)).await?;
    Ok(added)
}

/// A seed file for `mockctl start --seed FILE`: `{"entities": {...}}` or the map itself.
pub fn read_seed_file(path: &Path) -> Result<Map<String, Value>, AdminError> {
    let text = std::fs::read_to_string(path).map_err(|source| StoreError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    })?;
    let json: Value = serde_json::from_str(&text).map_err(|e| invalid("/".into(), format!("not JSON: {e}")))?;
    json.get("entities")
        .unwrap_or(&json)
        .as_object()
        .cloned()
        .ok_or_else(|| invalid("/".into(), "expected {\"entities\": {\"<entity>\": [records]}} or the map itself"))
}

/// Unique fields that two records would share.
fn unique_duplicates(rules: &Rules, data: &Dataset) -> Vec<Violation> {
    let mut out = Vec::new();
    for (entity, rows) in data {
        for field in &rules.of(entity).unique {
            let mut seen = std::collections::HashMap::new();
            for (id, row) in rows {
                let Some(v) = row.get(field).filter(|v| !v.is_null()) else { continue };
                if let Some(first) = seen.insert(v.to_string(), id.clone()) {
                    out.push(Violation {
                        path: format!("/entities/{entity}/{id}/{field}"),
                        message: format!("{v} is already the {field} of {entity} {first:?}"),
                    });
                }
            }
        }
    }
    out
}

/// Deletes one entity with its unique claims; relationships are not followed (an
/// administrator's repair tool, like editing the data by hand).
pub async fn delete(store: &dyn Store, rules: &Rules, entity: &str, id: &str) -> Result<(), AdminError> {
    let current = store
        .get(entity, id)
        .await?
        .ok_or_else(|| AdminError::NotFound { entity: entity.to_owned(), id: id.to_owned() })?;
    let mut plan = Plan::default();
    plan.push(
        Write::Delete { entity: entity.to_owned(), id: id.to_owned(), cond: Cond::Equals(current.clone()) },
        Role::Main,
    );
    plan.claims(rules.of(entity), entity, id, Some(&current), None, Ttl::Keep);
    plan.commit(store).await.map(|_| ()).map_err(|e| match e {
        crate::persistence::rules::PlanError::Store(e) => AdminError::Store(e),
        _ => AdminError::Changed { entity: entity.to_owned(), id: id.to_owned() },
    })
}

/// Everything back to `data` (the profile's initial data, for reset and reseed).
pub async fn reset(store: &dyn Store, data: Dataset) -> Result<(), AdminError> {
    Ok(store.replace_all(data).await?)
}

/// Re-reads the embedded store's data file.
pub async fn load(store: &dyn Store) -> Result<(), AdminError> {
    if store.load().await? { Ok(()) } else { Err(AdminError::NoDataFile { backend: store.backend() }) }
}

/// What a snapshot name may look like: letters, digits, `-`, `_` and `.`, 1 to 100
/// characters, not starting with `.` (no path tricks). The OpenAPI document carries
/// this pattern; [`check_snapshot_name`] applies the same rule.
pub const SNAPSHOT_NAME_PATTERN: &str = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$";

pub fn check_snapshot_name(name: &str) -> Result<(), AdminError> {
    let ok = (1..=100).contains(&name.len())
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "/name".into(),
            format!("{name:?} is not a snapshot name: use letters, digits, `-`, `_` and `.`, not starting with `.`"),
        ))
    }
}

/// Saves all data as snapshot `name` (replacing one of that name); returns its
/// description.
pub async fn create_snapshot(store: &dyn Store, name: &str, description: &str) -> Result<SnapshotMeta, AdminError> {
    check_snapshot_name(name)?;
    let data = store.dump().await?;
    let meta = SnapshotMeta {
        name: name.to_owned(),
        description: description.to_owned(),
        created_at: crate::template::iso(chrono::Utc::now()),
        counts: counts(store).await?,
    };
    let snapshot = Snapshot { meta, data };
    store.put_snapshot(&snapshot).await?;
    Ok(snapshot.meta)
}

/// Replaces all data with snapshot `name`'s, in one step.
pub async fn restore(store: &dyn Store, name: &str) -> Result<(), AdminError> {
    check_snapshot_name(name)?;
    let snapshot = store
        .get_snapshot(name)
        .await?
        .ok_or_else(|| AdminError::NotFound { entity: "snapshot".into(), id: name.to_owned() })?;
    Ok(store.replace_all(snapshot.data).await?)
}

pub async fn delete_snapshot(store: &dyn Store, name: &str) -> Result<(), AdminError> {
    check_snapshot_name(name)?;
    if store.delete_snapshot(name).await? {
        Ok(())
    } else {
        Err(AdminError::NotFound { entity: "snapshot".into(), id: name.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{FileStore, SystemClock, Transaction};
    use serde_json::json;
    use std::sync::Arc;

    #[test]
    fn the_snapshot_name_rule_and_its_documented_pattern_agree() {
        let pattern = regex::Regex::new(SNAPSHOT_NAME_PATTERN).unwrap();
        let long = "a".repeat(100);
        let too_long = "a".repeat(101);
        for name in [
            "before-test",
            "v1.2",
            "_x",
            "-x",
            "a",
            long.as_str(),
            too_long.as_str(),
            "",
            ".hidden",
            "../etc",
            "a/b",
            "é",
            "a b",
        ] {
            assert_eq!(check_snapshot_name(name).is_ok(), pattern.is_match(name), "{name:?}");
        }
        assert!(check_snapshot_name("../etc").is_err());
    }

    #[tokio::test]
    async fn an_admin_delete_on_a_store_that_cannot_write_is_a_store_error() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = FileStore::open(dir.path(), Arc::new(SystemClock)).unwrap();
        let put = Write::Put {
            entity: "users".into(),
            id: "u1".into(),
            value: json!({"id": "u1"}),
            ttl: Ttl::Persist,
            cond: Cond::Any,
        };
        store.commit(Transaction::single(put)).await.unwrap();
        // A closed file store still reads but can no longer write: the backend is down.
        store.close().await.unwrap();
        let err = delete(&store, &Rules::default(), "users", "u1").await.unwrap_err();
        assert!(matches!(err, AdminError::Store(StoreError::Unavailable(_))), "{err:?}");
    }

    #[test]
    fn invalid_records_are_listed_each_with_its_path() {
        let e = AdminError::Invalid(vec![
            Violation { path: "/entities/users/0".into(), message: "must be an object".into() },
            Violation { path: "/entities/users/1/email".into(), message: "is taken".into() },
        ]);
        assert_eq!(
            e.to_string(),
            "2 problems: /entities/users/0: must be an object; /entities/users/1/email: is taken"
        );
    }
}
