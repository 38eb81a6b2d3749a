//! `mockctl validate-config`: the same checks as a start, without starting anything.

use crate::profile::Profile;
use anyhow::Context;
use clap::Args;
use serde_json::json;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mockctl validate-config persistence
  mockctl validate-config ./my-api --json
  mockctl validate-config ./from-mock-and-roll --strict")]
pub struct ValidateArgs {
    /// Profile name (under ./configs/) or folder [default: $MOCK_CONFIG_FOLDER, else
    /// $CONFIG_FOLDER].
    #[arg(default_value_t = String::new(), hide_default_value = true)]
    pub profile: String,
    /// Print `{"valid", "problems": [{"file", "json_path", "found", "expected", "endpoint"?}], "warnings": [...]}` for
    /// scripts and editors (still exits 1 when the profile is invalid).
    #[arg(long)]
    pub json: bool,
    /// Keys mockgate does not read (and keys it reads without effect) are problems,
    /// not warnings [env: MOCKGATE_STRICT].
    #[arg(long, env = "MOCKGATE_STRICT")]
    pub strict: bool,
}

/// Runs exactly the checks of a start and prints every problem.
pub fn run(args: ValidateArgs) -> anyhow::Result<()> {
    let dir = super::resolve_profile(&super::profile_or_env(&args.profile)?)?;
    let loaded = Profile::load_with(&dir, args.strict);
    if args.json {
        let listed = |list: &[crate::config::ConfigError]| -> Vec<serde_json::Value> {
            list.iter()
                .map(|p| {
                    let mut v =
                        json!({"file": p.file, "json_path": p.json_path, "found": p.found, "expected": p.expected});
                    if !p.endpoint.is_empty() {
                        v["endpoint"] = json!(p.endpoint);
                    }
                    v
                })
                .collect()
        };
        let problems = listed(loaded.as_ref().err().map(|e| &e.problems[..]).unwrap_or_default());
        let mut out = json!({"profile": dir.display().to_string(), "valid": loaded.is_ok(), "problems": problems});
        if let Ok(p) = &loaded {
            out["endpoints"] = json!(p.endpoints.len());
            out["warnings"] = json!(listed(&p.warnings));
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
        if let Err(e) = loaded {
            anyhow::bail!("validation failed: {} problem(s)", e.problems.len());
        }
        return Ok(());
    }
    let profile = loaded.map_err(anyhow::Error::new).context("validation failed")?;
    for w in &profile.warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "profile {} is valid: {} endpoint(s), {} seeded entity type(s)",
        dir.display(),
        profile.endpoints.len(),
        profile.seed.len()
    );
    if !profile.warnings.is_empty() {
        println!("{} warning(s): --strict makes them problems", profile.warnings.len());
    }
    Ok(())
}
