//! The send policy: what a failed part means (give up, retry after a
//! per-message backoff, or send again at once because the modem failed, not
//! the message), when this modem counts as failing and claims nothing for a
//! while, how fast parts go out (`rate-limit`), when the loop must wake for
//! a retry, and how soon a missing modem is reopened. Pure: the caller
//! passes the time in (and the random seed of the jitter) and does the
//! sending, storing and logging.
//!
//! **The retry schedule.** A temporary failure (`+CMS ERROR: 38`, `42`,
//! `500`, ...) is retried after `retry-delay` (5 s), doubling per attempt,
//! each delay stretched by a random 0–25 % so that modems sharing a queue
//! (or one modem's messages failed together by a network outage) do not
//! retry in lockstep. With `max-attempts` = 8 a message that keeps failing
//! is given up after about 10 minutes (5 + 10 + ... + 320 s).
//!
//! **What charges an attempt.** Every failure of the message's own: a CMS
//! or CME error, `ERROR`. A failure of the modem (no answer in time, the
//! port lost) is not the message's: it is sent again, uncharged, as soon as
//! the modem answers again. Only when the same message was in flight at
//! the modem's previous failure too (no send went through between) is it
//! charged: a message that makes the modem hang every time still fails
//! after its attempts, and waits its backoff meanwhile, rather than block
//! the queue.

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
/// Each retry delay is stretched by up to this fraction, at random.
pub const JITTER: f64 = 0.25;
/// The doubling stops after this many attempts.
const MAX_DOUBLINGS: u32 = 16;
/// Retry times the loop remembers to wake for (the soonest); any others
/// are found by the next `poll-interval`.
const MAX_RETRY_MARKS: usize = 64;
/// The loop wakes this long after a retry is due: the database keeps
/// times to the millisecond, so the row is surely due by then.
const RETRY_SLACK: Duration = Duration::from_millis(10);

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
    /// The modem failed, not the message: hand the claim back without
    /// charging an attempt; it is sent as soon as the modem answers again.
    Resend,
}

/// The delay before the retry that follows `attempts` failed attempts:
/// `first` doubled per earlier attempt (up to 2^16), stretched by
/// `jitter` × [`JITTER`] (`jitter` in 0..1), to the millisecond.
pub fn retry_delay(first: Duration, attempts: u32, jitter: f64) -> Duration {
    let base = first.as_millis() as f64 * f64::from(2u32.pow(attempts.min(MAX_DOUBLINGS)));
    let stretch = 1.0 + JITTER * jitter.clamp(0.0, 1.0);
    Duration::from_millis((base * stretch) as u64)
}

/// A small random number generator (xorshift64*) for the jitter: it needs
/// no quality, only different numbers on different hosts and runs.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // splitmix64 of the seed: near seeds give unrelated sequences, and
        // the state is never 0 (xorshift's one fixed point)
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    /// From the system's random source, or the time and process id.
    fn from_system() -> Rng {
        let mut bytes = [0u8; 8];
        let seed = match getrandom::fill(&mut bytes) {
            Ok(()) => u64::from_le_bytes(bytes),
            Err(_) => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64);
                nanos ^ u64::from(std::process::id()).rotate_left(32)
            }
        };
        Rng::new(seed)
    }

    /// A number in 0..1.
    fn fraction(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
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
    /// When retries this modem scheduled are due, soonest first: the loop
    /// wakes for each, until a claim has covered it.
    retries: Vec<Instant>,
    /// The message in flight when the modem last failed, since the last
    /// message that went through.
    lost_with: Option<i64>,
    rng: Rng,
    /// Messages whose send failed (temporarily) since the last success: when
    /// several different ones fail in a row, the modem is the problem.
    failing: Vec<i64>,
    /// While set and in the future, this modem claims nothing.
    paused_until: Option<Instant>,
    next_pause: Duration,
}

impl SendPolicy {
    pub fn new(settings: &Settings) -> Self {
        Self::with_rng(settings, Rng::from_system())
    }

    /// With the jitter's numbers from `seed` (tests).
    #[cfg(test)]
    fn seeded(settings: &Settings, seed: u64) -> Self {
        Self::with_rng(settings, Rng::new(seed))
    }

    fn with_rng(settings: &Settings, rng: Rng) -> Self {
        SendPolicy {
            retry_delay: settings.retry_delay,
            max_attempts: settings.max_attempts,
            rate_limit: settings.rate_limit,
            last_part: None,
            retries: Vec::new(),
            lost_with: None,
            rng,
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
        self.lost_with = None;
        self.next_pause = FIRST_PAUSE;
    }

    /// A part of message `id` failed after `attempts` earlier failed
    /// attempts. A temporary failure counts toward the modem failing. A
    /// failure of the modem is sent again uncharged ([`Verdict::Resend`])
    /// unless this message was in flight at the modem's previous failure
    /// too. Otherwise the message fails when the failure is permanent or its
    /// attempts are used up, and is retried after [`retry_delay`].
    pub fn failed(&mut self, id: i64, attempts: u32, failure: &Failure) -> Verdict {
        if !failure.permanent && !self.failing.contains(&id) {
            self.failing.push(id);
        }
        if failure.modem_lost && self.lost_with.replace(id) != Some(id) {
            return Verdict::Resend;
        }
        let attempt = attempts + 1;
        if failure.permanent || attempt >= self.max_attempts {
            Verdict::Fail { attempts: attempt }
        } else {
            let jitter = self.rng.fraction();
            Verdict::Retry {
                attempt,
                of: self.max_attempts - 1,
                delay: retry_delay(self.retry_delay, attempts, jitter),
            }
        }
    }

    /// A retry was stored for `at`: the loop wakes for it.
    pub fn retry_scheduled(&mut self, at: Instant) {
        let i = self.retries.partition_point(|r| *r <= at);
        self.retries.insert(i, at);
        self.retries.truncate(MAX_RETRY_MARKS);
    }

    /// The loop claims due rows at `now`: the retries due by then are
    /// among them, no need to wake for those again.
    pub fn claiming(&mut self, now: Instant) {
        self.retries.retain(|r| *r + RETRY_SLACK > now);
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
    /// (`next_receive`, also the next poll of the queue), the soonest
    /// scheduled retry not yet covered by a claim (a moment after it is
    /// due), or, while a pause runs at `now`, its end instead (nothing is
    /// claimed before).
    pub fn wake_at(&self, next_receive: Instant, now: Instant) -> Instant {
        let due = match self.paused_until.filter(|p| *p > now) {
            Some(pause) => Some(pause),
            None => self.retries.first().map(|r| *r + RETRY_SLACK),
        };
        due.map_or(next_receive, |d| d.min(next_receive))
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
        SendPolicy::seeded(
            &Settings {
                retry_delay: secs(retry_delay),
                max_attempts,
                rate_limit,
                ..Settings::default()
            },
            42,
        )
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

    fn delay_of(v: Verdict) -> Duration {
        match v {
            Verdict::Retry { delay, .. } => delay,
            v => panic!("not a retry: {v:?}"),
        }
    }

    fn lost() -> Failure {
        Failure::of(&AtError::Timeout {
            command: "AT+CMGS=20".into(),
        })
    }

    #[test]
    fn the_retry_schedule_doubles_from_the_first_delay_with_up_to_a_quarter_of_jitter() {
        let ms = Duration::from_millis;
        // the pure schedule: 5 s doubling, the jitter's ends
        assert_eq!(retry_delay(secs(5), 0, 0.0), secs(5));
        assert_eq!(retry_delay(secs(5), 0, 0.5), ms(5_625));
        assert_eq!(retry_delay(secs(5), 0, 0.999_999), ms(6_249));
        assert_eq!(retry_delay(secs(5), 0, 1.0), ms(6_250));
        assert_eq!(retry_delay(secs(5), 1, 0.0), secs(10));
        assert_eq!(retry_delay(secs(5), 3, 0.0), secs(40));
        assert_eq!(retry_delay(secs(5), 7, 0.0), secs(640));
        assert_eq!(retry_delay(ms(300), 2, 0.0), ms(1_200));
        // the doubling stops at 2^16
        assert_eq!(retry_delay(secs(1), 16, 0.0), secs(65_536));
        assert_eq!(retry_delay(secs(1), 50, 0.0), secs(65_536));
        // out-of-range jitter is clamped
        assert_eq!(retry_delay(secs(4), 0, -1.0), secs(4));
        assert_eq!(retry_delay(secs(4), 0, 7.0), secs(5));

        // the defaults: the first retry in seconds, the last after minutes
        let defaults = Settings::default();
        assert_eq!(defaults.retry_delay, secs(5));
        assert_eq!(defaults.max_attempts, 8);
        let mut p = SendPolicy::seeded(&defaults, 1);
        let f = temporary();
        let mut total = Duration::ZERO;
        for attempts in 0..7 {
            let verdict = p.failed(7, attempts, &f);
            let Verdict::Retry { attempt, of, delay } = verdict else {
                panic!("{verdict:?}")
            };
            assert_eq!((attempt, of), (attempts + 1, 7));
            let low = secs(5) * 2u32.pow(attempts);
            assert!(
                delay >= low && delay < low + low / 4,
                "{attempts}: {delay:?}"
            );
            total += delay;
        }
        assert_eq!(p.failed(7, 7, &f), Verdict::Fail { attempts: 8 });
        assert!(total >= secs(635) && total < secs(794), "{total:?}");
    }

    #[test]
    fn the_jitter_spreads_the_retries_of_modems_failing_together() {
        // Many messages failing at once (one network outage, or several
        // modems): their first retries spread over the quarter, none before
        // retry-delay.
        let settings = Settings {
            retry_delay: secs(8),
            ..Settings::default()
        };
        let mut delays: Vec<Duration> = (0..4)
            .flat_map(|seed| {
                let mut p = SendPolicy::seeded(&settings, seed);
                (0..50)
                    .map(|id| delay_of(p.failed(id, 0, &temporary())))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert!(delays.iter().all(|d| *d >= secs(8) && *d < secs(10)));
        delays.sort();
        delays.dedup();
        assert!(delays.len() > 150, "only {} different delays", delays.len());
        let quarters = |lo: u64, hi: u64| {
            delays
                .iter()
                .filter(|d| d.as_millis() >= lo as u128 && d.as_millis() < hi as u128)
                .count()
        };
        for (lo, hi) in [(8000, 8500), (8500, 9000), (9000, 9500), (9500, 10_000)] {
            assert!(quarters(lo, hi) > 20, "{lo}..{hi}: {}", quarters(lo, hi));
        }
        // other seeds, other numbers: two hosts do not share a schedule
        let first = |seed| delay_of(SendPolicy::seeded(&settings, seed).failed(1, 0, &temporary()));
        assert!(
            (0..8)
                .map(first)
                .collect::<std::collections::HashSet<_>>()
                .len()
                > 4
        );
    }

    #[test]
    fn what_charges_an_attempt() {
        let mut p = policy(5, 3, 0);
        // the message's own failures are charged
        assert!(matches!(
            p.failed(1, 0, &temporary()),
            Verdict::Retry { attempt: 1, .. }
        ));
        let error = Failure::of(&AtError::Error {
            command: "AT+CMGS=20".into(),
        });
        assert!(matches!(
            p.failed(1, 1, &error),
            Verdict::Retry { attempt: 2, .. }
        ));
        assert_eq!(p.failed(1, 2, &temporary()), Verdict::Fail { attempts: 3 });
        // the modem's are not: resent at once, uncharged, even with the
        // attempts used up
        assert_eq!(p.failed(2, 0, &lost()), Verdict::Resend);
        let io = Failure::of(&AtError::Io(std::io::Error::other("unplugged")));
        assert_eq!(p.failed(3, 2, &io), Verdict::Resend);
        assert_eq!(
            p.failed(2, 0, &lost()),
            Verdict::Resend,
            "3 was lost between"
        );
        // ...unless the same message was in flight at the modem's previous
        // failure too, with nothing sent between: then it is charged, and
        // waits its backoff
        assert!(matches!(
            p.failed(2, 0, &lost()),
            Verdict::Retry { attempt: 1, .. }
        ));
        assert_eq!(p.failed(2, 2, &lost()), Verdict::Fail { attempts: 3 });
        // a message that went through clears that
        p.sent();
        assert_eq!(p.failed(2, 1, &lost()), Verdict::Resend);
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
    fn the_loop_wakes_for_every_retry_until_a_claim_covers_it() {
        let mut p = policy(30, 5, 0);
        let t = Instant::now();
        let slack = RETRY_SLACK;
        let receive = t + secs(10);
        assert_eq!(p.wake_at(receive, t), receive);
        p.retry_scheduled(t + secs(8));
        p.retry_scheduled(t + secs(5));
        p.retry_scheduled(t + secs(9));
        p.retry_scheduled(t + secs(60));
        assert_eq!(p.wake_at(receive, t), t + secs(5) + slack);
        // asking again (a wake-up came, the loop ran a pass) forgets nothing
        assert_eq!(p.wake_at(receive, t + secs(1)), t + secs(5) + slack);
        // a claim before the retry is due does not cover it
        p.claiming(t + secs(4));
        assert_eq!(p.wake_at(receive, t + secs(4)), t + secs(5) + slack);
        // The deadline bug of issue 21: a poll sooner than the retry must not
        // lose it. Wake for the poll, claim (nothing due yet), and the retry
        // is still the next wake-up after that poll.
        let poll = t + secs(3);
        assert_eq!(p.wake_at(poll, t), poll);
        p.claiming(poll);
        assert_eq!(p.wake_at(poll + secs(10), poll), t + secs(5) + slack);
        // the claim when it is due covers it; the next one is next
        p.claiming(t + secs(5) + slack);
        assert_eq!(
            p.wake_at(t + secs(15), t + secs(5) + slack),
            t + secs(8) + slack
        );
        // one due during a pass's sends: at once (a deadline already past)
        p.claiming(t + secs(8) + slack);
        assert_eq!(p.wake_at(t + secs(20), t + secs(11)), t + secs(9) + slack);
        p.claiming(t + secs(11));
        assert_eq!(p.wake_at(t + secs(20), t + secs(11)), t + secs(20));
        p.claiming(t + secs(61));
        assert_eq!(p.wake_at(t + secs(70), t + secs(61)), t + secs(70));
    }

    #[test]
    fn the_loop_remembers_the_soonest_retries_only() {
        let mut p = policy(30, 5, 0);
        let t = Instant::now();
        for i in (0..200).rev() {
            p.retry_scheduled(t + secs(i));
        }
        assert_eq!(p.retries.len(), MAX_RETRY_MARKS);
        assert_eq!(p.retries.first(), Some(&t));
        assert_eq!(p.retries.last(), Some(&(t + secs(63))));
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
        // a retry due during the pause waits for its end (nothing is
        // claimed before): no busy loop
        p.pause(t + secs(30));
        p.retry_scheduled(t + secs(35));
        assert_eq!(p.wake_at(t + secs(200), t + secs(36)), t + secs(90));
        assert_eq!(
            p.wake_at(t + secs(200), t + secs(90)),
            t + secs(35) + RETRY_SLACK
        );
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
