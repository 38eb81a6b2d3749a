//! What one client may hold: a request body must arrive in time, and one instance
//! serves at most so many connections at once — beyond the cap a new connection is
//! answered 503 and closed at once, instead of waiting unseen in the listen backlog.

use crate::gateway::ApiError;
use actix_web::HttpResponse;
use actix_web::dev::{Extensions, ServiceRequest};
use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts the open connections of one server.
#[derive(Clone)]
pub struct ConnectionCap {
    open: Arc<AtomicUsize>,
    max: usize,
}

/// One connection's place: released when the connection closes (its extensions drop).
struct Slot {
    open: Arc<AtomicUsize>,
    /// This connection arrived when the cap was reached already.
    over: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl ConnectionCap {
    pub fn new(max: usize) -> Self {
        ConnectionCap { open: Arc::default(), max }
    }

    /// For `HttpServer::on_connect`: takes a place for the new connection.
    pub fn on_connect(&self) -> impl Fn(&dyn Any, &mut Extensions) + Send + Sync + 'static {
        let cap = self.clone();
        move |_, ext| {
            let n = cap.open.fetch_add(1, Ordering::SeqCst) + 1;
            ext.insert(Slot { open: Arc::clone(&cap.open), over: n > cap.max });
        }
    }
}

/// The answer for a request on a connection over the cap: 503, and the connection
/// closed. `None` for every other request.
pub fn refusal(req: &ServiceRequest) -> Option<HttpResponse> {
    if !req.conn_data::<Slot>().is_some_and(|s| s.over) {
        return None;
    }
    let mut res = HttpResponse::from(ApiError::TooManyConnections.to_reply());
    res.head_mut().set_connection_type(actix_web::http::ConnectionType::Close);
    Some(res)
}
