//! Runtime settings, layered: built-in defaults, then the profile's `server` block,
//! then `MOCKGATE_*` environment variables, then command-line flags.

use crate::profile::Profile;
use crate::store::{BackendChoice, BackendKind, OpenRequest};
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
    /// Overrides the profile's backend kind: `memory`, `file` or `redis`
    /// (`MOCKGATE_BACKEND`); anything else is an error.
    pub backend: Option<BackendKind>,
    /// HTTP worker threads; default one per core.
    pub workers: Option<usize>,
    /// Start from the profile's seed data, discarding stored data.
    #[serde(default)]
    pub reset: bool,
    /// An extra key accepted by the `/system` API.
    pub system_key: Option<String>,
    /// An explicitly configured Redis (flag, `MOCKGATE_REDIS_URL`, `REDIS_URL` or
    /// `REDIS_HOST`/`REDIS_PORT`/`REDIS_DB`/`REDIS_PASSWORD`); it must answer.
    pub redis_url: Option<String>,
    /// Key prefix in Redis; default `mockgate:{<profile>}` (the braces are the hash tag).
    pub redis_prefix: Option<String>,
    /// `redis_url` lists Redis Cluster seed nodes (comma-separated).
    #[serde(default)]
    pub redis_cluster: bool,
    /// A file whose first line is the Redis password (`--redis-password-file`,
    /// `MOCKGATE_REDIS_PASSWORD_FILE`); `REDIS_PASSWORD` works too. Either one goes into
    /// a `redis_url` that carries no password of its own.
    pub redis_password_file: Option<PathBuf>,
    /// `--cors` / `--no-cors` (`MOCKGATE_CORS`) over the profile's `cors`.
    pub cors: Option<bool>,
    /// Start from this snapshot's data.
    pub snapshot: Option<String>,
    /// A JSON seed file (`{"entities": {"users": [...]}}` or just the map) loaded at start.
    pub seed_file: Option<PathBuf>,
}

/// Flags given on the command line; `None` leaves the lower layers in charge.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub data_dir: Option<PathBuf>,
    pub backend: Option<BackendKind>,
    pub workers: Option<usize>,
    pub reset: bool,
    pub redis_url: Option<String>,
    pub redis_password_file: Option<PathBuf>,
    pub redis_cluster: bool,
    pub cors: Option<bool>,
    pub snapshot: Option<String>,
    pub seed_file: Option<PathBuf>,
}

pub const DEFAULT_PORT: u16 = 8000;

impl Settings {
    pub fn load(profile: &Profile, cli: Overrides) -> Result<Settings, config::ConfigError> {
        let builder = config::Config::builder()
            .set_default("host", "127.0.0.1")?
            .set_default("port", DEFAULT_PORT)?
            .set_default("reset", false)?
            .set_default("redis_cluster", false)?
            .set_override_option("host", profile.host.clone())?
            .set_override_option("port", profile.port)?
            .add_source(config::Environment::with_prefix("MOCKGATE").prefix_separator("_").try_parsing(true))
            .set_override_option("host", cli.host)?
            .set_override_option("port", cli.port)?
            .set_override_option("data_dir", cli.data_dir.map(|p| p.to_string_lossy().into_owned()))?
            .set_override_option("backend", cli.backend.map(kind_name))?
            .set_override_option("workers", cli.workers.map(|w| w as u64))?
            .set_default("redis_url", redis_url_from_env())?
            .set_override_option("redis_url", cli.redis_url)?
            .set_override_option(
                "redis_password_file",
                cli.redis_password_file.map(|p| p.to_string_lossy().into_owned()),
            )?
            .set_override_option("cors", cli.cors)?
            .set_override_option("snapshot", cli.snapshot)?
            .set_override_option("seed_file", cli.seed_file.map(|p| p.to_string_lossy().into_owned()))?;
        let builder = if cli.reset { builder.set_override("reset", true)? } else { builder };
        let builder = if cli.redis_cluster { builder.set_override("redis_cluster", true)? } else { builder };
        let mut settings: Settings = builder.build()?.try_deserialize()?;
        settings.redis_url = match settings.redis_url.take() {
            Some(url) => Some(with_password(&url, redis_password(settings.redis_password_file.as_deref())?.as_deref())),
            None => None,
        };
        Ok(settings)
    }

    /// Settings for tests and embedding: loopback, a free port, the given folder.
    /// `backend` overrides the profile's kind; `""` leaves the profile's choice.
    ///
    /// Panics on a backend name other than `memory`, `file`, `redis` or `""`.
    pub fn ephemeral(data_dir: Option<PathBuf>, backend: &str) -> Settings {
        Settings {
            host: "127.0.0.1".into(),
            port: 0,
            data_dir,
            backend: (!backend.is_empty()).then(|| backend.parse().unwrap_or_else(|e| panic!("{e}"))),
            workers: Some(2),
            reset: false,
            system_key: None,
            redis_url: None,
            redis_prefix: None,
            redis_cluster: false,
            redis_password_file: None,
            cors: None,
            snapshot: None,
            seed_file: None,
        }
    }

    /// What opening the store needs, from these settings and the profile.
    pub fn open_request(&self, profile: &Profile, clock: &std::sync::Arc<crate::store::TestClock>) -> OpenRequest {
        let from_profile = match &profile.backend {
            BackendChoice::Redis { prefix, .. } => prefix.clone(),
            _ => None,
        };
        OpenRequest {
            choice: profile.backend.clone(),
            kind: self.backend,
            data_dir: self.data_dir.clone().unwrap_or_else(|| PathBuf::from("data").join(&profile.name)),
            redis_url: self.redis_url.clone(),
            redis_prefix: self
                .redis_prefix
                .clone()
                .or(from_profile)
                .unwrap_or_else(|| format!("mockgate:{{{}}}", profile.name)),
            redis_cluster: self.redis_cluster,
            transient: profile.rules.transient(),
            indexes: profile.rules.indexes(),
            key_patterns: profile.rules.key_patterns(),
            clock: std::sync::Arc::clone(clock),
        }
    }
}

/// The Redis password from the file named, else `MOCKGATE_REDIS_PASSWORD` or
/// `REDIS_PASSWORD`.
fn redis_password(file: Option<&std::path::Path>) -> Result<Option<String>, config::ConfigError> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file).map_err(|e| {
            config::ConfigError::Message(format!("cannot read the Redis password file {}: {e}", file.display()))
        })?;
        return Ok(text.lines().next().map(str::to_owned).filter(|p| !p.is_empty()));
    }
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    Ok(var("MOCKGATE_REDIS_PASSWORD").or_else(|| var("REDIS_PASSWORD")))
}

/// `redis://host:6379/0` with the password in, unless the URL names one itself (every
/// URL of a cluster's comma-separated list).
fn with_password(urls: &str, password: Option<&str>) -> String {
    let Some(password) = password else { return urls.to_owned() };
    let encoded = percent_encoding::utf8_percent_encode(password, percent_encoding::NON_ALPHANUMERIC).to_string();
    urls.split(',')
        .map(|url| {
            let url = url.trim();
            match url.split_once("://") {
                Some((scheme, rest)) if !rest.split('/').next().unwrap_or("").contains('@') => {
                    format!("{scheme}://:{encoded}@{rest}")
                }
                _ => url.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn kind_name(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Memory => "memory",
        BackendKind::File => "file",
        BackendKind::Redis => "redis",
    }
}

/// Mock-and-Roll's variables: `REDIS_URL`, or `REDIS_HOST`, `REDIS_PORT`, `REDIS_DB`,
/// `REDIS_PASSWORD`. `MOCKGATE_REDIS_URL` (read by the layer above) wins over these.
fn redis_url_from_env() -> Option<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(url) = var("REDIS_URL") {
        return Some(url);
    }
    let (host, port) = (var("REDIS_HOST"), var("REDIS_PORT"));
    if host.is_none() && port.is_none() {
        return None;
    }
    let auth = var("REDIS_PASSWORD").map(|p| format!(":{p}@")).unwrap_or_default();
    Some(format!(
        "redis://{auth}{}:{}/{}",
        host.as_deref().unwrap_or("127.0.0.1"),
        port.as_deref().unwrap_or("6379"),
        var("REDIS_DB").as_deref().unwrap_or("0")
    ))
}

#[cfg(test)]
mod tests {
    use super::with_password;

    #[test]
    fn a_password_goes_into_urls_without_one() {
        assert_eq!(with_password("redis://db:6379/2", Some("p@ss word")), "redis://:p%40ss%20word@db:6379/2");
        assert_eq!(with_password("redis://:own@db", Some("x")), "redis://:own@db", "the URL's own password wins");
        assert_eq!(with_password("redis://a:1, redis://b:2", Some("k")), "redis://:k@a:1,redis://:k@b:2");
        assert_eq!(with_password("redis://db", None), "redis://db");
    }
}
