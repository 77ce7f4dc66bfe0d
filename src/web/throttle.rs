//! The per-peer throttle of password checks, pure (time passed in).
//!
//! * One check at a time per peer (an address, an IPv6 /64): a peer cannot
//!   take more than one of the few places where passwords are checked, so
//!   one that guesses leaves the others theirs.
//! * After a wrong password the peer's next check waits `base`, doubling
//!   with each failure in a row up to `max` (`web-auth-delay`,
//!   `web-auth-max-delay`); a check asked for earlier is refused with the
//!   time left (the web answers `429` with `Retry-After`), not run. A right
//!   password starts the peer over.
//! * A peer is forgotten after twice `max` without a failure, and at most
//!   [`MAX_PEERS`] are remembered (beyond, the one quiet the longest goes).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::peer::PeerKey;

/// Peers remembered at most.
pub const MAX_PEERS: usize = 10_000;

/// What a peer asking for a check may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// Check now; then call [`Throttle::end`].
    Go,
    /// Another check of this peer is running: wait for it to end.
    Queue,
    /// Refused: wrong passwords; the next check in this long.
    Later(Duration),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    blocked_until: Instant,
    last_failure: Instant,
    checking: bool,
}

#[derive(Debug)]
pub struct Throttle {
    base: Duration,
    max: Duration,
    max_peers: usize,
    peers: HashMap<PeerKey, Entry>,
}

impl Throttle {
    /// `base` zero: no delays (one check at a time per peer still).
    pub fn new(base: Duration, max: Duration) -> Throttle {
        Throttle::with_capacity(base, max, MAX_PEERS)
    }

    fn with_capacity(base: Duration, max: Duration, max_peers: usize) -> Throttle {
        Throttle {
            base,
            max: max.max(base),
            max_peers: max_peers.max(1),
            peers: HashMap::new(),
        }
    }

    /// The delay after `failures` wrong passwords in a row.
    pub fn delay(&self, failures: u32) -> Duration {
        if failures == 0 || self.base.is_zero() {
            return Duration::ZERO;
        }
        let factor = 1u32 << (failures - 1).min(20);
        self.base.saturating_mul(factor).min(self.max)
    }

    fn forgotten(&self, e: &Entry, now: Instant) -> bool {
        !e.checking
            && (e.failures == 0
                || now.saturating_duration_since(e.last_failure) >= self.max.saturating_mul(2))
    }

    /// May `peer` have a password checked now?
    pub fn begin(&mut self, peer: PeerKey, now: Instant) -> Turn {
        if let Some(e) = self.peers.get(&peer)
            && self.forgotten(e, now)
        {
            self.peers.remove(&peer);
        }
        if !self.peers.contains_key(&peer) && self.peers.len() >= self.max_peers {
            self.make_room(now);
        }
        let e = self.peers.entry(peer).or_insert(Entry {
            failures: 0,
            blocked_until: now,
            last_failure: now,
            checking: false,
        });
        if e.checking {
            return Turn::Queue;
        }
        if now < e.blocked_until {
            return Turn::Later(e.blocked_until - now);
        }
        e.checking = true;
        Turn::Go
    }

    /// The check that [`Throttle::begin`] allowed has ended. After a wrong
    /// password: the failures in a row and the delay before the next check.
    pub fn end(&mut self, peer: PeerKey, now: Instant, ok: bool) -> (u32, Duration) {
        let Some(e) = self.peers.get_mut(&peer) else {
            return (0, Duration::ZERO);
        };
        e.checking = false;
        if ok {
            self.peers.remove(&peer);
            return (0, Duration::ZERO);
        }
        e.failures = e.failures.saturating_add(1);
        e.last_failure = now;
        let failures = e.failures;
        let delay = self.delay(failures);
        if let Some(e) = self.peers.get_mut(&peer) {
            e.blocked_until = now + delay;
        }
        (failures, delay)
    }

    /// `peer` showed the right credentials without a check (they were
    /// verified lately): it starts over, unless a check of its runs.
    pub fn forgive(&mut self, peer: PeerKey) {
        if self.peers.get(&peer).is_some_and(|e| !e.checking) {
            self.peers.remove(&peer);
        }
    }

    /// A check that [`Throttle::begin`] allowed did not run (no place for
    /// it): neither a failure nor a success.
    pub fn abandon(&mut self, peer: PeerKey) {
        if let Some(e) = self.peers.get_mut(&peer) {
            e.checking = false;
        }
    }

    fn make_room(&mut self, now: Instant) {
        let peers = std::mem::take(&mut self.peers);
        self.peers = peers
            .into_iter()
            .filter(|(_, e)| !self.forgotten(e, now))
            .collect();
        if self.peers.len() >= self.max_peers
            && let Some(oldest) = self
                .peers
                .iter()
                .filter(|(_, e)| !e.checking)
                .min_by_key(|(_, e)| e.last_failure)
                .map(|(k, _)| *k)
        {
            self.peers.remove(&oldest);
        }
    }

    /// Peers remembered now.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(last: u8) -> PeerKey {
        PeerKey::of(std::net::IpAddr::from([192, 0, 2, last]))
    }

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn the_delay_doubles_up_to_the_max_and_a_success_starts_over() {
        let mut t = Throttle::new(S, 4 * S);
        let a = key(1);
        let mut now = Instant::now();
        let mut delays = Vec::new();
        for _ in 0..4 {
            assert_eq!(t.begin(a, now), Turn::Go);
            let (_, delay) = t.end(a, now, false);
            delays.push(delay);
            // too early: refused with the time left
            assert_eq!(t.begin(a, now + delay / 2), Turn::Later(delay - delay / 2));
            now += delay;
        }
        assert_eq!(delays, [S, 2 * S, 4 * S, 4 * S]);
        // another peer is not affected
        assert_eq!(t.begin(key(2), now), Turn::Go);
        // the right password: over
        assert_eq!(t.begin(a, now), Turn::Go);
        assert_eq!(t.end(a, now, true), (0, Duration::ZERO));
        assert_eq!(t.begin(a, now), Turn::Go);
        assert_eq!(t.end(a, now, false), (1, S));
        // credentials verified lately: forgiven without a check
        t.forgive(a);
        assert_eq!(t.begin(a, now), Turn::Go);
        t.forgive(a); // not while its check runs
        assert_eq!(t.end(a, now, false), (1, S));
    }

    #[test]
    fn one_check_at_a_time_per_peer() {
        let mut t = Throttle::new(Duration::ZERO, Duration::ZERO);
        let now = Instant::now();
        assert_eq!(t.begin(key(1), now), Turn::Go);
        assert_eq!(t.begin(key(1), now), Turn::Queue);
        assert_eq!(t.begin(key(2), now), Turn::Go);
        // no delay configured: a failure costs nothing more
        assert_eq!(t.end(key(1), now, false), (1, Duration::ZERO));
        assert_eq!(t.begin(key(1), now), Turn::Go);
        t.abandon(key(1));
        assert_eq!(t.begin(key(1), now), Turn::Go);
    }

    #[test]
    fn peers_are_forgotten_and_bounded() {
        let mut t = Throttle::with_capacity(S, 4 * S, 3);
        let now = Instant::now();
        for i in 0..3 {
            assert_eq!(t.begin(key(i), now), Turn::Go);
            t.end(key(i), now + Duration::from_millis(u64::from(i)), false);
        }
        assert_eq!(t.len(), 3);
        // a fourth: the one that failed longest ago makes room
        assert_eq!(t.begin(key(9), now + S), Turn::Go);
        assert_eq!(t.len(), 3);
        assert_eq!(t.begin(key(0), now + S), Turn::Go, "key 0 was forgotten");
        // quiet for twice the max: forgotten, starting over
        let later = now + 9 * S;
        assert_eq!(t.begin(key(1), later), Turn::Go);
        assert_eq!(t.end(key(1), later, false), (1, S));
    }
}
