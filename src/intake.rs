//! The one way in to the queue. Every entry point (a TCP line on port 2021,
//! the web form, `POST /api/send`, Kannel's `/cgi-bin/sendsms`; webhooks,
//! SMTP or a spool directory later) parses its own input into
//! [`Request`]s and calls [`Intake::submit`], which
//!
//! 1. refuses an empty batch and checks each request with the rules of a
//!    TCP line ([`protocol::validate`]: phone, non-blank text, at most
//!    `max-parts` parts via `gsm::plan`); one bad request refuses the batch;
//! 2. commits them all in one [`Store::enqueue`] (all or nothing);
//! 3. only after the commit sends [`Wake::Queued`] to the modem threads;
//! 4. returns the ids, or an [`IntakeError`] that each way in turns into
//!    its own answer (`OK`/`ERR` on TCP, status codes and bodies on the web)
//!    and its own log line (it knows the peer and the user).
//!
//! The wake-up is sent before the caller answers: it is a channel send that
//! never blocks, while the answer is a socket write that may wait for a slow
//! client. A client that has its `OK` can rely on the rows being committed.

use std::fmt;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

use crate::protocol::{self, Options, Request, RequestError};
use crate::spool::Spool;
use crate::store::{
    AlertMark, ErrorKind, EscalationStart, Group, Guard, NewMessage, Store, StoreError,
};

/// Sources whose messages are not alerts: nobody acknowledges them (the
/// ACK pass skips them), so to an escalation group they go to every member
/// at once, as to a plain group, and start no chain (a daily heartbeat
/// would otherwise walk the whole chain every day).
pub const NOT_ALERTS: [&str; 2] = ["ack", "heartbeat"];

/// The id a client is given for an accepted message: its row in the
/// database's queue, or (while the database is unreachable) in the local
/// spool, shown `L<id>`. A spooled message gets a database id when it is
/// moved there; the `L` id names it in the spool (and in the log) only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MsgId {
    Queued(i64),
    Spooled(i64),
}

impl fmt::Display for MsgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MsgId::Queued(id) => write!(f, "{id}"),
            MsgId::Spooled(id) => write!(f, "L{id}"),
        }
    }
}

/// What wakes the modem threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Something was committed to `msg`.
    Queued,
    /// The modem has something to read while its thread is idle (the
    /// port's watch, `modem::Watch`, to its own modem thread only).
    Modem,
}

/// Why a batch was not queued. Nothing of it was.
#[derive(Debug)]
pub enum IntakeError {
    /// The client's fault: the reason says what to fix.
    Rejected(Rejection),
    /// The database cannot be reached now; the client may try again later.
    Unavailable(StoreError),
    /// Any other store failure (schema, constraint, bug): see the log.
    Failed(StoreError),
}

/// What is wrong with a batch of requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No request at all (the web: no phone number given).
    NoRecipient,
    /// More requests in one batch than `max-recipients`.
    TooManyRecipients { count: usize, limit: usize },
    /// A request breaks one of [`protocol::validate`]'s rules.
    Invalid(RequestError),
    /// `@name` names no group (`smss group list` shows them).
    UnknownGroup { index: usize, name: String },
    /// `@name` is a group without members.
    EmptyGroup { index: usize, name: String },
    /// `@name` is not in the spool's copy of the groups, which answered
    /// because the database is unreachable (copied then; `None`: the copy
    /// holds nothing).
    UnknownCopiedGroup {
        index: usize,
        name: String,
        as_of: Option<String>,
    },
}

impl IntakeError {
    /// The store's error, for the way in's log line.
    pub fn store_error(&self) -> Option<&StoreError> {
        match self {
            IntakeError::Rejected(_) => None,
            IntakeError::Unavailable(e) | IntakeError::Failed(e) => Some(e),
        }
    }
}

impl From<RequestError> for IntakeError {
    fn from(e: RequestError) -> IntakeError {
        IntakeError::Rejected(Rejection::Invalid(e))
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::NoRecipient => write!(f, "no phone number given"),
            Rejection::TooManyRecipients { count, limit } => write!(
                f,
                "too many recipients: {count}, at most {limit} in one request (max-recipients)"
            ),
            Rejection::Invalid(e) => e.fmt(f),
            Rejection::UnknownGroup { index, name } => write!(
                f,
                "request {index}: no group '@{name}' (smss group list shows the groups)"
            ),
            Rejection::EmptyGroup { index, name } => {
                write!(f, "request {index}: the group '@{name}' has no members")
            }
            Rejection::UnknownCopiedGroup { index, name, as_of } => match as_of {
                Some(t) => write!(
                    f,
                    "request {index}: no group '@{name}' (the database is unreachable: \
                     groups as of {t} UTC)"
                ),
                None => write!(
                    f,
                    "request {index}: no group '@{name}' (the database is unreachable: \
                     no copy of the groups)"
                ),
            },
        }
    }
}

/// The words a client is told (after `ERR ` on TCP, in the web's bodies).
impl fmt::Display for IntakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntakeError::Rejected(r) => r.fmt(f),
            IntakeError::Unavailable(_) => write!(f, "database unavailable, try again later"),
            IntakeError::Failed(_) => write!(f, "cannot store the request, see the server log"),
        }
    }
}

impl std::error::Error for IntakeError {}

/// One request per recipient (a number or `@group`), all with the same
/// text (the web's ways in).
pub fn to_each(recipients: &[String], text: &str) -> Vec<Request> {
    to_each_with(recipients, text, &Options::default())
}

/// One request per recipient (a number or `@group`), all with the same
/// text and options.
pub fn to_each_with(recipients: &[String], text: &str, options: &Options) -> Vec<Request> {
    recipients
        .iter()
        .map(|r| Request {
            options: options.clone(),
            ..Request::to(r, text)
        })
        .collect()
}

/// The queue and the modem threads' wake-up channel, with the limits of
/// one batch; cloned into every way in.
#[derive(Clone)]
pub struct Intake {
    store: Arc<dyn Store>,
    /// The local spool of a MySQL store (`None` with SQLite).
    spool: Option<Arc<Spool>>,
    wake: Sender<Wake>,
    max_parts: usize,
    max_recipients: usize,
    /// `coalesce-window` (zero: repeats are not merged).
    coalesce_window: Duration,
}

impl Intake {
    /// `max_parts`: SMS parts one text may take; `max_recipients`: requests
    /// one batch may hold (`max-parts`, `max-recipients`).
    pub fn new(
        store: Arc<dyn Store>,
        wake: Sender<Wake>,
        max_parts: usize,
        max_recipients: usize,
    ) -> Intake {
        Intake {
            store,
            spool: None,
            wake,
            max_parts,
            max_recipients,
            coalesce_window: Duration::ZERO,
        }
    }

    /// Repeats of a queued message are merged into it, repeats of one sent
    /// less than `window` ago are recorded as suppressed (`coalesce-window`;
    /// zero: off, the default of [`Intake::new`]).
    pub fn with_coalesce_window(mut self, window: Duration) -> Intake {
        self.coalesce_window = window;
        self
    }

    /// The same intake, committing to `spool` what the store cannot take
    /// because it is unreachable (and, while it is, everything).
    pub fn with_spool(mut self, spool: Arc<Spool>) -> Intake {
        self.spool = Some(spool);
        self
    }

    /// The local spool, when there is one (a MySQL store).
    pub fn spool(&self) -> Option<&Arc<Spool>> {
        self.spool.as_ref()
    }

    /// Validates `requests` (1-based positions in the errors), expands
    /// each `@group` into one message per member (the members as they are
    /// now: a later change of the group does not touch what is queued; an
    /// escalation group into one urgent message to its first member that
    /// starts the chain, `pager::escalate` takes the next steps),
    /// commits them in one transaction with `source` (`ip:<address>`,
    /// `web`, `api`, `kannel`, ...), then wakes the modem threads. The ids
    /// are in the order of `requests`, a group's in the order of its
    /// members. `max-recipients` counts the messages after expansion.
    ///
    /// With a spool: while the database is unreachable the messages are
    /// committed to the spool instead (their ids are [`MsgId::Spooled`]);
    /// `marks` then go to the spool too, and into the database when it
    /// answers again.
    pub fn submit(&self, requests: &[Request], source: &str) -> Result<Vec<MsgId>, IntakeError> {
        self.submit_marked(requests, source, &[])
    }

    /// [`Intake::submit`], recording `marks` in the same transaction (the
    /// alerts these messages notify: `web/alertmanager.rs`).
    pub fn submit_marked(
        &self,
        requests: &[Request],
        source: &str,
        marks: &[AlertMark],
    ) -> Result<Vec<MsgId>, IntakeError> {
        let msgs = self.expand(requests, source)?;
        let ids = self.commit(&msgs, marks)?;
        // Nobody listening (the modem threads have stopped) is no error: the
        // rows are committed and the next serve or send-pending sends them.
        let _ = self.wake.send(Wake::Queued);
        Ok(ids)
    }

    /// [`Intake::submit`] with `guard`'s state change in the same
    /// transaction (the pager's late/back SMS, the heartbeat); `Ok(None)`
    /// when the state had changed already (another serve queued them).
    pub fn submit_guarded(
        &self,
        requests: &[Request],
        source: &str,
        guard: &Guard,
    ) -> Result<Option<Vec<i64>>, IntakeError> {
        let msgs = self.expand(requests, source)?;
        let ids = self
            .store
            .enqueue_guarded(&msgs, guard)
            .map_err(store_error)?;
        if ids.is_some() {
            let _ = self.wake.send(Wake::Queued);
        }
        Ok(ids)
    }

    /// The rules of every batch: validated, `@group`s expanded, within
    /// `max-recipients`.
    fn expand(&self, requests: &[Request], source: &str) -> Result<Vec<NewMessage>, IntakeError> {
        if requests.is_empty() {
            return Err(IntakeError::Rejected(Rejection::NoRecipient));
        }
        let too_many = |count: usize| {
            IntakeError::Rejected(Rejection::TooManyRecipients {
                count,
                limit: self.max_recipients,
            })
        };
        if requests.len() > self.max_recipients {
            return Err(too_many(requests.len()));
        }
        let mut msgs: Vec<NewMessage> = Vec::with_capacity(requests.len());
        for (i, r) in requests.iter().enumerate() {
            let index = i + 1;
            let Some(group) = &r.group else {
                let v = protocol::validate(index, &r.phone, &r.text, self.max_parts)?;
                msgs.push(NewMessage {
                    phone: v.phone,
                    text: v.text,
                    source: source.to_owned(),
                    group: None,
                    options: r.options.clone(),
                    coalesce_window: self.coalesce_window,
                    escalation: None,
                });
                continue;
            };
            if !protocol::valid_name(group) {
                return Err(RequestError::InvalidGroup {
                    index,
                    name: group.clone(),
                }
                .into());
            }
            let g = self.group(index, group)?;
            let members = g.members;
            if members.is_empty() {
                return Err(IntakeError::Rejected(Rejection::EmptyGroup {
                    index,
                    name: group.clone(),
                }));
            }
            if let Some(step_time) = g.escalate.filter(|_| !NOT_ALERTS.contains(&source)) {
                msgs.push(self.first_step(index, r, group, step_time, members, source)?);
                continue;
            }
            for phone in members {
                let v = protocol::validate(index, &phone, &r.text, self.max_parts)?;
                msgs.push(NewMessage {
                    phone: v.phone,
                    text: v.text,
                    source: source.to_owned(),
                    group: Some(group.clone()),
                    options: r.options.clone(),
                    coalesce_window: self.coalesce_window,
                    escalation: None,
                });
            }
        }
        if msgs.len() > self.max_recipients {
            return Err(too_many(msgs.len()));
        }
        Ok(msgs)
    }

    /// The group `name` from the database, or (with a spool, while the
    /// database is unreachable) from the spool's copy.
    fn group(&self, index: usize, name: &str) -> Result<Group, IntakeError> {
        let unknown = || {
            IntakeError::Rejected(Rejection::UnknownGroup {
                index,
                name: name.to_owned(),
            })
        };
        let Some(spool) = &self.spool else {
            return self
                .store
                .group(name)
                .map_err(store_error)?
                .ok_or_else(unknown);
        };
        if !spool.is_degraded() {
            match self.store.group(name) {
                Ok(g) => return g.ok_or_else(unknown),
                Err(e) if e.kind() == ErrorKind::Unavailable => spool.enter_degraded(&e),
                Err(e) => return Err(store_error(e)),
            }
        }
        spool
            .copied_group(name)
            .map_err(IntakeError::Failed)?
            .ok_or_else(|| {
                IntakeError::Rejected(Rejection::UnknownCopiedGroup {
                    index,
                    name: name.to_owned(),
                    as_of: spool.copied_at(),
                })
            })
    }

    /// An alert to the escalation group `group`: one urgent SMS to its
    /// first member, `[1/N] text`, starting the chain. The text must fit
    /// with the widest step prefix (`[N/N] `), so every later step does.
    fn first_step(
        &self,
        index: usize,
        r: &Request,
        group: &str,
        step_time: Duration,
        members: Vec<String>,
        source: &str,
    ) -> Result<NewMessage, IntakeError> {
        let n = members.len();
        let widest = crate::store::step_text(n as u32, n, &r.text);
        let v = protocol::validate(index, &members[0], &widest, self.max_parts)?;
        let options = Options {
            priority: crate::options::Priority::Urgent,
            ..r.options.clone()
        };
        Ok(NewMessage {
            phone: v.phone,
            text: crate::store::step_text(1, n, &r.text),
            source: source.to_owned(),
            group: Some(group.to_owned()),
            options,
            coalesce_window: Duration::ZERO,
            escalation: Some(EscalationStart {
                group: group.to_owned(),
                step_time,
                members,
                text: r.text.clone(),
            }),
        })
    }

    /// The store behind the queue (the pager reads its check-ins there).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The database's queue, or the spool while the database is away.
    fn commit(&self, msgs: &[NewMessage], marks: &[AlertMark]) -> Result<Vec<MsgId>, IntakeError> {
        let queued = |ids: Vec<i64>| ids.into_iter().map(MsgId::Queued).collect();
        let Some(spool) = &self.spool else {
            return self
                .store
                .enqueue_marked(msgs, marks)
                .map(queued)
                .map_err(store_error);
        };
        let spooled = |ids: Vec<i64>| ids.into_iter().map(MsgId::Spooled).collect();
        // The same keys in the database and, should its commit fail, in
        // the spool: a commit the database made but could not confirm is
        // not moved in twice.
        let keys = crate::spool::new_keys(msgs.len()).map_err(IntakeError::Failed)?;
        if let Some(ids) = spool.enqueue_if_degraded(msgs, &keys, marks) {
            return ids.map(spooled).map_err(IntakeError::Failed);
        }
        match self.store.enqueue_keyed(msgs, &keys, marks) {
            Ok(ids) => Ok(queued(ids)),
            Err(e) if e.kind() == ErrorKind::Unavailable => spool
                .enqueue_degraded(msgs, &keys, marks, &e)
                .map(spooled)
                .map_err(IntakeError::Failed),
            Err(e) => Err(store_error(e)),
        }
    }
}

/// A conflict the store's retries did not resolve is "try again" to the
/// client, as an outage is, but it is no outage: not spooled (`commit`).
fn store_error(e: StoreError) -> IntakeError {
    match e.kind() {
        ErrorKind::Unavailable | ErrorKind::Conflict => IntakeError::Unavailable(e),
        _ => IntakeError::Failed(e),
    }
}

/// The wake relay of `serve`: hands every wake-up from `from` (the one
/// channel the ways in and the signal handler send on) to each modem
/// thread's own channel in `to`. An mpsc receiver has one owner, and any
/// idle modem may be the one to claim the new rows (or must see the stop
/// flag), so each gets its own copy. Ends when every sender on `from` is
/// gone; a modem thread that has ended is skipped.
pub fn relay_wakes(from: Receiver<Wake>, to: Vec<Sender<Wake>>) {
    for wake in from {
        for tx in &to {
            let _ = tx.send(wake);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn intake(max_parts: usize) -> (Intake, Arc<dyn Store>, Receiver<Wake>) {
        let store = crate::store::open("sqlite::memory:", true).unwrap();
        let (tx, rx) = mpsc::channel();
        (Intake::new(Arc::clone(&store), tx, max_parts, 3), store, rx)
    }

    fn all() -> crate::store::ListFilter {
        crate::store::ListFilter {
            limit: 100,
            ..Default::default()
        }
    }

    fn req(phone: &str, text: &str) -> Request {
        Request::to(phone, text)
    }

    #[test]
    fn a_group_is_expanded_when_accepted() {
        let (intake, store, _wake) = intake(10);
        store
            .set_group("oncall", &["420608337726".into(), "420777123456".into()])
            .unwrap();
        let ids = intake
            .submit(&[req("@oncall", "disk full"), req("123456", "x")], "test")
            .unwrap();
        assert_eq!(ids.len(), 3);
        let queued = store.list_queued(&all()).unwrap();
        let mut got: Vec<(String, Option<String>)> = queued
            .iter()
            .map(|r| (r.phone.clone(), r.group.clone()))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("123456".to_string(), None),
                ("420608337726".to_string(), Some("oncall".to_string())),
                ("420777123456".to_string(), Some("oncall".to_string())),
            ]
        );
        // changing the group later leaves the queued messages as they were
        store.set_group("oncall", &["999999".into()]).unwrap();
        assert_eq!(store.list_queued(&all()).unwrap().len(), 3);
    }

    #[test]
    fn unknown_empty_and_oversized_groups_queue_nothing() {
        let (intake, store, wake) = intake(10);
        store.set_group("empty", &[]).unwrap();
        store
            .set_group("four", &vec!["420608337726".to_string(); 4])
            .unwrap();
        store
            .set_group("three", &vec!["420608337726".to_string(); 3])
            .unwrap();
        for (batch, answer) in [
            (
                vec![req("123456", "x"), req("@nobody", "x")],
                "request 2: no group '@nobody' (smss group list shows the groups)",
            ),
            (
                vec![req("@empty", "x")],
                "request 1: the group '@empty' has no members",
            ),
            (
                vec![req("@four", "x")],
                "too many recipients: 4, at most 3 in one request (max-recipients)",
            ),
            (
                vec![req("@three", "x"), req("123456", "x")],
                "too many recipients: 4, at most 3 in one request (max-recipients)",
            ),
        ] {
            let e = intake.submit(&batch, "test").unwrap_err();
            assert!(matches!(e, IntakeError::Rejected(_)), "{e:?}");
            assert_eq!(e.to_string(), answer);
        }
        assert!(wake.try_recv().is_err());
        assert!(store.list_queued(&all()).unwrap().is_empty());
        // at the limit
        assert_eq!(intake.submit(&[req("@three", "x")], "t").unwrap().len(), 3);
    }

    #[test]
    fn a_batch_is_committed_then_the_modems_are_woken() {
        let (intake, store, wake) = intake(10);
        let ids = intake
            .submit(
                &to_each(&["420608337726".into(), "+420777123456".into()], "hi"),
                "test",
            )
            .unwrap();
        assert_eq!(ids.len(), 2);
        assert_eq!(wake.try_recv(), Ok(Wake::Queued));
        let queued = store.list_queued(&all()).unwrap();
        assert_eq!(queued.len(), 2);
        assert!(queued.iter().all(|r| r.source == "test" && r.text == "hi"));
    }

    #[test]
    fn one_bad_request_refuses_the_batch_and_wakes_nobody() {
        let (intake, store, wake) = intake(1);
        let long = "x".repeat(161);
        for (batch, answer) in [
            (vec![], "no phone number given"),
            (
                vec![req("420608337726", "ok"), req("12", "ok")],
                "request 2: invalid phone number '12' (use an optional + and 3 to 20 digits)",
            ),
            (vec![req("420608337726", " ")], "request 1: empty text"),
            (
                vec![req("420608337726", "ok"); 4],
                "too many recipients: 4, at most 3 in one request (max-recipients)",
            ),
            (
                vec![req("420608337726", &long)],
                "request 1: text too long (2 SMS parts, the limit is 1)",
            ),
        ] {
            let e = intake.submit(&batch, "test").unwrap_err();
            assert!(matches!(e, IntakeError::Rejected(_)), "{e:?}");
            assert_eq!(e.to_string(), answer);
        }
        assert!(wake.try_recv().is_err());
        assert!(store.list_queued(&all()).unwrap().is_empty());
        // at the limit: queued
        let ids = intake
            .submit(&vec![req("420608337726", "ok"); 3], "test")
            .unwrap();
        assert_eq!(ids.len(), 3);
    }

    #[test]
    fn relay_copies_each_wake_to_every_modem() {
        let (tx, rx) = mpsc::channel();
        let (a_tx, a) = mpsc::channel();
        let (b_tx, b) = mpsc::channel();
        drop(b); // a modem thread that has ended
        let (c_tx, c) = mpsc::channel();
        tx.send(Wake::Queued).unwrap();
        drop(tx);
        relay_wakes(rx, vec![a_tx, b_tx, c_tx]);
        assert_eq!(a.try_recv(), Ok(Wake::Queued));
        assert_eq!(c.try_recv(), Ok(Wake::Queued));
    }
}
