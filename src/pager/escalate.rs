//! Escalation chains: an alert to a group set with `--escalate STEP` went
//! (urgent) to its first member only (`Intake`'s expansion wrote the
//! chain with it). Each pass of the pager thread looks at the active
//! chains: when the current step's SMS was sent `STEP` ago and nobody
//! acknowledged it, the next member gets `[k/N] text`, urgent (so
//! `call-urgent` calls them too); after the last member's step time the
//! chain is exhausted (one log line). An ACK (`ack.rs`) ends a chain in
//! the transaction that marks the alert.
//!
//! A step counts from when its SMS was *sent*: while it waits in the
//! queue (no modem, no signal) the chain waits with it, since the next
//! member's SMS would wait in the same queue. A step whose SMS failed or
//! expired alerted nobody: the next member is alerted at once.
//!
//! Each step is queued with [`Guard::EscalationStep`] (the step number
//! moves on in the same transaction, only from the step expected), so
//! several serves on one database queue it once.

use crate::intake::{Intake, IntakeError};
use crate::options::{Options, Priority};
use crate::protocol::Request;
use crate::store::{Escalation, Guard, StepStatus, StoreError};

/// The source of the SMS of the steps after the first.
pub const SOURCE: &str = "escalation";

/// What a chain needs now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Nothing yet: its SMS is queued, or its step time has not passed.
    Wait,
    /// Alert member `step` (1-based).
    Step(u32),
    /// The last step went unacknowledged.
    End,
}

/// The decision for one active chain (pure: the pass does the rest).
pub fn next(c: &Escalation) -> Next {
    let Some(current) = c.steps.iter().find(|s| s.step == c.step) else {
        // written with its step in one transaction: not seen, wait
        return Next::Wait;
    };
    let due = match &current.status {
        StepStatus::Queued => false,
        StepStatus::Sent { age_secs, .. } => {
            u64::try_from(*age_secs).unwrap_or(0) >= c.step_time.as_secs()
        }
        StepStatus::NotSent(_) => true,
    };
    match (due, (c.step as usize) < c.members.len()) {
        (false, _) => Next::Wait,
        (true, true) => Next::Step(c.step + 1),
        (true, false) => Next::End,
    }
}

/// One pass over the active chains; returns how many steps were queued.
pub fn pass(intake: &Intake) -> Result<usize, StoreError> {
    let mut queued = 0;
    for c in intake.store().escalations(true, 1000)? {
        match next(&c) {
            Next::Wait => {}
            Next::Step(step) => queued += usize::from(step_to(intake, &c, step)?),
            Next::End => end(intake, &c, "nobody acknowledged")?,
        }
    }
    Ok(queued)
}

fn step_to(intake: &Intake, c: &Escalation, step: u32) -> Result<bool, StoreError> {
    let phone = &c.members[step as usize - 1];
    let request = Request {
        options: Options {
            priority: Priority::Urgent,
            ..Options::default()
        },
        ..Request::to(phone, &c.step_text(step))
    };
    let guard = Guard::EscalationStep {
        id: c.id,
        step: c.step,
    };
    match intake.submit_guarded(&[request], SOURCE, &guard) {
        Ok(Some(ids)) => {
            log::info!(
                "escalation #{} @{}: no ACK within {}, step {step}/{} to {phone} (id {})",
                c.id,
                c.group,
                super::clock::human(c.step_time.as_secs()),
                c.members.len(),
                ids.first().copied().unwrap_or_default()
            );
            Ok(true)
        }
        Ok(None) => Ok(false),
        Err(IntakeError::Rejected(why)) => {
            // cannot become valid by waiting: end it rather than retry forever
            end(intake, c, &format!("step {step} refused ({why})"))?;
            Ok(false)
        }
        Err(e) => {
            let cause = e.store_error().map(ToString::to_string);
            log::error!(
                "escalation #{} @{}: cannot queue step {step}: {}",
                c.id,
                c.group,
                cause.unwrap_or_else(|| e.to_string())
            );
            Ok(false)
        }
    }
}

fn end(intake: &Intake, c: &Escalation, why: &str) -> Result<(), StoreError> {
    let guard = Guard::EscalationEnd {
        id: c.id,
        step: c.step,
    };
    if intake.store().enqueue_guarded(&[], &guard)?.is_some() {
        log::warn!(
            "escalation #{} @{} exhausted after {} of {} members, {why}: {}",
            c.id,
            c.group,
            c.step,
            c.members.len(),
            crate::printable::escape(&c.text)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EscalationState, EscalationStep, SmsStatus};
    use std::time::Duration;

    fn chain(step: u32, status: StepStatus) -> Escalation {
        Escalation {
            id: 1,
            group: "oncall".into(),
            step_time: Duration::from_secs(600),
            members: vec!["111".into(), "222".into(), "333".into()],
            text: "disk full".into(),
            step,
            state: EscalationState::Active,
            started: String::new(),
            ended: None,
            acked_by: None,
            steps: (1..=step)
                .map(|k| EscalationStep {
                    step: k,
                    phone: String::new(),
                    sms_id: i64::from(k),
                    status: status.clone(),
                })
                .collect(),
        }
    }

    fn sent(age_secs: i64) -> StepStatus {
        StepStatus::Sent {
            at: String::new(),
            age_secs,
        }
    }

    #[test]
    fn a_step_counts_from_its_sent_time() {
        assert_eq!(next(&chain(1, StepStatus::Queued)), Next::Wait);
        assert_eq!(next(&chain(1, sent(599))), Next::Wait);
        assert_eq!(next(&chain(1, sent(600))), Next::Step(2));
        assert_eq!(next(&chain(2, sent(600))), Next::Step(3));
        assert_eq!(next(&chain(3, sent(599))), Next::Wait);
        assert_eq!(next(&chain(3, sent(600))), Next::End);
        // a clock a little behind: not due
        assert_eq!(next(&chain(1, sent(-3))), Next::Wait);
    }

    #[test]
    fn a_step_not_sent_goes_on_at_once() {
        let failed = StepStatus::NotSent(SmsStatus::Failed);
        assert_eq!(next(&chain(1, failed.clone())), Next::Step(2));
        assert_eq!(next(&chain(3, failed)), Next::End);
        let mut one = chain(1, sent(600));
        one.members.truncate(1);
        assert_eq!(next(&one), Next::End, "a chain of one member");
        assert_eq!(one.step_text(1), "[1/1] disk full");
    }
}
