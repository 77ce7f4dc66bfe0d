//! The send path end to end: client → serve → database → modem thread →
//! PDU on the pty → the simulator's decoded SMS; and send-pending.

use std::time::Duration;

use smss::sim::PtySim;
use smss::store::SmsStatus;

use crate::util::*;

const WAIT: Duration = Duration::from_secs(30);

fn end_to_end(backend: Backend) {
    let dir = TempDir::new("e2e");
    let db = TestDb::new(backend, &dir);
    db.init();
    let sim = PtySim::start().unwrap();
    let serve = Serve::start(&db.url, sim.path.to_str().unwrap(), &dir, &[]);

    let czech = "Příliš žluťoučký kůň úpěl ďábelské ódy";
    let out = client(
        serve.addr,
        &[&format!("#420608337726;AHOJ#420777123456;{czech}")],
    );
    assert!(
        out.status.success(),
        "client: {}\n{}",
        stderr(&out),
        serve.log()
    );
    assert!(stdout(&out).starts_with("OK 2 "), "{}", stdout(&out));

    let sent = sim.handle.wait_for_sent(2, WAIT);
    assert_eq!(sent.len(), 2, "{}", serve.log());
    assert_eq!(
        (sent[0].number.as_str(), sent[0].text.as_str()),
        ("+420608337726", "AHOJ")
    );
    assert_eq!(sent[0].coding, "gsm7");
    assert_eq!(
        (sent[1].number.as_str(), sent[1].text.as_str()),
        ("+420777123456", czech)
    );
    assert_eq!(sent[1].coding, "ucs2");

    // 400 GSM characters: 3 concatenated parts, one reference
    let long: String = (0..400)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let out = client(serve.addr, &[&format!("#+420608337726;{long}")]);
    assert!(out.status.success(), "{}", stderr(&out));
    // the extension table survives
    let ext = "€[]{}^~\\|";
    let out = client(serve.addr, &[&format!("#420608337726;{ext}")]);
    assert!(out.status.success(), "{}", stderr(&out));

    let sent = sim.handle.wait_for_sent(4, WAIT);
    assert_eq!(sent.len(), 4, "{}", serve.log());
    assert_eq!(sent[2].text, long);
    assert_eq!(sent[2].parts, 3);
    assert!(sent[2].concat_ref.is_some());
    assert_eq!(sent[3].text, ext);
    assert_eq!(sent[3].coding, "gsm7");
    assert!(
        sim.handle.state().bad_pdus.is_empty(),
        "{:?}",
        sim.handle.state().bad_pdus
    );

    // the record: every message in sms as sent, the queue empty
    let store = db.store();
    let ids: Vec<i64> = stdout(&out)
        .split_whitespace()
        .nth(2)
        .unwrap()
        .split(',')
        .map(|i| i.parse().unwrap())
        .collect();
    let deadline = std::time::Instant::now() + WAIT;
    while store.queue_stats().unwrap().depth > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(store.queue_stats().unwrap().depth, 0);
    let recent = store.recent_sms(10).unwrap();
    assert_eq!(recent.len(), 4);
    for row in &recent {
        assert_eq!(row.status, SmsStatus::Sent, "{row:?}");
        assert!(row.sent_at.is_some(), "{row:?}");
    }
    let ext_row = store.sms(ids[0]).unwrap().unwrap();
    assert_eq!(ext_row.text, ext);
    let long_row = recent.iter().find(|r| r.text == long).unwrap();
    assert_eq!(long_row.parts, 3);
    assert_eq!(long_row.part_refs.split(',').count(), 3);

    assert!(serve.terminate().success());
}

#[test]
fn end_to_end_sqlite() {
    end_to_end(Backend::Sqlite);
}

#[test]
fn end_to_end_mysql() {
    end_to_end(Backend::Mysql);
}

fn send_pending(backend: Backend) {
    let dir = TempDir::new("pending");
    let db = TestDb::new(backend, &dir);
    db.init();
    let sim = PtySim::start().unwrap();
    let device = sim.path.to_str().unwrap();
    let lock_dir = dir.path().to_str().unwrap();
    let pending = || {
        smss(&[
            "send-pending",
            "--config",
            "/dev/null",
            "--db",
            &db.url,
            "--device",
            device,
            "--lock-dir",
            lock_dir,
        ])
    };

    // While serve holds the modem, send-pending leaves the port alone.
    let serve = Serve::start(&db.url, device, &dir, &[]);
    assert!(serve.wait_log("ready", WAIT), "{}", serve.log());
    let commands_before = sim.handle.state().commands.len();
    let out = pending();
    assert!(out.status.success(), "{}", stderr(&out));
    let pid = serve.child.id();
    assert!(
        stdout(&out).contains(&format!("smss serve (pid {pid}) holds the modem")),
        "{}",
        stdout(&out)
    );
    std::thread::sleep(Duration::from_millis(200));
    // serve keeps talking to its modem (polls, health checks), but opening
    // the port would start with the init sequence again
    let after: Vec<String> = sim.handle.state().commands[commands_before..]
        .iter()
        .map(|(_, c)| c.clone())
        .collect();
    assert!(!after.iter().any(|c| c == "ATE0"), "{after:?}");
    assert!(serve.terminate().success());

    // With serve stopped, a row inserted with plain SQL goes out.
    db.store()
        .execute_sql("INSERT INTO msg (phone, text) VALUES ('420608337726', 'from SQL ✓')")
        .unwrap();
    let out = pending();
    assert!(out.status.success(), "{}", stderr(&out));
    let sent = sim.handle.wait_for_sent(1, WAIT);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].text, "from SQL ✓");
    assert_eq!(db.store().queue_stats().unwrap().depth, 0);
    let row = &db.store().recent_sms(1).unwrap()[0];
    assert_eq!((row.status.as_str(), row.source.as_str()), ("sent", "sql"));
}

#[test]
fn send_pending_sqlite() {
    send_pending(Backend::Sqlite);
}

#[test]
fn send_pending_mysql() {
    send_pending(Backend::Mysql);
}

#[test]
fn client_fails_clearly() {
    // nobody listens on this port
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = client(free, &["#420608337726;x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot connect to"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("is smss serve running there"),
        "{}",
        stderr(&out)
    );

    let dir = TempDir::new("clienterr");
    let db = TestDb::new(Backend::Sqlite, &dir);
    let sim = PtySim::start().unwrap();
    let serve = Serve::start(&db.url, sim.path.to_str().unwrap(), &dir, &[]);
    for bad in ["#12;", "#abc;x"] {
        let out = client(serve.addr, &[bad]);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert!(
            stderr(&out).contains("ERR request 1: invalid phone number"),
            "{}",
            stderr(&out)
        );
    }
    // one bad line among good ones: exit 1, the good ones are queued
    let out = client(serve.addr, &["#420608337726;good", "#420608337726;"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("OK 1 "), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("ERR request 1: empty text"),
        "{}",
        stderr(&out)
    );
}

/// The AT+CMMS commands and sends the simulator saw, in order.
fn link_commands(sim: &PtySim) -> Vec<String> {
    sim.handle
        .state()
        .commands
        .iter()
        .map(|(_, c)| c.clone())
        .filter(|c| c.starts_with("AT+CMMS") || c.starts_with("AT+CMGS"))
        .map(|c| {
            if c.starts_with("AT+CMGS") {
                "send".to_owned()
            } else {
                c
            }
        })
        .collect()
}

#[test]
fn radio_link_kept_open_between_queued_messages() {
    let dir = TempDir::new("cmms");
    let db = TestDb::new(Backend::Sqlite, &dir);
    db.init();
    let store = db.store();
    let queue = |n: usize| {
        let msgs: Vec<_> = (0..n)
            .map(|i| smss::store::NewMessage {
                phone: "420608337726".into(),
                text: format!("run {i}"),
                source: "test".into(),
                ..Default::default()
            })
            .collect();
        store.enqueue(&msgs).unwrap();
    };
    let sim = PtySim::start().unwrap();
    let device = sim.path.to_str().unwrap();

    // Three waiting: the link is kept open after the first two, and left
    // to close after the last.
    queue(3);
    let out = crate::util::send_pending(&db.url, device, &dir, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(sim.handle.wait_for_sent(3, WAIT).len(), 3);
    assert_eq!(
        link_commands(&sim),
        ["AT+CMMS=2", "send", "send", "AT+CMMS=0", "send"]
    );

    // One message alone: no AT+CMMS at all.
    sim.handle.state().commands.clear();
    queue(1);
    let out = crate::util::send_pending(&db.url, device, &dir, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(sim.handle.wait_for_sent(4, WAIT).len(), 4);
    assert_eq!(link_commands(&sim), ["send"]);

    // Exactly one full batch (8): the link is kept for the batch that
    // might follow; when the next claim finds nothing, it is let go.
    sim.handle.state().commands.clear();
    queue(8);
    let out = crate::util::send_pending(&db.url, device, &dir, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(sim.handle.wait_for_sent(12, WAIT).len(), 12);
    let mut batch = vec!["AT+CMMS=2".to_owned()];
    batch.extend(std::iter::repeat_n("send".to_owned(), 8));
    batch.push("AT+CMMS=0".into());
    assert_eq!(link_commands(&sim), batch);

    // A modem without AT+CMMS is asked once, then sent to as before.
    sim.handle.state().commands.clear();
    sim.handle.state().refuse_cmms = true;
    queue(3);
    let out = crate::util::send_pending(&db.url, device, &dir, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sent = sim.handle.wait_for_sent(15, WAIT);
    assert_eq!(sent.len(), 15);
    assert_eq!(link_commands(&sim), ["AT+CMMS=2", "send", "send", "send"]);
    let texts: Vec<&str> = sent[12..].iter().map(|s| s.text.as_str()).collect();
    assert_eq!(texts, ["run 0", "run 1", "run 2"]);
    assert_eq!(store.queue_stats().unwrap().depth, 0);
}
