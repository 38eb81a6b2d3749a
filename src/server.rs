//! The HTTP layer: binds, wires actix-web to the [`Gateway`], serves until stopped,
//! then flushes the store. Bind first, report the port after, so port 0 works.

use crate::config::{BackendChoice, Profile};
use crate::error::ApiError;
use crate::gateway::{Gateway, RequestCtx, Trace};
use crate::metrics::{MeteredStore, Metrics};
use crate::settings::Settings;
use crate::store::{FileStore, MemoryStore, RedisStore, Store, StoreError, SystemClock, redacted};
use actix_web::body::MessageBody;
use actix_web::dev::{ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use arc_swap::ArcSwap;
use futures_util::StreamExt;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Shared by every worker; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The serving profile's gateway; a reload swaps in a new one.
    gateways: Arc<ArcSwap<Gateway>>,
    pub metrics: Arc<Metrics>,
    pub reloads: Arc<ReloadLog>,
    pub started: Instant,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the {backend} store")]
    Store {
        backend: &'static str,
        #[source]
        source: StoreError,
    },
    #[error("cannot load the seed file {}: {reason}", file.display())]
    Seed { file: std::path::PathBuf, reason: String },
    #[error("cannot start from snapshot {name:?}: {reason}")]
    Snapshot { name: String, reason: String },
    #[error("cannot connect to Redis at {address}")]
    Redis {
        address: String,
        #[source]
        source: StoreError,
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
}

pub struct Server {
    port: u16,
    reloader: Reloader,
    server: actix_web::dev::Server,
    store: Arc<dyn Store>,
    started: Started,
}

impl Server {
    /// Opens the store (seeding a fresh one), binds the listener and prepares the
    /// server; nothing is served until [`Server::run_until_stopped`].
    pub async fn build(settings: &Settings, profile: Profile) -> Result<Server, StartError> {
        let Opened { store, fresh, storage, note } = open_store(settings, &profile).await?;
        let metrics = Arc::new(Metrics::new());
        let store: Arc<dyn Store> = Arc::new(MeteredStore::new(store, &metrics));
        spawn_upkeep(&metrics);
        let seeded = fresh || settings.reset;
        if seeded {
            store
                .replace_all(profile.initial_data())
                .await
                .map_err(|source| StartError::Store { backend: store.backend(), source })?;
        }
        if let Some(name) = &settings.snapshot {
            crate::system::restore(store.as_ref(), name)
                .await
                .map_err(|e| StartError::Snapshot { name: name.clone(), reason: e.to_string() })?;
        }
        if let Some(file) = &settings.seed_file {
            let fail = |reason: String| StartError::Seed { file: file.clone(), reason };
            let text = std::fs::read_to_string(file).map_err(|e| fail(e.to_string()))?;
            let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
            let entities =
                json.get("entities").unwrap_or(&json).as_object().cloned().ok_or_else(|| {
                    fail("expected {\"entities\": {\"<entity>\": [records]}} or the map itself".into())
                })?;
            crate::system::apply_seed(store.as_ref(), &profile.rules, &entities).await.map_err(|e| {
                let detail = match &e {
                    ApiError::Validation(v) => {
                        v.iter().map(|v| format!("{}: {}", v.path, v.message)).collect::<Vec<_>>().join("; ")
                    }
                    other => other.to_string(),
                };
                fail(detail)
            })?;
        }
        let profile = with_system_key(profile, settings.system_key.as_deref());
        let addr = format!("{}:{}", settings.host, settings.port);
        let listener = TcpListener::bind(&addr).map_err(|source| StartError::Bind { addr: addr.clone(), source })?;
        let local = listener.local_addr().map_err(|source| StartError::Bind { addr: addr.clone(), source })?;
        let gateways = Arc::new(ArcSwap::from_pointee(Gateway::new(Arc::new(profile), Arc::clone(&store))));
        let reloads = Arc::new(ReloadLog::default());
        let reloader = Reloader {
            gateways: Arc::clone(&gateways),
            store: Arc::clone(&store),
            reloads: Arc::clone(&reloads),
            system_key: settings.system_key.clone(),
        };
        let state = AppState { gateways, metrics, reloads, started: Instant::now() };
        // A profile may define its own `/metrics`, `/openapi.json` or `/docs`: the
        // profile's endpoints win over these conveniences.
        let taken = |p: &str| {
            state.gateway().profile().endpoints.iter().any(|e| {
                let path = e.path.as_str();
                path == p || path.strip_prefix(p).is_some_and(|rest| rest.starts_with('/'))
            })
        };
        let (metrics_alias, openapi, docs) = (!taken("/metrics"), !taken("/openapi.json"), !taken("/docs"));
        let data = web::Data::new(state);
        let mut http = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(
                    web::QueryConfig::default()
                        .error_handler(|e, _| ApiError::BadRequest(format!("bad query string: {e}")).into()),
                )
                .app_data(
                    web::PathConfig::default()
                        .error_handler(|e, _| ApiError::BadRequest(format!("bad path: {e}")).into()),
                )
                .wrap(from_fn(access_log))
                .configure(crate::system::routes)
                .configure(|cfg| {
                    if metrics_alias {
                        cfg.route("/metrics", web::get().to(crate::system::metrics));
                    }
                    if openapi {
                        cfg.route("/openapi.json", web::get().to(openapi_document));
                    }
                    if docs {
                        // A scope is a prefix test; Swagger UI's own `{_:.*}` pattern is a
                        // regex that would otherwise run for every gateway request.
                        cfg.service(
                            web::scope("/docs")
                                .route(
                                    "",
                                    web::get().to(|| async {
                                        HttpResponse::PermanentRedirect().insert_header(("Location", "/docs/")).finish()
                                    }),
                                )
                                .service(crate::openapi::swagger_ui()),
                        );
                    }
                })
                .default_service(web::to(gateway))
        });
        if let Some(w) = settings.workers {
            http = http.workers(w.max(1));
        }
        let server = http.listen(listener).map_err(|source| StartError::Bind { addr, source })?.run();
        let started = Started {
            url: format!("http://{}:{}", settings.host, local.port()),
            backend: store.backend(),
            storage,
            note,
            seeded,
        };
        Ok(Server { port: local.port(), reloader, server, store, started })
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
        self.store.close().await.map_err(std::io::Error::other)?;
        tracing::info!("stopped; data flushed");
        Ok(())
    }
}

impl AppState {
    /// The gateway serving now; a request keeps the one it started with through a reload.
    pub fn gateway(&self) -> Arc<Gateway> {
        self.gateways.load_full()
    }
}

/// What profile reloads did, for `/system/health` and the log.
#[derive(Debug, Default)]
pub struct ReloadLog {
    inner: std::sync::Mutex<ReloadStatus>,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ReloadStatus {
    /// Successful reloads since start.
    pub reloads: u64,
    pub last_reload_at: Option<String>,
    /// Why the newest edit was refused (the previous profile keeps serving); cleared
    /// by the next successful reload.
    pub last_error: Option<String>,
}

impl ReloadLog {
    pub fn status(&self) -> ReloadStatus {
        self.inner.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn update(&self, f: impl FnOnce(&mut ReloadStatus)) {
        if let Ok(mut s) = self.inner.lock() {
            f(&mut s);
        }
    }
}

/// Swaps the profile a running server serves: same store, same listener, same data.
#[derive(Clone)]
pub struct Reloader {
    gateways: Arc<ArcSwap<Gateway>>,
    store: Arc<dyn Store>,
    reloads: Arc<ReloadLog>,
    system_key: Option<String>,
}

impl Reloader {
    /// Serves `profile` from the next request on. Its seed data is not applied: the
    /// stored data stays as it is.
    pub fn reload(&self, profile: Profile) {
        let previous = self.gateways.load();
        if previous.profile().backend != profile.backend {
            tracing::warn!("the profile's storage settings changed; they take effect at the next start");
        }
        let endpoints = profile.endpoints.len();
        let profile = with_system_key(profile, self.system_key.as_deref());
        self.gateways.store(Arc::new(Gateway::new(Arc::new(profile), Arc::clone(&self.store))));
        self.reloads.update(|s| {
            s.reloads += 1;
            s.last_reload_at = Some(crate::template::iso(chrono::Utc::now()));
            s.last_error = None;
        });
        tracing::info!(endpoints, "profile reloaded ({endpoints} endpoints)");
    }

    /// Records an edit that did not load; the previous profile keeps serving.
    pub fn refuse(&self, error: &crate::config::ProfileError) {
        tracing::error!("profile reload failed; still serving the previous profile: {error}");
        self.reloads.update(|s| s.last_error = Some(error.to_string()));
    }
}

/// The settings' extra system key, if any, guards `/system` too.
fn with_system_key(mut profile: Profile, key: Option<&str>) -> Profile {
    if let Some(key) = key.filter(|k| !k.is_empty()) {
        profile.system.keys.push(key.to_owned());
        profile.system.protected = true;
    }
    profile
}

/// What a start decided about storage.
struct Opened {
    store: Arc<dyn Store>,
    /// Nothing stored yet: load the seed data.
    fresh: bool,
    /// Where the data lives, for the start line.
    storage: String,
    note: Option<String>,
}

/// Where Mock-and-Roll users' Redis usually is.
const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";

async fn open_store(settings: &Settings, profile: &Profile) -> Result<Opened, StartError> {
    let wanted = match settings.backend.as_deref() {
        Some("memory") => BackendChoice::Memory,
        Some("file") => BackendChoice::File,
        Some("redis") => match &profile.backend {
            BackendChoice::Redis { url, prefix, cluster } => {
                BackendChoice::Redis { url: url.clone(), prefix: prefix.clone(), cluster: *cluster }
            }
            _ => BackendChoice::Redis { url: None, prefix: None, cluster: false },
        },
        _ => profile.backend.clone(),
    };
    match wanted {
        BackendChoice::Memory => Ok(Opened {
            store: Arc::new(MemoryStore::default()),
            fresh: true,
            storage: "data in memory only".into(),
            note: None,
        }),
        BackendChoice::File | BackendChoice::Unspecified => open_file(settings, profile, None),
        BackendChoice::Redis { url, prefix, cluster } => {
            let cluster = cluster || settings.redis_cluster;
            let prefix = settings.redis_prefix_for(profile, prefix.as_deref());
            match settings.redis_url.clone().or(url) {
                // An address someone gave must answer.
                Some(url) => {
                    let connected = if cluster {
                        RedisStore::connect_cluster(&url, &prefix, Duration::from_secs(2)).await
                    } else {
                        RedisStore::connect(&url, &prefix, Duration::from_secs(2)).await
                    };
                    let store = connected.map_err(|source| StartError::Redis { address: redacted(&url), source })?;
                    redis_opened(store, prefix).await
                }
                // Nothing configured: use a local Redis if one answers, else the file store.
                None => match RedisStore::connect(DEFAULT_REDIS, &prefix, Duration::from_millis(300)).await {
                    Ok(store) => redis_opened(store, prefix).await,
                    Err(_) => open_file(
                        settings,
                        profile,
                        Some(format!(
                            "no Redis configured and none answering at {DEFAULT_REDIS}; using the embedded file store"
                        )),
                    ),
                },
            }
        }
    }
}

fn open_file(settings: &Settings, profile: &Profile, note: Option<String>) -> Result<Opened, StartError> {
    let dir = settings.data_dir_for(profile);
    let (store, existed) = FileStore::open_with(&dir, Arc::new(SystemClock), profile.rules.transient())
        .map_err(|source| StartError::Store { backend: "file", source })?;
    Ok(Opened { store: Arc::new(store), fresh: !existed, storage: format!("data in {}", dir.display()), note })
}

async fn redis_opened(store: RedisStore, prefix: String) -> Result<Opened, StartError> {
    let fresh = store.is_empty().await.map_err(|source| StartError::Store { backend: "redis", source })?;
    let storage = format!("data in {} under {prefix}", store.address());
    Ok(Opened { store: Arc::new(store), fresh, storage, note: None })
}

/// The loaded profile's OpenAPI document (serialised at load).
async fn openapi_document(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(state.gateway().profile().openapi.0.clone())
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

/// The catch-all handler: every request that is not `/system` goes to the gateway.
/// The response carries the gateway's [`Trace`] for the access log and the metrics.
async fn gateway(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    let mut trace = Trace::default();
    let gateway = state.gateway();
    let body_cap = gateway.profile().logging.body_bytes;
    let answered = match read_body(&req, payload, gateway.profile().max_body_bytes).await {
        Ok(body) => {
            if let Some(cap) = body_cap.filter(|_| !body.is_empty()) {
                trace.request_body = Some(crate::telemetry::loggable_body(&body, cap));
            }
            let mut ctx = credentials(&req);
            ctx.body = body;
            gateway.handle(ctx, &mut trace).await
        }
        Err(e) => Err(e),
    };
    let mut reply = answered.unwrap_or_else(|e| e.to_reply());
    if let (Some(cap), Some(body)) = (body_cap, &reply.body) {
        trace.response_body = Some(crate::telemetry::loggable_value(body, cap));
    }
    if req.method() == actix_web::http::Method::HEAD {
        reply.body = None;
    }
    let mut res = HttpResponse::from(reply);
    res.extensions_mut().insert(trace);
    res
}

/// The request without its body, as the gateway and the guards see it.
pub fn credentials(req: &HttpRequest) -> RequestCtx {
    RequestCtx {
        method: req.method().as_str().to_owned(),
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        headers: req
            .headers()
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned())))
            .collect(),
        body: bytes::Bytes::new(),
    }
}

async fn read_body(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<bytes::Bytes, ApiError> {
    let declared =
        req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut buf = web::BytesMut::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::MalformedJson(format!("could not read the body: {e}")))?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// One line per request (request id, method, path, route, status, latency, and the
/// persistence action with its time), and the request metrics.
async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    // The caller's X-Request-Id when it sends a sane one, else a new time-ordered id.
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    let mut res = next.call(req).await?;
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(actix_web::http::header::HeaderName::from_static("x-request-id"), value);
    }
    let elapsed = start.elapsed();
    let status = res.status().as_u16();
    // Taken out, not cloned: nothing reads it after this.
    let trace = res.response_mut().extensions_mut().remove::<Trace>();
    // The gateway's endpoint, or the matched `/system` resource; never the raw path.
    let pattern = if trace.is_none() { res.request().match_pattern() } else { None };
    let route = match &trace {
        Some(t) => t.route.as_deref(),
        None => pattern.as_deref(),
    }
    .unwrap_or(crate::metrics::UNMATCHED);
    if let Some(state) = res.request().app_data::<web::Data<AppState>>() {
        state.metrics.observe_request(method.as_str(), route, status, elapsed);
    }
    let micros = elapsed.as_micros();
    let latency_ms = micros as f64 / 1000.0;
    let (action, persistence_ms) = match &trace {
        Some(Trace { action: Some(a), persistence, .. }) => {
            (Some(a.as_ref()), Some(persistence.as_secs_f64() * 1000.0))
        }
        _ => (None, None),
    };
    tracing::info!(
        target: "mockgate::access",
        request_id = %request_id,
        method = %method,
        path = %path,
        route = %route,
        status,
        latency_ms,
        action,
        persistence_ms,
        request_body = trace.as_ref().and_then(|t| t.request_body.as_deref()),
        response_body = trace.as_ref().and_then(|t| t.response_body.as_deref()),
        "{method} {path} {status} {}.{:03}ms{}{}{}",
        micros / 1000,
        micros % 1000,
        if action.is_some() { " (" } else { "" },
        action.unwrap_or(""),
        if action.is_some() { ")" } else { "" },
    );
    Ok(res)
}
