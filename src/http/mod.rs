//! The HTTP layer: everything that speaks actix-web lives here, and nothing here
//! decides what a request means.
//!
//! - [`server`]: opens the store, loads the start data, binds (port 0 works) and
//!   wires the app; serves until stopped, then flushes the store.
//! - `state`: what every worker shares (the reloader with the current gateway, the
//!   metrics, the start time).
//! - `gateway`: the catch-all handler — reads the body, hands a transport-free
//!   request to [`crate::gateway::Gateway`] and sends its reply.
//! - `access_log`: one line and one span per request, the request id, the metrics.
//! - `limits`: the connection cap (bodies' time limit is read with the body).
//! - `cors`: preflights and the allow headers, as the profile's `cors` says.
//! - `error`: a [`crate::gateway::Reply`] or an [`crate::gateway::ApiError`] as an
//!   actix response.
//! - `system`: the `/system` admin API, one route table behind one guard, whose
//!   handlers call [`crate::admin`].
//! - `docs`: `/openapi.json` and Swagger UI.
//! - `faults`: broken answers on purpose (resets, empty or cut-off responses,
//!   dribbled bodies) on the connection's socket.
//! - `probes`: `/healthz` and `/readyz`, for load balancers and `mockctl status`.

mod access_log;
mod cors;
mod docs;
mod error;
mod faults;
mod gateway;
mod limits;
mod probes;
mod server;
mod state;
mod system;

pub use server::{Server, StartError, Started};
