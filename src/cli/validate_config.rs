use crate::config::Profile;
use anyhow::Context;
use clap::Args;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Profile name (under ./configs/) or folder.
    pub profile: String,
}

/// Runs exactly the checks of a start and prints every problem.
pub fn run(args: ValidateArgs) -> anyhow::Result<()> {
    let dir = super::resolve_profile(&args.profile)?;
    let profile = Profile::load(&dir).map_err(anyhow::Error::new).context("validation failed")?;
    println!(
        "profile {} is valid: {} endpoint(s), {} seeded entity type(s)",
        dir.display(),
        profile.endpoints.len(),
        profile.seed.len()
    );
    Ok(())
}
