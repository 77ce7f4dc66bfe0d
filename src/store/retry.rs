//! Running a transaction again when it lost a conflict with another one
//! (MySQL error 1213: an InnoDB deadlock, or on a Galera cluster a
//! certification failure, "WSREP detected deadlock/conflict"; 1205: a lock
//! wait timeout). Either way the server rolled the work back and nothing
//! of it is committed, so the whole transaction runs again from its first
//! statement: what it read may have changed, and it decides again.
//!
//! Galera checks row locks only on the node a transaction runs on; two
//! `serve`s on two nodes claiming the same row both get as far as COMMIT,
//! and the second to reach the cluster's total order is rolled back. Such
//! conflicts come in bursts between the same few transactions: a short
//! random wait lets one of them finish first.

use std::time::Duration;

use super::{ErrorKind, Result};

/// Attempts in all, the first included. Five: two serves claiming the
/// same due rows conflict at most once per round of claims (the loser's
/// next claim skips the rows the winner holds), so a transaction that
/// loses five times in a row meets something else (a long lock holder, a
/// node out of flow control): the error then goes to the caller, which
/// reports it as today (the claim loop retries on its next pass; a client
/// is told to try again), rather than waiting without end.
pub const ATTEMPTS: u32 = 5;

/// The longest random wait before attempt `n` (2, 3, ...): 10 ms, doubled
/// each time, so all the waits of one transaction add up to at most 0.15 s (a
/// commit on a loopback cluster takes about a millisecond, across sites
/// tens of them).
fn max_backoff(attempt: u32) -> Duration {
    Duration::from_millis(10 << attempt.saturating_sub(2).min(4))
}

/// A random wait in `1 ms ..= max_backoff(attempt)`.
fn backoff(attempt: u32) -> Duration {
    let max = max_backoff(attempt).as_millis() as u32;
    let r = getrandom::u32().unwrap_or(max / 2);
    Duration::from_millis(u64::from(1 + r % max))
}

/// No new attempt starts once this long has passed since the first: a
/// deadlock or a certification failure is known within milliseconds, a
/// lock wait timeout (1205) only after `innodb_lock_wait_timeout` (10 s,
/// `mysql.rs`). So a lock wait is run again once, not four times (50 s,
/// longer than a client waits for its answer).
const BUDGET: Duration = Duration::from_secs(15);

/// Runs `f` until it returns anything but a [`ErrorKind::Conflict`], at
/// most [`ATTEMPTS`] times and not past [`BUDGET`]; `what` names the work
/// in the log.
pub fn on_conflict<T>(what: &str, f: impl FnMut() -> Result<T>) -> Result<T> {
    on_conflict_within(what, BUDGET, f)
}

fn on_conflict_within<T>(
    what: &str,
    budget: Duration,
    mut f: impl FnMut() -> Result<T>,
) -> Result<T> {
    let start = std::time::Instant::now();
    let mut attempt = 1;
    loop {
        match f() {
            Err(e)
                if e.kind() == ErrorKind::Conflict
                    && attempt < ATTEMPTS
                    && start.elapsed() < budget =>
            {
                attempt += 1;
                log::debug!("{what}: {e}; running it again (attempt {attempt} of {ATTEMPTS})");
                std::thread::sleep(backoff(attempt));
            }
            Err(e) if e.kind() == ErrorKind::Conflict => {
                log::warn!("{what}: {e}, {attempt} times in a row; giving up for now");
                return Err(e);
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::StoreError;
    use super::*;

    fn conflict() -> StoreError {
        StoreError::new(ErrorKind::Conflict, "Deadlock found (MySQL error 1213)")
    }

    #[test]
    fn runs_again_after_a_conflict_until_it_succeeds() {
        let mut runs = 0;
        let got = on_conflict("test", || {
            runs += 1;
            if runs < ATTEMPTS {
                Err(conflict())
            } else {
                Ok(runs)
            }
        });
        assert_eq!(got.unwrap(), ATTEMPTS);
    }

    #[test]
    fn gives_up_after_the_last_attempt_with_the_conflict() {
        let mut runs = 0;
        let got: Result<()> = on_conflict("test", || {
            runs += 1;
            Err(conflict())
        });
        assert_eq!(got.unwrap_err().kind(), ErrorKind::Conflict);
        assert_eq!(runs, ATTEMPTS);
    }

    #[test]
    fn no_attempt_starts_past_the_budget() {
        // the second attempt waits for a lock past the budget (as a lock
        // wait timeout does): no third
        let mut runs = 0;
        let got: Result<()> = on_conflict_within("test", Duration::from_secs(1), || {
            runs += 1;
            if runs == 2 {
                std::thread::sleep(Duration::from_millis(1100));
            }
            Err(conflict())
        });
        assert_eq!(got.unwrap_err().kind(), ErrorKind::Conflict);
        assert_eq!(runs, 2);
    }

    #[test]
    fn other_errors_are_not_retried() {
        for kind in [
            ErrorKind::Unavailable,
            ErrorKind::Constraint,
            ErrorKind::Other,
        ] {
            let mut runs = 0;
            let got: Result<()> = on_conflict("test", || {
                runs += 1;
                Err(StoreError::new(kind, "no"))
            });
            assert_eq!(got.unwrap_err().kind(), kind);
            assert_eq!(runs, 1);
        }
    }

    #[test]
    fn waits_are_short_and_random_within_their_bound() {
        assert_eq!(max_backoff(2), Duration::from_millis(10));
        assert_eq!(max_backoff(ATTEMPTS), Duration::from_millis(80));
        for attempt in 2..=ATTEMPTS {
            for _ in 0..50 {
                let d = backoff(attempt);
                assert!(d >= Duration::from_millis(1) && d <= max_backoff(attempt));
            }
        }
    }
}
