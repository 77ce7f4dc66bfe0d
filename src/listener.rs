//! The bounded accept loop shared by port 2021 (`server.rs`) and the web
//! port (`web/front.rs`): bind, accept, the allowlist (`allow`), a cap on
//! open connections per peer (an address, an IPv6 /64: [`crate::peer`])
//! and in all (a `Slot` per connection thread gives both places back
//! however the thread ends), a per-protocol refusal logged once per peer
//! per minute however often it happens, one named thread per
//! connection running the protocol's handler, and a planned shutdown: a
//! stop flag plus a connection to ourselves to wake the blocking `accept()`
//! ([`Stopper`]).

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::allow::{self, Cidr};
use crate::peer::{self, LogLimiter, PeerCounts, PeerKey};

/// How long a refused client gets to take its one-line answer.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// The pause after a failed `accept()` (EMFILE and friends), instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// A refused peer is logged once per this, however often it is refused.
const REFUSAL_LOG_WINDOW: Duration = Duration::from_secs(60);
/// Peers whose refusal lines are counted one by one; beyond, they share one.
const REFUSAL_LOG_PEERS: usize = 4096;

/// Why a connection is turned away before it gets a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its address is not in the allowlist.
    NotAllowed,
    /// `limit` connections are open already.
    Busy { limit: usize },
    /// `limit` connections of this peer are open already.
    PeerBusy { limit: usize },
}

/// Who may connect, how many at once, and how the protocol's threads and
/// log lines are named.
#[derive(Debug, Clone)]
pub struct Gate {
    /// Who may connect (empty: everyone).
    pub allow: Vec<Cidr>,
    pub max_connections: usize,
    /// Connections of one peer (an address, an IPv6 /64) at once.
    pub max_per_peer: usize,
    /// Before every log line: `""` for port 2021, `"web: "`.
    pub log_prefix: &'static str,
    /// After the busy log line: the setting to raise, e.g. `" (max-connections)"`.
    pub limit_hint: &'static str,
    /// After the per-peer busy log line, e.g. `" (max-connections-per-peer)"`.
    pub peer_limit_hint: &'static str,
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

/// Gives the connection's places back (in all, and its peer's) however
/// the thread ends (or when it could not be started).
struct Slot {
    active: Arc<AtomicUsize>,
    peers: Arc<PeerCounts>,
    peer: PeerKey,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.active.fetch_sub(1, Ordering::SeqCst);
        self.peers.remove(self.peer);
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
    /// the accept). A client outside `gate.allow`, beyond its peer's
    /// `gate.max_per_peer` or beyond `gate.max_connections`, gets `refuse`
    /// (with a write timeout of 1 s) and is closed, and a log line unless
    /// its peer had one within the last minute; every other one gets a
    /// thread running `handle`.
    pub fn run<R, H>(self, gate: Gate, refuse: R, handle: H)
    where
        R: Fn(&mut TcpStream, Refusal),
        H: Fn(TcpStream, SocketAddr) + Send + Sync + 'static,
    {
        let active = Arc::new(AtomicUsize::new(0));
        let peers = Arc::new(PeerCounts::default());
        let mut log = LogLimiter::new(REFUSAL_LOG_WINDOW, REFUSAL_LOG_PEERS);
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
            let Ok(addr) = stream.peer_addr() else {
                continue;
            };
            let peer = PeerKey::of(addr.ip());
            let refusal = if !allow::allowed(&gate.allow, addr.ip()) {
                Some(Refusal::NotAllowed)
            } else if !peers.try_add(peer, gate.max_per_peer) {
                Some(Refusal::PeerBusy {
                    limit: gate.max_per_peer,
                })
            } else if active.fetch_add(1, Ordering::SeqCst) >= gate.max_connections {
                active.fetch_sub(1, Ordering::SeqCst);
                peers.remove(peer);
                Some(Refusal::Busy {
                    limit: gate.max_connections,
                })
            } else {
                None
            };
            if let Some(why) = refusal {
                if let Some(held) = log.admit(peer, Instant::now()) {
                    let reason = match why {
                        Refusal::NotAllowed => "not in the allow list".to_owned(),
                        Refusal::PeerBusy { limit } => format!(
                            "{limit} connections from {peer} already open{}",
                            gate.peer_limit_hint
                        ),
                        Refusal::Busy { limit } => {
                            format!("{limit} connections already open{}", gate.limit_hint)
                        }
                    };
                    log::warn!("{p}refused {addr}: {reason}{}", peer::held_back(held));
                }
                let _ = stream.set_write_timeout(Some(REFUSAL_WRITE_TIMEOUT));
                refuse(&mut stream, why);
                continue;
            }
            let slot = Slot {
                active: Arc::clone(&active),
                peers: Arc::clone(&peers),
                peer,
            };
            let handle = Arc::clone(&handle);
            let spawned = thread::Builder::new()
                .name(format!("{} {addr}", gate.thread_prefix))
                .spawn(move || {
                    let _slot = slot;
                    handle(stream, addr);
                });
            if let Err(e) = spawned {
                log::error!("{p}cannot start a thread for {addr}: {e}");
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
            // the global cap is what these tests look at
            max_per_peer: max_connections + 1,
            log_prefix: "",
            limit_hint: "",
            peer_limit_hint: "",
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

    /// A connection from `from` (another address of 127.0.0.0/8: another peer).
    fn connect_from(last: u8, to: SocketAddr) -> TcpStream {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let from = SocketAddr::from(([127, 0, 0, last], 0));
        socket.bind(&from.into()).unwrap();
        socket.connect(&to.into()).unwrap();
        let s: TcpStream = socket.into();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    fn answer_of(mut s: TcpStream) -> String {
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    #[test]
    fn caps_connections_per_peer_within_the_global_cap() {
        let listener = Listener::bind("127.0.0.1:0", Arc::new(AtomicBool::new(false))).unwrap();
        let (addr, stopper) = (listener.addr(), listener.stopper());
        let (go, wait) = mpsc::channel::<()>();
        let wait = std::sync::Mutex::new(wait);
        let limits = Gate {
            max_per_peer: 2,
            ..gate(3, Vec::new())
        };
        let looping = thread::spawn(move || {
            listener.run(limits, refuse, move |mut s, _| {
                let _ = wait.lock().unwrap().recv();
                let _ = s.write_all(b"served");
            })
        });
        // Peer .1 holds its two; its third is refused, though one place is free.
        let held = [connect_from(1, addr), connect_from(1, addr)];
        assert_eq!(answer_of(connect_from(1, addr)), "PeerBusy { limit: 2 }");
        // Another peer takes the last place; then all three are taken.
        let other = connect_from(2, addr);
        assert_eq!(answer_of(connect_from(3, addr)), "Busy { limit: 3 }");
        drop(go);
        for s in held.into_iter().chain([other]) {
            assert_eq!(answer_of(s), "served");
        }
        // Both peers' places come back.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (a, b) = (
                answer_of(connect_from(1, addr)),
                answer_of(connect_from(1, addr)),
            );
            if (a.as_str(), b.as_str()) == ("served", "served") {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{a} {b}");
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
