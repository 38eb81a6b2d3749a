//! The shipped profiles (`basic`, `persistence`, `shop`), compiled into the binary so
//! that `mockctl start persistence` works from any folder. A `./configs/<name>/` folder
//! still wins; a built-in one is written to the state folder's `profiles/<name>/`
//! when it is used (so logs, `--watch` and error messages can name real files).

use super::state;
use anyhow::Context;
use std::path::PathBuf;

type Files = &'static [(&'static str, &'static str)];

macro_rules! profile {
    ($name:literal) => {
        (
            $name,
            &[
                ("api.json", include_str!(concat!("../../configs/", $name, "/api.json"))),
                ("auth.json", include_str!(concat!("../../configs/", $name, "/auth.json"))),
                ("endpoints.json", include_str!(concat!("../../configs/", $name, "/endpoints.json"))),
            ] as Files,
        )
    };
}

/// Every built-in profile, by name.
pub const PROFILES: [(&str, Files); 3] = [profile!("basic"), profile!("persistence"), profile!("shop")];

pub fn names() -> impl Iterator<Item = &'static str> {
    PROFILES.iter().map(|(n, _)| *n)
}

/// The folder holding built-in profile `name`, written (or refreshed) now.
pub fn materialize(name: &str) -> anyhow::Result<Option<PathBuf>> {
    let Some((_, files)) = PROFILES.iter().find(|(n, _)| *n == name) else { return Ok(None) };
    let dir = state::dir().join("profiles").join(name);
    std::fs::create_dir_all(&dir).with_context(|| format!("Failed to create {}", dir.display()))?;
    for (file, text) in *files {
        let path = dir.join(file);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(*text) {
            std::fs::write(&path, text).with_context(|| format!("Failed to write {}", path.display()))?;
        }
    }
    Ok(Some(dir))
}
