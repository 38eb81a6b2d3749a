//! Runtime settings, layered: built-in defaults, then the profile's `server` block,
//! then `MOCKGATE_*` environment variables, then command-line flags.

use crate::config::Profile;
use serde::Deserialize;
use std::path::PathBuf;

/// How the server runs (as opposed to what it serves, which is the profile).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Settings {
    pub host: String,
    /// 0 picks a free port; [`crate::Server::port`] tells which.
    pub port: u16,
    /// The embedded store's folder; default `data/<profile>/` under the working directory.
    pub data_dir: Option<PathBuf>,
    /// Overrides the profile's backend: `memory`, `file` (or `redis`, when available).
    pub backend: Option<String>,
    /// actix worker threads; default one per core.
    pub workers: Option<usize>,
    /// Start from the profile's seed data, discarding stored data.
    #[serde(default)]
    pub reset: bool,
    /// An extra key accepted by the `/system` API.
    pub system_key: Option<String>,
}

/// Flags given on the command line; `None` leaves the lower layers in charge.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub data_dir: Option<PathBuf>,
    pub backend: Option<String>,
    pub workers: Option<usize>,
    pub reset: bool,
}

pub const DEFAULT_PORT: u16 = 8000;

impl Settings {
    pub fn load(profile: &Profile, cli: Overrides) -> Result<Settings, config::ConfigError> {
        let builder = config::Config::builder()
            .set_default("host", "127.0.0.1")?
            .set_default("port", DEFAULT_PORT)?
            .set_default("reset", false)?
            .set_override_option("host", profile.host.clone())?
            .set_override_option("port", profile.port)?
            .add_source(
                config::Environment::with_prefix("MOCKGATE")
                    .prefix_separator("_")
                    .try_parsing(true),
            )
            .set_override_option("host", cli.host)?
            .set_override_option("port", cli.port)?
            .set_override_option(
                "data_dir",
                cli.data_dir.map(|p| p.to_string_lossy().into_owned()),
            )?
            .set_override_option("backend", cli.backend)?
            .set_override_option("workers", cli.workers.map(|w| w as u64))?;
        let builder = if cli.reset {
            builder.set_override("reset", true)?
        } else {
            builder
        };
        builder.build()?.try_deserialize()
    }

    /// Settings for tests and embedding: loopback, a free port, the given folder.
    pub fn ephemeral(data_dir: Option<PathBuf>, backend: &str) -> Settings {
        Settings {
            host: "127.0.0.1".into(),
            port: 0,
            data_dir,
            backend: Some(backend.into()),
            workers: Some(2),
            reset: false,
            system_key: None,
        }
    }

    pub fn data_dir_for(&self, profile: &Profile) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("data").join(&profile.name))
    }
}
