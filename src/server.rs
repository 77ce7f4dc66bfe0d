//! Port 2021: the accept loop of [`crate::listener`] (one thread per
//! connection, a bound on how many, the allowlist) with this protocol's
//! refusals (`ERR not allowed`, `ERR busy: ...`), and per connection an idle
//! timeout, a line length limit and the quiet pause that ends a line an old
//! client sends without a newline. Each line is split by
//! [`protocol::split_line`] and handed to [`Intake::submit`]; it is answered
//! only after its requests are committed.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::charset;
use crate::config::Settings;
use crate::intake::{Intake, IntakeError};
use crate::listener::{Gate, Listener, Refusal};
use crate::protocol;

/// Accepts on `listener` until its stop flag is set (and something connects
/// to wake us); each line's requests go to `intake`. What it reads of the
/// settings: `max-connections`, `max-connections-per-peer`, `max-line-bytes`, `idle-timeout`,
/// `quiet-pause`, `legacy-charset`, `allow`.
pub fn run(listener: Listener, intake: Intake, settings: Settings) {
    let gate = Gate {
        allow: settings.allow.clone(),
        max_connections: settings.max_connections,
        max_per_peer: settings.max_connections_per_peer,
        log_prefix: "",
        limit_hint: " (max-connections)",
        peer_limit_hint: " (max-connections-per-peer)",
        thread_prefix: "conn",
    };
    let limits = Arc::new(settings);
    listener.run(gate, refuse, move |stream, peer| {
        let conn = Connection {
            peer,
            intake: intake.clone(),
            limits: Arc::clone(&limits),
        };
        conn.serve(stream);
    });
}

fn refuse(stream: &mut TcpStream, why: Refusal) {
    let answer = match why {
        Refusal::NotAllowed => "ERR not allowed\r\n".to_owned(),
        Refusal::Busy { limit } => format!("ERR busy: too many connections (limit {limit})\r\n"),
        Refusal::PeerBusy { limit } => {
            format!("ERR busy: too many connections from your address (limit {limit})\r\n")
        }
    };
    let _ = stream.write_all(answer.as_bytes());
}

/// Closing a socket with unread input makes the kernel send a reset, which
/// can destroy the answer just written. So: half-close, then read and drop
/// what the client still sends, for a bounded time.
fn linger(stream: &mut TcpStream) {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut sink = [0u8; 8192];
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    while Instant::now() < deadline {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

struct Connection {
    peer: SocketAddr,
    intake: Intake,
    limits: Arc<Settings>,
}

/// Why reading stopped.
enum End {
    Eof,
    Closed,
}

impl Connection {
    fn serve(&self, mut stream: TcpStream) {
        let _ = stream.set_write_timeout(Some(self.limits.idle_timeout));
        let _ = stream.set_nodelay(true);
        let result = catch_unwind(AssertUnwindSafe(|| self.read_lines(&mut stream)));
        match result {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => log::debug!("connection {}: {e}", self.peer),
            Err(_) => {
                log::error!(
                    "connection {}: internal error (panic); answered ERR",
                    self.peer
                );
                let _ = stream.write_all(b"ERR internal error, see the server log\r\n");
            }
        }
    }

    fn read_lines(&self, stream: &mut TcpStream) -> io::Result<End> {
        let limits = &*self.limits;
        let mut buf: Vec<u8> = Vec::new();
        let mut chunk = [0u8; 4096];
        let mut last_data = Instant::now();
        // When the first byte of the unfinished line arrived.
        let mut line_started: Option<Instant> = None;
        loop {
            let now = Instant::now();
            let timeout = if buf.is_empty() {
                (last_data + limits.idle_timeout).saturating_duration_since(now)
            } else {
                let pause_end = last_data + limits.quiet_pause;
                let line_end = line_started.unwrap_or(now) + limits.idle_timeout;
                pause_end.min(line_end).saturating_duration_since(now)
            };
            stream.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
            match stream.read(&mut chunk) {
                Ok(0) => {
                    if !buf.is_empty() {
                        let line = std::mem::take(&mut buf);
                        self.answer(stream, &line)?;
                    }
                    return Ok(End::Eof);
                }
                Ok(n) => {
                    last_data = Instant::now();
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
                        if nl > limits.max_line_bytes {
                            return self.too_long(stream);
                        }
                        let line: Vec<u8> = buf.drain(..=nl).collect();
                        self.answer(stream, &line[..nl])?;
                        line_started = None;
                    }
                    if buf.len() > limits.max_line_bytes {
                        return self.too_long(stream);
                    }
                    if !buf.is_empty() && line_started.is_none() {
                        line_started = Some(last_data);
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    let now = Instant::now();
                    if buf.is_empty() {
                        if now >= last_data + limits.idle_timeout {
                            stream.write_all(b"ERR idle timeout\r\n")?;
                            return Ok(End::Closed);
                        }
                    } else if now >= line_started.unwrap_or(now) + limits.idle_timeout {
                        log::info!(
                            "closed {}: line not finished within the idle timeout",
                            self.peer
                        );
                        stream.write_all(b"ERR line not finished in time\r\n")?;
                        return Ok(End::Closed);
                    } else if now >= last_data + limits.quiet_pause {
                        let line = std::mem::take(&mut buf);
                        line_started = None;
                        self.answer(stream, &line)?;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn too_long(&self, stream: &mut TcpStream) -> io::Result<End> {
        let limit = self.limits.max_line_bytes;
        log::warn!("closed {}: line longer than {limit} bytes", self.peer);
        stream.write_all(format!("ERR line too long (limit {limit} bytes)\r\n").as_bytes())?;
        linger(stream);
        Ok(End::Closed)
    }

    /// Parses, commits and answers one line (`Intake::submit` has woken
    /// the modem threads by then). Blank lines get no answer.
    fn answer(&self, stream: &mut TcpStream, raw: &[u8]) -> io::Result<()> {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = charset::decode_line(raw, self.limits.legacy_charset);
        if line.trim().is_empty() {
            return Ok(());
        }
        if line.trim_start().starts_with("#?") {
            let reply = self.command(&line);
            return stream.write_all(format!("{reply}\r\n").as_bytes());
        }
        let queued = protocol::split_line(&line)
            .map_err(IntakeError::from)
            .and_then(|requests| {
                self.intake
                    .submit(&requests, &format!("ip:{}", self.peer.ip()))
            });
        let reply = match queued {
            Ok(ids) => {
                let answer = protocol::ok_answer(&ids);
                log::info!("accepted from {}: {answer}", self.peer);
                answer
            }
            Err(e) => {
                match e.store_error() {
                    None => log::info!("rejected a line from {}: {e}", self.peer),
                    Some(cause) => {
                        log::error!("cannot queue a line from {}: {cause}", self.peer)
                    }
                }
                format!("ERR {e}")
            }
        };
        stream.write_all(format!("{reply}\r\n").as_bytes())
    }

    /// A `#?` line: `#?checkin NAME ...` (`crate::checkin`); `OK` or
    /// `ERR reason`.
    fn command(&self, line: &str) -> String {
        let call = match crate::checkin::parse_line(line) {
            Some(Ok(call)) => call,
            Some(Err(e)) => return format!("ERR {e}"),
            None => {
                return "ERR unknown command: #?checkin NAME is the only #? line".into();
            }
        };
        let now = crate::pager::clock::now();
        match crate::pager::check_in(&self.intake, &call, self.limits.checkin_grace, now) {
            Ok(r) => {
                log::info!("check-in {} from {}: {r:?}", call.name, self.peer);
                "OK".into()
            }
            Err(e) => {
                match &e {
                    crate::pager::CheckinError::Store(cause) => {
                        log::error!("check-in {} from {}: {cause}", call.name, self.peer)
                    }
                    _ => log::info!("refused check-in {} from {}: {e}", call.name, self.peer),
                }
                format!("ERR {e}")
            }
        }
    }
}
