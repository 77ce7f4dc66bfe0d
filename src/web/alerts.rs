//! Alert notifications as short SMS: what `/api/alertmanager` (and
//! `/api/grafana`) make of a group of alerts. Pure: the handlers read the
//! payload and the store; this decides the words.
//!
//! One SMS per notification and recipient, as short as possible and at
//! most `alert-max-parts` parts, after Alertmanager's own default title:
//!
//! ```text
//! [FIRING:3] HighCPU web1,web2,web3: CPU above 90% for 5 minutes
//! [FIRING:1] HighCPU web4: CPU above 90%; resolved web1
//! [RESOLVED] HighCPU web1,web2: CPU above 90% for 5 minutes
//! [FIRING:40] HighCPU web1,web2,...,web17 +23 more: CPU above 90%
//! ```
//!
//! Targets (the `instance` label without its port, else `host`,
//! `hostname`, `job`) that do not fit, and alerts Alertmanager left out
//! (`truncatedAlerts`), are counted as `+N more`; a summary that does not
//! fit even alone is cut with `...` (GSM characters: an ellipsis
//! would make the whole text UCS-2, 70 characters a part).

use crate::gsm;

/// An alert's state as notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Firing,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "firing" => Some(Status::Firing),
            "resolved" => Some(Status::Resolved),
            _ => None,
        }
    }
}

/// One alert of a notification, as far as the SMS needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub fingerprint: String,
    pub status: Status,
    /// `alertname`.
    pub name: String,
    /// Where it fires: `instance` without its port, `host`, `hostname`,
    /// `job`; empty when none.
    pub target: String,
    /// `summary`, else `description` (annotations).
    pub summary: String,
    /// The `sms_to` label: recipients that override the request's `to`.
    pub sms_to: Option<String>,
    /// `severity=critical` (the priority of issue 18: urgent).
    pub critical: bool,
}

/// What the SMS of one notification to one recipient is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice<'a> {
    /// The group's alert name (`groupLabels`/`commonLabels` alertname,
    /// else the first alert's).
    pub name: &'a str,
    /// `commonAnnotations.summary`, when the group has one.
    pub common_summary: Option<&'a str>,
    pub firing: Vec<&'a Alert>,
    pub resolved: Vec<&'a Alert>,
    /// Alerts Alertmanager did not include (`truncatedAlerts`).
    pub truncated: usize,
}

/// `web1:9100` → `web1`; `[2001:db8::1]:9100` → `[2001:db8::1]`; anything
/// else as it is.
pub fn without_port(instance: &str) -> &str {
    match instance.rsplit_once(':') {
        Some((host, port))
            if !host.is_empty()
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (!host.contains(':') || (host.starts_with('[') && host.ends_with(']'))) =>
        {
            host
        }
        _ => instance,
    }
}

/// The distinct targets of `alerts`, in order, each with how many alerts
/// it stands for.
fn targets(alerts: &[&Alert]) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for a in alerts {
        match out.iter_mut().find(|(t, _)| *t == a.target) {
            Some((_, n)) => *n += 1,
            None => out.push((a.target.clone(), 1)),
        }
    }
    out
}

/// The first `k` targets joined by commas, and how many alerts the others
/// stand for.
fn shown(targets: &[(String, usize)], k: usize) -> (String, usize) {
    let list: Vec<&str> = targets[..k]
        .iter()
        .map(|(t, _)| t.as_str())
        .filter(|t| !t.is_empty())
        .collect();
    let hidden = targets[k..].iter().map(|(_, n)| n).sum();
    (list.join(","), hidden)
}

fn summary_of<'a>(common: Option<&'a str>, alerts: &[&'a Alert]) -> &'a str {
    if let Some(s) = common.filter(|s| !s.trim().is_empty()) {
        return s.trim();
    }
    alerts
        .iter()
        .map(|a| a.summary.trim())
        .find(|s| !s.is_empty())
        .unwrap_or("")
}

/// The text at one choice of targets shown (`k` firing, `r` resolved) and
/// summary (cut to `summary_chars` characters).
fn render(n: &Notice<'_>, k: usize, r: usize, summary: &str, summary_chars: usize) -> String {
    let fire = targets(&n.firing);
    let res = targets(&n.resolved);
    let cut: String = if summary.chars().count() > summary_chars {
        let mut s: String = summary.chars().take(summary_chars).collect();
        s = s.trim_end().to_owned();
        s.push_str("...");
        s
    } else {
        summary.to_owned()
    };
    let more = |list: String, hidden: usize| -> String {
        match (list.is_empty(), hidden) {
            (_, 0) => list,
            (true, h) => format!("+{h} more"),
            (false, h) => format!("{list} +{h} more"),
        }
    };
    let mut text = if n.firing.is_empty() {
        let (list, hidden) = shown(&res, r);
        let head = format!("[RESOLVED] {}", n.name);
        join_parts(&head, &more(list, hidden + n.truncated), &cut)
    } else {
        let (list, hidden) = shown(&fire, k);
        let head = format!("[FIRING:{}] {}", n.firing.len(), n.name);
        let mut t = join_parts(&head, &more(list, hidden + n.truncated), &cut);
        if !n.resolved.is_empty() {
            let (list, hidden) = shown(&res, r);
            let list = more(list, hidden);
            if list.is_empty() {
                t.push_str("; resolved");
            } else {
                t.push_str(&format!("; resolved {list}"));
            }
        }
        t
    };
    text.truncate(text.trim_end().len());
    text
}

fn join_parts(head: &str, targets: &str, summary: &str) -> String {
    let mut t = head.trim_end().to_owned();
    if !targets.is_empty() {
        t.push(' ');
        t.push_str(targets);
    }
    if !summary.is_empty() {
        t.push_str(": ");
        t.push_str(summary);
    }
    t
}

/// The SMS for a notice in at most `max_parts` parts: as many targets as
/// fit (firing first), the rest counted; the summary cut only when even
/// no target leaves room for it.
pub fn compose(n: &Notice<'_>, max_parts: usize) -> String {
    let fits = |t: &str| gsm::plan(t).1 <= max_parts;
    let summary = summary_of(
        n.common_summary,
        if n.firing.is_empty() {
            &n.resolved
        } else {
            &n.firing
        },
    );
    let full = summary.chars().count();
    let (nf, nr) = (targets(&n.firing).len(), targets(&n.resolved).len());
    // At least one target stays, if there is one: the summary is cut first.
    let (k_min, r_min) = if nf > 0 { (1, 0) } else { (0, nr.min(1)) };
    // Most targets first: all of them, then fewer resolved, then fewer firing.
    for k in (k_min..=nf).rev() {
        let r_range: Vec<usize> = if k == nf {
            (r_min..=nr).rev().collect()
        } else {
            vec![0]
        };
        for r in r_range {
            let t = render(n, k, r, summary, full);
            if fits(&t) {
                return t;
            }
        }
    }
    // Not even one target and the summary: cut the summary.
    let (mut lo, mut hi) = (0, full);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if fits(&render(n, k_min, r_min, summary, mid)) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let t = render(n, k_min, r_min, summary, lo);
    if fits(&t) {
        t
    } else {
        // a name too long for max-parts: cut the whole text
        let mut cut: String = String::new();
        for c in t.chars() {
            cut.push(c);
            if !fits(&cut) {
                cut.pop();
                break;
            }
        }
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(target: &str, status: Status, summary: &str) -> Alert {
        Alert {
            fingerprint: format!("fp-{target}"),
            status,
            name: "HighCPU".into(),
            target: target.into(),
            summary: summary.into(),
            sms_to: None,
            critical: false,
        }
    }

    fn notice<'a>(firing: &'a [Alert], resolved: &'a [Alert], truncated: usize) -> Notice<'a> {
        Notice {
            name: "HighCPU",
            common_summary: None,
            firing: firing.iter().collect(),
            resolved: resolved.iter().collect(),
            truncated,
        }
    }

    #[test]
    fn short_texts() {
        let f: Vec<Alert> = ["web1", "web2", "web1"]
            .iter()
            .map(|t| alert(t, Status::Firing, "CPU above 90%"))
            .collect();
        assert_eq!(
            compose(&notice(&f, &[], 0), 2),
            "[FIRING:3] HighCPU web1,web2: CPU above 90%"
        );
        let r = [alert("web1", Status::Resolved, "CPU above 90%")];
        assert_eq!(
            compose(&notice(&[], &r, 0), 2),
            "[RESOLVED] HighCPU web1: CPU above 90%"
        );
        assert_eq!(
            compose(&notice(&f[1..2], &r, 0), 2),
            "[FIRING:1] HighCPU web2: CPU above 90%; resolved web1"
        );
        assert_eq!(
            compose(&notice(&f[..1], &[], 4), 2),
            "[FIRING:1] HighCPU web1 +4 more: CPU above 90%"
        );
        let none = [alert("", Status::Firing, "")];
        assert_eq!(compose(&notice(&none, &[], 0), 1), "[FIRING:1] HighCPU");
    }

    #[test]
    fn what_does_not_fit_is_counted_or_cut() {
        let f: Vec<Alert> = (1..=60)
            .map(|i| {
                alert(
                    &format!("web{i:02}.example.org"),
                    Status::Firing,
                    "CPU high",
                )
            })
            .collect();
        let one = compose(&notice(&f, &[], 3), 1);
        assert!(gsm::plan(&one).1 == 1, "{one}");
        assert!(
            one.starts_with("[FIRING:60] HighCPU web01.example.org,"),
            "{one}"
        );
        let shown = one.matches(".example.org").count();
        assert!(
            one.ends_with(&format!(" +{} more: CPU high", 60 - shown + 3)),
            "{one}"
        );
        let two = compose(&notice(&f, &[], 0), 2);
        assert_eq!(gsm::plan(&two).1, 2, "{two}");
        assert!(two.matches(".example.org").count() > shown);
        // a summary too long even alone is cut
        let long = [alert("web1", Status::Firing, &"disk full ".repeat(80))];
        let t = compose(&notice(&long, &[], 0), 1);
        assert!(gsm::plan(&t).1 == 1 && t.ends_with("..."), "{t}");
        assert!(t.starts_with("[FIRING:1] HighCPU web1: disk full"), "{t}");
        // at the edge: 160 septets is one part ('[' and ']' take two)
        let s = "x".repeat(160 - "[FIRING:1] HighCPU a: ".len() - 2);
        let edge = [alert("a", Status::Firing, &s)];
        let t = compose(&notice(&edge, &[], 0), 1);
        assert_eq!(t, format!("[FIRING:1] HighCPU a: {s}"));
        let over = [alert("a", Status::Firing, &format!("{s}y"))];
        let t = compose(&notice(&over, &[], 0), 1);
        assert!(t.ends_with("...") && gsm::plan(&t).1 == 1, "{t}");
    }

    #[test]
    fn ports_are_dropped() {
        assert_eq!(without_port("web1:9100"), "web1");
        assert_eq!(without_port("10.0.0.1:9100"), "10.0.0.1");
        assert_eq!(without_port("[2001:db8::1]:9100"), "[2001:db8::1]");
        assert_eq!(without_port("2001:db8::1"), "2001:db8::1");
        assert_eq!(without_port("web1"), "web1");
        assert_eq!(without_port("http://x"), "http://x");
    }
}
