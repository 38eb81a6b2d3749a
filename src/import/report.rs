//! What an import did, for people: printed by `mockctl import` and written beside
//! the profile as `IMPORT.md`.

use std::fmt::Write;

#[derive(Debug, Default, Clone)]
pub struct Report {
    pub source: String,
    pub version: String,
    pub title: String,
    pub operations: usize,
    pub resources: Vec<ResourceReport>,
    pub statics: Vec<StaticOp>,
    pub credentials: Vec<String>,
    pub system_key: String,
    pub records: usize,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ResourceReport {
    pub entity: String,
    pub key: String,
    pub id: String,
    pub collection: String,
    pub item: Option<String>,
    /// `GET /pets: list`, ...
    pub actions: Vec<String>,
    /// (parent entity, path parameter).
    pub parent: Option<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct StaticOp {
    pub method: String,
    pub path: String,
    pub why: String,
}

impl Report {
    /// The short form `mockctl import` prints.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let mapped = self.operations - self.statics.len();
        let _ = writeln!(
            s,
            "imported {} ({}, OpenAPI {}): {} operations, {mapped} on {} entity types, {} served statically",
            self.title,
            self.source,
            self.version,
            self.operations,
            self.resources.len(),
            self.statics.len()
        );
        for r in &self.resources {
            let _ = writeln!(s, "  {:<16} key {} ({}), {}", r.entity, r.key, r.id, r.actions.join(", "));
        }
        for st in &self.statics {
            let _ = writeln!(s, "  static {} {}: {}", st.method, st.path, st.why);
        }
        if !self.credentials.is_empty() {
            let _ = writeln!(s, "credentials:");
            for c in &self.credentials {
                let _ = writeln!(s, "  {}", c.replace('`', ""));
            }
        }
        let _ = writeln!(s, "  /system: X-System-Key: {}", self.system_key);
        for n in &self.notes {
            let _ = writeln!(s, "note: {}", n.replace('`', ""));
        }
        s
    }

    /// `IMPORT.md`.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# Import of {}\n", self.title);
        let _ = writeln!(
            s,
            "Made by `mockctl import` from `{}` (OpenAPI {}). The profile beside this file is meant to be \
             edited; importing again with `--force` replaces it.\n",
            self.source, self.version
        );
        let _ = writeln!(
            s,
            "{} operations: {} on entity types, {} served statically from the document's examples and schemas.\n",
            self.operations,
            self.operations - self.statics.len(),
            self.statics.len()
        );
        let _ = writeln!(s, "## Entity types\n");
        if self.resources.is_empty() {
            let _ = writeln!(s, "None: no collection (`/things`) with an item path (`/things/{{id}}`) or a create.\n");
        } else {
            let _ =
                writeln!(s, "| entity | key | new keys | collection | item | operations |\n|---|---|---|---|---|---|");
            for r in &self.resources {
                let _ = writeln!(
                    s,
                    "| `{}` | `{}` | {} | `{}` | {} | {} |",
                    r.entity,
                    r.key,
                    r.id,
                    r.collection,
                    r.item.as_deref().map_or("-".to_owned(), |i| format!("`{i}`")),
                    r.actions.join("; ")
                );
            }
            let _ = writeln!(
                s,
                "\nEach type starts with {} generated records (`generate_data` in api.json; `--records N`).\n",
                self.records
            );
        }
        let related: Vec<&ResourceReport> = self.resources.iter().filter(|r| r.parent.is_some()).collect();
        if !related.is_empty() {
            let _ = writeln!(s, "## Relationships\n");
            for r in related {
                if let Some((parent, field)) = &r.parent {
                    let _ = writeln!(
                        s,
                        "- `{}`.`{field}` names a `{parent}` (from `{}`): it must exist, and deleting it deletes its `{}`.",
                        r.entity, r.collection, r.entity
                    );
                }
            }
            let _ = writeln!(s);
        }
        let _ = writeln!(s, "## Served statically\n");
        if self.statics.is_empty() {
            let _ = writeln!(s, "None.\n");
        }
        for st in &self.statics {
            let _ = writeln!(s, "- `{} {}`: {}", st.method, st.path, st.why);
        }
        if !self.statics.is_empty() {
            let _ = writeln!(s);
        }
        let _ = writeln!(s, "## Credentials\n");
        for c in &self.credentials {
            let _ = writeln!(s, "- {c}");
        }
        let _ = writeln!(s, "- the system API (`/system`): header `X-System-Key: {}`\n", self.system_key);
        if !self.notes.is_empty() {
            let _ = writeln!(s, "## Notes\n");
            for n in &self.notes {
                let _ = writeln!(s, "- {n}");
            }
        }
        s
    }
}
