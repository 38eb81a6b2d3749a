//! What every worker shares.

use crate::gateway::Gateway;
use crate::metrics::Metrics;
use crate::reload::Reloader;
use std::sync::Arc;
use std::time::Instant;

/// Shared by every worker; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The serving profile's gateway; a reload swaps in a new one.
    pub reloader: Reloader,
    pub metrics: Arc<Metrics>,
    pub started: Instant,
}

impl AppState {
    /// The gateway serving now; take it once per request, so that one request never
    /// straddles a reload.
    pub fn gateway(&self) -> Arc<Gateway> {
        self.reloader.current()
    }
}
