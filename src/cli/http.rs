//! The little HTTP `mockctl` speaks to its own servers on loopback: one request per
//! connection, JSON in and out. (A client library would be the only reason to pull
//! an HTTP client stack into the binary.)

use anyhow::Context;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Where to reach a recorded server: its URL's host, or loopback when it listens on
/// every interface.
pub fn address(url: &str, port: u16) -> String {
    let host = url.split("://").nth(1).and_then(|rest| rest.rsplit_once(':')).map_or("127.0.0.1", |(h, _)| h);
    let host = if host == "0.0.0.0" || host == "[::]" { "127.0.0.1" } else { host };
    format!("{host}:{port}")
}

/// Sends one request; returns the status and the body (JSON, or a string).
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
    timeout: Duration,
) -> anyhow::Result<(u16, Value)> {
    let target: SocketAddr = addr.to_socket_addrs()?.next().with_context(|| format!("cannot resolve {addr}"))?;
    let mut s = TcpStream::connect_timeout(&target, timeout).with_context(|| format!("nothing answers at {addr}"))?;
    s.set_read_timeout(Some(timeout))?;
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if body.is_some() {
        head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", payload.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(payload.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).with_context(|| format!("no answer from {addr}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("not an HTTP answer from {addr}"))?;
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()))
    };
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_on_every_interface_are_reached_on_loopback() {
        assert_eq!(address("http://0.0.0.0:8000", 8000), "127.0.0.1:8000");
        assert_eq!(address("http://127.0.0.1:9000", 9000), "127.0.0.1:9000");
        assert_eq!(address("http://10.0.0.5:8000", 8000), "10.0.0.5:8000");
    }
}
