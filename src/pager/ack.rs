//! Acknowledge by SMS reply: a received `ACK`, `OK` or `ACK <id>` from a
//! number smss sent an alert to marks that alert (the newest one not
//! acknowledged to that number, or `<id>` when it went there) acknowledged,
//! with who and when, and smss confirms with a short SMS. A reply from a
//! number no alert went to changes nothing.
//!
//! The pager thread reads the received messages after its cursor
//! (`pager_mark` 'ack'); passing one, marking the alert and queueing the
//! confirmation are one transaction (`Guard::Ack`), so with several serves
//! each reply is handled once. At its first run the cursor starts after
//! the newest message received: old replies are not taken for new ones.

use crate::intake::{Intake, NOT_ALERTS};
use crate::store::{Guard, ListFilter, StepStatus, StoreError, same_number};

/// What a reply asks: `Some(None)` the newest alert, `Some(Some(id))` that
/// one; `None`: not an acknowledgement.
pub fn parse(text: &str) -> Option<Option<i64>> {
    let t = text.trim().trim_end_matches(['.', '!']);
    let mut words = t.split_whitespace();
    let first = words.next()?.to_ascii_uppercase();
    let rest: Vec<&str> = words.collect();
    match (first.as_str(), rest.as_slice()) {
        ("ACK" | "OK", []) => Some(None),
        ("ACK", [id]) => id.trim_start_matches('#').parse().ok().map(Some),
        _ => None,
    }
}

/// One pass over the replies received since the last; returns how many
/// acknowledged an alert.
pub fn pass(intake: &Intake, now: i64) -> Result<usize, StoreError> {
    let store = intake.store();
    let cursor = match store.ack_cursor()? {
        Some(c) => c,
        None => {
            let newest = store
                .list_received(&ListFilter {
                    limit: 1,
                    ..Default::default()
                })?
                .first()
                .map_or(0, |r| r.id);
            let guard = Guard::Once {
                name: "ack".into(),
                slot: newest,
            };
            store.enqueue_guarded(&[], &guard)?;
            return Ok(0);
        }
    };
    let mut acked = 0;
    for (id, sender, text) in store.received_after(cursor, 50)? {
        let pass_only = Guard::Once {
            name: "ack".into(),
            slot: id,
        };
        let Some(target) = parse(&text) else {
            store.enqueue_guarded(&[], &pass_only)?;
            continue;
        };
        let alerts = store.unacked_alerts(&NOT_ALERTS, 500)?;
        let found = alerts
            .iter()
            .filter(|a| same_number(&a.phone, &sender))
            .find(|a| target.is_none_or(|t| a.id == t));
        let Some(alert) = found else {
            log::info!(
                "ACK from {}: no alert to acknowledge{}",
                crate::printable::escape(&sender),
                target.map(|t| format!(" with id {t}")).unwrap_or_default()
            );
            store.enqueue_guarded(&[], &pass_only)?;
            continue;
        };
        let short: String = alert.text.chars().take(60).collect();
        let confirm = format!("ACK #{} by {sender}: {short}", alert.id);
        let guard = Guard::Ack {
            rcv_id: id,
            sms_id: alert.id,
            by: sender.clone(),
            now,
        };
        let mut to = vec![alert.phone.clone()];
        to.extend(others_alerted(store.as_ref(), alert.id, &alert.phone)?);
        let reply: Vec<_> = to
            .iter()
            .map(|phone| crate::protocol::Request::to(phone, &confirm))
            .collect();
        match intake.submit_guarded(&reply, "ack", &guard) {
            Ok(Some(_)) => {
                log::info!("alert #{} acknowledged by {sender}", alert.id);
                acked += 1;
            }
            Ok(None) => {}
            Err(e) => {
                // the cursor stays: tried again next pass
                log::error!("ACK from {sender}: cannot queue the confirmation: {e}");
                break;
            }
        }
    }
    Ok(acked)
}

/// The other members an active escalation chain has alerted (their step
/// sent) when `sms_id` is one of its steps: they are told who took the
/// alert, so that nobody else gets up for it.
fn others_alerted(
    store: &dyn crate::store::Store,
    sms_id: i64,
    acker: &str,
) -> Result<Vec<String>, StoreError> {
    let chains = store.escalations(true, 500)?;
    let Some(chain) = chains
        .iter()
        .find(|c| c.steps.iter().any(|s| s.sms_id == sms_id))
    else {
        return Ok(Vec::new());
    };
    let mut others: Vec<String> = Vec::new();
    for s in &chain.steps {
        if matches!(s.status, StepStatus::Sent { .. })
            && !same_number(&s.phone, acker)
            && !others.iter().any(|o| same_number(o, &s.phone))
        {
            others.push(s.phone.clone());
        }
    }
    Ok(others)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        assert_eq!(parse("ACK"), Some(None));
        assert_eq!(parse(" ok. "), Some(None));
        assert_eq!(parse("Ack 42"), Some(Some(42)));
        assert_eq!(parse("ACK #42"), Some(Some(42)));
        for no in ["", "ACK now please", "okay", "ACK x", "OK 42", "thanks"] {
            assert_eq!(parse(no), None, "{no}");
        }
    }
}
