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
    assert_eq!(
        sim.handle.state().memories["SM"].slots.len(),
        capacity,
        "the SIM is full"
    );
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

/// With a MySQL store whose database is away, what arrives is committed
/// to the local spool and only then deleted from the SIM; once the
/// database answers it is in `rcv`, each message once.
#[test]
fn a_pass_without_the_database_commits_to_the_spool_before_deleting() {
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
        &["--poll-interval", "1s", "--spool-retry", "300ms"],
    );
    assert!(serve.wait_log("ready", WAIT), "{}", serve.log());

    proxy.set_down();
    let used = load_sim(&sim, None);
    assert!(
        wait_for(WAIT, || sim.handle.state().stored_count() == 0),
        "{}",
        serve.log()
    );
    // off the SIM: so in the spool already (the commit comes first)
    let spool_url = format!("sqlite://{}", dir.path().join("spool.db").display());
    let spool = smss::store::open(&spool_url, false).unwrap();
    let held = spool.list_spooled_received(100).unwrap();
    assert_eq!(held.len(), 4, "{held:?}\n{}", serve.log());
    let deletes = sim
        .handle
        .state()
        .commands
        .iter()
        .filter(|(_, c)| c.starts_with("AT+CMGD"))
        .count();
    assert_eq!(deletes, used, "each slot deleted once");

    proxy.set_up();
    assert!(
        wait_for(Duration::from_secs(60), || spool.count_spooled().unwrap()
            == 0
            && db.store().recent_rcv(100).unwrap().len() == 4),
        "{}",
        serve.log()
    );
    let rows = db.store().recent_rcv(100).unwrap();
    assert_eq!(rows.len(), 4, "each message stored once: {rows:?}");
    assert!(serve.wait_log("back to normal", WAIT), "{}", serve.log());
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

/// The corners of TS 23.040 / 23.038 that phones and SMSCs produce (issue
/// 16), through the simulated modem and `send-pending` into the database.
/// Every PDU is assembled here field by field (SMSC field 00, then the
/// TPDU); the 7-bit user data was packed outside smss from septets of an
/// independent encoder (PyPI gsmcodecs), as in `src/gsm/corners.rs`.
fn corners(backend: Backend) {
    let dir = TempDir::new("corners");
    let db = TestDb::new(backend, &dir);
    db.init();
    let sim = PtySim::start().unwrap();
    let device = sim.path.to_str().unwrap();
    let hooked = dir.path().join("hooked");
    let hook = dir.path().join("hook.sh");
    std::fs::write(
        &hook,
        format!("#!/bin/sh\necho \"$SMSS_ID\" >> {}\n", hooked.display()),
    )
    .unwrap();
    let _ = std::process::Command::new("chmod")
        .arg("+x")
        .arg(&hook)
        .status();

    // TP-MTI deliver + TP-MMS (04), + TP-UDHI (44); TP-OA; TP-PID; TP-DCS;
    // TP-SCTS; TP-UDL; TP-UD.
    let pdu = |first: u8, oa: &str, pid: u8, dcs: u8, scts: &str, udl: u8, ud: &str| {
        format!("00{first:02X}{oa}{pid:02X}{dcs:02X}{scts}{udl:02X}{ud}")
    };
    let oa = |digits: &str| -> String {
        // International, swapped semi-octets padded with F.
        let mut d: Vec<u8> = digits.bytes().collect();
        if d.len() % 2 == 1 {
            d.push(b'F');
        }
        let swapped: String = d
            .chunks(2)
            .map(|p| format!("{}{}", p[1] as char, p[0] as char))
            .collect();
        format!("{:02X}91{swapped}", digits.len())
    };
    // 2026-11-30 10:20:3x +01:00
    let t = |s: u8| format!("6211030102{:X}340", s);
    let hello = ("0A", "E8329BFD4697D9EC37"); // "hellohello"
    let digits7 = ("07", "31D98C56B3DD1A"); // "1234567", CR in the spare bits
    let u = |s: &str| u8::from_str_radix(s, 16).unwrap();
    let msgs = [
        // Turkish single shift (UDH 03 24 01 01): "Çağrı".
        pdu(
            0x44,
            &oa("420608337726"),
            0,
            0,
            &t(0),
            0x0C,
            "0324010148843767F9260D",
        ),
        // Turkish locking shift (UDH 03 25 01 01): "hastası çok iyi".
        pdu(
            0x44,
            &oa("420608337726"),
            0,
            0,
            &t(1),
            0x14,
            "032501014087E7F4F0FC0002BFD7A0743E0D",
        ),
        // Type 0 (TP-PID 40).
        pdu(
            0x04,
            &oa("420111222333"),
            0x40,
            0,
            &t(2),
            u(hello.0),
            hello.1,
        ),
        // Replace short message type 1 (TP-PID 41), twice from one sender.
        pdu(
            0x04,
            &oa("420777000111"),
            0x41,
            0,
            &t(3),
            u(hello.0),
            hello.1,
        ),
        pdu(
            0x04,
            &oa("420777000111"),
            0x41,
            0,
            &t(4),
            u(digits7.0),
            digits7.1,
        ),
        // TP-SCTS with a semi-octet A: the text stays, the time is unknown.
        pdu(
            0x04,
            &oa("420999888777"),
            0,
            0,
            "621103A1020340",
            u(hello.0),
            hello.1,
        ),
        // "Megafon" (7 septets) with its length given as 14 semi-octets.
        pdu(0x04, "0ED0CDF2396C7EBB01", 0, 0, &t(5), u(hello.0), hello.1),
        // WAP push: TP-DCS F5, UDH 06 05 04 0B84 23F0 (to 2948 from 9200).
        pdu(
            0x44,
            &oa("420555444333"),
            0,
            0xF5,
            &t(6),
            0x11,
            "0605040B8423F0010603AE81EA02056A00",
        ),
        // Issue 16 item 1: "LOST-1" (1/2, reference 77), its part 2 never
        // comes; then the reference reused: "NEXT-1", "NEXT-2".
        pdu(
            0x44,
            &oa("420666555444"),
            0,
            0,
            &t(7),
            0x0D,
            "0500034D020198CF29B51503",
        ),
        pdu(
            0x44,
            &oa("420666555444"),
            0,
            0,
            &t(8),
            0x0D,
            "0500034D02019C452CB51503",
        ),
        pdu(
            0x44,
            &oa("420666555444"),
            0,
            0,
            &t(9),
            0x0D,
            "0500034D02029C452CB52503",
        ),
        // Item 2: 1/2 of 8-bit reference 77 and 2/2 of 16-bit reference 77.
        pdu(
            0x44,
            &oa("420666555444"),
            0,
            0,
            &t(0),
            0x0E,
            "0500034D02018AC92392DA8A01",
        ),
        pdu(
            0x44,
            &oa("420666555444"),
            0,
            0,
            &t(1),
            0x11,
            "060804004D0202D324965A2C3A5B32",
        ),
    ];
    for m in &msgs {
        sim.handle.deliver("SM", m).expect("a free slot");
    }
    let out = send_pending(
        &db.url,
        device,
        &dir,
        &["--on-receive", hook.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(sim.handle.state().stored_count(), 0, "{}", stderr(&out));

    let store = db.store();
    let mut rows = store.recent_rcv(100).unwrap();
    rows.reverse();
    let got: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.sender.as_str(), r.text.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("+420608337726", "Çağrı"),
            ("+420608337726", "hastası çok iyi"),
            ("+420111222333", "hellohello"),
            ("+420777000111", "hellohello"),
            ("+420777000111", "1234567"),
            ("+420999888777", "hellohello"),
            ("Megafon", "hellohello"),
            ("+420555444333", "010603AE81EA02056A00"),
            ("+420666555444", "LOST-1"),
            ("+420666555444", "NEXT-1NEXT-2"),
        ],
        "{}",
        stderr(&out)
    );
    // Type 0: stored as such, no hook.
    assert!(rows[2].silent());
    // Replace type 1: the first replaced by the second.
    assert_eq!(rows[3].replaced_by, Some(rows[4].id));
    assert_eq!(rows[4].replaced_by, None);
    // The invalid time stamp: unknown, the received time is there.
    assert_eq!(rows[5].smsc_time, "");
    assert!(!rows[5].received_at.is_empty());
    assert_eq!(rows[0].smsc_time, "2026-11-30 10:20:30+01:00");
    // The WAP push with its ports.
    let ports = rows[7].ports.expect("ports");
    assert_eq!((ports.destination, ports.source), (2948, 9200));
    assert!(ports.is_wap_push());
    assert_eq!(rows[7].coding, Coding::Decoded(DataCoding::EightBit));
    // The stale set on its own, incomplete; the new one complete.
    assert_eq!((rows[8].parts, rows[8].complete), (1, false));
    assert_eq!((rows[9].parts, rows[9].complete), (2, true));
    // 8- and 16-bit reference 77 (EIGHT-1, SIXTEEN-2): two sets, each
    // still waiting for its other part, not one row (the list above).

    // The hook ran for every new message but the silent one (the stale,
    // incomplete set too: it is a message of its own, stored as what came).
    let hooked: Vec<i64> = std::fs::read_to_string(&hooked)
        .unwrap_or_default()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let mut want: Vec<i64> = rows.iter().filter(|r| !r.silent()).map(|r| r.id).collect();
    want.sort();
    let mut hooked_sorted = hooked.clone();
    hooked_sorted.sort();
    assert_eq!(hooked_sorted, want, "{}", stderr(&out));

    // Read again (as after a crash before AT+CMGD): nothing doubled, and
    // the replaced message does not come back in place of the newer one.
    for m in &msgs {
        sim.handle.deliver("SM", m).expect("a free slot");
    }
    let out = send_pending(&db.url, device, &dir, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let again = store.recent_rcv(100).unwrap();
    assert_eq!(again.len(), 10, "{}", stderr(&out));
    assert_eq!(store.rcv(rows[4].id).unwrap().unwrap().replaced_by, None);

    // The two sets still waiting (EIGHT-1, SIXTEEN-2), older than
    // multipart-timeout: stored as what came, incomplete, and the hook
    // runs for each, as for any new message.
    std::thread::sleep(Duration::from_millis(1500));
    let hooked = dir.path().join("hooked");
    let before = std::fs::read_to_string(&hooked)
        .unwrap_or_default()
        .lines()
        .count();
    let out = send_pending(
        &db.url,
        device,
        &dir,
        &[
            "--on-receive",
            hook.to_str().unwrap(),
            "--multipart-timeout",
            "1s",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let flushed: Vec<i64> = store
        .recent_rcv(100)
        .unwrap()
        .iter()
        .filter(|r| !r.complete && r.id > rows[9].id)
        .map(|r| r.id)
        .collect();
    assert_eq!(flushed.len(), 2, "{}", stderr(&out));
    let hooked_now: Vec<i64> = std::fs::read_to_string(&hooked)
        .unwrap()
        .lines()
        .skip(before)
        .map(|l| l.parse().unwrap())
        .collect();
    let (mut got, mut want) = (hooked_now, flushed);
    got.sort();
    want.sort();
    assert_eq!(got, want, "{}", stderr(&out));
}

#[test]
fn corners_of_the_standard_sqlite() {
    corners(Backend::Sqlite);
}

#[test]
fn corners_of_the_standard_mysql() {
    corners(Backend::Mysql);
}

/// Receiving does not wait for a long queue (issue 13): 30 messages on a
/// modem that takes a while per message; a message arrives after the 3rd
/// is sent. Its +CMTI is served between two sends: the memory is listed
/// (AT+CMGL) before the last queued message goes out, the message is
/// stored and its on-receive program runs. The poll is an hour away, so
/// only the announcement can start that read.
#[test]
fn a_message_announced_during_a_long_queue_is_read_between_sends() {
    let dir = TempDir::new("interleave");
    let db = TestDb::new(Backend::Sqlite, &dir);
    let sim = PtySim::start().unwrap();
    sim.handle.state().send_delay = Duration::from_millis(100);
    let hook_out = dir.path().join("hook.out");
    let hook = dir.path().join("hook.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$SMSS_TEXT\" > {}\n",
            hook_out.display()
        ),
    )
    .unwrap();
    let _ = std::process::Command::new("chmod")
        .arg("+x")
        .arg(&hook)
        .status();
    let serve = Serve::start(
        &db.url,
        sim.path.to_str().unwrap(),
        &dir,
        &[
            "--poll-interval",
            "1h",
            "--on-receive",
            hook.to_str().unwrap(),
        ],
    );
    assert!(serve.wait_log("signal 21", WAIT), "{}", serve.log());
    let line: String = (0..30)
        .map(|i| format!("#4206083377{i:02};queued {i}"))
        .collect();
    let out = client(serve.addr, &[&line]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(sim.handle.wait_until(WAIT, |s| s.sent.len() >= 3));
    let announced_at = sim.handle.state().commands.len();
    let pdu = &encode_deliver(
        "+420777123456",
        "between sends",
        smsc_time(10),
        DeliverRef {
            reference: 0,
            ref16: false,
        },
    )[0];
    sim.handle.deliver("SM", pdu).unwrap();
    assert_eq!(sim.handle.wait_for_sent(30, WAIT).len(), 30);
    let store = db.store();
    assert!(
        wait_for(WAIT, || store.recent_rcv(1).unwrap().len() == 1),
        "{}",
        serve.log()
    );
    assert_eq!(store.recent_rcv(1).unwrap()[0].text, "between sends");
    assert!(
        wait_file_line(&hook_out, "between sends", WAIT).is_some(),
        "the on-receive program did not run"
    );
    let commands: Vec<String> = sim.handle.state().commands[announced_at..]
        .iter()
        .map(|(_, c)| c.clone())
        .collect();
    let read = commands
        .iter()
        .position(|c| c == "AT+CMGL=4" || c.starts_with("AT+CMGR="))
        .expect("the memory was read");
    let last_send = commands
        .iter()
        .rposition(|c| c.starts_with("AT+CMGS="))
        .unwrap();
    assert!(
        read < last_send,
        "read only after the queue emptied: {commands:?}"
    );
    // and not after every message: reading waits for an announcement
    let listings = commands.iter().filter(|c| *c == "AT+CMGL=4").count();
    assert!(listings <= 6, "{listings} listings: {commands:?}");
}
