//! A MySQL store that goes away (issue 20): requests are committed to the
//! local spool and answered OK (`L<id>`), sent from there by the modem
//! while the database is down, and moved into the database (unsent ones
//! into `msg`, sent ones into `sms`, received ones into `rcv`) exactly once
//! when it answers again, also across a kill -9 of serve in the middle of
//! the move, and with serve started while it is down. Each test has its
//! own `mariadbd` (util/mariadb.rs), which it stops for real.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smss::gsm::{DeliverRef, encode_deliver};
use smss::sim::{PtySim, SentSms};
use smss::store::{ListFilter, SmsStatus, StoreDiagnostics};

use crate::util::http;
use crate::util::mariadb::MariaDb;
use crate::util::*;

fn request(addr: std::net::SocketAddr, line: &str) -> String {
    let mut s = connect(addr);
    send(&mut s, format!("{line}\n").as_bytes());
    read_answer(&mut s)
}

/// Sends `lines` lines of `per_line` requests (`l<line> <tag><i>`) to a
/// degraded serve: each answered `OK n L...` (spooled). Returns the texts.
fn spool_lines(
    addr: std::net::SocketAddr,
    lines: usize,
    per_line: usize,
    tag: &str,
) -> Vec<String> {
    let mut texts = Vec::new();
    for l in 0..lines {
        let line: String = (0..per_line)
            .map(|i| {
                let text = format!("l{l} {tag}{i}");
                texts.push(text.clone());
                format!("#420777{l:06};{text}")
            })
            .collect();
        let answer = request(addr, &line);
        assert!(answer.starts_with(&format!("OK {per_line} L")), "{answer}");
    }
    texts
}

/// A throwaway server with an initialised `smss` database.
fn database() -> (MariaDb, String) {
    let db = MariaDb::start();
    db.create_database("smss");
    let url = db.url("smss");
    let init = smss(&["init-db", "--config", "/dev/null", "--db", &url]);
    assert!(init.status.success(), "{}", stderr(&init));
    (db, url)
}

fn spool_path(dir: &TempDir) -> PathBuf {
    dir.path().join("spool.db")
}

/// Messages in the spool file now.
fn spooled(path: &Path) -> u64 {
    let store = smss::store::open(&format!("sqlite://{}", path.display()), false).unwrap();
    store.count_spooled().unwrap()
}

/// How many `sms` rows have each text.
fn sms_texts(store: &dyn StoreDiagnostics) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for r in store
        .list_sms(&ListFilter {
            limit: 100_000,
            ..Default::default()
        })
        .unwrap()
    {
        assert_eq!(r.status, SmsStatus::Sent, "{r:?}");
        *counts.entry(r.text).or_insert(0) += 1;
    }
    counts
}

/// Waits until `sms` holds `texts`, each once, and nothing else, with the
/// queue and the spool empty.
fn assert_each_sent_once(
    store: &dyn StoreDiagnostics,
    texts: &[String],
    spool: &Path,
    log: &dyn Fn() -> String,
) {
    let all_in = wait_for(Duration::from_secs(300), || {
        store.queue_stats().unwrap().depth == 0
            && store.totals().unwrap().sent >= texts.len() as u64
            && spooled(spool) == 0
    });
    assert!(all_in, "not all sent: {:?}\n{}", store.totals(), log());
    let counts = sms_texts(store);
    for t in texts {
        assert_eq!(
            counts.get(t),
            Some(&1),
            "{t}: {:?}\n{}",
            counts.get(t),
            log()
        );
    }
    assert_eq!(counts.len(), texts.len(), "texts nobody sent");
    assert_eq!(spooled(spool), 0);
}

/// How often the simulator put each text on the air.
fn on_air(sent: &[SentSms]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for m in sent {
        *counts.entry(m.text.clone()).or_insert(0) += 1;
    }
    counts
}

/// Waits until the simulator sent each of `texts` (the database still
/// down), and none of them twice.
fn assert_sent_from_spool(sim: &PtySim, texts: &[String], log: &dyn Fn() -> String) {
    let all = sim.handle.wait_until(Duration::from_secs(30), |s| {
        let sent = on_air(&s.sent);
        texts.iter().all(|t| sent.contains_key(t))
    });
    let sent = on_air(&sim.handle.state().sent);
    assert!(
        all,
        "not sent during the outage: {:?}\n{}",
        texts
            .iter()
            .filter(|t| !sent.contains_key(*t))
            .collect::<Vec<_>>(),
        log()
    );
    for t in texts {
        assert_eq!(sent[t], 1, "{t} on the air twice\n{}", log());
    }
}

#[test]
fn a_database_stopped_during_a_burst_loses_and_doubles_nothing() {
    const CLIENTS: usize = 4;
    let (mut db, url) = database();
    let dir = TempDir::new("spool_burst");
    let sim = PtySim::start().unwrap();
    let serve = Serve::start(
        &url,
        sim.path.to_str().unwrap(),
        &dir,
        &["--spool-retry", "300ms"],
    );
    let addr = serve.addr;
    let answered = Arc::new(AtomicUsize::new(0));
    let in_spool = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (answered, in_spool, done, answers) = (
                Arc::clone(&answered),
                Arc::clone(&in_spool),
                Arc::clone(&done),
                Arc::clone(&answers),
            );
            std::thread::spawn(move || {
                // One connection each, a line after each answer (a new
                // connection per request can meet the per-peer cap while
                // the server has not yet seen the last one close).
                let mut conn = connect(addr);
                let mut i = 0;
                while !done.load(Ordering::SeqCst) {
                    let text = format!("c{c} r{i}");
                    send(&mut conn, format!("#420777{c:06};{text}\n").as_bytes());
                    let answer = read_answer(&mut conn);
                    if answer.starts_with("OK 1 L") {
                        in_spool.fetch_add(1, Ordering::SeqCst);
                    }
                    answers.lock().unwrap().push((text, answer));
                    answered.fetch_add(1, Ordering::SeqCst);
                    i += 1;
                }
            })
        })
        .collect();
    let at_least = |counter: &AtomicUsize, n: usize| {
        assert!(
            wait_for(Duration::from_secs(120), || counter.load(Ordering::SeqCst)
                >= n),
            "{}",
            serve.log()
        );
    };
    at_least(&answered, 40);
    db.stop();
    at_least(&in_spool, 40);
    done.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    // every message spooled is sent while the database is still down
    let spooled_texts: Vec<String> = answers
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, a)| a.starts_with("OK 1 L"))
        .map(|(t, _)| t.clone())
        .collect();
    assert_sent_from_spool(&sim, &spooled_texts, &|| serve.log());
    db.resume();
    // and after it is back, requests go on
    let mut conn = connect(addr);
    for i in 0..20 {
        let text = format!("after r{i}");
        send(&mut conn, format!("#420777999999;{text}\n").as_bytes());
        let answer = read_answer(&mut conn);
        answers.lock().unwrap().push((text, answer));
    }
    let answers = answers.lock().unwrap().clone();
    let refused: Vec<_> = answers
        .iter()
        .filter(|(_, a)| !a.starts_with("OK"))
        .collect();
    assert!(refused.is_empty(), "{refused:?}\n{}", serve.log());
    let texts: Vec<String> = answers.iter().map(|(t, _)| t.clone()).collect();
    let store = smss::store::open_diagnostics(&url, false).unwrap();
    assert_each_sent_once(&*store, &texts, &spool_path(&dir), &|| serve.log());
    assert!(
        serve.wait_log("back to normal", Duration::from_secs(60)),
        "{}",
        serve.log()
    );
    let log = serve.log();
    assert_eq!(log.matches("degraded: ").count(), 1, "{log}");
    assert_eq!(log.matches("back to normal").count(), 1, "{log}");
    // on the air once each, the spooled ones included
    let sent = on_air(&sim.handle.state().sent);
    for t in &texts {
        assert_eq!(sent.get(t), Some(&1), "{t}\n{log}");
    }
    assert_eq!(sent.len(), texts.len());
    assert_eq!(store.queue_stats().unwrap().depth, 0, "msg is empty\n{log}");
    eprintln!(
        "database stopped during a burst: {} requests, all OK, {} of them spooled and sent \
         during the outage; each in sms and on the air once",
        answers.len(),
        spooled_texts.len()
    );
}

#[test]
fn serve_killed_while_moving_the_spool_moves_each_once_after_restart() {
    const LINES: usize = 40;
    const PER_LINE: usize = 25;
    let (mut db, url) = database();
    let dir = TempDir::new("spool_kill9");
    // No modem in the first serve (a device not plugged in: it waits for
    // it), so that the kill cuts only the move, not a message on the air.
    let absent = dir.path().join("no-modem").display().to_string();
    let mut serve = Serve::start(&url, &absent, &dir, &["--spool-retry", "300ms"]);
    db.stop();
    let texts = spool_lines(serve.addr, LINES, PER_LINE, "m");
    assert_eq!(spooled(&spool_path(&dir)), texts.len() as u64);
    db.resume();
    assert!(
        serve.wait_log("spool: moving ", Duration::from_secs(60)),
        "{}",
        serve.log()
    );
    // Killed once the first messages are in the database: the spool
    // deletes them after each pass of 100, so some are in both then.
    let store = smss::store::open_diagnostics(&url, false).unwrap();
    assert!(wait_for(Duration::from_secs(60), || store
        .queue_stats()
        .unwrap()
        .depth
        > 0));
    serve.child.kill().unwrap();
    serve.child.wait().unwrap();
    let left = spooled(&spool_path(&dir));
    let moved = store.queue_stats().unwrap().depth;
    let both = moved + left - texts.len() as u64;
    drop(serve);

    let sim = PtySim::start().unwrap();
    let device = sim.path.to_str().unwrap().to_owned();
    let serve = Serve::start(&url, &device, &dir, &["--spool-retry", "300ms"]);
    assert_each_sent_once(&*store, &texts, &spool_path(&dir), &|| serve.log());
    // those in both were recognised by their keys, not inserted again
    assert_eq!(
        serve.log().matches("was moved before").count() as u64,
        both,
        "{}",
        serve.log()
    );
    eprintln!(
        "kill -9 while moving {} spooled messages: {left} still spooled and {moved} in the \
         database at the kill ({both} in both); after the restart each sent once",
        texts.len()
    );
}

#[test]
fn serve_killed_while_moving_sent_messages_records_each_once() {
    const LINES: usize = 12;
    const PER_LINE: usize = 25;
    let (mut db, url) = database();
    let dir = TempDir::new("spool_kill9_sent");
    let sim = PtySim::start().unwrap();
    let mut serve = Serve::start(
        &url,
        sim.path.to_str().unwrap(),
        &dir,
        &["--spool-retry", "300ms"],
    );
    db.stop();
    let texts = spool_lines(serve.addr, LINES, PER_LINE, "s");
    // all sent from the spool; nothing left to send when the kill comes
    assert_sent_from_spool(&sim, &texts, &|| serve.log());
    assert_eq!(spooled(&spool_path(&dir)), texts.len() as u64);
    db.resume();
    let store = smss::store::open_diagnostics(&url, false).unwrap();
    // killed once the first outcomes are in the database's record
    assert!(
        wait_for(Duration::from_secs(120), || store.totals().unwrap().sent
            > 0),
        "{}",
        serve.log()
    );
    serve.child.kill().unwrap();
    serve.child.wait().unwrap();
    let left = spooled(&spool_path(&dir));
    let moved = store.totals().unwrap().sent;
    let both = moved + left - texts.len() as u64;
    drop(serve);

    let second = PtySim::start().unwrap();
    let serve = Serve::start(
        &url,
        second.path.to_str().unwrap(),
        &dir,
        &["--spool-retry", "300ms"],
    );
    assert_each_sent_once(&*store, &texts, &spool_path(&dir), &|| serve.log());
    // those in both were recognised by their keys, not recorded again
    assert_eq!(
        serve.log().matches("was moved before").count() as u64,
        both,
        "{}",
        serve.log()
    );
    // nothing went on the air again
    assert!(second.handle.state().sent.is_empty(), "{}", serve.log());
    let sent = on_air(&sim.handle.state().sent);
    assert!(texts.iter().all(|t| sent.get(t) == Some(&1)), "{sent:?}");
    assert_eq!(store.queue_stats().unwrap().depth, 0);
    eprintln!(
        "kill -9 while moving {} messages sent from the spool: {left} still spooled and {moved} \
         in sms at the kill; after the restart each in sms once, none sent again",
        texts.len()
    );
}

#[test]
fn a_message_received_during_the_outage_reaches_rcv_once() {
    let (mut db, url) = database();
    let dir = TempDir::new("spool_receive");
    let sim = PtySim::start().unwrap();
    let serve = Serve::start(
        &url,
        sim.path.to_str().unwrap(),
        &dir,
        &["--spool-retry", "300ms", "--poll-interval", "1s"],
    );
    db.stop();
    // the database found down by a request (the modem thread or the
    // inbox would find it at their next pass)
    let answer = request(serve.addr, "#420777000001;while down");
    assert!(answer.starts_with("OK 1 L"), "{answer}");
    let pdu = &encode_deliver(
        "+420777123456",
        "received while down",
        smsc_time(7),
        DeliverRef {
            reference: 0,
            ref16: false,
        },
    )[0];
    sim.handle.deliver("SM", pdu).unwrap();
    // off the SIM only once committed: the spool has it when the SIM is empty
    assert!(
        sim.handle
            .wait_until(Duration::from_secs(60), |s| s.stored_count() == 0),
        "{}",
        serve.log()
    );
    let spool =
        smss::store::open(&format!("sqlite://{}", spool_path(&dir).display()), false).unwrap();
    let held = spool.list_spooled_received(10).unwrap();
    assert_eq!(held.len(), 1, "{}", serve.log());
    assert_eq!(held[0].msg.text, "received while down");
    drop(spool);
    db.resume();
    let store = smss::store::open_diagnostics(&url, false).unwrap();
    assert!(
        wait_for(Duration::from_secs(120), || spooled(&spool_path(&dir)) == 0
            && !store.recent_rcv(10).unwrap().is_empty()),
        "{}",
        serve.log()
    );
    let rcv = store.recent_rcv(10).unwrap();
    assert_eq!(rcv.len(), 1, "{rcv:?}");
    assert_eq!(rcv[0].text, "received while down");
    assert_eq!(rcv[0].received_at, held[0].received_at, "its time is kept");
    assert_each_sent_once(
        &*store,
        &["while down".to_string()],
        &spool_path(&dir),
        &|| serve.log(),
    );
}

/// Rows another tool put in `msg` wake nobody (the SQL poll is off here,
/// the receive poll an hour away): while degraded the modem claims only
/// from the spool, so leaving the state must wake it for them.
#[test]
fn messages_waiting_in_the_database_go_out_when_it_is_back() {
    use mysql::prelude::Queryable;
    let (mut db, url) = database();
    let dir = TempDir::new("spool_back");
    let sim = PtySim::start().unwrap();
    let serve = Serve::start(
        &url,
        sim.path.to_str().unwrap(),
        &dir,
        &[
            "--spool-retry",
            "300ms",
            "--poll-interval",
            "1h",
            "--sql-poll-interval",
            "0",
        ],
    );
    assert!(
        serve.wait_log(" ready: ", Duration::from_secs(60)),
        "{}",
        serve.log()
    );
    let mut conn = mysql::Conn::new(mysql::Opts::from_url(&url).unwrap()).unwrap();
    conn.query_drop("INSERT INTO msg (phone, text) VALUES ('420777000009', 'by plain SQL')")
        .unwrap();
    drop(conn);
    db.stop();
    let answer = request(serve.addr, "#420777000001;during the outage");
    assert!(answer.starts_with("OK 1 L"), "{answer}");
    assert_sent_from_spool(&sim, &["during the outage".to_string()], &|| serve.log());
    assert!(
        !on_air(&sim.handle.state().sent).contains_key("by plain SQL"),
        "claimed from the database while it was down?"
    );
    db.resume();
    let store = smss::store::open_diagnostics(&url, false).unwrap();
    let texts = ["during the outage".to_string(), "by plain SQL".to_string()];
    assert_each_sent_once(&*store, &texts, &spool_path(&dir), &|| serve.log());
}

#[test]
fn serve_starts_while_the_database_is_down() {
    let (mut db, url) = database();
    db.stop();
    let dir = TempDir::new("spool_boot");
    // the init script and systemd run serve --check first: it must not keep
    // serve from starting at boot
    let spool = dir.path().join("spool.db").display().to_string();
    let lock_dir = dir.path().display().to_string();
    let check = |spool: &str| {
        smss(&[
            "serve",
            "--check",
            "--config",
            "/dev/null",
            "--db",
            &url,
            "--device",
            "sim",
            "--lock-dir",
            &lock_dir,
            "--listen",
            "127.0.0.1:0",
            "--log-file",
            "none",
            "--spool",
            spool,
        ])
    };
    let out = check(&spool);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "serve starts degraded and keeps what it accepts in the local spool {spool} until \
             the database answers"
        )),
        "{said}"
    );
    // a spool serve could not create is a failure of the check too
    let out = check("/proc/no/such/spool.db");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let sim = PtySim::start().unwrap();
    let serve = Serve::start(
        &url,
        sim.path.to_str().unwrap(),
        &dir,
        &["--spool-retry", "300ms", "--web-listen", "127.0.0.1:0"],
    );
    assert!(
        serve.log().contains("starting all the same"),
        "{}",
        serve.log()
    );
    let web = serve.web_addr();
    let mut texts = Vec::new();
    for i in 0..9 {
        let text = format!("at boot {i}");
        let answer = request(serve.addr, &format!("#420777000001;{text}"));
        assert!(answer.starts_with("OK 1 L"), "{answer}\n{}", serve.log());
        texts.push(text);
    }
    // the web's way in: 2xx, the spool ids as "L<id>"
    let r = http::post(
        web,
        "/api/send",
        &[("Content-Type", "application/json")],
        br#"{"to": "420777000002", "text": "at boot from the web"}"#,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["ids"][0].as_str().unwrap_or_default().to_owned();
    assert!(id.starts_with('L'), "{}", r.text());
    texts.push("at boot from the web".into());

    // sent from the spool with the database down
    assert_sent_from_spool(&sim, &texts, &|| serve.log());
    // visible: the panel, /metrics, smss status
    // (counted once recorded in the spool, just after the modem's answer)
    let page = || http::get(web, "/", &[]).text();
    assert!(
        wait_for(Duration::from_secs(60), || page()
            .contains("; 10 spooled, 10 sent from spool")),
        "{}",
        page()
    );
    assert!(
        page().contains("degraded: database unreachable since "),
        "{}",
        page()
    );
    let metrics = http::get(web, "/metrics", &[]).text();
    assert!(metrics.contains("\nsmss_degraded 1\n"), "{metrics}");
    assert!(metrics.contains("\nsmss_spooled 10\n"), "{metrics}");
    assert!(
        metrics.contains("\nsmss_spool_sent_total 10\n"),
        "{metrics}"
    );
    let spool = spool_path(&dir).display().to_string();
    let status = smss(&[
        "status",
        "--config",
        "/dev/null",
        "--db",
        &url,
        "--spool",
        &spool,
    ]);
    assert_eq!(status.status.code(), Some(1));
    let out = stdout(&status);
    assert!(
        out.contains(&format!(
            "spool:      {spool} holds 10 message(s), 10 sent from spool"
        )),
        "{out}"
    );
    assert!(out.contains("wait in the local spool"), "{out}");

    db.resume();
    let store = smss::store::open_diagnostics(&url, false).unwrap();
    assert_each_sent_once(&*store, &texts, &spool_path(&dir), &|| serve.log());
    // back to normal: the next request goes to the database
    assert!(
        serve.wait_log("back to normal", Duration::from_secs(60)),
        "{}",
        serve.log()
    );
    let answer = request(serve.addr, "#420777000001;after");
    assert!(!answer.contains('L'), "{answer}");
    assert!(answer.starts_with("OK 1 "), "{answer}");
    texts.push("after".into());
    assert_each_sent_once(&*store, &texts, &spool_path(&dir), &|| serve.log());
    let sent = on_air(&sim.handle.state().sent);
    assert!(texts.iter().all(|t| sent.get(t) == Some(&1)), "{sent:?}");
    let metrics = http::get(web, "/metrics", &[]).text();
    assert!(metrics.contains("\nsmss_degraded 0\n"), "{metrics}");
    assert!(
        metrics.contains("\nsmss_spool_moved_total 10\n"),
        "{metrics}"
    );
    assert!(!http::get(web, "/", &[]).text().contains("degraded"));
    let status = smss(&[
        "status",
        "--config",
        "/dev/null",
        "--db",
        &url,
        "--spool",
        &spool,
    ]);
    assert!(
        stdout(&status).contains(&format!("spool:      {spool} empty")),
        "{}",
        stdout(&status)
    );
}

#[test]
fn a_spool_that_cannot_be_created_is_told_at_start() {
    let (_db, url) = database();
    let dir = TempDir::new("spool_missing");
    let spool = dir.path().join("no-such-dir").join("spool.db");
    let out = smss(&[
        "serve",
        "--config",
        "/dev/null",
        "--db",
        &url,
        "--device",
        &dir.path().join("no-modem").display().to_string(),
        "--lock-dir",
        &dir.path().display().to_string(),
        "--listen",
        "127.0.0.1:0",
        "--log-file",
        "none",
        "--spool",
        &spool.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "the local spool (setting spool = {}) cannot be used",
            spool.display()
        )),
        "{err}"
    );
}

/// `smss ARGS --config /dev/null --db URL`, which must succeed; its stdout.
fn admin_ok(url: &str, args: &[&str]) -> String {
    let out = crate::integrations::admin(url, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

const OPS: [&str; 2] = ["420777000011", "420777000012"];
const CHAIN: [&str; 2] = ["420777000021", "420777000022"];

/// The groups `ops` and `chain` (an escalation chain) and the token
/// `prom`, made before any outage; the token.
fn groups_and_token(url: &str) -> String {
    admin_ok(url, &["group", "set", "ops", OPS[0], OPS[1]]);
    admin_ok(
        url,
        &[
            "group",
            "set",
            "chain",
            CHAIN[0],
            CHAIN[1],
            "--escalate",
            "10m",
        ],
    );
    crate::integrations::add_token(url, "prom")
}

/// Waits until the simulator sent each `(number, text)`, none twice.
fn assert_on_air_once(sim: &PtySim, want: &[(&str, &str)], log: &dyn Fn() -> String) {
    let count = |sent: &[SentSms], (n, t): (&str, &str)| {
        sent.iter()
            .filter(|m| m.number.trim_start_matches('+') == n && m.text == t)
            .count()
    };
    let all = sim.handle.wait_until(Duration::from_secs(60), |s| {
        want.iter().all(|w| count(&s.sent, *w) > 0)
    });
    let sent = sim.handle.state().sent.clone();
    assert!(all, "not all on the air: {sent:?}\n{}", log());
    for w in want {
        assert_eq!(count(&sent, *w), 1, "{w:?}: {sent:?}\n{}", log());
    }
}

#[test]
fn groups_and_tokens_work_from_the_spools_copy_while_the_database_is_down() {
    let (mut db, url) = database();
    let token = groups_and_token(&url);
    let dir = TempDir::new("spool_copy");
    let sim = PtySim::start().unwrap();
    let serve = Serve::start(
        &url,
        sim.path.to_str().unwrap(),
        &dir,
        &[
            "--spool-retry",
            "300ms",
            "--spool-copy-every",
            "1s",
            "--web-listen",
            "127.0.0.1:0",
        ],
    );
    let web = serve.web_addr();
    assert!(
        serve.wait_log(
            "spool: copied 2 group(s) and 1 API token(s)",
            Duration::from_secs(60)
        ),
        "{}",
        serve.log()
    );
    db.stop();

    let answer = request(serve.addr, "#@ops;to ops");
    assert!(answer.starts_with("OK 2 L"), "{answer}\n{}", serve.log());
    let answer = request(serve.addr, "#@chain;to chain");
    assert!(answer.starts_with("OK 1 L"), "{answer}\n{}", serve.log());
    let answer = request(serve.addr, "#@nobody;x");
    assert!(
        answer.starts_with(
            "ERR request 1: no group '@nobody' (the database is unreachable: groups as of "
        ) && answer.ends_with(" UTC)"),
        "{answer}"
    );
    let bearer = format!("Bearer {token}");
    let r = http::post(
        web,
        "/api/send",
        &[
            ("Authorization", &bearer),
            ("Content-Type", "application/json"),
        ],
        br#"{"to": "@ops", "text": "api to ops"}"#,
    );
    assert_eq!(r.status, 202, "{}\n{}", r.text(), serve.log());
    assert!(
        r.json()["ids"][0]
            .as_str()
            .unwrap_or_default()
            .starts_with('L'),
        "{}",
        r.text()
    );
    // a token the copy does not hold may be newer than it: 503, not 401
    let mut unknown = token.clone();
    unknown.replace_range(10..11, if &token[10..11] == "a" { "b" } else { "a" });
    let r = http::post(
        web,
        "/api/send",
        &[("Authorization", &format!("Bearer {unknown}"))],
        b"to=420777000001&text=never",
    );
    assert_eq!(r.status, 503, "{}", r.text());

    // Alertmanager and Grafana naming the group
    let am = crate::integrations::am_payload("firing", &[("f1", "web1:9100", "firing", None)], 0);
    let grafana = crate::integrations::grafana_payload("firing", "[FIRING:1] Disk", None);
    for (path, body) in [
        ("/api/alertmanager?to=@ops", am),
        ("/api/grafana?to=@ops", grafana),
    ] {
        let r = http::post(
            web,
            path,
            &[
                ("Authorization", &bearer),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        );
        assert_eq!(r.status, 200, "{path}: {}\n{}", r.text(), serve.log());
        assert_eq!(r.json()["queued"], 2, "{path}: {}", r.text());
    }
    let alert_texts: Vec<String> = {
        let ok = sim.handle.wait_until(Duration::from_secs(60), |s| {
            s.sent.iter().filter(|m| m.text.contains("FIRING")).count() >= 4
        });
        assert!(ok, "{:?}\n{}", sim.handle.state().sent, serve.log());
        let mut t: Vec<String> = sim
            .handle
            .state()
            .sent
            .iter()
            .filter(|m| m.text.contains("FIRING"))
            .map(|m| m.text.clone())
            .collect();
        t.sort();
        t.dedup();
        t
    };
    assert_eq!(alert_texts.len(), 2, "{alert_texts:?}");
    assert!(
        alert_texts.iter().any(|t| t.contains("HighCPU")),
        "{alert_texts:?}"
    );
    assert!(
        alert_texts.iter().any(|t| t.contains("Disk")),
        "{alert_texts:?}"
    );
    let mut want = vec![
        (OPS[0], "to ops"),
        (OPS[1], "to ops"),
        (CHAIN[0], "[1/2] to chain"),
        (OPS[0], "api to ops"),
        (OPS[1], "api to ops"),
    ];
    for t in &alert_texts {
        want.extend([(OPS[0], t.as_str()), (OPS[1], t.as_str())]);
    }
    // sent from the spool, the database still down
    assert_on_air_once(&sim, &want, &|| serve.log());
    let log = serve.log();
    assert_eq!(
        log.matches("checked against the spool's copy").count(),
        1,
        "{log}"
    );

    db.resume();
    let store = smss::store::open_diagnostics(&url, false).unwrap();
    let in_sms = || {
        store
            .list_sms(&ListFilter {
                limit: 100,
                ..Default::default()
            })
            .unwrap()
    };
    assert!(
        wait_for(Duration::from_secs(120), || in_sms().len() >= want.len()
            && spooled(&spool_path(&dir)) == 0),
        "{:?}\n{}",
        in_sms(),
        serve.log()
    );
    let rows = in_sms();
    assert_eq!(rows.len(), want.len(), "{rows:?}");
    for &(n, t) in &want {
        let once = rows
            .iter()
            .filter(|r| r.phone == n && r.text == t && r.status == SmsStatus::Sent)
            .count();
        assert_eq!(once, 1, "{n} {t}: {rows:?}");
    }
    // the chain's first step only: no chain was started
    assert!(
        CHAIN[1..]
            .iter()
            .all(|n| rows.iter().all(|r| r.phone != *n))
    );
    assert_on_air_once(&sim, &want, &|| serve.log());
    // and tokens are the database's again: the unknown one is wrong now
    assert!(serve.wait_log("back to normal", Duration::from_secs(60)));
    let r = http::post(
        web,
        "/api/send",
        &[("Authorization", &format!("Bearer {unknown}"))],
        b"to=420777000001&text=never",
    );
    assert_eq!(r.status, 401, "{}", r.text());
}

#[test]
fn the_spools_copy_survives_a_restart_of_serve() {
    let (mut db, url) = database();
    groups_and_token(&url);
    let dir = TempDir::new("spool_copy_restart");
    let sim = PtySim::start().unwrap();
    let args = ["--spool-retry", "300ms", "--spool-copy-every", "1s"];
    let serve = Serve::start(&url, sim.path.to_str().unwrap(), &dir, &args);
    assert!(
        serve.wait_log("spool: copied 2 group(s)", Duration::from_secs(60)),
        "{}",
        serve.log()
    );
    serve.terminate();
    db.stop();
    let serve = Serve::start(&url, sim.path.to_str().unwrap(), &dir, &args);
    let answer = request(serve.addr, "#@ops;after restart");
    assert!(answer.starts_with("OK 2 L"), "{answer}\n{}", serve.log());
    assert_on_air_once(
        &sim,
        &[(OPS[0], "after restart"), (OPS[1], "after restart")],
        &|| serve.log(),
    );
    db.resume();
    let store = smss::store::open_diagnostics(&url, false).unwrap();
    assert!(
        wait_for(Duration::from_secs(120), || store.totals().unwrap().sent
            == 2
            && spooled(&spool_path(&dir)) == 0),
        "{:?}\n{}",
        store.totals(),
        serve.log()
    );
}
