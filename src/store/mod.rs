//! The durable queue and record: one [`Store`] interface, two backends.
//!
//! * `sqlite` — an embedded file, the default when no database URL is set.
//! * `mysql` — MySQL / MariaDB through the `mysql` crate, the production setup.
//!
//! Tables (see `sql/<backend>/`): `msg` is the queue, `sms` the record of every
//! finished outgoing message, `rcv` what arrived. A message moves from `msg` to
//! `sms` in one transaction, keeping its id. All times are UTC, stored as
//! `YYYY-MM-DD HH:MM:SS.fff`; the database computes them (never this process),
//! so comparisons such as "is this row due" happen in SQL.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

mod migrate;
mod mysql;
mod sqlite;
#[cfg(test)]
mod tests;

pub use migrate::SCHEMA_VERSION;

/// A request accepted from a client, not yet stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub phone: String,
    pub text: String,
    /// Where it came from: `ip:<peer address>`, `web`, ... Rows inserted by
    /// other tools with plain SQL get the column default `sql`.
    pub source: String,
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
}

/// How a message left the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every part confirmed by the modem. `part_refs`: the message
    /// references (`+CMGS: <mr>`) of all parts, comma separated.
    Sent { parts: u32, part_refs: String },
    /// Given up: the reason in words, for the administrator.
    Failed { error: String },
}

/// One row of `sms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsRow {
    pub id: i64,
    pub phone: String,
    pub text: String,
    pub source: String,
    pub queued_at: String,
    /// Set for `sent`, `None` for `failed`.
    pub sent_at: Option<String>,
    /// `sent` or `failed`.
    pub status: String,
    pub parts: u32,
    pub part_refs: String,
    pub error: Option<String>,
    /// Failed attempts before the final one, copied from `msg.attempts`
    /// (the final attempt, successful or not, is not counted).
    pub attempts: u32,
    /// Which sender (instance name) finished it.
    pub sent_by: String,
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
    /// For `list_sms`: `sent` or `failed`; `None` = both.
    pub status: Option<String>,
    /// Numbers that begin with this (an optional `+`, then digits: what an
    /// index on the number can serve).
    pub number_prefix: Option<String>,
    /// Keyset paging: only rows with a smaller id (the next, older page).
    pub before_id: Option<i64>,
    /// Only rows queued (`sms`, `msg`) or received (`rcv`) at or after this
    /// UTC time, `YYYY-MM-DD HH:MM:SS[.fff]`.
    pub since: Option<String>,
    pub limit: usize,
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
}

/// One row of `rcv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcvRow {
    pub id: i64,
    pub sender: String,
    pub text: String,
    pub smsc_time: String,
    pub received_at: String,
    pub parts: u32,
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The database cannot be reached (connection refused, gone away, locked
    /// for too long). Callers answer `ERR database unavailable` and retry.
    Unavailable(String),
    /// The schema is missing or older than this binary.
    Schema(String),
    /// Anything else (a bad URL, a constraint, a bug).
    Other(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(m) => write!(f, "database unavailable: {m}"),
            StoreError::Schema(m) => write!(f, "database schema: {m}"),
            StoreError::Other(m) => write!(f, "database error: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The queue and the record. Every method is one transaction.
pub trait Store: Send + Sync {
    /// `"sqlite"` or `"mysql"`.
    fn backend(&self) -> &'static str;

    /// Inserts all messages in one transaction and returns their ids in order.
    /// Returns only after the commit: an `Ok` means the messages are durable.
    fn enqueue(&self, msgs: &[NewMessage]) -> Result<Vec<i64>>;

    /// Claims up to `limit` due rows of `msg`, oldest id first: rows whose
    /// `next_attempt` is NULL or past and which are unclaimed or whose claim
    /// expired. Marks them `claimed_by = owner`, `claim_until = now + lease`.
    fn claim_due(&self, owner: &str, lease: Duration, limit: usize) -> Result<Vec<QueuedMessage>>;

    /// Drops every claim held by `owner` (at startup: whatever a crashed
    /// predecessor with the same name had in flight becomes due again).
    fn release_claims(&self, owner: &str) -> Result<u64>;

    /// Records that the first `parts_done` parts of a multipart message were
    /// confirmed, with their references, so a restart resends only the rest.
    fn save_progress(
        &self,
        id: i64,
        owner: &str,
        concat_ref: u8,
        parts_done: u32,
        part_refs: &str,
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
    fn recent_sms(&self, limit: usize) -> Result<Vec<SmsRow>>;

    /// Runs a plain SQL statement (tests and `init-db` use it; it is how
    /// other tools talk to the database).
    fn execute_sql(&self, sql: &str) -> Result<()>;

    /// A page of `sms`, newest (highest id) first. Served by the indexes
    /// `sms_status (status, id)`, `sms_phone (phone)` and the primary key.
    fn list_sms(&self, filter: &ListFilter) -> Result<Vec<SmsRow>>;

    /// A page of the queue (`msg`), newest first; `status` is ignored.
    fn list_queued(&self, filter: &ListFilter) -> Result<Vec<QueueRow>>;

    /// A page of `rcv`, newest first; `number_prefix` matches the sender.
    fn list_received(&self, filter: &ListFilter) -> Result<Vec<RcvRow>>;

    fn totals(&self) -> Result<Totals>;

    /// The database's plan for `list_sms(filter)`, one line (tests and
    /// `examples/web_lists.rs` check that the lists use indexes).
    fn explain_list_sms(&self, filter: &ListFilter) -> Result<String>;
}

/// Opens the store named by `url`:
/// `sqlite:///abs/path.db`, `sqlite:relative.db`, or
/// `mysql://user:pass@host:port/database`.
///
/// With `create_schema`, a missing or old schema is created/upgraded (what
/// `init-db` does, and what `serve` does for SQLite); without it, an old
/// schema is a `StoreError::Schema` telling the administrator to run
/// `smss init-db`.
pub fn open(url: &str, create_schema: bool) -> Result<Arc<dyn Store>> {
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let path = rest.strip_prefix("//").unwrap_or(rest);
        Ok(Arc::new(sqlite::SqliteStore::open(path, create_schema)?))
    } else if url.starts_with("mysql://") {
        Ok(Arc::new(mysql::MysqlStore::open(url, create_schema)?))
    } else {
        Err(StoreError::Other(format!(
            "unsupported database URL '{url}': use sqlite:///path/to/file.db or mysql://user:pass@host:3306/database"
        )))
    }
}
