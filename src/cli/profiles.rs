//! `mockctl profiles`: what `start` can run, local folders first (they win over a
//! built-in profile of the same name).

/// Every profile name `start` accepts, with where it comes from.
pub fn known() -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = std::fs::read_dir("configs")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("endpoints.json").is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), "./configs"))
        .collect();
    out.sort();
    for name in super::builtin::names() {
        if !out.iter().any(|(n, _)| n == name) {
            out.push((name.to_owned(), "built in"));
        }
    }
    out
}

pub fn run() -> anyhow::Result<()> {
    println!("{:<20} FROM", "PROFILE");
    for (name, from) in known() {
        println!("{name:<20} {from}");
    }
    println!("\nstart one with: mockctl start <profile>   (or give a folder path)");
    Ok(())
}
