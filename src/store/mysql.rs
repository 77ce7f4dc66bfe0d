//! The production backend: MySQL / MariaDB through the `mysql` driver and
//! a pool of our own (`mysql_pool.rs`: why not the driver's).
//!
//! Every new connection sets `time_zone = '+00:00'` (so `NOW(3)` and the
//! column defaults are UTC) and `utf8mb4`. Several senders on several hosts
//! may share the queue: a claim is, in one READ COMMITTED transaction, an
//! UPDATE making due retries plain due rows, `SELECT ... FOR UPDATE SKIP
//! LOCKED` (MariaDB >= 10.6, MySQL >= 8.0, checked at open) and an UPDATE
//! setting the claim. READ COMMITTED needs `binlog_format` ROW or MIXED (the
//! defaults) where the binary log is on.

use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{DriverError, IsolationLevel, Opts, OptsBuilder, Row, TxOpts};

use super::migrate::{self, Migration, Migrator};
use super::mysql_pool::{Pool, PooledConn};
use super::{
    Activity, DeliveryReport, ListFilter, ModemHealth, NewMessage, Outcome, QueueRow, QueueStats,
    QueuedMessage, RcvRow, Received, ReceivedPart, Result, Saved, SmsRow, Store, StoreError,
    Totals, clip, combined_report, joined_row, refs_contain, report_status, same_number,
};

/// Connections open at most, unless the URL sets `pool_max`.
const POOL_MAX: usize = 10;
/// How long to wait for a free pooled connection before "unavailable".
const CONN_WAIT: Duration = Duration::from_secs(10);
/// Defaults for options the URL does not set.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// A DATETIME(3) column as `YYYY-MM-DD HH:MM:SS.fff`.
macro_rules! time {
    ($col:literal) => {
        concat!("LEFT(DATE_FORMAT(", $col, ", '%Y-%m-%d %H:%i:%s.%f'), 23)")
    };
}

macro_rules! msg_columns {
    () => {
        concat!(
            "id, phone, text, source, attempts, concat_ref, parts_done, part_refs, ",
            time!("created")
        )
    };
}

/// Step 1 of a claim: rows whose retry time has passed become plain due
/// rows (`next_attempt` NULL). A range of `msg_due`: reads only those rows,
/// each once per retry, never the ones still waiting. (Left to itself,
/// MariaDB 10.11 scans the whole table for this UPDATE of an indexed column.)
const PROMOTE_DUE: &str = "UPDATE msg FORCE INDEX (msg_due) SET next_attempt = NULL \
                           WHERE next_attempt IS NOT NULL AND next_attempt <= NOW(3)";

/// Step 2: the due rows, oldest id first, locked; rows another sender is
/// claiming right now are skipped. `msg_due (next_attempt, id)` holds the
/// NULL group in id order, so this reads the first LIMIT unclaimed rows
/// (plus the few under a live claim) and stops, however long the queue is;
/// no filesort. FORCE INDEX keeps the optimizer from a primary key scan,
/// which would read (and lock-test) every waiting row before the due ones.
const CLAIM: &str = concat!(
    "SELECT ",
    msg_columns!(),
    " FROM msg FORCE INDEX (msg_due) WHERE next_attempt IS NULL",
    " AND (claimed_by IS NULL OR claim_until < NOW(3))",
    " ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED"
);

macro_rules! sms_columns {
    () => {
        concat!(
            "id, phone, text, source, ",
            time!("queued_at"),
            ", ",
            time!("sent_at"),
            ", status, parts, part_refs, error, attempts, sent_by, report_status"
        )
    };
}

macro_rules! rcv_columns {
    () => {
        concat!(
            "id, sender, text, coding, smsc_time, ",
            time!("received_at"),
            ", parts, complete"
        )
    };
}

const PART_COLUMNS: &str =
    "sender, reference, total, seq, coding, body, text, smsc_time, smsc, dedupe_key";

pub struct MysqlStore {
    pool: Pool,
}

impl MysqlStore {
    /// Connects to `url` (`mysql://user:pass@host:port/database`), checks the
    /// server version and the schema (creating or upgrading it with
    /// `create_schema`; then a missing database is created too).
    pub fn open(url: &str, create_schema: bool) -> Result<MysqlStore> {
        let opts =
            Opts::from_url(url).map_err(|e| StoreError::Other(format!("bad MySQL URL: {e}")))?;
        let shown = display_url(&opts);
        let Some(db_name) = opts.get_db_name().map(str::to_string) else {
            return Err(StoreError::Other(format!(
                "the MySQL URL {shown} names no database: use mysql://user:pass@host:3306/database"
            )));
        };
        let max = if url.contains("pool_max") {
            opts.get_pool_opts().constraints().max()
        } else {
            POOL_MAX
        };
        let store = MysqlStore {
            pool: Pool::new(session_opts(&opts, Some(&db_name)).into(), max),
        };
        let mut conn = match store.pool.get(CONN_WAIT) {
            Err(mysql::Error::MySqlError(e)) if e.code == ER_BAD_DB_ERROR && create_schema => {
                create_database(&opts, &db_name)?;
                store.conn()?
            }
            Err(mysql::Error::MySqlError(e)) if e.code == ER_BAD_DB_ERROR => {
                return Err(StoreError::Schema(format!(
                    "the database '{db_name}' does not exist: run `smss init-db --db {shown}`"
                )));
            }
            other => other.map_err(map_err)?,
        };
        // It may hold the migration lock (GET_LOCK): closed after use
        // whatever happens, so nothing of the migration stays.
        conn.discard();
        check_server_version(&mut conn)?;
        let lock_name = lock_name(&db_name);
        if create_schema {
            // DDL is not transactional: keep two init-db runs apart.
            let got: Option<i64> = conn
                .exec_first("SELECT GET_LOCK(?, 60)", (&lock_name,))
                .map_err(map_err)?;
            if got != Some(1) {
                return Err(StoreError::Unavailable(
                    "another process is migrating the schema (GET_LOCK timed out)".into(),
                ));
            }
        }
        let result = migrate::run(
            &mut MysqlMigrator(&mut conn),
            migrate::MYSQL,
            create_schema,
            &shown,
        );
        if create_schema {
            let _ = conn.exec_drop("DO RELEASE_LOCK(?)", (&lock_name,));
        }
        result?;
        drop(conn);
        Ok(store)
    }

    fn conn(&self) -> Result<PooledConn<'_>> {
        self.pool.get(CONN_WAIT).map_err(map_err)
    }
}

const ER_BAD_DB_ERROR: u16 = 1049;

/// The URL without its password, for messages.
fn display_url(opts: &Opts) -> String {
    let user = opts.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    format!(
        "mysql://{user}{}:{}/{}",
        opts.get_ip_or_hostname(),
        opts.get_tcp_port(),
        opts.get_db_name().unwrap_or("")
    )
}

/// The URL's options plus our session setup and defaults for the timeouts
/// the URL leaves unset.
fn session_opts(opts: &Opts, db_name: Option<&str>) -> OptsBuilder {
    let mut b = OptsBuilder::from_opts(opts.clone())
        .db_name(db_name)
        .init(vec![
            "SET time_zone = '+00:00'",
            "SET NAMES utf8mb4",
            // A server configured with autocommit off would leave a lone
            // INSERT uncommitted (enqueue relies on autocommit).
            "SET autocommit = 1",
            // Claims skip locked rows; anything else that waits for a lock
            // this long is reported as "unavailable" rather than hanging.
            "SET SESSION innodb_lock_wait_timeout = 10",
        ]);
    if opts.get_tcp_connect_timeout().is_none() {
        b = b.tcp_connect_timeout(Some(CONNECT_TIMEOUT));
    }
    if opts.get_read_timeout().is_none() {
        b = b
            .read_timeout(Some(IO_TIMEOUT))
            .write_timeout(Some(IO_TIMEOUT));
    }
    b
}

fn create_database(opts: &Opts, db_name: &str) -> Result<()> {
    if db_name.contains('`') {
        return Err(StoreError::Other(format!(
            "unsupported database name {db_name:?}"
        )));
    }
    let mut conn = mysql::Conn::new(session_opts(opts, None)).map_err(map_err)?;
    log::info!("creating MySQL database {db_name}");
    conn.query_drop(format!(
        "CREATE DATABASE IF NOT EXISTS `{db_name}` \
         CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    ))
    .map_err(|e| StoreError::Other(format!("cannot create database {db_name}: {e}")))
}

fn lock_name(db_name: &str) -> String {
    let mut name = format!("smss_migrate.{db_name}");
    name.truncate(64);
    name
}

/// Parses "10.11.19-MariaDB-0+deb12u1" or "8.0.36" and requires SKIP LOCKED.
fn check_server_version(conn: &mut mysql::Conn) -> Result<()> {
    let version: String = conn
        .query_first("SELECT VERSION()")
        .map_err(map_err)?
        .unwrap_or_default();
    let mut nums = version
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let major_minor = (nums.next().unwrap_or(0), nums.next().unwrap_or(0));
    let (needed, product) = if version.to_ascii_lowercase().contains("mariadb") {
        ((10, 6), "MariaDB 10.6")
    } else {
        ((8, 0), "MySQL 8.0")
    };
    if major_minor < needed {
        return Err(StoreError::Other(format!(
            "the database server is {version}; smss needs {product} or newer \
             (for SELECT ... FOR UPDATE SKIP LOCKED)"
        )));
    }
    Ok(())
}

struct MysqlMigrator<'a>(&'a mut mysql::Conn);

impl Migrator for MysqlMigrator<'_> {
    fn current_version(&mut self) -> Result<u32> {
        let exists: Option<i64> = self
            .0
            .query_first(
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name = 'smss_schema'",
            )
            .map_err(map_err)?;
        if exists.unwrap_or(0) == 0 {
            return Ok(0);
        }
        let v: Option<Option<i64>> = self
            .0
            .query_first("SELECT MAX(version) FROM smss_schema")
            .map_err(map_err)?;
        Ok(v.flatten().unwrap_or(0).clamp(0, u32::MAX as i64) as u32)
    }

    /// Runs under the GET_LOCK taken in `open`. DDL commits implicitly, so
    /// only the version update is a transaction of its own.
    fn apply(&mut self, m: &Migration) -> Result<()> {
        if self.current_version()? >= m.version {
            return Ok(());
        }
        for stmt in migrate::split_statements(m.sql) {
            self.0
                .query_drop(&stmt)
                .map_err(|e| StoreError::Schema(format!("migration {} failed: {e}", m.name)))?;
        }
        let mut tx = self
            .0
            .start_transaction(TxOpts::default())
            .map_err(map_err)?;
        tx.query_drop("DELETE FROM smss_schema").map_err(map_err)?;
        tx.exec_drop("INSERT INTO smss_schema (version) VALUES (?)", (m.version,))
            .map_err(map_err)?;
        tx.commit().map_err(map_err)
    }
}

fn map_err(e: mysql::Error) -> StoreError {
    let unavailable = match &e {
        mysql::Error::IoError(_) | mysql::Error::CodecError(_) => true,
        mysql::Error::DriverError(d) => matches!(
            d,
            DriverError::ConnectTimeout
                | DriverError::CouldNotConnect(_)
                | DriverError::PacketOutOfSync
                | DriverError::UnexpectedPacket
                | DriverError::SetupError
                | DriverError::PoisonedPoolMutex
                | DriverError::Timeout
        ),
        // too many connections, shutdown in progress, lock wait timeout,
        // deadlock, server gone away / lost (as reported by some proxies),
        // connection killed (MariaDB).
        mysql::Error::MySqlError(m) => {
            matches!(m.code, 1040 | 1053 | 1205 | 1213 | 2006 | 2013 | 1927)
        }
        _ => false,
    };
    if unavailable {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Other(e.to_string())
    }
}

fn conversion(e: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("unexpected value from the database: {e}"))
}

fn queued_from_row(row: Row) -> Result<QueuedMessage> {
    type T = (
        i64,
        String,
        String,
        String,
        u32,
        Option<u8>,
        u32,
        String,
        String,
    );
    let (id, phone, text, source, attempts, concat_ref, parts_done, part_refs, created): T =
        mysql::from_row_opt(row).map_err(conversion)?;
    Ok(QueuedMessage {
        id,
        phone,
        text,
        source,
        attempts,
        concat_ref,
        parts_done,
        part_refs,
        created,
    })
}

/// Takes column `i` of a row, converted; an error names the column.
fn col<T: mysql::prelude::FromValue>(row: &mut Row, i: usize) -> Result<T> {
    row.take_opt(i)
        .ok_or_else(|| StoreError::Other(format!("column {i} missing")))?
        .map_err(conversion)
}

fn sms_from_row(mut row: Row) -> Result<SmsRow> {
    Ok(SmsRow {
        id: col(&mut row, 0)?,
        phone: col(&mut row, 1)?,
        text: col(&mut row, 2)?,
        source: col(&mut row, 3)?,
        queued_at: col(&mut row, 4)?,
        sent_at: col(&mut row, 5)?,
        status: col(&mut row, 6)?,
        parts: col(&mut row, 7)?,
        part_refs: col(&mut row, 8)?,
        error: col(&mut row, 9)?,
        attempts: col(&mut row, 10)?,
        sent_by: col(&mut row, 11)?,
        report_status: col(&mut row, 12)?,
    })
}

fn rcv_from_row(mut row: Row) -> Result<RcvRow> {
    Ok(RcvRow {
        id: col(&mut row, 0)?,
        sender: col(&mut row, 1)?,
        text: col(&mut row, 2)?,
        coding: col(&mut row, 3)?,
        smsc_time: col(&mut row, 4)?,
        received_at: col(&mut row, 5)?,
        parts: col(&mut row, 6)?,
        complete: col::<i64>(&mut row, 7)? != 0,
    })
}

fn part_from_row(mut row: Row) -> Result<ReceivedPart> {
    Ok(ReceivedPart {
        sender: col(&mut row, 0)?,
        reference: col(&mut row, 1)?,
        total: col(&mut row, 2)?,
        seq: col(&mut row, 3)?,
        coding: col(&mut row, 4)?,
        body_hex: col(&mut row, 5)?,
        text: col(&mut row, 6)?,
        smsc_time: col(&mut row, 7)?,
        smsc: col(&mut row, 8)?,
        dedupe_key: col(&mut row, 9)?,
    })
}

/// Inserts a `rcv` row unless its key exists; `None` for a duplicate.
fn insert_rcv(tx: &mut mysql::Transaction<'_>, m: &Received) -> Result<Option<i64>> {
    tx.exec_drop(
        "INSERT IGNORE INTO rcv (sender, text, smsc_time, parts, coding, complete, smsc, dedupe_key) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (&m.sender, &m.text, &m.smsc_time, m.parts, &m.coding, m.complete, &m.smsc, &m.dedupe_key),
    )
    .map_err(map_err)?;
    if tx.affected_rows() == 0 {
        return Ok(None);
    }
    let id = tx
        .last_insert_id()
        .ok_or_else(|| StoreError::Other("INSERT INTO rcv gave no id".into()))?;
    Ok(Some(i64::try_from(id).map_err(conversion)?))
}

/// The parts of one set still waiting to be joined, locked.
fn waiting_parts(
    tx: &mut mysql::Transaction<'_>,
    sender: &str,
    reference: u16,
    total: u8,
) -> Result<Vec<ReceivedPart>> {
    let rows: Vec<Row> = tx
        .exec(
            format!(
                "SELECT {PART_COLUMNS} FROM rcv_part WHERE sender = ? AND reference = ? AND total = ? \
                 AND rcv_id IS NULL ORDER BY seq FOR UPDATE"
            ),
            (sender, reference, total),
        )
        .map_err(map_err)?;
    rows.into_iter().map(part_from_row).collect()
}

/// Joins a set into `rcv` and marks its parts as joined.
fn join_set(
    tx: &mut mysql::Transaction<'_>,
    parts: &[ReceivedPart],
    complete: bool,
) -> Result<Option<i64>> {
    let Some(row) = joined_row(parts, complete) else {
        return Ok(None);
    };
    let id = insert_rcv(tx, &row)?;
    // A duplicate join (same content seen before) still retires the parts.
    let mark = id.unwrap_or(0);
    for p in parts {
        tx.exec_drop(
            "UPDATE rcv_part SET rcv_id = ? WHERE dedupe_key = ?",
            (mark, &p.dedupe_key),
        )
        .map_err(map_err)?;
    }
    Ok(id)
}

fn not_claimed(id: i64, owner: &str) -> StoreError {
    StoreError::Other(format!("message {id} is not claimed by {owner}"))
}

/// A lease or retry delay in microseconds, capped at ten years (beyond the
/// range of DATETIME arithmetic nothing is meant anyway).
fn micros(d: Duration) -> u64 {
    let cap = Duration::from_secs(10 * 365 * 86_400);
    d.min(cap).as_micros() as u64
}

/// Claims and the release of claims touch many rows that other senders are
/// claiming too: READ COMMITTED unlocks the rows a statement looked at but
/// did not change at once, instead of at commit, and takes no gap locks.
fn read_committed() -> TxOpts {
    TxOpts::default().set_isolation_level(Some(IsolationLevel::ReadCommitted))
}

impl Store for MysqlStore {
    fn backend(&self) -> &'static str {
        "mysql"
    }

    fn enqueue(&self, msgs: &[NewMessage]) -> Result<Vec<i64>> {
        if msgs.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn()?;
        if let [m] = msgs {
            // One request (the usual line): an INSERT in autocommit mode is
            // a transaction of its own, committed before the server answers
            // it, exactly as the explicit one below, in one round trip
            // instead of three. (Every connection sets autocommit = 1.)
            conn.exec_drop(
                "INSERT INTO msg (phone, text, source) VALUES (?, ?, ?)",
                (&m.phone, &m.text, &m.source),
            )
            .map_err(map_err)?;
            let id = match conn.last_insert_id() {
                0 => return Err(StoreError::Other("INSERT INTO msg gave no id".into())),
                id => i64::try_from(id).map_err(conversion)?,
            };
            return Ok(vec![id]);
        }
        let mut tx = conn.start_transaction(TxOpts::default()).map_err(map_err)?;
        let mut ids = Vec::with_capacity(msgs.len());
        for m in msgs {
            tx.exec_drop(
                "INSERT INTO msg (phone, text, source) VALUES (?, ?, ?)",
                (&m.phone, &m.text, &m.source),
            )
            .map_err(map_err)?;
            let id = tx
                .last_insert_id()
                .ok_or_else(|| StoreError::Other("INSERT INTO msg gave no id".into()))?;
            ids.push(i64::try_from(id).map_err(conversion)?);
        }
        tx.commit().map_err(map_err)?;
        Ok(ids)
    }

    fn claim_due(&self, owner: &str, lease: Duration, limit: usize) -> Result<Vec<QueuedMessage>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn()?;
        let mut tx = conn.start_transaction(read_committed()).map_err(map_err)?;
        let limit_sql = u64::try_from(limit).unwrap_or(u64::MAX);
        tx.query_drop(PROMOTE_DUE).map_err(map_err)?;
        let found: Vec<Row> = tx.exec(CLAIM, (limit_sql,)).map_err(map_err)?;
        let rows = found
            .into_iter()
            .map(queued_from_row)
            .collect::<Result<Vec<_>>>()?;
        let until = micros(lease);
        for m in &rows {
            tx.exec_drop(
                "UPDATE msg SET claimed_by = ?, claim_until = NOW(3) + INTERVAL ? MICROSECOND \
                 WHERE id = ?",
                (owner, until, m.id),
            )
            .map_err(map_err)?;
        }
        tx.commit().map_err(map_err)?;
        Ok(rows)
    }

    fn release_claims(&self, owner: &str) -> Result<u64> {
        let mut conn = self.conn()?;
        let mut tx = conn.start_transaction(read_committed()).map_err(map_err)?;
        tx.exec_drop(
            "UPDATE msg SET claimed_by = NULL, claim_until = NULL WHERE claimed_by = ?",
            (owner,),
        )
        .map_err(map_err)?;
        let n = tx.affected_rows();
        tx.commit().map_err(map_err)?;
        Ok(n)
    }

    fn renew_claims(&self, owner: &str, lease: Duration) -> Result<u64> {
        let mut conn = self.conn()?;
        conn.exec_drop(
            "UPDATE msg SET claim_until = NOW(3) + INTERVAL ? MICROSECOND WHERE claimed_by = ?",
            (micros(lease), owner),
        )
        .map_err(map_err)?;
        Ok(conn.affected_rows())
    }

    fn save_progress(
        &self,
        id: i64,
        owner: &str,
        concat_ref: u8,
        parts_done: u32,
        part_refs: &str,
    ) -> Result<()> {
        let mut conn = self.conn()?;
        let mut tx = conn.start_transaction(TxOpts::default()).map_err(map_err)?;
        // The claim check is a separate read: MySQL counts only rows actually
        // changed, so a repeated identical save would look like a lost claim.
        let owned: Option<i64> = tx
            .exec_first(
                "SELECT id FROM msg WHERE id = ? AND claimed_by = ? FOR UPDATE",
                (id, owner),
            )
            .map_err(map_err)?;
        if owned.is_none() {
            return Err(not_claimed(id, owner));
        }
        tx.exec_drop(
            "UPDATE msg SET concat_ref = ?, parts_done = ?, part_refs = ? WHERE id = ?",
            (concat_ref, parts_done, part_refs, id),
        )
        .map_err(map_err)?;
        tx.commit().map_err(map_err)
    }

    fn retry_later(&self, id: i64, owner: &str, error: &str, delay: Duration) -> Result<()> {
        let mut conn = self.conn()?;
        let mut tx = conn.start_transaction(TxOpts::default()).map_err(map_err)?;
        tx.exec_drop(
            "UPDATE msg SET attempts = attempts + 1, last_error = ?, \
             next_attempt = NOW(3) + INTERVAL ? MICROSECOND, \
             claimed_by = NULL, claim_until = NULL WHERE id = ? AND claimed_by = ?",
            (error, micros(delay), id, owner),
        )
        .map_err(map_err)?;
        if tx.affected_rows() == 0 {
            return Err(not_claimed(id, owner));
        }
        tx.commit().map_err(map_err)
    }

    fn finish(&self, id: i64, owner: &str, outcome: &Outcome) -> Result<bool> {
        let mut conn = self.conn()?;
        let mut tx = conn.start_transaction(TxOpts::default()).map_err(map_err)?;
        match outcome {
            Outcome::Sent { parts, part_refs } => tx.exec_drop(
                "INSERT INTO sms (id, phone, text, source, queued_at, sent_at, status, \
                 parts, part_refs, error, attempts, sent_by) \
                 SELECT id, phone, text, source, created, NOW(3), 'sent', ?, ?, NULL, \
                 attempts, ? FROM msg WHERE id = ? AND claimed_by = ? FOR UPDATE",
                (parts, part_refs, owner, id, owner),
            ),
            // Parts already confirmed before giving up are kept on record.
            Outcome::Failed { error } => tx.exec_drop(
                "INSERT INTO sms (id, phone, text, source, queued_at, sent_at, status, \
                 parts, part_refs, error, attempts, sent_by) \
                 SELECT id, phone, text, source, created, NULL, 'failed', parts_done, \
                 part_refs, ?, attempts, ? FROM msg WHERE id = ? AND claimed_by = ? FOR UPDATE",
                (error, owner, id, owner),
            ),
        }
        .map_err(map_err)?;
        if tx.affected_rows() == 0 {
            return Ok(false);
        }
        tx.exec_drop(
            "DELETE FROM msg WHERE id = ? AND claimed_by = ?",
            (id, owner),
        )
        .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
        Ok(true)
    }

    fn queue_stats(&self) -> Result<QueueStats> {
        let mut conn = self.conn()?;
        let tx_opts = TxOpts::default().set_with_consistent_snapshot(true);
        let mut tx = conn.start_transaction(tx_opts).map_err(map_err)?;
        let depth: Option<u64> = tx
            .query_first("SELECT COUNT(*) FROM msg")
            .map_err(map_err)?;
        // The oldest row is the lowest id (ids grow with insertion time).
        let oldest: Option<(String, i64)> = tx
            .query_first(concat!(
                "SELECT ",
                time!("created"),
                ", TIMESTAMPDIFF(SECOND, created, NOW(3)) FROM msg ORDER BY id LIMIT 1"
            ))
            .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
        Ok(QueueStats {
            depth: depth.unwrap_or(0),
            oldest_age_secs: oldest.as_ref().map(|o| o.1),
            oldest: oldest.map(|o| o.0),
        })
    }

    fn sms(&self, id: i64) -> Result<Option<SmsRow>> {
        let mut conn = self.conn()?;
        let row: Option<Row> = conn
            .exec_first(
                concat!("SELECT ", sms_columns!(), " FROM sms WHERE id = ?"),
                (id,),
            )
            .map_err(map_err)?;
        row.map(sms_from_row).transpose()
    }

    fn execute_sql(&self, sql: &str) -> Result<()> {
        let mut conn = self.conn()?;
        // Arbitrary SQL may change the session: not for another caller.
        conn.discard();
        conn.query_drop(sql).map_err(map_err)
    }

    fn save_received(&self, msg: &Received) -> Result<Saved> {
        let mut conn = self.conn()?;
        let mut tx = conn.start_transaction(TxOpts::default()).map_err(map_err)?;
        let id = insert_rcv(&mut tx, msg)?;
        tx.commit().map_err(map_err)?;
        Ok(id.map_or(Saved::Duplicate, Saved::New))
    }

    fn save_part(&self, part: &ReceivedPart) -> Result<Saved> {
        let mut conn = self.conn()?;
        let mut tx = conn.start_transaction(TxOpts::default()).map_err(map_err)?;
        tx.exec_drop(
            format!(
                "INSERT IGNORE INTO rcv_part ({PART_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            (
                &part.sender,
                part.reference,
                part.total,
                part.seq,
                &part.coding,
                &part.body_hex,
                &part.text,
                &part.smsc_time,
                &part.smsc,
                &part.dedupe_key,
            ),
        )
        .map_err(map_err)?;
        if tx.affected_rows() == 0 {
            return Ok(Saved::Duplicate);
        }
        let parts = waiting_parts(&mut tx, &part.sender, part.reference, part.total)?;
        let mut seqs: Vec<u8> = parts.iter().map(|p| p.seq).collect();
        seqs.dedup();
        let saved = if seqs.len() >= usize::from(part.total) {
            match join_set(&mut tx, &parts, true)? {
                Some(id) => Saved::New(id),
                None => Saved::Duplicate,
            }
        } else {
            Saved::Waiting
        };
        tx.commit().map_err(map_err)?;
        Ok(saved)
    }

    fn flush_parts(&self, max_age: Duration, keep: Duration) -> Result<Vec<i64>> {
        let mut conn = self.conn()?;
        let mut tx = conn.start_transaction(TxOpts::default()).map_err(map_err)?;
        let sets: Vec<(String, u16, u8)> = tx
            .exec(
                "SELECT sender, reference, total FROM rcv_part WHERE rcv_id IS NULL \
                 GROUP BY sender, reference, total \
                 HAVING MIN(received_at) < NOW(3) - INTERVAL ? MICROSECOND",
                (micros(max_age),),
            )
            .map_err(map_err)?;
        let mut ids = Vec::new();
        for (sender, reference, total) in sets {
            let parts = waiting_parts(&mut tx, &sender, reference, total)?;
            if let Some(id) = join_set(&mut tx, &parts, false)? {
                ids.push(id);
            }
        }
        tx.exec_drop(
            "DELETE FROM rcv_part WHERE rcv_id IS NOT NULL AND received_at < NOW(3) - INTERVAL ? MICROSECOND",
            (micros(keep),),
        )
        .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
        Ok(ids)
    }

    fn rcv(&self, id: i64) -> Result<Option<RcvRow>> {
        let mut conn = self.conn()?;
        let row: Option<Row> = conn
            .exec_first(
                concat!("SELECT ", rcv_columns!(), " FROM rcv WHERE id = ?"),
                (id,),
            )
            .map_err(map_err)?;
        row.map(rcv_from_row).transpose()
    }

    fn save_report(&self, report: &DeliveryReport) -> Result<Option<(i64, String)>> {
        let mut conn = self.conn()?;
        let mut tx = conn.start_transaction(TxOpts::default()).map_err(map_err)?;
        let candidates: Vec<(i64, String, String, u32)> = tx
            .query(
                "SELECT id, phone, part_refs, parts FROM sms WHERE status = 'sent' \
                 AND sent_at >= NOW(3) - INTERVAL 7 DAY ORDER BY sent_at DESC LIMIT 2000",
            )
            .map_err(map_err)?;
        let Some((id, _, _, parts)) = candidates.into_iter().find(|(_, phone, refs, _)| {
            same_number(phone, &report.recipient) && refs_contain(refs, report.mr)
        }) else {
            return Ok(None);
        };
        let status = report_status(report.st);
        tx.exec_drop(
            "REPLACE INTO sms_report (sms_id, mr, st, status, discharged) VALUES (?, ?, ?, ?, ?)",
            (id, report.mr, report.st, status, &report.discharged),
        )
        .map_err(map_err)?;
        let statuses: Vec<String> = tx
            .exec("SELECT status FROM sms_report WHERE sms_id = ?", (id,))
            .map_err(map_err)?;
        let combined = combined_report(parts, &statuses);
        tx.exec_drop(
            "UPDATE sms SET report_status = ?, report_time = NOW(3) WHERE id = ?",
            (combined, id),
        )
        .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
        Ok(Some((id, combined.to_owned())))
    }

    fn save_modem_health(&self, h: &ModemHealth) -> Result<()> {
        let mut conn = self.conn()?;
        let mut tx = conn.start_transaction(TxOpts::default()).map_err(map_err)?;
        let instance = clip(&h.instance, 128);
        // Sends since the previous check (all of them for a new row).
        let previous: Option<String> = tx
            .exec_first(
                concat!(
                    "SELECT ",
                    time!("checked_at"),
                    " FROM modem WHERE instance = ? FOR UPDATE"
                ),
                (&instance,),
            )
            .map_err(map_err)?;
        let newest_sent: Option<Option<String>> = tx
            .exec_first(
                concat!(
                    "SELECT ",
                    time!("MAX(sent_at)"),
                    " FROM sms WHERE sent_at >= ? AND sent_by = ?"
                ),
                (
                    previous.unwrap_or_else(|| "1970-01-01 00:00:00.000".into()),
                    &instance,
                ),
            )
            .map_err(map_err)?;
        tx.exec_drop(
            "INSERT INTO modem (instance, device, manufacturer, model, rssi, registration, \
             operator, healthy, last_error, checked_at, last_send_ok, pid) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NOW(3), ?, ?) \
             ON DUPLICATE KEY UPDATE device = VALUES(device), \
             manufacturer = COALESCE(NULLIF(VALUES(manufacturer), ''), manufacturer), \
             model = COALESCE(NULLIF(VALUES(model), ''), model), \
             rssi = VALUES(rssi), registration = VALUES(registration), \
             operator = VALUES(operator), healthy = VALUES(healthy), \
             last_error = VALUES(last_error), checked_at = VALUES(checked_at), \
             last_send_ok = COALESCE(VALUES(last_send_ok), last_send_ok), pid = VALUES(pid)",
            mysql::Params::Positional(vec![
                instance.into(),
                clip(&h.device, 255).into(),
                clip(&h.manufacturer, 64).into(),
                clip(&h.model, 64).into(),
                h.rssi.into(),
                h.registration.as_deref().map(|r| clip(r, 32)).into(),
                h.operator.as_deref().map(|o| clip(o, 64)).into(),
                h.healthy.into(),
                h.last_error.clone().into(),
                newest_sent.flatten().into(),
                h.pid.into(),
            ]),
        )
        .map_err(map_err)?;
        tx.commit().map_err(map_err)
    }

    fn modem_health(&self) -> Result<Vec<ModemHealth>> {
        let mut conn = self.conn()?;
        let rows: Vec<Row> = conn
            .query(concat!(
                "SELECT instance, device, manufacturer, model, rssi, registration, operator, \
                 healthy, last_error, pid, ",
                time!("checked_at"),
                ", TIMESTAMPDIFF(SECOND, checked_at, NOW(3)), ",
                time!("last_send_ok"),
                " FROM modem ORDER BY instance"
            ))
            .map_err(map_err)?;
        rows.into_iter()
            .map(|mut row| {
                let rssi: Option<i64> = col(&mut row, 4)?;
                Ok(ModemHealth {
                    instance: col(&mut row, 0)?,
                    device: col(&mut row, 1)?,
                    manufacturer: col(&mut row, 2)?,
                    model: col(&mut row, 3)?,
                    rssi: rssi.and_then(|v| u8::try_from(v).ok()),
                    registration: col(&mut row, 5)?,
                    operator: col(&mut row, 6)?,
                    healthy: col(&mut row, 7)?,
                    last_error: col(&mut row, 8)?,
                    pid: col(&mut row, 9)?,
                    checked_at: col(&mut row, 10)?,
                    checked_age_secs: col(&mut row, 11)?,
                    last_send_ok: col(&mut row, 12)?,
                })
            })
            .collect()
    }

    fn activity_since(&self, period: Duration) -> Result<Activity> {
        let mut conn = self.conn()?;
        let us = micros(period);
        let counts: Option<(u64, u64, u64)> = conn
            .exec_first(
                "SELECT \
                 (SELECT COUNT(*) FROM sms WHERE sent_at >= NOW(3) - INTERVAL ? MICROSECOND), \
                 (SELECT COUNT(*) FROM sms WHERE status = 'failed' \
                  AND queued_at >= NOW(3) - INTERVAL ? MICROSECOND), \
                 (SELECT COUNT(*) FROM rcv WHERE received_at >= NOW(3) - INTERVAL ? MICROSECOND)",
                (us, us, us),
            )
            .map_err(map_err)?;
        let (sent, failed, received) = counts.unwrap_or_default();
        Ok(Activity {
            sent,
            failed,
            received,
        })
    }

    fn last_sent(&self) -> Result<Option<(SmsRow, i64)>> {
        let newest: Option<(i64, i64)> = self
            .conn()?
            .query_first(
                "SELECT id, TIMESTAMPDIFF(SECOND, sent_at, NOW(3)) FROM sms \
                 WHERE sent_at IS NOT NULL ORDER BY sent_at DESC LIMIT 1",
            )
            .map_err(map_err)?;
        match newest {
            Some((id, age)) => Ok(self.sms(id)?.map(|row| (row, age))),
            None => Ok(None),
        }
    }

    fn list_sms(&self, filter: &ListFilter) -> Result<Vec<SmsRow>> {
        let (sql, params) = list_sms_query(filter);
        let rows: Vec<Row> = self.conn()?.exec(sql, params).map_err(map_err)?;
        rows.into_iter().map(sms_from_row).collect()
    }

    fn list_queued(&self, filter: &ListFilter) -> Result<Vec<QueueRow>> {
        let (sql, params) = list_query(
            concat!(
                "SELECT id, phone, text, source, ",
                time!("created"),
                ", attempts, ",
                time!("next_attempt"),
                ", last_error, (claimed_by IS NOT NULL AND claim_until >= NOW(3)), parts_done FROM msg"
            ),
            "phone",
            "created",
            filter,
        );
        let rows: Vec<Row> = self.conn()?.exec(sql, params).map_err(map_err)?;
        rows.into_iter()
            .map(|mut row| {
                Ok(QueueRow {
                    id: col(&mut row, 0)?,
                    phone: col(&mut row, 1)?,
                    text: col(&mut row, 2)?,
                    source: col(&mut row, 3)?,
                    created: col(&mut row, 4)?,
                    attempts: col(&mut row, 5)?,
                    next_attempt: col(&mut row, 6)?,
                    last_error: col(&mut row, 7)?,
                    sending: col(&mut row, 8)?,
                    parts_done: col(&mut row, 9)?,
                })
            })
            .collect()
    }

    fn list_received(&self, filter: &ListFilter) -> Result<Vec<RcvRow>> {
        let (sql, params) = list_query(
            concat!("SELECT ", rcv_columns!(), " FROM rcv"),
            "sender",
            "received_at",
            filter,
        );
        let rows: Vec<Row> = self.conn()?.exec(sql, params).map_err(map_err)?;
        rows.into_iter().map(rcv_from_row).collect()
    }

    fn totals(&self) -> Result<Totals> {
        // Each count walks one index (sms_status or rcv's primary key);
        // MAX(sent_at) is answered from sms_sent_at alone.
        let row: Option<Row> = self
            .conn()?
            .query_first(concat!(
                "SELECT (SELECT COUNT(*) FROM sms WHERE status = 'sent'), ",
                "(SELECT COUNT(*) FROM sms WHERE status = 'failed'), ",
                "(SELECT COUNT(*) FROM rcv), ",
                time!("m"),
                ", TIMESTAMPDIFF(SECOND, m, NOW(3)) FROM (SELECT MAX(sent_at) AS m FROM sms) t"
            ))
            .map_err(map_err)?;
        let Some(row) = row else {
            return Ok(Totals::default());
        };
        let (sent, failed, received, last_sent, last_sent_age_secs): (
            u64,
            u64,
            u64,
            Option<String>,
            Option<i64>,
        ) = mysql::from_row_opt(row).map_err(conversion)?;
        Ok(Totals {
            sent,
            failed,
            received,
            last_sent,
            last_sent_age_secs,
        })
    }

    fn explain_list_sms(&self, filter: &ListFilter) -> Result<String> {
        let (sql, params) = list_sms_query(filter);
        let rows: Vec<Row> = self
            .conn()?
            .exec(format!("EXPLAIN {sql}"), params)
            .map_err(map_err)?;
        let lines: Vec<String> = rows
            .iter()
            .map(|r| {
                let col = |name: &str| -> String {
                    r.get_opt::<Option<String>, _>(name)
                        .and_then(|v| v.ok())
                        .flatten()
                        .unwrap_or_default()
                };
                format!(
                    "type {}, key {}, rows {}, Extra: {}",
                    col("type"),
                    col("key"),
                    col("rows"),
                    col("Extra")
                )
            })
            .collect();
        Ok(lines.join("; "))
    }
}

/// `SELECT ... FROM sms WHERE <filter> ORDER BY id DESC LIMIT n`.
///
/// The plans (EXPLAIN, MariaDB 10.11, 100,000 rows; tests/web.rs
/// `large_history_mysql` prints them with times): the first page reads the
/// primary key backwards and stops after `n` rows; with a status it reads
/// `sms_status (status, id)` backwards; a number prefix (`LIKE '420608%'`)
/// is a range of `sms_phone` with the few matching rows sorted, or, when
/// the optimizer's index dive finds that the prefix matches many rows, the
/// primary key backwards until `n` of them are found.
fn list_sms_query(filter: &ListFilter) -> (String, Vec<mysql::Value>) {
    let mut sql = concat!("SELECT ", sms_columns!(), " FROM sms").to_owned();
    let mut params = Vec::new();
    let mut conds: Vec<String> = Vec::new();
    if let Some(status) = &filter.status {
        conds.push("status = ?".into());
        params.push(status.as_str().into());
    }
    push_common(&mut conds, &mut params, "phone", "queued_at", filter);
    finish_list(&mut sql, &conds, &mut params, filter.limit);
    (sql, params)
}

fn list_query(
    select: &str,
    number_col: &str,
    time_col: &str,
    filter: &ListFilter,
) -> (String, Vec<mysql::Value>) {
    let mut sql = select.to_owned();
    let mut params = Vec::new();
    let mut conds = Vec::new();
    push_common(&mut conds, &mut params, number_col, time_col, filter);
    finish_list(&mut sql, &conds, &mut params, filter.limit);
    (sql, params)
}

fn push_common(
    conds: &mut Vec<String>,
    params: &mut Vec<mysql::Value>,
    number_col: &str,
    time_col: &str,
    filter: &ListFilter,
) {
    if let Some(prefix) = &filter.number_prefix {
        // The prefix is `+` and digits (checked by the caller): no LIKE
        // wildcards to escape. LIKE 'const%' is a range of the index.
        conds.push(format!("{number_col} LIKE ?"));
        params.push(format!("{prefix}%").into());
    }
    if let Some(before) = filter.before_id {
        conds.push("id < ?".into());
        params.push(before.into());
    }
    if let Some(since) = &filter.since {
        conds.push(format!("{time_col} >= ?"));
        params.push(since.as_str().into());
    }
}

fn finish_list(sql: &mut String, conds: &[String], params: &mut Vec<mysql::Value>, limit: usize) {
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
    sql.push_str(" ORDER BY id DESC LIMIT ?");
    params.push(u64::try_from(limit).unwrap_or(u64::MAX).into());
}

#[cfg(test)]
pub(crate) const CLAIM_QUERIES: [&str; 2] = [PROMOTE_DUE, CLAIM];
