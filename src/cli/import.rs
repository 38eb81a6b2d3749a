//! `mockctl import <spec> [--out DIR] [--name NAME] [--force] [--records N]`: an
//! OpenAPI document (3.0, 3.1 or Swagger 2.0; YAML or JSON) becomes a profile folder
//! with `IMPORT.md` beside it, checked before anything is said to have worked.

use crate::profile::Profile;
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mockctl import petstore.yaml                  # writes configs/petstore/
  mockctl import api.json --name shop --records 20
  mockctl start petstore.yaml                   # or serve a document without writing a profile")]
pub struct ImportArgs {
    /// The OpenAPI document.
    pub spec: PathBuf,
    /// The profile folder to write (default: configs/<name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The profile's name (default: the document's file name).
    #[arg(long)]
    pub name: Option<String>,
    /// Replace a profile already in the folder.
    #[arg(long)]
    pub force: bool,
    /// Generated records per entity type.
    #[arg(long, default_value_t = crate::import::DEFAULT_RECORDS)]
    pub records: usize,
}

pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    if !args.spec.is_file() {
        anyhow::bail!("no OpenAPI document at {}", args.spec.display());
    }
    let name = args.name.clone().unwrap_or_else(|| {
        let stem = args.spec.file_stem().map_or_else(|| "openapi".into(), |s| s.to_string_lossy().into_owned());
        crate::persistence::slugify(&stem)
    });
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("configs").join(&name));
    if out.join("endpoints.json").exists() && !args.force {
        anyhow::bail!("{} already holds a profile; add --force to replace it", out.display());
    }
    let opts = crate::import::Options { records: args.records };
    let imported = crate::import::import(&args.spec, &opts).context("cannot import")?;
    imported.write(&out).with_context(|| format!("cannot write {}", out.display()))?;
    // What was written must load as it is: a problem here is the importer's.
    let profile = Profile::load(&out).map_err(anyhow::Error::new).context("the imported profile does not load")?;
    print!("{}", imported.report.summary());
    for w in &profile.warnings {
        println!("warning: {w}");
    }
    println!("wrote {} (api.json, auth.json, endpoints.json, IMPORT.md)", out.display());
    let how = if out == PathBuf::from("configs").join(&name) { name } else { out.display().to_string() };
    println!("  start it with: mockctl start {how}");
    Ok(())
}
