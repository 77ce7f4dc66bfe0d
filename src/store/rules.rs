//! Every store rule, written once over [`Backend`] (see `sql.rs`): the
//! queue (enqueue, claim, progress, retry, finish), the record, received
//! messages and their parts, delivery reports, modem health and the lists.
//! `sqlite.rs` and `mysql.rs` hold only what truly differs: opening,
//! migrations, the driver calls, the dialect and the plans.

use std::time::Duration;

use super::sql::{Backend, Dialect, Exec, Row, TxKind, Value, params};
use super::{
    Activity, Alert, AlertMark, CallOutcome, CallRecord, CallRow, Checkin, CheckinDef, Coding,
    DeliveryReport, Escalation, EscalationState, EscalationStep, Group, Guard, ListFilter,
    ModemHealth, NewMessage, Outcome, PartSaved, Priority, QueueRow, QueueStats, QueuedMessage,
    RcvRow, Received, ReceivedPart, ReportStatus, Result, SPOOL_MOVER, Saved, SendAt, SimMemory,
    SmsRow, SmsStatus, SpooledColumns, SpooledMessage, SpooledOutcome, SpooledReceived,
    SpooledReport, StepStatus, Store, StoreDiagnostics, StoreError, TokenHash, TokenRow, Totals,
    Window, clip, combined_report, joined_row, refs_contain, report_status, same_number,
};
use crate::gsm::{Language, Ports, Tables, replace_type};

/// `sms.status` as it appears in the SQL text of the rules below (a
/// literal, as the planner saw it before these were enums).
const SENT: &str = SmsStatus::Sent.as_str();
const FAILED: &str = SmsStatus::Failed.as_str();
const SUPPRESSED: &str = SmsStatus::Suppressed.as_str();
const EXPIRED: &str = SmsStatus::Expired.as_str();

const PART_COLUMNS: &str = "sender, reference, total, seq, coding, body, text, smsc_time, smsc, \
     dedupe_key, ref_bits, locking_shift, single_shift, pid, dst_port, src_port";

/// A store over one backend.
pub struct SqlStore<B: Backend>(pub B);

impl<B: Backend> SqlStore<B> {
    fn sms_columns(&self) -> String {
        let d = self.0.dialect();
        format!(
            "id, phone, text, source, {}, {}, status, parts, part_refs, error, attempts, \
             sent_by, report_status, via_group, priority, repeats, coalesced_into, acked_at, \
             acked_by",
            d.time("queued_at"),
            d.time("sent_at")
        )
    }

    fn rcv_columns(&self) -> String {
        let d = self.0.dialect();
        format!(
            "id, sender, text, coding, smsc_time, {}, parts, complete, pid, dst_port, src_port, \
             replaced_by",
            d.time("received_at")
        )
    }

    /// `SELECT ... WHERE <filter> ORDER BY id DESC LIMIT n`: newest first,
    /// keyset paging on the id, a number search as a prefix range.
    fn list_query(
        &self,
        select: &str,
        status: Option<SmsStatus>,
        number_col: &str,
        time_col: &str,
        filter: &ListFilter,
    ) -> (String, Vec<super::sql::Value>) {
        let mut conds: Vec<String> = Vec::new();
        let mut values = Vec::new();
        if let Some(status) = status {
            conds.push("status = ?".into());
            values.push(status.into());
        }
        if let Some(prefix) = &filter.number_prefix {
            // `+` and digits (checked by the caller): nothing to escape.
            let (cond, bound) = (self.0.dialect().number_prefix)(number_col, prefix);
            conds.push(cond);
            values.extend(bound);
        }
        if let Some(before) = filter.before_id {
            conds.push("id < ?".into());
            values.push(before.into());
        }
        if let Some(since) = &filter.since {
            conds.push(format!("{time_col} >= ?"));
            values.push(since.into());
        }
        let mut sql = select.to_owned();
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?");
        values.push(i64::try_from(filter.limit).unwrap_or(i64::MAX).into());
        (sql, values)
    }

    fn list_sms_query(&self, filter: &ListFilter) -> Result<(String, Vec<super::sql::Value>)> {
        let source = self.0.sms_list_source(filter)?;
        let select = format!("SELECT {} FROM {source}", self.sms_columns());
        Ok(self.list_query(&select, filter.status, "phone", "queued_at", filter))
    }

    /// Inserts a `rcv` row unless its key exists; `None` for a duplicate.
    /// A replace type (TS 23.040 §9.2.3.9) marks the earlier rows of the
    /// same TP-PID from the same sender as replaced by the new one.
    fn insert_rcv(&self, e: &mut dyn Exec, m: &Received) -> Result<Option<i64>> {
        let id = e.insert(
            &format!(
                "{} INTO rcv (sender, text, smsc_time, parts, coding, complete, smsc, dedupe_key, \
                 pid, dst_port, src_port) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self.0.dialect().insert_ignore
            ),
            params![
                &m.sender,
                &m.text,
                &m.smsc_time,
                m.parts,
                m.coding,
                m.complete,
                m.smsc.clone(),
                &m.dedupe_key,
                m.pid,
                m.ports.map(|p| p.destination),
                m.ports.map(|p| p.source)
            ],
        )?;
        if let Some(id) = id
            && replace_type(m.pid).is_some()
        {
            e.exec(
                "UPDATE rcv SET replaced_by = ? WHERE sender = ? AND pid = ? \
                 AND replaced_by IS NULL AND id < ?",
                params![id, &m.sender, m.pid, id],
            )?;
        }
        Ok(id)
    }

    /// The parts of one set still waiting to be joined (locked, where the
    /// backend locks rows).
    fn waiting_parts(
        &self,
        e: &mut dyn Exec,
        sender: &str,
        reference: u16,
        ref_bits: u8,
        total: u8,
    ) -> Result<Vec<ReceivedPart>> {
        e.query(
            &format!(
                "SELECT {PART_COLUMNS} FROM rcv_part WHERE sender = ? AND reference = ? \
                 AND ref_bits = ? AND total = ? AND rcv_id IS NULL ORDER BY seq, id{}",
                self.0.dialect().for_update
            ),
            params![sender, reference, ref_bits, total],
        )?
        .iter()
        .map(part_from_row)
        .collect()
    }

    /// Joins a set into `rcv` and marks its parts as joined.
    fn join_set(
        &self,
        e: &mut dyn Exec,
        parts: &[ReceivedPart],
        complete: bool,
    ) -> Result<Option<i64>> {
        let Some(row) = joined_row(parts, complete) else {
            return Ok(None);
        };
        let id = self.insert_rcv(e, &row)?;
        // A duplicate join (same content seen before) still retires the parts.
        let mark = id.unwrap_or(0);
        for p in parts {
            e.exec(
                "UPDATE rcv_part SET rcv_id = ? WHERE dedupe_key = ?",
                params![mark, &p.dedupe_key],
            )?;
        }
        Ok(id)
    }
}

/// `sms.error` of an expired message.
const EXPIRED_WHY: &str = "not sent within its ttl";

fn not_claimed(id: i64, owner: &str) -> StoreError {
    StoreError::other(format!("message {id} is not claimed by {owner}"))
}

fn queued_from_row(r: &Row) -> Result<QueuedMessage> {
    Ok(QueuedMessage {
        id: r.get(0)?,
        phone: r.get(1)?,
        text: r.get(2)?,
        source: r.get(3)?,
        attempts: r.get(4)?,
        // The column has a CHECK (0..255); anything else is treated as unset.
        concat_ref: r.get::<Option<i64>>(5)?.and_then(|v| u8::try_from(v).ok()),
        parts_done: r.get(6)?,
        part_refs: r.get(7)?,
        created: r.get(8)?,
        priority: Priority::from_rank(r.get(9)?),
        repeats: r.get(10)?,
        shown_repeats: r.get(11)?,
        expires_in: r.get(12)?,
        flash: r.get(13)?,
        window: match (r.get::<Option<u16>>(14)?, r.get::<Option<u16>>(15)?) {
            (None, None) => None,
            (after, before) => Some(Window { after, before }),
        },
        local_minute: r.get::<Option<u16>>(16)?.unwrap_or(0),
    })
}

fn sms_from_row(r: &Row) -> Result<SmsRow> {
    Ok(SmsRow {
        id: r.get(0)?,
        phone: r.get(1)?,
        text: r.get(2)?,
        source: r.get(3)?,
        queued_at: r.get(4)?,
        sent_at: r.get(5)?,
        status: r.parse(6, "sms.status", SmsStatus::parse)?,
        parts: r.get(7)?,
        part_refs: r.get(8)?,
        error: r.get(9)?,
        attempts: r.get(10)?,
        sent_by: r.get(11)?,
        report_status: r.parse_opt(12, "sms.report_status", ReportStatus::parse)?,
        group: r.get(13)?,
        priority: Priority::from_rank(r.get(14)?),
        repeats: r.get(15)?,
        coalesced_into: r.get(16)?,
        acked: match (r.get::<Option<i64>>(17)?, r.get::<Option<String>>(18)?) {
            (Some(at), Some(by)) => Some((at, by)),
            _ => None,
        },
    })
}

/// The ports of a row from its `dst_port`, `src_port` columns at `i`.
fn ports_at(r: &Row, i: usize) -> Result<Option<Ports>> {
    Ok(
        match (r.get::<Option<u16>>(i)?, r.get::<Option<u16>>(i + 1)?) {
            (Some(destination), Some(source)) => Some(Ports {
                destination,
                source,
            }),
            _ => None,
        },
    )
}

/// A set's reference size as `rcv_part.ref_bits` holds it.
fn ref_bits(ref16: bool) -> u8 {
    if ref16 { 16 } else { 8 }
}

fn rcv_from_row(r: &Row) -> Result<RcvRow> {
    Ok(RcvRow {
        id: r.get(0)?,
        sender: r.get(1)?,
        text: r.get(2)?,
        coding: r.parse(3, "rcv.coding", Coding::parse)?,
        smsc_time: r.get(4)?,
        received_at: r.get(5)?,
        parts: r.get(6)?,
        complete: r.get(7)?,
        pid: r.get(8)?,
        ports: ports_at(r, 9)?,
        replaced_by: r.get(11)?,
    })
}

fn part_from_row(r: &Row) -> Result<ReceivedPart> {
    Ok(ReceivedPart {
        sender: r.get(0)?,
        reference: r.get(1)?,
        total: r.get(2)?,
        seq: r.get(3)?,
        coding: r.parse(4, "rcv_part.coding", Coding::parse)?,
        body_hex: r.get(5)?,
        text: r.get(6)?,
        smsc_time: r.get(7)?,
        smsc: r.get(8)?,
        dedupe_key: r.get(9)?,
        ref16: r.get::<u8>(10)? == 16,
        tables: Tables {
            locking: Language::from_id(r.get(11)?),
            single: Language::from_id(r.get(12)?),
        },
        pid: r.get(13)?,
        ports: ports_at(r, 14)?,
    })
}

/// Records a spooled message's key in this store's `spooled` (its id set
/// by the move); false when the key is there already: moved before, or
/// committed here by a keyed enqueue.
fn record_spool_key(e: &mut dyn Exec, d: &Dialect, key: &str) -> Result<bool> {
    let sql = format!(
        "{} INTO spooled (spool_key, id) VALUES (?, NULL)",
        d.insert_ignore
    );
    Ok(e.exec(&sql, params![key])? > 0)
}

/// A spooled message's outcome as the `sms` row `id` (and its reports).
fn insert_spooled_outcome(e: &mut dyn Exec, id: i64, m: &SpooledOutcome) -> Result<()> {
    // A digest's carrier moved before keeps the link.
    let carrier: Option<i64> = match &m.carrier_key {
        Some(key) => e
            .query_one(
                "SELECT id FROM spooled WHERE spool_key = ?",
                params![key.as_str()],
            )?
            .map(|r| r.get::<Option<i64>>(0))
            .transpose()?
            .flatten(),
        None => None,
    };
    e.exec(
        "INSERT INTO sms (id, phone, text, source, via_group, priority, text_key, repeats, \
         queued_at, sent_at, status, parts, part_refs, error, attempts, sent_by, \
         report_status, report_time, coalesced_into) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            id,
            &m.phone,
            &m.text,
            &m.source,
            m.via_group.as_deref(),
            m.priority,
            m.text_key.as_deref(),
            m.repeats,
            m.queued_at.as_str(),
            m.sent_at.as_deref(),
            m.status.as_str(),
            m.parts,
            m.part_refs.as_str(),
            m.error.as_deref(),
            m.attempts,
            m.sent_by.as_str(),
            m.report_status.as_deref(),
            m.report_time.as_deref(),
            carrier
        ],
    )?;
    for r in &m.reports {
        e.exec(
            "INSERT INTO sms_report (sms_id, mr, st, status, discharged, received_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
            params![
                id,
                r.mr,
                r.st,
                r.status.as_str(),
                r.discharged.as_str(),
                r.received_at.as_str()
            ],
        )?;
    }
    Ok(())
}

fn insert_msg(
    e: &mut dyn Exec,
    d: &Dialect,
    m: &NewMessage,
    key: Option<&str>,
    on_dup: &str,
) -> Result<i64> {
    let o = &m.options;
    // A NULL shift makes a NULL time (no ttl, no send_at) on both backends.
    let shift = |d2: Option<std::time::Duration>| d2.map_or(Value::Null, d.later);
    let (at, send_in) = match &o.send_at {
        Some(SendAt::At(t)) => (Value::from(t.as_str()), Value::Null),
        Some(SendAt::In(delay)) => (Value::Null, (d.later)(*delay)),
        None => (Value::Null, Value::Null),
    };
    let window = o.window.unwrap_or(Window {
        after: None,
        before: None,
    });
    e.insert(
        &format!(
            "INSERT INTO msg (phone, text, source, via_group, priority, text_key, expires_at, \
             next_attempt, flash, send_after, send_before) VALUES (?, ?, ?, ?, ?, ?, {now}, \
             COALESCE(?, {now}), ?, ?, ?){on_dup}",
            now = d.now_shifted
        ),
        &[
            (&m.phone).into(),
            (&m.text).into(),
            (&m.source).into(),
            m.group.as_deref().into(),
            o.priority.rank().into(),
            key.into(),
            shift(o.ttl),
            at,
            send_in,
            o.flash.into(),
            window.after.into(),
            window.before.into(),
        ],
    )?
    .ok_or_else(|| StoreError::other("INSERT INTO msg gave no id"))
}

/// Writes the chain that the message `sms_id` (to `phone`) starts, in
/// the transaction that queues it.
fn start_escalation(
    e: &mut dyn Exec,
    d: &Dialect,
    sms_id: i64,
    phone: &str,
    chain: &super::EscalationStart,
) -> Result<()> {
    let id = e
        .insert(
            &format!(
                "INSERT INTO escalation (group_name, step_secs, members, text, step, state, \
                 started) VALUES (?, ?, ?, ?, 1, 'active', {})",
                d.now
            ),
            params![
                chain.group.as_str(),
                secs(chain.step_time),
                chain.members.join(","),
                chain.text.as_str()
            ],
        )?
        .ok_or_else(|| StoreError::other("INSERT INTO escalation gave no id"))?;
    e.exec(
        "INSERT INTO escalation_step (escalation_id, step, phone, sms_id) VALUES (?, 1, ?, ?)",
        params![id, clip(phone, 32), sms_id],
    )?;
    Ok(())
}

/// A stored step time (`escalate_secs`, `step_secs`).
fn step_time(secs: Option<i64>) -> Option<Duration> {
    secs.map(|s| Duration::from_secs(s.max(0) as u64))
}

/// Records that alerts were notified (`alert_notified`), in a transaction
/// that queues their messages; `sql` from `SqlStore::mark_sql`.
fn insert_marks(e: &mut dyn Exec, sql: &str, marks: &[AlertMark]) -> Result<()> {
    for m in marks {
        e.exec(
            sql,
            params![
                clip(&m.recipient, 191),
                clip(&m.fingerprint, 64),
                clip(&m.status, 16)
            ],
        )?;
    }
    Ok(())
}

impl<B: Backend> SqlStore<B> {
    fn mark_sql(&self) -> String {
        let d = self.0.dialect();
        format!(
            "INSERT INTO alert_notified (recipient, fingerprint, status, notified_at) \
             VALUES (?, ?, ?, {now}) {upsert} status = {status}, notified_at = {at}",
            now = d.now,
            upsert = d.upsert("recipient, fingerprint"),
            status = d.excluded("status"),
            at = d.excluded("notified_at"),
        )
    }

    /// One request in the enqueue transaction. With a coalesce window:
    /// merged into the queued row with its key (the more urgent priority
    /// of the two stays), or recorded as `suppressed` when a message with
    /// its key was sent within the window, or inserted. Race-free: the
    /// merge is an UPDATE of the key's row (it waits for a finish moving
    /// that row to `sms`, then finds nothing and looks in `sms`), and a
    /// concurrent insert of the same key is held off by the unique index
    /// (SQLite: one writer at a time; MySQL: ON DUPLICATE KEY UPDATE turns
    /// the second insert into the merge).
    fn enqueue_one(&self, e: &mut dyn Exec, m: &NewMessage) -> Result<i64> {
        let d = self.0.dialect();
        if let Some(chain) = &m.escalation {
            let id = insert_msg(e, d, m, None, "")?;
            start_escalation(e, d, id, &m.phone, chain)?;
            return Ok(id);
        }
        if m.coalesce_window.is_zero() {
            return insert_msg(e, d, m, None, "");
        }
        let key = super::text_key(&m.phone, &m.text);
        let rank = m.options.priority.rank();
        let merged = e.exec(
            "UPDATE msg SET repeats = repeats + 1, \
             priority = CASE WHEN priority > ? THEN ? ELSE priority END WHERE text_key = ?",
            params![rank, rank, &key],
        )?;
        if merged > 0
            && let Some(r) = e.query_one("SELECT id FROM msg WHERE text_key = ?", params![&key])?
        {
            return r.get(0);
        }
        let sent = e.query_one(
            &format!(
                "SELECT id FROM sms WHERE text_key = ? AND status = '{SENT}' AND sent_at >= {} \
                 ORDER BY sent_at DESC LIMIT 1",
                d.now_shifted
            ),
            params![&key, (d.earlier)(m.coalesce_window)],
        )?;
        if let Some(r) = sent {
            let twin: i64 = r.get(0)?;
            // An id from msg's sequence (sms ids are msg ids), then the row
            // moves to sms at once, as a finished message does.
            let id = insert_msg(e, d, m, None, "")?;
            e.exec(
                &format!(
                    "INSERT INTO sms (id, phone, text, source, via_group, priority, queued_at, \
                     sent_at, status, parts, part_refs, error, attempts, sent_by, text_key, \
                     repeats, coalesced_into) SELECT id, phone, text, source, via_group, \
                     priority, created, NULL, \
                     '{SUPPRESSED}', 0, '', NULL, 0, '', ?, 0, ? FROM msg WHERE id = ?"
                ),
                params![&key, twin, id],
            )?;
            e.exec("DELETE FROM msg WHERE id = ?", params![id])?;
            return Ok(id);
        }
        insert_msg(e, d, m, Some(&key), d.merge_on_duplicate)
    }
}

impl<B: Backend> Store for SqlStore<B> {
    fn backend(&self) -> &'static str {
        self.0.name()
    }

    fn enqueue(&self, msgs: &[NewMessage]) -> Result<Vec<i64>> {
        self.enqueue_marked(msgs, &[])
    }

    fn enqueue_marked(&self, msgs: &[NewMessage], marks: &[AlertMark]) -> Result<Vec<i64>> {
        if !marks.is_empty() {
            let mark = self.mark_sql();
            // Claim (READ COMMITTED) as below: the messages may coalesce.
            return self.0.transaction(TxKind::Claim, |e| {
                let ids = msgs
                    .iter()
                    .map(|m| self.enqueue_one(e, m))
                    .collect::<Result<Vec<_>>>()?;
                insert_marks(e, &mark, marks)?;
                Ok(ids)
            });
        }
        match msgs {
            [] => Ok(Vec::new()),
            // One request (the usual line) that is not coalesced: an INSERT
            // on its own commits before the database answers it, exactly as
            // the transaction below, in one round trip instead of three.
            [m] if m.coalesce_window.is_zero() && m.escalation.is_none() => {
                let d = self.0.dialect();
                self.0.run(|e| Ok(vec![insert_msg(e, d, m, None, "")?]))
            }
            // Claim: READ COMMITTED on MySQL, so that looking up a key that
            // is not there takes no gap lock (two such requests would
            // deadlock at their inserts); each statement sees what others
            // committed before it.
            _ => self.0.transaction(TxKind::Claim, |e| {
                msgs.iter().map(|m| self.enqueue_one(e, m)).collect()
            }),
        }
    }

    fn enqueue_keyed(
        &self,
        msgs: &[NewMessage],
        keys: &[String],
        marks: &[AlertMark],
    ) -> Result<Vec<i64>> {
        if msgs.len() != keys.len() {
            return Err(StoreError::other("enqueue_keyed: one key per message"));
        }
        let mark = self.mark_sql();
        // Claim (READ COMMITTED) as enqueue's: the messages may coalesce.
        self.0.transaction(TxKind::Claim, |e| {
            let mut ids = Vec::with_capacity(msgs.len());
            for (m, key) in msgs.iter().zip(keys) {
                let id = self.enqueue_one(e, m)?;
                e.exec(
                    "INSERT INTO spooled (spool_key, id) VALUES (?, ?)",
                    params![key.as_str(), id],
                )?;
                ids.push(id);
            }
            insert_marks(e, &mark, marks)?;
            Ok(ids)
        })
    }

    fn list_spooled(&self, limit: usize) -> Result<Vec<SpooledMessage>> {
        let d = self.0.dialect();
        let sql = format!(
            "SELECT s.spool_key, m.id, m.phone, m.text, m.source, m.via_group, {}, m.attempts, \
             m.priority, {}, {}, m.flash, m.send_after, m.send_before \
             FROM msg m JOIN spooled s ON s.id = m.id \
             WHERE m.claimed_by IS NULL OR m.claim_until < {} OR m.claimed_by = ? \
             ORDER BY m.id LIMIT ?",
            d.time("m.created"),
            d.time("m.expires_at"),
            d.time("m.next_attempt"),
            d.now
        );
        self.0.run(|e| {
            e.query(&sql, params![SPOOL_MOVER, limit as i64])?
                .iter()
                .map(|r| {
                    Ok(SpooledMessage {
                        key: r.get(0)?,
                        local_id: r.get(1)?,
                        msg: NewMessage {
                            phone: r.get(2)?,
                            text: r.get(3)?,
                            source: r.get(4)?,
                            group: r.get(5)?,
                            ..Default::default()
                        },
                        created: r.get(6)?,
                        attempts: r.get(7)?,
                        kept: SpooledColumns {
                            priority: r.get(8)?,
                            expires_at: r.get(9)?,
                            next_attempt: r.get(10)?,
                            flash: r.get::<i64>(11)? != 0,
                            send_after: r.get(12)?,
                            send_before: r.get(13)?,
                        },
                    })
                })
                .collect()
        })
    }

    fn count_spooled(&self) -> Result<u64> {
        self.0.transaction(TxKind::Snapshot, |e| {
            let mut n = 0;
            for sql in [
                "SELECT COUNT(*) FROM msg m JOIN spooled s ON s.id = m.id",
                "SELECT COUNT(*) FROM sms m JOIN spooled s ON s.id = m.id",
                "SELECT COUNT(*) FROM rcv",
                "SELECT COUNT(*) FROM rcv_part WHERE rcv_id IS NULL",
            ] {
                let count: i64 = e.query_one(sql, &[])?.map_or(Ok(0), |r| r.get(0))?;
                n += count.max(0) as u64;
            }
            Ok(n)
        })
    }

    fn import_spooled(&self, m: &SpooledMessage) -> Result<Option<i64>> {
        let d = self.0.dialect();
        self.0.transaction(TxKind::Write, |e| {
            // The key first: a second move of the same row inserts nothing
            // here and stops (the row lock on the key also keeps two
            // movers of one spool apart).
            if !record_spool_key(e, d, &m.key)? {
                return Ok(None);
            }
            let k = &m.kept;
            let id = e
                .insert(
                    &format!(
                        "INSERT INTO msg (phone, text, source, via_group, created, attempts, \
                         priority, expires_at, next_attempt, flash, send_after, send_before) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, COALESCE(?, {}), ?, ?, ?)",
                        d.now
                    ),
                    params![
                        &m.msg.phone,
                        &m.msg.text,
                        &m.msg.source,
                        m.msg.group.as_deref(),
                        m.created.as_str(),
                        i64::from(m.attempts),
                        k.priority,
                        k.expires_at.as_deref(),
                        k.next_attempt.as_deref(),
                        i64::from(k.flash),
                        k.send_after,
                        k.send_before
                    ],
                )?
                .ok_or_else(|| StoreError::other("INSERT INTO msg gave no id"))?;
            e.exec(
                "UPDATE spooled SET id = ? WHERE spool_key = ?",
                params![id, m.key.as_str()],
            )?;
            Ok(Some(id))
        })
    }

    fn delete_spooled(&self, local_ids: &[i64]) -> Result<()> {
        self.0.transaction(TxKind::Write, |e| {
            for &id in local_ids {
                e.exec("DELETE FROM msg WHERE id = ?", params![id])?;
                e.exec("DELETE FROM spooled WHERE id = ?", params![id])?;
            }
            Ok(())
        })
    }

    fn claim_spooled_move(&self, local_id: i64) -> Result<bool> {
        let d = self.0.dialect();
        self.0.transaction(TxKind::Claim, |e| {
            // A read of its own: MySQL counts only rows actually changed,
            // and the mover's claim again changes nothing.
            let free = e.query_one(
                &format!(
                    "SELECT id FROM msg WHERE id = ? \
                     AND (claimed_by IS NULL OR claim_until < {} OR claimed_by = ?){}",
                    d.now, d.for_update
                ),
                params![local_id, SPOOL_MOVER],
            )?;
            if free.is_none() {
                return Ok(false);
            }
            e.exec(
                "UPDATE msg SET claimed_by = ?, claim_until = '9999-12-31 23:59:59' WHERE id = ?",
                params![SPOOL_MOVER, local_id],
            )?;
            Ok(true)
        })
    }

    fn release_spooled_move(&self, local_ids: &[i64]) -> Result<()> {
        if local_ids.is_empty() {
            return Ok(());
        }
        self.release(SPOOL_MOVER, local_ids).map(|_| ())
    }

    fn list_spooled_done(&self, limit: usize) -> Result<Vec<SpooledOutcome>> {
        let d = self.0.dialect();
        let sql = format!(
            "SELECT s.spool_key, m.id, m.phone, m.text, m.source, m.via_group, m.priority, \
             m.text_key, m.repeats, {}, {}, m.status, m.parts, m.part_refs, m.error, m.attempts, \
             m.sent_by, m.report_status, {}, c.spool_key \
             FROM sms m JOIN spooled s ON s.id = m.id \
             LEFT JOIN spooled c ON c.id = m.coalesced_into ORDER BY m.id LIMIT ?",
            d.time("m.queued_at"),
            d.time("m.sent_at"),
            d.time("m.report_time"),
        );
        let reports = format!(
            "SELECT mr, st, status, discharged, {} FROM sms_report WHERE sms_id = ? ORDER BY mr",
            d.time("received_at")
        );
        self.0.transaction(TxKind::Snapshot, |e| {
            let mut done = Vec::new();
            for r in e.query(&sql, params![limit as i64])? {
                let mut m = SpooledOutcome {
                    key: r.get(0)?,
                    local_id: r.get(1)?,
                    phone: r.get(2)?,
                    text: r.get(3)?,
                    source: r.get(4)?,
                    via_group: r.get(5)?,
                    priority: r.get(6)?,
                    text_key: r.get(7)?,
                    repeats: r.get(8)?,
                    queued_at: r.get(9)?,
                    sent_at: r.get(10)?,
                    status: r.get(11)?,
                    parts: r.get(12)?,
                    part_refs: r.get(13)?,
                    error: r.get(14)?,
                    attempts: r.get(15)?,
                    sent_by: r.get(16)?,
                    report_status: r.get(17)?,
                    report_time: r.get(18)?,
                    carrier_key: r.get(19)?,
                    reports: Vec::new(),
                };
                for p in e.query(&reports, params![m.local_id])? {
                    m.reports.push(SpooledReport {
                        mr: p.get(0)?,
                        st: p.get(1)?,
                        status: p.get(2)?,
                        discharged: p.get(3)?,
                        received_at: p.get(4)?,
                    });
                }
                done.push(m);
            }
            Ok(done)
        })
    }

    fn import_spooled_done(&self, m: &SpooledOutcome) -> Result<Option<i64>> {
        let d = self.0.dialect();
        self.0.transaction(TxKind::Write, |e| {
            // The key first, as for an unsent message.
            if !record_spool_key(e, d, &m.key)? {
                // Known: moved before, or committed here by a request whose
                // commit was not confirmed (the database went away at that
                // moment) and so spooled as well. Still queued here, that
                // copy takes the outcome: it is not sent a second time.
                let known = e
                    .query_one(
                        &format!(
                            "SELECT m.id FROM spooled s JOIN msg m ON m.id = s.id \
                             WHERE s.spool_key = ? AND (m.claimed_by IS NULL \
                             OR m.claim_until < {}){}",
                            d.now, d.for_update
                        ),
                        params![m.key.as_str()],
                    )?
                    .map(|r| r.get::<i64>(0))
                    .transpose()?;
                let Some(id) = known else {
                    return Ok(None);
                };
                e.exec("DELETE FROM msg WHERE id = ?", params![id])?;
                insert_spooled_outcome(e, id, m)?;
                return Ok(Some(id));
            }
            // `sms.id` is the id a row had in `msg`: one from the queue's
            // sequence, so that no later message gets it too. The row is
            // never visible (inserted and deleted in this transaction).
            let id = e
                .insert(
                    "INSERT INTO msg (phone, text, source, claimed_by) VALUES (?, ?, ?, ?)",
                    params![&m.phone, &m.text, &m.source, SPOOL_MOVER],
                )?
                .ok_or_else(|| StoreError::other("INSERT INTO msg gave no id"))?;
            e.exec("DELETE FROM msg WHERE id = ?", params![id])?;
            insert_spooled_outcome(e, id, m)?;
            e.exec(
                "UPDATE spooled SET id = ? WHERE spool_key = ?",
                params![id, m.key.as_str()],
            )?;
            Ok(Some(id))
        })
    }

    fn delete_spooled_done(&self, local_ids: &[i64]) -> Result<()> {
        self.0.transaction(TxKind::Write, |e| {
            for &id in local_ids {
                e.exec("DELETE FROM sms_report WHERE sms_id = ?", params![id])?;
                e.exec("DELETE FROM sms WHERE id = ?", params![id])?;
                e.exec("DELETE FROM spooled WHERE id = ?", params![id])?;
            }
            Ok(())
        })
    }

    fn list_spooled_received(&self, limit: usize) -> Result<Vec<SpooledReceived>> {
        let sql = format!(
            "SELECT id, sender, text, coding, smsc_time, {}, parts, complete, smsc, dedupe_key, \
             pid, dst_port, src_port FROM rcv ORDER BY id LIMIT ?",
            self.0.dialect().time("received_at")
        );
        self.0.run(|e| {
            e.query(&sql, params![limit as i64])?
                .iter()
                .map(|r| {
                    Ok(SpooledReceived {
                        local_id: r.get(0)?,
                        received_at: r.get(5)?,
                        msg: Received {
                            sender: r.get(1)?,
                            text: r.get(2)?,
                            coding: r.parse(3, "rcv.coding", Coding::parse)?,
                            smsc_time: r.get(4)?,
                            parts: r.get(6)?,
                            complete: r.get(7)?,
                            smsc: r.get(8)?,
                            dedupe_key: r.get::<Option<String>>(9)?.unwrap_or_default(),
                            pid: r.get(10)?,
                            ports: ports_at(r, 11)?,
                        },
                    })
                })
                .collect()
        })
    }

    fn import_received(&self, m: &SpooledReceived) -> Result<Option<i64>> {
        self.0.transaction(TxKind::Write, |e| {
            let id = self.insert_rcv(e, &m.msg)?;
            if let Some(id) = id {
                e.exec(
                    "UPDATE rcv SET received_at = ? WHERE id = ?",
                    params![m.received_at.as_str(), id],
                )?;
            }
            Ok(id)
        })
    }

    fn delete_spooled_received(&self, local_ids: &[i64]) -> Result<()> {
        self.0.transaction(TxKind::Write, |e| {
            for &id in local_ids {
                e.exec("DELETE FROM rcv_part WHERE rcv_id = ?", params![id])?;
                e.exec("DELETE FROM rcv WHERE id = ?", params![id])?;
            }
            Ok(())
        })
    }

    fn list_spooled_parts(&self, limit: usize) -> Result<Vec<(i64, ReceivedPart)>> {
        let sql = format!(
            "SELECT {PART_COLUMNS}, id FROM rcv_part WHERE rcv_id IS NULL ORDER BY id LIMIT ?"
        );
        self.0.run(|e| {
            e.query(&sql, params![limit as i64])?
                .iter()
                .map(|r| Ok((r.get(16)?, part_from_row(r)?)))
                .collect()
        })
    }

    fn delete_spooled_parts(&self, ids: &[i64]) -> Result<()> {
        self.0.transaction(TxKind::Write, |e| {
            for &id in ids {
                e.exec("DELETE FROM rcv_part WHERE id = ?", params![id])?;
            }
            Ok(())
        })
    }

    fn set_group_with(
        &self,
        name: &str,
        members: &[String],
        escalate: Option<Duration>,
    ) -> Result<bool> {
        let d = self.0.dialect();
        let escalate = escalate.map(secs);
        self.0.transaction(TxKind::Write, |e| {
            let existed = e
                .query_one(
                    &format!("SELECT name FROM sms_group WHERE name = ?{}", d.for_update),
                    params![name],
                )?
                .is_some();
            if existed {
                e.exec(
                    &format!(
                        "UPDATE sms_group SET updated = {}, escalate_secs = ? WHERE name = ?",
                        d.now
                    ),
                    params![escalate, name],
                )?;
                e.exec(
                    "DELETE FROM sms_group_member WHERE group_name = ?",
                    params![name],
                )?;
            } else {
                e.exec(
                    &format!(
                        "INSERT INTO sms_group (name, created, updated, escalate_secs) \
                         VALUES (?, {0}, {0}, ?)",
                        d.now
                    ),
                    params![name, escalate],
                )?;
            }
            for (i, phone) in members.iter().enumerate() {
                e.exec(
                    "INSERT INTO sms_group_member (group_name, position, phone) VALUES (?, ?, ?)",
                    params![name, i as i64, phone.as_str()],
                )?;
            }
            Ok(!existed)
        })
    }

    fn remove_group(&self, name: &str) -> Result<bool> {
        self.0.transaction(TxKind::Write, |e| {
            // SQLite enforces no foreign keys unless asked: the members
            // go explicitly.
            e.exec(
                "DELETE FROM sms_group_member WHERE group_name = ?",
                params![name],
            )?;
            Ok(e.exec("DELETE FROM sms_group WHERE name = ?", params![name])? > 0)
        })
    }

    fn list_groups(&self) -> Result<Vec<Group>> {
        let d = self.0.dialect();
        self.0.transaction(TxKind::Snapshot, |e| {
            let mut groups: Vec<Group> = e
                .query(
                    &format!(
                        "SELECT name, {}, escalate_secs FROM sms_group ORDER BY name",
                        d.time("updated")
                    ),
                    &[],
                )?
                .iter()
                .map(|r| {
                    Ok(Group {
                        name: r.get(0)?,
                        updated: r.get(1)?,
                        members: Vec::new(),
                        escalate: step_time(r.get(2)?),
                    })
                })
                .collect::<Result<_>>()?;
            for r in e.query(
                "SELECT group_name, phone FROM sms_group_member ORDER BY group_name, position",
                &[],
            )? {
                let name: String = r.get(0)?;
                if let Some(g) = groups.iter_mut().find(|g| g.name == name) {
                    g.members.push(r.get(1)?);
                }
            }
            Ok(groups)
        })
    }

    fn group(&self, name: &str) -> Result<Option<Group>> {
        let d = self.0.dialect();
        let sql = format!(
            "SELECT {}, escalate_secs FROM sms_group WHERE name = ?",
            d.time("updated")
        );
        self.0.transaction(TxKind::Snapshot, |e| {
            let Some(g) = e.query_one(&sql, params![name])? else {
                return Ok(None);
            };
            let members = e
                .query(
                    "SELECT phone FROM sms_group_member WHERE group_name = ? ORDER BY position",
                    params![name],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect::<Result<Vec<String>>>()?;
            Ok(Some(Group {
                name: name.to_owned(),
                members,
                updated: g.get(0)?,
                escalate: step_time(g.get(1)?),
            }))
        })
    }

    fn escalations(&self, active_only: bool, limit: usize) -> Result<Vec<Escalation>> {
        let d = self.0.dialect();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let chains = format!(
            "SELECT id, group_name, step_secs, members, text, step, state, {}, {}, acked_by \
             FROM escalation{} ORDER BY id DESC LIMIT ?",
            d.time("started"),
            d.time("ended"),
            if active_only {
                " WHERE state = 'active'"
            } else {
                ""
            }
        );
        let steps = format!(
            "SELECT st.step, st.phone, st.sms_id, s.status, {}, {} FROM escalation_step st \
             LEFT JOIN sms s ON s.id = st.sms_id WHERE st.escalation_id = ? ORDER BY st.step",
            d.time("s.sent_at"),
            d.age_secs("s.sent_at")
        );
        self.0.transaction(TxKind::Snapshot, |e| {
            let mut out = Vec::new();
            for r in e.query(&chains, params![limit])? {
                let members: String = r.get(3)?;
                let id: i64 = r.get(0)?;
                let steps = e
                    .query(&steps, params![id])?
                    .iter()
                    .map(|s| {
                        let status = match s.parse_opt(3, "sms.status", SmsStatus::parse)? {
                            None => StepStatus::Queued,
                            Some(SmsStatus::Sent) => StepStatus::Sent {
                                at: s.get(4)?,
                                age_secs: s.get(5)?,
                            },
                            Some(other) => StepStatus::NotSent(other),
                        };
                        Ok(EscalationStep {
                            step: s.get(0)?,
                            phone: s.get(1)?,
                            sms_id: s.get(2)?,
                            status,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                out.push(Escalation {
                    id,
                    group: r.get(1)?,
                    step_time: step_time(r.get(2)?).unwrap_or_default(),
                    members: members.split(',').map(str::to_owned).collect(),
                    text: r.get(4)?,
                    step: r.get(5)?,
                    state: r.parse(6, "escalation.state", EscalationState::parse)?,
                    started: r.get(7)?,
                    ended: r.get(8)?,
                    acked_by: r.get(9)?,
                    steps,
                });
            }
            Ok(out)
        })
    }

    fn add_token(&self, name: &str, hash: &str) -> Result<()> {
        let d = self.0.dialect();
        self.0.run(|e| {
            e.exec(
                &format!(
                    "INSERT INTO api_token (name, hash, created) VALUES (?, ?, {})",
                    d.now
                ),
                params![name, hash],
            )
            .map(|_| ())
        })
    }

    fn revoke_token(&self, name: &str) -> Result<bool> {
        self.0
            .run(|e| Ok(e.exec("DELETE FROM api_token WHERE name = ?", params![name])? > 0))
    }

    fn list_tokens(&self) -> Result<Vec<TokenRow>> {
        let d = self.0.dialect();
        let sql = format!(
            "SELECT name, {} FROM api_token ORDER BY name",
            d.time("created")
        );
        self.0.run(|e| {
            e.query(&sql, &[])?
                .iter()
                .map(|r| {
                    Ok(TokenRow {
                        name: r.get(0)?,
                        created: r.get(1)?,
                    })
                })
                .collect()
        })
    }

    fn token_name(&self, hash: &str) -> Result<Option<String>> {
        self.0.run(|e| {
            e.query_one("SELECT name FROM api_token WHERE hash = ?", params![hash])?
                .map(|r| r.get(0))
                .transpose()
        })
    }

    fn token_hashes(&self) -> Result<Vec<TokenHash>> {
        self.0.run(|e| {
            e.query("SELECT name, hash FROM api_token ORDER BY name", &[])?
                .iter()
                .map(|r| {
                    Ok(TokenHash {
                        name: r.get(0)?,
                        hash: r.get(1)?,
                    })
                })
                .collect()
        })
    }

    fn replace_copy(&self, groups: &[Group], tokens: &[TokenHash]) -> Result<()> {
        let d = self.0.dialect();
        let group_sql = format!(
            "INSERT INTO sms_group (name, created, updated, escalate_secs) VALUES (?, {}, ?, ?)",
            d.now
        );
        let token_sql = format!(
            "INSERT INTO api_token (name, hash, created) VALUES (?, ?, {})",
            d.now
        );
        self.0.transaction(TxKind::Write, |e| {
            e.exec("DELETE FROM sms_group_member", &[])?;
            e.exec("DELETE FROM sms_group", &[])?;
            e.exec("DELETE FROM api_token", &[])?;
            for g in groups {
                e.exec(
                    &group_sql,
                    params![g.name.as_str(), g.updated.as_str(), g.escalate.map(secs)],
                )?;
                for (i, phone) in g.members.iter().enumerate() {
                    e.exec(
                        "INSERT INTO sms_group_member (group_name, position, phone) \
                         VALUES (?, ?, ?)",
                        params![g.name.as_str(), i as i64, phone.as_str()],
                    )?;
                }
            }
            for t in tokens {
                e.exec(&token_sql, params![t.name.as_str(), t.hash.as_str()])?;
            }
            Ok(())
        })
    }

    fn copied_at(&self) -> Result<Option<String>> {
        let d = self.0.dialect();
        let sql = format!(
            "SELECT {} FROM (SELECT created FROM sms_group UNION ALL \
             SELECT created FROM api_token) c ORDER BY created DESC LIMIT 1",
            d.time("created")
        );
        self.0
            .run(|e| e.query_one(&sql, &[])?.map(|r| r.get(0)).transpose())
    }

    fn notified_alerts(
        &self,
        recipient: &str,
        fingerprints: &[String],
    ) -> Result<Vec<(String, String)>> {
        if fingerprints.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; fingerprints.len()].join(", ");
        let sql = format!(
            "SELECT fingerprint, status FROM alert_notified \
             WHERE recipient = ? AND fingerprint IN ({marks})"
        );
        let mut values: Vec<super::sql::Value> = vec![clip(recipient, 191).into()];
        values.extend(fingerprints.iter().map(|f| clip(f, 64).into()));
        self.0.run(|e| {
            e.query(&sql, &values)?
                .iter()
                .map(|r| Ok((r.get(0)?, r.get(1)?)))
                .collect()
        })
    }

    fn alert_marks(&self) -> Result<Vec<AlertMark>> {
        self.0.run(|e| {
            e.query(
                "SELECT recipient, fingerprint, status FROM alert_notified \
                 ORDER BY recipient, fingerprint",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(AlertMark {
                    recipient: r.get(0)?,
                    fingerprint: r.get(1)?,
                    status: r.get(2)?,
                })
            })
            .collect()
        })
    }

    fn delete_alert_marks(&self, marks: &[AlertMark]) -> Result<()> {
        self.0.transaction(TxKind::Write, |e| {
            for m in marks {
                e.exec(
                    "DELETE FROM alert_notified WHERE recipient = ? AND fingerprint = ?",
                    params![m.recipient.as_str(), m.fingerprint.as_str()],
                )?;
            }
            Ok(())
        })
    }

    fn forget_alerts(&self, age: Duration) -> Result<u64> {
        let d = self.0.dialect();
        self.0.run(|e| {
            e.exec(
                &format!(
                    "DELETE FROM alert_notified WHERE notified_at < {}",
                    d.now_shifted
                ),
                params![(d.earlier)(age)],
            )
        })
    }

    fn enqueue_guarded(&self, msgs: &[NewMessage], guard: &Guard) -> Result<Option<Vec<i64>>> {
        let d = self.0.dialect();
        self.0.transaction(TxKind::Write, |e| {
            // The state change first: on MariaDB its UPDATE waits for (and
            // then sees) another serve's change of the same row, so only
            // one of them changes it and queues the messages.
            let changed = match guard {
                Guard::CheckinLate { name, now } => e.exec(
                    "UPDATE checkin SET state = 'late', alerted_at = ? \
                     WHERE name = ? AND state = 'ok' \
                     AND COALESCE(last_seen, created) + every_secs + grace_secs <= ?",
                    params![*now, name.as_str(), *now],
                )?,
                Guard::CheckinBack { name, now } => e.exec(
                    "UPDATE checkin SET state = 'ok', alerted_at = ? \
                     WHERE name = ? AND state = 'late' AND last_seen >= alerted_at",
                    params![*now, name.as_str()],
                )?,
                Guard::Once { name, slot } => {
                    e.exec(
                        &format!(
                            "{} INTO pager_mark (name, slot) VALUES (?, ?)",
                            d.insert_ignore
                        ),
                        params![name.as_str(), i64::MIN],
                    )?;
                    e.exec(
                        "UPDATE pager_mark SET slot = ? WHERE name = ? AND slot < ?",
                        params![*slot, name.as_str(), *slot],
                    )?
                }
                Guard::Ack {
                    rcv_id,
                    sms_id,
                    by,
                    now,
                } => {
                    e.exec(
                        &format!(
                            "{} INTO pager_mark (name, slot) VALUES ('ack', ?)",
                            d.insert_ignore
                        ),
                        params![i64::MIN],
                    )?;
                    let passed = e.exec(
                        "UPDATE pager_mark SET slot = ? WHERE name = 'ack' AND slot < ?",
                        params![*rcv_id, *rcv_id],
                    )?;
                    if passed == 0 {
                        0
                    } else {
                        let marked = e.exec(
                            "UPDATE sms SET acked_at = ?, acked_by = ? \
                             WHERE id = ? AND acked_at IS NULL",
                            params![*now, clip(by, 32), *sms_id],
                        )?;
                        if marked > 0 {
                            e.exec(
                                &format!(
                                    "UPDATE escalation SET state = 'acked', ended = {}, \
                                     acked_by = ? WHERE state = 'active' AND id IN \
                                     (SELECT escalation_id FROM escalation_step WHERE sms_id = ?)",
                                    d.now
                                ),
                                params![clip(by, 32), *sms_id],
                            )?;
                        }
                        marked
                    }
                }
                Guard::EscalationStep { id, step } => e.exec(
                    "UPDATE escalation SET step = step + 1 \
                     WHERE id = ? AND step = ? AND state = 'active'",
                    params![*id, i64::from(*step),],
                )?,
                Guard::EscalationEnd { id, step } => e.exec(
                    &format!(
                        "UPDATE escalation SET state = 'exhausted', ended = {} \
                         WHERE id = ? AND step = ? AND state = 'active'",
                        d.now
                    ),
                    params![*id, i64::from(*step)],
                )?,
            };
            if changed == 0 {
                return Ok(None);
            }
            // Not coalesced: each guarded message announces its own change.
            // One to an escalation group (a late check-in's) starts its chain.
            let d = self.0.dialect();
            let ids = msgs
                .iter()
                .map(|m| {
                    let id = insert_msg(e, d, m, None, "")?;
                    if let Some(chain) = &m.escalation {
                        start_escalation(e, d, id, &m.phone, chain)?;
                    }
                    Ok(id)
                })
                .collect::<Result<Vec<_>>>()?;
            if let Guard::EscalationStep { id, step } = guard {
                let ([m], [sms_id]) = (msgs, ids.as_slice()) else {
                    return Err(StoreError::other("an escalation step is one message"));
                };
                e.exec(
                    "INSERT INTO escalation_step (escalation_id, step, phone, sms_id) \
                     VALUES (?, ?, ?, ?)",
                    params![*id, i64::from(*step) + 1, clip(&m.phone, 32), *sms_id],
                )?;
            }
            Ok(Some(ids))
        })
    }

    fn ack_cursor(&self) -> Result<Option<i64>> {
        self.0.run(|e| {
            e.query_one("SELECT slot FROM pager_mark WHERE name = 'ack'", &[])?
                .map(|r| r.get(0))
                .transpose()
        })
    }

    fn received_after(&self, after: i64, limit: usize) -> Result<Vec<(i64, String, String)>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.0.run(|e| {
            e.query(
                "SELECT id, sender, text FROM rcv WHERE id > ? ORDER BY id LIMIT ?",
                params![after, limit],
            )?
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .collect()
        })
    }

    fn unacked_alerts(&self, sources: &[&str], limit: usize) -> Result<Vec<Alert>> {
        let mut sql =
            format!("SELECT id, phone, text FROM sms WHERE status = '{SENT}' AND acked_at IS NULL");
        let mut values: Vec<super::sql::Value> = Vec::new();
        if !sources.is_empty() {
            sql.push_str(&format!(
                " AND source NOT IN ({})",
                vec!["?"; sources.len()].join(", ")
            ));
            values.extend(sources.iter().map(|s| (*s).into()));
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?");
        values.push(i64::try_from(limit).unwrap_or(i64::MAX).into());
        self.0.run(|e| {
            e.query(&sql, &values)?
                .iter()
                .map(|r| {
                    Ok(Alert {
                        id: r.get(0)?,
                        phone: r.get(1)?,
                        text: r.get(2)?,
                    })
                })
                .collect()
        })
    }

    fn acked(&self, sms_id: i64) -> Result<Option<(i64, String)>> {
        self.0.run(|e| {
            e.query_one(
                "SELECT acked_at, acked_by FROM sms WHERE id = ? AND acked_at IS NOT NULL",
                params![sms_id],
            )?
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .transpose()
        })
    }

    fn define_checkin(&self, def: &CheckinDef, now: i64) -> Result<bool> {
        let d = self.0.dialect();
        let recipients = def.recipients.join(",");
        self.0.transaction(TxKind::Write, |e| {
            let existed = e
                .query_one(
                    &format!("SELECT name FROM checkin WHERE name = ?{}", d.for_update),
                    params![def.name.as_str()],
                )?
                .is_some();
            if existed {
                e.exec(
                    "UPDATE checkin SET every_secs = ?, grace_secs = ?, recipients = ? \
                     WHERE name = ?",
                    params![
                        secs(def.every),
                        secs(def.grace),
                        recipients.as_str(),
                        def.name.as_str()
                    ],
                )?;
            } else {
                e.exec(
                    "INSERT INTO checkin (name, every_secs, grace_secs, recipients, created, state) \
                     VALUES (?, ?, ?, ?, ?, 'ok')",
                    params![
                        def.name.as_str(),
                        secs(def.every),
                        secs(def.grace),
                        recipients.as_str(),
                        now
                    ],
                )?;
            }
            Ok(!existed)
        })
    }

    fn create_checkin(&self, def: &CheckinDef, now: i64) -> Result<bool> {
        let d = self.0.dialect();
        let recipients = def.recipients.join(",");
        self.0.run(|e| {
            Ok(e.exec(
                &format!(
                    "{} INTO checkin (name, every_secs, grace_secs, recipients, created, \
                     last_seen, state) VALUES (?, ?, ?, ?, ?, ?, 'ok')",
                    d.insert_ignore
                ),
                params![
                    def.name.as_str(),
                    secs(def.every),
                    secs(def.grace),
                    recipients.as_str(),
                    now,
                    now
                ],
            )? > 0)
        })
    }

    fn checkin_seen(&self, name: &str, now: i64) -> Result<Option<Checkin>> {
        self.0.transaction(TxKind::Write, |e| {
            e.exec(
                "UPDATE checkin SET last_seen = ? WHERE name = ?",
                params![now, name],
            )?;
            checkins(e, Some(name)).map(|mut c| c.pop())
        })
    }

    fn checkin(&self, name: &str) -> Result<Option<Checkin>> {
        self.0.run(|e| checkins(e, Some(name)).map(|mut c| c.pop()))
    }

    fn checkins(&self) -> Result<Vec<Checkin>> {
        self.0.run(|e| checkins(e, None))
    }

    fn remove_checkin(&self, name: &str) -> Result<bool> {
        self.0
            .run(|e| Ok(e.exec("DELETE FROM checkin WHERE name = ?", params![name])? > 0))
    }

    fn record_call(&self, c: &CallRecord) -> Result<i64> {
        let error = c.error.as_deref().map(|e| clip(e, 255));
        self.0.run(|e| {
            e.insert(
                "INSERT INTO `call` (sms_id, number, sender, started, ended, outcome, error) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
                params![
                    c.sms_id,
                    clip(&c.number, 32),
                    clip(&c.sender, 128),
                    c.started,
                    c.ended,
                    c.outcome,
                    error
                ],
            )?
            .ok_or_else(|| StoreError::other("the database gave the new call row no id"))
        })
    }

    fn call_due(&self, number: &str, now: i64, window: Duration) -> Result<bool> {
        let since = now.saturating_sub(secs(window));
        self.0.run(|e| {
            Ok(e.query_one(
                "SELECT id FROM `call` WHERE number = ? AND ended > ? LIMIT 1",
                params![number, since],
            )?
            .is_none())
        })
    }

    fn list_calls(&self, limit: usize, before: Option<i64>) -> Result<Vec<CallRow>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.0.run(|e| {
            e.query(
                "SELECT id, sms_id, number, sender, started, ended, outcome, error FROM `call` \
                 WHERE id < ? ORDER BY id DESC LIMIT ?",
                params![before.unwrap_or(i64::MAX), limit],
            )?
            .iter()
            .map(|r| {
                Ok(CallRow {
                    id: r.get(0)?,
                    call: CallRecord {
                        sms_id: r.get(1)?,
                        number: r.get(2)?,
                        sender: r.get(3)?,
                        started: r.get(4)?,
                        ended: r.get(5)?,
                        outcome: r.parse(6, "call.outcome", CallOutcome::parse)?,
                        error: r.get(7)?,
                    },
                })
            })
            .collect()
        })
    }

    fn call_outcomes(&self, sms_ids: &[i64]) -> Result<Vec<(i64, CallOutcome)>> {
        if sms_ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; sms_ids.len()].join(", ");
        let values: Vec<Value> = sms_ids.iter().map(|id| Value::from(*id)).collect();
        self.0.run(|e| {
            let rows = e.query(
                &format!(
                    "SELECT sms_id, outcome FROM `call` WHERE sms_id IN ({marks}) ORDER BY id"
                ),
                &values,
            )?;
            let mut last: Vec<(i64, CallOutcome)> = Vec::new();
            for r in &rows {
                let id: i64 = r.get(0)?;
                let outcome = r.parse(1, "call.outcome", CallOutcome::parse)?;
                match last.iter_mut().find(|(i, _)| *i == id) {
                    Some(l) => l.1 = outcome,
                    None => last.push((id, outcome)),
                }
            }
            Ok(last)
        })
    }

    fn call_totals(&self) -> Result<Vec<(CallOutcome, u64)>> {
        self.0.run(|e| {
            let rows = e.query("SELECT outcome, COUNT(*) FROM `call` GROUP BY outcome", &[])?;
            let mut totals: Vec<(CallOutcome, u64)> =
                CallOutcome::ALL.into_iter().map(|o| (o, 0)).collect();
            for r in &rows {
                let outcome = r.parse(0, "call.outcome", CallOutcome::parse)?;
                let n: i64 = r.get(1)?;
                if let Some(t) = totals.iter_mut().find(|(o, _)| *o == outcome) {
                    t.1 = n.max(0).unsigned_abs();
                }
            }
            Ok(totals)
        })
    }

    fn claim_due(&self, owner: &str, lease: Duration, limit: usize) -> Result<Vec<QueuedMessage>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let d = self.0.dialect();
        self.0.transaction(TxKind::Claim, |e| {
            e.exec(d.promote_due, &[])?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = e
                .query(d.claim, params![limit])?
                .iter()
                .map(queued_from_row)
                .collect::<Result<Vec<_>>>()?;
            let claim = format!(
                "UPDATE msg SET claimed_by = ?, claim_until = {} WHERE id = ?",
                d.now_shifted
            );
            for m in &rows {
                e.exec(&claim, params![owner, (d.later)(lease), m.id])?;
            }
            Ok(rows)
        })
    }

    fn more_urgent_due(&self, than: Priority) -> Result<bool> {
        let d = self.0.dialect();
        let rank = than.rank();
        self.0
            .run(|e| Ok(e.query_one(d.more_urgent, params![rank, rank])?.is_some()))
    }

    fn any_due(&self) -> Result<bool> {
        let d = self.0.dialect();
        // Every rank, also one another tool wrote out of range.
        self.0.run(|e| {
            Ok(e.query_one(d.more_urgent, params![i64::MAX, i64::MAX])?
                .is_some())
        })
    }

    fn sent_to(&self, phone: &str, period: Duration) -> Result<(u64, Option<i64>)> {
        let d = self.0.dialect();
        // Digest lines (coalesced_into set) were no SMS of their own.
        let sql = format!(
            "SELECT COUNT(*), MAX({}) FROM sms WHERE phone = ? AND status = '{SENT}' \
             AND coalesced_into IS NULL AND sent_at >= {}",
            d.age_secs("sent_at"),
            d.now_shifted
        );
        self.0.run(|e| {
            let r = e.query_one(&sql, params![phone, (d.earlier)(period)])?;
            match r {
                Some(r) => Ok((r.get(0)?, r.get(1)?)),
                None => Ok((0, None)),
            }
        })
    }

    fn claim_for_digest(
        &self,
        owner: &str,
        phone: &str,
        except: i64,
        lease: Duration,
    ) -> Result<Vec<QueuedMessage>> {
        let d = self.0.dialect();
        let claim = d.claim.split(" FROM msg").next().unwrap_or_default();
        self.0.transaction(TxKind::Claim, |e| {
            let rows = e
                .query(
                    &format!(
                        "{claim} FROM msg WHERE phone = ? AND id <> ? AND priority > 0 \
                         AND (next_attempt IS NULL OR next_attempt <= {now}) \
                         AND (claimed_by IS NULL OR claimed_by = ? OR claim_until < {now}) \
                         ORDER BY id LIMIT 1000{}",
                        d.for_update,
                        now = d.now
                    ),
                    params![phone, except, owner],
                )?
                .iter()
                .map(queued_from_row)
                .collect::<Result<Vec<_>>>()?;
            let set = format!(
                "UPDATE msg SET claimed_by = ?, claim_until = {} WHERE id = ?",
                d.now_shifted
            );
            for m in &rows {
                e.exec(&set, params![owner, (d.later)(lease), m.id])?;
            }
            Ok(rows)
        })
    }

    fn expire_due(&self) -> Result<Vec<i64>> {
        let d = self.0.dialect();
        let skip = if d.for_update.is_empty() {
            ""
        } else {
            " SKIP LOCKED"
        };
        self.0.transaction(TxKind::Claim, |e| {
            let ids = e
                .query(
                    &format!(
                        "SELECT id FROM msg WHERE expires_at <= {now} \
                         AND (claimed_by IS NULL OR claim_until < {now}) LIMIT 500{}{skip}",
                        d.for_update,
                        now = d.now
                    ),
                    &[],
                )?
                .iter()
                .map(|r| r.get::<i64>(0))
                .collect::<Result<Vec<_>>>()?;
            for id in &ids {
                e.exec(
                    &format!(
                        "INSERT INTO sms (id, phone, text, source, priority, text_key, repeats, \
                         queued_at, sent_at, status, parts, part_refs, error, attempts, sent_by) \
                         SELECT id, phone, text, source, priority, text_key, repeats, created, NULL, \
                         '{EXPIRED}', parts_done, part_refs, ?, attempts, '' FROM msg WHERE id = ?"
                    ),
                    params![EXPIRED_WHY, *id],
                )?;
                e.exec("DELETE FROM msg WHERE id = ?", params![*id])?;
            }
            Ok(ids)
        })
    }

    fn postpone(&self, id: i64, owner: &str, delay: Duration) -> Result<()> {
        let d = self.0.dialect();
        self.0.run(|e| {
            let n = e.exec(
                &format!(
                    "UPDATE msg SET next_attempt = {}, claimed_by = NULL, claim_until = NULL \
                     WHERE id = ? AND claimed_by = ?",
                    d.now_shifted
                ),
                params![(d.later)(delay), id, owner],
            )?;
            if n == 0 {
                return Err(not_claimed(id, owner));
            }
            Ok(())
        })
    }

    fn release(&self, owner: &str, ids: &[i64]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let mut values = vec![owner.into()];
        values.extend(ids.iter().map(|&id| id.into()));
        self.0.transaction(TxKind::Claim, |e| {
            e.exec(
                &format!(
                    "UPDATE msg SET claimed_by = NULL, claim_until = NULL \
                     WHERE claimed_by = ? AND id IN ({marks})"
                ),
                &values,
            )
        })
    }

    fn release_claims(&self, owner: &str) -> Result<u64> {
        self.0.transaction(TxKind::Claim, |e| {
            e.exec(
                "UPDATE msg SET claimed_by = NULL, claim_until = NULL WHERE claimed_by = ?",
                params![owner],
            )
        })
    }

    fn renew_claims(&self, owner: &str, lease: Duration) -> Result<u64> {
        let d = self.0.dialect();
        self.0.run(|e| {
            e.exec(
                &format!(
                    "UPDATE msg SET claim_until = {} WHERE claimed_by = ?",
                    d.now_shifted
                ),
                params![(d.later)(lease), owner],
            )
        })
    }

    fn save_progress(
        &self,
        id: i64,
        owner: &str,
        concat_ref: u8,
        parts_done: u32,
        part_refs: &str,
        shown_repeats: u32,
    ) -> Result<()> {
        let d = self.0.dialect();
        self.0.transaction(TxKind::Write, |e| {
            // The claim check is a read of its own: MySQL counts only rows
            // actually changed, so a repeated identical save would look
            // like a lost claim.
            let owned = e.query_one(
                &format!(
                    "SELECT id FROM msg WHERE id = ? AND claimed_by = ?{}",
                    d.for_update
                ),
                params![id, owner],
            )?;
            if owned.is_none() {
                return Err(not_claimed(id, owner));
            }
            e.exec(
                "UPDATE msg SET concat_ref = ?, parts_done = ?, part_refs = ?, \
                 shown_repeats = COALESCE(shown_repeats, ?) WHERE id = ?",
                params![concat_ref, parts_done, part_refs, shown_repeats, id],
            )?;
            Ok(())
        })
    }

    fn retry_later(&self, id: i64, owner: &str, error: &str, delay: Duration) -> Result<()> {
        let d = self.0.dialect();
        self.0.transaction(TxKind::Write, |e| {
            let n = e.exec(
                &format!(
                    "UPDATE msg SET attempts = attempts + 1, last_error = ?, next_attempt = {}, \
                     claimed_by = NULL, claim_until = NULL WHERE id = ? AND claimed_by = ?",
                    d.now_shifted
                ),
                params![error, (d.later)(delay), id, owner],
            )?;
            if n == 0 {
                return Err(not_claimed(id, owner));
            }
            Ok(())
        })
    }

    fn finish(&self, id: i64, owner: &str, outcome: &Outcome) -> Result<bool> {
        let d = self.0.dialect();
        self.0.transaction(TxKind::Write, |e| {
            let insert = "INSERT INTO sms (id, phone, text, source, via_group, priority, text_key, \
                          repeats, queued_at, sent_at, status, parts, part_refs, error, attempts, \
                          sent_by) SELECT id, phone, text, source, via_group, priority, text_key, \
                          repeats, created";
            let n = match outcome {
                Outcome::Sent { parts, part_refs } => e.exec(
                    &format!(
                        "{insert}, {}, '{SENT}', ?, ?, NULL, attempts, ? \
                         FROM msg WHERE id = ? AND claimed_by = ?{}",
                        d.now, d.for_update
                    ),
                    params![*parts, part_refs.as_str(), owner, id, owner],
                )?,
                // Parts already confirmed before giving up are kept on record.
                Outcome::Failed { error } => e.exec(
                    &format!(
                        "{insert}, NULL, '{FAILED}', parts_done, part_refs, ?, attempts, ? \
                         FROM msg WHERE id = ? AND claimed_by = ?{}",
                        d.for_update
                    ),
                    params![error.as_str(), owner, id, owner],
                )?,
                Outcome::InDigest { carrier } => e.exec(
                    &format!(
                        "INSERT INTO sms (id, phone, text, source, priority, text_key, repeats, \
                         queued_at, sent_at, status, parts, part_refs, error, attempts, sent_by, \
                         coalesced_into) SELECT id, phone, text, source, priority, text_key, \
                         repeats, created, {}, '{SENT}', 0, '', NULL, attempts, ?, ? \
                         FROM msg WHERE id = ? AND claimed_by = ?{}",
                        d.now, d.for_update
                    ),
                    params![owner, *carrier, id, owner],
                )?,
                Outcome::Expired => e.exec(
                    &format!(
                        "{insert}, NULL, '{EXPIRED}', parts_done, part_refs, ?, attempts, ? \
                         FROM msg WHERE id = ? AND claimed_by = ?{}",
                        d.for_update
                    ),
                    params![EXPIRED_WHY, owner, id, owner],
                )?,
            };
            if n == 0 {
                return Ok(false);
            }
            e.exec(
                "DELETE FROM msg WHERE id = ? AND claimed_by = ?",
                params![id, owner],
            )?;
            Ok(true)
        })
    }

    fn queue_stats(&self) -> Result<QueueStats> {
        let d = self.0.dialect();
        self.0.transaction(TxKind::Snapshot, |e| {
            let depth: u64 = match e.query_one("SELECT COUNT(*) FROM msg", &[])? {
                Some(r) => r.get(0)?,
                None => 0,
            };
            // The oldest row is the lowest id (ids grow with insertion time).
            let oldest = e
                .query_one(
                    &format!(
                        "SELECT {}, {} FROM msg ORDER BY id LIMIT 1",
                        d.time("created"),
                        d.age_secs("created")
                    ),
                    &[],
                )?
                .map(|r| Ok::<_, StoreError>((r.get::<String>(0)?, r.get::<i64>(1)?)))
                .transpose()?;
            Ok(QueueStats {
                depth,
                oldest_age_secs: oldest.as_ref().map(|o| o.1),
                oldest: oldest.map(|o| o.0),
            })
        })
    }

    fn sms(&self, id: i64) -> Result<Option<SmsRow>> {
        let sql = format!("SELECT {} FROM sms WHERE id = ?", self.sms_columns());
        self.0.run(|e| {
            e.query_one(&sql, params![id])?
                .map(|r| sms_from_row(&r))
                .transpose()
        })
    }

    fn save_received(&self, msg: &Received) -> Result<Saved> {
        let id = self
            .0
            .transaction(TxKind::Write, |e| self.insert_rcv(e, msg))?;
        Ok(id.map_or(Saved::Duplicate, Saved::New))
    }

    fn save_part(&self, part: &ReceivedPart) -> Result<PartSaved> {
        let d = self.0.dialect();
        let bits = ref_bits(part.ref16);
        let id = |l: Option<Language>| l.map_or(0, Language::id);
        self.0.transaction(TxKind::Write, |e| {
            let inserted = e.exec(
                &format!(
                    "{} INTO rcv_part ({PART_COLUMNS}) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    d.insert_ignore
                ),
                params![
                    &part.sender,
                    part.reference,
                    part.total,
                    part.seq,
                    part.coding,
                    &part.body_hex,
                    &part.text,
                    &part.smsc_time,
                    part.smsc.clone(),
                    &part.dedupe_key,
                    bits,
                    id(part.tables.locking),
                    id(part.tables.single),
                    part.pid,
                    part.ports.map(|p| p.destination),
                    part.ports.map(|p| p.source)
                ],
            )?;
            if inserted == 0 {
                return Ok(PartSaved {
                    saved: Saved::Duplicate,
                    stale: None,
                });
            }
            let mut parts =
                self.waiting_parts(e, &part.sender, part.reference, bits, part.total)?;
            // A part number the waiting set already has (not this very part,
            // which the key would have found): the sender reused the
            // reference. What waited is a set of its own that will get no
            // more parts.
            let mut stale = None;
            let reused = parts
                .iter()
                .any(|p| p.seq == part.seq && p.dedupe_key != part.dedupe_key);
            if reused {
                let (new, old): (Vec<_>, Vec<_>) = parts
                    .into_iter()
                    .partition(|p| p.dedupe_key == part.dedupe_key);
                stale = self.join_set(e, &old, false)?;
                parts = new;
            }
            let mut seqs: Vec<u8> = parts.iter().map(|p| p.seq).collect();
            seqs.dedup();
            let saved = if seqs.len() < usize::from(part.total) {
                Saved::Waiting
            } else {
                match self.join_set(e, &parts, true)? {
                    Some(id) => Saved::New(id),
                    None => Saved::Duplicate,
                }
            };
            Ok(PartSaved { saved, stale })
        })
    }

    fn flush_parts(&self, max_age: Duration, keep: Duration) -> Result<Vec<i64>> {
        let d = self.0.dialect();
        self.0.transaction(TxKind::Write, |e| {
            let sets = e.query(
                &format!(
                    "SELECT sender, reference, ref_bits, total FROM rcv_part WHERE rcv_id IS NULL \
                     GROUP BY sender, reference, ref_bits, total HAVING MIN(received_at) < {}",
                    d.now_shifted
                ),
                params![(d.earlier)(max_age)],
            )?;
            let mut ids = Vec::new();
            for set in sets {
                let parts = self.waiting_parts(
                    e,
                    &set.get::<String>(0)?,
                    set.get(1)?,
                    set.get(2)?,
                    set.get(3)?,
                )?;
                if let Some(id) = self.join_set(e, &parts, false)? {
                    ids.push(id);
                }
            }
            e.exec(
                &format!(
                    "DELETE FROM rcv_part WHERE rcv_id IS NOT NULL AND received_at < {}",
                    d.now_shifted
                ),
                params![(d.earlier)(keep)],
            )?;
            Ok(ids)
        })
    }

    fn rcv(&self, id: i64) -> Result<Option<RcvRow>> {
        let sql = format!("SELECT {} FROM rcv WHERE id = ?", self.rcv_columns());
        self.0.run(|e| {
            e.query_one(&sql, params![id])?
                .map(|r| rcv_from_row(&r))
                .transpose()
        })
    }

    fn save_report(&self, report: &DeliveryReport) -> Result<Option<(i64, ReportStatus)>> {
        let d = self.0.dialect();
        self.0.transaction(TxKind::Write, |e| {
            let candidates = e.query(
                &format!(
                    "SELECT id, phone, part_refs, parts FROM sms WHERE status = '{SENT}' \
                     AND sent_at >= {} ORDER BY sent_at DESC LIMIT 2000",
                    d.now_shifted
                ),
                params![(d.earlier)(Duration::from_secs(7 * 86_400))],
            )?;
            let mut found = None;
            for r in &candidates {
                let (phone, refs): (String, String) = (r.get(1)?, r.get(2)?);
                if same_number(&phone, &report.recipient) && refs_contain(&refs, report.mr) {
                    found = Some((r.get::<i64>(0)?, r.get::<u32>(3)?));
                    break;
                }
            }
            let Some((id, parts)) = found else {
                return Ok(None);
            };
            let status = report_status(report.st);
            e.exec(
                &format!(
                    "{} INTO sms_report (sms_id, mr, st, status, discharged) VALUES (?, ?, ?, ?, ?)",
                    d.insert_or_replace
                ),
                params![id, report.mr, report.st, status, &report.discharged],
            )?;
            let statuses = e
                .query(
                    "SELECT status FROM sms_report WHERE sms_id = ?",
                    params![id],
                )?
                .iter()
                .map(|r| r.parse(0, "sms_report.status", ReportStatus::parse))
                .collect::<Result<Vec<_>>>()?;
            let combined = combined_report(parts, &statuses);
            e.exec(
                &format!(
                    "UPDATE sms SET report_status = ?, report_time = {} WHERE id = ?",
                    d.now
                ),
                params![combined, id],
            )?;
            Ok(Some((id, combined)))
        })
    }

    fn save_modem_health(&self, h: &ModemHealth) -> Result<()> {
        let d = self.0.dialect();
        let instance = clip(&h.instance, 128);
        self.0.transaction(TxKind::Write, |e| {
            // Sends since the previous check (all of them for a new row).
            let previous: Option<String> = e
                .query_one(
                    &format!(
                        "SELECT {} FROM modem WHERE instance = ?{}",
                        d.time("checked_at"),
                        d.for_update
                    ),
                    params![&instance],
                )?
                .map(|r| r.get(0))
                .transpose()?;
            let newest_sent: Option<String> = e
                .query_one(
                    &format!(
                        "SELECT {} FROM sms WHERE sent_at >= ? AND sent_by = ?",
                        d.time("MAX(sent_at)")
                    ),
                    params![
                        previous.unwrap_or_else(|| "1970-01-01 00:00:00.000".into()),
                        &instance
                    ],
                )?
                .map(|r| r.get(0))
                .transpose()?
                .flatten();
            let new = |col: &str| d.excluded(col);
            e.exec(
                &format!(
                    "INSERT INTO modem (instance, device, manufacturer, model, rssi, registration, \
                     operator, healthy, last_error, warnings, sim_memories, checked_at, \
                     last_send_ok, pid) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {now}, ?, ?) {upsert} \
                     device = {device}, \
                     manufacturer = COALESCE(NULLIF({manufacturer}, ''), manufacturer), \
                     model = COALESCE(NULLIF({model}, ''), model), \
                     rssi = {rssi}, registration = {registration}, operator = {operator}, \
                     healthy = {healthy}, last_error = {last_error}, warnings = {warnings}, \
                     sim_memories = COALESCE({sim_memories}, sim_memories), \
                     checked_at = {checked_at}, \
                     last_send_ok = COALESCE({last_send_ok}, last_send_ok), pid = {pid}",
                    now = d.now,
                    upsert = d.upsert("instance"),
                    device = new("device"),
                    manufacturer = new("manufacturer"),
                    model = new("model"),
                    rssi = new("rssi"),
                    registration = new("registration"),
                    operator = new("operator"),
                    healthy = new("healthy"),
                    last_error = new("last_error"),
                    warnings = new("warnings"),
                    sim_memories = new("sim_memories"),
                    checked_at = new("checked_at"),
                    last_send_ok = new("last_send_ok"),
                    pid = new("pid"),
                ),
                params![
                    &instance,
                    clip(&h.device, 255),
                    clip(&h.manufacturer, 64),
                    clip(&h.model, 64),
                    h.rssi,
                    h.registration.as_deref().map(|r| clip(r, 32)),
                    h.operator.as_deref().map(|o| clip(o, 64)),
                    h.healthy,
                    h.last_error.clone(),
                    h.warnings.clone(),
                    SimMemory::to_lines(&h.sim_memories),
                    newest_sent,
                    h.pid,
                ],
            )?;
            Ok(())
        })
    }

    fn forget_modem(&self, instance: &str) -> Result<bool> {
        self.0.transaction(TxKind::Write, |e| {
            Ok(e.exec("DELETE FROM modem WHERE instance = ?", &[instance.into()])? > 0)
        })
    }

    fn modem_health(&self) -> Result<Vec<ModemHealth>> {
        let d = self.0.dialect();
        let sql = format!(
            "SELECT instance, device, manufacturer, model, rssi, registration, operator, \
             healthy, last_error, pid, {}, {}, {}, warnings, sim_memories FROM modem \
             ORDER BY instance",
            d.time("checked_at"),
            d.age_secs("checked_at"),
            d.time("last_send_ok")
        );
        self.0.run(|e| {
            e.query(&sql, &[])?
                .iter()
                .map(|r| {
                    Ok(ModemHealth {
                        instance: r.get(0)?,
                        device: r.get(1)?,
                        manufacturer: r.get(2)?,
                        model: r.get(3)?,
                        rssi: r.get::<Option<i64>>(4)?.and_then(|v| u8::try_from(v).ok()),
                        registration: r.get(5)?,
                        operator: r.get(6)?,
                        healthy: r.get(7)?,
                        last_error: r.get(8)?,
                        pid: r.get(9)?,
                        checked_at: r.get(10)?,
                        checked_age_secs: r.get(11)?,
                        last_send_ok: r.get(12)?,
                        warnings: r.get(13)?,
                        sim_memories: SimMemory::from_lines(
                            r.get::<Option<String>>(14)?.as_deref(),
                        ),
                    })
                })
                .collect()
        })
    }

    fn activity_since(&self, period: Duration) -> Result<Activity> {
        let d = self.0.dialect();
        let since = d.now_shifted;
        let sql = format!(
            "SELECT (SELECT COUNT(*) FROM sms WHERE sent_at >= {since}), \
             (SELECT COUNT(*) FROM sms WHERE status = '{FAILED}' AND queued_at >= {since}), \
             (SELECT COUNT(*) FROM rcv WHERE received_at >= {since})"
        );
        let ago = (d.earlier)(period);
        self.0.run(|e| {
            let Some(r) = e.query_one(&sql, &[ago.clone(), ago.clone(), ago])? else {
                return Ok(Activity::default());
            };
            Ok(Activity {
                sent: r.get(0)?,
                failed: r.get(1)?,
                received: r.get(2)?,
            })
        })
    }

    fn last_sent(&self) -> Result<Option<(SmsRow, i64)>> {
        let sql = format!(
            "SELECT id, {} FROM sms WHERE sent_at IS NOT NULL ORDER BY sent_at DESC LIMIT 1",
            self.0.dialect().age_secs("sent_at")
        );
        let newest = self.0.run(|e| {
            e.query_one(&sql, &[])?
                .map(|r| Ok::<_, StoreError>((r.get::<i64>(0)?, r.get::<i64>(1)?)))
                .transpose()
        })?;
        match newest {
            Some((id, age)) => Ok(self.sms(id)?.map(|row| (row, age))),
            None => Ok(None),
        }
    }

    fn list_sms(&self, filter: &ListFilter) -> Result<Vec<SmsRow>> {
        let (sql, values) = self.list_sms_query(filter)?;
        self.0
            .run(|e| e.query(&sql, &values)?.iter().map(sms_from_row).collect())
    }

    fn list_queued(&self, filter: &ListFilter) -> Result<Vec<QueueRow>> {
        let d = self.0.dialect();
        let select = format!(
            "SELECT id, phone, text, source, {}, attempts, {}, last_error, \
             (claimed_by IS NOT NULL AND claim_until >= {}), parts_done, via_group, priority, \
             repeats FROM msg",
            d.time("created"),
            d.time("next_attempt"),
            d.now
        );
        let (mut sql, values) = self.list_query(&select, None, "phone", "created", filter);
        if filter.send_order && filter.before_id.is_none() {
            // As the claim takes them: what is due, most urgent, oldest.
            sql = sql.replace(
                " ORDER BY id DESC ",
                " ORDER BY (next_attempt IS NOT NULL), next_attempt, priority, id ",
            );
        }
        self.0.run(|e| {
            e.query(&sql, &values)?
                .iter()
                .map(|r| {
                    Ok(QueueRow {
                        id: r.get(0)?,
                        phone: r.get(1)?,
                        text: r.get(2)?,
                        source: r.get(3)?,
                        created: r.get(4)?,
                        attempts: r.get(5)?,
                        next_attempt: r.get(6)?,
                        last_error: r.get(7)?,
                        sending: r.get(8)?,
                        parts_done: r.get(9)?,
                        group: r.get(10)?,
                        priority: Priority::from_rank(r.get(11)?),
                        repeats: r.get(12)?,
                    })
                })
                .collect()
        })
    }

    fn list_received(&self, filter: &ListFilter) -> Result<Vec<RcvRow>> {
        let select = format!("SELECT {} FROM rcv", self.rcv_columns());
        let (sql, values) = self.list_query(&select, None, "sender", "received_at", filter);
        self.0
            .run(|e| e.query(&sql, &values)?.iter().map(rcv_from_row).collect())
    }

    fn totals(&self) -> Result<Totals> {
        // Each count walks one index (sms_status or rcv's primary key;
        // sms_repeats holds only the rows with repeats; msg is the queue);
        // MAX(sent_at) is one step of sms_sent_at.
        let d = self.0.dialect();
        let sql = format!(
            "SELECT (SELECT COUNT(*) FROM sms WHERE status = '{SENT}'), \
             (SELECT COUNT(*) FROM sms WHERE status = '{FAILED}'), \
             (SELECT COUNT(*) FROM rcv), {}, {}, \
             (SELECT COUNT(*) FROM sms WHERE status = '{SUPPRESSED}'), \
             (SELECT COUNT(*) FROM sms WHERE status = '{EXPIRED}'), \
             (SELECT COALESCE(SUM(repeats), 0) FROM sms WHERE repeats > 0) \
             + (SELECT COALESCE(SUM(repeats), 0) FROM msg WHERE repeats > 0), \
             (SELECT COUNT(*) FROM msg WHERE priority = 0) \
             FROM (SELECT MAX(sent_at) AS m FROM sms) t",
            d.time("m"),
            d.age_secs("m")
        );
        self.0.run(|e| {
            let Some(r) = e.query_one(&sql, &[])? else {
                return Ok(Totals::default());
            };
            Ok(Totals {
                sent: r.get(0)?,
                failed: r.get(1)?,
                received: r.get(2)?,
                last_sent: r.get(3)?,
                last_sent_age_secs: r.get(4)?,
                suppressed: r.get(5)?,
                expired: r.get(6)?,
                merged: r.get(7)?,
                queued_urgent: r.get(8)?,
            })
        })
    }
}

impl<B: Backend> StoreDiagnostics for SqlStore<B> {
    fn execute_sql(&self, sql: &str) -> Result<()> {
        self.0.execute_batch(sql)
    }

    fn explain_list_sms(&self, filter: &ListFilter) -> Result<String> {
        let (sql, values) = self.list_sms_query(filter)?;
        self.0.explain(&sql, &values)
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(super::sql::capped(d).as_secs()).unwrap_or(i64::MAX)
}

/// The check-in `name`, or all of them by name.
fn checkins(e: &mut dyn Exec, name: Option<&str>) -> Result<Vec<Checkin>> {
    let mut sql = "SELECT name, every_secs, grace_secs, recipients, created, last_seen, state, \
                   alerted_at FROM checkin"
        .to_owned();
    let mut values = Vec::new();
    if let Some(name) = name {
        sql.push_str(" WHERE name = ?");
        values.push(name.into());
    }
    sql.push_str(" ORDER BY name");
    e.query(&sql, &values)?
        .iter()
        .map(|r| {
            let every: i64 = r.get(1)?;
            let grace: i64 = r.get(2)?;
            let recipients: String = r.get(3)?;
            let state: String = r.get(6)?;
            Ok(Checkin {
                def: CheckinDef {
                    name: r.get(0)?,
                    every: Duration::from_secs(every.max(0).unsigned_abs()),
                    grace: Duration::from_secs(grace.max(0).unsigned_abs()),
                    recipients: recipients
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                },
                created: r.get(4)?,
                last_seen: r.get(5)?,
                late: state == "late",
                alerted_at: r.get(7)?,
            })
        })
        .collect()
}
