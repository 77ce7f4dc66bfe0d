//! The bounded accept loop shared by port 2021 (`server.rs`) and the web
//! port (`web/front.rs`): bind, accept, the allowlist (`allow`), a cap on
//! open connections (a `Slot` per connection thread gives its place back
//! however the thread ends), a per-protocol refusal, one named thread per
//! connection running the protocol's handler, and a planned shutdown: a
//! stop flag plus a connection to ourselves to wake the blocking `accept()`
//! ([`Stopper`]).

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use crate::allow::{self, Cidr};

/// How long a refused client gets to take its one-line answer.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// The pause after a failed `accept()` (EMFILE and friends), instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Why a connection is turned away before it gets a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its address is not in the allowlist.
    NotAllowed,
    /// `limit` connections are open already.
    Busy { limit: usize },
}

/// Who may connect, how many at once, and how the protocol's threads and
/// log lines are named.
#[derive(Debug, Clone)]
pub struct Gate {
    /// Who may connect (empty: everyone).
    pub allow: Vec<Cidr>,
    pub max_connections: usize,
    /// Before every log line: `""` for port 2021, `"web: "`.
    pub log_prefix: &'static str,
    /// After the busy log line: the setting to raise, e.g. `" (max-connections)"`.
    pub limit_hint: &'static str,
    /// A connection thread is named `<thread_prefix> <peer>`.
    pub thread_prefix: &'static str,
}

/// A bound listening socket with its stop flag.
pub struct Listener {
    listener: TcpListener,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

/// Stops a [`Listener`]'s accept loop from another thread (or a signal handler).
#[derive(Debug, Clone)]
pub struct Stopper {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Stopper {
    /// Sets the stop flag and connects to the listener, so its blocking
    /// `accept()` returns and the loop sees the flag.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Gives the connection slot back however the thread ends (or when it
/// could not be started).
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Listener {
    /// Binds `addr`. `stop` ends the accept loop once something connects
    /// (see [`Listener::stopper`]); it may be shared with other threads.
    pub fn bind(addr: impl ToSocketAddrs, stop: Arc<AtomicBool>) -> io::Result<Listener> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        Ok(Listener {
            listener,
            addr,
            stop,
        })
    }

    /// The bound address (with the port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stopper(&self) -> Stopper {
        Stopper {
            addr: self.addr,
            stop: Arc::clone(&self.stop),
        }
    }

    /// Accepts until the stop flag is set (and something connects to wake
    /// the accept). A client outside `gate.allow`, or beyond
    /// `gate.max_connections`, gets `refuse` (with a write timeout of 1 s)
    /// and is closed; every other one gets a thread running `handle`.
    pub fn run<R, H>(self, gate: Gate, refuse: R, handle: H)
    where
        R: Fn(&mut TcpStream, Refusal),
        H: Fn(TcpStream, SocketAddr) + Send + Sync + 'static,
    {
        let active = Arc::new(AtomicUsize::new(0));
        let handle = Arc::new(handle);
        let p = gate.log_prefix;
        for stream in self.listener.incoming() {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            let mut stream = match stream {
                Ok(s) => s,
                Err(e) => {
                    log::warn!("{p}accept failed: {e}");
                    thread::sleep(ACCEPT_BACKOFF);
                    continue;
                }
            };
            let Ok(peer) = stream.peer_addr() else {
                continue;
            };
            if !allow::allowed(&gate.allow, peer.ip()) {
                log::warn!("{p}refused {peer}: not in the allow list");
                let _ = stream.set_write_timeout(Some(REFUSAL_WRITE_TIMEOUT));
                refuse(&mut stream, Refusal::NotAllowed);
                continue;
            }
            let limit = gate.max_connections;
            if active.fetch_add(1, Ordering::SeqCst) >= limit {
                active.fetch_sub(1, Ordering::SeqCst);
                log::warn!(
                    "{p}refused {peer}: {limit} connections already open{}",
                    gate.limit_hint
                );
                let _ = stream.set_write_timeout(Some(REFUSAL_WRITE_TIMEOUT));
                refuse(&mut stream, Refusal::Busy { limit });
                continue;
            }
            let slot = Slot(Arc::clone(&active));
            let handle = Arc::clone(&handle);
            let spawned = thread::Builder::new()
                .name(format!("{} {peer}", gate.thread_prefix))
                .spawn(move || {
                    let _slot = slot;
                    handle(stream, peer);
                });
            if let Err(e) = spawned {
                log::error!("{p}cannot start a thread for {peer}: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::mpsc;

    fn gate(max_connections: usize, allow: Vec<Cidr>) -> Gate {
        Gate {
            allow,
            max_connections,
            log_prefix: "",
            limit_hint: "",
            thread_prefix: "test",
        }
    }

    fn answer(addr: SocketAddr) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    fn refuse(stream: &mut TcpStream, why: Refusal) {
        let _ = stream.write_all(format!("{why:?}").as_bytes());
    }

    #[test]
    fn caps_connections_gives_slots_back_and_stops() {
        let listener = Listener::bind("127.0.0.1:0", Arc::new(AtomicBool::new(false))).unwrap();
        let (addr, stopper) = (listener.addr(), listener.stopper());
        // The handlers wait until `go` is dropped.
        let (go, wait) = mpsc::channel::<()>();
        let wait = std::sync::Mutex::new(wait);
        let looping = thread::spawn(move || {
            listener.run(gate(1, Vec::new()), refuse, move |mut s, _| {
                let _ = wait.lock().unwrap().recv();
                let _ = s.write_all(b"served");
            })
        });
        // Accepted in order: the first takes the one slot before the
        // second is looked at.
        let mut first = TcpStream::connect(addr).unwrap();
        first
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert_eq!(answer(addr), "Busy { limit: 1 }");
        drop(go);
        let mut served = String::new();
        first.read_to_string(&mut served).unwrap();
        assert_eq!(served, "served");
        // the slot comes back (just after the first's socket is closed)
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let a = answer(addr);
            if a == "served" {
                break;
            }
            assert_eq!(a, "Busy { limit: 1 }");
            assert!(std::time::Instant::now() < deadline);
            thread::sleep(Duration::from_millis(20));
        }
        stopper.stop();
        looping.join().unwrap();
    }

    #[test]
    fn refuses_addresses_outside_the_allowlist() {
        let only = Cidr::parse("192.0.2.0/24").unwrap();
        let listener = Listener::bind("127.0.0.1:0", Arc::new(AtomicBool::new(false))).unwrap();
        let (addr, stopper) = (listener.addr(), listener.stopper());
        let looping = thread::spawn(move || {
            listener.run(gate(4, vec![only]), refuse, |mut s, _| {
                let _ = s.write_all(b"served");
            })
        });
        assert_eq!(answer(addr), "NotAllowed");
        stopper.stop();
        looping.join().unwrap();
    }
}
