//! Reading what arrived at the modem: list every memory (`AT+CMGL=4`, or
//! slot by slot where that fails; a memory that cannot be read is a
//! warning in health, and the others are still read),
//! decode each PDU, commit it (a message to `rcv`, a part to `rcv_part`, a
//! status report to its `sms` row), and only then delete it from the SIM
//! (`AT+CMGD`). A database failure stops the pass with the rest left on
//! the SIM for the next one; duplicates after a crash are recognised by
//! the store.
//!
//! With the local spool of a MySQL store: while the database is
//! unreachable, each commit goes to the spool instead (still before
//! `AT+CMGD`), and the spool's move carries it into the database. A
//! delivery report that matches no message sent from the spool then is
//! for one in the database: it stays on the SIM until the database
//! answers.

use std::time::Duration;

use crate::gsm::{self, Deliver, SmscTime, StatusReport, Tpdu};
use crate::hook::{OnReceive, ReceivedEvent};
use crate::modem::{AtError, Modem};
use crate::printable::escape;
use crate::spool::Spool;
use crate::store::{
    self, Coding, DeliveryReport, ErrorKind, PartSaved, Received, ReceivedPart, Saved, Store,
    StoreError,
};

/// Joined parts are remembered this long, to recognise a part read again.
const KEEP_JOINED_PARTS: Duration = Duration::from_secs(7 * 86_400);

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveSummary {
    pub stored: usize,
    pub reports: usize,
    pub deleted: usize,
}

impl ReceiveSummary {
    /// Counts `other`'s too (passes between sends and at the end).
    pub fn add(&mut self, other: ReceiveSummary) {
        self.stored += other.stored;
        self.reports += other.reports;
        self.deleted += other.deleted;
    }
}

#[derive(Debug)]
pub enum ReceiveError {
    Modem(AtError),
    Store(StoreError),
}

impl From<AtError> for ReceiveError {
    fn from(e: AtError) -> Self {
        ReceiveError::Modem(e)
    }
}

impl From<StoreError> for ReceiveError {
    fn from(e: StoreError) -> Self {
        ReceiveError::Store(e)
    }
}

/// What the message type (TP-PID) of a stored message means for the hook
/// and the log.
#[derive(Debug, Clone, Copy)]
struct Event {
    silent: bool,
    replace: Option<u8>,
}

/// What became of one PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    Message,
    Report,
    /// Not committed, to be read again later (a report for a message in
    /// the database while it is unreachable): not deleted from the SIM.
    Kept,
}

pub struct Inbox<'a> {
    pub store: &'a dyn Store,
    /// Committed to while the database is unreachable.
    pub spool: Option<&'a Spool>,
    pub hooks: &'a OnReceive,
    pub multipart_timeout: Duration,
    /// `sim-cleanup = stored`: stored sent/unsent messages are deleted.
    pub cleanup_stored: bool,
}

impl Inbox<'_> {
    /// One pass over `memories`.
    pub fn pass(
        &self,
        modem: &mut Modem,
        memories: &[String],
    ) -> Result<ReceiveSummary, ReceiveError> {
        let mut summary = ReceiveSummary::default();
        modem.keep_routing()?;
        for memory in modem.memories_to_list(memories) {
            let listed = match modem.list_memory(&memory) {
                Ok(listed) => {
                    modem.note_readable(&memory);
                    listed
                }
                Err(e) if e.is_lost() => return Err(e.into()),
                // Not the whole pass: the other memories are still read.
                Err(e) => {
                    modem.note_unreadable(&memory, e.to_string());
                    continue;
                }
            };
            for stored in listed {
                // Stored sent/unsent messages (a phone's or another tool's)
                // are not received ones: not read, deleted only when asked.
                if stored.stat >= 2 {
                    if self.cleanup_stored {
                        modem.delete(stored.index)?;
                        summary.deleted += 1;
                        log::info!(
                            "memory {memory}: deleted the stored {} message at index {} \
                             (sim-cleanup = stored)",
                            if stored.stat == 2 { "unsent" } else { "sent" },
                            stored.index
                        );
                    }
                    continue;
                }
                match self.take(&stored.pdu)? {
                    Taken::Report => summary.reports += 1,
                    Taken::Message => summary.stored += 1,
                    Taken::Kept => continue,
                }
                modem.delete(stored.index)?;
                summary.deleted += 1;
            }
        }
        modem.note_receiving_memory()?;
        for id in self.commit(|s| s.flush_parts(self.multipart_timeout, KEEP_JOINED_PARTS))? {
            log::warn!(
                "received message {id}: some parts never arrived; stored what came (incomplete)"
            );
            self.incomplete_stored(id);
        }
        Ok(summary)
    }

    /// The store commits go to: the spool while the database is taken as
    /// unreachable.
    fn target(&self) -> &dyn Store {
        match self.spool {
            Some(spool) if spool.is_degraded() => &**spool.store(),
            _ => self.store,
        }
    }

    /// Whether commits go to the spool now.
    fn spooling(&self) -> bool {
        self.spool.is_some_and(Spool::is_degraded)
    }

    /// `f` on [`Inbox::target`]; when the database turns out unreachable,
    /// the degraded state is entered and `f` runs on the spool.
    fn commit<T>(&self, f: impl Fn(&dyn Store) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let spooling = self.spooling();
        match f(self.target()) {
            Err(e) if !spooling && e.kind() == ErrorKind::Unavailable => match self.spool {
                Some(spool) => {
                    spool.enter_degraded(&e);
                    f(&**spool.store())
                }
                None => Err(e),
            },
            other => other,
        }
    }

    /// Commits one PDU; says what it was.
    pub fn take(&self, pdu: &str) -> Result<Taken, StoreError> {
        match gsm::decode_pdu(pdu, true) {
            Ok(Tpdu::Deliver(d)) => self.deliver(d).map(|_| Taken::Message),
            Ok(Tpdu::StatusReport(r)) => self.report(&r),
            Ok(Tpdu::Submit(s)) => {
                // A SUBMIT in the received list: keep it rather than lose it.
                self.raw(
                    pdu,
                    &format!("SMS-SUBMIT to {} found among received messages", s.number),
                )
                .map(|_| Taken::Message)
            }
            Err(e) => self.raw(pdu, &e.to_string()).map(|_| Taken::Message),
        }
    }

    fn deliver(&self, d: Deliver) -> Result<(), StoreError> {
        // An invalid time stamp is stored as unknown (empty); the key still
        // tells messages apart by the octets that came.
        let smsc_time = d.timestamp.text();
        let key_time = match d.timestamp {
            SmscTime::Known(_) => smsc_time.clone(),
            SmscTime::Invalid(octets) => format!("?{}", gsm::to_hex(&octets)),
        };
        if smsc_time.is_empty() {
            log::warn!(
                "a message from {} has an invalid SMSC time stamp ({key_time}): stored with the time unknown",
                d.sender
            );
        }
        let coding = Coding::from(d.user_data.coding);
        let event = Event {
            silent: gsm::silent(d.pid),
            replace: gsm::replace_type(d.pid),
        };
        match d.user_data.concat {
            None => {
                let text = d.user_data.text;
                let msg = Received {
                    dedupe_key: store::dedupe_key(&d.sender, &key_time, None, &text),
                    sender: d.sender,
                    text,
                    coding,
                    smsc_time,
                    smsc: d.smsc,
                    parts: 1,
                    complete: true,
                    pid: d.pid,
                    ports: d.user_data.ports,
                };
                let saved = self.commit(|s| s.save_received(&msg))?;
                self.stored(saved, event, &msg.sender, &msg.text, &msg.smsc_time, 1);
            }
            Some(c) => {
                let body_hex = gsm::to_hex(&d.user_data.body);
                let part = ReceivedPart {
                    dedupe_key: store::dedupe_key(
                        &d.sender,
                        &key_time,
                        Some((c.reference, c.total, c.seq)),
                        &body_hex,
                    ),
                    sender: d.sender,
                    reference: c.reference,
                    ref16: c.ref16,
                    total: c.total,
                    seq: c.seq,
                    coding,
                    tables: d.user_data.tables,
                    pid: d.pid,
                    ports: d.user_data.ports,
                    body_hex,
                    text: d.user_data.text,
                    smsc_time,
                    smsc: d.smsc,
                };
                let PartSaved { saved, stale } = self.commit(|s| s.save_part(&part))?;
                if let Some(id) = stale {
                    log::warn!(
                        "received message {id} from {}: part {} of reference {} came again with \
                         other content, so the earlier parts are a message of their own whose \
                         other parts never arrived; stored what came (incomplete)",
                        part.sender,
                        part.seq,
                        part.reference
                    );
                    self.incomplete_stored(id);
                }
                if let Saved::New(id) = saved {
                    // The joined text is in the database; read it back for the log and hook.
                    let text = self.target().rcv(id)?.map(|r| r.text).unwrap_or_default();
                    self.stored(
                        saved,
                        event,
                        &part.sender,
                        &text,
                        &part.smsc_time,
                        part.total,
                    );
                } else {
                    log::info!(
                        "received part {}/{} of a message from {} (reference {}): {}",
                        part.seq,
                        part.total,
                        escape(&part.sender),
                        part.reference,
                        if saved == Saved::Duplicate {
                            "seen before"
                        } else {
                            "waiting for the rest"
                        }
                    );
                }
            }
        }
        Ok(())
    }

    /// An incomplete message stored from the parts that came is a new
    /// received message like any other: the on-receive program runs for
    /// it (read back: its text is what the parts held).
    fn incomplete_stored(&self, id: i64) {
        match self.target().rcv(id) {
            Ok(Some(row)) if !row.silent() => {
                self.hooks.received(ReceivedEvent {
                    id,
                    sender: row.sender,
                    text: row.text,
                    smsc_time: row.smsc_time,
                });
            }
            Ok(_) => {}
            Err(e) => log::warn!(
                "received message {id}: cannot read it back for the on-receive program: {e}"
            ),
        }
    }

    fn stored(
        &self,
        saved: Saved,
        event: Event,
        sender: &str,
        text: &str,
        smsc_time: &str,
        parts: u8,
    ) {
        match saved {
            // TS 23.040 §9.2.3.9: a type 0 message is acknowledged and may
            // be discarded; it alerts no one, so the hook does not run.
            Saved::New(id) if event.silent => {
                log::info!(
                    "received a silent (type 0) message {id} from {}: stored, no hook",
                    escape(sender)
                )
            }
            Saved::New(id) => {
                let (shown_sender, shown_text) = (escape(sender), escape(text));
                match event.replace {
                    Some(n) => log::info!(
                        "received message {id} from {shown_sender} ({parts} part(s), replace \
                         type {n}: replaces the earlier one of that type): {shown_text}"
                    ),
                    None => log::info!(
                        "received message {id} from {shown_sender} ({parts} part(s)): {shown_text}"
                    ),
                }
                self.hooks.received(ReceivedEvent {
                    id,
                    sender: sender.to_owned(),
                    text: text.to_owned(),
                    smsc_time: smsc_time.to_owned(),
                });
            }
            Saved::Duplicate => {
                log::info!(
                    "received a message from {} again (stored before): deleting it",
                    escape(sender)
                )
            }
            Saved::Waiting => {}
        }
    }

    fn report(&self, r: &StatusReport) -> Result<Taken, StoreError> {
        let report = DeliveryReport {
            mr: r.mr,
            recipient: r.recipient.clone(),
            st: r.status,
            discharged: r.discharged.text(),
        };
        match self.commit(|s| s.save_report(&report))? {
            None if self.spooling() => {
                log::info!(
                    "delivery report for mr {} to {} matches no message sent from the local \
                     spool: kept on the modem until the database answers",
                    r.mr,
                    r.recipient
                );
                return Ok(Taken::Kept);
            }
            Some((id, status)) => log::info!(
                "delivery report for message {id} to {} (mr {}): {}",
                r.recipient,
                r.mr,
                status
            ),
            None => log::info!(
                "delivery report for mr {} to {} matches no sent message of the last week",
                r.mr,
                r.recipient
            ),
        }
        Ok(Taken::Report)
    }

    fn raw(&self, pdu: &str, why: &str) -> Result<(), StoreError> {
        log::warn!("a PDU the modem holds cannot be read as a message ({why}); stored as raw hex");
        let msg = Received {
            dedupe_key: store::dedupe_key("?", "", None, pdu),
            sender: "?".into(),
            text: pdu.to_owned(),
            coding: Coding::Raw,
            smsc_time: String::new(),
            smsc: None,
            parts: 1,
            complete: true,
            pid: 0,
            ports: None,
        };
        self.commit(|s| s.save_received(&msg)).map(|_| ())
    }

    /// Handles unsolicited lines: a message or status report the modem
    /// pushed (`+CMT:`/`+CDS:` and its PDU line: a modem without storage,
    /// or a class the modem routes directly) is committed as a read one is,
    /// and only then acknowledged (`AT+CNMA`, where the modem wants it); one
    /// that cannot be committed is not acknowledged, so the network delivers
    /// it again (and the store recognises a copy it has). Returns whether a
    /// new stored message was announced (`+CMTI`, `+CDSI`), so the caller
    /// reads the memories now.
    pub fn unsolicited(&self, modem: &mut Modem, lines: &[String]) -> bool {
        let mut announce = false;
        let mut it = lines.iter();
        while let Some(line) = it.next() {
            if line.starts_with("+CMTI:") || line.starts_with("+CDSI:") {
                announce = true;
                continue;
            }
            let what = if line.starts_with("+CMT:") {
                "message"
            } else if line.starts_with("+CDS:") {
                "delivery report"
            } else {
                continue;
            };
            let Some(pdu) = it.next() else { continue };
            match self.take(pdu) {
                Ok(Taken::Kept) => log::info!(
                    "a pushed {what} is kept for when the database answers: not acknowledged, \
                     so the network delivers it again"
                ),
                Ok(_) => {
                    if let Err(e) = modem.acknowledge() {
                        log::warn!(
                            "a pushed {what} was stored but its acknowledgement failed ({e}); \
                             the network will deliver it again, and it is recognised as stored"
                        );
                    }
                }
                Err(e) if modem.ack_required() => log::error!(
                    "a pushed {what} could not be stored ({e}); not acknowledged, so the \
                     network delivers it again"
                ),
                Err(e) => log::error!(
                    "a pushed {what} could not be stored ({e}); not acknowledged, but the \
                     modem may have acknowledged it itself (no AT+CSMS=1): it may be lost"
                ),
            }
        }
        announce
    }
}
