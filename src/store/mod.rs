//! The durable queue and record: one [`Store`] interface, two backends.
//!
//! * `rules` — every rule of the queue and the record, written once over
//!   `sql` (bound values, a typed row reader, transaction kinds, and the
//!   `sql::Dialect` fragments that differ between the backends).
//! * `sqlite` — an embedded file, the default when no database URL is set.
//! * `mysql` — MySQL / MariaDB through the `mysql` crate, the production setup.
//!
//! Both backends run the same test suite (`tests.rs`), which also reaches
//! plain SQL and query plans through [`StoreDiagnostics`], kept off
//! [`Store`] for the tests alone.
//!
//! Values with a fixed set of texts in the database cross the boundary as
//! enums ([`SmsStatus`], [`ReportStatus`], [`Coding`]); an error is a
//! [`StoreError`] of an [`ErrorKind`] that callers match on.
//!
//! Tables (see `sql/<backend>/`): `msg` is the queue, `sms` the record of every
//! finished outgoing message, `rcv` what arrived. A message moves from `msg` to
//! `sms` in one transaction, keeping its id. All times are UTC, stored as
//! `YYYY-MM-DD HH:MM:SS.fff`; the database computes them (never this process),
//! so comparisons such as "is this row due" happen in SQL.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::gsm::{DataCoding, Ports, Tables};
pub use crate::options::{Options, Priority, SendAt, Window};

mod call;
mod migrate;
mod mysql;
mod mysql_pool;
mod retry;
mod rules;
mod sql;
mod sqlite;
#[cfg(test)]
mod tests;

pub use call::{CallOutcome, CallRecord, CallRow};
pub use migrate::SCHEMA_VERSION;
use rules::SqlStore;

/// A request accepted from a client, not yet stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewMessage {
    pub phone: String,
    pub text: String,
    /// Where it came from: `ip:<peer address>`, `web`, ... Rows inserted by
    /// other tools with plain SQL get the column default `sql`.
    pub source: String,
    /// The group (`@name`, without the `@`) it was addressed to; `msg` and
    /// `sms` keep it in `via_group`.
    pub group: Option<String>,
    /// Priority and the other wishes of the request.
    pub options: Options,
    /// `coalesce-window`: a request with the phone and text of a queued
    /// message is merged into it, one repeating a message sent less than
    /// this long ago is recorded as `suppressed`; zero: neither, every
    /// request is a message of its own.
    pub coalesce_window: Duration,
    /// The first step of an escalation chain: the chain's row is written
    /// with it, in the same transaction (it is never coalesced).
    pub escalation: Option<EscalationStart>,
}

/// An alert to an escalation group, as its first SMS starts it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EscalationStart {
    pub group: String,
    pub step_time: Duration,
    /// The chain's numbers now, in order (the first gets this SMS).
    pub members: Vec<String>,
    /// The alert's text without the step prefix.
    pub text: String,
}

/// Where an escalation chain is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscalationState {
    /// Waiting for an ACK; the next member is alerted after the step time.
    Active,
    /// A member alerted replied ACK: no further step.
    Acked,
    /// The last member's step time passed without an ACK.
    Exhausted,
}

impl EscalationState {
    pub const fn as_str(self) -> &'static str {
        match self {
            EscalationState::Active => "active",
            EscalationState::Acked => "acked",
            EscalationState::Exhausted => "exhausted",
        }
    }

    pub fn parse(s: &str) -> Option<EscalationState> {
        [
            EscalationState::Active,
            EscalationState::Acked,
            EscalationState::Exhausted,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// Where one step's SMS is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepStatus {
    /// Still in the queue (not sent yet: the chain waits with it).
    Queued,
    /// Sent at `at` (UTC, as stored), `age_secs` ago.
    Sent { at: String, age_secs: i64 },
    /// Not sent: failed, expired or suppressed (the chain goes on).
    NotSent(SmsStatus),
}

/// One step of a chain: the member alerted and that SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationStep {
    pub step: u32,
    pub phone: String,
    pub sms_id: i64,
    pub status: StepStatus,
}

/// An escalation chain as stored, with its steps so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    pub id: i64,
    pub group: String,
    pub step_time: Duration,
    pub members: Vec<String>,
    pub text: String,
    /// The step alerted last (1-based).
    pub step: u32,
    pub state: EscalationState,
    /// UTC, as stored.
    pub started: String,
    pub ended: Option<String>,
    pub acked_by: Option<String>,
    pub steps: Vec<EscalationStep>,
}

impl Escalation {
    /// The text of step `step`: `[2/3] text`.
    pub fn step_text(&self, step: u32) -> String {
        step_text(step, self.members.len(), &self.text)
    }
}

/// `[step/of] text`: what each member of a chain gets.
pub fn step_text(step: u32, of: usize, text: &str) -> String {
    format!("[{step}/{of}] {text}")
}

/// What merges repeats: a hash of the phone and the text (128 bits of
/// BLAKE2s, hex), in `msg.text_key` and `sms.text_key`.
pub fn text_key(phone: &str, text: &str) -> String {
    use blake2::{Blake2s256, Digest};
    let mut h = Blake2s256::new();
    h.update(phone.as_bytes());
    h.update([0]);
    h.update(text.as_bytes());
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A message in the local spool (`spool`), committed there while the
/// MySQL database was unreachable, with what moving it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpooledMessage {
    /// The random key (32 hex digits) that makes the move exactly once.
    pub key: String,
    /// Its id in the spool (answered as `L<id>`).
    pub local_id: i64,
    pub msg: NewMessage,
    /// When it was queued (kept by the move).
    pub created: String,
    pub attempts: u32,
    /// The row's columns for priority and options, as the spool stored
    /// them (absolute times: a ttl counts from the request, not the move).
    pub kept: SpooledColumns,
}

/// What a spooled `msg` row holds beyond its text (issue 18's columns).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpooledColumns {
    /// `msg.priority` (0 urgent, 1 normal, 2 low).
    pub priority: i64,
    pub expires_at: Option<String>,
    /// `send_at`, or when it was queued.
    pub next_attempt: Option<String>,
    pub flash: bool,
    pub send_after: Option<i64>,
    pub send_before: Option<i64>,
}

/// The owner of a spooled message being moved into the database (a claim
/// in the spool that never expires: see [`Store::claim_spooled_move`]).
pub const SPOOL_MOVER: &str = "spool move";

/// A spooled message the modem finished in the spool (its `sms` row there),
/// with what moving it into the database's `sms` keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpooledOutcome {
    /// The key the message was spooled with.
    pub key: String,
    /// Its id in the spool.
    pub local_id: i64,
    pub phone: String,
    pub text: String,
    pub source: String,
    pub via_group: Option<String>,
    pub priority: i64,
    pub text_key: Option<String>,
    pub repeats: i64,
    pub queued_at: String,
    pub sent_at: Option<String>,
    /// `sms.status` as stored (`sent`, `failed`, `expired`, ...).
    pub status: String,
    pub parts: i64,
    pub part_refs: String,
    pub error: Option<String>,
    pub attempts: i64,
    pub sent_by: String,
    pub report_status: Option<String>,
    pub report_time: Option<String>,
    /// The key of the message that carried it in a digest (itself spooled).
    pub carrier_key: Option<String>,
    /// Its delivery reports (`sms_report`), one per part.
    pub reports: Vec<SpooledReport>,
}

/// One `sms_report` row of a spooled outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpooledReport {
    pub mr: i64,
    pub st: i64,
    pub status: String,
    pub discharged: String,
    pub received_at: String,
}

/// A message received into the spool while the database was unreachable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpooledReceived {
    /// Its `rcv.id` in the spool.
    pub local_id: i64,
    pub msg: Received,
    /// When it was stored in the spool (kept by the move).
    pub received_at: String,
}

/// A recipient group and its members, in the order they were given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub members: Vec<String>,
    /// When it was last set (UTC).
    pub updated: String,
    /// An escalation chain with this step time (`--escalate`); `None`: a
    /// plain group.
    pub escalate: Option<Duration>,
}

/// An API token as listed (the token itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub name: String,
    pub created: String,
}

/// An API token as stored: its name and the SHA-256 of the token (hex),
/// what the spool's copy keeps ([`Store::replace_copy`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHash {
    pub name: String,
    pub hash: String,
}

/// That an Alertmanager alert was notified with a status to a recipient
/// (`alert_notified`): recorded in the transaction that queues its SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertMark {
    /// The recipient as addressed: a number or `@group`.
    pub recipient: String,
    pub fingerprint: String,
    /// `firing` or `resolved`.
    pub status: String,
}

/// A check-in (dead-man's switch) as defined: the job `name` reports at
/// least every `every`; after `every + grace` without a report, an SMS to
/// `recipients` (numbers and `@group`s, as given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckinDef {
    pub name: String,
    pub every: Duration,
    pub grace: Duration,
    pub recipients: Vec<String>,
}

/// A check-in as stored. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkin {
    pub def: CheckinDef,
    pub created: i64,
    /// `None`: defined by `smss checkin add`, never checked in.
    pub last_seen: Option<i64>,
    /// The late SMS was queued and the job has not checked in since.
    pub late: bool,
    /// When the last late or back SMS was queued.
    pub alerted_at: Option<i64>,
}

impl Checkin {
    /// When the next check-in is expected (from the last one, or from when
    /// it was added).
    pub fn due_at(&self) -> i64 {
        self.last_seen
            .unwrap_or(self.created)
            .saturating_add(secs(self.def.every))
    }

    /// When it counts as late: due + grace.
    pub fn late_at(&self) -> i64 {
        self.due_at().saturating_add(secs(self.def.grace))
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// The state change a guarded enqueue makes with its messages, in the same
/// transaction; when the state is no longer the one expected (another
/// serve on the same database made the change first), nothing is queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    /// ok -> late, while the check-in is still overdue at `now`.
    CheckinLate { name: String, now: i64 },
    /// late -> ok, when it checked in after the late SMS.
    CheckinBack { name: String, now: i64 },
    /// The periodic send `name` (the heartbeat) for `slot`, once: only
    /// when the slot recorded is older.
    Once { name: String, slot: i64 },
    /// The received message `rcv_id` acknowledges the sent alert `sms_id`
    /// (from `by`): the reader's cursor (`pager_mark` 'ack') passes it,
    /// and the alert is marked, unless it was already. When the alert is
    /// a step of an active escalation chain, the chain is acknowledged
    /// too (no further step).
    Ack {
        rcv_id: i64,
        sms_id: i64,
        by: String,
        now: i64,
    },
    /// The active chain `id` at `step` goes to the next step: the one
    /// message queued with it is that step's SMS.
    EscalationStep { id: i64, step: u32 },
    /// The active chain `id`, at its last `step`, ends unacknowledged.
    EscalationEnd { id: i64, step: u32 },
}

/// A sent message that may be acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub id: i64,
    pub phone: String,
    pub text: String,
}

/// A queued message claimed by a sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    pub id: i64,
    pub phone: String,
    pub text: String,
    pub source: String,
    /// Failed attempts so far (each `retry_later` adds one).
    pub attempts: u32,
    /// Concatenation reference chosen when the first part of a multipart
    /// message went out; kept so that a resumed send uses the same one.
    pub concat_ref: Option<u8>,
    /// How many parts the modem has already confirmed (resume point).
    pub parts_done: u32,
    /// Message references of the confirmed parts, comma separated.
    pub part_refs: String,
    pub created: String,
    pub priority: Priority,
    /// Requests merged into this one (coalesce-window).
    pub repeats: u32,
    /// The count its first parts went out with, once a part of a multipart
    /// message was sent (a resumed send must send the same text).
    pub shown_repeats: Option<u32>,
    /// Seconds left of its ttl (negative: past), `None` without a ttl.
    pub expires_in: Option<i64>,
    pub flash: bool,
    /// Its send window, if it has one.
    pub window: Option<Window>,
    /// The time of day at the claim, minutes after midnight, local time
    /// (of the database, which keeps the clock of every rule).
    pub local_minute: u16,
}

impl QueuedMessage {
    /// The text to send: with ` (xN)` appended when requests were merged
    /// into it and that still fits in `max_parts`.
    pub fn text_to_send(&self, max_parts: usize) -> String {
        let repeats = match self.shown_repeats {
            Some(shown) if self.parts_done > 0 => shown,
            _ => self.repeats,
        };
        if repeats == 0 {
            return self.text.clone();
        }
        let counted = format!("{} (x{})", self.text, repeats + 1);
        if crate::gsm::plan(&counted).1 <= max_parts {
            counted
        } else {
            self.text.clone()
        }
    }

    /// The repeats [`QueuedMessage::text_to_send`] shows.
    pub fn repeats_shown(&self, max_parts: usize) -> u32 {
        match self.shown_repeats {
            Some(shown) if self.parts_done > 0 => shown,
            _ if self.text_to_send(max_parts) == self.text => 0,
            _ => self.repeats,
        }
    }
}

/// How a message left the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every part confirmed by the modem. `part_refs`: the message
    /// references (`+CMGS: <mr>`) of all parts, comma separated.
    Sent { parts: u32, part_refs: String },
    /// Given up: the reason in words, for the administrator.
    Failed { error: String },
    /// Its ttl passed before it could be sent.
    Expired,
    /// Sent as a line of the digest message `carrier` (max-per-recipient).
    InDigest { carrier: i64 },
}

/// One row of `sms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsRow {
    pub id: i64,
    pub phone: String,
    pub text: String,
    pub source: String,
    pub queued_at: String,
    /// Set for `Sent`, `None` for `Failed`.
    pub sent_at: Option<String>,
    pub status: SmsStatus,
    pub parts: u32,
    pub part_refs: String,
    pub error: Option<String>,
    /// Failed attempts before the final one, copied from `msg.attempts`
    /// (the final attempt, successful or not, is not counted).
    pub attempts: u32,
    /// Which sender (instance name) finished it.
    pub sent_by: String,
    /// From delivery reports (see [`combined_report`]); `None` when no
    /// report came (or none was asked for).
    pub report_status: Option<ReportStatus>,
    /// The group it was addressed to (`via_group`).
    pub group: Option<String>,
    pub priority: Priority,
    /// Requests merged into this message (it went out once for all).
    pub repeats: u32,
    /// For `Suppressed`: the message this one repeated.
    pub coalesced_into: Option<i64>,
    /// Acknowledged by an SMS reply: when (Unix seconds) and by which number.
    pub acked: Option<(i64, String)>,
}

/// How a message left the queue: `sms.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsStatus {
    /// Every part confirmed by the modem.
    Sent,
    /// Given up (`sms.error` says why).
    Failed,
    /// A repeat of a message sent less than `coalesce-window` before
    /// (`sms.coalesced_into`); not sent.
    Suppressed,
    /// Its ttl passed before it was sent; not sent late.
    Expired,
}

impl SmsStatus {
    /// `sent` or `failed`: the text in the database (and in the web's
    /// pages and JSON).
    pub const fn as_str(self) -> &'static str {
        match self {
            SmsStatus::Sent => "sent",
            SmsStatus::Failed => "failed",
            SmsStatus::Suppressed => "suppressed",
            SmsStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<SmsStatus> {
        match s {
            "sent" => Some(SmsStatus::Sent),
            "failed" => Some(SmsStatus::Failed),
            "suppressed" => Some(SmsStatus::Suppressed),
            "expired" => Some(SmsStatus::Expired),
            _ => None,
        }
    }
}

impl fmt::Display for SmsStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What delivery reports say of a message (`sms.report_status`) or of one
/// of its parts (`sms_report.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStatus {
    Delivered,
    /// The network is still trying.
    Pending,
    Failed,
}

impl ReportStatus {
    /// `delivered`, `pending` or `failed`: the text in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Delivered => "delivered",
            ReportStatus::Pending => "pending",
            ReportStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<ReportStatus> {
        match s {
            "delivered" => Some(ReportStatus::Delivered),
            "pending" => Some(ReportStatus::Pending),
            "failed" => Some(ReportStatus::Failed),
            _ => None,
        }
    }
}

impl fmt::Display for ReportStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a received text is coded (`rcv.coding`, `rcv_part.coding`): as the
/// PDU's data coding says, or not decoded at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// Decoded with this data coding (`gsm7`, `ucs2`; `8bit`: the text is
    /// the data as hex).
    Decoded(DataCoding),
    /// An undecodable PDU, kept whole as hex (`raw`).
    Raw,
}

impl Coding {
    /// `gsm7`, `ucs2`, `8bit` or `raw`: the text in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Coding::Decoded(c) => c.name(),
            Coding::Raw => "raw",
        }
    }

    pub fn parse(s: &str) -> Option<Coding> {
        match s {
            "raw" => Some(Coding::Raw),
            _ => DataCoding::from_name(s).map(Coding::Decoded),
        }
    }
}

impl From<DataCoding> for Coding {
    fn from(c: DataCoding) -> Coding {
        Coding::Decoded(c)
    }
}

impl fmt::Display for Coding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A received message for `rcv`: a single SMS, or a concatenated one joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub sender: String,
    pub text: String,
    pub coding: Coding,
    /// The SMSC time stamp with its zone, as text.
    pub smsc_time: String,
    pub smsc: Option<String>,
    pub parts: u32,
    /// False when parts of a concatenated message never arrived.
    pub complete: bool,
    /// Recognises the same message read again (see [`dedupe_key`]).
    pub dedupe_key: String,
    /// TP-PID: 0 plain; `gsm::silent` (type 0) and `gsm::replace_type`
    /// (a replace type replaces the earlier message of the same TP-PID
    /// from the same sender: that row gets `replaced_by`).
    pub pid: u8,
    /// Application ports (8-bit data: WAP push and the like).
    pub ports: Option<Ports>,
}

/// One part of a concatenated message, waiting in `rcv_part` for the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedPart {
    pub sender: String,
    pub reference: u16,
    /// A 16-bit reference (IE 0x08) rather than 8-bit: a set of its own.
    pub ref16: bool,
    pub total: u8,
    pub seq: u8,
    pub coding: Coding,
    /// The national language tables of a 7-bit part, for decoding the
    /// joined bodies.
    pub tables: Tables,
    pub pid: u8,
    pub ports: Option<Ports>,
    /// `UserData::body` as hex: joined with the other parts before decoding.
    pub body_hex: String,
    /// This part alone, decoded.
    pub text: String,
    pub smsc_time: String,
    pub smsc: Option<String>,
    pub dedupe_key: String,
}

/// What [`Store::save_part`] did with a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartSaved {
    /// What became of the part and its set.
    pub saved: Saved,
    /// An earlier set with the same sender, reference and total that
    /// already had this part number: the sender reused the reference, so
    /// that set will get no more parts and was stored, incomplete, as this
    /// `rcv` row.
    pub stale: Option<i64>,
}

/// What became of a received message or part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// Stored as `rcv` row `id`.
    New(i64),
    /// A part stored; its set is not complete yet.
    Waiting,
    /// Seen and stored before (read again after a crash): nothing written.
    Duplicate,
}

/// One row of `rcv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcvRow {
    pub id: i64,
    pub sender: String,
    pub text: String,
    pub coding: Coding,
    pub smsc_time: String,
    pub received_at: String,
    pub parts: u32,
    pub complete: bool,
    /// TP-PID (see [`Received::pid`]).
    pub pid: u8,
    pub ports: Option<Ports>,
    /// A later "replace" message from the same sender took its place.
    pub replaced_by: Option<i64>,
}

impl RcvRow {
    /// A type 0 ("silent") message: stored, but no one is alerted by it.
    pub fn silent(&self) -> bool {
        crate::gsm::silent(self.pid)
    }
}

/// A delivery report (SMS-STATUS-REPORT) to match with an `sms` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The message reference of the part it reports on.
    pub mr: u8,
    pub recipient: String,
    /// TP-ST.
    pub st: u8,
    /// When the network says it happened (TP-DT), as text.
    pub discharged: String,
}

/// What a TP-ST value says (TS 23.040 §9.2.3.15): delivered, still
/// pending, or failed.
pub fn report_status(st: u8) -> ReportStatus {
    match st {
        0x00..=0x1F => ReportStatus::Delivered,
        0x20..=0x3F => ReportStatus::Pending,
        _ => ReportStatus::Failed,
    }
}

/// Whether a report's recipient is the number an `sms` row was sent to,
/// whichever of `+420…`, `00420…`, `420…` or a national form each uses.
pub fn same_number(phone: &str, recipient: &str) -> bool {
    let digits = |s: &str| -> String {
        let s = s.trim_start_matches('+');
        s.strip_prefix("00").unwrap_or(s).to_owned()
    };
    let (a, b) = (digits(phone), digits(recipient));
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    !short.is_empty() && (short == long || (short.len() >= 6 && long.ends_with(short.as_str())))
}

/// Whether `mr` is one of the comma separated references of an `sms` row.
pub fn refs_contain(part_refs: &str, mr: u8) -> bool {
    part_refs
        .split(',')
        .any(|r| r.trim().parse::<u16>().ok() == Some(u16::from(mr)))
}

/// The combined report status of a message from the status of each part:
/// failed if any failed, delivered when every part was, else pending.
pub fn combined_report(parts: u32, statuses: &[ReportStatus]) -> ReportStatus {
    if statuses.contains(&ReportStatus::Failed) {
        ReportStatus::Failed
    } else if statuses
        .iter()
        .filter(|s| **s == ReportStatus::Delivered)
        .count()
        >= parts.max(1) as usize
    {
        ReportStatus::Delivered
    } else {
        ReportStatus::Pending
    }
}

/// A stable 64-bit FNV-1a hash, hex (std's hasher may change between Rust
/// versions; these keys are stored).
fn fnv1a(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The duplicate-detection key: sender, SMSC time, concatenation reference
/// and part (when any), and a hash of the content.
pub fn dedupe_key(
    sender: &str,
    smsc_time: &str,
    part: Option<(u16, u8, u8)>,
    content: &str,
) -> String {
    let sender: String = sender.chars().take(64).collect();
    let part = part.map_or_else(
        || "-".to_owned(),
        |(r, total, seq)| format!("{r}/{total}/{seq}"),
    );
    format!("{sender}|{smsc_time}|{part}|{}", fnv1a(content.as_bytes()))
}

/// Joins the parts of a set (any order; missing ones simply absent) into
/// one text: the bodies are concatenated and decoded once, so a character a
/// sender split across parts comes out whole. Parts in different codings or
/// national language tables (which a phone should never send) are decoded
/// one by one.
pub fn join_parts(parts: &[ReceivedPart]) -> String {
    let mut sorted: Vec<&ReceivedPart> = parts.iter().collect();
    sorted.sort_by_key(|p| p.seq);
    let first = sorted.first().map(|p| (p.coding, p.tables));
    let same = sorted.iter().all(|p| Some((p.coding, p.tables)) == first);
    let coding = first.map(|f| f.0);
    let tables = first.map_or(Tables::DEFAULT, |f| f.1);
    let bytes: Option<Vec<u8>> = sorted
        .iter()
        .map(|p| hex_to_bytes(&p.body_hex))
        .collect::<Option<Vec<_>>>()
        .map(|v| v.concat());
    match (same, coding, bytes) {
        (true, Some(Coding::Decoded(c)), Some(bytes)) => crate::gsm::decode_body(c, tables, &bytes),
        _ => sorted.iter().map(|p| p.text.as_str()).collect(),
    }
}

pub fn hex_to_bytes(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The `rcv` row made of a set's parts (complete or not).
pub fn joined_row(parts: &[ReceivedPart], complete: bool) -> Option<Received> {
    let first = parts.iter().min_by_key(|p| p.seq)?;
    let text = join_parts(parts);
    Some(Received {
        sender: first.sender.clone(),
        dedupe_key: dedupe_key(
            &first.sender,
            &first.smsc_time,
            Some((first.reference, first.total, 0)),
            &text,
        ),
        text,
        coding: first.coding,
        smsc_time: first.smsc_time.clone(),
        smsc: first.smsc.clone(),
        parts: parts.len() as u32,
        complete,
        pid: first.pid,
        ports: first.ports,
    })
}

/// Queue depth and the age of its oldest row, for `status` and the web UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStats {
    pub depth: u64,
    /// `created` of the oldest queued row, if any.
    pub oldest: Option<String>,
    /// Seconds since then, computed by the database.
    pub oldest_age_secs: Option<i64>,
}

/// Which rows of a list the web interface or the API wants, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// For `list_sms`: only rows of this status; `None` = both.
    pub status: Option<SmsStatus>,
    /// Numbers that begin with this (an optional `+`, then digits: what an
    /// index on the number can serve).
    pub number_prefix: Option<String>,
    /// Keyset paging: only rows with a smaller id (the next, older page).
    pub before_id: Option<i64>,
    /// Only rows queued (`sms`, `msg`) or received (`rcv`) at or after this
    /// UTC time, `YYYY-MM-DD HH:MM:SS[.fff]`.
    pub since: Option<String>,
    pub limit: usize,
    /// For `list_queued` without `before_id`: in the order the modem will
    /// send (due first, then most urgent, then oldest), not newest first.
    pub send_order: bool,
}

/// One row of the queue (`msg`), for the web interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRow {
    pub id: i64,
    pub phone: String,
    pub text: String,
    pub source: String,
    pub created: String,
    pub attempts: u32,
    /// When a retry is due (`None`: due now).
    pub next_attempt: Option<String>,
    pub last_error: Option<String>,
    /// A sender holds a live claim on it: it is being sent right now.
    pub sending: bool,
    pub parts_done: u32,
    /// The group it was addressed to (`via_group`).
    pub group: Option<String>,
    pub priority: Priority,
    /// Requests merged into it so far.
    pub repeats: u32,
}

/// Counts over the whole record, for the health panel and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub sent: u64,
    pub failed: u64,
    pub received: u64,
    /// The newest `sms.sent_at`, and how many seconds ago that was.
    pub last_sent: Option<String>,
    pub last_sent_age_secs: Option<i64>,
    /// Requests recorded as repeats of a message sent shortly before.
    pub suppressed: u64,
    /// Messages whose ttl passed before they were sent.
    pub expired: u64,
    /// Requests merged into another message (queued or finished).
    pub merged: u64,
    /// Urgent messages in the queue now.
    pub queued_urgent: u64,
}

/// What went wrong in the store, as far as a caller can act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The database cannot be reached (connection refused, gone away, a
    /// Galera node outside the primary component). Callers answer `ERR
    /// database unavailable` and retry, or spool.
    Unavailable,
    /// The transaction lost a conflict with another one (a deadlock, a
    /// Galera certification failure, a lock wait timeout) and was rolled
    /// back, again after the store's retries: nothing of it is committed.
    /// Not an outage: callers say "try again" and do not spool.
    Conflict,
    /// A statement broke a constraint of the schema: a duplicate key, a
    /// reference to a missing row, NULL in a NOT NULL column.
    Constraint,
    /// The schema is missing or older than this binary.
    Schema,
    /// Anything else (a bad URL, a value the store cannot read, a bug).
    Other,
}

/// A store failure: its [`ErrorKind`], the words for the administrator, and
/// the driver's error it comes from, if any ([`std::error::Error::source`];
/// shared, so the error stays `Clone`). The message already includes the
/// driver's own words where it has them: `Display` prints the kind's prefix
/// and the message, and nothing of the source besides.
#[derive(Debug, Clone)]
pub struct StoreError {
    kind: ErrorKind,
    message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    /// `smss init-db` fixes it (no schema, an older one, no database).
    needs_init: bool,
}

impl StoreError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> StoreError {
        StoreError {
            kind,
            message: message.into(),
            source: None,
            needs_init: false,
        }
    }

    /// The same error, one that `smss init-db` fixes: the commands add the
    /// `init-db` command to run, with the options they were given.
    pub fn needing_init(mut self) -> Self {
        self.needs_init = true;
        self
    }

    /// Whether `smss init-db` fixes it.
    pub fn needs_init(&self) -> bool {
        self.needs_init
    }

    pub fn unavailable(message: impl Into<String>) -> StoreError {
        StoreError::new(ErrorKind::Unavailable, message)
    }

    pub fn schema(message: impl Into<String>) -> StoreError {
        StoreError::new(ErrorKind::Schema, message)
    }

    pub fn other(message: impl Into<String>) -> StoreError {
        StoreError::new(ErrorKind::Other, message)
    }

    /// The same error, caused by `source` (the driver's error).
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The words after the kind's prefix (`database error: ...`).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.message;
        match self.kind {
            ErrorKind::Unavailable => write!(f, "database unavailable: {m}"),
            ErrorKind::Conflict => write!(f, "database busy: {m}"),
            ErrorKind::Schema => write!(f, "database schema: {m}"),
            ErrorKind::Constraint | ErrorKind::Other => write!(f, "database error: {m}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The queue and the record. Every method that writes is one transaction,
/// committed before it returns `Ok`.
pub trait Store: Send + Sync {
    /// `"sqlite"` or `"mysql"`.
    fn backend(&self) -> &'static str;

    /// Inserts all messages in one transaction and returns their ids in order.
    /// Returns only after the commit: an `Ok` means the messages are durable.
    fn enqueue(&self, msgs: &[NewMessage]) -> Result<Vec<i64>>;

    /// [`Store::enqueue`], and in the same transaction records `marks`
    /// (alerts notified: the next repeat of their group skips them).
    fn enqueue_marked(&self, msgs: &[NewMessage], marks: &[AlertMark]) -> Result<Vec<i64>>;

    /// [`Store::enqueue_marked`], with each message's spool key
    /// (`keys[i]` for `msgs[i]`) in `spooled`, in the same transaction:
    /// what the local spool commits, and what a serve with a spool commits
    /// to the database, so that a batch whose commit the database made but
    /// could not confirm (the connection lost at that moment), then
    /// spooled, is not moved in a second time.
    fn enqueue_keyed(
        &self,
        msgs: &[NewMessage],
        keys: &[String],
        marks: &[AlertMark],
    ) -> Result<Vec<i64>>;

    /// Up to `limit` spooled unsent messages that no modem holds, oldest
    /// first (in the local spool): unclaimed ones, and those claimed for a
    /// move that was cut short ([`SPOOL_MOVER`]).
    fn list_spooled(&self, limit: usize) -> Result<Vec<SpooledMessage>>;

    /// How many messages the spool holds: unsent, finished and received
    /// ones (and waiting parts), all to be moved into the database.
    fn count_spooled(&self) -> Result<u64>;

    /// Moves a spooled message into this (the main) store's queue, once:
    /// `Some(id)` when it was inserted now, `None` when its key was moved
    /// before (nothing written).
    fn import_spooled(&self, m: &SpooledMessage) -> Result<Option<i64>>;

    /// Deletes moved messages from the local spool (`local_id`s).
    fn delete_spooled(&self, local_ids: &[i64]) -> Result<()>;

    /// In the spool: claims the unsent message `local_id` for its move
    /// into the database ([`SPOOL_MOVER`], a claim that never expires and
    /// that no modem takes). False when a modem holds it (it is being
    /// sent: it is moved once finished, as an outcome).
    fn claim_spooled_move(&self, local_id: i64) -> Result<bool>;

    /// In the spool: hands back [`SPOOL_MOVER`]'s claims of `local_ids`,
    /// messages whose move was not tried (so they are not in the database).
    fn release_spooled_move(&self, local_ids: &[i64]) -> Result<()>;

    /// In the spool: up to `limit` spooled messages finished there (sent,
    /// failed, expired), oldest first.
    fn list_spooled_done(&self, limit: usize) -> Result<Vec<SpooledOutcome>>;

    /// Moves a finished spooled message into this (the main) store's `sms`
    /// with a new id from its queue, once (keyed as
    /// [`Store::import_spooled`]): `Some(id)` when inserted now, `None`
    /// when its key was moved before.
    fn import_spooled_done(&self, m: &SpooledOutcome) -> Result<Option<i64>>;

    /// Deletes moved outcomes from the spool (their `sms`, `sms_report`
    /// and `spooled` rows).
    fn delete_spooled_done(&self, local_ids: &[i64]) -> Result<()>;

    /// In the spool: up to `limit` received messages, oldest first.
    fn list_spooled_received(&self, limit: usize) -> Result<Vec<SpooledReceived>>;

    /// Moves a received message into this (the main) store's `rcv`, once
    /// (its `dedupe_key`): `Some(id)` when inserted now, `None` when it is
    /// there already.
    fn import_received(&self, m: &SpooledReceived) -> Result<Option<i64>>;

    /// Deletes moved received messages from the spool (and their joined
    /// parts).
    fn delete_spooled_received(&self, local_ids: &[i64]) -> Result<()>;

    /// In the spool: up to `limit` parts of concatenated messages still
    /// waiting for the rest, with their `rcv_part.id`s. They are moved as
    /// they are with [`Store::save_part`] (which joins a set once the
    /// database has all of it).
    fn list_spooled_parts(&self, limit: usize) -> Result<Vec<(i64, ReceivedPart)>>;

    /// Deletes moved waiting parts from the spool.
    fn delete_spooled_parts(&self, ids: &[i64]) -> Result<()>;

    /// Creates the plain group `name` or replaces its members (in one
    /// transaction). `true` when it was new.
    fn set_group(&self, name: &str, members: &[String]) -> Result<bool> {
        self.set_group_with(name, members, None)
    }

    /// [`Store::set_group`], an escalation chain with that step time when
    /// `escalate` is given, a plain group otherwise.
    fn set_group_with(
        &self,
        name: &str,
        members: &[String],
        escalate: Option<Duration>,
    ) -> Result<bool>;

    /// One group with its members, `None` when there is no such group.
    fn group(&self, name: &str) -> Result<Option<Group>>;

    /// Deletes a group; `false` when there was none of that name.
    fn remove_group(&self, name: &str) -> Result<bool>;

    /// Every group, by name.
    fn list_groups(&self) -> Result<Vec<Group>>;

    /// The members of a group, `None` when there is no such group.
    fn group_members(&self, name: &str) -> Result<Option<Vec<String>>> {
        Ok(self.group(name)?.map(|g| g.members))
    }

    /// Escalation chains, newest first, with their steps: the active ones
    /// only (what the pager looks at), or all.
    fn escalations(&self, active_only: bool, limit: usize) -> Result<Vec<Escalation>>;

    /// Stores a new token's hash under `name`; a name already in use is an
    /// [`ErrorKind::Constraint`] error.
    fn add_token(&self, name: &str, hash: &str) -> Result<()>;

    /// Deletes a token; `false` when there was none of that name.
    fn revoke_token(&self, name: &str) -> Result<bool>;

    fn list_tokens(&self) -> Result<Vec<TokenRow>>;

    /// The name of the token with this hash, if one exists (read each
    /// time: a revoked token is refused at once, by every process).
    fn token_name(&self, hash: &str) -> Result<Option<String>>;

    /// Every API token's name and hash (for the spool's copy).
    fn token_hashes(&self) -> Result<Vec<TokenHash>>;

    /// The spool's copy of the groups and API tokens (issue 20): replaces
    /// every group (members, escalation step, `updated` as given) and
    /// every token with these, in one transaction. Each row's `created` is
    /// the time of the copy ([`Store::copied_at`]).
    fn replace_copy(&self, groups: &[Group], tokens: &[TokenHash]) -> Result<()>;

    /// When [`Store::replace_copy`] last wrote the copy (UTC); `None` when
    /// it holds no group and no token.
    fn copied_at(&self) -> Result<Option<String>>;

    /// The statuses last notified to `recipient` for these fingerprints
    /// (those never notified are absent): `(fingerprint, status)`.
    fn notified_alerts(
        &self,
        recipient: &str,
        fingerprints: &[String],
    ) -> Result<Vec<(String, String)>>;

    /// Every alert mark recorded (the spool's, moved into the database
    /// when the degraded state is left).
    fn alert_marks(&self) -> Result<Vec<AlertMark>>;

    /// Deletes these marks (by recipient and fingerprint).
    fn delete_alert_marks(&self, marks: &[AlertMark]) -> Result<()>;

    /// Forgets the alerts notified longer than `age` ago (a repeat after
    /// that is sent again, as a reminder). Returns how many.
    fn forget_alerts(&self, age: Duration) -> Result<u64>;

    /// [`Store::enqueue`] together with `guard`'s state change, in one
    /// transaction; `None` (nothing queued, nothing changed) when the
    /// state was not the one the guard expects.
    fn enqueue_guarded(&self, msgs: &[NewMessage], guard: &Guard) -> Result<Option<Vec<i64>>>;

    /// The last received message the acknowledgement reader passed
    /// (`None`: it never ran).
    fn ack_cursor(&self) -> Result<Option<i64>>;

    /// Received messages after id `after`, oldest first: (id, sender, text).
    fn received_after(&self, after: i64, limit: usize) -> Result<Vec<(i64, String, String)>>;

    /// The newest sent messages not acknowledged, newest first, except
    /// those of `sources` (the confirmations, the heartbeat).
    fn unacked_alerts(&self, sources: &[&str], limit: usize) -> Result<Vec<Alert>>;

    /// `(acked_at, acked_by)` of a sent message.
    fn acked(&self, sms_id: i64) -> Result<Option<(i64, String)>>;

    /// Defines a check-in, or replaces the definition of one (its last
    /// check-in and state are kept). `true` when it was new.
    fn define_checkin(&self, def: &CheckinDef, now: i64) -> Result<bool>;

    /// A check-in's first report creates it, seen at `now`. `false` (and
    /// nothing changed) when it exists already.
    fn create_checkin(&self, def: &CheckinDef, now: i64) -> Result<bool>;

    /// Records a report: `last_seen = now`. The check-in after it, `None`
    /// when there is none of that name.
    fn checkin_seen(&self, name: &str, now: i64) -> Result<Option<Checkin>>;

    fn checkin(&self, name: &str) -> Result<Option<Checkin>>;

    /// Every check-in, by name.
    fn checkins(&self) -> Result<Vec<Checkin>>;

    /// Deletes a check-in; `false` when there was none of that name.
    fn remove_checkin(&self, name: &str) -> Result<bool>;

    /// Records a voice call made after an urgent SMS; returns its id.
    fn record_call(&self, call: &CallRecord) -> Result<i64>;

    /// Whether `number` may be called now (Unix seconds): not when a call to
    /// it ended less than `window` ago, so several urgent SMS to one number
    /// close together (one batch, or several senders) ring it once.
    fn call_due(&self, number: &str, now: i64, window: Duration) -> Result<bool>;

    /// Recorded calls, newest first; with `before`, those with a smaller id.
    fn list_calls(&self, limit: usize, before: Option<i64>) -> Result<Vec<CallRow>>;

    /// The outcome of the last call after each of these SMS that has one
    /// (for the web's lists of sent messages).
    fn call_outcomes(&self, sms_ids: &[i64]) -> Result<Vec<(i64, CallOutcome)>>;

    /// How many calls ended with each outcome (for `/metrics`).
    fn call_totals(&self) -> Result<Vec<(CallOutcome, u64)>>;

    /// Claims up to `limit` due rows of `msg`, oldest id first: rows whose
    /// `next_attempt` is NULL or past and which are unclaimed or whose claim
    /// expired. Marks them `claimed_by = owner`, `claim_until = now + lease`.
    fn claim_due(&self, owner: &str, lease: Duration, limit: usize) -> Result<Vec<QueuedMessage>>;

    /// Whether a due message more urgent than `than` waits unclaimed (what
    /// the modem thread asks after each send while its batch holds less
    /// urgent ones). One range of the claim's index.
    fn more_urgent_due(&self, than: Priority) -> Result<bool>;

    /// Whether any message is due and unclaimed (what an idle `serve`
    /// asks every `sql-poll-interval`, for rows other tools insert). The
    /// same ranges of the claim's index as [`Store::more_urgent_due`].
    fn any_due(&self) -> Result<bool>;

    /// SMS sent to `phone` within `period`, and the age in seconds of the
    /// oldest of them (for the flood cap, max-per-recipient).
    fn sent_to(&self, phone: &str, period: Duration) -> Result<(u64, Option<i64>)>;

    /// Claims for `owner` every due, non-urgent message to `phone` but
    /// `except` (unclaimed, or claimed by `owner` already), oldest first:
    /// the lines of a digest.
    fn claim_for_digest(
        &self,
        owner: &str,
        phone: &str,
        except: i64,
        lease: Duration,
    ) -> Result<Vec<QueuedMessage>>;

    /// Moves every unclaimed message whose ttl has passed to `sms` as
    /// `expired` (run each pass, also while the modem is away); their ids.
    fn expire_due(&self) -> Result<Vec<i64>>;

    /// A claimed message waits `delay` (its send window is closed), its
    /// claim handed back and no attempt charged.
    fn postpone(&self, id: i64, owner: &str, delay: Duration) -> Result<()>;

    /// Hands back `owner`'s claims on `ids` (the unsent rest of a batch a
    /// more urgent message overtakes); other claims of `owner` stay.
    fn release(&self, owner: &str, ids: &[i64]) -> Result<u64>;

    /// Drops every claim held by `owner` (at startup: whatever a crashed
    /// predecessor with the same name had in flight becomes due again).
    fn release_claims(&self, owner: &str) -> Result<u64>;

    /// Extends every claim `owner` holds to `now + lease`: a sender renews
    /// what it is still working on, so that only a dead sender's claims
    /// expire. Returns how many rows it holds.
    fn renew_claims(&self, owner: &str, lease: Duration) -> Result<u64>;

    /// Records that the first `parts_done` parts of a multipart message were
    /// confirmed, with their references, so a restart resends only the rest.
    fn save_progress(
        &self,
        id: i64,
        owner: &str,
        concat_ref: u8,
        parts_done: u32,
        part_refs: &str,
        shown_repeats: u32,
    ) -> Result<()>;

    /// A failed attempt to be retried: `attempts += 1`, `last_error`,
    /// `next_attempt = now + delay`, claim released.
    fn retry_later(&self, id: i64, owner: &str, error: &str, delay: Duration) -> Result<()>;

    /// Moves the message from `msg` to `sms` in one transaction (same id).
    /// Returns `false` (and changes nothing) when the row is no longer
    /// claimed by `owner`.
    fn finish(&self, id: i64, owner: &str, outcome: &Outcome) -> Result<bool>;

    fn queue_stats(&self) -> Result<QueueStats>;

    /// The `sms` row with this id.
    fn sms(&self, id: i64) -> Result<Option<SmsRow>>;

    /// The newest `limit` rows of `sms`, newest first.
    fn recent_sms(&self, limit: usize) -> Result<Vec<SmsRow>> {
        self.list_sms(&ListFilter {
            limit,
            ..ListFilter::default()
        })
    }

    /// Stores a received message in `rcv`, unless a row with the same
    /// `dedupe_key` exists. A "replace short message type n" marks the
    /// earlier rows of the same TP-PID from the same sender `replaced_by`
    /// the new one. Committed before `Ok`: only then may the message be
    /// deleted from the SIM.
    fn save_received(&self, msg: &Received) -> Result<Saved>;

    /// Stores one part in `rcv_part`; when that completes its set (same
    /// sender, reference, reference size and total), joins the set into
    /// `rcv` in the same transaction (a replace type then replaces as
    /// `save_received` does). A part seen before (same `dedupe_key`) is
    /// `Duplicate`. A part whose number the waiting set already has (a
    /// reused reference) starts a new set: the waiting one is stored at
    /// once, incomplete, as [`PartSaved::stale`].
    fn save_part(&self, part: &ReceivedPart) -> Result<PartSaved>;

    /// Sets whose first part waits longer than `max_age` are stored in
    /// `rcv` as what arrived, marked incomplete. Joined parts older than
    /// `keep` are deleted. Returns the new `rcv` ids.
    fn flush_parts(&self, max_age: Duration, keep: Duration) -> Result<Vec<i64>>;

    /// The newest `limit` rows of `rcv`, newest first.
    fn recent_rcv(&self, limit: usize) -> Result<Vec<RcvRow>> {
        self.list_received(&ListFilter {
            limit,
            ..ListFilter::default()
        })
    }

    /// The `rcv` row with this id.
    fn rcv(&self, id: i64) -> Result<Option<RcvRow>>;

    /// Matches a delivery report with the newest sent `sms` row to the same
    /// number whose references include `mr` (sent in the last week), records
    /// it in `sms_report` and updates `sms.report_status` and `report_time`
    /// (when the report arrived).
    /// Returns the row id and its combined status, `None` when nothing matched.
    fn save_report(&self, report: &DeliveryReport) -> Result<Option<(i64, ReportStatus)>>;

    /// Records a health check of one sender's modem: inserts or replaces
    /// the `modem` row of `h.instance`, with `checked_at` = now. An empty
    /// `manufacturer` or `model` keeps the stored one (a modem that cannot
    /// be opened still has the model it had). `last_send_ok` is brought up
    /// to the newest `sms.sent_at` this instance wrote since the previous
    /// check.
    fn save_modem_health(&self, h: &ModemHealth) -> Result<()>;

    /// Every row of `modem`, by instance name.
    fn modem_health(&self) -> Result<Vec<ModemHealth>>;

    /// Deletes the `modem` row of `instance` (a sender gone for good:
    /// `smss status --forget`); `false` when there was none.
    fn forget_modem(&self, instance: &str) -> Result<bool>;

    /// Outgoing and incoming counts of the last `period`: `sms` rows sent
    /// (by `sent_at`) and failed (by `queued_at`: a failed row has no
    /// `sent_at`), `rcv` rows by `received_at`.
    fn activity_since(&self, period: Duration) -> Result<Activity>;

    /// The most recently sent `sms` row (by `sent_at`) and how many seconds
    /// ago it went out.
    fn last_sent(&self) -> Result<Option<(SmsRow, i64)>>;

    /// A page of `sms`, newest (highest id) first. Served by the indexes
    /// `sms_status (status, id)`, `sms_phone (phone)` and the primary key.
    fn list_sms(&self, filter: &ListFilter) -> Result<Vec<SmsRow>>;

    /// A page of the queue (`msg`), newest first; `status` is ignored.
    fn list_queued(&self, filter: &ListFilter) -> Result<Vec<QueueRow>>;

    /// A page of `rcv`, newest first; `number_prefix` matches the sender.
    fn list_received(&self, filter: &ListFilter) -> Result<Vec<RcvRow>>;

    fn totals(&self) -> Result<Totals>;
}

/// What only the tests need besides [`Store`]: plain SQL and query plans.
///
/// Kept off `Store` so that what `serve`, the web interface and the
/// commands hold (an `Arc<dyn Store>` from [`open`]) cannot run arbitrary
/// SQL. A handle with these is opened on its own, with [`open_diagnostics`]
/// (`src/store/tests.rs`, and `TestDb::store()` for `tests/*.rs`). A
/// separate opener rather than `#[cfg(test)]` or a cargo feature: the
/// integration tests link the library as it is built for production, and
/// a grep for `open_diagnostics` finds every caller.
pub trait StoreDiagnostics: Store {
    /// Runs plain SQL as it is, as other tools talking to the database do
    /// (the tests use it to play such a tool).
    fn execute_sql(&self, sql: &str) -> Result<()>;

    /// The database's plan for `list_sms(filter)`, one line (tests/web.rs
    /// `large_history_*` checks that the lists use indexes).
    fn explain_list_sms(&self, filter: &ListFilter) -> Result<String>;
}

/// One row of `modem`: the last health check of one sender's modem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModemHealth {
    /// The sender's instance name (the primary key).
    pub instance: String,
    /// The configured device (`/dev/ttyS0`, `sim`).
    pub device: String,
    pub manufacturer: String,
    pub model: String,
    /// `AT+CSQ` signal, 0..31 (99: the modem does not know); `None`: not asked.
    pub rssi: Option<u8>,
    /// `home`, `roaming`, `searching`, `denied`, `not registered`, `unknown`.
    pub registration: Option<String>,
    pub operator: Option<String>,
    pub healthy: bool,
    pub last_error: Option<String>,
    /// What works only in part (a memory that cannot be read), one per
    /// line; the modem may still be healthy.
    pub warnings: Option<String>,
    /// The message memories as the last pass left them
    /// (`modem.sim_memories`); empty when none was read.
    pub sim_memories: Vec<SimMemory>,
    /// The process that wrote the row.
    pub pid: u32,
    /// Set by the store: when the row was written (UTC), and seconds since.
    pub checked_at: String,
    pub checked_age_secs: i64,
    /// Set by the store: `sent_at` of the newest message this instance sent.
    pub last_send_ok: Option<String>,
}

/// One message memory of a modem (`SM` SIM, `ME` modem, `MT` both, `SR`
/// status reports) as the last read pass left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimMemory {
    pub memory: String,
    pub used: u32,
    pub total: u32,
    /// Of `used`: stored sent/unsent messages (`AT+CMGL` stat 2 and 3, left
    /// by a phone or another tool), which smss does not read.
    pub stored: u32,
    /// Whether smss could list it (else `used` is all it knows).
    pub readable: bool,
}

impl SimMemory {
    /// No free slot: new SMS wait at the network until one is freed.
    pub fn is_full(&self) -> bool {
        self.total > 0 && self.used >= self.total
    }

    /// `SM 20/20 (20 stored sent/unsent)`, for status and the web UI.
    pub fn describe(&self) -> String {
        let mut s = format!("{} {}/{}", self.memory, self.used, self.total);
        match (self.readable, self.stored) {
            (false, _) => s.push_str(" (unreadable)"),
            (true, 0) => {}
            (true, n) => s.push_str(&format!(" ({n} stored sent/unsent)")),
        }
        s
    }

    /// What the administrator must do about a full memory, or `None`.
    pub fn attention(&self) -> Option<String> {
        if !self.is_full() {
            return None;
        }
        let full = format!(
            "memory {} is full ({} of {}), so new SMS wait at the network",
            self.memory, self.used, self.total
        );
        Some(if !self.readable {
            format!("{full}; smss cannot read it (see the warning), so it cannot empty it")
        } else if self.stored >= self.used {
            format!(
                "{full}: it holds only stored sent/unsent messages, which smss does not read; \
                 set sim-cleanup = stored to have smss delete them (or delete them in a phone)"
            )
        } else {
            format!(
                "{full}: {} of them are received messages smss could not read or delete \
                 (see the log)",
                self.used - self.stored
            )
        })
    }

    /// The lines of `modem.sim_memories`: `SM 20 20 20 1`.
    pub fn to_lines(memories: &[SimMemory]) -> Option<String> {
        let lines: Vec<String> = memories
            .iter()
            .map(|m| {
                format!(
                    "{} {} {} {} {}",
                    m.memory,
                    m.used,
                    m.total,
                    m.stored,
                    u8::from(m.readable)
                )
            })
            .collect();
        (!lines.is_empty()).then(|| lines.join("\n"))
    }

    /// The memories of `modem.sim_memories`; a line that does not parse
    /// (written by something else) is skipped.
    pub fn from_lines(text: Option<&str>) -> Vec<SimMemory> {
        text.unwrap_or("")
            .lines()
            .filter_map(|line| {
                let mut f = line.split_whitespace();
                let memory = f.next()?.to_owned();
                let mut n = || f.next()?.parse::<u32>().ok();
                Some(SimMemory {
                    memory,
                    used: n()?,
                    total: n()?,
                    stored: n()?,
                    readable: n()? != 0,
                })
            })
            .collect()
    }
}

/// What went through in a period, for `status` and the web UI.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    pub sent: u64,
    pub failed: u64,
    pub received: u64,
}

/// `s` cut to at most `max` characters (the width of its column).
pub(crate) fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => s[..at].to_owned(),
        None => s.to_owned(),
    }
}

/// Opens the store named by `url`:
/// `sqlite:///abs/path.db`, `sqlite:relative.db`, or
/// `mysql://user:pass@host:port/database`.
///
/// With `create_schema`, a missing or old schema is created/upgraded (what
/// `init-db` does, and what `serve` does for SQLite); without it, an old
/// schema is an [`ErrorKind::Schema`] error telling the administrator to run
/// `smss init-db`.
pub fn open(url: &str, create_schema: bool) -> Result<Arc<dyn Store>> {
    Ok(open_sql(url, create_schema)?)
}

/// [`open`] for `serve`: a MySQL database that is unreachable now gives
/// a store all the same (each use fails as [`ErrorKind::Unavailable`]
/// until the database answers), with `false`: its schema is still to be
/// checked ([`open`] again, once it answers). `true`: checked.
pub fn open_or_defer(url: &str) -> Result<(Arc<dyn Store>, bool)> {
    match open(url, false) {
        Err(e) if e.kind() == ErrorKind::Unavailable && url.starts_with("mysql://") => {
            log::error!(
                "{e}; starting all the same, the database is tried again in the background"
            );
            Ok((Arc::new(SqlStore(mysql::Mysql::unchecked(url)?)), false))
        }
        other => other.map(|s| (s, true)),
    }
}

/// [`open`], with the test-only [`StoreDiagnostics`] too. Not for `serve`
/// or the commands.
pub fn open_diagnostics(url: &str, create_schema: bool) -> Result<Arc<dyn StoreDiagnostics>> {
    open_sql(url, create_schema)
}

/// The file of an SQLite URL (`sqlite:///var/lib/smss/smss.db`,
/// `sqlite:relative.db`); `None` for another backend.
pub fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite:")?;
    Some(rest.strip_prefix("//").unwrap_or(rest))
}

/// For an SQLite URL, what opening it with `create_schema` checks first,
/// touching nothing: `Some(Ok(true))` when the file exists, `Some(Ok(false))`
/// when it can be created. `None` for another backend.
pub fn sqlite_preflight(url: &str) -> Option<Result<bool>> {
    sqlite_path(url).map(sqlite::preflight)
}

fn open_sql(url: &str, create_schema: bool) -> Result<Arc<dyn StoreDiagnostics>> {
    if let Some(path) = sqlite_path(url) {
        Ok(Arc::new(SqlStore(sqlite::Sqlite::open(
            path,
            create_schema,
        )?)))
    } else if url.starts_with("mysql://") {
        Ok(Arc::new(SqlStore(mysql::Mysql::open(url, create_schema)?)))
    } else {
        Err(StoreError::other(format!(
            "unsupported database URL '{}': use sqlite:///path/to/file.db or mysql://user:pass@host:3306/database",
            crate::secret::redact_url(url)
        )))
    }
}
