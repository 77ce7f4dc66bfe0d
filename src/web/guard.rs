//! Who may use the web interface, decided by the front from the request
//! head, before any body is read and before a worker is involved: the
//! `Host`/`Origin` rule ([`HostRule`]), the accounts (the web's HTTP Basic
//! one, `/cgi-bin/sendsms`'s), the password checks ([`Verifier`]: a cache,
//! a few Argon2 runs at once) and the per-peer throttle ([`Throttle`]).
//!
//! The front runs on the connection's thread, which counts against its
//! peer's share of connections: a peer that guesses waits on its own time.

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::auth::{Account, Verifier};
use super::host::HostRule;
use super::throttle::{Throttle, Turn};
use crate::charset::Legacy;
use crate::peer::PeerKey;
use crate::spool::Spool;
use crate::store::{ErrorKind, Store};
use crate::token;

/// How long a check may wait for its peer's turn and for a place.
const CHECK_WAIT: Duration = Duration::from_secs(10);

/// Which account a request is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Realm {
    /// The pages and the API: HTTP Basic.
    Web,
    /// `/cgi-bin/sendsms`: `username=`/`password=` parameters.
    Kannel,
}

/// Why a request is turned away before its body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No credentials.
    Missing,
    /// Wrong user name or password.
    Wrong,
    /// Too many wrong passwords from this peer: the next check in this long.
    Throttled(Duration),
    /// No place to check a password (all busy for [`CHECK_WAIT`]).
    Busy,
    /// sendsms without any account configured.
    Off,
    /// An API token that is not (or no longer) one of `smss token list`.
    WrongToken,
    /// The database that holds the tokens cannot be reached.
    TokensUnavailable,
}

pub struct Guard {
    pub hosts: HostRule,
    /// The legacy charset of query strings and forms (sendsms's credentials).
    pub legacy: Legacy,
    /// `None`: the web needs no password (loopback without a hash).
    web: Option<Account>,
    kannel: Option<Account>,
    verifier: Verifier,
    throttle: Mutex<Throttle>,
    /// Signalled when a peer's check ends.
    turn: Condvar,
    /// Where the API tokens' hashes are (`None`: no tokens accepted).
    tokens: Option<Arc<dyn Store>>,
    /// The local spool of a MySQL store, whose copy of the tokens answers
    /// while the database is unreachable.
    spool: Option<Arc<Spool>>,
}

impl Guard {
    pub fn new(
        hosts: HostRule,
        legacy: Legacy,
        web: Option<Account>,
        kannel: Option<Account>,
        verifier: Verifier,
        throttle: Throttle,
    ) -> Guard {
        Guard {
            hosts,
            legacy,
            web,
            kannel,
            verifier,
            throttle: Mutex::new(throttle),
            turn: Condvar::new(),
            tokens: None,
            spool: None,
        }
    }

    /// The same guard, accepting the API tokens kept in `store`.
    pub fn with_tokens(mut self, store: Arc<dyn Store>) -> Guard {
        self.tokens = Some(store);
        self
    }

    /// The same guard, checking tokens against `spool`'s copy while the
    /// database is unreachable.
    pub fn with_spool(mut self, spool: Option<Arc<Spool>>) -> Guard {
        self.spool = spool;
        self
    }

    /// The user an API token acts as (`token:NAME`), or why not. Looked up
    /// in the database each time (one SHA-256, one indexed read), so a
    /// token revoked by `smss token revoke` in another process is refused
    /// at once; while the database is unreachable, in the spool's copy
    /// (a token revoked since is accepted, one not in it is 503). No
    /// throttle: a token is 256 random bits, nothing to guess; one of the
    /// wrong shape costs no query.
    pub fn authenticate_token(&self, secret: &str, peer: SocketAddr) -> Result<String, Denied> {
        let Some(store) = &self.tokens else {
            return Err(Denied::WrongToken);
        };
        if !token::plausible(secret) {
            return Err(Denied::WrongToken);
        }
        let hash = token::hash(secret);
        let spool = match &self.spool {
            Some(spool) if spool.is_degraded() => spool,
            spool => match store.token_name(&hash) {
                Ok(Some(name)) => return Ok(format!("token:{name}")),
                Ok(None) => return Err(Denied::WrongToken),
                Err(e) => match spool {
                    Some(spool) if e.kind() == ErrorKind::Unavailable => {
                        spool.enter_degraded(&e);
                        spool
                    }
                    _ => {
                        log::error!("web: {peer}: cannot check an API token: {e}");
                        return Err(Denied::TokensUnavailable);
                    }
                },
            },
        };
        // Not in the copy: maybe made since, we cannot know it is wrong.
        match spool.copied_token(&hash) {
            Ok(Some(name)) => Ok(format!("token:{name}")),
            Ok(None) => Err(Denied::TokensUnavailable),
            Err(e) => {
                log::error!("web: {peer}: cannot check an API token in the spool's copy: {e}");
                Err(Denied::TokensUnavailable)
            }
        }
    }

    /// Whether the web (pages, API) needs a password.
    pub fn web_needs_password(&self) -> bool {
        self.web.is_some()
    }

    /// The user a request acts as (`""` when the web needs no password),
    /// or why it is denied. Logs each wrong password with its peer.
    pub fn authenticate(
        &self,
        realm: Realm,
        credentials: Option<(String, String)>,
        peer: SocketAddr,
    ) -> Result<String, Denied> {
        let account = match (realm, &self.web, &self.kannel) {
            (Realm::Web, None, _) => return Ok(String::new()),
            (Realm::Web, Some(a), _) | (Realm::Kannel, _, Some(a)) => a,
            (Realm::Kannel, _, None) => return Err(Denied::Off),
        };
        let Some((user, password)) = credentials else {
            return Err(Denied::Missing);
        };
        let key = PeerKey::of(peer.ip());
        // Right credentials checked lately: no Argon2, no throttle (a
        // guesser gains nothing from it), and the peer starts over.
        if self.verifier.cached(account, &user, &password) {
            self.throttle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .forgive(key);
            return Ok(user);
        }
        let deadline = Instant::now() + CHECK_WAIT;
        let mut throttle = self.throttle.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match throttle.begin(key, Instant::now()) {
                Turn::Go => break,
                Turn::Later(left) => return Err(Denied::Throttled(left)),
                Turn::Queue => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Denied::Busy);
                    }
                    throttle = self
                        .turn
                        .wait_timeout(throttle, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                    // the check before ours may have verified the same
                    if self.verifier.cached(account, &user, &password) {
                        return Ok(user);
                    }
                }
            }
        }
        drop(throttle);
        let wait = deadline.saturating_duration_since(Instant::now());
        let result = self.verifier.check(account, &user, &password, wait);
        let mut throttle = self.throttle.lock().unwrap_or_else(|e| e.into_inner());
        let outcome = match result {
            Err(_) => {
                throttle.abandon(key);
                Err(Denied::Busy)
            }
            Ok(true) => {
                throttle.end(key, Instant::now(), true);
                Ok(user)
            }
            Ok(false) => {
                let (failures, delay) = throttle.end(key, Instant::now(), false);
                let what = match realm {
                    Realm::Web => "wrong user name or password",
                    Realm::Kannel => "sendsms: authorization failed (wrong username or password)",
                };
                let next = if delay.is_zero() {
                    String::new()
                } else {
                    format!("; its next check in {delay:?}")
                };
                log::warn!("web: {peer} {what} ({failures} in a row from {key}{next})");
                Err(Denied::Wrong)
            }
        };
        drop(throttle);
        self.turn.notify_all();
        outcome
    }

    /// Argon2 runs so far.
    pub fn argon2_runs(&self) -> u64 {
        self.verifier.argon2_runs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(delay: Duration) -> Guard {
        let hash = crate::password::hash("right").unwrap();
        let web = Account::new("admin", &hash).unwrap();
        let kannel = Account::new("nagios", &hash).unwrap();
        let verifier = Verifier::new([3; 32], 2, &[&web, &kannel]);
        Guard::new(
            HostRule::new("127.0.0.1:1".parse().unwrap(), &[]),
            Legacy::Windows1250,
            Some(web),
            Some(kannel),
            verifier,
            Throttle::new(delay, delay * 4),
        )
    }

    fn creds(user: &str, password: &str) -> Option<(String, String)> {
        Some((user.into(), password.into()))
    }

    #[test]
    fn accounts_throttle_and_cache() {
        let g = guard(Duration::from_secs(60));
        let peer: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let other: SocketAddr = "192.0.2.2:5000".parse().unwrap();
        assert_eq!(g.authenticate(Realm::Web, None, peer), Err(Denied::Missing));
        assert_eq!(
            g.authenticate(Realm::Web, creds("admin", "right"), peer),
            Ok("admin".into())
        );
        assert_eq!(
            g.authenticate(Realm::Kannel, creds("admin", "right"), peer),
            Err(Denied::Wrong),
            "the web's user is not sendsms's"
        );
        // now throttled for a minute: even the right password waits...
        assert!(matches!(
            g.authenticate(Realm::Kannel, creds("nagios", "right"), peer),
            Err(Denied::Throttled(d)) if d > Duration::from_secs(50)
        ));
        // ...unless it was verified lately (the cache needs the password)
        assert_eq!(
            g.authenticate(Realm::Web, creds("admin", "right"), peer),
            Ok("admin".into())
        );
        // another peer is not throttled
        assert_eq!(
            g.authenticate(Realm::Kannel, creds("nagios", "right"), other),
            Ok("nagios".into())
        );
        let runs = g.argon2_runs();
        assert_eq!(runs, 3);
    }

    #[test]
    fn no_password_on_an_open_web() {
        let g = Guard::new(
            HostRule::new("127.0.0.1:1".parse().unwrap(), &[]),
            Legacy::Windows1250,
            None,
            None,
            Verifier::new([3; 32], 1, &[]),
            Throttle::new(Duration::ZERO, Duration::ZERO),
        );
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert_eq!(g.authenticate(Realm::Web, None, peer), Ok(String::new()));
        assert!(!g.web_needs_password());
        assert_eq!(
            g.authenticate(Realm::Kannel, creds("a", "b"), peer),
            Err(Denied::Off)
        );
    }
}
