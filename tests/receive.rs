//! Receiving: what the modem holds ends up in `rcv` exactly once, and only
//! then leaves the SIM; delivery reports reach their `sms` row; the
//! on-receive program gets the message without a shell.

use std::time::{Duration, Instant};

use smss::gsm::{DataCoding, DeliverRef, encode_deliver, encode_status_report};
use smss::sim::PtySim;
use smss::store::{Coding, ReportStatus};

use crate::util::proxy::Proxy;
use crate::util::*;

const WAIT: Duration = Duration::from_secs(30);

const GSM_TEXT: &str = "Server db1: disk 95% € {quota} [ok]";
const CZECH: &str = "Příliš žluťoučký kůň úpěl ďábelské ódy";
const ALPHA_TEXT: &str = "Your credit is low";

fn long_text() -> String {
    (0..400)
        .map(|i| char::from(b'A' + (i % 26) as u8))
        .collect()
}

/// Puts the mix into the simulated modem: returns how many slots it used.
fn load_sim(sim: &PtySim, report_for: Option<(u8, &str)>) -> usize {
    let h = &sim.handle;
    let one = |sender: &str, text: &str, second: u8| {
        let pdus = encode_deliver(
            sender,
            text,
            smsc_time(second),
            DeliverRef {
                reference: 0,
                ref16: false,
            },
        );
        assert_eq!(pdus.len(), 1);
        pdus.into_iter().next().unwrap()
    };
    let mut used = 0;
    let mut put = |memory: &str, pdu: &str| {
        h.deliver(memory, pdu).expect("a free slot");
        used += 1;
    };
    put("SM", &one("+420777123456", GSM_TEXT, 1));
    put("SM", &one("+420608337726", CZECH, 2));
    // three parts, 16-bit reference, arriving 3, 1, 2; one of them in modem memory
    let parts = encode_deliver(
        "+420731000111",
        &long_text(),
        smsc_time(3),
        DeliverRef {
            reference: 4242,
            ref16: true,
        },
    );
    assert_eq!(parts.len(), 3);
    put("SM", &parts[2]);
    put("ME", &parts[0]);
    put("SM", &parts[1]);
    put("ME", &one("Tele2 Info", ALPHA_TEXT, 4));
    if let Some((mr, number)) = report_for {
        put(
            "SR",
            &encode_status_report(mr, number, smsc_time(5), smsc_time(6), 0x00),
        );
    }
    used
}

fn receive_in_one_pass(backend: Backend) {
    let dir = TempDir::new("rcv");
    let db = TestDb::new(backend, &dir);
    db.init();
    let sim = PtySim::start().unwrap();
    let device = sim.path.to_str().unwrap();

    // A message smss sends, with a delivery report requested.
    db.store()
        .execute_sql("INSERT INTO msg (phone, text) VALUES ('420608337726', 'report me')")
        .unwrap();
    let out = send_pending(&db.url, device, &dir, &["--status-reports", "yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sent = sim.handle.wait_for_sent(1, WAIT);
    assert!(sent[0].status_report);
    let mr = sent[0].mrs[0];

    let used = load_sim(&sim, Some((mr, "+420608337726")));
    assert_eq!(sim.handle.state().stored_count(), used);

    let out = send_pending(&db.url, device, &dir, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        sim.handle.state().stored_count(),
        0,
        "the SIM is emptied in one pass"
    );

    let store = db.store();
    let mut rows = store.recent_rcv(100).unwrap();
    rows.reverse();
    let got: Vec<(&str, &str, u32)> = rows
        .iter()
        .map(|r| (r.sender.as_str(), r.text.as_str(), r.parts))
        .collect();
    let long = long_text();
    assert_eq!(
        got,
        vec![
            ("+420777123456", GSM_TEXT, 1),
            ("+420608337726", CZECH, 1),
            ("+420731000111", long.as_str(), 3),
            ("Tele2 Info", ALPHA_TEXT, 1),
        ]
    );
    assert!(rows.iter().all(|r| r.complete));
    assert_eq!(rows[1].coding, Coding::Decoded(DataCoding::Ucs2));
    assert_eq!(rows[0].smsc_time, "2026-11-30 03:04:01+01:00");
    let sms = &store.recent_sms(1).unwrap()[0];
    assert_eq!(sms.report_status, Some(ReportStatus::Delivered));

    // nothing new: another pass stores nothing twice
    let out = send_pending(&db.url, device, &dir, &[]);
    assert!(out.status.success());
    assert_eq!(store.recent_rcv(100).unwrap().len(), 4);
}

#[test]
fn receive_in_one_pass_sqlite() {
    receive_in_one_pass(Backend::Sqlite);
}

#[test]
fn receive_in_one_pass_mysql() {
    receive_in_one_pass(Backend::Mysql);
}

#[test]
fn a_full_sim_is_drained_in_one_pass() {
    let dir = TempDir::new("fullsim");
    let db = TestDb::new(Backend::Sqlite, &dir);
    let sim = PtySim::start().unwrap();
    let capacity = sim.handle.state().memories["SM"].capacity;
    for i in 0..capacity {
        let pdu = &encode_deliver(
            "+420777123456",
            &format!("alert {i}"),
            smsc_time(i as u8 % 60),
            DeliverRef {
                reference: 0,
                ref16: false,
            },
        )[0];
        sim.handle.deliver("SM", pdu).unwrap();
    }
    assert_eq!(sim.handle.deliver("SM", "00"), None, "the SIM is full");
    let out = send_pending(&db.url, sim.path.to_str().unwrap(), &dir, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(sim.handle.state().stored_count(), 0);
    let texts: Vec<String> = db
        .store()
        .recent_rcv(100)
        .unwrap()
        .into_iter()
        .map(|r| r.text)
        .collect();
    assert_eq!(texts.len(), capacity);
    for i in 0..capacity {
        assert!(texts.contains(&format!("alert {i}")), "alert {i} missing");
    }
}

#[test]
fn serve_reads_at_once_when_the_modem_announces_a_message() {
    let dir = TempDir::new("cmti");
    let db = TestDb::new(Backend::Sqlite, &dir);
    let sim = PtySim::start().unwrap();
    // the poll is an hour away: only +CMTI can make this quick
    let serve = Serve::start(
        &db.url,
        sim.path.to_str().unwrap(),
        &dir,
        &["--poll-interval", "1h"],
    );
    // the first read pass and the health check after it are over: from
    // now on only +CMTI can start a read
    assert!(serve.wait_log("signal 21", WAIT), "{}", serve.log());
    let pdu = &encode_deliver(
        "+420777123456",
        "pushed",
        smsc_time(9),
        DeliverRef {
            reference: 0,
            ref16: false,
        },
    )[0];
    sim.handle.deliver("SM", pdu).unwrap();
    let store = db.store();
    assert!(
        wait_for(WAIT, || store.recent_rcv(1).unwrap().len() == 1),
        "{}",
        serve.log()
    );
    assert!(wait_for(WAIT, || sim.handle.state().stored_count() == 0));
    assert_eq!(store.recent_rcv(1).unwrap()[0].text, "pushed");
}

#[test]
fn a_pass_without_the_database_deletes_nothing() {
    let dir = TempDir::new("dbdown");
    let db = TestDb::new(Backend::Mysql, &dir);
    db.init();
    let proxy = Proxy::start("127.0.0.1:3306".parse().unwrap());
    let url = db.url_via(proxy.addr);
    let sim = PtySim::start().unwrap();
    let serve = Serve::start(
        &url,
        sim.path.to_str().unwrap(),
        &dir,
        &["--poll-interval", "1s"],
    );
    assert!(serve.wait_log("ready", WAIT), "{}", serve.log());

    proxy.set_down();
    let used = load_sim(&sim, None);
    // the modem announces them; serve tries and fails to store them
    assert!(
        serve.wait_log("database unavailable", WAIT),
        "{}",
        serve.log()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        sim.handle.state().stored_count(),
        used,
        "nothing may leave the SIM"
    );
    let deletes = sim
        .handle
        .state()
        .commands
        .iter()
        .filter(|(_, c)| c.starts_with("AT+CMGD"))
        .count();
    assert_eq!(deletes, 0);

    proxy.set_up();
    assert!(
        wait_for(Duration::from_secs(60), || sim
            .handle
            .state()
            .stored_count()
            == 0),
        "{}",
        serve.log()
    );
    let rows = db.store().recent_rcv(100).unwrap();
    assert_eq!(rows.len(), 4, "each message stored once: {rows:?}");
    assert!(serve.wait_log("recovered", WAIT), "{}", serve.log());
}

#[test]
fn on_receive_program_gets_the_message_without_a_shell() {
    let dir = TempDir::new("hook");
    let db = TestDb::new(Backend::Sqlite, &dir);
    let sim = PtySim::start().unwrap();
    let out_file = dir.path().join("hook.out");
    let pwned = dir.path().join("pwned");
    let hook = dir.path().join("hook.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nprintf '%s|%s|%s|%s|' \"$1\" \"$SMSS_ID\" \"$SMSS_SENDER\" \"$SMSS_TEXT\" > {out}\ncat >> {out}\n",
            out = out_file.display()
        ),
    )
    .unwrap();
    let slow = dir.path().join("slow.sh");
    std::fs::write(&slow, "#!/bin/sh\nsleep 60\n").unwrap();
    for f in [&hook, &slow] {
        let _ = std::process::Command::new("chmod")
            .arg("+x")
            .arg(f)
            .status();
    }

    let hostile = format!(
        "$(touch {p}); `touch {p}`; rm -rf / ; \"'",
        p = pwned.display()
    );
    let pdus = encode_deliver(
        "+420777123456",
        &hostile,
        smsc_time(7),
        DeliverRef {
            reference: 5,
            ref16: false,
        },
    );
    for pdu in &pdus {
        sim.handle.deliver("SM", pdu).unwrap();
    }
    let device = sim.path.to_str().unwrap();
    let out = send_pending(
        &db.url,
        device,
        &dir,
        &["--on-receive", hook.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = db.store().recent_rcv(1).unwrap();
    assert_eq!(rows.len(), 1, "{}", stderr(&out));
    let id = rows[0].id;
    let got = std::fs::read_to_string(&out_file).unwrap();
    assert_eq!(got, format!("{id}|{id}|+420777123456|{hostile}|{hostile}"));
    assert!(!pwned.exists(), "the text was run by a shell");

    // a program that hangs is killed after its timeout; the message stays stored
    let pdu = &encode_deliver(
        "+420777123456",
        "second",
        smsc_time(8),
        DeliverRef {
            reference: 0,
            ref16: false,
        },
    )[0];
    sim.handle.deliver("SM", pdu).unwrap();
    let start = Instant::now();
    let out = send_pending(
        &db.url,
        device,
        &dir,
        &[
            "--on-receive",
            slow.to_str().unwrap(),
            "--on-receive-timeout",
            "1s",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    assert!(stderr(&out).contains("killed"), "{}", stderr(&out));
    assert_eq!(db.store().recent_rcv(1).unwrap()[0].text, "second");
}

#[test]
fn a_message_read_again_after_a_failed_delete_is_stored_once() {
    let dir = TempDir::new("again");
    let db = TestDb::new(Backend::Sqlite, &dir);
    let sim = PtySim::start().unwrap();
    let device = sim.path.to_str().unwrap();
    let used = load_sim(&sim, None);
    // committed, then the delete fails: as if smss died in between
    sim.handle.state().fail_deletes = 1;
    let out = send_pending(&db.url, device, &dir, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("+CMS ERROR: 500"), "{}", stderr(&out));
    assert_eq!(sim.handle.state().stored_count(), used);
    assert_eq!(db.store().recent_rcv(100).unwrap().len(), 1);

    let out = send_pending(&db.url, device, &dir, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(sim.handle.state().stored_count(), 0);
    let texts: Vec<String> = db
        .store()
        .recent_rcv(100)
        .unwrap()
        .into_iter()
        .map(|r| r.text)
        .collect();
    assert_eq!(texts.len(), 4, "{texts:?}");
}
