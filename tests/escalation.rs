//! Escalation chains (issue 19 item 5) against the real `serve`, the
//! simulated modem and both databases: without an ACK the members are
//! alerted one after the other, each after the step time counted from
//! the previous SMS's sent time, then the chain is exhausted; a restart
//! of serve mid-chain keeps it; an ACK from a member alerted stops it; an
//! ACK from a number not alerted changes nothing.
//!
//! The ACK cases use a long step (1h) and move the step's sent time back
//! in the database once the ACK is in: whether a step is due is then not
//! a race with the reply. That no step follows an ACK is shown by a
//! second chain, not acknowledged, taking its step in the same passes.

use std::time::Duration;

use smss::store::{Escalation, EscalationState, ListFilter, StepStatus};

use crate::integrations::{Fixture, admin, fixture};
use crate::pager::reply;
use crate::util::http;
use crate::util::*;

const WAIT: Duration = Duration::from_secs(60);
const A: &str = "420608337726";
const B: &str = "420777123456";
const C: &str = "420606000111";

fn fast() -> Vec<&'static str> {
    vec!["--checkin-interval", "100ms"]
}

fn chain_of_three(step: &str) -> Vec<String> {
    ["group", "set", "oncall", A, B, C, "--escalate", step]
        .map(String::from)
        .to_vec()
}

fn start(backend: Backend, step: &str) -> Fixture {
    let setup = chain_of_three(step);
    let setup: Vec<&str> = setup.iter().map(String::as_str).collect();
    fixture(backend, &[&setup], &fast())
}

fn alert(addr: std::net::SocketAddr, line: &str) {
    let mut s = connect(addr);
    send(&mut s, format!("{line}\n").as_bytes());
    let answer = read_answer(&mut s);
    assert!(answer.starts_with("OK "), "{answer}");
}

fn chains(db: &TestDb) -> Vec<Escalation> {
    db.store().escalations(false, 100).unwrap()
}

/// Every message (sent and queued) as (number, text).
fn all_texts(db: &TestDb) -> Vec<(String, String)> {
    let store = db.store();
    let f = ListFilter {
        limit: 1000,
        ..Default::default()
    };
    let mut out: Vec<(String, String)> = store
        .list_sms(&f)
        .unwrap()
        .into_iter()
        .map(|r| (r.phone, r.text))
        .collect();
    out.extend(
        store
            .list_queued(&f)
            .unwrap()
            .into_iter()
            .map(|r| (r.phone, r.text)),
    );
    out
}

/// Seconds since the epoch of a stored UTC time `YYYY-MM-DD HH:MM:SS.fff`.
fn utc_secs(t: &str) -> f64 {
    let n = |r: std::ops::Range<usize>| t[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // days from civil (Howard Hinnant)
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs: f64 = t[17..].parse().unwrap();
    (days * 86_400 + n(11..13) * 3600 + n(14..16) * 60) as f64 + secs
}

/// Moves the sent time of the SMS `ids` two hours back: their step is due.
fn sent_long_ago(db: &TestDb, backend: Backend, ids: &[i64]) {
    let when = match backend {
        Backend::Sqlite => "strftime('%Y-%m-%d %H:%M:%f', 'now', '-2 hours')",
        Backend::Mysql => "NOW(3) - INTERVAL 2 HOUR",
    };
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    db.store()
        .execute_sql(&format!(
            "UPDATE sms SET sent_at = {when} WHERE id IN ({})",
            ids.join(", ")
        ))
        .unwrap();
}

fn no_ack_walks_the_chain(backend: Backend) {
    let fx = start(backend, "2s");
    alert(fx.serve.addr, "#@oncall;disk full on db1");
    let sent = fx.sim.handle.wait_for_sent(1, WAIT);
    assert_eq!(sent[0].number.trim_start_matches('+'), A);
    assert_eq!(sent[0].text, "[1/3] disk full on db1");
    let Fixture { db, sim, serve, .. } = &fx;
    let sent = sim.handle.wait_for_sent(3, WAIT);
    let got: Vec<(&str, &str)> = sent
        .iter()
        .map(|s| (s.number.trim_start_matches('+'), s.text.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (A, "[1/3] disk full on db1"),
            (B, "[2/3] disk full on db1"),
            (C, "[3/3] disk full on db1"),
        ]
    );
    assert!(wait_for(WAIT, || chains(db)[0].state == EscalationState::Exhausted));
    assert!(
        serve.wait_log("exhausted after 3 of 3 members, nobody acknowledged", WAIT),
        "{}",
        serve.log()
    );
    // each step was queued a step time after the previous one was sent
    let c = chains(db).remove(0);
    assert_eq!(c.steps.len(), 3, "{c:?}");
    let store = db.store();
    for pair in c.steps.windows(2) {
        let before = store.sms(pair[0].sms_id).unwrap().unwrap();
        let after = store.sms(pair[1].sms_id).unwrap().unwrap();
        let gap = utc_secs(&after.queued_at) - utc_secs(before.sent_at.as_deref().unwrap());
        // stored in milliseconds (and SQLite's julianday age is a float):
        // 2 ms of rounding allowed, far less than a step
        assert!(gap >= 1.998, "step {} after {gap} s: {c:?}", pair[1].step);
        assert_eq!(after.source, "escalation");
        assert_eq!(after.priority, smss::store::Priority::Urgent);
    }
    assert_eq!(
        store.sms(c.steps[0].sms_id).unwrap().unwrap().priority,
        smss::store::Priority::Urgent,
        "an escalation alert is urgent"
    );
    // nothing more: three more step times, still three SMS, none queued
    assert!(!wait_for(Duration::from_secs(6), || all_texts(db).len() > 3));
    assert_eq!(sim.handle.state().sent.len(), 3);
}

/// A restart of serve mid-chain: the chain is in the database, the new
/// serve takes the next step (a 1h step, its sent time moved back while
/// no serve runs, so the step is the new serve's).
fn a_restart_keeps_the_chain(backend: Backend) {
    let fx = start(backend, "1h");
    alert(fx.serve.addr, "#@oncall;disk full on db1");
    let c = wait_step(&fx, A, "[1/3] disk full on db1");
    let Fixture {
        _dir: dir,
        db,
        sim,
        serve,
        web,
    } = fx;
    assert!(serve.terminate().success());
    sent_long_ago(&db, backend, &[c.steps[0].sms_id]);
    let serve = Serve::start(&db.url, sim.path.to_str().unwrap(), &dir, &fast());
    let fx = Fixture {
        _dir: dir,
        db,
        sim,
        serve,
        web,
    };
    wait_step(&fx, B, "[2/3] disk full on db1");
    let logged = format!(
        "escalation #{} @oncall: no ACK within 1h, step 2/3 to {B}",
        c.id
    );
    assert!(fx.serve.wait_log(&logged, WAIT), "{}", fx.serve.log());
    let now = chains(&fx.db).remove(0);
    assert_eq!(
        (now.id, now.step, now.state),
        (c.id, 2, EscalationState::Active)
    );
}

#[test]
fn a_restart_of_serve_keeps_the_chain_sqlite() {
    a_restart_keeps_the_chain(Backend::Sqlite);
}

#[test]
fn a_restart_of_serve_keeps_the_chain_mysql() {
    a_restart_keeps_the_chain(Backend::Mysql);
}

#[test]
fn without_an_ack_the_chain_is_walked_and_exhausted_sqlite() {
    no_ack_walks_the_chain(Backend::Sqlite);
}

#[test]
fn without_an_ack_the_chain_is_walked_and_exhausted_mysql() {
    no_ack_walks_the_chain(Backend::Mysql);
}

/// Waits for the step SMS (number, text) to be sent; its chain.
fn wait_step(fx: &Fixture, number: &str, text: &str) -> Escalation {
    assert!(
        wait_for(WAIT, || fx.sim.handle.state().sent.iter().any(|s| s
            .number
            .trim_start_matches('+')
            == number
            && s.text == text)),
        "no {text:?} to {number}: {}",
        fx.serve.log()
    );
    let mut found = None;
    assert!(wait_for(WAIT, || {
        found = chains(&fx.db).into_iter().find(|c| {
            c.steps.iter().any(|s| {
                s.phone.trim_start_matches('+') == number
                    && matches!(s.status, StepStatus::Sent { .. })
                    && c.step_text(s.step) == text
            })
        });
        found.is_some()
    }));
    found.unwrap()
}

fn the_first_members_ack_stops_it(backend: Backend) {
    let fx = start(backend, "1h");
    alert(fx.serve.addr, "#@oncall;disk full on db1");
    let first = wait_step(&fx, A, "[1/3] disk full on db1");
    reply(&fx.sim, &format!("+{A}"), "ACK", 1);
    let confirm = format!(
        "ACK #{} by +{A}: [1/3] disk full on db1",
        first.steps[0].sms_id
    );
    wait_step_free(&fx, A, &confirm);
    assert!(wait_for(WAIT, || chains(&fx.db)
        .iter()
        .any(|c| c.id == first.id && c.state == EscalationState::Acked)));
    let acked = chains(&fx.db)
        .into_iter()
        .find(|c| c.id == first.id)
        .unwrap();
    assert_eq!(acked.acked_by, Some(format!("+{A}")));
    assert_eq!(
        fx.db
            .store()
            .acked(first.steps[0].sms_id)
            .unwrap()
            .unwrap()
            .1,
        format!("+{A}")
    );

    // a second alert, not acknowledged: visible while active
    alert(fx.serve.addr, "#@oncall;db1 down");
    let second = wait_step(&fx, A, "[1/3] db1 down");
    let m = http::get(fx.web, "/metrics", &[]).text();
    assert!(m.contains("\nsmss_escalations_active 1\n"), "{m}");
    let status = stdout(&admin(&fx.db.url, &["status"]));
    assert!(
        status.contains(&format!(
            "escalations: 1 active\n  #{} @oncall step 1/3 since ",
            second.id
        )),
        "{status}"
    );
    let page = http::get(fx.web, "/groups", &[]).text();
    assert!(page.contains("chain, every 1h"), "{page}");
    assert!(page.contains(&format!("ACK by +{A} ")), "{page}");
    assert!(page.contains("active, step 1/3"), "{page}");
    assert!(
        page.contains(&format!("1/3 {A} #{} sent ", first.steps[0].sms_id)),
        "{page}"
    );

    // both steps due now: only the chain not acknowledged goes on
    sent_long_ago(
        &fx.db,
        backend,
        &[first.steps[0].sms_id, second.steps[0].sms_id],
    );
    wait_step(&fx, B, "[2/3] db1 down");
    let texts = all_texts(&fx.db);
    assert!(
        !texts
            .iter()
            .any(|(_, t)| t.contains("disk full") && t.starts_with("[2/3]")),
        "{texts:?}"
    );
    let c = chains(&fx.db)
        .into_iter()
        .find(|c| c.id == first.id)
        .unwrap();
    assert_eq!((c.step, c.state), (1, EscalationState::Acked));
}

/// Waits until `text` was sent to `number`.
fn wait_step_free(fx: &Fixture, number: &str, text: &str) {
    assert!(
        wait_for(WAIT, || fx.sim.handle.state().sent.iter().any(|s| s
            .number
            .trim_start_matches('+')
            == number
            && s.text == text)),
        "no {text:?} to {number}: {}",
        fx.serve.log()
    );
}

#[test]
fn an_ack_from_the_first_member_stops_the_chain_sqlite() {
    the_first_members_ack_stops_it(Backend::Sqlite);
}

#[test]
fn an_ack_from_the_first_member_stops_the_chain_mysql() {
    the_first_members_ack_stops_it(Backend::Mysql);
}

fn an_ack_from_elsewhere_changes_nothing(backend: Backend) {
    let fx = start(backend, "1h");
    alert(fx.serve.addr, "#@oncall;disk full on db1");
    let chain = wait_step(&fx, A, "[1/3] disk full on db1");
    // the third member has not been alerted yet: the ACK changes nothing
    reply(&fx.sim, &format!("+{C}"), "ACK", 1);
    assert!(
        fx.serve
            .wait_log(&format!("ACK from +{C}: no alert to acknowledge"), WAIT),
        "{}",
        fx.serve.log()
    );
    let c = chains(&fx.db).remove(0);
    assert_eq!((c.step, c.state), (1, EscalationState::Active));
    // the chain goes on to the second member
    sent_long_ago(&fx.db, backend, &[chain.steps[0].sms_id]);
    let chain = wait_step(&fx, B, "[2/3] disk full on db1");
    // who was alerted second may acknowledge: the chain stops there
    reply(&fx.sim, &format!("+{B}"), "ok", 2);
    assert!(wait_for(WAIT, || chains(&fx.db)[0].state == EscalationState::Acked));
    assert_eq!(chains(&fx.db)[0].acked_by, Some(format!("+{B}")));
    // the first member, alerted before, is told who took it (and B too)
    let told = format!("by +{B}: [2/3] disk full on db1");
    for who in [A, B] {
        assert!(
            wait_for(WAIT, || all_texts(&fx.db).iter().any(|(p, t)| {
                p.trim_start_matches('+') == who && t.starts_with("ACK #") && t.contains(&told)
            })),
            "no confirmation to {who}: {:?}",
            all_texts(&fx.db)
        );
    }
    // another chain, due at once with the acknowledged one: only it steps
    alert(fx.serve.addr, "#@oncall;db2 down");
    let other = wait_step(&fx, A, "[1/3] db2 down");
    sent_long_ago(
        &fx.db,
        backend,
        &[chain.steps[1].sms_id, other.steps[0].sms_id],
    );
    wait_step(&fx, B, "[2/3] db2 down");
    let texts = all_texts(&fx.db);
    assert!(
        !texts.iter().any(|(p, _)| p.trim_start_matches('+') == C),
        "nothing to the third member: {texts:?}"
    );
}

#[test]
fn an_ack_from_a_number_not_alerted_changes_nothing_sqlite() {
    an_ack_from_elsewhere_changes_nothing(Backend::Sqlite);
}

#[test]
fn an_ack_from_a_number_not_alerted_changes_nothing_mysql() {
    an_ack_from_elsewhere_changes_nothing(Backend::Mysql);
}

/// `group set --escalate`: the refusals, `group list`, a chain of one,
/// and a plain group again.
#[test]
fn the_administrator_sets_a_chain() {
    let dir = TempDir::new("escadm");
    let db = TestDb::new(Backend::Sqlite, &dir);
    db.init();
    let o = admin(
        &db.url,
        &["group", "set", "oncall", A, B, C, "--escalate", "10m"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        format!(
            "smss group: created @oncall: {A}, {B}, {C} (escalation chain: the next member \
             after 10m without an ACK)"
        )
    );
    let o = admin(&db.url, &["group", "list"]);
    assert_eq!(stdout(&o), format!("@oncall\t{A},{B},{C}\tescalate 10m\n"));
    for (step, why) in [
        ("0", "the step time is whole seconds, at least 1s"),
        ("1500ms", "the step time is whole seconds, at least 1s"),
        (
            "soon",
            "'soon' should be a duration such as 500ms, 10s, 5m or 1h",
        ),
    ] {
        let o = admin(&db.url, &["group", "set", "oncall", A, "--escalate", step]);
        assert_eq!(o.status.code(), Some(2), "{step}: {}", stderr(&o));
        assert!(stderr(&o).contains(why), "{step}: {}", stderr(&o));
    }
    let o = admin(&db.url, &["group", "set", "oncall", A, "--escalate"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // refused: unchanged
    let o = admin(&db.url, &["group", "list"]);
    assert_eq!(stdout(&o), format!("@oncall\t{A},{B},{C}\tescalate 10m\n"));
    let o = admin(&db.url, &["group", "set", "solo", A, "--escalate", "1h"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!(
            "(an escalation chain of one member: the alert goes to {A} alone, urgent, and \
             ends unacknowledged after 1h)"
        )),
        "{}",
        stdout(&o)
    );
    // without --escalate: a plain group again
    let o = admin(&db.url, &["group", "set", "oncall", A, B]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = admin(&db.url, &["group", "list"]);
    assert_eq!(
        stdout(&o),
        format!("@oncall\t{A},{B}\n@solo\t{A}\tescalate 1h\n")
    );
}

/// Every way in that takes @group starts a chain: the urgent TCP line
/// `#!@oncall;`, the plain one, and `/api/send` with a batch mixing the
/// chain, a plain group and a number; each chain's first SMS goes to its
/// first member alone, the plain group's to every member.
#[test]
fn each_way_in_starts_a_chain() {
    let setup = chain_of_three("1h");
    let setup: Vec<&str> = setup.iter().map(String::as_str).collect();
    let fx = fixture(
        Backend::Sqlite,
        &[&setup, &["group", "set", "ops", B, C]],
        &fast(),
    );
    alert(fx.serve.addr, "#!@oncall;UPS on battery");
    alert(fx.serve.addr, "#@oncall;db1 down");
    let r = http::post(
        fx.web,
        "/api/send",
        &[("Content-Type", "application/json")],
        br#"{"to": ["@oncall", "@ops", "420731000111"], "text": "from the API"}"#,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(
        r.json()["queued"],
        4,
        "the chain's first member, both of ops, one"
    );
    // SMSEagle v2 (Uptime Kuma): one entry per message, the chain's one
    let token = crate::integrations::add_token(&fx.db.url, "kuma");
    let kuma = serde_json::json!({
        "text": "web1 down", "encoding": "unicode", "priority": 1,
        "groups": ["oncall", "ops"], "to": ["420731000111"],
    });
    let r = http::post(
        fx.web,
        "/api/v2/messages/sms",
        &[
            ("Content-Type", "application/json"),
            ("access-token", &token),
        ],
        kuma.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let entries = r.json();
    let to: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["to"].as_str().unwrap())
        .collect();
    assert_eq!(to, ["420731000111", "@oncall", "@ops", "@ops"], "{entries}");
    let sent = fx.sim.handle.wait_for_sent(10, WAIT);
    let mut got: Vec<(String, String)> = sent
        .into_iter()
        .map(|s| (s.number.trim_start_matches('+').to_owned(), s.text))
        .collect();
    got.sort();
    let want = |p: &str, t: &str| (p.to_owned(), t.to_owned());
    assert_eq!(
        got,
        [
            want(C, "from the API"),
            want(C, "web1 down"),
            want(A, "[1/3] UPS on battery"),
            want(A, "[1/3] db1 down"),
            want(A, "[1/3] from the API"),
            want(A, "[1/3] web1 down"),
            want("420731000111", "from the API"),
            want("420731000111", "web1 down"),
            want(B, "from the API"),
            want(B, "web1 down"),
        ]
    );
    let mut texts: Vec<String> = chains(&fx.db).into_iter().map(|c| c.text).collect();
    texts.sort();
    assert_eq!(
        texts,
        ["UPS on battery", "db1 down", "from the API", "web1 down"]
    );
}

/// Two serves, each with its modem, on one MariaDB database, both looking
/// every 50 ms: each step is queued once, the chain ends once.
#[test]
fn two_serves_on_one_mariadb_step_once() {
    let dir = TempDir::new("esc2");
    let db = TestDb::new(Backend::Mysql, &dir);
    db.init();
    let setup = chain_of_three("1s");
    let setup: Vec<&str> = setup.iter().map(String::as_str).collect();
    let out = admin(&db.url, &setup);
    assert!(out.status.success(), "{}", stderr(&out));
    let (sims, serves) = crate::pager::two_serves(&db, &dir, "esc", &[]);
    alert(serves[0].addr, "#@oncall;disk full");
    assert!(wait_for(WAIT, || chains(&db)
        .first()
        .is_some_and(|c| c.state == EscalationState::Exhausted)));
    // the line is written after the commit
    let ended_line = "exhausted after 3 of 3 members";
    assert!(wait_for(WAIT, || serves
        .iter()
        .any(|s| s.log().contains(ended_line))));
    let ended: usize = serves
        .iter()
        .filter(|s| s.log().contains(ended_line))
        .count();
    for s in serves {
        assert!(s.terminate().success());
    }
    let mut texts: Vec<(String, String)> = all_texts(&db);
    texts.sort();
    let mut want: Vec<(String, String)> = [(A, "[1/3]"), (B, "[2/3]"), (C, "[3/3]")]
        .iter()
        .map(|(p, k)| (p.to_string(), format!("{k} disk full")))
        .collect();
    want.sort();
    assert_eq!(texts, want);
    assert_eq!(ended, 1, "one serve ended the chain");
    let total: usize = sims.iter().map(|s| s.handle.state().sent.len()).sum();
    assert_eq!(total, 3);
}

/// The heartbeat is not an alert (nobody acknowledges it): to an
/// escalation group it goes to every member at once and starts no chain.
#[test]
fn the_heartbeat_to_a_chain_goes_to_every_member_and_starts_none() {
    let setup = chain_of_three("1h");
    let setup: Vec<&str> = setup.iter().map(String::as_str).collect();
    let mut extra = fast();
    extra.extend_from_slice(&["--heartbeat", "every 1h @oncall"]);
    let fx = fixture(Backend::Sqlite, &[&setup], &extra);
    let sent = fx.sim.handle.wait_for_sent(3, WAIT);
    let mut to: Vec<&str> = sent
        .iter()
        .map(|m| m.number.trim_start_matches('+'))
        .collect();
    to.sort_unstable();
    let mut all = vec![A, B, C];
    all.sort_unstable();
    assert_eq!(to, all);
    for m in &sent {
        assert!(m.text.starts_with("smss on "), "{}", m.text);
    }
    assert!(chains(&fx.db).is_empty(), "{:?}", chains(&fx.db));
}
