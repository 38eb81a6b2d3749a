//! The `/system` admin API: one route table ([`ROUTES`]) that the server registers
//! and the OpenAPI document describes, behind one guard (a scope middleware), so a new
//! admin endpoint can neither forget the key check nor go undocumented.
//!
//! Handlers are split by concern — [`health`] (and metrics), [`cache`], [`data`]
//! (inspection, seeding, reset, save, load) and [`snapshots`] — and each only
//! extracts, calls [`crate::admin`] or the gateway, and answers. JSON in and out;
//! errors have the same shape as everywhere else.

mod cache;
mod chaos;
mod clock;
mod data;
mod health;
mod logging;
mod namespaces;
mod requests;
mod snapshots;
mod stored;

use super::gateway::credentials;
use super::state::AppState;
use crate::gateway::ApiError;
use crate::openapi::{BodyKind, Content, SystemOp, Verb};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpRequest, HttpResponse, web};

pub use health::metrics;

type Answer = Result<HttpResponse, ApiError>;

/// What a `/system` data operation acts on: the namespace the request names (its
/// header, or `?namespace=`), else the default data.
pub struct Target {
    pub gateway: std::sync::Arc<crate::gateway::Gateway>,
    space: Option<std::sync::Arc<crate::namespaces::Space>>,
}

impl Target {
    pub fn store(&self) -> &dyn crate::store::Store {
        match &self.space {
            Some(s) => s.store.as_ref(),
            None => self.gateway.store(),
        }
    }

    pub fn cache(&self) -> &crate::persistence::cache::ReadCache {
        match &self.space {
            Some(s) => &s.cache,
            None => self.gateway.cache(),
        }
    }

    pub fn clock(&self) -> &std::sync::Arc<crate::store::TestClock> {
        match &self.space {
            Some(s) => &s.clock,
            None => self.gateway.namespaces().clock(),
        }
    }
}

/// The namespace a `/system` request names, if any.
fn named_namespace<'r>(req: &'r HttpRequest, header: &str) -> Option<&'r str> {
    req.headers()
        .get(header)
        .and_then(|v| v.to_str().ok())
        .or_else(|| crate::namespaces::query_value(req.query_string(), "namespace"))
}

/// The namespace a `/system` request names, checked but not created (the journal and
/// the chaos rules of a namespace exist without it).
fn named_checked(req: &HttpRequest, state: &AppState) -> Result<Option<String>, ApiError> {
    let gateway = state.gateway();
    let named = named_namespace(req, &gateway.namespaces().settings().header);
    if let Some(ns) = named {
        crate::namespaces::check_name(ns)?;
    }
    Ok(named.map(str::to_owned))
}

pub async fn target(req: &HttpRequest, state: &AppState) -> Result<Target, ApiError> {
    let gateway = state.gateway();
    let header = gateway.namespaces().settings().header.clone();
    let from = req.headers().get(crate::namespaces::FROM_HEADER).and_then(|v| v.to_str().ok());
    let space = gateway.space(named_namespace(req, &header), from).await?;
    Ok(Target { gateway, space })
}

/// One admin route: what it is (for the OpenAPI document) and its handler.
pub struct Route {
    pub op: SystemOp,
    to: fn(actix_web::Route) -> actix_web::Route,
}

const fn op(verb: Verb, path: &'static str, summary: &'static str, answer: &'static str) -> SystemOp {
    SystemOp { verb, path, summary, status: 200, answer, content: Content::Json, query: &[], body: None, errors: &[] }
}

const NOT_FOUND: &[(u16, &str)] = &[(404, "No such entity")];

/// Every `/system` route, in the order the OpenAPI document lists them.
pub static ROUTES: &[Route] = &[
    Route {
        op: SystemOp {
            errors: &[(503, "The backend is down (the body says why)")],
            ..op(
                Verb::Get,
                "/health",
                "Health: backend details and entity counts (503 when the backend is down)",
                "Healthy",
            )
        },
        to: |r| r.to(health::health),
    },
    Route {
        op: SystemOp {
            content: Content::Text,
            ..op(Verb::Get, "/metrics", "Prometheus metrics (also at /metrics)", "Prometheus text exposition")
        },
        to: |r| r.to(health::metrics),
    },
    Route {
        op: op(Verb::Delete, "/cache", "Clear this instance's read cache", "Entries cleared"),
        to: |r| r.to(cache::clear),
    },
    Route { op: op(Verb::Get, "/cache/stats", "Read cache statistics", "Statistics"), to: |r| r.to(cache::stats) },
    Route {
        op: op(Verb::Get, "/cache/reads/{entity}", "Ids of an entity type in the read cache", "Ids"),
        to: |r| r.to(cache::ids),
    },
    Route {
        op: op(Verb::Delete, "/cache/reads/{entity}", "Clear an entity type's cached reads", "Entries cleared"),
        to: |r| r.to(cache::clear_entity),
    },
    Route {
        op: SystemOp {
            errors: &[(404, "Not cached")],
            ..op(Verb::Get, "/cache/reads/{entity}/{id}", "One cached read", "The cached entity")
        },
        to: |r| r.to(cache::one),
    },
    Route {
        op: op(Verb::Delete, "/cache/reads/{entity}/{id}", "Clear one cached read", "Cleared"),
        to: |r| r.to(cache::clear_one),
    },
    Route {
        op: SystemOp {
            errors: &[(503, "The backend is down")],
            ..op(Verb::Get, "/cache/info", "The store: status, stored entities, memory (Mock-and-Roll's path)", "Store")
        },
        to: |r| r.to(stored::info),
    },
    Route {
        op: op(
            Verb::Delete,
            "/cache/flush",
            "Empty this profile's data, and nothing else on the backend (Mock-and-Roll's path)",
            "Flushed",
        ),
        to: |r| r.to(stored::flush),
    },
    // After `/cache/flush`: the first route that matches wins.
    Route {
        op: op(Verb::Delete, "/cache/{entity}", "Clear an entity type's cached reads (short path)", "Entries cleared"),
        to: |r| r.to(cache::clear_entity),
    },
    Route {
        op: op(
            Verb::Get,
            "/cache/entities/{entity}",
            "Stored entities of a type, in Mock-and-Roll's wrapper",
            "Entities",
        ),
        to: |r| r.to(stored::list),
    },
    Route {
        op: SystemOp {
            errors: NOT_FOUND,
            ..op(
                Verb::Get,
                "/cache/entities/{entity}/{id}",
                "One stored entity, in Mock-and-Roll's wrapper",
                "The entity",
            )
        },
        to: |r| r.to(stored::get),
    },
    Route {
        op: SystemOp {
            errors: NOT_FOUND,
            ..op(
                Verb::Delete,
                "/cache/entities/{entity}/{id}",
                "Delete a stored entity (Mock-and-Roll's path)",
                "Deleted",
            )
        },
        to: |r| r.to(stored::delete),
    },
    Route {
        op: op(Verb::Get, "/logging/status", "Logging settings and the log file (Mock-and-Roll's path)", "Status"),
        to: |r| r.to(logging::status),
    },
    Route {
        op: SystemOp {
            body: Some(BodyKind::Object),
            errors: &[(400, "Nothing to change, a bad level, or a setting fixed at start")],
            ..op(Verb::Post, "/logging/config", "Change the level or allow_log_deletion at run time", "Updated")
        },
        to: |r| r.to(logging::config),
    },
    Route {
        op: SystemOp {
            query: &[("lines", "How many of the last lines (1 to 10000, default 50)", true)],
            errors: &[(400, "Bad lines")],
            ..op(Verb::Get, "/logging/logs", "The last lines of the log file", "Lines")
        },
        to: |r| r.to(logging::logs),
    },
    Route {
        op: SystemOp {
            errors: &[(403, "allow_log_deletion is false")],
            ..op(Verb::Delete, "/logging/logs", "Empty the log file", "Cleared")
        },
        to: |r| r.to(logging::clear),
    },
    Route {
        op: SystemOp {
            status: 201,
            body: Some(BodyKind::Object),
            errors: &[
                (400, "Not a namespace name"),
                (404, "No such snapshot"),
                (409, "The namespace exists"),
                (429, "namespaces.max namespaces exist"),
            ],
            ..op(
                Verb::Post,
                "/namespaces",
                "Create a namespace: {\"name\", \"from_snapshot\"?, \"ttl_seconds\"?}",
                "The namespace",
            )
        },
        to: |r| r.to(namespaces::create),
    },
    Route {
        op: op(Verb::Get, "/namespaces", "Namespaces, with their entity counts and last use", "Namespaces"),
        to: |r| r.to(namespaces::list),
    },
    Route {
        op: SystemOp {
            errors: &[(404, "No such namespace")],
            ..op(Verb::Get, "/namespaces/{name}", "One namespace", "The namespace")
        },
        to: |r| r.to(namespaces::get),
    },
    Route {
        op: SystemOp {
            status: 204,
            content: Content::None,
            errors: &[(404, "No such namespace")],
            ..op(Verb::Delete, "/namespaces/{name}", "Delete a namespace and all its data", "Deleted")
        },
        to: |r| r.to(namespaces::delete),
    },
    Route {
        op: op(Verb::Get, "/clock", "The namespace's clock: {\"now\", \"frozen\", \"offset_ms\"}", "The clock"),
        to: |r| r.to(clock::show),
    },
    Route {
        op: SystemOp {
            body: Some(BodyKind::Object),
            errors: &[(400, "Not one of freeze, set, advance_seconds (>= 0)")],
            ..op(
                Verb::Post,
                "/clock",
                "Freeze ({\"freeze\": true|false}), set ({\"set\": RFC 3339}) or move ({\"advance_seconds\": n}) the clock",
                "The clock",
            )
        },
        to: |r| r.to(clock::change),
    },
    Route { op: op(Verb::Delete, "/clock", "Back to real time", "The clock"), to: |r| r.to(clock::reset) },
    Route {
        op: SystemOp {
            query: &[
                ("method", "Only this method", false),
                ("path", "Only this exact path", false),
                ("path_prefix", "Only paths that start so", false),
                ("route", "Only requests served by this endpoint template", false),
                ("status", "A status (404) or a class (4xx)", false),
                ("since", "An RFC 3339 time, or a duration back from now (10m)", false),
                ("limit", "Page size (default 100)", true),
                ("offset", "Entries to skip", true),
            ],
            errors: &[(400, "A bad filter"), (409, "The journal is off")],
            ..op(Verb::Get, "/requests", "The namespace's recorded requests, newest first", "A page of requests")
        },
        to: |r| r.to(requests::list),
    },
    Route {
        op: SystemOp {
            errors: &[(409, "The journal is off")],
            ..op(Verb::Delete, "/requests", "Empty the namespace's request journal", "How many entries were removed")
        },
        to: |r| r.to(requests::clear),
    },
    Route {
        op: SystemOp {
            query: &[("limit", "Page size (default 100)", true), ("offset", "Entries to skip", true)],
            errors: &[(409, "The journal is off")],
            ..op(
                Verb::Get,
                "/requests/unmatched",
                "Requests no endpoint or response rule served, with the closest endpoints and why they missed",
                "Unmatched requests",
            )
        },
        to: |r| r.to(requests::unmatched),
    },
    Route {
        op: SystemOp {
            errors: &[(404, "No such request in the journal"), (409, "The journal is off")],
            ..op(Verb::Get, "/requests/{id}", "One recorded request, by request id", "The request")
        },
        to: |r| r.to(requests::one),
    },
    Route {
        op: SystemOp {
            body: Some(BodyKind::Object),
            errors: &[(400, "A bad pattern, each problem with its path"), (409, "The journal is off")],
            ..op(
                Verb::Post,
                "/requests/find",
                "Requests matching a pattern: {method, path | path_pattern | route, query, headers, body, body_json_path, since, limit}",
                "Matching requests",
            )
        },
        to: |r| r.to(requests::find),
    },
    Route {
        op: SystemOp {
            body: Some(BodyKind::Object),
            errors: &[
                (400, "A bad pattern or expectation"),
                (409, "The journal is off"),
                (417, "Not verified: the count, what was expected, and the near misses"),
            ],
            ..op(
                Verb::Post,
                "/requests/verify",
                "Verify a pattern matched count (or at_least / at_most) requests",
                "Verified",
            )
        },
        to: |r| r.to(requests::verify),
    },
    Route {
        op: SystemOp {
            body: Some(BodyKind::Object),
            errors: &[
                (400, "A bad pattern"),
                (409, "The journal is off"),
                (417, "Not verified: where the sequence broke, and the near misses"),
            ],
            ..op(
                Verb::Post,
                "/requests/verify-sequence",
                "Verify patterns matched requests in this order: {\"sequence\": [pattern, ...]}",
                "Verified",
            )
        },
        to: |r| r.to(requests::verify_sequence),
    },
    Route {
        op: SystemOp {
            status: 201,
            body: Some(BodyKind::Object),
            errors: &[(400, "A bad rule, each problem with its path")],
            ..op(
                Verb::Post,
                "/chaos",
                "Add a fault rule to the namespace: {match, probability?, seed?, times?, ttl_seconds?, action: {delay | status, body, headers | store | rate_limit}}",
                "The rule, with its id and seed",
            )
        },
        to: |r| r.to(chaos::add),
    },
    Route { op: op(Verb::Get, "/chaos", "The namespace's fault rules", "Rules"), to: |r| r.to(chaos::list) },
    Route {
        op: op(Verb::Delete, "/chaos", "Remove all of the namespace's fault rules", "How many were removed"),
        to: |r| r.to(chaos::clear),
    },
    Route {
        op: SystemOp {
            status: 204,
            content: Content::None,
            errors: &[(404, "No such rule in this namespace")],
            ..op(Verb::Delete, "/chaos/{id}", "Remove one fault rule", "Removed")
        },
        to: |r| r.to(chaos::delete),
    },
    Route { op: op(Verb::Get, "/data", "Entity types with their counts", "Counts"), to: |r| r.to(data::overview) },
    Route {
        op: SystemOp {
            query: &[
                ("search", "Substring, any case", false),
                ("limit", "Page size", true),
                ("offset", "Entities to skip", true),
            ],
            errors: &[(400, "Bad query")],
            ..op(Verb::Get, "/data/{entity}", "List stored entities of a type", "A page of entities")
        },
        to: |r| r.to(data::list),
    },
    Route {
        op: SystemOp {
            body: Some(BodyKind::Object),
            errors: &[(400, "A bad body"), (417, "Not verified: the count and the closest entities")],
            ..op(
                Verb::Post,
                "/data/{entity}/verify",
                "Verify stored entities: {\"where\": {field: value}, \"count\" | \"at_least\" | \"at_most\"}",
                "Verified",
            )
        },
        to: |r| r.to(requests::verify_data),
    },
    Route {
        op: SystemOp { errors: NOT_FOUND, ..op(Verb::Get, "/data/{entity}/{id}", "One stored entity", "The entity") },
        to: |r| r.to(data::get),
    },
    Route {
        op: SystemOp {
            status: 204,
            content: Content::None,
            errors: &[(404, "No such entity"), (503, "The backend is down")],
            ..op(
                Verb::Delete,
                "/data/{entity}/{id}",
                "Delete a stored entity (an admin repair: relationships are not followed)",
                "Deleted",
            )
        },
        to: |r| r.to(data::delete),
    },
    Route {
        op: SystemOp {
            body: Some(BodyKind::Seed),
            errors: &[(400, "Invalid records, each with its path")],
            ..op(
                Verb::Post,
                "/seed",
                "Add records, checked like creates; nothing is written if any fails",
                "Counts seeded",
            )
        },
        to: |r| r.to(data::seed),
    },
    Route {
        op: op(Verb::Post, "/reseed", "Replace all data with the profile's seed data", "Counts after reseeding"),
        to: |r| r.to(data::reset),
    },
    Route {
        op: op(Verb::Post, "/reset", "Replace all data with the profile's seed data", "Counts after resetting"),
        to: |r| r.to(data::reset),
    },
    Route {
        op: op(Verb::Post, "/save", "Make every acknowledged write durable now", "Saved"),
        to: |r| r.to(data::save),
    },
    Route {
        op: SystemOp {
            errors: &[(400, "This backend has no data file")],
            ..op(Verb::Post, "/load", "Re-read the embedded store's db.json", "Loaded")
        },
        to: |r| r.to(data::load),
    },
    Route {
        op: SystemOp {
            status: 201,
            body: Some(BodyKind::Snapshot),
            errors: &[(400, "Not a snapshot name")],
            ..op(
                Verb::Post,
                "/snapshots",
                "Save all data as a named snapshot",
                "Snapshot saved (its listing, without the data)",
            )
        },
        to: |r| r.to(snapshots::create),
    },
    Route {
        op: op(Verb::Get, "/snapshots", "List snapshots", "Snapshots, without their data"),
        to: |r| r.to(snapshots::list),
    },
    Route {
        op: SystemOp {
            body: Some(BodyKind::Snapshot),
            errors: &[(404, "No such snapshot")],
            ..op(Verb::Post, "/snapshots/restore", "Replace all data with a snapshot's", "Restored")
        },
        to: |r| r.to(snapshots::restore),
    },
    Route {
        op: SystemOp {
            status: 204,
            content: Content::None,
            errors: &[(404, "No such snapshot")],
            ..op(Verb::Delete, "/snapshots/{name}", "Delete a snapshot", "Deleted")
        },
        to: |r| r.to(snapshots::delete),
    },
];

/// The table's descriptions, for the OpenAPI document.
pub fn api() -> Vec<SystemOp> {
    ROUTES.iter().map(|r| r.op).collect()
}

/// Registers `/system` and every route of the table behind the guard.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut scope = web::scope("/system").wrap(from_fn(guard));
    for r in ROUTES {
        let method = match r.op.verb {
            Verb::Get => web::get(),
            Verb::Post => web::post(),
            Verb::Delete => web::delete(),
        };
        scope = scope.route(r.op.path, (r.to)(method));
    }
    cfg.service(scope.default_service(web::to(unknown)));
}

/// The `/system` key check, in front of every admin route (and of `/metrics`).
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let checked = match req.app_data::<web::Data<AppState>>() {
        Some(state) => {
            let loopback = req.peer_addr().is_some_and(|a| a.ip().to_canonical().is_loopback());
            state.gateway().profile().system.check(&credentials(req.request()), loopback)
        }
        None => Ok(()),
    };
    match checked {
        Ok(()) => next.call(req).await.map(ServiceResponse::map_into_left_body),
        Err(e) => {
            let res = HttpResponse::from(ApiError::from(e).to_reply());
            Ok(req.into_response(res).map_into_right_body())
        }
    }
}

/// A `/system` request's body, under the same size and time limits as any other.
async fn body(req: &HttpRequest, payload: web::Payload, state: &AppState) -> Result<bytes::Bytes, ApiError> {
    let gateway = state.gateway();
    let profile = gateway.profile();
    super::gateway::read_body(req, payload, profile.max_body_bytes, profile.limits.body_timeout).await
}

async fn unknown(req: HttpRequest) -> Answer {
    Err(ApiError::NoRoute { method: req.method().to_string(), path: req.path().to_owned(), guess: None })
}
