//! `GET /metrics` in the Prometheus text format (version 0.0.4).
//!
//! The counters are counts of rows on record (`sms` by status, `rcv`), so
//! they survive restarts and agree between several `serve` instances that
//! share one database. When the database does not answer, only
//! `smss_database_up 0` is reported (with status 200, so that Prometheus
//! records it).

use std::fmt::Write;

use super::{App, Reply, modem_health};

fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let _ = writeln!(out, "{name} {value}");
}

/// A Prometheus label value, escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Per modem and memory: messages held, slots, and stored sent/unsent
/// messages (which smss does not read); a memory with `messages ==
/// capacity` makes new SMS wait at the network.
fn sim_memories(out: &mut String, modems: &[super::ModemHealth]) {
    type Value = fn(&crate::store::SimMemory) -> u32;
    let series: [(&str, &str, Value); 3] = [
        (
            "smss_sim_messages",
            "Messages held in a message memory of the modem (SM SIM, ME modem, MT both, SR reports).",
            |m| m.used,
        ),
        (
            "smss_sim_capacity",
            "Slots of a message memory of the modem.",
            |m| m.total,
        ),
        (
            "smss_sim_stored",
            "Stored sent/unsent messages in a memory (not read by smss; sim-cleanup = stored deletes them).",
            |m| m.stored,
        ),
    ];
    if modems.iter().all(|m| m.memories.is_empty()) {
        return;
    }
    for (name, help, value) in series {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for m in modems {
            for memory in &m.memories {
                let _ = writeln!(
                    out,
                    "{name}{{instance=\"{}\",memory=\"{}\"}} {}",
                    label(&m.instance),
                    label(&memory.memory),
                    value(memory)
                );
            }
        }
    }
}

pub fn metrics(app: &App) -> Reply {
    let mut out = String::new();
    let stats = app.store.queue_stats();
    let totals = app.store.totals();
    let up = stats.is_ok() && totals.is_ok();
    metric(
        &mut out,
        "smss_database_up",
        "gauge",
        "1 when the database answers.",
        u8::from(up),
    );
    if let (Ok(q), Ok(t)) = (&stats, &totals) {
        metric(
            &mut out,
            "smss_queued_total",
            "counter",
            "Messages accepted into the queue (still queued, sent or failed).",
            q.depth + t.sent + t.failed,
        );
        metric(
            &mut out,
            "smss_sent_total",
            "counter",
            "Messages sent (every part confirmed by the modem).",
            t.sent,
        );
        metric(
            &mut out,
            "smss_failed_total",
            "counter",
            "Messages given up on.",
            t.failed,
        );
        metric(
            &mut out,
            "smss_merged_total",
            "counter",
            "Requests merged into a message with the same number and text (coalesce-window).",
            t.merged,
        );
        metric(
            &mut out,
            "smss_suppressed_total",
            "counter",
            "Requests recorded as repeats of a message sent shortly before, not sent.",
            t.suppressed,
        );
        metric(
            &mut out,
            "smss_expired_total",
            "counter",
            "Messages whose ttl passed before they were sent.",
            t.expired,
        );
        metric(
            &mut out,
            "smss_queue_urgent",
            "gauge",
            "Urgent messages waiting in the queue.",
            t.queued_urgent,
        );
        metric(
            &mut out,
            "smss_received_total",
            "counter",
            "Messages received.",
            t.received,
        );
        metric(
            &mut out,
            "smss_queue_depth",
            "gauge",
            "Messages waiting in the queue.",
            q.depth,
        );
        metric(
            &mut out,
            "smss_queue_oldest_age_seconds",
            "gauge",
            "Age of the oldest queued message (0 when the queue is empty).",
            q.oldest_age_secs.unwrap_or(0).max(0),
        );
        if let Some(age) = t.last_sent_age_secs {
            metric(
                &mut out,
                "smss_last_sent_age_seconds",
                "gauge",
                "Seconds since the last message was sent.",
                age.max(0),
            );
        }
    }
    // This serve's local spool (a MySQL store only).
    if let Some(spool) = app.intake.spool() {
        let state = spool.state();
        metric(
            &mut out,
            "smss_degraded",
            "gauge",
            "1 while the database is unreachable and accepted messages go to the local spool.",
            u8::from(state.degraded_since.is_some()),
        );
        metric(
            &mut out,
            "smss_spooled",
            "gauge",
            "Messages in the local spool, not yet moved into the database.",
            state.spooled,
        );
        metric(
            &mut out,
            "smss_spool_moved_total",
            "counter",
            "Messages moved from the local spool into the database since serve started.",
            state.moved,
        );
        metric(
            &mut out,
            "smss_spool_sent_total",
            "counter",
            "Messages the modems sent from the local spool (the database unreachable) since \
             serve started.",
            state.sent,
        );
    }
    // One series per modem (sender) across the cluster; none before any
    // sender reported, rather than made-up values.
    let modems: Vec<_> = modem_health(app.store.as_ref(), &app.settings)
        .into_iter()
        .filter(|m| m.retired.is_none())
        .collect();
    if !modems.is_empty() {
        let _ = writeln!(out, "# HELP smss_modem_up 1 when the modem answers.");
        let _ = writeln!(out, "# TYPE smss_modem_up gauge");
        for m in &modems {
            let _ = writeln!(
                out,
                "smss_modem_up{{instance=\"{}\"}} {}",
                label(&m.instance),
                u8::from(m.up)
            );
        }
        let _ = writeln!(
            out,
            "# HELP smss_modem_signal Signal quality as AT+CSQ reports it (0-31)."
        );
        let _ = writeln!(out, "# TYPE smss_modem_signal gauge");
        for m in &modems {
            if let Some(s) = m.signal.filter(|s| *s <= 31) {
                let _ = writeln!(
                    out,
                    "smss_modem_signal{{instance=\"{}\"}} {s}",
                    label(&m.instance)
                );
            }
        }
        sim_memories(&mut out, &modems);
    }
    checkins(&mut out, app);
    calls(&mut out, app);
    escalations(&mut out, app);
    Reply::new(200, "text/plain; version=0.0.4; charset=utf-8", out)
}

/// The escalation chains waiting for an ACK.
fn escalations(out: &mut String, app: &App) {
    let Ok(active) = app.store.escalations(true, 100_000) else {
        return;
    };
    let _ = writeln!(
        out,
        "# HELP smss_escalations_active Escalation chains waiting for an ACK (smss status lists them)."
    );
    let _ = writeln!(out, "# TYPE smss_escalations_active gauge");
    let _ = writeln!(out, "smss_escalations_active {}", active.len());
}

/// Per check-in: late or not, the last report and the next due time (Unix
/// seconds; no last-seen series before its first report).
fn checkins(out: &mut String, app: &App) {
    let Ok(list) = app.store.checkins() else {
        return;
    };
    if list.is_empty() {
        return;
    }
    type Value = fn(&crate::store::Checkin) -> Option<i64>;
    let series: [(&str, &str, Value); 3] = [
        (
            "smss_checkin_late",
            "1 when the check-in missed its period and grace (its late SMS was queued).",
            |c| Some(i64::from(c.late)),
        ),
        (
            "smss_checkin_last_seen_timestamp_seconds",
            "When the check-in last reported (Unix time).",
            |c| c.last_seen,
        ),
        (
            "smss_checkin_due_timestamp_seconds",
            "When the next report of the check-in is expected (Unix time).",
            |c| Some(c.due_at()),
        ),
    ];
    for (name, help, value) in series {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for c in &list {
            if let Some(v) = value(c) {
                let _ = writeln!(out, "{name}{{name=\"{}\"}} {v}", label(&c.def.name));
            }
        }
    }
}

/// Voice calls after urgent SMS (`call-urgent`), by outcome (every outcome,
/// zeros too, so that a rate can be taken from the first call on).
fn calls(out: &mut String, app: &App) {
    let Ok(totals) = app.store.call_totals() else {
        return;
    };
    let _ = writeln!(
        out,
        "# HELP smss_calls_total Voice calls made after urgent SMS, by how they ended."
    );
    let _ = writeln!(out, "# TYPE smss_calls_total counter");
    for (outcome, n) in totals {
        let _ = writeln!(
            out,
            "smss_calls_total{{outcome=\"{}\"}} {n}",
            label(outcome.as_str())
        );
    }
}
