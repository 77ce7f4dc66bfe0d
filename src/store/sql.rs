//! What the store rules need from a SQL backend, and nothing more: run a
//! statement with bound values, read rows through one typed reader, open
//! a transaction of a given kind, and the few SQL fragments that differ
//! between SQLite and MySQL ([`Dialect`]). `rules.rs` writes every store
//! rule once against this; `sqlite.rs` and `mysql.rs` implement it.

use std::time::Duration;

use super::{CallOutcome, Coding, ListFilter, ReportStatus, Result, SmsStatus, StoreError};

/// A value bound to a `?` or read from a column. Integers of every width
/// and booleans are `Int`; times are text (`YYYY-MM-DD HH:MM:SS.fff`), and
/// so are the store's enums (`sent`, `ucs2`, ...; read with [`Row::parse`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

macro_rules! int_values {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::Int(i64::from(v))
            }
        }
    )*};
}
int_values!(i64, u32, u16, u8, bool);

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Text(v.clone())
    }
}

/// The store's enums are stored as their text (`as_str`).
macro_rules! text_values {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::Text(v.as_str().to_owned())
            }
        }
    )*};
}
text_values!(SmsStatus, ReportStatus, Coding, CallOutcome);

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// Bound values for a statement: `params![a, b, ...]`.
macro_rules! params {
    ($($v:expr),* $(,)?) => {
        &[$($crate::store::sql::Value::from($v)),*][..]
    };
}
pub(crate) use params;

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Value>);

impl Row {
    /// Column `i` as `T`; an error names the column and the value.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T> {
        let v = self
            .0
            .get(i)
            .ok_or_else(|| StoreError::other(format!("column {i} missing")))?;
        T::from_value(v).ok_or_else(|| {
            StoreError::other(format!(
                "unexpected value from the database in column {i}: {v:?}"
            ))
        })
    }

    /// Column `i`, the text of one of the store's enums, read with `parse`
    /// (`SmsStatus::parse`, ...); a text it does not know is an error
    /// naming `column` (`sms.status`, ...).
    pub fn parse<T>(&self, i: usize, column: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
        let text: String = self.get(i)?;
        parse(&text).ok_or_else(|| unknown_text(column, &text))
    }

    /// As [`Row::parse`], NULL being `None`.
    pub fn parse_opt<T>(
        &self,
        i: usize,
        column: &str,
        parse: fn(&str) -> Option<T>,
    ) -> Result<Option<T>> {
        self.get::<Option<String>>(i)?
            .map(|text| parse(&text).ok_or_else(|| unknown_text(column, &text)))
            .transpose()
    }
}

fn unknown_text(column: &str, text: &str) -> StoreError {
    StoreError::other(format!(
        "unexpected value from the database in {column}: {text:?}"
    ))
}

/// Conversion of a column value; `None` when it does not fit.
pub trait FromValue: Sized {
    fn from_value(v: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Option<i64> {
        match v {
            Value::Int(i) => Some(*i),
            // MySQL's text protocol and computed columns
            Value::Text(t) => t.trim().parse().ok(),
            Value::Null => None,
        }
    }
}

macro_rules! narrow_ints {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: &Value) -> Option<$t> {
                <$t>::try_from(i64::from_value(v)?).ok()
            }
        }
    )*};
}
narrow_ints!(u64, u32, u16, u8);

impl FromValue for bool {
    fn from_value(v: &Value) -> Option<bool> {
        Some(i64::from_value(v)? != 0)
    }
}

impl FromValue for String {
    fn from_value(v: &Value) -> Option<String> {
        match v {
            Value::Text(t) => Some(t.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Null => None,
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Option<Option<T>> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// Runs statements on one connection (inside a transaction or not).
/// Placeholders are `?`, bound in order.
pub trait Exec {
    /// Runs a statement; returns the rows it changed.
    fn exec(&mut self, sql: &str, params: &[Value]) -> Result<u64>;
    /// Runs an INSERT of one row; returns its id, `None` when no row was
    /// inserted (`INSERT IGNORE` of a duplicate).
    fn insert(&mut self, sql: &str, params: &[Value]) -> Result<Option<i64>>;
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>>;

    fn query_one(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

/// What a transaction is for; each backend maps it to its own kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxKind {
    /// Reads and writes (SQLite: `BEGIN IMMEDIATE`, the write lock up front;
    /// MySQL: REPEATABLE READ).
    Write,
    /// Claims and releases, which touch rows other senders claim too
    /// (MySQL: READ COMMITTED, no gap locks; SQLite: as `Write`).
    Claim,
    /// Several reads that must agree (MySQL: a consistent snapshot).
    Snapshot,
}

/// The SQL fragments that differ between the backends.
pub struct Dialect {
    /// The current UTC time, as stored.
    pub now: &'static str,
    /// The current time shifted by a bound [`Dialect::later`] or
    /// [`Dialect::earlier`] value.
    pub now_shifted: &'static str,
    /// `later(d)` / `earlier(d)`: the value to bind into `now_shifted`
    /// (`d` capped by [`capped`]).
    pub later: fn(Duration) -> Value,
    pub earlier: fn(Duration) -> Value,
    /// A stored time column read back as text, `{}` standing for it.
    pub time: &'static str,
    /// Whole seconds from a time column (`{}`) to now.
    pub age_secs: &'static str,
    pub insert_ignore: &'static str,
    pub insert_or_replace: &'static str,
    /// `... ON CONFLICT (key) DO UPDATE SET` / `ON DUPLICATE KEY UPDATE`,
    /// `{}` standing for the key column.
    pub upsert: &'static str,
    /// The value an upsert tried to insert for column `{}`.
    pub excluded: &'static str,
    /// Appended to a SELECT whose rows the transaction will change.
    pub for_update: &'static str,
    /// Claim step 1: due retries become plain due rows.
    pub promote_due: &'static str,
    /// Claim step 2: the due rows (id, phone, text, source, attempts,
    /// concat_ref, parts_done, part_refs, created, priority), most urgent
    /// first, then oldest, `LIMIT ?`.
    pub claim: &'static str,
    /// A row (any) when a due, unclaimed message has a priority rank below
    /// the bound one (bound twice: the plain due rows, the due retries).
    pub more_urgent: &'static str,
    /// Appended to the INSERT of a request with a coalescing key: a
    /// concurrent insert of the same key merges instead (MySQL; SQLite has
    /// one writer at a time, and the merge UPDATE before it saw the row).
    pub merge_on_duplicate: &'static str,
    /// A condition on `col` (`{}`) for numbers that begin with a prefix,
    /// and the values it binds.
    pub number_prefix: fn(col: &str, prefix: &str) -> (String, Vec<Value>),
}

impl Dialect {
    pub fn time(&self, col: &str) -> String {
        self.time.replace("{}", col)
    }

    pub fn age_secs(&self, col: &str) -> String {
        self.age_secs.replace("{}", col)
    }

    pub fn upsert(&self, key: &str) -> String {
        self.upsert.replace("{}", key)
    }

    pub fn excluded(&self, col: &str) -> String {
        self.excluded.replace("{}", col)
    }
}

/// A lease, retry delay or period, capped at ten years: beyond that
/// nothing is meant, and SQLite's strftime gives NULL ("due now") and
/// MySQL's DATETIME arithmetic overflows.
pub fn capped(d: Duration) -> Duration {
    d.min(Duration::from_secs(10 * 365 * 86_400))
}

/// One database: its dialect, and connections to run the rules on.
pub trait Backend: Send + Sync + 'static {
    /// `"sqlite"` or `"mysql"`.
    fn name(&self) -> &'static str;
    fn dialect(&self) -> &'static Dialect;
    /// Runs `f` on a connection outside a transaction: each statement
    /// commits on its own.
    fn run<T>(&self, f: impl FnOnce(&mut dyn Exec) -> Result<T>) -> Result<T>;
    /// Runs `f` in one transaction, committed when it returns `Ok` and
    /// rolled back when it returns an error. `f` may run more than once (a
    /// transaction that lost a conflict runs again from the start): it
    /// changes nothing outside the database, only what it returns.
    fn transaction<T>(&self, kind: TxKind, f: impl FnMut(&mut dyn Exec) -> Result<T>) -> Result<T>;
    /// Runs a script of statements as it is (other tools' SQL, tests).
    fn execute_batch(&self, sql: &str) -> Result<()>;
    /// The database's plan for a query, one line.
    fn explain(&self, sql: &str, params: &[Value]) -> Result<String>;
    /// The table expression a page of `sms` reads from (an index choice the
    /// planner cannot make itself); plain `sms` by default.
    fn sms_list_source(&self, _filter: &ListFilter) -> Result<&'static str> {
        Ok("sms")
    }
}
