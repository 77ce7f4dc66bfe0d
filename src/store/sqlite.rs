//! The embedded backend: one SQLite file, one connection behind a mutex.
//!
//! WAL journal (readers do not block the writer), `synchronous = FULL` (a
//! commit is on disk before `Ok`), `busy_timeout` 5 s for the other process
//! (`serve` and the cron `send-pending` may share the file). Every write
//! transaction starts with `BEGIN IMMEDIATE`, so it takes the write lock
//! up front and waits for it under the busy timeout, instead of failing
//! half-way when a read would have to be upgraded.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use super::migrate::{self, Migration, Migrator};
use super::sql::{Backend, Dialect, Exec, Row, TxKind, Value, capped};
use super::{ErrorKind, ListFilter, Result, StoreError};

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The current time as stored: UTC `YYYY-MM-DD HH:MM:SS.fff`.
macro_rules! now {
    () => {
        "strftime('%Y-%m-%d %H:%M:%f', 'now')"
    };
}

/// Step 1 of a claim: rows whose retry time has passed become plain due
/// rows (`next_attempt` NULL). This reads only those rows (a range of
/// `msg_due`), each once per retry, never the ones still waiting.
const PROMOTE_DUE: &str = concat!(
    "UPDATE msg INDEXED BY msg_due SET next_attempt = NULL WHERE next_attempt <= ",
    now!()
);

/// Step 2: the due rows, most urgent first, then oldest id.
/// `msg_due (next_attempt, priority, id)` holds the NULL group in that
/// order, so this reads the first `?` unclaimed rows
/// (plus the few under a live claim) and stops, however long the queue is;
/// no sort. `INDEXED BY` keeps the planner from a rowid scan, which would
/// read every waiting row before the due ones. SQLite serialises writers,
/// so nothing needs locking or skipping.
const CLAIM: &str = concat!(
    "SELECT id, phone, text, source, attempts, concat_ref, parts_done, part_refs, created, \
     priority, repeats, shown_repeats, \
     CAST((julianday(expires_at) - julianday('now')) * 86400 AS INTEGER), flash, send_after, \
     send_before, CAST(strftime('%H', 'now', 'localtime') AS INTEGER) * 60 \
     + CAST(strftime('%M', 'now', 'localtime') AS INTEGER) FROM msg INDEXED BY msg_due WHERE next_attempt IS NULL \
     AND (claimed_by IS NULL OR claim_until < ",
    now!(),
    ") ORDER BY priority, id LIMIT ?"
);

/// Anything due and unclaimed more urgent than `?`: the NULL group's
/// ranks below it, then the due retries not yet promoted (few: each claim
/// promotes them). Both ranges of `msg_due`.
const MORE_URGENT: &str = concat!(
    "SELECT 1 WHERE EXISTS (SELECT 1 FROM msg INDEXED BY msg_due WHERE next_attempt IS NULL \
     AND priority < ? AND (claimed_by IS NULL OR claim_until < ",
    now!(),
    ")) OR EXISTS (SELECT 1 FROM msg INDEXED BY msg_due WHERE next_attempt <= ",
    now!(),
    " AND priority < ? AND (claimed_by IS NULL OR claim_until < ",
    now!(),
    "))"
);

/// A duration as a strftime modifier (`+1.500 seconds`).
fn modifier(sign: char, d: Duration) -> Value {
    let d = capped(d);
    Value::Text(format!(
        "{sign}{}.{:03} seconds",
        d.as_secs(),
        d.subsec_millis()
    ))
}

/// A range, not LIKE: SQLite's LIKE is case-insensitive and so cannot use
/// an index with the default (binary) collation.
fn number_prefix(col: &str, prefix: &str) -> (String, Vec<Value>) {
    let (lo, hi) = prefix_range(prefix);
    (
        format!("{col} >= ? AND {col} < ?"),
        vec![lo.into(), hi.into()],
    )
}

static DIALECT: Dialect = Dialect {
    now: now!(),
    now_shifted: "strftime('%Y-%m-%d %H:%M:%f', 'now', ?)",
    later: |d| modifier('+', d),
    earlier: |d| modifier('-', d),
    time: "{}",
    age_secs: "CAST((julianday('now') - julianday({})) * 86400 AS INTEGER)",
    insert_ignore: "INSERT OR IGNORE",
    insert_or_replace: "INSERT OR REPLACE",
    upsert: "ON CONFLICT ({}) DO UPDATE SET",
    excluded: "excluded.{}",
    for_update: "",
    promote_due: PROMOTE_DUE,
    claim: CLAIM,
    more_urgent: MORE_URGENT,
    merge_on_duplicate: "",
    number_prefix,
};

pub struct Sqlite {
    conn: Mutex<Connection>,
}

/// The database file, its `-wal` and `-shm` files and (while those are
/// missing) its directory must be writable by this user: SQLite would open
/// the file read-only, and every write would fail later.
fn check_writable(db: &Path) -> Result<()> {
    use crate::owner;
    let side = |ext: &str| {
        let mut name = db.as_os_str().to_owned();
        name.push(ext);
        std::path::PathBuf::from(name)
    };
    let (wal, shm) = (side("-wal"), side("-shm"));
    let bad: Vec<&Path> = [db, wal.as_path(), shm.as_path()]
        .into_iter()
        .filter(|f| f.exists() && !owner::usable(f))
        .collect();
    if !bad.is_empty() {
        return Err(StoreError::other(owner::unusable(
            "the SQLite database:",
            &bad,
        )));
    }
    let dir = db
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let sides_exist = wal.exists() && shm.exists();
    if !sides_exist && !owner::writable(dir) {
        return Err(StoreError::other(format!(
            "{} (SQLite keeps {}, {} and {} there)",
            owner::unusable("the directory of the SQLite database:", &[dir]),
            db.display(),
            wal.display(),
            shm.display()
        )));
    }
    Ok(())
}

/// What [`Sqlite::open`] checks before it touches anything (and `serve
/// --check` with it): a path, its directory, and that this user may write
/// the file and its `-wal` and `-shm`, or create them. `Ok(true)` when the
/// database file exists.
pub fn preflight(path: &str) -> Result<bool> {
    if path.is_empty() {
        return Err(StoreError::other(
            "empty SQLite path: use sqlite:///abs/path.db or sqlite:relative.db",
        ));
    }
    let p = Path::new(path);
    if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(StoreError::other(format!(
            "cannot open SQLite database {path}: directory {} does not exist",
            dir.display()
        )));
    }
    check_writable(p)?;
    Ok(p.exists())
}

impl Sqlite {
    /// Opens (with `create_schema`: creates) the database file at `path`.
    pub fn open(path: &str, create_schema: bool) -> Result<Sqlite> {
        let url = if path.starts_with('/') {
            format!("sqlite://{path}")
        } else {
            format!("sqlite:{path}")
        };
        let p = Path::new(path);
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        // `:memory:` is SQLite's in-memory database, not a file to create.
        let in_memory = path == ":memory:";
        if !in_memory && !preflight(path)? {
            if !create_schema {
                return Err(
                    StoreError::schema(format!("the database file {path} does not exist"))
                        .needing_init(),
                );
            }
            // 0640 like the config, and the service user's when run as
            // root; SQLite takes an empty file as a new database, and
            // gives its -wal and -shm files the same mode and owner.
            match crate::owner::create_new(p, 0o640) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                    return Err(StoreError::other(format!(
                        "cannot create SQLite database {path}: {e}"
                    ))
                    .with_source(e));
                }
                _ => {}
            }
        }
        let conn = Connection::open_with_flags(p, flags).map_err(|e| {
            StoreError::other(format!("cannot open SQLite database {path}: {e}")).with_source(e)
        })?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(map_err)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(map_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            log::warn!("SQLite database {path}: journal mode is {mode}, not WAL");
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(map_err)?;
        let mut conn = conn;
        migrate::run(
            &mut SqliteMigrator(&mut conn),
            migrate::SQLITE,
            create_schema,
            &url,
        )?;
        Ok(Sqlite {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no open transaction behind
        // (rusqlite rolls back on drop), so the connection is still usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct SqliteMigrator<'a>(&'a mut Connection);

fn read_version(conn: &Connection) -> rusqlite::Result<u32> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'smss_schema')",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(0);
    }
    let v: Option<i64> =
        conn.query_row("SELECT MAX(version) FROM smss_schema", [], |r| r.get(0))?;
    Ok(v.unwrap_or(0).clamp(0, u32::MAX as i64) as u32)
}

impl Migrator for SqliteMigrator<'_> {
    fn current_version(&mut self) -> Result<u32> {
        read_version(self.0).map_err(map_err)
    }

    fn apply(&mut self, m: &Migration) -> Result<()> {
        let tx = self
            .0
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        if read_version(&tx).map_err(map_err)? >= m.version {
            return Ok(());
        }
        tx.execute_batch(m.sql).map_err(|e| {
            StoreError::schema(format!("migration {} failed: {e}", m.name)).with_source(e)
        })?;
        tx.execute("DELETE FROM smss_schema", []).map_err(map_err)?;
        tx.execute("INSERT INTO smss_schema (version) VALUES (?1)", [m.version])
            .map_err(map_err)?;
        tx.commit().map_err(map_err)
    }
}

fn map_err(e: rusqlite::Error) -> StoreError {
    let kind = match e.sqlite_error_code() {
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure
            | ErrorCode::CannotOpen,
        ) => ErrorKind::Unavailable,
        // UNIQUE, PRIMARY KEY, NOT NULL, FOREIGN KEY, CHECK
        Some(ErrorCode::ConstraintViolation) => ErrorKind::Constraint,
        _ => ErrorKind::Other,
    };
    StoreError::new(kind, e.to_string()).with_source(e)
}

/// A value bound to a statement.
impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
        })
    }
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    use rusqlite::types::ValueRef;
    let n = r.as_ref().column_count();
    let mut values = Vec::with_capacity(n);
    for i in 0..n {
        values.push(match r.get_ref(i)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(v) => Value::Int(v),
            ValueRef::Real(v) => Value::Text(v.to_string()),
            ValueRef::Text(t) | ValueRef::Blob(t) => {
                Value::Text(String::from_utf8_lossy(t).into_owned())
            }
        });
    }
    Ok(Row(values))
}

/// Statements on the connection, in a transaction or not (a rusqlite
/// `Transaction` is the connection too).
struct On<'a>(&'a Connection);

impl Exec for On<'_> {
    fn exec(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let mut stmt = self.0.prepare(sql).map_err(map_err)?;
        let n = stmt
            .execute(rusqlite::params_from_iter(params))
            .map_err(map_err)?;
        Ok(n as u64)
    }

    fn insert(&mut self, sql: &str, params: &[Value]) -> Result<Option<i64>> {
        let n = self.exec(sql, params)?;
        Ok((n == 1).then(|| self.0.last_insert_rowid()))
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let mut stmt = self.0.prepare(sql).map_err(map_err)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), read_row)
            .map_err(map_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)
    }
}

impl Backend for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn dialect(&self) -> &'static Dialect {
        &DIALECT
    }

    fn run<T>(&self, f: impl FnOnce(&mut dyn Exec) -> Result<T>) -> Result<T> {
        f(&mut On(&self.conn()))
    }

    /// Writes take the write lock up front (`BEGIN IMMEDIATE`); an error
    /// rolls back when the transaction is dropped.
    fn transaction<T>(
        &self,
        kind: TxKind,
        mut f: impl FnMut(&mut dyn Exec) -> Result<T>,
    ) -> Result<T> {
        let behavior = match kind {
            TxKind::Write | TxKind::Claim => TransactionBehavior::Immediate,
            TxKind::Snapshot => TransactionBehavior::Deferred,
        };
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(behavior).map_err(map_err)?;
        let value = f(&mut On(&tx))?;
        tx.commit().map_err(map_err)?;
        Ok(value)
    }

    fn execute_batch(&self, sql: &str) -> Result<()> {
        self.conn().execute_batch(sql).map_err(map_err)
    }

    fn explain(&self, sql: &str, params: &[Value]) -> Result<String> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .map_err(map_err)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), |r| {
                r.get::<_, String>(3)
            })
            .map_err(map_err)?;
        let lines = rows
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(map_err)?;
        Ok(lines.join("; "))
    }

    /// The access path of a page of `sms`, chosen here since SQLite's
    /// planner knows nothing of how many rows a number prefix matches
    /// (tests/web.rs `large_history_sqlite` prints the plans and times,
    /// 100,000 rows):
    ///
    /// * no number: the primary key backwards (`SCAN sms`), or with a status
    ///   `sms_status (status, id)` backwards; both stop after `n` rows.
    /// * a number prefix matching fewer than [`PREFIX_SORT_LIMIT`] rows
    ///   (counted on `sms_phone` alone, at most that many entries read): a
    ///   range of `sms_phone`, then those few rows sorted.
    /// * a prefix matching more (the administrators' own numbers): the
    ///   primary key backwards, filtered, so that it stops after `n`
    ///   matches instead of sorting them all (47 ms → 0.3 ms for 30,000).
    fn sms_list_source(&self, filter: &ListFilter) -> Result<&'static str> {
        let Some(prefix) = &filter.number_prefix else {
            return Ok("sms");
        };
        let (lo, hi) = prefix_range(prefix);
        let matches: i64 = self
            .conn()
            .query_row(
                "SELECT COUNT(*) FROM (SELECT 1 FROM sms INDEXED BY sms_phone \
                 WHERE phone >= ?1 AND phone < ?2 LIMIT ?3)",
                rusqlite::params![lo, hi, PREFIX_SORT_LIMIT],
                |r| r.get(0),
            )
            .map_err(map_err)?;
        Ok(if matches < PREFIX_SORT_LIMIT {
            "sms INDEXED BY sms_phone"
        } else {
            "sms NOT INDEXED"
        })
    }
}

/// Up to how many rows a number search sorts (see `sms_list_source`).
const PREFIX_SORT_LIMIT: i64 = 2000;

/// `[lo, hi)`: the strings that begin with `prefix`, for a range scan of an
/// index with binary collation. `prefix` is ASCII (`+` and digits), so
/// bumping its last byte gives the first string past the range.
fn prefix_range(prefix: &str) -> (String, String) {
    let mut hi = prefix.as_bytes().to_vec();
    match hi.last_mut() {
        Some(last) if *last < 0x7f => *last += 1,
        _ => hi.push(0x7f),
    }
    (prefix.to_owned(), String::from_utf8_lossy(&hi).into_owned())
}

#[cfg(test)]
pub(crate) const CLAIM_QUERIES: [&str; 2] = [PROMOTE_DUE, CLAIM];
