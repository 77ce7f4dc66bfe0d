//! `POST /api/alertmanager?to=RECIPIENTS`: Prometheus Alertmanager's
//! webhook (payload version 4), and `POST /api/grafana?to=RECIPIENTS`:
//! Grafana's webhook contact point.
//!
//! Alertmanager: one SMS per notification and recipient ([`alerts`] makes
//! the words). An alert already notified to a recipient with the same
//! status (`alert_notified`: recipient as addressed, fingerprint, status)
//! is left out when Alertmanager repeats the group (`repeat_interval`, a
//! new alert joining it, another cluster host): the SMS carries only what
//! changed, and nothing is sent when nothing did. The marks are committed
//! in the transaction that queues the SMS, so a repeat after a crash or a
//! 5xx sends what was not committed, and every serve of a cluster agrees.
//! An alert's `sms_to` label overrides `to` for that alert; resolved
//! alerts are sent unless `alert-send-resolved = no` (they are marked
//! either way, so the next firing is sent again).
//!
//! Answers: `200 {"queued": n, "ids": [...]}` after the commit (n may be 0:
//! nothing new), `400` for a payload or recipient that cannot work
//! (Alertmanager does not retry a 4xx), `503` while the database is away
//! (Alertmanager retries).

use std::collections::HashMap;

use serde_json::{Value, json};

use super::alerts::{self, Alert, Notice, Status};
use super::{App, Reply, Req, form, source};
use crate::intake::{IntakeError, Rejection};
use crate::protocol::{Priority, Request};
use crate::store::{AlertMark, ErrorKind};

fn error(status: u16, message: impl std::fmt::Display) -> Reply {
    Reply::json(status, &json!({ "error": message.to_string() }))
}

fn label<'a>(labels: &'a Value, name: &str) -> Option<&'a str> {
    labels
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// One alert of a payload (Alertmanager's and Grafana's have the same
/// shape).
fn parse_alert(v: &Value) -> Result<Alert, String> {
    let status = v
        .get("status")
        .and_then(Value::as_str)
        .and_then(Status::parse)
        .ok_or("each alert needs a status, firing or resolved")?;
    let empty = Value::Null;
    let labels = v.get("labels").unwrap_or(&empty);
    let annotations = v.get("annotations").unwrap_or(&empty);
    let target = label(labels, "instance")
        .map(alerts::without_port)
        .or_else(|| label(labels, "host"))
        .or_else(|| label(labels, "hostname"))
        .or_else(|| label(labels, "job"))
        .unwrap_or("")
        .to_owned();
    let fingerprint = match v.get("fingerprint").and_then(Value::as_str) {
        Some(f) if !f.is_empty() => f.to_owned(),
        // no fingerprint: one of the labels, as Alertmanager makes it
        _ => crate::token::hash(&labels.to_string())[..16].to_owned(),
    };
    Ok(Alert {
        fingerprint,
        status,
        name: label(labels, "alertname").unwrap_or("alert").to_owned(),
        target,
        summary: label(annotations, "summary")
            .or_else(|| label(annotations, "description"))
            .unwrap_or("")
            .to_owned(),
        sms_to: label(labels, "sms_to").map(str::to_owned),
        critical: label(labels, "severity").is_some_and(|s| s.eq_ignore_ascii_case("critical")),
    })
}

/// The JSON body, or the answer to a request that has none.
fn json_body(req: &Req<'_>, body: &[u8]) -> Result<Value, Reply> {
    let ct = req
        .header("Content-Type")
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if ct != "application/json" && !ct.is_empty() {
        return Err(error(
            415,
            format!("unsupported Content-Type '{ct}': send application/json"),
        ));
    }
    serde_json::from_slice::<Value>(body).map_err(|_| error(400, "the body is not valid JSON"))
}

/// An SMS of an alert notification, before it is queued. `critical`
/// (a firing alert of it has `severity=critical`): sent as urgent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSms {
    pub recipient: String,
    pub text: String,
    pub critical: bool,
}

fn max_parts(app: &App) -> usize {
    app.settings.alert_max_parts.min(app.settings.max_parts)
}

/// `POST /api/alertmanager`.
pub fn alertmanager(app: &App, req: &Req<'_>, user: &str, body: &[u8]) -> Reply {
    let v = match json_body(req, body) {
        Ok(v) => v,
        Err(reply) => return reply,
    };
    if let Some(version) = v.get("version").and_then(Value::as_str)
        && version != "4"
    {
        log::warn!(
            "web: {}: Alertmanager payload version {version}, expected 4: reading it anyway",
            req.peer
        );
    }
    let Some(list) = v.get("alerts").and_then(Value::as_array) else {
        return error(400, "missing 'alerts' (is this an Alertmanager webhook?)");
    };
    let alerts: Vec<Alert> = match list.iter().map(parse_alert).collect() {
        Ok(a) => a,
        Err(e) => return error(400, e),
    };
    let to = req
        .query
        .get("to")
        .map(form::split_numbers)
        .unwrap_or_default();
    // recipient (as addressed) → its alerts, in the order they came
    let mut by_recipient: Vec<(String, Vec<&Alert>)> = Vec::new();
    for a in &alerts {
        let recipients = match &a.sms_to {
            Some(list) => form::split_numbers(list),
            None => to.clone(),
        };
        if recipients.is_empty() {
            return error(
                400,
                format!(
                    "no recipient for alert {}: give ?to=NUMBER,@GROUP in the webhook URL or an \
                     sms_to label",
                    a.name
                ),
            );
        }
        for r in recipients {
            match by_recipient.iter_mut().find(|(x, _)| *x == r) {
                Some((_, list)) => list.push(a),
                None => by_recipient.push((r, vec![a])),
            }
        }
    }
    let group_name = label(v.get("groupLabels").unwrap_or(&Value::Null), "alertname")
        .or_else(|| label(v.get("commonLabels").unwrap_or(&Value::Null), "alertname"))
        .or_else(|| alerts.first().map(|a| a.name.as_str()))
        .unwrap_or("alert")
        .to_owned();
    let common_summary = label(
        v.get("commonAnnotations").unwrap_or(&Value::Null),
        "summary",
    );
    let truncated = v
        .get("truncatedAlerts")
        .and_then(Value::as_u64)
        .unwrap_or(0) as usize;

    let mut smss: Vec<AlertSms> = Vec::new();
    let mut marks: Vec<AlertMark> = Vec::new();
    for (recipient, list) in &by_recipient {
        let fps: Vec<String> = list.iter().map(|a| a.fingerprint.clone()).collect();
        let notified = match notified(app, recipient, &fps) {
            Ok(n) => n,
            Err(e) => return store_failed(&e),
        };
        let new: Vec<&Alert> = list
            .iter()
            .copied()
            .filter(|a| notified.get(&a.fingerprint).map(String::as_str) != Some(a.status.as_str()))
            .collect();
        marks.extend(new.iter().map(|a| AlertMark {
            recipient: recipient.clone(),
            fingerprint: a.fingerprint.clone(),
            status: a.status.as_str().to_owned(),
        }));
        let notice = Notice {
            name: &group_name,
            common_summary,
            firing: new
                .iter()
                .copied()
                .filter(|a| a.status == Status::Firing)
                .collect(),
            resolved: if app.settings.alert_send_resolved {
                new.iter()
                    .copied()
                    .filter(|a| a.status == Status::Resolved)
                    .collect()
            } else {
                Vec::new()
            },
            truncated,
        };
        if notice.firing.is_empty() && notice.resolved.is_empty() {
            continue;
        }
        smss.push(AlertSms {
            recipient: recipient.clone(),
            text: alerts::compose(&notice, max_parts(app)),
            critical: notice.firing.iter().any(|a| a.critical),
        });
    }
    let reply = queue_alerts(app, req, &smss, &marks, &source("alertmanager", user));
    // Best effort: what is forgotten late is only kept longer.
    if !degraded(app)
        && let Err(e) = app.store.forget_alerts(app.settings.alert_remember)
    {
        log::warn!("web: cannot forget old notified alerts: {e}");
    }
    reply
}

/// `POST /api/grafana`: Grafana's webhook contact point (unified
/// alerting). The text is its `title` (`[FIRING:2] HighCPU (web1)`, its own
/// count and labels) and `commonAnnotations.summary`, not the long
/// `message`; cut to `alert-max-parts`. Resolved notifications follow
/// `alert-send-resolved`. An alert's `sms_to` label overrides `to`.
pub fn grafana(app: &App, req: &Req<'_>, user: &str, body: &[u8]) -> Reply {
    let v = match json_body(req, body) {
        Ok(v) => v,
        Err(reply) => return reply,
    };
    let Some(title) = v.get("title").and_then(Value::as_str).map(str::trim) else {
        return error(400, "missing 'title' (is this a Grafana webhook?)");
    };
    let alerts: Vec<Alert> = match v.get("alerts").and_then(Value::as_array) {
        Some(list) => match list.iter().map(parse_alert).collect() {
            Ok(a) => a,
            Err(e) => return error(400, e),
        },
        None => Vec::new(),
    };
    let status = v.get("status").and_then(Value::as_str).unwrap_or("firing");
    if status == "resolved" && !app.settings.alert_send_resolved {
        return Reply::json(200, &json!({ "queued": 0, "ids": [] }));
    }
    let summary = label(
        v.get("commonAnnotations").unwrap_or(&Value::Null),
        "summary",
    )
    .or_else(|| {
        alerts
            .iter()
            .map(|a| a.summary.as_str())
            .find(|s| !s.is_empty())
    })
    .unwrap_or("");
    let text = if summary.is_empty() || title.contains(summary) {
        title.to_owned()
    } else {
        format!("{title}: {summary}")
    };
    if text.is_empty() {
        return error(400, "empty 'title' and no summary: nothing to send");
    }
    let text = cut_to_parts(&text, max_parts(app));
    let mut recipients = req
        .query
        .get("to")
        .map(form::split_numbers)
        .unwrap_or_default();
    if let Some(list) = alerts.iter().find_map(|a| a.sms_to.as_deref()) {
        recipients = form::split_numbers(list);
    }
    if recipients.is_empty() {
        return error(
            400,
            "no recipient: give ?to=NUMBER,@GROUP in the contact point's URL or an sms_to label",
        );
    }
    let critical = status != "resolved" && alerts.iter().any(|a| a.critical);
    let smss: Vec<AlertSms> = recipients
        .into_iter()
        .map(|recipient| AlertSms {
            recipient,
            text: text.clone(),
            critical,
        })
        .collect();
    queue_alerts(app, req, &smss, &[], &source("grafana", user))
}

/// `text` cut (with `...`) to at most `max_parts` SMS parts.
pub fn cut_to_parts(text: &str, max_parts: usize) -> String {
    if crate::gsm::plan(text).1 <= max_parts {
        return text.to_owned();
    }
    let chars: Vec<char> = text.chars().collect();
    let (mut lo, mut hi) = (0, chars.len());
    let at = |n: usize| -> String {
        let mut s: String = chars[..n].iter().collect();
        s = s.trim_end().to_owned();
        s.push_str("...");
        s
    };
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if crate::gsm::plan(&at(mid)).1 <= max_parts {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    at(lo)
}

/// Whether the database is taken as unreachable (a MySQL store's spool
/// takes what is accepted).
fn degraded(app: &App) -> bool {
    app.intake.spool().is_some_and(|s| s.is_degraded())
}

/// The statuses last notified to `recipient` for `fps`. While the
/// database is unreachable (with a spool), those the spool recorded during
/// the outage: an alert notified before it is sent once more (twice
/// rather than never), a repeat within it is not.
fn notified(
    app: &App,
    recipient: &str,
    fps: &[String],
) -> Result<HashMap<String, String>, crate::store::StoreError> {
    let spool = app.intake.spool();
    let store = match spool {
        Some(spool) if spool.is_degraded() => spool.store(),
        _ => &app.store,
    };
    match store.notified_alerts(recipient, fps) {
        Ok(rows) => Ok(rows.into_iter().collect()),
        Err(e) => match spool {
            Some(spool) if e.kind() == ErrorKind::Unavailable && !spool.is_degraded() => {
                spool.enter_degraded(&e);
                let rows = spool.store().notified_alerts(recipient, fps)?;
                Ok(rows.into_iter().collect())
            }
            _ => Err(e),
        },
    }
}

fn store_failed(e: &crate::store::StoreError) -> Reply {
    log::error!("web: cannot read the notified alerts: {e}");
    match e.kind() {
        ErrorKind::Unavailable | ErrorKind::Conflict => {
            error(503, "database unavailable, try again later")
        }
        _ => error(503, "cannot store the request, see the server log"),
    }
}

/// Queues the SMS with the marks in one transaction, then answers.
fn queue_alerts(
    app: &App,
    req: &Req<'_>,
    smss: &[AlertSms],
    marks: &[AlertMark],
    source: &str,
) -> Reply {
    if smss.is_empty() {
        // Nothing new to send; a resolution not sent is still recorded.
        if !marks.is_empty() {
            let recorded = match app.intake.spool().and_then(|s| s.mark_if_degraded(marks)) {
                Some(spooled) => spooled,
                None => app.store.enqueue_marked(&[], marks).map(|_| ()),
            };
            if let Err(e) = recorded {
                return store_failed(&e);
            }
        }
        log::info!("web: {} {source}: nothing new to send", req.peer);
        return Reply::json(200, &json!({ "queued": 0, "ids": [] }));
    }
    let requests: Vec<Request> = smss
        .iter()
        .map(|s| {
            let mut r = Request::to(&s.recipient, &s.text);
            if s.critical {
                r.options.priority = Priority::Urgent;
            }
            r
        })
        .collect();
    match app.intake.submit_marked(&requests, source, marks) {
        Ok(ids) => {
            log::info!(
                "web: {} {source} queued {} message(s): {ids:?}",
                req.peer,
                ids.len()
            );
            Reply::json(
                200,
                &json!({ "queued": ids.len(), "ids": super::ids_json(&ids) }),
            )
        }
        Err(e @ (IntakeError::Unavailable(_) | IntakeError::Failed(_))) => {
            if let Some(cause) = e.store_error() {
                log::error!("web: {source}: cannot queue: {cause}");
            }
            error(503, e)
        }
        Err(IntakeError::Rejected(Rejection::NoRecipient)) => error(400, "no recipient"),
        Err(e) => {
            log::warn!("web: {} {source} refused: {e}", req.peer);
            error(400, e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_cut_to_their_parts() {
        assert_eq!(cut_to_parts("short", 1), "short");
        let long = "y".repeat(400);
        let one = cut_to_parts(&long, 1);
        assert_eq!(one.chars().count(), 160, "{one}");
        assert!(one.ends_with("..."));
        assert_eq!(crate::gsm::plan(&cut_to_parts(&long, 2)).1, 2);
    }

    #[test]
    fn alerts_are_read_from_the_payload() {
        let v: Value = serde_json::from_str(
            r#"{"status": "firing", "fingerprint": "abc",
                "labels": {"alertname": "HighCPU", "instance": "web1:9100",
                           "severity": "critical", "sms_to": "@dba"},
                "annotations": {"description": "long words"}}"#,
        )
        .unwrap();
        let a = parse_alert(&v).unwrap();
        assert_eq!(a.target, "web1");
        assert_eq!(a.summary, "long words");
        assert_eq!(a.sms_to.as_deref(), Some("@dba"));
        assert!(a.critical);
        assert_eq!(a.fingerprint, "abc");
        let bad: Value = serde_json::from_str(r#"{"status": "pending"}"#).unwrap();
        assert!(parse_alert(&bad).is_err());
    }
}
