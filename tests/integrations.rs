//! Where the alerts come from (issue 17), against the real `serve` and the
//! simulated modem: recipient groups on every way in, API tokens, and the
//! webhooks and compatible endpoints, each with a real HTTP client over a
//! real socket.

use std::net::SocketAddr;
use std::time::Duration;

use smss::sim::PtySim;
use smss::store::ListFilter;

use crate::util::http;
use crate::util::*;

const WAIT: Duration = Duration::from_secs(30);

pub struct Fixture {
    pub _dir: TempDir,
    pub db: TestDb,
    pub sim: PtySim,
    pub serve: Serve,
    pub web: SocketAddr,
}

/// serve on a fresh database (schema by `init-db`) with the web on
/// loopback; `setup` runs `smss` commands (groups, tokens) first.
pub fn fixture(backend: Backend, setup: &[&[&str]], extra: &[&str]) -> Fixture {
    let dir = TempDir::new("integr");
    let db = TestDb::new(backend, &dir);
    db.init();
    for args in setup {
        let out = admin(&db.url, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let sim = PtySim::start().unwrap();
    let mut all = vec!["--web-listen", "127.0.0.1:0"];
    all.extend_from_slice(extra);
    let serve = Serve::start(&db.url, sim.path.to_str().unwrap(), &dir, &all);
    let web = serve.web_addr();
    Fixture {
        _dir: dir,
        db,
        sim,
        serve,
        web,
    }
}

/// `smss ARGS --config /dev/null --db URL`.
pub fn admin(db: &str, args: &[&str]) -> std::process::Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend_from_slice(&["--config", "/dev/null", "--db", db]);
    smss(&all)
}

pub fn all_sms(db: &TestDb) -> Vec<smss::store::SmsRow> {
    db.store()
        .list_sms(&ListFilter {
            limit: 1000,
            ..Default::default()
        })
        .unwrap()
}

/// The numbers and texts the modem sent, sorted.
fn sent_pairs(sim: &PtySim, n: usize) -> Vec<(String, String)> {
    let mut got: Vec<(String, String)> = sim
        .handle
        .wait_for_sent(n, WAIT)
        .into_iter()
        .map(|s| (s.number, s.text))
        .collect();
    got.sort();
    got
}

#[test]
fn group_commands_check_their_input() {
    let dir = TempDir::new("groups_cli");
    let db = TestDb::new(Backend::Sqlite, &dir);
    db.init();
    let out = admin(
        &db.url,
        &["group", "set", "oncall", "420608337726", "+420777123456"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "smss group: created @oncall: 420608337726, +420777123456\n"
    );
    // a bad number: nothing changes
    let out = admin(&db.url, &["group", "set", "oncall", "420608337726", "12x"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("invalid phone number '12x' (use an optional + and 3 to 20 digits)"),
        "{}",
        stderr(&out)
    );
    let out = admin(&db.url, &["group", "set", "on call", "420608337726"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = admin(&db.url, &["group", "set", "dba", "123456,654321"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = admin(&db.url, &["group", "list"]);
    assert_eq!(
        stdout(&out),
        "@dba\t123456,654321\n@oncall\t420608337726,+420777123456\n"
    );
    // replaced
    let out = admin(&db.url, &["group", "set", "@dba", "999999"]);
    assert_eq!(stdout(&out), "smss group: replaced @dba: 999999\n");
    let out = admin(&db.url, &["group", "remove", "dba"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = admin(&db.url, &["group", "remove", "dba"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("there is no group @dba"),
        "{}",
        stderr(&out)
    );
    let out = admin(&db.url, &["group", "list"]);
    assert_eq!(stdout(&out), "@oncall\t420608337726,+420777123456\n");
    let out = admin(&db.url, &["group", "frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn groups_work_on_tcp_web_and_api() {
    let f = fixture(
        Backend::Sqlite,
        &[&["group", "set", "oncall", "420608337726", "420777123456"]],
        &["--max-recipients", "3"],
    );
    // TCP: `#@oncall;text`, and a group followed by a number
    let mut s = connect(f.serve.addr);
    send(&mut s, b"#@oncall;disk full#420111222333;also\n");
    let answer = read_answer(&mut s);
    assert!(answer.starts_with("OK 3 "), "{answer}");
    send(&mut s, b"#@nobody;x\n");
    assert_eq!(
        read_answer(&mut s),
        "ERR request 1: no group '@nobody' (smss group list shows the groups)"
    );
    // 2 members + 2 numbers > max-recipients 3: nothing queued
    send(&mut s, b"#@oncall;x#420111222333;y#420111222334;z\n");
    assert_eq!(
        read_answer(&mut s),
        "ERR too many recipients: 4, at most 3 in one request (max-recipients)"
    );
    drop(s);
    assert_eq!(
        sent_pairs(&f.sim, 3),
        [
            ("+420111222333".to_string(), "also".to_string()),
            ("+420608337726".to_string(), "disk full".to_string()),
            ("+420777123456".to_string(), "disk full".to_string()),
        ]
    );
    // the API
    let json = [("Content-Type", "application/json")];
    let r = http::post(
        f.web,
        "/api/send",
        &json,
        br#"{"to": "@oncall", "text": "from the API"}"#,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.json()["queued"], 2);
    let r = http::post(
        f.web,
        "/api/send",
        &json,
        br#"{"to": ["@nobody"], "text": "x"}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.json()["error"],
        "request 1: no group '@nobody' (smss group list shows the groups)"
    );
    f.sim.handle.wait_for_sent(5, WAIT);
    // the record keeps the group; the lists show it
    assert!(wait_for(WAIT, || all_sms(&f.db).len() == 5));
    let rows = all_sms(&f.db);
    let via: Vec<Option<&str>> = rows.iter().map(|r| r.group.as_deref()).collect();
    assert_eq!(
        via.iter().filter(|g| **g == Some("oncall")).count(),
        4,
        "{via:?}"
    );
    let page = http::get(f.web, "/sent", &[]).text();
    assert!(page.contains("· @oncall"), "{page}");
    let page = http::get(f.web, "/groups", &[]).text();
    assert!(
        page.contains("@oncall") && page.contains("420608337726, 420777123456"),
        "{page}"
    );
    let api = http::get(f.web, "/api/messages", &[]).json();
    assert_eq!(api["messages"][0]["group"], "oncall", "{api}");
}
