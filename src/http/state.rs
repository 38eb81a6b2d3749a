//! What every worker shares.

use crate::gateway::Gateway;
use crate::metrics::Metrics;
use crate::reload::Reloader;
use std::sync::Arc;
use std::time::Instant;

/// The request's id (the caller's `X-Request-Id`, or a new one), which the access log
/// puts in the request's extensions for the journal.
#[derive(Clone)]
pub struct RequestId(pub Arc<str>);

/// Shared by every worker; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The serving profile's gateway; a reload swaps in a new one.
    pub reloader: Reloader,
    pub metrics: Arc<Metrics>,
    pub started: Instant,
    /// What was asked of the gateway, per namespace (it outlives a reload).
    pub journals: Arc<crate::journal::Journals>,
}

impl AppState {
    /// The gateway serving now; take it once per request, so that one request never
    /// straddles a reload.
    pub fn gateway(&self) -> Arc<Gateway> {
        self.reloader.current()
    }
}
