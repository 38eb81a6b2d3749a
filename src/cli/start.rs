use crate::config::Profile;
use crate::server::Server;
use crate::settings::{Overrides, Settings};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Profile name (under ./configs/) or folder.
    pub profile: String,
    #[arg(long)]
    pub port: Option<u16>,
    #[arg(long)]
    pub host: Option<String>,
    /// Folder of the embedded store (default: data/<profile>/).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Stay in the foreground (the only mode for now; containers use it).
    #[arg(long)]
    pub foreground: bool,
    /// Discard stored data and start from the profile's seed data.
    #[arg(long)]
    pub reset: bool,
    /// Keep everything in memory; nothing is written to disk.
    #[arg(long)]
    pub no_persistence: bool,
    /// Number of worker threads (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Use this Redis (e.g. redis://127.0.0.1:6379/0); it must answer.
    #[arg(long)]
    pub redis_url: Option<String>,
    /// The Redis URL lists Redis Cluster seed nodes, comma-separated.
    #[arg(long)]
    pub redis_cluster: bool,
    /// Start from this snapshot (see /system/snapshots).
    #[arg(long)]
    pub snapshot: Option<String>,
    /// Load this JSON seed file at start (checked like /system/seed).
    #[arg(long = "seed", value_name = "FILE")]
    pub seed_file: Option<PathBuf>,
}

pub fn run(args: StartArgs) -> anyhow::Result<()> {
    crate::telemetry::init("info");
    let dir = super::resolve_profile(&args.profile)?;
    let profile = Profile::load(&dir).map_err(anyhow::Error::new).context("cannot start")?;
    let overrides = Overrides {
        host: args.host,
        port: args.port,
        data_dir: args.data_dir,
        backend: if args.no_persistence {
            Some("memory".to_owned())
        } else {
            args.redis_url.as_ref().map(|_| "redis".to_owned())
        },
        workers: args.workers,
        reset: args.reset,
        redis_url: args.redis_url,
        redis_cluster: args.redis_cluster,
        snapshot: args.snapshot,
        seed_file: args.seed_file,
    };
    let settings = Settings::load(&profile, overrides).context("invalid settings")?;
    actix_web::rt::System::new().block_on(serve(settings, profile))
}

async fn serve(settings: Settings, profile: Profile) -> anyhow::Result<()> {
    let name = profile.name.clone();
    let endpoints = profile.endpoints.len();
    let unprotected = !profile.system.protected && settings.system_key.is_none();
    let opened = profile.system.opened;
    let server = Server::build(&settings, profile).await.context("cannot start")?;
    let s = server.started();
    if let Some(note) = &s.note {
        tracing::warn!("{note}");
    }
    let data = &s.storage;
    tracing::info!(
        "mockgate {} serving profile {name} ({endpoints} endpoints) at {} on the {} backend, {data}{}",
        env!("CARGO_PKG_VERSION"),
        s.url,
        s.backend,
        if s.seeded { ", seeded" } else { "" }
    );
    if opened && settings.system_key.is_none() {
        tracing::warn!("the /system API is open: system.protect_endpoints is false in api.json");
    } else if unprotected {
        tracing::warn!("the /system API is open: no system key is configured (set MOCKGATE_SYSTEM_KEY)");
    }
    server.run_until_stopped().await.context("server failed")
}
