//! The TCP listener of port 2021: one thread per connection, a bound on how
//! many, and per connection an idle timeout, a line length limit and the
//! quiet pause that ends a line an old client sends without a newline.
//! A line is answered only after its requests are committed.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::allow::{self, Cidr};
use crate::charset::{self, Legacy};
use crate::outbox::Wake;
use crate::protocol;
use crate::store::{NewMessage, Store, StoreError};

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    pub max_line_bytes: usize,
    pub idle_timeout: Duration,
    pub quiet_pause: Duration,
    pub max_parts: usize,
    pub legacy_charset: Legacy,
    /// Who may connect (empty: everyone).
    pub allow: Vec<Cidr>,
}

pub struct Server {
    listener: TcpListener,
    store: Arc<dyn Store>,
    wake: mpsc::Sender<Wake>,
    limits: Arc<Limits>,
    stop: Arc<AtomicBool>,
    active: Arc<AtomicUsize>,
}

impl Server {
    pub fn new(
        listener: TcpListener,
        store: Arc<dyn Store>,
        wake: mpsc::Sender<Wake>,
        limits: Limits,
        stop: Arc<AtomicBool>,
    ) -> Server {
        Server {
            listener,
            store,
            wake,
            limits: Arc::new(limits),
            stop,
            active: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Accepts until `stop` is set (and something connects to wake us).
    pub fn run(&self) {
        for stream in self.listener.incoming() {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            match stream {
                Ok(stream) => self.accept(stream),
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    log::warn!("accept failed: {e}");
                    thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    fn accept(&self, mut stream: TcpStream) {
        let peer = match stream.peer_addr() {
            Ok(p) => p,
            Err(_) => return,
        };
        if !allow::allowed(&self.limits.allow, peer.ip()) {
            log::warn!("refused {peer}: not in the allow list");
            let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = stream.write_all(b"ERR not allowed\r\n");
            return;
        }
        let limit = self.limits.max_connections;
        if self.active.fetch_add(1, Ordering::SeqCst) >= limit {
            self.active.fetch_sub(1, Ordering::SeqCst);
            log::warn!("refused {peer}: {limit} connections already open (max-connections)");
            let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = stream.write_all(
                format!("ERR busy: too many connections (limit {limit})\r\n").as_bytes(),
            );
            return;
        }
        let conn = Connection {
            peer,
            store: Arc::clone(&self.store),
            wake: self.wake.clone(),
            limits: Arc::clone(&self.limits),
        };
        let active = Arc::clone(&self.active);
        let spawned = thread::Builder::new()
            .name(format!("conn {peer}"))
            .spawn(move || {
                let _slot = Slot(active);
                conn.serve(stream);
            });
        if let Err(e) = spawned {
            log::error!("cannot start a thread for {peer}: {e}");
        }
    }
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

/// Gives the connection slot back however the thread ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Connection {
    peer: SocketAddr,
    store: Arc<dyn Store>,
    wake: mpsc::Sender<Wake>,
    limits: Arc<Limits>,
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

    /// Parses, commits and answers one line. Blank lines get no answer.
    fn answer(&self, stream: &mut TcpStream, raw: &[u8]) -> io::Result<()> {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = charset::decode_line(raw, self.limits.legacy_charset);
        if line.trim().is_empty() {
            return Ok(());
        }
        let reply = match protocol::parse_line(&line, self.limits.max_parts) {
            Err(e) => {
                log::info!("rejected a line from {}: {e}", self.peer);
                format!("ERR {e}")
            }
            Ok(requests) => {
                let msgs: Vec<NewMessage> = requests
                    .into_iter()
                    .map(|r| NewMessage {
                        phone: r.phone,
                        text: r.text,
                        source: format!("ip:{}", self.peer.ip()),
                    })
                    .collect();
                match self.store.enqueue(&msgs) {
                    Ok(ids) => {
                        let _ = self.wake.send(Wake::Queued);
                        let answer = protocol::ok_answer(&ids);
                        log::info!("accepted from {}: {answer}", self.peer);
                        answer
                    }
                    Err(StoreError::Unavailable(e)) => {
                        log::error!(
                            "cannot queue a line from {}: database unavailable: {e}",
                            self.peer
                        );
                        "ERR database unavailable, try again later".to_owned()
                    }
                    Err(e) => {
                        log::error!("cannot queue a line from {}: {e}", self.peer);
                        "ERR cannot store the request, see the server log".to_owned()
                    }
                }
            }
        };
        stream.write_all(format!("{reply}\r\n").as_bytes())
    }
}
