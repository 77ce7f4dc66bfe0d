//! The voice call after an urgent SMS (`call-urgent`): made by the modem
//! thread between two messages, never inside a multipart send, whoever
//! queued the SMS. Before the call the rest of the batch is handed back to
//! the queue (so other modems may send it meanwhile, and no claim ages
//! during the call); after it the thread claims again. A call takes at
//! most `call-ring` plus a few command timeouts.
//!
//! One call per number per `call-ring`: a number whose last call ended
//! less than `call-ring` ago is not called again (`Store::call_due`), so
//! several urgent SMS to it in one batch, or from several senders, ring it
//! once.

use crate::modem::{CallEnd, dial_string};
use crate::pager::clock;
use crate::store::{CallOutcome, CallRecord, Outcome, Priority, QueuedMessage};

use super::{Outbox, PassError};

impl Outbox {
    /// Whether `msg`, just sent, is to be followed by a call.
    pub(super) fn wants_call(&self, msg: &QueuedMessage) -> bool {
        if !self.settings.call_urgent || msg.priority != Priority::Urgent {
            return false;
        }
        let ring = self.settings.call_ring;
        match self.store.call_due(&msg.phone, clock::now(), ring) {
            Ok(true) => true,
            Ok(false) => {
                log::info!(
                    "message {} to {}: not called, its last call ended less than call-ring ({}s) ago",
                    msg.id,
                    msg.phone,
                    ring.as_secs()
                );
                false
            }
            Err(e) => {
                log::warn!(
                    "message {} to {}: cannot tell whether it was called lately ({e}); calling",
                    msg.id,
                    msg.phone
                );
                true
            }
        }
    }

    /// Whether `msg` was sent and its outcome waits in memory for the
    /// database (which failed at its finish).
    pub(super) fn sent_unrecorded(&self, msg: &QueuedMessage) -> bool {
        self.unfinished
            .last()
            .is_some_and(|(_, id, o)| *id == msg.id && matches!(o, Outcome::Sent { .. }))
    }

    /// [`Outbox::call`] for a message sent while the database went away:
    /// the call is made all the same (its row cannot be written then, and
    /// is logged instead); a modem lost during it is found by the next pass.
    pub(super) fn call_unrecorded(&mut self, msg: &QueuedMessage) {
        if self.wants_call(msg)
            && let Err(e) = self.call(msg)
        {
            log::warn!("call to {} after message {}: {e}", msg.phone, msg.id);
        }
    }

    /// Calls the number `msg` went to and records how the call ended. A
    /// modem lost during the call is `PassError::ModemLost`, recovered as
    /// after a send.
    pub(super) fn call(&mut self, msg: &QueuedMessage) -> Result<(), PassError> {
        let started = clock::now();
        let ring = self.settings.call_ring;
        let end = match dial_string(&msg.phone, self.settings.bare_numbers_international) {
            Err(error) => CallEnd {
                outcome: CallOutcome::Failed,
                error: Some(error),
                lost: None,
            },
            Ok(number) => {
                log::info!(
                    "message {} to {}: calling {number} (rings at most {}s)",
                    msg.id,
                    msg.phone,
                    ring.as_secs()
                );
                let stop = std::sync::Arc::clone(&self.stop);
                let modem = self.ensure_modem().map_err(PassError::Modem)?;
                modem.call(&number, ring, &stop)
            }
        };
        let record = CallRecord {
            sms_id: msg.id,
            number: msg.phone.clone(),
            sender: self.owner.clone(),
            started,
            ended: clock::now(),
            outcome: end.outcome,
            error: end.error.clone(),
        };
        match &end.error {
            Some(e) => log::warn!(
                "call to {} after message {}: failed: {e}",
                msg.phone,
                msg.id
            ),
            None => log::info!(
                "call to {} after message {}: {}",
                msg.phone,
                msg.id,
                end.outcome
            ),
        }
        if let Err(e) = self.store.record_call(&record) {
            log::warn!(
                "call to {} after message {} ({}) not recorded: {e}",
                msg.phone,
                msg.id,
                end.outcome
            );
        }
        // What the modem announced during the call (+CMTI) is acted on now.
        self.handle_unsolicited();
        match end.lost {
            Some(e) => Err(PassError::ModemLost(e)),
            None => Ok(()),
        }
    }
}
