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

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::migrate::{self, Migration, Migrator};
use super::{
    Activity, DeliveryReport, ListFilter, ModemHealth, NewMessage, Outcome, QueueRow, QueueStats,
    QueuedMessage, RcvRow, Received, ReceivedPart, Result, Saved, SmsRow, Store, StoreError,
    Totals, clip, combined_report, joined_row, refs_contain, report_status, same_number,
};

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The current time as stored: UTC `YYYY-MM-DD HH:MM:SS.fff`.
macro_rules! now {
    () => {
        "strftime('%Y-%m-%d %H:%M:%f', 'now')"
    };
    // now + a modifier bound as a parameter, e.g. '+1.500 seconds'
    ($param:literal) => {
        concat!("strftime('%Y-%m-%d %H:%M:%f', 'now', ", $param, ")")
    };
}

/// A row not under a live claim.
macro_rules! unclaimed {
    () => {
        concat!("(claimed_by IS NULL OR claim_until < ", now!(), ")")
    };
}

const MSG_COLUMNS: &str =
    "id, phone, text, source, attempts, concat_ref, parts_done, part_refs, created";

/// Step 1 of a claim: rows whose retry time has passed become plain due
/// rows (`next_attempt` NULL). This reads only those rows (a range of
/// `msg_due`), each once per retry, never the ones still waiting.
const PROMOTE_DUE: &str = concat!(
    "UPDATE msg INDEXED BY msg_due SET next_attempt = NULL WHERE next_attempt <= ",
    now!()
);

/// Step 2: the due rows, oldest id first. `msg_due (next_attempt, id)` holds
/// the NULL group in id order, so this reads the first `?1` unclaimed rows
/// (plus the few under a live claim) and stops, however long the queue is;
/// no sort. `INDEXED BY` keeps the planner from a rowid scan, which would
/// read every waiting row before the due ones.
const CLAIM: &str = concat!(
    "SELECT id FROM msg INDEXED BY msg_due WHERE next_attempt IS NULL AND ",
    unclaimed!(),
    " ORDER BY id LIMIT ?1"
);

const SMS_COLUMNS: &str = "id, phone, text, source, queued_at, sent_at, status, parts, \
                           part_refs, error, attempts, sent_by, report_status";

const RCV_COLUMNS: &str = "id, sender, text, coding, smsc_time, received_at, parts, complete";

const PART_COLUMNS: &str =
    "sender, reference, total, seq, coding, body, text, smsc_time, smsc, dedupe_key";

pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (with `create_schema`: creates) the database file at `path`.
    pub fn open(path: &str, create_schema: bool) -> Result<SqliteStore> {
        let url = if path.starts_with('/') {
            format!("sqlite://{path}")
        } else {
            format!("sqlite:{path}")
        };
        if path.is_empty() {
            return Err(StoreError::Other(
                "empty SQLite path: use sqlite:///abs/path.db or sqlite:relative.db".into(),
            ));
        }
        let p = Path::new(path);
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            return Err(StoreError::Other(format!(
                "cannot open SQLite database {path}: directory {} does not exist",
                dir.display()
            )));
        }
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create_schema {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        } else if !p.exists() {
            return Err(StoreError::Schema(format!(
                "the database file {path} does not exist: run `smss init-db --db {url}`"
            )));
        }
        let conn = Connection::open_with_flags(p, flags)
            .map_err(|e| StoreError::Other(format!("cannot open SQLite database {path}: {e}")))?;
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
        Ok(SqliteStore {
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
        tx.execute_batch(m.sql)
            .map_err(|e| StoreError::Schema(format!("migration {} failed: {e}", m.name)))?;
        tx.execute("DELETE FROM smss_schema", []).map_err(map_err)?;
        tx.execute("INSERT INTO smss_schema (version) VALUES (?1)", [m.version])
            .map_err(map_err)?;
        tx.commit().map_err(map_err)
    }
}

fn map_err(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure
            | ErrorCode::CannotOpen,
        ) => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Other(e.to_string()),
    }
}

/// A lease or retry delay as a strftime modifier, capped at ten years
/// (strftime gives NULL, i.e. "due now", for times out of its range).
fn lease_modifier(d: Duration) -> String {
    let d = d.min(Duration::from_secs(10 * 365 * 86_400));
    format!("+{}.{:03} seconds", d.as_secs(), d.subsec_millis())
}

fn to_u32(v: i64, what: &str) -> rusqlite::Result<u32> {
    u32::try_from(v).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Integer,
            format!("{what} out of range: {v}").into(),
        )
    })
}

fn queued_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<QueuedMessage> {
    let concat_ref: Option<i64> = r.get(5)?;
    Ok(QueuedMessage {
        id: r.get(0)?,
        phone: r.get(1)?,
        text: r.get(2)?,
        source: r.get(3)?,
        attempts: to_u32(r.get(4)?, "attempts")?,
        // The column has a CHECK (0..255); anything else is treated as unset.
        concat_ref: concat_ref.and_then(|v| u8::try_from(v).ok()),
        parts_done: to_u32(r.get(6)?, "parts_done")?,
        part_refs: r.get(7)?,
        created: r.get(8)?,
    })
}

fn sms_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SmsRow> {
    Ok(SmsRow {
        id: r.get(0)?,
        phone: r.get(1)?,
        text: r.get(2)?,
        source: r.get(3)?,
        queued_at: r.get(4)?,
        sent_at: r.get(5)?,
        status: r.get(6)?,
        parts: to_u32(r.get(7)?, "parts")?,
        part_refs: r.get(8)?,
        error: r.get(9)?,
        attempts: to_u32(r.get(10)?, "attempts")?,
        sent_by: r.get(11)?,
        report_status: r.get(12)?,
    })
}

fn rcv_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RcvRow> {
    Ok(RcvRow {
        id: r.get(0)?,
        sender: r.get(1)?,
        text: r.get(2)?,
        coding: r.get(3)?,
        smsc_time: r.get(4)?,
        received_at: r.get(5)?,
        parts: to_u32(r.get(6)?, "parts")?,
        complete: r.get::<_, i64>(7)? != 0,
    })
}

fn part_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReceivedPart> {
    Ok(ReceivedPart {
        sender: r.get(0)?,
        reference: r.get::<_, i64>(1)? as u16,
        total: r.get::<_, i64>(2)? as u8,
        seq: r.get::<_, i64>(3)? as u8,
        coding: r.get(4)?,
        body_hex: r.get(5)?,
        text: r.get(6)?,
        smsc_time: r.get(7)?,
        smsc: r.get(8)?,
        dedupe_key: r.get(9)?,
    })
}

/// Inserts a `rcv` row unless its key exists; `None` for a duplicate.
fn insert_rcv(tx: &rusqlite::Transaction<'_>, m: &Received) -> rusqlite::Result<Option<i64>> {
    let n = tx.execute(
        "INSERT OR IGNORE INTO rcv (sender, text, smsc_time, parts, coding, complete, smsc, dedupe_key) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![m.sender, m.text, m.smsc_time, m.parts, m.coding, m.complete as i64, m.smsc, m.dedupe_key],
    )?;
    Ok((n == 1).then(|| tx.last_insert_rowid()))
}

/// The parts of one set still waiting to be joined.
fn waiting_parts(
    tx: &rusqlite::Transaction<'_>,
    sender: &str,
    reference: u16,
    total: u8,
) -> rusqlite::Result<Vec<ReceivedPart>> {
    let mut stmt = tx.prepare(&format!(
        "SELECT {PART_COLUMNS} FROM rcv_part WHERE sender = ?1 AND reference = ?2 AND total = ?3 \
         AND rcv_id IS NULL ORDER BY seq"
    ))?;
    let rows = stmt.query_map(params![sender, reference, total], part_from_row)?;
    rows.collect()
}

/// Joins a set into `rcv` and marks its parts as joined.
fn join_set(
    tx: &rusqlite::Transaction<'_>,
    parts: &[ReceivedPart],
    complete: bool,
) -> rusqlite::Result<Option<i64>> {
    let Some(row) = joined_row(parts, complete) else {
        return Ok(None);
    };
    let id = insert_rcv(tx, &row)?;
    // A duplicate join (same content seen before) still retires the parts.
    let mark = id.unwrap_or(0);
    for p in parts {
        tx.execute(
            "UPDATE rcv_part SET rcv_id = ?1 WHERE dedupe_key = ?2",
            params![mark, p.dedupe_key],
        )?;
    }
    Ok(id)
}

fn not_claimed(id: i64, owner: &str) -> StoreError {
    StoreError::Other(format!("message {id} is not claimed by {owner}"))
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn enqueue(&self, msgs: &[NewMessage]) -> Result<Vec<i64>> {
        if msgs.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let mut ids = Vec::with_capacity(msgs.len());
        {
            let mut stmt = tx
                .prepare("INSERT INTO msg (phone, text, source) VALUES (?1, ?2, ?3)")
                .map_err(map_err)?;
            for m in msgs {
                stmt.execute(params![m.phone, m.text, m.source])
                    .map_err(map_err)?;
                ids.push(tx.last_insert_rowid());
            }
        }
        tx.commit().map_err(map_err)?;
        Ok(ids)
    }

    fn claim_due(&self, owner: &str, lease: Duration, limit: usize) -> Result<Vec<QueuedMessage>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        tx.execute(PROMOTE_DUE, []).map_err(map_err)?;
        let ids = tx
            .prepare(CLAIM)
            .and_then(|mut stmt| {
                stmt.query_map([limit_sql], |r| r.get::<_, i64>(0))?
                    .collect::<rusqlite::Result<Vec<i64>>>()
            })
            .map_err(map_err)?;
        let mut out = Vec::with_capacity(ids.len());
        {
            let mut update = tx
                .prepare(concat!(
                    "UPDATE msg SET claimed_by = ?1, claim_until = ",
                    now!("?2"),
                    " WHERE id = ?3"
                ))
                .map_err(map_err)?;
            let mut select = tx
                .prepare(&format!("SELECT {MSG_COLUMNS} FROM msg WHERE id = ?1"))
                .map_err(map_err)?;
            let modifier = lease_modifier(lease);
            for id in ids {
                update
                    .execute(params![owner, modifier, id])
                    .map_err(map_err)?;
                out.push(select.query_row([id], queued_from_row).map_err(map_err)?);
            }
        }
        tx.commit().map_err(map_err)?;
        Ok(out)
    }

    fn release_claims(&self, owner: &str) -> Result<u64> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let n = tx
            .execute(
                "UPDATE msg SET claimed_by = NULL, claim_until = NULL WHERE claimed_by = ?1",
                [owner],
            )
            .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
        Ok(n as u64)
    }

    fn renew_claims(&self, owner: &str, lease: Duration) -> Result<u64> {
        let n = self
            .conn()
            .execute(
                concat!(
                    "UPDATE msg SET claim_until = ",
                    now!("?1"),
                    " WHERE claimed_by = ?2"
                ),
                params![lease_modifier(lease), owner],
            )
            .map_err(map_err)?;
        Ok(n as u64)
    }

    fn save_progress(
        &self,
        id: i64,
        owner: &str,
        concat_ref: u8,
        parts_done: u32,
        part_refs: &str,
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let n = tx
            .execute(
                "UPDATE msg SET concat_ref = ?1, parts_done = ?2, part_refs = ?3 \
                 WHERE id = ?4 AND claimed_by = ?5",
                params![concat_ref, parts_done, part_refs, id, owner],
            )
            .map_err(map_err)?;
        if n == 0 {
            return Err(not_claimed(id, owner));
        }
        tx.commit().map_err(map_err)
    }

    fn retry_later(&self, id: i64, owner: &str, error: &str, delay: Duration) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let n = tx
            .execute(
                concat!(
                    "UPDATE msg SET attempts = attempts + 1, last_error = ?1, next_attempt = ",
                    now!("?2"),
                    ", claimed_by = NULL, claim_until = NULL WHERE id = ?3 AND claimed_by = ?4"
                ),
                params![error, lease_modifier(delay), id, owner],
            )
            .map_err(map_err)?;
        if n == 0 {
            return Err(not_claimed(id, owner));
        }
        tx.commit().map_err(map_err)
    }

    fn finish(&self, id: i64, owner: &str, outcome: &Outcome) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let n = match outcome {
            Outcome::Sent { parts, part_refs } => tx.execute(
                concat!(
                    "INSERT INTO sms (id, phone, text, source, queued_at, sent_at, status, \
                     parts, part_refs, error, attempts, sent_by) \
                     SELECT id, phone, text, source, created, ",
                    now!(),
                    ", 'sent', ?1, ?2, NULL, attempts, ?3 \
                     FROM msg WHERE id = ?4 AND claimed_by = ?3"
                ),
                params![parts, part_refs, owner, id],
            ),
            // Parts already confirmed before giving up are kept on record.
            Outcome::Failed { error } => tx.execute(
                "INSERT INTO sms (id, phone, text, source, queued_at, sent_at, status, \
                 parts, part_refs, error, attempts, sent_by) \
                 SELECT id, phone, text, source, created, NULL, 'failed', \
                 parts_done, part_refs, ?1, attempts, ?2 \
                 FROM msg WHERE id = ?3 AND claimed_by = ?2",
                params![error, owner, id],
            ),
        }
        .map_err(map_err)?;
        if n == 0 {
            return Ok(false);
        }
        tx.execute(
            "DELETE FROM msg WHERE id = ?1 AND claimed_by = ?2",
            params![id, owner],
        )
        .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
        Ok(true)
    }

    fn queue_stats(&self) -> Result<QueueStats> {
        let conn = self.conn();
        let depth: i64 = conn
            .query_row("SELECT COUNT(*) FROM msg", [], |r| r.get(0))
            .map_err(map_err)?;
        // The oldest row is the lowest id (ids grow with insertion time).
        let oldest: Option<(String, i64)> = conn
            .query_row(
                "SELECT created, \
                 CAST((julianday('now') - julianday(created)) * 86400 AS INTEGER) \
                 FROM msg ORDER BY id LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(map_err)?;
        Ok(QueueStats {
            depth: depth as u64,
            oldest_age_secs: oldest.as_ref().map(|o| o.1),
            oldest: oldest.map(|o| o.0),
        })
    }

    fn sms(&self, id: i64) -> Result<Option<SmsRow>> {
        let conn = self.conn();
        conn.prepare(&format!("SELECT {SMS_COLUMNS} FROM sms WHERE id = ?1"))
            .and_then(|mut s| s.query_row([id], sms_from_row).optional())
            .map_err(map_err)
    }

    fn execute_sql(&self, sql: &str) -> Result<()> {
        self.conn().execute_batch(sql).map_err(map_err)
    }

    fn save_received(&self, msg: &Received) -> Result<Saved> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let id = insert_rcv(&tx, msg).map_err(map_err)?;
        tx.commit().map_err(map_err)?;
        Ok(id.map_or(Saved::Duplicate, Saved::New))
    }

    fn save_part(&self, part: &ReceivedPart) -> Result<Saved> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let n = tx
            .execute(
                &format!(
                    "INSERT OR IGNORE INTO rcv_part ({PART_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
                ),
                params![
                    part.sender,
                    part.reference,
                    part.total,
                    part.seq,
                    part.coding,
                    part.body_hex,
                    part.text,
                    part.smsc_time,
                    part.smsc,
                    part.dedupe_key
                ],
            )
            .map_err(map_err)?;
        if n == 0 {
            return Ok(Saved::Duplicate);
        }
        let parts =
            waiting_parts(&tx, &part.sender, part.reference, part.total).map_err(map_err)?;
        let mut seqs: Vec<u8> = parts.iter().map(|p| p.seq).collect();
        seqs.dedup();
        let saved = if seqs.len() >= usize::from(part.total) {
            match join_set(&tx, &parts, true).map_err(map_err)? {
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
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let sets: Vec<(String, i64, i64)> = tx
            .prepare(concat!(
                "SELECT sender, reference, total FROM rcv_part WHERE rcv_id IS NULL \
                 GROUP BY sender, reference, total HAVING MIN(received_at) < ",
                "strftime('%Y-%m-%d %H:%M:%f', 'now', ?1)"
            ))
            .and_then(|mut stmt| {
                stmt.query_map([format!("-{}", &lease_modifier(max_age)[1..])], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect()
            })
            .map_err(map_err)?;
        let mut ids = Vec::new();
        for (sender, reference, total) in sets {
            let parts =
                waiting_parts(&tx, &sender, reference as u16, total as u8).map_err(map_err)?;
            if let Some(id) = join_set(&tx, &parts, false).map_err(map_err)? {
                ids.push(id);
            }
        }
        tx.execute(
            "DELETE FROM rcv_part WHERE rcv_id IS NOT NULL AND received_at < strftime('%Y-%m-%d %H:%M:%f', 'now', ?1)",
            [format!("-{}", &lease_modifier(keep)[1..])],
        )
        .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
        Ok(ids)
    }

    fn rcv(&self, id: i64) -> Result<Option<RcvRow>> {
        let conn = self.conn();
        conn.prepare(&format!("SELECT {RCV_COLUMNS} FROM rcv WHERE id = ?1"))
            .and_then(|mut s| s.query_row([id], rcv_from_row).optional())
            .map_err(map_err)
    }

    fn save_report(&self, report: &DeliveryReport) -> Result<Option<(i64, String)>> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let candidates: Vec<(i64, String, String, i64)> = tx
            .prepare(
                "SELECT id, phone, part_refs, parts FROM sms WHERE status = 'sent' \
                 AND sent_at >= strftime('%Y-%m-%d %H:%M:%f', 'now', '-7 days') \
                 ORDER BY sent_at DESC LIMIT 2000",
            )
            .and_then(|mut stmt| {
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                    .collect()
            })
            .map_err(map_err)?;
        let Some((id, _, _, parts)) = candidates.into_iter().find(|(_, phone, refs, _)| {
            same_number(phone, &report.recipient) && refs_contain(refs, report.mr)
        }) else {
            return Ok(None);
        };
        let status = report_status(report.st);
        tx.execute(
            "INSERT OR REPLACE INTO sms_report (sms_id, mr, st, status, discharged) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, report.mr, report.st, status, report.discharged],
        )
        .map_err(map_err)?;
        let statuses: Vec<String> = tx
            .prepare("SELECT status FROM sms_report WHERE sms_id = ?1")
            .and_then(|mut stmt| stmt.query_map([id], |r| r.get(0))?.collect())
            .map_err(map_err)?;
        let combined = combined_report(to_u32(parts, "parts").unwrap_or(1), &statuses);
        tx.execute(
            concat!(
                "UPDATE sms SET report_status = ?1, report_time = ",
                now!(),
                " WHERE id = ?2"
            ),
            params![combined, id],
        )
        .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
        Ok(Some((id, combined.to_owned())))
    }

    fn save_modem_health(&self, h: &ModemHealth) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        // Sends since the previous check ('' before any time: all of them).
        let previous: Option<String> = tx
            .query_row(
                "SELECT checked_at FROM modem WHERE instance = ?1",
                [&h.instance],
                |r| r.get(0),
            )
            .optional()
            .map_err(map_err)?;
        let newest_sent: Option<String> = tx
            .query_row(
                "SELECT MAX(sent_at) FROM sms WHERE sent_at >= ?1 AND sent_by = ?2",
                params![previous.unwrap_or_default(), h.instance],
                |r| r.get(0),
            )
            .map_err(map_err)?;
        tx.execute(
            concat!(
                "INSERT INTO modem (instance, device, manufacturer, model, rssi, registration, \
                 operator, healthy, last_error, checked_at, last_send_ok, pid) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ",
                now!(),
                ", ?10, ?11) \
                 ON CONFLICT (instance) DO UPDATE SET device = excluded.device, \
                 manufacturer = COALESCE(NULLIF(excluded.manufacturer, ''), modem.manufacturer), \
                 model = COALESCE(NULLIF(excluded.model, ''), modem.model), \
                 rssi = excluded.rssi, registration = excluded.registration, \
                 operator = excluded.operator, healthy = excluded.healthy, \
                 last_error = excluded.last_error, checked_at = excluded.checked_at, \
                 last_send_ok = COALESCE(excluded.last_send_ok, modem.last_send_ok), \
                 pid = excluded.pid"
            ),
            params![
                clip(&h.instance, 128),
                clip(&h.device, 255),
                clip(&h.manufacturer, 64),
                clip(&h.model, 64),
                h.rssi,
                h.registration.as_deref().map(|r| clip(r, 32)),
                h.operator.as_deref().map(|o| clip(o, 64)),
                h.healthy,
                h.last_error,
                newest_sent,
                h.pid,
            ],
        )
        .map_err(map_err)?;
        tx.commit().map_err(map_err)
    }

    fn modem_health(&self) -> Result<Vec<ModemHealth>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT instance, device, manufacturer, model, rssi, registration, operator, \
                 healthy, last_error, pid, checked_at, \
                 CAST((julianday('now') - julianday(checked_at)) * 86400 AS INTEGER), \
                 last_send_ok FROM modem ORDER BY instance",
            )
            .map_err(map_err)?;
        let rows = stmt
            .query_map([], |r| {
                let rssi: Option<i64> = r.get(4)?;
                Ok(ModemHealth {
                    instance: r.get(0)?,
                    device: r.get(1)?,
                    manufacturer: r.get(2)?,
                    model: r.get(3)?,
                    rssi: rssi.and_then(|v| u8::try_from(v).ok()),
                    registration: r.get(5)?,
                    operator: r.get(6)?,
                    healthy: r.get(7)?,
                    last_error: r.get(8)?,
                    pid: to_u32(r.get(9)?, "pid")?,
                    checked_at: r.get(10)?,
                    checked_age_secs: r.get(11)?,
                    last_send_ok: r.get(12)?,
                })
            })
            .map_err(map_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)
    }

    fn activity_since(&self, period: Duration) -> Result<Activity> {
        let conn = self.conn();
        let since = format!("-{}", &lease_modifier(period)[1..]);
        let (sent, failed, received): (i64, i64, i64) = conn
            .query_row(
                concat!(
                    "SELECT (SELECT COUNT(*) FROM sms WHERE sent_at >= ",
                    now!("?1"),
                    "), (SELECT COUNT(*) FROM sms WHERE status = 'failed' AND queued_at >= ",
                    now!("?1"),
                    "), (SELECT COUNT(*) FROM rcv WHERE received_at >= ",
                    now!("?1"),
                    ")"
                ),
                [since],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(map_err)?;
        Ok(Activity {
            sent: sent as u64,
            failed: failed as u64,
            received: received as u64,
        })
    }

    fn last_sent(&self) -> Result<Option<(SmsRow, i64)>> {
        let newest: Option<(i64, i64)> = self
            .conn()
            .query_row(
                "SELECT id, CAST((julianday('now') - julianday(sent_at)) * 86400 AS INTEGER) \
                 FROM sms WHERE sent_at IS NOT NULL ORDER BY sent_at DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(map_err)?;
        match newest {
            Some((id, age)) => Ok(self.sms(id)?.map(|row| (row, age))),
            None => Ok(None),
        }
    }

    fn list_sms(&self, filter: &ListFilter) -> Result<Vec<SmsRow>> {
        let (sql, params) = self.list_sms_query(filter)?;
        self.query_list(&sql, params, sms_from_row)
    }

    fn list_queued(&self, filter: &ListFilter) -> Result<Vec<QueueRow>> {
        let (sql, params) = list_query(
            &format!(
                "SELECT id, phone, text, source, created, attempts, next_attempt, last_error, \
                 (claimed_by IS NOT NULL AND claim_until >= {}), parts_done FROM msg",
                now!()
            ),
            "phone",
            "created",
            filter,
        );
        self.query_list(&sql, params, |r| {
            Ok(QueueRow {
                id: r.get(0)?,
                phone: r.get(1)?,
                text: r.get(2)?,
                source: r.get(3)?,
                created: r.get(4)?,
                attempts: to_u32(r.get(5)?, "attempts")?,
                next_attempt: r.get(6)?,
                last_error: r.get(7)?,
                sending: r.get(8)?,
                parts_done: to_u32(r.get(9)?, "parts_done")?,
            })
        })
    }

    fn list_received(&self, filter: &ListFilter) -> Result<Vec<RcvRow>> {
        let (sql, params) = list_query(
            &format!("SELECT {RCV_COLUMNS} FROM rcv"),
            "sender",
            "received_at",
            filter,
        );
        self.query_list(&sql, params, rcv_from_row)
    }

    fn totals(&self) -> Result<Totals> {
        // Each count walks one index (sms_status or rcv's primary key);
        // MAX(sent_at) is one step of sms_sent_at.
        let conn = self.conn();
        conn.query_row(
            "SELECT (SELECT COUNT(*) FROM sms WHERE status = 'sent'), \
                    (SELECT COUNT(*) FROM sms WHERE status = 'failed'), \
                    (SELECT COUNT(*) FROM rcv), \
                    m, CAST((julianday('now') - julianday(m)) * 86400 AS INTEGER) \
             FROM (SELECT MAX(sent_at) AS m FROM sms)",
            [],
            |r| {
                Ok(Totals {
                    sent: r.get::<_, i64>(0)? as u64,
                    failed: r.get::<_, i64>(1)? as u64,
                    received: r.get::<_, i64>(2)? as u64,
                    last_sent: r.get(3)?,
                    last_sent_age_secs: r.get(4)?,
                })
            },
        )
        .map_err(map_err)
    }

    fn explain_list_sms(&self, filter: &ListFilter) -> Result<String> {
        let (sql, params) = self.list_sms_query(filter)?;
        self.explain(&sql, params)
    }
}

impl SqliteStore {
    /// `SELECT ... FROM sms WHERE <filter> ORDER BY id DESC LIMIT n`, with
    /// the access path chosen here, since SQLite's planner knows nothing of
    /// how many rows a number prefix matches (tests/web.rs
    /// `large_history_sqlite` prints the plans and times, 100,000 rows):
    ///
    /// * no number: the primary key backwards (`SCAN sms`), or with a status
    ///   `sms_status (status, id)` backwards; both stop after `n` rows.
    /// * a number prefix matching fewer than [`PREFIX_SORT_LIMIT`] rows
    ///   (counted on `sms_phone` alone, at most that many entries read): a
    ///   range of `sms_phone`, then those few rows sorted.
    /// * a prefix matching more (the administrators' own numbers): the
    ///   primary key backwards, filtered, so that it stops after `n`
    ///   matches instead of sorting them all (47 ms → 0.3 ms for 30,000).
    fn list_sms_query(&self, filter: &ListFilter) -> Result<(String, Vec<rusqlite::types::Value>)> {
        let source = match &filter.number_prefix {
            None => "sms",
            Some(prefix) => {
                let (lo, hi) = prefix_range(prefix);
                let matches: i64 = self
                    .conn()
                    .query_row(
                        "SELECT COUNT(*) FROM (SELECT 1 FROM sms INDEXED BY sms_phone \
                         WHERE phone >= ?1 AND phone < ?2 LIMIT ?3)",
                        params![lo, hi, PREFIX_SORT_LIMIT],
                        |r| r.get(0),
                    )
                    .map_err(map_err)?;
                if matches < PREFIX_SORT_LIMIT {
                    "sms INDEXED BY sms_phone"
                } else {
                    "sms NOT INDEXED"
                }
            }
        };
        Ok(list_sms_query(source, filter))
    }

    fn explain(&self, sql: &str, params: Vec<rusqlite::types::Value>) -> Result<String> {
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

    fn query_list<T>(
        &self,
        sql: &str,
        params: Vec<rusqlite::types::Value>,
        f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(sql).map_err(map_err)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), f)
            .map_err(map_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)
    }
}

/// Up to how many rows a number search sorts (see `list_sms_query`).
const PREFIX_SORT_LIMIT: i64 = 2000;

fn list_sms_query(source: &str, filter: &ListFilter) -> (String, Vec<rusqlite::types::Value>) {
    let mut sql = format!("SELECT {SMS_COLUMNS} FROM {source}");
    let mut params = Vec::new();
    let mut conds: Vec<String> = Vec::new();
    if let Some(status) = &filter.status {
        conds.push("status = ?".into());
        params.push(status.clone().into());
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
) -> (String, Vec<rusqlite::types::Value>) {
    let mut sql = select.to_owned();
    let mut params = Vec::new();
    let mut conds = Vec::new();
    push_common(&mut conds, &mut params, number_col, time_col, filter);
    finish_list(&mut sql, &conds, &mut params, filter.limit);
    (sql, params)
}

fn push_common(
    conds: &mut Vec<String>,
    params: &mut Vec<rusqlite::types::Value>,
    number_col: &str,
    time_col: &str,
    filter: &ListFilter,
) {
    if let Some(prefix) = &filter.number_prefix {
        // A range, not LIKE: SQLite's LIKE is case-insensitive and so cannot
        // use an index with the default (binary) collation.
        let (lo, hi) = prefix_range(prefix);
        conds.push(format!("{number_col} >= ? AND {number_col} < ?"));
        params.push(lo.into());
        params.push(hi.into());
    }
    if let Some(before) = filter.before_id {
        conds.push("id < ?".into());
        params.push(before.into());
    }
    if let Some(since) = &filter.since {
        conds.push(format!("{time_col} >= ?"));
        params.push(since.clone().into());
    }
}

fn finish_list(
    sql: &mut String,
    conds: &[String],
    params: &mut Vec<rusqlite::types::Value>,
    limit: usize,
) {
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
    sql.push_str(" ORDER BY id DESC LIMIT ?");
    params.push(i64::try_from(limit).unwrap_or(i64::MAX).into());
}

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
