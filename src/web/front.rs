//! The web port's front door: limits that tiny_http does not have.
//!
//! tiny_http accepts connections itself, gives each a thread of an
//! unbounded pool, and sets no socket timeouts, so a client that opens many
//! connections or sends its request one byte a minute would hold threads
//! for ever. So the public TCP listener is ours:
//!
//! * the allowlist (`allow`, as for port 2021) and a bound on open
//!   connections (beyond it: `503`, closed);
//! * the request head must arrive whole within [`Limits::head_timeout`] and
//!   be at most [`Limits::max_head`] bytes; the body must have a
//!   `Content-Length` of at most [`Limits::max_body`] bytes and arrive within
//!   [`Limits::io_timeout`]; every read and write has a timeout;
//! * one request per connection: the head goes on with `Connection: close`
//!   and `X-Smss-Peer: <address>` (a client's own such headers are dropped),
//!   so the handlers know the peer.
//!
//! The checked request is passed to tiny_http over a Unix socket in a
//! private (0700) directory, and its answer copied back. tiny_http parses
//! the request and writes the response (HTTP/1.1 framing, `Date`, `HEAD`);
//! its connection threads are as many as ours, so bounded too.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::listener::{Gate, Listener, Refusal};

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    /// Connections of one peer (an address, an IPv6 /64) at once.
    pub max_per_peer: usize,
    pub head_timeout: Duration,
    pub io_timeout: Duration,
    /// How long a handler may take to answer (a database that is down makes
    /// the store wait up to 10 s for a connection).
    pub answer_timeout: Duration,
    pub max_head: usize,
    pub max_body: usize,
    /// Who may connect (empty: everyone), as for port 2021.
    pub allow: Vec<crate::allow::Cidr>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 32,
            max_per_peer: 8,
            head_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(30),
            answer_timeout: Duration::from_secs(60),
            max_head: 16 * 1024,
            max_body: 64 * 1024,
            allow: Vec::new(),
        }
    }
}

/// Accepts on `listener` until its stop flag is set (and something
/// connects to wake the accept).
pub fn run(listener: Listener, backend: PathBuf, limits: Limits) {
    let gate = Gate {
        allow: limits.allow.clone(),
        max_connections: limits.max_connections,
        max_per_peer: limits.max_per_peer,
        log_prefix: "web: ",
        limit_hint: " (web-max-connections)",
        peer_limit_hint: " (web-max-connections-per-peer)",
        thread_prefix: "web",
    };
    let limits = Arc::new(limits);
    listener.run(gate, refuse, move |stream, peer| {
        if let Err(e) = connection(stream, peer, &backend, &limits) {
            log::debug!("web: connection {peer}: {e}");
        }
    });
}

fn refuse(stream: &mut TcpStream, why: Refusal) {
    let _ = match why {
        Refusal::NotAllowed => reply(stream, 403, "not allowed"),
        Refusal::Busy { .. } => reply(stream, 503, "too many connections, try again later"),
        Refusal::PeerBusy { .. } => reply(
            stream,
            503,
            "too many connections from your address, try again later",
        ),
    };
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// A short plain-text answer written by the front itself.
fn reply(stream: &mut TcpStream, status: u16, message: &str) -> io::Result<()> {
    let reason = match status {
        400 => "Bad Request",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        502 => "Bad Gateway",
        _ => "Service Unavailable",
    };
    let body = format!("{message}\n");
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\nX-Content-Type-Options: nosniff\r\n\
         Cache-Control: no-store\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}

/// The request head as passed on, and how long its body is.
struct Head {
    text: String,
    body_len: usize,
    expect_continue: bool,
}

/// Checks and rewrites a request head (without its final blank line).
fn rewrite_head(raw: &[u8], peer: SocketAddr, max_body: usize) -> Result<Head, (u16, String)> {
    let bad = |m: &str| (400, m.to_owned());
    let head = std::str::from_utf8(raw).map_err(|_| bad("the request head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut words = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(bad("malformed request line"));
    };
    if method.is_empty()
        || !method.bytes().all(|b| b.is_ascii_uppercase())
        || !target.starts_with('/')
        || !version.starts_with("HTTP/1.")
    {
        return Err(bad("malformed request line"));
    }
    let mut text = format!("{request_line}\r\n");
    let mut body_len: Option<usize> = None;
    let mut expect_continue = false;
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad("malformed header line"));
        };
        if name.is_empty() || name.trim() != name {
            return Err(bad("malformed header line"));
        }
        match name.to_ascii_lowercase().as_str() {
            "content-length" => {
                let n: usize = value
                    .trim()
                    .parse()
                    .map_err(|_| bad("bad Content-Length"))?;
                if body_len.is_some_and(|b| b != n) {
                    return Err(bad("conflicting Content-Length headers"));
                }
                body_len = Some(n);
            }
            "transfer-encoding" => {
                return Err((
                    411,
                    "send the body with a Content-Length (no Transfer-Encoding)".into(),
                ));
            }
            "expect" => {
                if value.trim().eq_ignore_ascii_case("100-continue") {
                    expect_continue = true;
                } else {
                    return Err((417, "unsupported Expect header".into()));
                }
            }
            // hop-by-hop, or ours to set
            "connection" | "keep-alive" | "upgrade" | "proxy-connection" | "te" | "x-smss-peer" => {
            }
            _ => {
                text.push_str(line);
                text.push_str("\r\n");
            }
        }
    }
    let body_len = body_len.unwrap_or(0);
    if body_len > max_body {
        return Err((
            413,
            format!("request body too large (limit {max_body} bytes)"),
        ));
    }
    if body_len > 0 {
        text.push_str(&format!("Content-Length: {body_len}\r\n"));
    }
    text.push_str(&format!("X-Smss-Peer: {peer}\r\nConnection: close\r\n\r\n"));
    Ok(Head {
        text,
        body_len,
        expect_continue: expect_continue && body_len > 0,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn connection(
    mut client: TcpStream,
    peer: SocketAddr,
    backend: &Path,
    limits: &Limits,
) -> io::Result<()> {
    client.set_nodelay(true)?;
    client.set_write_timeout(Some(limits.io_timeout))?;
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];

    // The head, whole, within head_timeout.
    let deadline = Instant::now() + limits.head_timeout;
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > limits.max_head {
            return reply(&mut client, 431, "request head too large");
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return reply(&mut client, 408, "request not received in time");
        }
        client.set_read_timeout(Some(left))?;
        match client.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => {
                return reply(&mut client, 408, "request not received in time");
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    };
    if head_end > limits.max_head {
        return reply(&mut client, 431, "request head too large");
    }
    let head = match rewrite_head(&buf[..head_end], peer, limits.max_body) {
        Ok(h) => h,
        Err((status, message)) => return reply(&mut client, status, &message),
    };

    let mut upstream = match UnixStream::connect(backend) {
        Ok(s) => s,
        Err(e) => {
            log::error!("web: cannot reach the request handlers: {e}");
            return reply(&mut client, 503, "the web interface is stopping");
        }
    };
    upstream.set_write_timeout(Some(limits.io_timeout))?;
    upstream.set_read_timeout(Some(limits.answer_timeout))?;
    upstream.write_all(head.text.as_bytes())?;

    // The body: what came with the head, then the rest, within io_timeout.
    let already = &buf[head_end + 4..];
    let first = already.len().min(head.body_len);
    upstream.write_all(&already[..first])?;
    let mut remaining = head.body_len - first;
    if remaining > 0 && head.expect_continue {
        client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let deadline = Instant::now() + limits.io_timeout;
    while remaining > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return reply(&mut client, 408, "request body not received in time");
        }
        client.set_read_timeout(Some(left))?;
        let want = remaining.min(chunk.len());
        match client.read(&mut chunk[..want]) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                upstream.write_all(&chunk[..n])?;
                remaining -= n;
            }
            Err(e) if is_timeout(&e) => {
                return reply(&mut client, 408, "request body not received in time");
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }

    // The answer, until tiny_http closes (Connection: close).
    let copied = io::copy(&mut upstream, &mut client)?;
    if copied == 0 {
        return reply(&mut client, 502, "no answer from the request handler");
    }
    let _ = client.shutdown(std::net::Shutdown::Write);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        "192.0.2.7:5555".parse().unwrap()
    }

    #[test]
    fn head_is_rewritten() {
        let raw = b"POST /api/send HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\
                    X-Smss-Peer: 1.2.3.4:1\r\nContent-Length: 5\r\nExpect: 100-continue";
        let h = rewrite_head(raw, peer(), 100).unwrap();
        assert_eq!(
            h.text,
            "POST /api/send HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\
             X-Smss-Peer: 192.0.2.7:5555\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(h.body_len, 5);
        assert!(h.expect_continue);
    }

    #[test]
    fn bad_heads_are_refused() {
        let status = |raw: &[u8]| rewrite_head(raw, peer(), 100).err().map(|e| e.0);
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost: x"), None);
        assert_eq!(status(b"GET /\r\nHost: x"), Some(400));
        assert_eq!(status(b"get / HTTP/1.1"), Some(400));
        assert_eq!(status(b"GET http://x/ HTTP/1.1"), Some(400));
        assert_eq!(status(b"GET / HTTP/1.1\r\nno colon"), Some(400));
        assert_eq!(status(b"GET / HTTP/1.1\r\nContent-Length: x"), Some(400));
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2"),
            Some(400)
        );
        assert_eq!(status(b"POST / HTTP/1.1\r\nContent-Length: 101"), Some(413));
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked"),
            Some(411)
        );
        assert_eq!(status(b"GET / HTTP/1.1\r\n Host: x"), Some(400));
    }
}
