//! The MySQL store's connections: at most `max` open, each checked with a
//! ping when it is handed out, reused newest first, closed after a minute
//! unused and replaced after [`CONN_USES`] uses.
//!
//! Why not the driver's `mysql::Pool`: the driver reads into a 4 MiB
//! buffer per connection (mysql_common `MySyncFramed`, `BytesMut` with
//! capacity `DEFAULT_MAX_ALLOWED_PACKET`) and moves through it as packets
//! arrive, coming back to its start only at the end. A connection kept for
//! ever therefore ends up with all 4 MiB resident, and the driver's pool
//! keeps every connection it ever opened (up to 10) and hands them out in
//! turn: a `serve` that had one burst sat at about 7 + 40 MiB for the rest
//! of its life. Replacing a connection after [`CONN_USES`] uses bounds what
//! it touches (a few hundred bytes arrive per use), for one reconnection
//! (a few ms) per thousand uses. And its pool reset each connection on
//! return (five round trips more per transaction), which nothing here needs:
//! every store call ends its transaction (a dropped `Transaction` rolls
//! back), and the session settings are the init ones.

use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mysql::{Conn, DriverError, Opts};

/// Uses after which a connection is closed rather than handed out again.
pub const CONN_USES: u32 = 1000;
/// Idle connections unused this long are closed (the newest one is kept).
const IDLE_CLOSE: Duration = Duration::from_secs(60);

pub struct Pool {
    opts: Opts,
    max: usize,
    state: Mutex<State>,
    /// Signalled when a connection is returned or closed.
    freed: Condvar,
}

struct State {
    /// Connections not in use, the most recently returned last.
    idle: Vec<Idle>,
    /// Connections open or being opened, in use or idle.
    open: usize,
}

struct Idle {
    conn: Conn,
    uses: u32,
    since: Instant,
}

impl Pool {
    /// Connects lazily: the first [`Pool::get`] opens the first connection.
    pub fn new(opts: Opts, max: usize) -> Pool {
        Pool {
            opts,
            max: max.max(1),
            state: Mutex::new(State {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing is left half-changed under this lock by a panic.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A live connection: an idle one that answers a ping, else a new one
    /// while fewer than `max` are open, else the first one returned within
    /// `wait` (`DriverError::Timeout` after that).
    pub fn get(&self, wait: Duration) -> mysql::Result<PooledConn<'_>> {
        let deadline = Instant::now() + wait;
        let mut state = self.lock();
        loop {
            if let Some(idle) = state.idle.pop() {
                drop(state);
                let mut conn = idle.conn;
                if conn.ping().is_ok() {
                    return Ok(self.lend(conn, idle.uses));
                }
                // Gone (a restarted server, a killed connection): another.
                drop(conn);
                state = self.lock();
                state.open -= 1;
                continue;
            }
            if state.open < self.max {
                state.open += 1;
                drop(state);
                return match Conn::new(self.opts.clone()) {
                    Ok(conn) => Ok(self.lend(conn, 0)),
                    Err(e) => {
                        self.lock().open -= 1;
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(DriverError::Timeout.into());
            }
            state = self
                .freed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn lend(&self, conn: Conn, uses: u32) -> PooledConn<'_> {
        PooledConn {
            pool: self,
            conn: Some(conn),
            uses,
            discard: false,
        }
    }

    /// How many connections are open and how many of them idle (tests).
    #[cfg(test)]
    pub fn counts(&self) -> (usize, usize) {
        let state = self.lock();
        (state.open, state.idle.len())
    }
}

/// A connection lent by the [`Pool`]; returned to it when dropped.
pub struct PooledConn<'a> {
    pool: &'a Pool,
    conn: Option<Conn>,
    uses: u32,
    discard: bool,
}

impl PooledConn<'_> {
    /// Close the connection instead of returning it to the pool (after
    /// arbitrary SQL, which may have changed the session).
    pub fn discard(&mut self) {
        self.discard = true;
    }
}

impl Deref for PooledConn<'_> {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        self.conn.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl DerefMut for PooledConn<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for PooledConn<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let uses = self.uses.saturating_add(1);
        let now = Instant::now();
        let mut state = self.pool.lock();
        // Closed outside the lock: closing writes to the server.
        let mut closing = Vec::new();
        if self.discard || uses >= CONN_USES {
            state.open -= 1;
            closing.push(conn);
        } else {
            let fresh = state
                .idle
                .iter()
                .position(|i| now.duration_since(i.since) < IDLE_CLOSE)
                .unwrap_or(state.idle.len());
            closing.extend(state.idle.drain(..fresh).map(|i| i.conn));
            state.open -= closing.len();
            state.idle.push(Idle {
                conn,
                uses,
                since: now,
            });
        }
        drop(state);
        if closing.is_empty() {
            // One connection back: one waiter can have it.
            self.pool.freed.notify_one();
        } else {
            // Slots freed: each waiter may open a connection.
            self.pool.freed.notify_all();
        }
        drop(closing);
    }
}

#[cfg(test)]
mod tests {
    use mysql::prelude::Queryable;

    use super::*;

    fn pool(max: usize) -> Pool {
        let server = std::env::var("SMSS_TEST_MYSQL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
        Pool::new(Opts::from_url(&server).unwrap(), max)
    }

    const WAIT: Duration = Duration::from_secs(10);

    #[test]
    fn reuses_the_newest_connection() {
        let pool = pool(4);
        let a = pool.get(WAIT).unwrap();
        let b = pool.get(WAIT).unwrap();
        let (a_id, b_id) = (a.connection_id(), b.connection_id());
        assert_ne!(a_id, b_id);
        assert_eq!(pool.counts(), (2, 0));
        drop(a);
        drop(b);
        assert_eq!(pool.counts(), (2, 2));
        assert_eq!(pool.get(WAIT).unwrap().connection_id(), b_id);
        assert_eq!(pool.get(WAIT).unwrap().connection_id(), b_id);
    }

    #[test]
    fn waits_for_a_free_connection_at_most_max() {
        let pool = pool(2);
        let a = pool.get(WAIT).unwrap();
        let _b = pool.get(WAIT).unwrap();
        match pool.get(Duration::from_millis(50)) {
            Err(mysql::Error::DriverError(DriverError::Timeout)) => {}
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("a third connection from a pool of 2"),
        }
        let a_id = a.connection_id();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| pool.get(WAIT).map(|c| c.connection_id()));
            std::thread::sleep(Duration::from_millis(50));
            drop(a);
            assert_eq!(waiter.join().unwrap().unwrap(), a_id);
        });
    }

    #[test]
    fn replaces_a_connection_after_its_uses() {
        let pool = pool(1);
        let first = pool.get(WAIT).unwrap().connection_id();
        for _ in 1..CONN_USES {
            assert_eq!(pool.get(WAIT).unwrap().connection_id(), first);
        }
        assert_eq!(pool.counts(), (0, 0));
        assert_ne!(pool.get(WAIT).unwrap().connection_id(), first);
    }

    #[test]
    fn replaces_a_dead_connection_and_discards_on_request() {
        let pool = pool(2);
        let victim = pool.get(WAIT).unwrap();
        let mut killer = pool.get(WAIT).unwrap();
        let id = victim.connection_id();
        drop(victim);
        killer.query_drop(format!("KILL {id}")).unwrap();
        killer.discard();
        drop(killer);
        assert_eq!(pool.counts(), (1, 1));
        // The idle one fails its ping: a new one is opened in its place.
        let mut conn = pool.get(WAIT).unwrap();
        assert_ne!(conn.connection_id(), id);
        let one: Option<i64> = conn.query_first("SELECT 1").unwrap();
        assert_eq!(one, Some(1));
        drop(conn);
        assert_eq!(pool.counts(), (1, 1));
    }
}
