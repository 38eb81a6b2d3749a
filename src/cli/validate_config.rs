//! `mockctl validate-config`: the same checks as a start, without starting anything.

use crate::profile::Profile;
use anyhow::Context;
use clap::Args;
use serde_json::json;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mockctl validate-config persistence
  mockctl validate-config ./my-api --json")]
pub struct ValidateArgs {
    /// Profile name (under ./configs/) or folder.
    pub profile: String,
    /// Print `{"valid", "problems": [{"file", "json_path", "found", "expected", "endpoint"?}]}` for
    /// scripts and editors (still exits 1 when the profile is invalid).
    #[arg(long)]
    pub json: bool,
}

/// Runs exactly the checks of a start and prints every problem.
pub fn run(args: ValidateArgs) -> anyhow::Result<()> {
    let dir = super::resolve_profile(&args.profile)?;
    let loaded = Profile::load(&dir);
    if args.json {
        let problems: Vec<_> = loaded
            .as_ref()
            .err()
            .map(|e| &e.problems[..])
            .unwrap_or_default()
            .iter()
            .map(|p| {
                let mut v = json!({"file": p.file, "json_path": p.json_path, "found": p.found, "expected": p.expected});
                if !p.endpoint.is_empty() {
                    v["endpoint"] = json!(p.endpoint);
                }
                v
            })
            .collect();
        let mut out = json!({"profile": dir.display().to_string(), "valid": loaded.is_ok(), "problems": problems});
        if let Ok(p) = &loaded {
            out["endpoints"] = json!(p.endpoints.len());
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
        if let Err(e) = loaded {
            anyhow::bail!("validation failed: {} problem(s)", e.problems.len());
        }
        return Ok(());
    }
    let profile = loaded.map_err(anyhow::Error::new).context("validation failed")?;
    println!(
        "profile {} is valid: {} endpoint(s), {} seeded entity type(s)",
        dir.display(),
        profile.endpoints.len(),
        profile.seed.len()
    );
    Ok(())
}
