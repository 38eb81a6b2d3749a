//! mockgate: a stateful mock API gateway.
//!
//! A *profile* (`api.json`, `auth.json`, `endpoints.json`) describes an API. It is
//! read as written ([`config`]), checked and compiled once ([`profile`]), then served
//! by an HTTP server ([`http`]) whose every request takes the same path:
//!
//! 1. [`http`] turns the server's request into a transport-free [`gateway::RequestCtx`];
//! 2. [`routing`] matches method + path template to a [`profile::Endpoint`];
//! 3. [`auth`] checks the endpoint's authentication methods and scopes;
//! 4. the body is parsed and validated against the endpoint's JSON Schema;
//! 5. the first response rule whose conditions match is chosen ([`routing::Conditions`]);
//! 6. the endpoint's [`persistence`] action runs against the [`store::Store`];
//! 7. the chosen response's [`template`]s render with the request and the action's results;
//! 8. [`gateway::ApiError`] is the one table where failures become statuses and codes,
//!    and [`http`] sends the reply.
//!
//! Modules, leaves first (each imports only modules listed before it):
//! - [`json`]: walking into JSON values and reading them as text; [`words`]: entity
//!   type names in English sentences; [`sample`]: a value for a JSON Schema.
//! - [`template`]: templates compiled at load; typed, one-pass rendering.
//! - [`config`]: the profile as users write it (`*Def`), [`config::ConfigError`] and
//!   the compile context every part's parser receives.
//! - [`telemetry`]: logging setup, `logging` settings, error chains, log-safe bodies.
//! - [`auth`]: api key, HTTP basic, bearer-token and session checks; the system key guard.
//! - [`routing`]: compiled path templates and response conditions.
//! - [`store`]: the storage interface, its backends (`memory`, `file` with its journal,
//!   `redis` single node or cluster), typed snapshots, and choosing and opening one.
//! - [`persistence`]: create/read/update/delete/list and atomic operations, written once
//!   over `&dyn Store`; entity-type rules (constraints, unique fields, versions,
//!   relationships) as conditions of the same store transaction; the read cache.
//! - [`chaos`]: delays, and run-time fault rules per namespace, seeded and shared.
//! - [`generate`]: deterministic generated data sets.
//! - [`import`]: OpenAPI 3.0/3.1 and Swagger 2.0 documents to profile files (entity
//!   types inferred, schemas converted, security schemes, the import report).
//! - [`profile`]: the compiled profile and the compile that orchestrates every part.
//! - [`metrics`]: Prometheus metrics and the metered store decorator.
//! - [`openapi`]: the OpenAPI 3.1 document of a profile and the system API.
//! - [`admin`]: data administration without HTTP: seeding, reset, snapshots, admin delete.
//! - [`namespaces`]: isolated worlds of data per parallel test, created on first use,
//!   with a registry every instance shares.
//! - [`journal`]: the request journal per namespace (a ring in memory, or a Redis
//!   stream every instance shares), request patterns, verification and near misses.
//! - [`gateway`]: one request through the steps above, with no server types, and the
//!   error table.
//! - [`reload`]: swapping the served profile, and `--watch`.
//! - [`settings`]: runtime settings layered from profile, environment and CLI flags.
//! - [`http`]: everything that touches the web framework: server, access log, catch-all handler,
//!   the `/system` API, docs.
//! - [`cli`]: the `mockctl` command line.

mod admin;
mod auth;
mod chaos;
pub mod cli;
mod config;
mod gateway;
mod generate;
mod http;
mod import;
mod journal;
mod json;
mod metrics;
pub mod namespaces;
mod openapi;
mod persistence;
mod profile;
pub mod reload;
mod routing;
mod sample;
mod settings;
pub mod store;
pub mod telemetry;
mod template;
mod words;

pub use config::{ConfigError, ProfileError};
pub use http::{Server, StartError, Started};
pub use profile::Profile;
pub use settings::{Overrides, Settings};
