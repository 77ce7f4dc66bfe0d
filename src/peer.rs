//! Peers: who a connection, a login failure or a log line counts against.
//!
//! A peer is an IPv4 address, or an IPv6 /64: one host usually has a whole
//! /64 to pick source addresses from, so counting IPv6 addresses one by one
//! would give it millions of shares. An IPv4-mapped IPv6 address
//! (`::ffff:192.0.2.7`, a dual-stack listener) is its IPv4 address.
//!
//! [`PeerCounts`] holds the open connections per peer (the listener's
//! per-peer cap); [`LogLimiter`] lets one log line per peer through per
//! window, so that a peer refused a thousand times a minute costs one line.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerKey {
    V4(Ipv4Addr),
    /// The first 64 bits of the address.
    V6Net(u64),
}

impl PeerKey {
    pub fn of(ip: IpAddr) -> PeerKey {
        match ip {
            IpAddr::V4(v4) => PeerKey::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => PeerKey::V4(v4),
                None => PeerKey::V6Net((v6.to_bits() >> 64) as u64),
            },
        }
    }
}

/// `192.0.2.7`, or `2001:db8:1:2::/64`.
impl fmt::Display for PeerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerKey::V4(v4) => v4.fmt(f),
            PeerKey::V6Net(net) => write!(f, "{}/64", Ipv6Addr::from_bits(u128::from(*net) << 64)),
        }
    }
}

/// Open connections per peer, for a cap per peer. Shared by the accept
/// loop (which adds) and the connection threads (which remove, however
/// they end).
#[derive(Debug, Default)]
pub struct PeerCounts {
    open: Mutex<HashMap<PeerKey, usize>>,
}

impl PeerCounts {
    /// Counts one more connection of `peer`, unless it has `limit` already.
    pub fn try_add(&self, peer: PeerKey, limit: usize) -> bool {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(peer).or_insert(0);
        if *n >= limit {
            if *n == 0 {
                open.remove(&peer);
            }
            return false;
        }
        *n += 1;
        true
    }

    /// One connection of `peer` has ended.
    pub fn remove(&self, peer: PeerKey) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&peer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&peer);
            }
        }
    }

    /// How many connections `peer` has open.
    pub fn open(&self, peer: PeerKey) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(&peer).copied().unwrap_or(0)
    }
}

/// Lets one log line per peer through per `window`. Remembers at most
/// `max_peers` peers; beyond that (many peers at once), all others share
/// one line per window.
#[derive(Debug)]
pub struct LogLimiter {
    window: Duration,
    max_peers: usize,
    /// `None`: the peers beyond `max_peers`.
    last: HashMap<Option<PeerKey>, Logged>,
}

#[derive(Debug, Clone, Copy)]
struct Logged {
    at: Instant,
    /// Lines held back since.
    held: u64,
}

impl LogLimiter {
    pub fn new(window: Duration, max_peers: usize) -> LogLimiter {
        LogLimiter {
            window,
            max_peers,
            last: HashMap::new(),
        }
    }

    /// Whether to log a line about `peer` now: `Some(n)` with the number of
    /// its lines held back since its last line, or `None` (held back).
    pub fn admit(&mut self, peer: PeerKey, now: Instant) -> Option<u64> {
        let mut key = Some(peer);
        if !self.last.contains_key(&key) && self.last.len() >= self.max_peers {
            let window = self.window;
            self.last
                .retain(|_, l| now.saturating_duration_since(l.at) < window);
            if self.last.len() >= self.max_peers {
                key = None;
            }
        }
        match self.last.get_mut(&key) {
            Some(l) if now.saturating_duration_since(l.at) < self.window => {
                l.held += 1;
                None
            }
            Some(l) => {
                let held = l.held;
                *l = Logged { at: now, held: 0 };
                Some(held)
            }
            None => {
                self.last.insert(key, Logged { at: now, held: 0 });
                Some(0)
            }
        }
    }
}

/// `"; 56 more since the last line about this peer"`, or nothing.
pub fn held_back(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!("; {n} more since the last line about this peer")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> PeerKey {
        PeerKey::of(s.parse().unwrap())
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
        assert_eq!(key("2001:db8:1:2:aaaa::1").to_string(), "2001:db8:1:2::/64");
        assert_eq!(key("::ffff:192.0.2.7").to_string(), "192.0.2.7");
    }

    #[test]
    fn counts_to_the_limit_and_back() {
        let c = PeerCounts::default();
        let (a, b) = (key("192.0.2.1"), key("192.0.2.2"));
        assert!(c.try_add(a, 2));
        assert!(c.try_add(a, 2));
        assert!(!c.try_add(a, 2));
        assert!(c.try_add(b, 2));
        c.remove(a);
        assert_eq!(c.open(a), 1);
        assert!(c.try_add(a, 2));
        c.remove(a);
        c.remove(a);
        c.remove(a); // one too many: no underflow
        assert_eq!(c.open(a), 0);
        assert!(c.open.lock().unwrap().get(&a).is_none(), "forgotten at 0");
        assert!(!c.try_add(a, 0));
        assert!(c.open.lock().unwrap().get(&a).is_none());
    }

    #[test]
    fn one_line_per_peer_per_window() {
        let mut log = LogLimiter::new(Duration::from_secs(60), 2);
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let (a, b, c, d, e) = (
            key("192.0.2.1"),
            key("192.0.2.2"),
            key("192.0.2.3"),
            key("192.0.2.4"),
            key("192.0.2.5"),
        );
        assert_eq!(log.admit(a, t0), Some(0));
        for i in 1..=56 {
            assert_eq!(log.admit(a, t0 + Duration::from_millis(i * 100)), None);
        }
        assert_eq!(log.admit(b, t0), Some(0), "another peer has its own line");
        assert_eq!(
            log.admit(a, t0 + s(60)),
            Some(56),
            "a minute later, with the count"
        );
        assert_eq!(log.admit(a, t0 + s(61)), None);
        // b's window is over: forgotten, c takes its place
        assert_eq!(log.admit(c, t0 + s(62)), Some(0));
        // more peers while two are remembered: they share one line
        assert_eq!(log.admit(d, t0 + s(63)), Some(0));
        assert_eq!(log.admit(e, t0 + s(64)), None);
        assert_eq!(log.last.len(), 3, "a, c and the shared line");
        // once the others' windows are over, a new peer gets its own entry
        assert_eq!(log.admit(e, t0 + s(200)), Some(0));
        assert_eq!(log.last.len(), 1);
    }
}
