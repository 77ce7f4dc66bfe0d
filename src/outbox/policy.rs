//! The send policy: what a failed part means (give up, or retry after a
//! per-message backoff), when this modem counts as failing and claims nothing
//! for a while, how fast parts go out (`rate-limit`), when the loop must wake
//! for a retry, and how soon a missing modem is reopened. Pure: the caller
//! passes the time in and does the sending, storing and logging.

use std::time::{Duration, Instant};

use crate::config::Settings;
use crate::modem::AtError;
use crate::modem::errors::{cme_reason, cms_is_permanent, cms_reason};

/// Different messages failing in a row (no success between) before the
/// modem counts as failing and stops claiming, so other modems take the queue.
const FAILING_AFTER: usize = 3;
/// How long a failing modem first stays out; doubles up to the maximum.
const FIRST_PAUSE: Duration = Duration::from_secs(30);
const MAX_PAUSE: Duration = Duration::from_secs(300);
/// First and longest wait between attempts to reopen a missing modem.
const FIRST_REOPEN_DELAY: Duration = Duration::from_secs(1);
const MAX_REOPEN_DELAY: Duration = Duration::from_secs(60);

/// What a failed part says about the message and the modem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// In words, for the log and the `sms`/`msg` row.
    pub reason: String,
    /// The message's own fault (`+CMS ERROR: 1`, bad number): never retried.
    pub permanent: bool,
    /// The modem stopped answering or its port failed.
    pub modem_lost: bool,
}

impl Failure {
    pub fn of(e: &AtError) -> Failure {
        let (reason, permanent, modem_lost) = match e {
            AtError::Cms { code, .. } => (
                format!("+CMS ERROR: {code} ({})", cms_reason(*code)),
                cms_is_permanent(*code),
                false,
            ),
            AtError::Cme { code, .. } => (
                format!("+CME ERROR: {code} ({})", cme_reason(*code)),
                false,
                false,
            ),
            AtError::Error { .. } => ("the modem answered ERROR".to_owned(), false, false),
            AtError::Other { result, .. } => (format!("the modem answered {result}"), false, false),
            AtError::Timeout { .. } | AtError::Io(_) => (e.to_string(), false, true),
        };
        Failure {
            reason,
            permanent,
            modem_lost,
        }
    }
}

/// What to do with a message whose part failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Move it to `sms` as failed, after this many attempts.
    Fail { attempts: u32 },
    /// `retry_later`: this is attempt `attempt` of `of` retries, the next
    /// one after `delay`.
    Retry {
        attempt: u32,
        of: u32,
        delay: Duration,
    },
}

/// The send decisions of one modem thread and what they remember.
#[derive(Debug)]
pub struct SendPolicy {
    retry_delay: Duration,
    max_attempts: u32,
    /// Parts per minute; 0: no limit.
    rate_limit: u32,
    /// When the last part went out (for `rate-limit`).
    last_part: Option<Instant>,
    /// The soonest retry this modem scheduled: wake up for it.
    retry_at: Option<Instant>,
    /// Messages whose send failed (temporarily) since the last success: when
    /// several different ones fail in a row, the modem is the problem.
    failing: Vec<i64>,
    /// While set and in the future, this modem claims nothing.
    paused_until: Option<Instant>,
    next_pause: Duration,
}

impl SendPolicy {
    pub fn new(settings: &Settings) -> Self {
        SendPolicy {
            retry_delay: settings.retry_delay,
            max_attempts: settings.max_attempts,
            rate_limit: settings.rate_limit,
            last_part: None,
            retry_at: None,
            failing: Vec::new(),
            paused_until: None,
            next_pause: FIRST_PAUSE,
        }
    }

    /// Whether the modem is paused (failing) at `now`: claim nothing.
    pub fn paused(&self, now: Instant) -> bool {
        self.paused_until.is_some_and(|until| now < until)
    }

    /// The soonest the next part may go out under `rate-limit`; `None`:
    /// at once.
    pub fn next_part_at(&self) -> Option<Instant> {
        let per_minute = self.rate_limit;
        if per_minute == 0 {
            return None;
        }
        self.last_part
            .map(|last| last + Duration::from_secs(60) / per_minute)
    }

    /// A part went to the modem at `at`, whatever the answer.
    pub fn part_sent(&mut self, at: Instant) {
        self.last_part = Some(at);
    }

    /// Every part of a message went out: the modem works.
    pub fn sent(&mut self) {
        self.failing.clear();
        self.next_pause = FIRST_PAUSE;
    }

    /// A part of message `id` failed after `attempts` earlier failed
    /// attempts: a temporary failure counts toward the modem failing; the
    /// message fails when the failure is permanent or its attempts are used
    /// up, and is otherwise retried after a delay doubling from
    /// `retry-delay`.
    pub fn failed(&mut self, id: i64, attempts: u32, failure: &Failure) -> Verdict {
        if !failure.permanent && !self.failing.contains(&id) {
            self.failing.push(id);
        }
        let attempt = attempts + 1;
        if failure.permanent || attempt >= self.max_attempts {
            Verdict::Fail { attempts: attempt }
        } else {
            Verdict::Retry {
                attempt,
                of: self.max_attempts - 1,
                delay: self.retry_delay * 2u32.saturating_pow(attempts.min(16)),
            }
        }
    }

    /// A retry was stored for `at`: the loop wakes for the soonest.
    pub fn retry_scheduled(&mut self, at: Instant) {
        self.retry_at = Some(self.retry_at.map_or(at, |r| r.min(at)));
    }

    /// Enough different messages failed in a row: the modem is the problem.
    pub fn modem_failing(&self) -> bool {
        self.failing.len() >= FAILING_AFTER
    }

    /// Starts a pause at `now` (30 s, doubling up to 5 min while the modem
    /// keeps failing); returns its length.
    pub fn pause(&mut self, now: Instant) -> Duration {
        let pause = self.next_pause;
        self.next_pause = (pause * 2).min(MAX_PAUSE);
        self.paused_until = Some(now + pause);
        pause
    }

    /// The run of failures that led to a pause is over (its claims are
    /// handed back); returns how many messages it had.
    pub fn failing_run_over(&mut self) -> usize {
        let n = self.failing.len();
        self.failing.clear();
        n
    }

    /// When an idle loop must look again at the latest: the next receive
    /// (`next_receive`), the soonest scheduled retry (forgotten once asked
    /// for), or the end of a pause still running at `now`.
    pub fn wake_at(&mut self, next_receive: Instant, now: Instant) -> Instant {
        let mut until = next_receive;
        if let Some(retry) = self.retry_at.take() {
            until = until.min(retry);
        }
        if let Some(pause) = self.paused_until.filter(|p| *p > now) {
            until = until.min(pause);
        }
        until
    }
}

/// How long the loop waits after a failed pass (modem missing, database
/// away) before trying again: 1 s, doubling up to a minute.
#[derive(Debug)]
pub struct Reopen {
    next: Duration,
}

impl Default for Reopen {
    fn default() -> Self {
        Reopen {
            next: FIRST_REOPEN_DELAY,
        }
    }
}

impl Reopen {
    /// A pass failed: the wait before the next one.
    pub fn failed(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(MAX_REOPEN_DELAY);
        d
    }

    /// A pass went through: the next failure waits briefly again.
    pub fn recovered(&mut self) {
        self.next = FIRST_REOPEN_DELAY;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn policy(retry_delay: u64, max_attempts: u32, rate_limit: u32) -> SendPolicy {
        SendPolicy::new(&Settings {
            retry_delay: secs(retry_delay),
            max_attempts,
            rate_limit,
            ..Settings::default()
        })
    }

    fn cms(code: u16) -> AtError {
        AtError::Cms {
            command: "AT+CMGS=20".into(),
            code,
        }
    }

    fn temporary() -> Failure {
        Failure::of(&cms(38))
    }

    #[test]
    fn failures_in_words() {
        assert_eq!(
            Failure::of(&cms(38)),
            Failure {
                reason: "+CMS ERROR: 38 (network out of order)".into(),
                permanent: false,
                modem_lost: false,
            }
        );
        let bad_number = Failure::of(&cms(1));
        assert_eq!(
            bad_number.reason,
            "+CMS ERROR: 1 (unassigned (unallocated) number)"
        );
        assert!(bad_number.permanent && !bad_number.modem_lost);
        let cme = Failure::of(&AtError::Cme {
            command: "AT+CMGS=20".into(),
            code: 11,
        });
        assert_eq!(cme.reason, "+CME ERROR: 11 (SIM PIN required)");
        assert!(!cme.permanent && !cme.modem_lost);
        let error = Failure::of(&AtError::Error {
            command: "AT+CMGS=20".into(),
        });
        assert_eq!(error.reason, "the modem answered ERROR");
        assert!(!error.permanent && !error.modem_lost);
        let timeout = Failure::of(&AtError::Timeout {
            command: "AT+CMGS=20".into(),
        });
        assert_eq!(timeout.reason, "modem did not answer AT+CMGS=20 in time");
        assert!(!timeout.permanent && timeout.modem_lost);
        let io = Failure::of(&AtError::Io(std::io::Error::other("unplugged")));
        assert_eq!(io.reason, "serial port: unplugged");
        assert!(!io.permanent && io.modem_lost);
    }

    #[test]
    fn retry_delay_doubles_per_attempt_until_attempts_are_used_up() {
        let mut p = policy(30, 5, 0);
        let f = temporary();
        let retry = |attempt, delay| Verdict::Retry {
            attempt,
            of: 4,
            delay: secs(delay),
        };
        assert_eq!(p.failed(7, 0, &f), retry(1, 30));
        assert_eq!(p.failed(7, 1, &f), retry(2, 60));
        assert_eq!(p.failed(7, 2, &f), retry(3, 120));
        assert_eq!(p.failed(7, 3, &f), retry(4, 240));
        assert_eq!(p.failed(7, 4, &f), Verdict::Fail { attempts: 5 });
        assert_eq!(p.failed(7, 9, &f), Verdict::Fail { attempts: 10 });
    }

    #[test]
    fn retry_delay_doubling_stops_at_two_to_the_sixteenth() {
        let mut p = policy(1, 100, 0);
        let delay = |p: &mut SendPolicy, attempts| match p.failed(1, attempts, &temporary()) {
            Verdict::Retry { delay, .. } => delay,
            v => panic!("{v:?}"),
        };
        assert_eq!(delay(&mut p, 16), secs(65_536));
        assert_eq!(delay(&mut p, 17), secs(65_536));
        assert_eq!(delay(&mut p, 50), secs(65_536));
    }

    #[test]
    fn a_permanent_failure_fails_at_once_and_does_not_blame_the_modem() {
        let mut p = policy(30, 5, 0);
        for id in 1..=5 {
            assert_eq!(
                p.failed(id, 0, &Failure::of(&cms(1))),
                Verdict::Fail { attempts: 1 }
            );
        }
        assert!(!p.modem_failing());
    }

    #[test]
    fn max_attempts_one_or_zero_never_retries() {
        for max in [0, 1] {
            let mut p = policy(30, max, 0);
            assert_eq!(p.failed(1, 0, &temporary()), Verdict::Fail { attempts: 1 });
        }
    }

    #[test]
    fn three_different_messages_failing_in_a_row_make_the_modem_failing() {
        let mut p = policy(30, 5, 0);
        p.failed(1, 0, &temporary());
        p.failed(1, 1, &temporary()); // the same message again: still one
        p.failed(2, 0, &temporary());
        assert!(!p.modem_failing());
        // a lost modem counts too
        let lost = Failure::of(&AtError::Timeout {
            command: "AT+CMGS=20".into(),
        });
        p.failed(3, 0, &lost);
        assert!(p.modem_failing());
        assert_eq!(p.failing_run_over(), 3);
        assert!(!p.modem_failing());
    }

    #[test]
    fn a_success_between_failures_clears_the_run() {
        let mut p = policy(30, 5, 0);
        p.failed(1, 0, &temporary());
        p.failed(2, 0, &temporary());
        p.sent();
        p.failed(3, 0, &temporary());
        p.failed(4, 0, &temporary());
        assert!(!p.modem_failing());
        p.failed(5, 0, &temporary());
        assert!(p.modem_failing());
    }

    #[test]
    fn the_pause_doubles_from_30_s_to_5_min_and_a_success_resets_it() {
        let mut p = policy(30, 5, 0);
        let t = Instant::now();
        assert!(!p.paused(t));
        let pauses: Vec<u64> = (0..7).map(|_| p.pause(t).as_secs()).collect();
        assert_eq!(pauses, [30, 60, 120, 240, 300, 300, 300]);
        p.sent();
        assert_eq!(p.pause(t), secs(30));
        assert!(p.paused(t));
        assert!(p.paused(t + secs(29)));
        assert!(!p.paused(t + secs(30)));
    }

    #[test]
    fn rate_limit_spaces_parts() {
        let t = Instant::now();
        let mut none = policy(30, 5, 0);
        none.part_sent(t);
        assert_eq!(none.next_part_at(), None);

        let mut six = policy(30, 5, 6);
        assert_eq!(six.next_part_at(), None, "the first part goes at once");
        six.part_sent(t);
        assert_eq!(six.next_part_at(), Some(t + secs(10)));
        six.part_sent(t + secs(11));
        assert_eq!(six.next_part_at(), Some(t + secs(21)));

        let mut fast = policy(30, 5, 7);
        fast.part_sent(t);
        assert_eq!(fast.next_part_at(), Some(t + secs(60) / 7));
    }

    #[test]
    fn the_loop_wakes_for_the_soonest_retry_once() {
        let mut p = policy(30, 5, 0);
        let t = Instant::now();
        let receive = t + secs(10);
        assert_eq!(p.wake_at(receive, t), receive);
        p.retry_scheduled(t + secs(8));
        p.retry_scheduled(t + secs(5));
        p.retry_scheduled(t + secs(9));
        assert_eq!(p.wake_at(receive, t), t + secs(5));
        assert_eq!(p.wake_at(receive, t), receive, "taken");
        p.retry_scheduled(t + secs(60));
        assert_eq!(p.wake_at(receive, t), receive);
    }

    #[test]
    fn the_loop_wakes_when_a_running_pause_ends() {
        let mut p = policy(30, 5, 0);
        let t = Instant::now();
        p.pause(t);
        let receive = t + secs(40);
        assert_eq!(p.wake_at(receive, t), t + secs(30));
        assert_eq!(p.wake_at(receive, t + secs(20)), t + secs(30));
        // over: no longer a reason to wake
        assert_eq!(p.wake_at(receive, t + secs(30)), receive);
    }

    #[test]
    fn reopen_waits_double_up_to_a_minute() {
        let mut r = Reopen::default();
        let waits: Vec<u64> = (0..8).map(|_| r.failed().as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        r.recovered();
        assert_eq!(r.failed(), secs(1));
    }
}
