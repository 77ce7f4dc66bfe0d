//! Voice calls after urgent SMS (issue 19, item 3) against the real
//! `serve`, the simulated modem (which answers, rejects, is busy or lets
//! a call ring out as the test says) and both databases: the call comes
//! after the SMS, to its number, is hung up as its outcome says, and the
//! `call` row has that outcome; no call for a normal SMS or with
//! `call-urgent = no`; one call for two urgent SMS to one number;
//! messages queued during a call go out after it; a modem that stops
//! answering during a call.

use std::time::Duration;

use smss::sim::{CallAnswer, SimCall};
use smss::store::{CallOutcome, CallRow};

use crate::integrations::{Fixture, fixture};
use crate::util::http;
use crate::util::*;

const WAIT: Duration = Duration::from_secs(30);
const ONCALL: &str = "420608337726";
const OTHER: &str = "420777123456";
/// `call-ring` in these tests.
const RING: Duration = Duration::from_secs(3);

fn calling(backend: Backend, extra: &[&str]) -> Fixture {
    let mut all = vec!["--call-urgent", "yes", "--call-ring", "3s"];
    all.extend_from_slice(extra);
    fixture(backend, &[], &all)
}

fn request(fx: &Fixture, line: &str) -> String {
    let mut s = connect(fx.serve.addr);
    send(&mut s, format!("{line}\n").as_bytes());
    let answer = read_answer(&mut s);
    assert!(answer.starts_with("OK"), "{line}: {answer}");
    answer
}

/// The id an `OK 1 <id>` answer gave.
fn id_of(answer: &str) -> i64 {
    answer.split_whitespace().nth(2).unwrap().parse().unwrap()
}

/// Waits for `n` recorded calls; returns them oldest first.
fn call_rows(fx: &Fixture, n: usize) -> Vec<CallRow> {
    let store = fx.db.store();
    let mut rows = Vec::new();
    wait_for(WAIT, || {
        rows = store.list_calls(100, None).unwrap();
        rows.len() >= n
    });
    rows.reverse();
    rows
}

fn ended_calls(fx: &Fixture, n: usize) -> Vec<SimCall> {
    let calls = fx.sim.handle.wait_for_calls(n, WAIT);
    assert!(
        calls.iter().filter(|c| c.ended.is_some()).count() >= n,
        "{calls:?}\n{}",
        fx.serve.log()
    );
    calls
}

/// One urgent alert to a callee that answers as `answer`: the call is
/// dialed after the SMS went, to its number; it ends as `answer` makes it
/// end; the row says `outcome`.
fn alert(
    backend: Backend,
    answer: CallAnswer,
    outcome: CallOutcome,
) -> (Fixture, SimCall, CallRow) {
    let fx = calling(backend, &[]);
    fx.sim.handle.answer_calls(ONCALL, answer);
    let id = id_of(&request(&fx, &format!("#!{ONCALL};db1 is down")));
    let calls = ended_calls(&fx, 1);
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = calls[0].clone();
    assert_eq!(call.number, format!("+{ONCALL}"));
    // after the SMS: the simulator had it when the call was dialed
    assert_eq!(call.sms_before, 1, "{call:?}");
    let sent = fx.sim.handle.state().sent.clone();
    assert_eq!(sent[0].number.trim_start_matches('+'), ONCALL);
    assert_eq!(sent[0].text, "db1 is down");
    let rows = call_rows(&fx, 1);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = rows[0].clone();
    assert_eq!(row.call.outcome, outcome, "{row:?}\n{}", fx.serve.log());
    assert_eq!(row.call.sms_id, id);
    assert_eq!(row.call.number, ONCALL);
    assert!(!row.call.sender.is_empty());
    assert!(row.call.ended >= row.call.started, "{row:?}");
    assert_eq!(row.call.error, None);
    (fx, call, row)
}

fn answered(backend: Backend) {
    let (fx, call, _) = alert(
        backend,
        CallAnswer::Answer(Duration::from_secs(1)),
        CallOutcome::Answered,
    );
    // smss hung up after the callee answered
    let answered = call.answered.expect("answered");
    let hung_up = call.hung_up.expect("hung up by smss");
    assert!(hung_up >= answered, "{call:?}");
    assert_eq!(call.ended_by.as_deref(), Some("AT+CHUP"));
    // seen: /metrics and the calls page
    let m = http::get(fx.web, "/metrics", &[]).text();
    assert!(
        m.contains("smss_calls_total{outcome=\"answered\"} 1\n"),
        "{m}"
    );
    assert!(
        m.contains("smss_calls_total{outcome=\"no answer\"} 0\n"),
        "{m}"
    );
    let page = http::get(fx.web, "/calls", &[]).text();
    assert!(page.contains(ONCALL) && page.contains("answered"), "{page}");
    // and on the message's row
    let sent = http::get(fx.web, "/sent", &[]).text();
    assert!(sent.contains("sent, urgent · call answered"), "{sent}");
}

fn busy(backend: Backend) {
    let (_fx, call, _) = alert(backend, CallAnswer::Busy, CallOutcome::Busy);
    // the network ended it: nothing to hang up
    assert_eq!(call.ended_by.as_deref(), Some("BUSY"), "{call:?}");
    assert_eq!(call.answered, None);
}

fn rejected(backend: Backend) {
    let (_fx, call, _) = alert(
        backend,
        CallAnswer::Reject(Duration::from_secs(1)),
        CallOutcome::Rejected,
    );
    assert_eq!(call.ended_by.as_deref(), Some("NO CARRIER"), "{call:?}");
    assert_eq!(call.answered, None);
}

fn rings_out(backend: Backend) {
    let (_fx, call, _) = alert(backend, CallAnswer::RingOut, CallOutcome::NoAnswer);
    let hung_up = call.hung_up.expect("hung up by smss");
    // not before call-ring
    assert!(hung_up >= call.dialed + RING, "{call:?}");
    assert_eq!(call.ended_by.as_deref(), Some("AT+CHUP"));
}

#[test]
fn an_answered_call_is_hung_up_and_recorded_sqlite() {
    answered(Backend::Sqlite);
}

#[test]
fn an_answered_call_is_hung_up_and_recorded_mysql() {
    answered(Backend::Mysql);
}

#[test]
fn a_busy_callee_is_recorded_busy_sqlite() {
    busy(Backend::Sqlite);
}

#[test]
fn a_busy_callee_is_recorded_busy_mysql() {
    busy(Backend::Mysql);
}

#[test]
fn a_declined_call_is_recorded_rejected_sqlite() {
    rejected(Backend::Sqlite);
}

#[test]
fn a_declined_call_is_recorded_rejected_mysql() {
    rejected(Backend::Mysql);
}

#[test]
fn a_call_that_rings_out_is_hung_up_after_call_ring_sqlite() {
    rings_out(Backend::Sqlite);
}

#[test]
fn a_call_that_rings_out_is_hung_up_after_call_ring_mysql() {
    rings_out(Backend::Mysql);
}

#[test]
fn a_normal_sms_makes_no_call() {
    let fx = calling(Backend::Sqlite, &[]);
    request(&fx, &format!("#{OTHER};disk 80% full"));
    assert_eq!(fx.sim.handle.wait_for_sent(1, WAIT).len(), 1);
    // an urgent one after it is called: the only call
    request(&fx, &format!("#!{ONCALL};disk full"));
    let calls = ended_calls(&fx, 1);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].number, format!("+{ONCALL}"));
    assert_eq!(calls[0].sms_before, 2);
    assert_eq!(call_rows(&fx, 1).len(), 1);
}

#[test]
fn call_urgent_no_makes_no_call() {
    let fx = fixture(Backend::Sqlite, &[], &[]);
    request(&fx, &format!("#!{ONCALL};db1 is down"));
    assert_eq!(fx.sim.handle.wait_for_sent(1, WAIT).len(), 1);
    // a call would come before the next message is claimed
    request(&fx, &format!("#{OTHER};next"));
    assert_eq!(fx.sim.handle.wait_for_sent(2, WAIT).len(), 2);
    let state = fx.sim.handle.state();
    assert!(state.calls.is_empty(), "{:?}", state.calls);
    assert!(
        !state.commands.iter().any(|(_, c)| c.starts_with("ATD")),
        "{:?}",
        state.commands
    );
    drop(state);
    assert!(fx.db.store().list_calls(10, None).unwrap().is_empty());
}

#[test]
fn two_urgent_sms_to_one_number_ring_it_once() {
    let fx = calling(Backend::Sqlite, &[]);
    // one line, one batch: both urgent, to one number, different texts
    request(
        &fx,
        &format!("#!{ONCALL};db1 is down#!{ONCALL};db2 is down"),
    );
    assert_eq!(fx.sim.handle.wait_for_sent(2, WAIT).len(), 2);
    // then another to someone else: its call comes after both
    request(&fx, &format!("#!{OTHER};web1 is down"));
    let calls = ended_calls(&fx, 2);
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].number, format!("+{ONCALL}"));
    assert_eq!(calls[1].number, format!("+{OTHER}"));
    assert!(
        fx.serve
            .log()
            .contains("not called, its last call ended less than call-ring (3s) ago"),
        "{}",
        fx.serve.log()
    );
    assert_eq!(call_rows(&fx, 2).len(), 2);
}

/// Messages queued while a call rings wait for it and are all sent after
/// it, once each.
fn queued_during_a_call(backend: Backend) {
    let fx = calling(backend, &[]);
    fx.sim.handle.answer_calls(ONCALL, CallAnswer::RingOut);
    request(&fx, &format!("#!{ONCALL};db1 is down"));
    assert!(fx.sim.handle.wait_until(WAIT, |s| s.call_up().is_some()));
    for n in 0..3 {
        request(&fx, &format!("#{OTHER};queued during the call {n}"));
    }
    let sent = fx.sim.handle.wait_for_sent(4, WAIT);
    assert_eq!(sent.len(), 4, "{sent:?}");
    let calls = ended_calls(&fx, 1);
    assert_eq!(calls[0].sms_before, 1);
    assert_eq!(
        calls[0].sms_at_end,
        Some(1),
        "nothing went on the air during the call"
    );
    let mut texts: Vec<&str> = sent[1..].iter().map(|s| s.text.as_str()).collect();
    texts.sort_unstable();
    assert_eq!(
        texts,
        [
            "queued during the call 0",
            "queued during the call 1",
            "queued during the call 2"
        ]
    );
    assert_eq!(call_rows(&fx, 1)[0].call.outcome, CallOutcome::NoAnswer);
    // all recorded as sent, none left queued
    let store = fx.db.store();
    assert!(wait_for(WAIT, || store.queue_stats().unwrap().depth == 0));
    assert_eq!(fx.sim.handle.state().sent.len(), 4);
}

#[test]
fn messages_queued_during_a_call_are_sent_after_it_sqlite() {
    queued_during_a_call(Backend::Sqlite);
}

#[test]
fn messages_queued_during_a_call_are_sent_after_it_mysql() {
    queued_during_a_call(Backend::Mysql);
}

#[test]
fn a_modem_that_stops_answering_during_a_call_is_recovered_and_the_call_failed() {
    let fx = calling(Backend::Sqlite, &["--command-timeout", "1s"]);
    fx.sim.handle.answer_calls(ONCALL, CallAnswer::RingOut);
    request(&fx, &format!("#!{ONCALL};db1 is down"));
    assert!(fx.sim.handle.wait_until(WAIT, |s| s.call_up().is_some()));
    // the next command (an AT+CLCC of the call) gets no answer
    fx.sim.handle.state().hang_commands = 1;
    let rows = call_rows(&fx, 1);
    assert_eq!(rows[0].call.outcome, CallOutcome::Failed, "{rows:?}");
    let error = rows[0].call.error.clone().unwrap_or_default();
    assert!(error.contains("did not answer"), "{error}");
    // recovered: the next message goes out; the alert went once
    request(&fx, &format!("#{OTHER};after the recovery"));
    let sent = fx.sim.handle.wait_for_sent(2, WAIT);
    assert_eq!(sent.len(), 2, "{sent:?}\n{}", fx.serve.log());
    assert_eq!(sent[0].text, "db1 is down");
    assert_eq!(sent[1].text, "after the recovery");
    assert!(
        fx.serve
            .log()
            .contains("does not answer: resetting it (ATZ)"),
        "{}",
        fx.serve.log()
    );
}

#[test]
fn call_ring_out_of_range_is_refused_with_what_to_set() {
    for (value, says) in [
        (
            "0",
            "'0' is too short: a call needs at least 1s to ring (to make no calls, set call-urgent = no)",
        ),
        ("10m", "'10m' is too long: at most 5m"),
    ] {
        let out = smss(&[
            "serve",
            "--config",
            "/dev/null",
            "--call-ring",
            value,
            "--check",
        ]);
        assert_eq!(out.status.code(), Some(1), "{value}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("--call-ring: {says}")),
            "{value}: {err}"
        );
    }
}

/// `send-pending` (cron) calls too, for an urgent row another tool inserted
/// with plain SQL, on a Huawei (whose ATH would leave a voice call up).
#[test]
fn send_pending_calls_on_a_huawei_after_an_urgent_row_inserted_with_plain_sql() {
    let dir = TempDir::new("calls_cron");
    let db = TestDb::new(Backend::Sqlite, &dir);
    db.init();
    db.store()
        .execute_sql(&format!(
            "INSERT INTO msg (phone, text, priority) VALUES ('{ONCALL}', 'ups on battery', 0)"
        ))
        .unwrap();
    let sim = smss::sim::PtySim::start_profile(&smss::sim::profiles::E173).unwrap();
    sim.handle
        .answer_calls(ONCALL, CallAnswer::Answer(Duration::from_secs(1)));
    let device = sim.path.display().to_string();
    let extra = [
        "--log-file",
        "none",
        "--call-urgent",
        "yes",
        "--call-ring",
        "3s",
    ];
    let out = send_pending(&db.url, &device, &dir, &extra);
    assert!(out.status.success(), "{}", stderr(&out));
    let state = sim.handle.state();
    assert_eq!(state.sent.len(), 1);
    assert_eq!(state.calls.len(), 1, "{:?}", state.calls);
    let call = &state.calls[0];
    assert_eq!(call.sms_before, 1);
    assert!(call.answered.is_some(), "{call:?}");
    assert_eq!(call.ended_by.as_deref(), Some("AT+CHUP"), "{call:?}");
    drop(state);
    let rows = db.store().list_calls(10, None).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].call.outcome, CallOutcome::Answered);
}

/// The database goes away while the urgent SMS is on the air: its finish
/// waits in memory, and the call is made all the same; once the database
/// is back the SMS is recorded as sent, once.
#[test]
fn the_call_follows_an_sms_whose_finish_waits_for_the_database() {
    let mut db = crate::util::mariadb::MariaDb::start();
    db.create_database("smss");
    let url = db.url("smss");
    let init = smss(&["init-db", "--config", "/dev/null", "--db", &url]);
    assert!(init.status.success(), "{}", stderr(&init));
    let dir = TempDir::new("calls_dbaway");
    let sim = smss::sim::PtySim::start().unwrap();
    let serve = Serve::start(
        &url,
        sim.path.to_str().unwrap(),
        &dir,
        &["--call-urgent", "yes", "--call-ring", "3s"],
    );
    sim.handle.state().hold_sends = true;
    let mut s = connect(serve.addr);
    send(&mut s, format!("#!{ONCALL};db1 is down\n").as_bytes());
    assert!(read_answer(&mut s).starts_with("OK 1 "));
    // the PDU is with the network; the database goes before its answer
    assert!(sim.handle.wait_until(WAIT, |st| {
        st.commands.iter().any(|(_, c)| c.starts_with("AT+CMGS="))
    }));
    db.stop();
    sim.handle.state().hold_sends = false;
    let calls = sim.handle.wait_for_calls(1, WAIT);
    assert_eq!(calls.len(), 1, "{calls:?}\n{}", serve.log());
    assert_eq!(calls[0].sms_before, 1);
    assert!(serve.wait_log("not recorded", WAIT), "{}", serve.log());
    db.resume();
    let store = smss::store::open_diagnostics(&url, false).unwrap();
    assert!(
        wait_for(WAIT, || store.recent_sms(10).is_ok_and(|rows| rows.len()
            == 1
            && rows[0].status == smss::store::SmsStatus::Sent)),
        "{}",
        serve.log()
    );
    assert_eq!(store.queue_stats().unwrap().depth, 0);
    assert_eq!(sim.handle.state().sent.len(), 1);
}
