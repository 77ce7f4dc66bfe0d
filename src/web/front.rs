//! The web port's front door: limits that tiny_http does not have, and
//! every decision that needs no worker.
//!
//! tiny_http accepts connections itself, gives each a thread of an
//! unbounded pool, and sets no socket timeouts, so a client that opens many
//! connections or sends its request one byte a minute would hold threads
//! for ever. So the public TCP listener is ours:
//!
//! * the allowlist (`allow`, as for port 2021) and bounds on open
//!   connections, per peer and in all (beyond: `503`, closed);
//! * the request head must arrive whole within [`Limits::head_timeout`]
//!   (short: every peer is a stranger until its head is read) and be at
//!   most [`Limits::max_head`] bytes;
//! * from the head alone: its `Host` (and a POST's `Origin`) must name this
//!   server (`421`/`403`, [`super::host`]), and its credentials must be
//!   right (`401`; `403` for sendsms; `429` while its peer is throttled):
//!   [`Guard`]. No body is read for a request that fails these, and
//!   `100 Continue` is sent only after them;
//! * the body of an authenticated request must have a `Content-Length` of
//!   at most [`Limits::max_body`] bytes and arrive within
//!   [`Limits::io_timeout`]; only sendsms's POST, whose credentials may be
//!   in its form, has its body read first, within the head's deadline;
//! * one request per connection: the head goes on with `Connection: close`,
//!   `X-Smss-Peer: <address>` and, once its credentials are checked,
//!   `X-Smss-User: <user>` (a client's own such headers are dropped).
//!
//! The request, body included, is passed to tiny_http over a Unix socket in
//! a private (0700) directory only once it is complete, and the answer is
//! read back whole before it is written to the client: the four workers
//! never wait for a slow client, which can hold only connections of its
//! own peer's share. tiny_http parses the request and writes the response
//! (HTTP/1.1 framing, `Date`, `HEAD`).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::auth;
use super::form::Params;
use super::guard::{Denied, Guard, Realm};
use crate::listener::{Gate, Listener, Refusal};
use crate::peer::{self, LogLimiter, PeerKey};

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    /// Connections of one peer (an address, an IPv6 /64) at once.
    pub max_per_peer: usize,
    /// The head, and a body read before its credentials are checked.
    pub head_timeout: Duration,
    /// The body of an authenticated request; every write to the client.
    pub io_timeout: Duration,
    /// How long a handler may take to answer (a database that is down makes
    /// the store wait up to 10 s for a connection).
    pub answer_timeout: Duration,
    pub max_head: usize,
    pub max_body: usize,
    /// The largest answer copied back (the handlers' are far smaller).
    pub max_answer: usize,
    /// Who may connect (empty: everyone), as for port 2021.
    pub allow: Vec<crate::allow::Cidr>,
}

/// The largest request body (the send form, the API).
pub const MAX_BODY: usize = 64 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 32,
            max_per_peer: 8,
            head_timeout: Duration::from_secs(5),
            io_timeout: Duration::from_secs(30),
            answer_timeout: Duration::from_secs(60),
            max_head: 16 * 1024,
            max_body: MAX_BODY,
            max_answer: 64 * 1024 * 1024,
            allow: Vec::new(),
        }
    }
}

/// Log lines about refused requests (a foreign Host, a throttled peer):
/// once per peer per minute.
struct RefusalLog(Mutex<LogLimiter>);

impl RefusalLog {
    fn warn(&self, peer: SocketAddr, message: &str) {
        let admitted = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(PeerKey::of(peer.ip()), Instant::now());
        if let Some(held) = admitted {
            log::warn!("web: {peer} {message}{}", peer::held_back(held));
        }
    }
}

/// Accepts on `listener` until its stop flag is set (and something
/// connects to wake the accept).
pub fn run(listener: Listener, backend: PathBuf, limits: Limits, guard: Arc<Guard>) {
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
    let refusals = Arc::new(RefusalLog(Mutex::new(LogLimiter::new(
        Duration::from_secs(60),
        4096,
    ))));
    listener.run(gate, refuse, move |stream, peer| {
        let front = Front {
            backend: &backend,
            limits: &limits,
            guard: &guard,
            refusals: &refusals,
        };
        if let Err(e) = front.connection(stream, peer) {
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
    reply_with(stream, status, message, &[])
}

fn reply_with(
    stream: &mut TcpStream,
    status: u16,
    message: &str,
    headers: &[(&str, String)],
) -> io::Result<()> {
    let reason = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        502 => "Bad Gateway",
        _ => "Service Unavailable",
    };
    let body = format!("{message}\n");
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\nX-Content-Type-Options: nosniff\r\n\
         Cache-Control: no-store\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}

/// A request head as passed on, and what the front decides on.
struct Head {
    /// The head for tiny_http, up to (without) `X-Smss-User` and the blank line.
    text: String,
    method: String,
    /// The request target: path and query.
    target: String,
    host: Option<String>,
    origin: Option<String>,
    authorization: Option<String>,
    /// SMSEagle's `access-token` header.
    access_token: Option<String>,
    content_type: Option<String>,
    body_len: usize,
    expect_continue: bool,
}

impl Head {
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }
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
    let (mut host, mut origin, mut authorization) = (None, None, None);
    let (mut access_token, mut content_type) = (None, None);
    let once = |slot: &mut Option<String>, value: &str, name: &str| {
        if slot.is_some() {
            return Err(bad(&format!("more than one {name} header")));
        }
        *slot = Some(value.trim().to_owned());
        Ok(())
    };
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
                continue;
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
                    continue;
                }
                return Err((417, "unsupported Expect header".into()));
            }
            // hop-by-hop, or ours to set
            "connection" | "keep-alive" | "upgrade" | "proxy-connection" | "te" | "x-smss-peer"
            | "x-smss-user" => continue,
            "host" => once(&mut host, value, "Host")?,
            "origin" => once(&mut origin, value, "Origin")?,
            "authorization" => once(&mut authorization, value, "Authorization")?,
            "access-token" => once(&mut access_token, value, "access-token")?,
            "content-type" => once(&mut content_type, value, "Content-Type")?,
            _ => {}
        }
        text.push_str(line);
        text.push_str("\r\n");
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
    text.push_str(&format!("X-Smss-Peer: {peer}\r\nConnection: close\r\n"));
    Ok(Head {
        text,
        method: method.to_owned(),
        target: target.to_owned(),
        host,
        origin,
        authorization,
        access_token,
        content_type,
        body_len,
        expect_continue: expect_continue && body_len > 0,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl Head {
    fn is_form(&self) -> bool {
        self.content_type.as_deref().is_some_and(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    }
}

/// An API token in the head: `Authorization: Bearer TOKEN`, the
/// `access-token` header (SMSEagle's), or the `access_token` parameter.
fn head_token(head: &Head, legacy: crate::charset::Legacy) -> Option<String> {
    if let Some(auth) = &head.authorization
        && let Some((scheme, value)) = auth.trim().split_once(' ')
        && scheme.eq_ignore_ascii_case("bearer")
    {
        return Some(value.trim().to_owned());
    }
    if let Some(t) = &head.access_token {
        return Some(t.trim().to_owned());
    }
    Params::parse(head.query().as_bytes(), legacy)
        .get("access_token")
        .map(|t| t.trim().to_owned())
}

/// sendsms's credentials among its parameters (Kannel's names and the short ones).
fn kannel_credentials(params: &Params) -> Option<(String, String)> {
    let user = params.get("username").or_else(|| params.get("user"))?;
    let password = params.get("password").or_else(|| params.get("pass"))?;
    Some((user.to_owned(), password.to_owned()))
}

/// Why no body could be read.
enum BodyError {
    /// Not in time: answer 408.
    Late,
    /// The client went away.
    Closed,
    Io(io::Error),
}

struct Front<'a> {
    backend: &'a Path,
    limits: &'a Limits,
    guard: &'a Guard,
    refusals: &'a RefusalLog,
}

impl Front<'_> {
    fn connection(&self, mut client: TcpStream, peer: SocketAddr) -> io::Result<()> {
        let limits = self.limits;
        client.set_nodelay(true)?;
        client.set_write_timeout(Some(limits.io_timeout))?;
        let mut buf: Vec<u8> = Vec::with_capacity(4096);
        let mut chunk = [0u8; 8192];

        // The head, whole, within head_timeout.
        let head_deadline = Instant::now() + limits.head_timeout;
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i;
            }
            if buf.len() > limits.max_head {
                return reply(&mut client, 431, "request head too large");
            }
            let left = head_deadline.saturating_duration_since(Instant::now());
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
        let already = buf.split_off(head_end + 4);

        // Is it for us?
        let hosts = &self.guard.hosts;
        match &head.host {
            None => return reply(&mut client, 400, "a Host header is required"),
            Some(host) if !hosts.allows_host(host) => {
                self.refusals.warn(
                    peer,
                    &format!("refused: Host '{host}' is not this server (web-host)"),
                );
                return reply(
                    &mut client,
                    421,
                    &format!(
                        "this server does not answer to the name '{host}' (it answers to {}; \
                         the administrator may add the name to web-host)",
                        hosts.describe()
                    ),
                );
            }
            Some(_) => {}
        }
        if head.method == "POST"
            && let Some(origin) = &head.origin
            && origin != "null"
            && !hosts.allows_origin(origin)
        {
            self.refusals.warn(
                peer,
                &format!("refused a POST from Origin '{origin}' (web-host)"),
            );
            return reply(&mut client, 403, "cross-site request refused");
        }

        // Who is it? From the head (sendsms's POST: from its form, read
        // within the head's deadline). On the API, an API token first.
        let mut body: Option<Vec<u8>> = None;
        let mut secret = None;
        if super::is_api(head.path()) {
            secret = head_token(&head, self.guard.legacy);
            if secret.is_none()
                && head.path().starts_with("/http_api/")
                && head.authorization.is_none()
                && head.method == "POST"
                && head.body_len > 0
                && head.is_form()
            {
                // SMSEagle's POST form carries its access_token in the body
                // (as sendsms's its credentials: read within the head's
                // deadline; nowhere else is a body read before its check)
                match self.read_body(&mut client, &head, &already, head_deadline) {
                    Ok(b) => {
                        secret = Params::parse(&b, self.guard.legacy)
                            .get("access_token")
                            .map(str::to_owned);
                        body = Some(b);
                    }
                    Err(e) => return self.body_failed(&mut client, e),
                }
            }
        }
        let (realm, credentials) = if secret.is_some() {
            (Realm::Web, None)
        } else if head.path() == "/cgi-bin/sendsms" {
            let mut params = Params::parse(head.query().as_bytes(), self.guard.legacy);
            if let Some(b) = &body {
                params.0.extend(Params::parse(b, self.guard.legacy).0);
            } else if kannel_credentials(&params).is_none()
                && head.method == "POST"
                && head.body_len > 0
            {
                match self.read_body(&mut client, &head, &already, head_deadline) {
                    Ok(b) => {
                        params.0.extend(Params::parse(&b, self.guard.legacy).0);
                        body = Some(b);
                    }
                    Err(e) => return self.body_failed(&mut client, e),
                }
            }
            (Realm::Kannel, kannel_credentials(&params))
        } else {
            (
                Realm::Web,
                head.authorization.as_deref().and_then(auth::parse_basic),
            )
        };
        let checked = match &secret {
            Some(secret) => self.guard.authenticate_token(secret, peer),
            None => self.guard.authenticate(realm, credentials, peer),
        };
        let user = match checked {
            Ok(user) => user,
            Err(denied) => return self.deny(&mut client, peer, realm, denied),
        };

        // The body, now that we know who sends it.
        let body = match body {
            Some(b) => b,
            None => {
                let deadline = Instant::now() + limits.io_timeout;
                match self.read_body(&mut client, &head, &already, deadline) {
                    Ok(b) => b,
                    Err(e) => return self.body_failed(&mut client, e),
                }
            }
        };

        // The whole request to tiny_http, the whole answer back.
        let mut upstream = match UnixStream::connect(self.backend) {
            Ok(s) => s,
            Err(e) => {
                log::error!("web: cannot reach the request handlers: {e}");
                return reply(&mut client, 503, "the web interface is stopping");
            }
        };
        upstream.set_write_timeout(Some(limits.io_timeout))?;
        upstream.set_read_timeout(Some(limits.answer_timeout))?;
        let mut request = head.text.into_bytes();
        if !user.is_empty() {
            request.extend_from_slice(format!("X-Smss-User: {user}\r\n").as_bytes());
        }
        request.extend_from_slice(b"\r\n");
        request.extend_from_slice(&body);
        upstream.write_all(&request)?;
        let mut answer = Vec::new();
        let read = (&mut upstream)
            .take(limits.max_answer as u64 + 1)
            .read_to_end(&mut answer);
        if let Err(e) = read {
            log::warn!("web: {peer}: no whole answer from the request handler: {e}");
            return reply(&mut client, 502, "no answer from the request handler");
        }
        if answer.is_empty() || answer.len() > limits.max_answer {
            return reply(&mut client, 502, "no answer from the request handler");
        }
        client.write_all(&answer)?;
        let _ = client.shutdown(std::net::Shutdown::Write);
        Ok(())
    }

    /// The body: what came with the head, then the rest, by `deadline`.
    fn read_body(
        &self,
        client: &mut TcpStream,
        head: &Head,
        already: &[u8],
        deadline: Instant,
    ) -> Result<Vec<u8>, BodyError> {
        let mut body = Vec::with_capacity(head.body_len);
        body.extend_from_slice(&already[..already.len().min(head.body_len)]);
        if body.len() < head.body_len && head.expect_continue {
            client
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .map_err(BodyError::Io)?;
        }
        let mut chunk = [0u8; 8192];
        while body.len() < head.body_len {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(BodyError::Late);
            }
            client.set_read_timeout(Some(left)).map_err(BodyError::Io)?;
            let want = (head.body_len - body.len()).min(chunk.len());
            match client.read(&mut chunk[..want]) {
                Ok(0) => return Err(BodyError::Closed),
                Ok(n) => body.extend_from_slice(&chunk[..n]),
                Err(e) if is_timeout(&e) => return Err(BodyError::Late),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(BodyError::Io(e)),
            }
        }
        Ok(body)
    }

    fn body_failed(&self, client: &mut TcpStream, e: BodyError) -> io::Result<()> {
        match e {
            BodyError::Late => reply(client, 408, "request body not received in time"),
            BodyError::Closed => Ok(()),
            BodyError::Io(e) => Err(e),
        }
    }

    fn deny(
        &self,
        client: &mut TcpStream,
        peer: SocketAddr,
        realm: Realm,
        denied: Denied,
    ) -> io::Result<()> {
        match (denied, realm) {
            (Denied::Throttled(left), _) => {
                let secs = left.as_millis().div_ceil(1000).max(1);
                self.refusals.warn(
                    peer,
                    "refused a password check: too many wrong passwords (web-auth-delay)",
                );
                reply_with(
                    client,
                    429,
                    &format!("too many wrong passwords from your address: try again in {secs} s"),
                    &[("Retry-After", secs.to_string())],
                )
            }
            (Denied::Busy, _) => reply(client, 503, "password checks busy, try again later"),
            (Denied::WrongToken, _) => {
                self.refusals.warn(
                    peer,
                    "refused an API token that is not (or no longer) valid",
                );
                reply_with(
                    client,
                    401,
                    "invalid or revoked API token (smss token list shows the valid ones)",
                    &[("WWW-Authenticate", "Bearer realm=\"smss\"".to_owned())],
                )
            }
            (Denied::TokensUnavailable, _) => reply(
                client,
                503,
                "database unavailable, cannot check the API token: try again later",
            ),
            (Denied::Off, _) => reply(
                client,
                403,
                "Authorization failed for sendsms (sendsms is off: set kannel-password-hash or \
                 web-password-hash)",
            ),
            (Denied::Missing | Denied::Wrong, Realm::Kannel) => {
                if denied == Denied::Missing {
                    self.refusals.warn(
                        peer,
                        "sendsms: authorization failed (no username and password)",
                    );
                }
                reply(client, 403, "Authorization failed for sendsms")
            }
            (Denied::Missing | Denied::Wrong, Realm::Web) => reply_with(
                client,
                401,
                "authentication required",
                &[(
                    "WWW-Authenticate",
                    "Basic realm=\"smss\", charset=\"UTF-8\"".to_owned(),
                )],
            ),
        }
    }
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
             X-Smss-Peer: 192.0.2.7:5555\r\nConnection: close\r\n"
        );
        assert_eq!(h.body_len, 5);
        assert!(h.expect_continue);
        assert_eq!(h.host.as_deref(), Some("x"));
        // the client's own X-Smss-User is dropped; credentials kept apart
        let raw = b"GET /sent?number=42 HTTP/1.1\r\nHost: h:1\r\nX-Smss-User: admin\r\n\
                    Authorization: Basic YQ==\r\nOrigin: http://h:1";
        let h = rewrite_head(raw, peer(), 100).unwrap();
        assert!(!h.text.contains("admin"), "{}", h.text);
        assert_eq!(h.authorization.as_deref(), Some("Basic YQ=="));
        assert_eq!(h.origin.as_deref(), Some("http://h:1"));
        assert_eq!((h.path(), h.query()), ("/sent", "number=42"));
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
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost: x\r\nHost: y"), Some(400));
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: a\r\nAuthorization: b"),
            Some(400)
        );
    }
}
