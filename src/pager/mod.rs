//! The pager (issue 19): check-ins (a dead-man's switch for scheduled
//! jobs) and the daily heartbeat.
//!
//! * [`check_in`] is what the three ways in call (`#?checkin` on port
//!   2021, `/api/checkin/NAME`, `smss checkin` through port 2021): it
//!   records the report, creates the check-in on its first report when
//!   `every` and `to` are given, and queues the "checked in again" SMS of
//!   a late one.
//! * [`run`] is the thread `pager` of `serve`, every `checkin-interval`:
//!   the late check-ins get their SMS, the replies are read for ACKs
//!   ([`ack`]), the escalation chains take their next step
//!   ([`escalate`]), and the heartbeat is sent when its time came. It needs no modem: what it queues waits in the queue.
//!
//! Every SMS goes through [`Intake::submit_guarded`] (source `checkin` or
//! `heartbeat`): the state change and the messages in one transaction,
//! only from the state expected, so several serves on one database send
//! each one once.

pub mod ack;
pub mod clock;
pub mod escalate;
pub mod heartbeat;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::checkin::Call;
use crate::config::Settings;
use crate::intake::{self, Intake};
use crate::store::{Checkin, CheckinDef, ErrorKind, Guard, StoreError};

pub use heartbeat::Heartbeat;

/// Why a check-in was refused.
#[derive(Debug)]
pub enum CheckinError {
    /// No check-in of that name, and not enough to create one.
    Unknown(String),
    /// A bad recipient or option: the words say what to fix.
    Invalid(String),
    Store(StoreError),
}

impl fmt::Display for CheckinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckinError::Unknown(name) => write!(
                f,
                "no check-in '{name}': its first check-in needs every= and to= \
                 (or smss checkin add {name} --every 24h --to @group)"
            ),
            CheckinError::Invalid(m) => f.write_str(m),
            CheckinError::Store(e)
                if matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Conflict) =>
            {
                write!(f, "database unavailable, try again later")
            }
            CheckinError::Store(_) => write!(f, "cannot record the check-in, see the server log"),
        }
    }
}

impl From<StoreError> for CheckinError {
    fn from(e: StoreError) -> CheckinError {
        CheckinError::Store(e)
    }
}

/// What a check-in did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Created,
    Seen,
    /// It was late: the "checked in again" SMS is queued.
    Back,
}

/// Checks recipients as the intake will expand them: numbers, and groups
/// that exist.
pub fn check_recipients(intake: &Intake, to: &[String]) -> Result<(), CheckinError> {
    if to.is_empty() {
        return Err(CheckinError::Invalid(
            "no recipient: give to= numbers or @groups".into(),
        ));
    }
    for r in to {
        match r.strip_prefix('@') {
            Some(g) if crate::protocol::valid_name(g) => {
                if intake.store().group_members(g)?.is_none() {
                    return Err(CheckinError::Invalid(format!(
                        "no group '@{g}' (smss group list shows the groups)"
                    )));
                }
            }
            _ if crate::gsm::valid_phone(r) => {}
            _ => {
                return Err(CheckinError::Invalid(format!(
                    "invalid recipient '{}': a number (an optional + and 3 to 20 digits) or @group",
                    crate::printable::escape(r)
                )));
            }
        }
    }
    Ok(())
}

/// A check-in's report at `now`. `default_grace`: `checkin-grace`, for a
/// check-in created without `grace`. Given `every`/`grace`/`to` redefine
/// an existing one (the job's own line is what it expects).
pub fn check_in(
    intake: &Intake,
    call: &Call,
    default_grace: Duration,
    now: i64,
) -> Result<Recorded, CheckinError> {
    let store = intake.store();
    let existing = store.checkin(&call.name)?;
    let mut created = false;
    match &existing {
        None => {
            let (Some(every), false) = (call.every, call.to.is_empty()) else {
                return Err(CheckinError::Unknown(call.name.clone()));
            };
            check_recipients(intake, &call.to)?;
            let def = CheckinDef {
                name: call.name.clone(),
                every,
                grace: call.grace.unwrap_or(default_grace),
                recipients: call.to.clone(),
            };
            created = store.create_checkin(&def, now)?;
        }
        Some(c) if call.every.is_some() || call.grace.is_some() || !call.to.is_empty() => {
            if !call.to.is_empty() {
                check_recipients(intake, &call.to)?;
            }
            let def = CheckinDef {
                name: call.name.clone(),
                every: call.every.unwrap_or(c.def.every),
                grace: call.grace.unwrap_or(c.def.grace),
                recipients: if call.to.is_empty() {
                    c.def.recipients.clone()
                } else {
                    call.to.clone()
                },
            };
            if def != c.def {
                store.define_checkin(&def, now)?;
            }
        }
        Some(_) => {}
    }
    if created {
        log::info!("check-in {} created by its first report", call.name);
        return Ok(Recorded::Created);
    }
    let Some(c) = store.checkin_seen(&call.name, now)? else {
        // removed in between
        return Err(CheckinError::Unknown(call.name.clone()));
    };
    if c.late && back(intake, &c, now) {
        return Ok(Recorded::Back);
    }
    Ok(Recorded::Seen)
}

/// The late SMS text.
pub fn late_text(c: &Checkin) -> String {
    let every = clock::human(c.def.every.as_secs());
    match c.last_seen {
        Some(t) => format!(
            "{} missed its check-in: last {}, expected every {every}",
            c.def.name,
            clock::local(t)
        ),
        None => format!(
            "{} missed its check-in: none since it was added {}, expected every {every}",
            c.def.name,
            clock::local(c.created)
        ),
    }
}

/// The back SMS text.
pub fn back_text(c: &Checkin) -> String {
    format!(
        "{} checked in again at {}",
        c.def.name,
        clock::local(c.last_seen.unwrap_or(c.created))
    )
}

fn queue(intake: &Intake, c: &Checkin, text: &str, guard: Guard) -> bool {
    let requests = intake::to_each(&c.def.recipients, text);
    match intake.submit_guarded(&requests, "checkin", &guard) {
        Ok(Some(ids)) => {
            log::info!("check-in {}: queued {text:?} (ids {ids:?})", c.def.name);
            true
        }
        Ok(None) => false,
        Err(e) => {
            let cause = e.store_error().map(ToString::to_string);
            log::error!(
                "check-in {}: cannot queue {text:?}: {}",
                c.def.name,
                cause.unwrap_or_else(|| e.to_string())
            );
            false
        }
    }
}

/// Queues the back SMS of a late check-in that reported again.
fn back(intake: &Intake, c: &Checkin, now: i64) -> bool {
    let guard = Guard::CheckinBack {
        name: c.def.name.clone(),
        now,
    };
    queue(intake, c, &back_text(c), guard)
}

/// One pass over the check-ins at `now`: the late ones get their SMS (and
/// a late one that reported but whose back SMS could not be queued then
/// gets it now). Returns how many SMS texts were queued.
pub fn check_late(intake: &Intake, now: i64) -> Result<usize, StoreError> {
    let checkins = intake.store().checkins()?;
    let mut queued = 0;
    for c in checkins {
        if !c.late && c.late_at() <= now {
            let guard = Guard::CheckinLate {
                name: c.def.name.clone(),
                now,
            };
            queued += usize::from(queue(intake, &c, &late_text(&c), guard));
        } else if c.late && c.last_seen.zip(c.alerted_at).is_some_and(|(s, a)| s >= a) {
            queued += usize::from(back(intake, &c, now));
        }
    }
    Ok(queued)
}

/// The thread `pager` of serve: every `checkin-interval` the check-ins,
/// and the heartbeat when it is due, until `stop`.
pub fn run(intake: Intake, settings: Arc<Settings>, stop: Arc<AtomicBool>) {
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        if Instant::now() >= next {
            let now = clock::now();
            if let Err(e) = check_late(&intake, now) {
                log::warn!("pager: cannot read the check-ins: {e}");
            }
            if let Err(e) = ack::pass(&intake, now) {
                log::warn!("pager: cannot read the replies: {e}");
            }
            // after the replies: an ACK that came in time stops the step
            if let Err(e) = escalate::pass(&intake) {
                log::warn!("pager: cannot read the escalation chains: {e}");
            }
            if let Some(h) = &settings.heartbeat {
                heartbeat::tick(&intake, h, now);
            }
            next = Instant::now() + settings.checkin_interval;
        }
        std::thread::sleep(Duration::from_millis(200).min(settings.checkin_interval));
    }
}
