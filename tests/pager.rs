//! The pager (issue 19) against the real `serve`, the simulated modem and
//! both databases: check-ins created by their first report on each way in
//! (HTTP, the `#?checkin` line, `smss checkin`), one late SMS and one back
//! SMS, the state across a restart of serve, several serves on one
//! MariaDB alerting once, the refusals; the heartbeat.

use std::time::Duration;

use smss::sim::PtySim;
use smss::store::ListFilter;

use crate::integrations::{Fixture, add_token, admin, fixture};
use crate::util::http;
use crate::util::*;

const WAIT: Duration = Duration::from_secs(30);
const OPS: &str = "420608337726";

fn fast() -> Vec<&'static str> {
    vec!["--checkin-interval", "100ms"]
}

/// Rows (queued and sent) whose source is `source`, their texts.
fn texts(db: &TestDb, source: &str) -> Vec<String> {
    let store = db.store();
    let f = ListFilter {
        limit: 1000,
        ..Default::default()
    };
    let mut out: Vec<(i64, String)> = store
        .list_sms(&f)
        .unwrap()
        .into_iter()
        .filter(|r| r.source == source)
        .map(|r| (r.id, r.text))
        .collect();
    out.extend(
        store
            .list_queued(&f)
            .unwrap()
            .into_iter()
            .filter(|r| r.source == source)
            .map(|r| (r.id, r.text)),
    );
    out.sort();
    out.into_iter().map(|(_, t)| t).collect()
}

/// Two serves on `db`, each with its own simulator and instance name
/// (`<tag>0`, `<tag>1`), the pager every 50 ms, and `extra`.
pub fn two_serves(
    db: &TestDb,
    dir: &TempDir,
    tag: &str,
    extra: &[&str],
) -> ([PtySim; 2], Vec<Serve>) {
    let sims = [PtySim::start().unwrap(), PtySim::start().unwrap()];
    let serves = sims
        .iter()
        .enumerate()
        .map(|(i, sim)| {
            let instance = format!("{tag}{i}");
            let mut args = vec!["--checkin-interval", "50ms", "--instance", &instance];
            args.extend_from_slice(extra);
            Serve::start(&db.url, sim.path.to_str().unwrap(), dir, &args)
        })
        .collect();
    (sims, serves)
}

fn checkin_line(addr: std::net::SocketAddr, line: &str) -> String {
    let mut s = connect(addr);
    send(&mut s, format!("{line}\n").as_bytes());
    read_answer(&mut s)
}

fn late_then_back(backend: Backend) {
    let fx: Fixture = fixture(backend, &[&["group", "set", "ops", OPS]], &fast());
    let token = add_token(&fx.db.url, "cron");
    let bearer = format!("Bearer {token}");
    let r = http::get(
        fx.web,
        "/api/checkin/backup-db1?every=2s&grace=1s&to=@ops",
        &[("Authorization", &bearer)],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["recorded"], "created");
    // no report: late after every + grace, one SMS to the group's member
    let sent = fx.sim.handle.wait_for_sent(1, WAIT);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].number.trim_start_matches('+'), OPS);
    assert!(
        sent[0]
            .text
            .starts_with("backup-db1 missed its check-in: last "),
        "{}",
        sent[0].text
    );
    assert!(
        sent[0].text.ends_with(", expected every 2s"),
        "{}",
        sent[0].text
    );
    let c = fx.db.store().checkin("backup-db1").unwrap().unwrap();
    assert!(c.late);
    // seen late: /metrics, the web page, smss status
    let m = http::get(fx.web, "/metrics", &[("Authorization", &bearer)]).text();
    assert!(
        m.contains("smss_checkin_late{name=\"backup-db1\"} 1\n"),
        "{m}"
    );
    let seen = c.last_seen.unwrap();
    assert!(
        m.contains(&format!(
            "smss_checkin_last_seen_timestamp_seconds{{name=\"backup-db1\"}} {seen}\n"
        )),
        "{m}"
    );
    let page = http::get(fx.web, "/checkins", &[]).text();
    assert!(
        page.contains("backup-db1") && page.contains("state late"),
        "{page}"
    );
    let status = admin(&fx.db.url, &["status"]);
    assert_eq!(status.status.code(), Some(1), "{}", stdout(&status));
    assert!(
        stdout(&status).contains("  - check-in backup-db1 is late: last "),
        "{}",
        stdout(&status)
    );

    // a restart of serve: the state is in the database
    let Fixture {
        _dir: dir,
        db,
        sim,
        serve,
        ..
    } = fx;
    assert!(serve.terminate().success());
    let serve = Serve::start(&db.url, sim.path.to_str().unwrap(), &dir, &fast());
    assert_eq!(
        texts(&db, "checkin").len(),
        1,
        "the new serve alerts nothing again"
    );
    // the job runs again: the back SMS, once
    assert_eq!(checkin_line(serve.addr, "#?checkin backup-db1"), "OK");
    let sent = sim.handle.wait_for_sent(2, WAIT);
    assert_eq!(sent.len(), 2);
    assert!(
        sent[1].text.starts_with("backup-db1 checked in again at "),
        "{}",
        sent[1].text
    );
    // late again after its period: a second late SMS, nothing doubled
    let sent = sim.handle.wait_for_sent(3, WAIT);
    assert!(
        sent[2].text.contains("missed its check-in"),
        "{}",
        sent[2].text
    );
    drop(serve);
    let all = texts(&db, "checkin");
    assert_eq!(all.len(), 3, "{all:?}");
}

#[test]
fn a_checkin_goes_late_once_and_comes_back_sqlite() {
    late_then_back(Backend::Sqlite);
}

#[test]
fn a_checkin_goes_late_once_and_comes_back_mysql() {
    late_then_back(Backend::Mysql);
}

/// Two serves, each with its modem, on one MariaDB database, both looking
/// every 50 ms: the late check-in is alerted once, the back SMS once.
#[test]
fn two_serves_on_one_mariadb_alert_once() {
    let dir = TempDir::new("pager2");
    let db = TestDb::new(Backend::Mysql, &dir);
    db.init();
    let out = admin(&db.url, &["group", "set", "ops", OPS]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (sims, serves) = two_serves(&db, &dir, "pager", &[]);
    assert_eq!(
        checkin_line(
            serves[0].addr,
            "#?checkin nightly every=1s grace=1s to=@ops"
        ),
        "OK"
    );
    let sent_total = || {
        sims.iter()
            .map(|s| s.handle.state().sent.len())
            .sum::<usize>()
    };
    assert!(wait_for(WAIT, || sent_total() >= 1), "no late SMS");
    // both serves had many passes while the SMS went out
    assert!(wait_for(WAIT, || db
        .store()
        .checkin("nightly")
        .unwrap()
        .is_some_and(|c| c.late)));
    // a longer period first, so that it cannot go late again here
    db.store()
        .execute_sql("UPDATE checkin SET every_secs = 86400")
        .unwrap();
    assert_eq!(checkin_line(serves[1].addr, "#?checkin nightly"), "OK");
    assert!(wait_for(WAIT, || sent_total() >= 2), "no back SMS");
    for s in serves {
        assert!(s.terminate().success());
    }
    let all = texts(&db, "checkin");
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all[0].starts_with("nightly missed its check-in"), "{all:?}");
    assert!(all[1].starts_with("nightly checked in again"), "{all:?}");
}

#[test]
fn refusals_and_exit_codes() {
    let hash = password_hash("pager test");
    let mut extra = fast();
    extra.extend_from_slice(&["--web-password-hash", &hash, "--web-auth-delay", "0"]);
    let fx = fixture(Backend::Sqlite, &[&["group", "set", "ops", OPS]], &extra);
    let token = add_token(&fx.db.url, "cron");
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];
    // no token, a wrong one
    let r = http::get(fx.web, "/api/checkin/job?every=1h&to=@ops", &[]);
    assert_eq!(r.status, 401, "{}", r.text());
    let wrong = format!("Bearer {}", "0".repeat(token.len()));
    let r = http::get(
        fx.web,
        "/api/checkin/job?every=1h&to=@ops",
        &[("Authorization", &wrong)],
    );
    assert_eq!(r.status, 401, "{}", r.text());
    // unknown name without every/to
    let r = http::get(fx.web, "/api/checkin/job", &auth);
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("no check-in 'job': its first check-in needs every= and to="),
        "{}",
        r.text()
    );
    for (query, why) in [
        ("every=soon&to=@ops", "invalid every 'soon'"),
        ("every=0&to=@ops", "invalid every '0'"),
        ("every=1h&to=@nobody", "no group '@nobody'"),
        ("every=1h&to=12", "invalid recipient '12'"),
        (
            "every=1h&to=@ops&often=1",
            "unknown check-in option 'often'",
        ),
    ] {
        let r = http::get(fx.web, &format!("/api/checkin/job?{query}"), &auth);
        assert_eq!(r.status, 400, "{query}: {}", r.text());
        let e = r.json()["error"].as_str().unwrap().to_owned();
        assert!(e.starts_with(why), "{query}: {e}");
    }
    let r = http::post(
        fx.web,
        "/api/checkin/a%20b",
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        fx.db.store().checkins().unwrap().is_empty(),
        "nothing created"
    );
    // POST with a form body creates it
    let r = http::post(
        fx.web,
        "/api/checkin/job",
        &[
            ("Authorization", &bearer),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        b"every=1h&grace=5m&to=%40ops",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["recorded"], "created");
    let r = http::get(fx.web, "/api/checkin/job", &auth);
    assert_eq!(r.json()["recorded"], "seen");

    // the TCP line
    assert_eq!(
        checkin_line(fx.serve.addr, "#?checkin other"),
        "ERR no check-in 'other': its first check-in needs every= and to= \
         (or smss checkin add other --every 24h --to @group)"
    );
    assert!(
        checkin_line(fx.serve.addr, "#?checkin other every=x").starts_with("ERR invalid every")
    );
    assert!(checkin_line(fx.serve.addr, "#?ping").starts_with("ERR unknown command"));

    // smss checkin: 0 recorded, 1 refused or unreachable, 2 usage
    let addr = fx.serve.addr.to_string();
    let run = |args: &[&str]| {
        let mut all = vec!["checkin", "-a", &addr];
        all.extend_from_slice(args);
        smss(&all)
    };
    let o = run(&["job"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "OK");
    let o = run(&["new-job", "--every", "2h", "--to", "@ops", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    let o = run(&["unknown-job"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("refused the check-in unknown-job: ERR no check-in"),
        "{}",
        stderr(&o)
    );
    let o = run(&["job", "--every", "never"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(2));
    let o = smss(&["checkin", "-a", "127.0.0.1:1", "job"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot connect to 127.0.0.1:1"),
        "{}",
        stderr(&o)
    );
    let names: Vec<String> = fx
        .db
        .store()
        .checkins()
        .unwrap()
        .into_iter()
        .map(|c| c.def.name)
        .collect();
    assert_eq!(names, ["job", "new-job"]);
    assert!(texts(&fx.db, "checkin").is_empty());
}

#[test]
fn the_administrator_adds_lists_and_removes() {
    let dir = TempDir::new("pageradm");
    let db = TestDb::new(Backend::Sqlite, &dir);
    db.init();
    assert!(
        admin(&db.url, &["group", "set", "ops", OPS])
            .status
            .success()
    );
    let o = admin(
        &db.url,
        &[
            "checkin",
            "add",
            "backup-db1",
            "--every",
            "24h",
            "--grace",
            "1h",
            "--to",
            "@ops",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        "smss checkin: added backup-db1: every 1d, grace 1h, to @ops"
    );
    let o = admin(
        &db.url,
        &["checkin", "add", "x", "--every", "1h", "--to", "@nobody"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no group '@nobody'"), "{}", stderr(&o));
    let o = admin(&db.url, &["checkin", "add", "x", "--to", "@ops"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = admin(&db.url, &["checkin", "list"]);
    let out = stdout(&o);
    assert!(
        out.starts_with("backup-db1\tok\tevery 1d grace 1h\tlast never\tnext due "),
        "{out}"
    );
    assert!(out.trim_end().ends_with("\tto @ops"), "{out}");
    let o = admin(&db.url, &["checkin", "remove", "backup-db1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = admin(&db.url, &["checkin", "remove", "backup-db1"]);
    assert_eq!(o.status.code(), Some(1));
    let o = admin(&db.url, &["checkin", "list"]);
    assert!(stdout(&o).starts_with("no check-ins"), "{}", stdout(&o));
}

/// `heartbeat = every 2s @ops`: the interval form of the daily heartbeat
/// (the time-of-day slot is unit-tested in src/pager/heartbeat.rs).
#[test]
fn the_heartbeat_is_sent() {
    let mut extra = fast();
    extra.extend_from_slice(&["--heartbeat", "every 2s @ops"]);
    let fx = fixture(Backend::Sqlite, &[&["group", "set", "ops", OPS]], &extra);
    let sent = fx.sim.handle.wait_for_sent(1, WAIT);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].number.trim_start_matches('+'), OPS);
    assert!(sent[0].text.starts_with("smss on "), "{}", sent[0].text);
    assert!(
        sent[0].text.contains(" alive: 0 sent, 0 failed, queue "),
        "{}",
        sent[0].text
    );
    assert!(sent[0].text.contains(", signal "), "{}", sent[0].text);
    // the next interval: another one (what it counts depends on when the
    // first went out)
    let sent = fx.sim.handle.wait_for_sent(2, WAIT);
    assert!(sent[1].text.starts_with("smss on "), "{}", sent[1].text);
    assert!(texts(&fx.db, "heartbeat").len() >= 2);
}

/// Two serves on one MariaDB database, both with the heartbeat: each slot
/// is sent by one of them (`every 1h`: the slot of now is due at once).
#[test]
fn the_heartbeat_goes_once_from_two_serves() {
    let dir = TempDir::new("pagerhb");
    let db = TestDb::new(Backend::Mysql, &dir);
    db.init();
    let (_sims, serves) = two_serves(&db, &dir, "hb", &["--heartbeat", "every 1h 420608337726"]);
    // each has tried: one queued it, the other found it sent (and both
    // keep finding it sent)
    for s in &serves {
        assert!(s.wait_log("heartbeat: slot ", WAIT), "{}", s.log());
    }
    let all = texts(&db, "heartbeat");
    assert_eq!(all.len(), 1, "{all:?}");
    let queued_by: usize = serves
        .iter()
        .filter(|s| s.log().contains("heartbeat queued: smss on "))
        .count();
    assert_eq!(queued_by, 1);
}

pub fn reply(sim: &PtySim, from: &str, text: &str, second: u8) {
    use smss::gsm::{DeliverRef, encode_deliver};
    let pdu = &encode_deliver(
        from,
        text,
        smsc_time(second),
        DeliverRef {
            reference: 0,
            ref16: false,
        },
    )[0];
    sim.handle.deliver("SM", pdu).unwrap();
}

/// `ACK` from the number alerted acknowledges the alert and is confirmed;
/// from another number, or for an alert that did not go there, nothing.
#[test]
fn an_ack_reply_acknowledges_the_alert() {
    let fx = fixture(Backend::Sqlite, &[], &fast());
    let mut s = connect(fx.serve.addr);
    send(
        &mut s,
        format!("#{OPS};disk full on db1#420777123456;other\n").as_bytes(),
    );
    let answer = read_answer(&mut s);
    assert!(answer.starts_with("OK "), "{answer}");
    let sent = fx.sim.handle.wait_for_sent(2, WAIT);
    assert_eq!(sent.len(), 2);
    let alert = crate::integrations::all_sms(&fx.db)
        .into_iter()
        .find(|r| r.phone == OPS)
        .unwrap();
    // not alerted: nothing
    reply(&fx.sim, "+420731000111", "ACK", 1);
    assert!(
        fx.serve
            .wait_log("ACK from +420731000111: no alert to acknowledge", WAIT)
    );
    // an id that did not go to this number: nothing
    let other = alert.id + 1;
    reply(&fx.sim, &format!("+{OPS}"), &format!("ACK {other}"), 2);
    assert!(fx.serve.wait_log(
        &format!("ACK from +{OPS}: no alert to acknowledge with id {other}"),
        WAIT
    ));
    assert_eq!(fx.db.store().acked(alert.id).unwrap(), None);
    assert_eq!(fx.db.store().acked(other).unwrap(), None);
    // the alerted number: acknowledged, confirmed
    reply(&fx.sim, &format!("+{OPS}"), "ack", 3);
    let sent = fx.sim.handle.wait_for_sent(3, WAIT);
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[2].number.trim_start_matches('+'), OPS);
    assert_eq!(
        sent[2].text,
        format!("ACK #{} by +{OPS}: disk full on db1", alert.id)
    );
    let (_, by) = fx.db.store().acked(alert.id).unwrap().unwrap();
    assert_eq!(by, format!("+{OPS}"));
    // shown: the Sent list, /api/messages
    let page = http::get(fx.web, "/sent", &[]).text();
    assert!(page.contains(&format!("sent · ACK by +{OPS} ")), "{page}");
    let api = http::get(fx.web, "/api/messages?status=sent", &[]).json();
    let row = api["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == alert.id)
        .unwrap()
        .clone();
    assert_eq!(row["acked_by"], format!("+{OPS}"), "{row}");
    assert!(row["acked_at"].is_i64(), "{row}");
    // again: nothing left to acknowledge there
    reply(&fx.sim, &format!("+{OPS}"), "OK", 4);
    let nothing_left = format!("ACK from +{OPS}: no alert to acknowledge");
    assert!(wait_for(WAIT, || fx
        .serve
        .log()
        .lines()
        .any(|l| l.ends_with(&nothing_left))));
    assert_eq!(texts(&fx.db, "ack").len(), 1);
}
