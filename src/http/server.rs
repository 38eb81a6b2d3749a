//! Build, bind, run: [`Server::build`] opens the store, loads the start data, binds
//! the listener (port 0 works; [`Server::port`] says which) and wires the app;
//! [`Server::run_until_stopped`] serves until a signal or a [`ServerHandle::stop`],
//! then flushes the store.

use super::limits::ConnectionCap;
use super::state::AppState;
use super::{access_log, docs, error, gateway, probes, system};
use crate::admin::{self, AdminError};
use crate::metrics::{MeteredStore, Metrics};
use crate::namespaces::Namespaces;
use crate::profile::Profile;
use crate::reload::{Amend, Reloader};
use crate::settings::Settings;
use crate::store::{OpenError, Store};
use actix_web::dev::ServerHandle;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("cannot load the initial data into the {backend} store: {problem}")]
    InitialData { backend: &'static str, problem: AdminError },
    #[error("cannot load the seed file {}: {problem}", file.display())]
    Seed { file: std::path::PathBuf, problem: AdminError },
    #[error("cannot start from snapshot {name:?}: {problem}")]
    Snapshot { name: String, problem: AdminError },
    #[error("cannot open the namespace registry on the {backend} store")]
    Namespaces {
        backend: &'static str,
        #[source]
        problem: crate::store::StoreError,
    },
    #[error("cannot listen on {addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// What the server runs on, for the start line and `mockctl`.
#[derive(Debug, Clone)]
pub struct Started {
    pub url: String,
    pub backend: &'static str,
    /// Where the data lives, in words: a folder, a Redis address, or memory.
    pub storage: String,
    /// Why the backend differs from what the profile asked for, if it does.
    pub note: Option<String>,
    pub seeded: bool,
    /// The `/system` key made up for this run: no key was configured and the server
    /// listens beyond this machine, where an unguarded `/system` would be open to all.
    pub generated_system_key: Option<String>,
}

pub struct Server {
    port: u16,
    reloader: Reloader,
    server: actix_web::dev::Server,
    store: Arc<dyn Store>,
    namespaces: Arc<Namespaces>,
    started: Started,
}

/// Built-in paths a profile may take for itself: its own endpoints win.
#[derive(Clone, Copy)]
struct Conveniences {
    metrics: bool,
    openapi: bool,
    docs: bool,
    probes: bool,
    landing: bool,
    /// Mock-and-Roll's air-gapped Swagger UI asset paths.
    static_assets: bool,
}

impl Conveniences {
    fn for_profile(profile: &Profile) -> Self {
        let taken = |p: &str| {
            profile.endpoints.iter().any(|e| {
                let path = e.path.as_str();
                path == p || path.strip_prefix(p).is_some_and(|rest| rest.starts_with('/'))
            })
        };
        Conveniences {
            metrics: !taken("/metrics"),
            openapi: !taken("/openapi.json"),
            docs: !taken("/docs"),
            probes: !taken("/healthz") && !taken("/readyz"),
            landing: !profile.defines_root(),
            static_assets: !taken("/static") && !taken("/favicon.ico"),
        }
    }
}

impl Server {
    /// Binds the listener, opens the store (seeding a fresh one) and prepares the
    /// server; nothing is served until [`Server::run_until_stopped`].
    pub async fn build(settings: &Settings, profile: Profile) -> Result<Server, StartError> {
        // The port first: a start that cannot listen must not have created or seeded
        // anything.
        let addr = format!("{}:{}", settings.host, settings.port);
        let listener = TcpListener::bind(&addr).map_err(|source| StartError::Bind { addr: addr.clone(), source })?;
        let local = listener.local_addr().map_err(|source| StartError::Bind { addr: addr.clone(), source })?;

        let clock = Arc::new(crate::store::TestClock::default());
        let opened = crate::store::open(settings.open_request(&profile, &clock)).await?;
        let metrics = Arc::new(Metrics::new());
        let store: Arc<dyn Store> = Arc::new(MeteredStore::new(opened.store, &metrics, profile.secrets.clone()));
        spawn_upkeep(&metrics);
        let seeded = opened.fresh || settings.reset;
        start_data(settings, &profile, store.as_ref(), seeded).await?;
        give_back_freed_memory();
        let conveniences = Conveniences::for_profile(&profile);
        let limits = profile.limits;
        let guard = &profile.system;
        let generated_system_key =
            (!guard.protected && !guard.opened && settings.system_key.is_none() && !local.ip().is_loopback())
                .then(|| uuid::Uuid::new_v4().simple().to_string());
        let system_key = settings.system_key.clone().or_else(|| generated_system_key.clone());
        let amend = Amend { system_key, cors: settings.cors };
        let namespaces = Arc::new(
            Namespaces::open(
                Arc::new(crate::metrics::MeteredSpaces::new(opened.spaces, &metrics, profile.secrets.clone())),
                profile.namespaces.clone(),
                clock,
            )
            .await
            .map_err(|problem| StartError::Namespaces { backend: store.backend(), problem })?,
        );
        let instance = format!("{}:{}", hostname(), local.port());
        let journals = Arc::new(crate::journal::Journals::new(
            profile.journal,
            opened.logs,
            instance,
            profile.namespaces.max,
            metrics.journal_dropped(),
        ));
        spawn_sweeper(&namespaces, &journals);
        spawn_chaos_refresh(&namespaces);
        let reloader = Reloader::new(profile, Arc::clone(&store), Arc::clone(&namespaces), amend, system::api());
        let data = web::Data::new(AppState { reloader: reloader.clone(), metrics, started: Instant::now(), journals });
        let cap = ConnectionCap::new(limits.max_connections);
        let mut http = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::QueryConfig::default().error_handler(|e, _| error::bad_part("query string", e)))
                .app_data(web::PathConfig::default().error_handler(|e, _| error::bad_part("path", e)))
                .wrap(from_fn(access_log::access_log))
                .configure(|cfg| routes(cfg, conveniences))
                .default_service(web::to(gateway::handle))
        })
        .on_connect({
            let cap = cap.on_connect();
            move |conn: &dyn std::any::Any, ext: &mut actix_web::dev::Extensions| {
                cap(conn, ext);
                super::faults::note_socket(conn, ext);
            }
        })
        .keep_alive(limits.keep_alive)
        // Slow headers are cut off here; slow bodies by `read_body`.
        .client_request_timeout(Duration::from_secs(5));
        if let Some(w) = settings.workers {
            http = http.workers(w.max(1));
        }
        let server = http.listen(listener).map_err(|source| StartError::Bind { addr, source })?.run();
        let started = Started {
            url: format!("http://{}:{}", settings.host, local.port()),
            backend: store.backend(),
            storage: opened.storage,
            note: opened.note,
            seeded,
            generated_system_key,
        };
        Ok(Server { port: local.port(), reloader, server, store, namespaces, started })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn started(&self) -> &Started {
        &self.started
    }

    /// Swaps the served profile in place (`mockctl start --watch`).
    pub fn reloader(&self) -> Reloader {
        self.reloader.clone()
    }

    /// Stops the server gracefully when told (tests, embedding).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM or a [`ServerHandle::stop`], then flushes the store.
    pub async fn run_until_stopped(self) -> Result<(), std::io::Error> {
        self.server.await?;
        self.namespaces.close().await.map_err(std::io::Error::other)?;
        self.store.close().await.map_err(std::io::Error::other)?;
        tracing::info!("stopped; data flushed");
        Ok(())
    }
}

/// The data a start begins with: the profile's initial data on a fresh (or reset)
/// store, then a snapshot and a seed file if the settings name them.
async fn start_data(settings: &Settings, profile: &Profile, store: &dyn Store, seeded: bool) -> Result<(), StartError> {
    if seeded {
        admin::reset(store, profile.initial_data())
            .await
            .map_err(|problem| StartError::InitialData { backend: store.backend(), problem })?;
    }
    if let Some(name) = &settings.snapshot {
        admin::restore(store, name).await.map_err(|problem| StartError::Snapshot { name: name.clone(), problem })?;
    }
    if let Some(file) = &settings.seed_file {
        let fail = |problem| StartError::Seed { file: file.clone(), problem };
        let entities = admin::read_seed_file(file).map_err(fail)?;
        admin::seed(store, &profile.rules, &entities).await.map_err(fail)?;
    }
    Ok(())
}

/// Everything but the catch-all gateway: `/system` behind its guard, and the
/// conveniences the profile left free.
fn routes(cfg: &mut web::ServiceConfig, free: Conveniences) {
    cfg.configure(system::configure);
    if free.metrics {
        cfg.service(web::resource("/metrics").wrap(from_fn(system::guard)).route(web::get().to(system::metrics)));
    }
    if free.openapi {
        cfg.route("/openapi.json", web::get().to(docs::openapi_document));
    }
    if free.docs {
        cfg.service(docs::swagger_ui());
    }
    if free.landing {
        cfg.route("/", web::get().to(docs::landing));
    }
    if free.docs && free.static_assets {
        cfg.route("/static/swagger-ui/{file}", web::get().to(docs::static_asset))
            .route("/static/favicon.png", web::get().to(docs::favicon))
            .route("/favicon.ico", web::get().to(docs::favicon));
    }
    if free.probes {
        cfg.route("/healthz", web::get().to(probes::live)).route("/readyz", web::get().to(probes::ready));
    }
}

/// This machine's name, for journal entries (which instance took a request).
fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Removes idle namespaces (and their journals) in the background, as long as the
/// server lives.
fn spawn_sweeper(namespaces: &Arc<Namespaces>, journals: &Arc<crate::journal::Journals>) {
    let weak = Arc::downgrade(namespaces);
    let journals = Arc::downgrade(journals);
    let every = (namespaces.settings().idle_ttl / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(namespaces) = weak.upgrade() else { break };
            match namespaces.sweep().await {
                Ok(removed) if !removed.is_empty() => {
                    if let Some(journals) = journals.upgrade() {
                        for name in &removed {
                            let _ = journals.clear(Some(name)).await;
                        }
                    }
                    tracing::info!(namespaces = ?removed, "idle namespaces removed")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %crate::telemetry::error_chain(&e), "namespace sweep failed"),
            }
        }
    });
}

/// Re-reads the chaos rules every `chaos::REFRESH`: other instances on the same Redis
/// may have added or removed some.
fn spawn_chaos_refresh(namespaces: &Arc<Namespaces>) {
    let weak = Arc::downgrade(namespaces);
    tokio::spawn(async move {
        loop {
            let Some(namespaces) = weak.upgrade() else { break };
            if let Err(e) = namespaces.chaos().refresh().await {
                tracing::debug!(error = %crate::telemetry::error_chain(&e), "chaos rules not re-read");
            }
            drop(namespaces);
            tokio::time::sleep(crate::chaos::REFRESH).await;
        }
    });
}

/// Returns to the OS the memory that opening the store freed: reading a large
/// `db.json` or journal parses into buffers that are dropped at once, and mimalloc
/// (the binary's allocator) keeps freed pages of a thread until that thread allocates
/// again, which the loading thread, idle from here on, never does. At a million users
/// this is about 220 MB of a 520 MB resident size after a restart.
fn give_back_freed_memory() {
    // SAFETY: mi_collect takes no pointers and may be called from any thread at any
    // time; when mimalloc is not the global allocator it tidies only its own empty heap.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

/// Drains histogram samples every few seconds while the server's metrics live.
fn spawn_upkeep(metrics: &Arc<Metrics>) {
    let weak = Arc::downgrade(metrics);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            match weak.upgrade() {
                Some(m) => m.upkeep(),
                None => break,
            }
        }
    });
}
