//! The shape of `src/`, checked on every run: no import circles between top-level
//! modules, and actix-web only in the HTTP wing (`src/http/`) and the CLI's runtime.

use crate::common::repo_path;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Each file's text without its `#[cfg(test)] mod tests` (tests may look anywhere).
fn sources() -> Vec<(String, String)> {
    let src = repo_path("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).unwrap();
            let code = match text.find("#[cfg(test)]") {
                Some(i) => text[..i].to_owned(),
                None => text,
            };
            (rel, code)
        })
        .collect()
}

fn top_module(rel: &str) -> Option<String> {
    let first = rel.split('/').next()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!["lib", "main", "bin"].contains(&name)).then(|| name.to_owned())
}

/// `crate::x` paths (and `crate::{x, y}` groups), doc links included: a doc link is a
/// dependency too.
fn imports(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + 7..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            for part in inner.split(',') {
                let name: String = part.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                out.insert(name);
            }
        } else {
            out.insert(rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect());
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, code) in sources() {
        if let Some(m) = top_module(&rel) {
            let deps = imports(&code).into_iter().filter(|d| *d != m && !d.is_empty()).collect::<BTreeSet<_>>();
            g.entry(m).or_default().extend(deps);
        }
    }
    let names: BTreeSet<String> = g.keys().cloned().collect();
    g.values_mut().for_each(|d| d.retain(|x| names.contains(x)));
    g
}

/// A path from `from` back to `to` through the graph, if there is one.
fn path_to(
    g: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    to: &str,
    seen: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    for next in &g[from] {
        if next == to {
            return Some(vec![from.to_owned(), to.to_owned()]);
        }
        if seen.insert(next.clone())
            && let Some(mut rest) = path_to(g, next, to, seen)
        {
            rest.insert(0, from.to_owned());
            return Some(rest);
        }
    }
    None
}

#[test]
fn top_level_modules_import_each_other_without_circles() {
    let g = graph();
    assert!(g.len() >= 15, "the walk found the modules: {:?}", g.keys());
    for m in g.keys() {
        if let Some(circle) = path_to(&g, m, m, &mut BTreeSet::new()) {
            panic!("import circle: {}", circle.join(" -> "));
        }
    }
}

#[test]
fn the_circle_check_would_notice_a_circle() {
    // A control: two modules importing each other are reported.
    let mut g = BTreeMap::new();
    g.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    g.insert("b".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(path_to(&g, "a", "a", &mut BTreeSet::new()), Some(vec!["a".into(), "b".into(), "a".into()]));
    assert_eq!(
        imports("use crate::{json, store::Dataset};\n/// see [`crate::http`]"),
        BTreeSet::from(["json".into(), "store".into(), "http".into()])
    );
}

#[test]
fn actix_is_confined_to_the_http_wing_and_the_cli_runtime() {
    let outside: Vec<String> = sources()
        .into_iter()
        .filter(|(rel, code)| !rel.starts_with("http/") && !rel.starts_with("cli/") && code.contains("actix"))
        .map(|(rel, _)| rel)
        .collect();
    assert!(outside.is_empty(), "actix named outside src/http and src/cli: {outside:?}");
    let cli: Vec<String> = sources()
        .into_iter()
        .filter(|(rel, code)| rel.starts_with("cli/") && code.contains("actix") && !code.contains("actix_web::rt::"))
        .map(|(rel, _)| rel)
        .collect();
    assert!(cli.is_empty(), "the CLI uses actix only for its runtime: {cli:?}");
}

#[test]
fn every_source_file_says_what_it_is_for() {
    let src = repo_path("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let undocumented: Vec<String> = files
        .iter()
        .filter(|p| !std::fs::read_to_string(p).unwrap().starts_with("//!"))
        .map(|p| p.strip_prefix(&src).unwrap().display().to_string())
        .collect();
    assert!(undocumented.is_empty(), "files without a //! module doc: {undocumented:?}");
}
