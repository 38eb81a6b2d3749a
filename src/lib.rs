//! mockgate: a stateful mock API gateway.
//!
//! A *profile* (`api.json`, `auth.json`, `endpoints.json`) describes an API. It is
//! loaded, checked and compiled once ([`config`]), then served by an actix-web server
//! ([`server`]) whose every request takes the same path:
//!
//! 1. [`server`] turns the actix request into a transport-free [`gateway::RequestCtx`];
//! 2. [`routing`] matches method + path template to an [`config::Endpoint`];
//! 3. [`auth`] checks the endpoint's authentication methods and scopes;
//! 4. the body is parsed and validated against the endpoint's JSON Schema;
//! 5. the first response rule whose conditions match is chosen ([`routing::Conditions`]);
//! 6. the endpoint's [`persistence`] action runs against the [`store::Store`];
//! 7. the chosen response's [`template`]s render with the request and the action's results;
//! 8. [`error::ApiError`] is the only place where failures become HTTP statuses.
//!
//! Modules:
//! - [`config`]: the profile as users write it (`*Def`) and as the engine runs it.
//! - [`routing`]: compiled path templates and request conditions.
//! - [`template`]: templates compiled at load; typed, one-pass rendering.
//! - [`auth`]: api key, HTTP basic and bearer-token checks; the system key guard.
//! - [`persistence`]: create/read/update/delete/list and atomic operations, written once
//!   over `&dyn Store`; entity-type rules (constraints, unique fields, versions,
//!   relationships) as conditions of the same store transaction; the read cache.
//! - [`store`]: the storage interface and its backends (`memory`, `file` with its
//!   journal, `redis` single node or cluster).
//! - [`generate`]: deterministic generated data sets.
//! - [`gateway`]: one request through the steps above, with no actix types.
//! - [`system`]: the `/system` admin API: health, cache, data, seeding, snapshots.
//! - [`server`]: binds, serves, shuts down and flushes the store.
//! - [`settings`]: runtime settings layered from profile, environment and CLI flags.
//! - [`cli`]: the `mockctl` command line.

pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod gateway;
pub mod generate;
pub mod metrics;
pub mod openapi;
pub mod persistence;
pub mod routing;
pub mod server;
pub mod settings;
pub mod store;
pub mod system;
pub mod telemetry;
pub mod template;
pub mod watch;

pub use config::Profile;
pub use server::Server;
pub use settings::Settings;
