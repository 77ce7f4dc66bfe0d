//! Alert storms (issue 18), against the real `serve` and the pty simulator
//! with a send delay: an urgent request overtakes a long queue; rows that
//! other tools insert reach the modem at once; repeats are merged.

use std::time::Duration;

use smss::sim::{PtySim, SimState};
use smss::store::StoreDiagnostics;

use crate::util::*;

const LONG: Duration = Duration::from_secs(120);

/// A simulator that takes `delay` per SMS (a third of it while the radio
/// link is held open between messages).
fn slow_sim(delay: Duration) -> PtySim {
    PtySim::start_with(SimState {
        send_delay: delay,
        ..SimState::default()
    })
    .unwrap()
}

/// `n` normal messages inserted as another tool would.
fn queue_by_sql(store: &dyn StoreDiagnostics, n: usize, prefix: &str) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| format!("('420777{:06}', '{prefix}-{i}')", i % 1000))
            .collect();
        store
            .execute_sql(&format!(
                "INSERT INTO msg (phone, text) VALUES {}",
                values.join(",")
            ))
            .unwrap();
    }
}

/// How many `AT+CMGS` the simulator has seen (sends begun).
fn sends_begun(sim: &PtySim) -> usize {
    sim.handle
        .state()
        .commands
        .iter()
        .filter(|(_, c)| c.to_ascii_uppercase().starts_with("AT+CMGS="))
        .count()
}

/// The 1-based position of `text` among the messages `sim` sent.
fn position(sim: &PtySim, text: &str) -> Option<usize> {
    sim.handle
        .state()
        .sent
        .iter()
        .position(|s| s.text == text)
        .map(|i| i + 1)
}

/// Sends one TCP line to `serve` and returns its answer.
fn request(serve: &Serve, line: &str) -> String {
    let mut stream = connect(serve.addr);
    send(&mut stream, format!("{line}\n").as_bytes());
    read_answer(&mut stream)
}

/// 300 normal messages are being sent (one on the air); then one urgent
/// request. It must be the next send after the one on the air: at most
/// one more `AT+CMGS` may begin between its commit and its own (a sender
/// that had checked the queue just before the commit), never the rest of
/// a claimed batch (8).
fn urgent_overtakes(sims: &[&PtySim], serves: &[&Serve], store: &dyn StoreDiagnostics) {
    queue_by_sql(store, 300, "normal");
    for (sim, serve) in sims.iter().zip(serves) {
        assert!(
            sim.handle.wait_until(LONG, |s| s
                .commands
                .iter()
                .any(|(_, c)| c.starts_with("AT+CMGS="))),
            "no send began:\n{}",
            serve.log()
        );
    }
    let answer = request(serves[0], "#!420608337726;UPS on battery");
    assert!(answer.starts_with("OK 1 "), "{answer}");
    let begun: Vec<usize> = sims.iter().map(|s| sends_begun(s)).collect();
    let found = wait_for(LONG, || {
        sims.iter().any(|s| position(s, "UPS on battery").is_some())
    });
    assert!(
        found,
        "the urgent message was not sent:\n{}",
        serves[0].log()
    );
    let (i, at) = sims
        .iter()
        .enumerate()
        .find_map(|(i, s)| position(s, "UPS on battery").map(|p| (i, p)))
        .unwrap();
    assert!(
        at <= begun[i] + 2,
        "urgent sent as message {at} of modem {i}, {} sends had begun at its commit",
        begun[i]
    );
    // and the normal ones go on after it
    assert!(
        wait_for(LONG, || sims
            .iter()
            .map(|s| s.handle.state().sent.len())
            .sum::<usize>()
            > at + 1),
        "nothing sent after the urgent message"
    );
}

/// One sender on `backend`: the urgent request overtakes 300 queued.
fn one_sender_overtakes(backend: Backend, name: &str) {
    let dir = TempDir::new(name);
    let db = TestDb::new(backend, &dir);
    db.init();
    let sim = slow_sim(Duration::from_millis(600));
    let serve = Serve::start(
        &db.url,
        sim.path.to_str().unwrap(),
        &dir,
        &["--poll-interval", "1s"],
    );
    urgent_overtakes(&[&sim], &[&serve], &*db.store());
}

#[test]
fn an_urgent_request_overtakes_300_queued_sqlite() {
    one_sender_overtakes(Backend::Sqlite, "urgent-sqlite");
}

#[test]
fn an_urgent_request_overtakes_300_queued_mysql() {
    one_sender_overtakes(Backend::Mysql, "urgent-mysql");
}

#[test]
fn an_urgent_request_overtakes_300_queued_with_two_senders() {
    let dir = TempDir::new("urgent-cluster");
    let db = TestDb::new(Backend::Mysql, &dir);
    db.init();
    let sims = [
        slow_sim(Duration::from_millis(600)),
        slow_sim(Duration::from_millis(600)),
    ];
    let serves: Vec<Serve> = sims
        .iter()
        .zip(["alpha", "beta"])
        .map(|(sim, name)| {
            Serve::start(
                &db.url,
                sim.path.to_str().unwrap(),
                &dir,
                &["--instance", name, "--poll-interval", "1s"],
            )
        })
        .collect();
    urgent_overtakes(
        &sims.iter().collect::<Vec<_>>(),
        &serves.iter().collect::<Vec<_>>(),
        &*db.store(),
    );
}

/// A row another tool inserts wakes nobody: with `poll-interval` at an
/// hour, only the `sql-poll-interval` check finds it.
fn sql_rows_are_found(backend: Backend) {
    let dir = TempDir::new("sql-poll");
    let db = TestDb::new(backend, &dir);
    db.init();
    let sim = PtySim::start().unwrap();
    let serve = Serve::start(
        &db.url,
        sim.path.to_str().unwrap(),
        &dir,
        &["--poll-interval", "1h", "--sql-poll-interval", "200ms"],
    );
    // the first pass claimed nothing, then read the memories: idle now
    assert!(
        sim.handle.wait_until(LONG, |s| s
            .commands
            .iter()
            .any(|(_, c)| c.starts_with("AT+CMGL"))),
        "{}",
        serve.log()
    );
    db.store()
        .execute_sql("INSERT INTO msg (phone, text) VALUES ('420608337726', 'from another tool')")
        .unwrap();
    let sent = sim.handle.wait_for_sent(1, LONG);
    assert_eq!(sent.len(), 1, "{}", serve.log());
    assert_eq!(sent[0].text, "from another tool");
}

#[test]
fn rows_inserted_by_sql_are_sent_without_waiting_for_the_poll_sqlite() {
    sql_rows_are_found(Backend::Sqlite);
}

#[test]
fn rows_inserted_by_sql_are_sent_without_waiting_for_the_poll_mysql() {
    sql_rows_are_found(Backend::Mysql);
}

/// 100 identical requests from 4 clients at once while the modem is busy
/// with another message: one SMS, with the count; `sms` has it as sent
/// with the merged repeats, and a `suppressed` row (pointing to it) for
/// each repeat that came after it was sent; a different text still goes.
fn repeats_are_coalesced(backend: Backend) {
    let dir = TempDir::new("coalesce");
    let db = TestDb::new(backend, &dir);
    db.init();
    let sim = slow_sim(Duration::from_secs(2));
    let serve = Serve::start(
        &db.url,
        sim.path.to_str().unwrap(),
        &dir,
        &["--web-listen", "127.0.0.1:0"],
    );
    assert!(request(&serve, "#420777000001;first, keeps the modem busy").starts_with("OK"));
    // on the air (claimed alone), so the storm queues behind it
    assert!(sim.handle.wait_until(LONG, |s| {
        s.commands.iter().any(|(_, c)| c.starts_with("AT+CMGS="))
    }));
    let ids: Vec<String> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let mut stream = connect(serve.addr);
                    (0..25)
                        .map(|_| {
                            send(&mut stream, b"#420608337726;UPS on battery\n");
                            read_answer(&mut stream)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        clients
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect()
    });
    assert!(ids.iter().all(|a| a.starts_with("OK 1 ")), "{ids:?}");
    assert!(request(&serve, "#420608337726;UPS back on mains").starts_with("OK"));
    let store = db.store();
    assert!(
        wait_for(LONG, || store.queue_stats().unwrap().depth == 0),
        "{}",
        serve.log()
    );
    let sent = sim.handle.state().sent.clone();
    let texts: Vec<&str> = sent.iter().map(|s| s.text.as_str()).collect();
    let storm: Vec<&&str> = texts
        .iter()
        .filter(|t| t.starts_with("UPS on battery"))
        .collect();
    assert_eq!(storm.len(), 1, "{texts:?}");
    assert!(texts.contains(&"UPS back on mains"), "{texts:?}");
    let rows = store.recent_sms(200).unwrap();
    let sent_row = rows
        .iter()
        .find(|r| r.text == "UPS on battery" && r.status == smss::store::SmsStatus::Sent)
        .expect("the sent row");
    let suppressed = rows
        .iter()
        .filter(|r| r.status == smss::store::SmsStatus::Suppressed)
        .collect::<Vec<_>>();
    assert!(
        suppressed
            .iter()
            .all(|r| r.coalesced_into == Some(sent_row.id) && r.text == "UPS on battery")
    );
    assert_eq!(
        sent_row.repeats as usize + suppressed.len(),
        99,
        "every request is on record"
    );
    // the count the SMS carried: those merged before it was claimed
    let shown: u32 = storm[0]
        .strip_prefix("UPS on battery (x")
        .and_then(|r| r.strip_suffix(')'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {:?}", storm[0]));
    assert!(
        (2..=sent_row.repeats + 1).contains(&shown),
        "{shown} of {}",
        sent_row.repeats
    );
    // every OK named the queued row, or a suppressed row
    let answered: std::collections::HashSet<i64> = ids
        .iter()
        .map(|a| a.trim_start_matches("OK 1 ").trim().parse().unwrap())
        .collect();
    assert!(answered.contains(&sent_row.id));
    assert_eq!(answered.len(), 1 + suppressed.len());
    // and /metrics counts them
    let metrics = http::get(serve.web_addr(), "/metrics", &[]).text();
    for (name, value) in [
        ("smss_merged_total", sent_row.repeats as usize),
        ("smss_suppressed_total", suppressed.len()),
        ("smss_expired_total", 0),
    ] {
        assert!(
            metrics.lines().any(|l| l == format!("{name} {value}")),
            "{name} {value}:\n{metrics}"
        );
    }
}

#[test]
fn a_hundred_repeats_make_one_sms_sqlite() {
    repeats_are_coalesced(Backend::Sqlite);
}

#[test]
fn a_hundred_repeats_make_one_sms_mysql() {
    repeats_are_coalesced(Backend::Mysql);
}

/// The ids of an `OK n id,id` answer.
fn ok_ids(answer: &str) -> Vec<i64> {
    assert!(answer.starts_with("OK "), "{answer}");
    answer
        .split_whitespace()
        .nth(2)
        .unwrap_or("")
        .split(',')
        .map(|i| i.parse().unwrap())
        .collect()
}

#[test]
fn flash_and_ttl_reach_the_pdu() {
    let rig = Rig::sqlite("flash", &[]);
    let a = request(&rig.serve, "#[flash,ttl=1h]420608337726;look now");
    let b = request(&rig.serve, "#420608337726;plain");
    assert!(a.starts_with("OK") && b.starts_with("OK"), "{a} {b}");
    let sent = rig.sim.handle.wait_for_sent(2, LONG);
    let flash = sent.iter().find(|s| s.text == "look now").expect("sent");
    assert_eq!(flash.class, Some(0), "class 0 in TP-DCS");
    // 1 h left, or a little less: 55 to 60 minutes
    assert!(
        matches!(flash.validity, Some(10 | 11)),
        "{:?}",
        flash.validity
    );
    let plain = sent.iter().find(|s| s.text == "plain").expect("sent");
    assert_eq!((plain.class, plain.validity), (None, Some(0xAA)));
    // a bad option: a clear ERR, nothing queued
    let bad = request(&rig.serve, "#[ttl=forever]420608337726;x");
    assert!(bad.starts_with("ERR request 1: bad ttl 'forever'"), "{bad}");
}

#[test]
fn a_ttl_that_passes_while_the_modem_is_unplugged_expires() {
    let dir = TempDir::new("expire");
    let db = TestDb::new(Backend::Sqlite, &dir);
    let link = dir.path().join("ttyMODEM");
    let sim1 = PtySim::start().unwrap();
    std::os::unix::fs::symlink(&sim1.path, &link).unwrap();
    let serve = Serve::start(&db.url, link.to_str().unwrap(), &dir, &[]);
    assert!(serve.wait_log("ready", LONG), "{}", serve.log());
    drop(sim1);
    std::fs::remove_file(&link).unwrap();
    assert!(serve.wait_log("modem lost", LONG), "{}", serve.log());
    let stale = ok_ids(&request(&serve, "#[ttl=2s]420608337726;stale alert"))[0];
    let fresh = ok_ids(&request(&serve, "#420608337726;still wanted"))[0];
    let store = db.store();
    assert!(
        wait_for(LONG, || store
            .sms(stale)
            .unwrap()
            .is_some_and(|r| r.status == smss::store::SmsStatus::Expired)),
        "{}",
        serve.log()
    );
    let row = store.sms(stale).unwrap().unwrap();
    assert_eq!(row.sent_at, None);
    assert_eq!(row.error.as_deref(), Some("not sent within its ttl"));
    // plugged back in: the one without a ttl goes, the expired one never
    let sim2 = PtySim::start().unwrap();
    std::os::unix::fs::symlink(&sim2.path, &link).unwrap();
    let sent = sim2.handle.wait_for_sent(1, LONG);
    assert_eq!(sent[0].text, "still wanted");
    assert!(wait_for(LONG, || store.sms(fresh).unwrap().is_some()));
    assert!(
        sim2.handle
            .state()
            .sent
            .iter()
            .all(|s| s.text != "stale alert")
    );
}

#[test]
fn send_at_holds_a_message_back() {
    let rig = Rig::sqlite("send-at", &[]);
    // asked first, due in 20 s: the one asked after goes first
    let later = ok_ids(&request(&rig.serve, "#[in=20s]420608337726;later"))[0];
    request(&rig.serve, "#420608337726;now");
    let sent = rig.sim.handle.wait_for_sent(2, LONG);
    assert_eq!(
        sent.iter().map(|s| s.text.as_str()).collect::<Vec<_>>(),
        ["now", "later"]
    );
    let store = rig.db.store();
    assert!(wait_for(LONG, || store
        .sms(later)
        .unwrap()
        .is_some_and(|r| r.status == smss::store::SmsStatus::Sent)));
}

/// The local time of day of this machine (serve's SQLite reads the same
/// clock and zone), minutes after midnight.
fn local_minute() -> u16 {
    let out = std::process::Command::new("date")
        .arg("+%H %M")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace().map(|n| n.parse::<u16>().unwrap());
    it.next().unwrap() * 60 + it.next().unwrap()
}

fn hhmm(minute: u16) -> String {
    let m = minute % (24 * 60);
    format!("{:02}:{:02}", m / 60, m % 60)
}

#[test]
fn a_send_window_holds_low_and_normal_but_not_urgent() {
    let rig = Rig::sqlite("window", &[]);
    let now = local_minute();
    // closed for the next two hours, and open now (an hour either side)
    let closed = format!("after={},before={}", hhmm(now + 120), hhmm(now + 180));
    let open = format!("after={},before={}", hhmm(now + 23 * 60), hhmm(now + 60));
    let held = ok_ids(&request(
        &rig.serve,
        &format!("#[low,{closed}]420608337726;in the morning"),
    ))[0];
    request(
        &rig.serve,
        &format!("#![{closed}]420608337726;urgent ignores it"),
    );
    request(
        &rig.serve,
        &format!("#[{open}]420608337726;inside its window"),
    );
    let sent = rig.sim.handle.wait_for_sent(2, LONG);
    let mut texts: Vec<&str> = sent.iter().map(|s| s.text.as_str()).collect();
    texts.sort();
    assert_eq!(texts, ["inside its window", "urgent ignores it"]);
    assert!(
        rig.serve.wait_log(
            &format!("message {held} to 420608337726: outside its send window"),
            LONG
        ),
        "{}",
        rig.serve.log()
    );
    // waiting until the window opens: queued, its next attempt set
    let store = rig.db.store();
    assert!(wait_for(LONG, || store.queue_stats().unwrap().depth == 1));
    let queued = store
        .list_queued(&smss::store::ListFilter {
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].id, held);
    assert!(queued[0].next_attempt.is_some());
    assert_eq!(rig.sim.handle.state().sent.len(), 2);
}

#[test]
fn the_api_carries_the_options() {
    let rig = Rig::sqlite("api-options", &["--web-listen", "127.0.0.1:0"]);
    let web = rig.serve.web_addr();
    let json = [("Content-Type", "application/json")];
    let r = http::post(
        web,
        "/api/send",
        &json,
        br#"{"to": "420608337726", "text": "api flash", "flash": true, "ttl": "30m", "priority": "urgent"}"#,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let r = http::post(
        web,
        "/api/send",
        &[],
        b"to=420608337726&text=form+flash&flash=1&send_after=00:00",
    );
    assert_eq!(r.status, 202, "{}", r.text());
    for (body, error) in [
        (
            r#"{"to": "420608337726", "text": "x", "priority": "asap"}"#,
            "bad priority 'asap': use urgent, normal or low",
        ),
        (
            r#"{"to": "420608337726", "text": "x", "ttl": "0"}"#,
            "bad ttl '0': more than 0 and at most 63 weeks",
        ),
        (
            r#"{"to": "420608337726", "text": "x", "send_before": "25:00"}"#,
            "bad send_before '25:00': a time of day, HH:MM",
        ),
    ] {
        let r = http::post(web, "/api/send", &json, body.as_bytes());
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.json()["error"], error, "{body}");
    }
    let sent = rig.sim.handle.wait_for_sent(2, LONG);
    let api = sent.iter().find(|s| s.text == "api flash").unwrap();
    assert_eq!(api.class, Some(0));
    // 30 minutes or a little less: 25 or 30 (TP-VP 4 or 5)
    assert!(matches!(api.validity, Some(4 | 5)), "{:?}", api.validity);
    let form = sent.iter().find(|s| s.text == "form flash").unwrap();
    assert_eq!(form.class, Some(0));
}

#[test]
fn the_flood_cap_sends_a_digest_and_holds_the_rest() {
    let rig = Rig::sqlite("flood", &["--max-per-recipient", "3"]);
    let values: Vec<String> = (0..10)
        .map(|i| format!("('420608337726', 'alert {i}\nmore detail')"))
        .collect();
    let store = rig.db.store();
    store
        .execute_sql(&format!(
            "INSERT INTO msg (phone, text) VALUES {}",
            values.join(",")
        ))
        .unwrap();
    let sent = rig.sim.handle.wait_for_sent(3, LONG);
    let texts: Vec<&str> = sent.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(texts[..2], ["alert 0\nmore detail", "alert 1\nmore detail"]);
    assert_eq!(
        texts[2],
        "8 alerts: alert 2; alert 3; alert 4; alert 5; alert 6; alert 7; alert 8; alert 9"
    );
    assert!(wait_for(LONG, || store.queue_stats().unwrap().depth == 0));
    let rows = store.recent_sms(20).unwrap();
    assert_eq!(rows.len(), 10);
    let carrier = rows.iter().find(|r| r.text.starts_with("alert 2")).unwrap();
    assert_eq!(
        rows.iter()
            .filter(|r| r.coalesced_into == Some(carrier.id))
            .count(),
        7,
        "each line on record"
    );
    assert!(
        rows.iter()
            .all(|r| r.status == smss::store::SmsStatus::Sent)
    );
    // the hour's three are used: the next one waits (never dropped), an
    // urgent one goes
    let held = ok_ids(&request(&rig.serve, "#420608337726;alert 10"))[0];
    request(&rig.serve, "#!420608337726;UPS on battery");
    let sent = rig.sim.handle.wait_for_sent(4, LONG);
    assert_eq!(sent[3].text, "UPS on battery");
    // held: after the hour's three, or after four when the urgent one,
    // which arrived right behind it, went first (both are in the hour)
    assert!(
        rig.serve
            .wait_log(&format!("message {held} to 420608337726: "), LONG),
        "{}",
        rig.serve.log()
    );
    let log = rig.serve.log();
    let line = log
        .lines()
        .find(|l| l.contains(&format!("message {held} to 420608337726: ")))
        .unwrap();
    assert!(
        (line.contains(": 3 SMS") || line.contains(": 4 SMS"))
            && line.contains("in the last hour (max-per-recipient 3); held for"),
        "{line}"
    );
    // the urgent one's finish on record: only the held one is left
    assert!(wait_for(LONG, || store.queue_stats().unwrap().depth == 1));
    let queued = store
        .list_queued(&smss::store::ListFilter {
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(queued[0].id, held);
    assert!(queued[0].next_attempt.is_some());
    assert_eq!(rig.sim.handle.state().sent.len(), 4);
}

#[test]
fn the_queue_page_lists_in_the_order_of_sending() {
    let dir = TempDir::new("queue-order");
    let db = TestDb::new(Backend::Sqlite, &dir);
    // on the air for the whole test: nothing else is claimed meanwhile
    let sim = slow_sim(Duration::from_secs(10));
    let serve = Serve::start(
        &db.url,
        sim.path.to_str().unwrap(),
        &dir,
        &["--web-listen", "127.0.0.1:0"],
    );
    request(&serve, "#420777000001;on the air");
    assert!(sim.handle.wait_until(LONG, |s| {
        s.commands.iter().any(|(_, c)| c.starts_with("AT+CMGS="))
    }));
    request(&serve, "#420777000002;first normal");
    request(&serve, "#420777000002;second normal");
    request(&serve, "#!420777000002;the urgent one");
    request(&serve, "#420777000002;second normal");
    let page = http::get(serve.web_addr(), "/queued", &[]).text();
    let at = |t: &str| {
        page.find(t)
            .unwrap_or_else(|| panic!("{t} missing:\n{page}"))
    };
    assert!(at("the urgent one") < at("first normal"), "{page}");
    assert!(at("first normal") < at("second normal"), "{page}");
    assert!(page.contains(", urgent"), "{page}");
    assert!(page.contains("+1 merged"), "{page}");
    let home = http::get(serve.web_addr(), "/", &[]).text();
    assert!(home.contains("1 urgent queued, 1 repeats merged"), "{home}");
}
