//! Broken answers on purpose (a profile's or a chaos rule's `fault`, and `dribble`),
//! on the connection's own socket: a TCP reset, a close without a byte, a chunked body
//! that breaks off, bytes that are not HTTP.

use crate::chaos::{Dribble, Fault};
use actix_web::dev::Extensions;
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::StreamExt;
use std::any::Any;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

/// The connection's socket, noted when it is accepted.
#[derive(Clone, Copy)]
struct Socket(RawFd);

/// For `HttpServer::on_connect`: notes the socket of a TCP connection.
pub fn note_socket(conn: &dyn Any, ext: &mut Extensions) {
    if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
        ext.insert(Socket(tcp.as_raw_fd()));
    }
}

/// Runs `f` on the request's socket, if it has one.
fn with_socket(req: &HttpRequest, f: impl FnOnce(BorrowedFd<'_>)) {
    if let Some(Socket(fd)) = req.conn_data::<Socket>().copied() {
        // SAFETY: the descriptor is this connection's socket, open for as long as the
        // connection (whose data holds it) serves this request; it is only borrowed here.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        f(fd);
    }
}

/// A body stream that sends `first`, then fails: the server gives up the connection.
/// The failure comes a moment later, so that what came first is on the wire by then.
fn broken(first: Option<Bytes>) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    let pause = first.is_some();
    let mut parts: Vec<Result<Bytes, std::io::Error>> = first.into_iter().map(Ok).collect();
    parts.push(Err(std::io::Error::other("broken on purpose (fault)")));
    futures_util::stream::iter(parts.into_iter().enumerate()).then(move |(i, part)| async move {
        if pause && i > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        part
    })
}

/// What the client gets instead of the endpoint's answer.
pub fn respond(req: &HttpRequest, fault: Fault) -> HttpResponse {
    use nix::sys::socket::{Shutdown, setsockopt, shutdown, sockopt::Linger};
    match fault {
        Fault::ConnectionReset => {
            // With lingering off, giving up the connection resets it (RST) instead of
            // closing it; the body fails before anything is sent.
            with_socket(req, |fd| {
                let _ = setsockopt(&fd, Linger, &nix::libc::linger { l_onoff: 1, l_linger: 0 });
            });
            HttpResponse::Ok().streaming(broken(None))
        }
        Fault::EmptyResponse => {
            with_socket(req, |fd| {
                let _ = shutdown(fd.as_raw_fd(), Shutdown::Both);
            });
            HttpResponse::Ok().streaming(broken(None))
        }
        Fault::MalformedChunk => {
            // A status line, headers and one good chunk, then the connection goes.
            HttpResponse::Ok()
                .content_type("application/json")
                .streaming(broken(Some(Bytes::from_static(b"{\"partial\": [1, 2, "))))
        }
        Fault::RandomDataThenClose => {
            with_socket(req, |fd| {
                let noise: [u8; 64] = rand::random();
                let _ = nix::unistd::write(fd, &noise);
                let _ = shutdown(fd.as_raw_fd(), Shutdown::Both);
            });
            HttpResponse::Ok().streaming(broken(None))
        }
    }
}

/// `body` in `d.chunks` pieces, one every `d.duration_ms / d.chunks`.
pub fn dribble(body: Bytes, d: Dribble) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + 'static {
    let n = (d.chunks as usize).clamp(1, body.len().max(1));
    let size = body.len().div_ceil(n).max(1);
    let every = Duration::from_millis(d.duration_ms) / n as u32;
    let pieces: Vec<Bytes> =
        (0..n).map(|i| body.slice((i * size).min(body.len())..((i + 1) * size).min(body.len()))).collect();
    futures_util::stream::iter(pieces.into_iter().enumerate()).then(move |(i, piece)| async move {
        if i > 0 {
            tokio::time::sleep(every).await;
        }
        Ok(piece)
    })
}
