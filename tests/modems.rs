//! The modem matrix (issue 13): for every simulator profile (`src/sim/
//! profiles.rs`, modems as their vendors' AT manuals describe them),
//! `serve` starts against it and must: finish init, send three messages
//! (GSM with the extension table, Czech UCS-2, a 3-part text) that decode
//! right, store two received messages (one of two parts) and delete them
//! from the modem, and record a health row naming the profile's
//! manufacturer, model, signal, registration and operator. Every profile
//! on SQLite and on MariaDB; then end to end a modem whose first answer
//! is slow and one whose `AT+CMGL` hangs.

use std::time::Duration;

use smss::gsm::{DeliverRef, encode_deliver};
use smss::sim::profiles::{self, Profile};
use smss::sim::{PROFILES, PtySim};
use smss::store::{ModemHealth, Store};

use crate::util::proxy::Proxy;
use crate::util::*;

/// Generous: a profile may cost a command timeout (5 s here) or two.
const WAIT: Duration = Duration::from_secs(60);

const GSM_TEXT: &str = "Backup db1 failed: disk 95% € {quota} [ok]";
const CZECH: &str = "Příliš žluťoučký kůň úpěl ďábelské ódy";
const RECEIVED: &str = "ACK 17";

fn long_text() -> String {
    (0..400)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect()
}

fn received_long() -> String {
    (0..200)
        .map(|i| char::from(b'A' + (i % 26) as u8))
        .collect()
}

/// `serve` against `profile` with a database of `backend`.
struct Bench {
    serve: Serve,
    sim: PtySim,
    db: TestDb,
    _dir: TempDir,
}

fn start(profile: &'static Profile, backend: Backend, extra: &[&str]) -> Bench {
    let dir = TempDir::new(&format!("modem_{}", profile.name.replace('-', "_")));
    let db = TestDb::new(backend, &dir);
    db.init();
    let sim = PtySim::start_profile(profile).unwrap();
    let mut args = vec!["--command-timeout", "5s", "--poll-interval", "2s"];
    args.extend_from_slice(extra);
    let serve = Serve::start(&db.url, sim.path.to_str().unwrap(), &dir, &args);
    Bench {
        serve,
        sim,
        db,
        _dir: dir,
    }
}

impl Bench {
    fn wait_ready(&self) {
        assert!(
            self.serve.wait_log(" ready: ", WAIT),
            "{}: init did not complete:\n{}",
            self.sim.handle.state().profile.name,
            self.serve.log()
        );
    }

    fn send_three(&self) {
        let out = client(
            self.serve.addr,
            &[&format!(
                "#420608337726;{GSM_TEXT}#+420777123456;{CZECH}#00420731000111;{}",
                long_text()
            )],
        );
        assert!(
            out.status.success(),
            "client: {}\n{}",
            stderr(&out),
            self.serve.log()
        );
        let sent = self.sim.handle.wait_for_sent(3, WAIT);
        let name = self.sim.handle.state().profile.name;
        assert_eq!(sent.len(), 3, "{name}: {}", self.serve.log());
        let got: Vec<(&str, &str, &str, usize)> = sent
            .iter()
            .map(|s| (s.number.as_str(), s.text.as_str(), s.coding, s.parts))
            .collect();
        let long = long_text();
        assert_eq!(
            got,
            vec![
                ("+420608337726", GSM_TEXT, "gsm7", 1),
                ("+420777123456", CZECH, "ucs2", 1),
                ("+420731000111", long.as_str(), "gsm7", 3),
            ],
            "{name}"
        );
        assert!(
            self.sim.handle.state().bad_pdus.is_empty(),
            "{name}: {:?}",
            self.sim.handle.state().bad_pdus
        );
        let store = self.db.store();
        assert!(
            wait_for(WAIT, || store.queue_stats().unwrap().depth == 0),
            "{name}: the queue did not empty"
        );
        let sms = store.recent_sms(10).unwrap();
        assert!(
            sms.iter().all(|r| r.status == smss::store::SmsStatus::Sent),
            "{name}: {sms:?}\n{}",
            self.serve.log()
        );
    }

    /// Two messages arrive: one single, one of two parts (16-bit reference).
    fn deliver_two(&self) {
        let p = self.sim.handle.state().profile;
        let single = encode_deliver(
            "+420777123456",
            RECEIVED,
            smsc_time(1),
            DeliverRef {
                reference: 0,
                ref16: false,
            },
        );
        let parts = encode_deliver(
            "+420608337726",
            &received_long(),
            smsc_time(2),
            DeliverRef {
                reference: 777,
                ref16: true,
            },
        );
        assert_eq!(parts.len(), 2);
        for pdu in single.iter().chain(parts.iter().rev()) {
            self.sim
                .handle
                .deliver(p.deliver_to, pdu)
                .expect("a free slot");
        }
    }

    fn wait_received(&self, rows: usize) {
        let name = self.sim.handle.state().profile.name;
        let store = self.db.store();
        let stored = wait_for(WAIT, || {
            store.recent_rcv(10).unwrap().len() >= rows
                && self.sim.handle.state().stored_count() == 0
        });
        assert!(
            stored,
            "{name}: {} rows stored, {} left on the modem\n{}",
            store.recent_rcv(10).unwrap().len(),
            self.sim.handle.state().stored_count(),
            self.serve.log()
        );
        let got: Vec<(String, String, u32)> = store
            .recent_rcv(10)
            .unwrap()
            .into_iter()
            .map(|r| (r.sender, r.text, r.parts))
            .collect();
        for want in [
            ("+420608337726".to_owned(), received_long(), 2),
            ("+420777123456".to_owned(), RECEIVED.to_owned(), 1),
        ] {
            assert!(got.contains(&want), "{name}: {want:?} not in {got:?}");
        }
        // each stored once
        assert_eq!(got.len(), rows, "{name}: {got:?}");
    }

    fn health(&self) -> ModemHealth {
        let p = self.sim.handle.state().profile;
        let store: std::sync::Arc<dyn Store> = self.db.store();
        let mut row = None;
        let found = wait_for(WAIT, || {
            row = store
                .modem_health()
                .unwrap()
                .into_iter()
                .find(|r| !r.manufacturer.is_empty());
            row.is_some()
        });
        assert!(found, "{}: no health row\n{}", p.name, self.serve.log());
        let row = row.unwrap();
        let e = p.expect;
        assert_eq!(
            (
                row.manufacturer.as_str(),
                row.model.as_str(),
                row.rssi,
                row.registration.as_deref(),
                row.operator.as_deref()
            ),
            (
                e.manufacturer,
                e.model,
                Some(e.rssi),
                Some(e.registration),
                Some(e.operator)
            ),
            "{}: {row:?}",
            p.name
        );
        assert!(row.healthy, "{}: {row:?}", p.name);
        row
    }
}

fn matrix(profile: &'static Profile, backend: Backend) {
    let bench = start(profile, backend, &[]);
    bench.wait_ready();
    bench.send_three();
    let row = bench.health();
    bench.deliver_two();
    bench.wait_received(2);
    assert_eq!(row.warnings, None, "{}: {row:?}", profile.name);
    if !profile.sms_storage {
        // pushed as +CMT, each PDU acknowledged once it was stored
        let state = bench.sim.handle.state();
        assert!(
            state.pushed >= 3 && state.acked >= 3,
            "{}: {} pushed, {} acknowledged",
            profile.name,
            state.pushed,
            state.acked
        );
    }
    let log = bench.serve.log();
    assert!(!log.contains("does not answer: resetting"), "{log}");
    // a command the modem lacks is refused at once, not timed out
    // (each message with another behind it asks AT+CMMS=2)
    assert!(!log.contains("did not answer AT+CMMS"), "{log}");
    // init itself named the modem right (boot lines come during init)
    let e = profile.expect;
    let ready = format!(" ready: {} {} (reading ", e.manufacturer, e.model);
    assert!(
        log.contains(&ready),
        "{}: no '{ready}' in\n{log}",
        profile.name
    );
    let status = bench.serve.terminate();
    assert!(status.success(), "{status:?}");
}

macro_rules! matrix {
    ($($name:ident: $profile:expr, $backend:ident;)*) => {
        $(
            #[test]
            fn $name() {
                matrix(&$profile, Backend::$backend);
            }
        )*

        /// Every profile has its test on each backend.
        #[test]
        fn every_profile_is_in_the_matrix() {
            let tested: Vec<(&str, Backend)> = [$(($profile.name, Backend::$backend)),*].to_vec();
            for p in PROFILES {
                for backend in [Backend::Sqlite, Backend::Mysql] {
                    assert!(
                        tested.contains(&(p.name, backend)),
                        "profile {} has no matrix test on {backend:?}",
                        p.name
                    );
                }
            }
        }
    };
}

matrix! {
    tc35i_sqlite: profiles::TC35I, Sqlite;
    sim800_sqlite: profiles::SIM800, Sqlite;
    sim7600_sqlite: profiles::SIM7600, Sqlite;
    ec25_sqlite: profiles::EC25, Sqlite;
    m26_sqlite: profiles::M26, Sqlite;
    e173_sqlite: profiles::E173, Sqlite;
    e3372_sqlite: profiles::E3372, Sqlite;
    telit_sqlite: profiles::TELIT, Sqlite;
    sierra_sqlite: profiles::SIERRA, Sqlite;
    ublox_sqlite: profiles::UBLOX, Sqlite;
    fastrack_sqlite: profiles::FASTRACK, Sqlite;
    motorola_sqlite: profiles::MOTOROLA, Sqlite;
    nrf91_sqlite: profiles::NRF91, Sqlite;
    slow_start_sqlite: profiles::SLOW_START, Sqlite;
    tc35i_mysql: profiles::TC35I, Mysql;
    sim800_mysql: profiles::SIM800, Mysql;
    sim7600_mysql: profiles::SIM7600, Mysql;
    ec25_mysql: profiles::EC25, Mysql;
    m26_mysql: profiles::M26, Mysql;
    e173_mysql: profiles::E173, Mysql;
    e3372_mysql: profiles::E3372, Mysql;
    telit_mysql: profiles::TELIT, Mysql;
    sierra_mysql: profiles::SIERRA, Mysql;
    ublox_mysql: profiles::UBLOX, Mysql;
    fastrack_mysql: profiles::FASTRACK, Mysql;
    motorola_mysql: profiles::MOTOROLA, Mysql;
    nrf91_mysql: profiles::NRF91, Mysql;
    slow_start_mysql: profiles::SLOW_START, Mysql;
}

/// The slow first answer: the modem answers its first AT after
/// 2.5 s and prints junk first. Before, every later answer was one command
/// behind and the PDU was taken for a command (+CMS ERROR: 304, the
/// message failed for good); now init resynchronises and it goes out.
#[test]
fn a_slow_first_answer_does_not_fail_a_message() {
    let bench = start(&profiles::SLOW_START, Backend::Sqlite, &[]);
    bench.wait_ready();
    assert!(
        bench.serve.log().contains("resynchronising"),
        "{}",
        bench.serve.log()
    );
    bench.send_three();
    let sms = bench.db.store().recent_sms(10).unwrap();
    assert!(sms.iter().all(|r| r.error.is_none()), "{sms:?}");
    // the answers are in step: the health row is the modem's, not a stale OK
    bench.health();
}

/// A phone whose AT+CMGL never answers: the first pass costs one command
/// timeout, then every memory is read slot by slot with AT+CMGR; no reset
/// loop, no message left behind, and later messages are read the same way.
#[test]
fn a_hanging_cmgl_is_read_slot_by_slot() {
    let bench = start(&profiles::MOTOROLA, Backend::Sqlite, &[]);
    bench.deliver_two();
    bench.wait_ready();
    bench.wait_received(2);
    assert!(
        bench.serve.wait_log("message by message (AT+CMGR)", WAIT),
        "{}",
        bench.serve.log()
    );
    // a message arriving later: announced with +CMTI, read with AT+CMGR
    let later = encode_deliver(
        "+420602000111",
        "later",
        smsc_time(9),
        DeliverRef {
            reference: 0,
            ref16: false,
        },
    );
    bench.sim.handle.deliver("ME", &later[0]).unwrap();
    bench.wait_received(3);
    let store = bench.db.store();
    assert!(
        store
            .recent_rcv(10)
            .unwrap()
            .iter()
            .any(|r| r.text == "later")
    );
    let commands: Vec<String> = bench
        .sim
        .handle
        .state()
        .commands
        .iter()
        .map(|(_, c)| c.clone())
        .collect();
    let listings = commands.iter().filter(|c| *c == "AT+CMGL=4").count();
    // asked once, then never again (whatever the memory)
    assert_eq!(listings, 1, "{commands:?}");
    assert!(commands.iter().any(|c| c.starts_with("AT+CMGR=")));
    let log = bench.serve.log();
    assert!(!log.contains("does not answer: resetting"), "{log}");
    bench.health();
}

/// `smss probe`'s report, as `name: value` pairs.
fn probe(device: &str, dir: &TempDir) -> (Option<i32>, Vec<(String, String)>, String) {
    let lock_dir = dir.path().display().to_string();
    let out = smss(&[
        "probe",
        "--config",
        "/dev/null",
        "--device",
        device,
        "--lock-dir",
        &lock_dir,
        "--log-file",
        "none",
        "--command-timeout",
        "5s",
    ]);
    let text = stdout(&out);
    let pairs = text
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
        .collect();
    (out.status.code(), pairs, format!("{text}{}", stderr(&out)))
}

#[test]
fn probe_tells_what_the_modem_is_and_what_smss_will_use() {
    let dir = TempDir::new("probe");
    let sim = PtySim::start_profile(&profiles::SIM800).unwrap();
    let pdu = encode_deliver(
        "+420777123456",
        RECEIVED,
        smsc_time(1),
        DeliverRef {
            reference: 0,
            ref16: false,
        },
    );
    sim.handle.deliver("SM", &pdu[0]).unwrap();
    let device = sim.path.to_str().unwrap();
    let (code, pairs, all) = probe(device, &dir);
    assert_eq!(code, Some(0), "{all}");
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {k} in\n{all}"))
    };
    assert_eq!(get("device"), device);
    assert_eq!(get("manufacturer"), "SIMCOM_Ltd");
    assert_eq!(get("model"), "SIMCOM_SIM800L");
    assert_eq!(get("firmware"), "1418B04SIM800L24");
    assert_eq!(get("SIM"), "ready");
    assert_eq!(get("signal"), "17/31 (-79 dBm)");
    assert_eq!(get("registration"), "roaming");
    assert_eq!(get("operator"), "T-Mobile CZ");
    assert!(get("memories offered").contains("\"SM_P\""), "{all}");
    assert_eq!(get("smss reads"), "MT (1 of 80 used)");
    assert!(get("new messages").starts_with("announced (AT+CNMI=2,1,0,2,0)"));
    assert!(get("AT+CMMS").starts_with("yes"), "{all}");
    // it read nothing and deleted nothing
    let state = sim.handle.state();
    assert_eq!(state.stored_count(), 1);
    assert_eq!(state.memories["SM"].slots.values().next().unwrap().0, 0);
}

#[test]
fn probe_leaves_a_modem_that_serve_holds_alone() {
    let bench = start(&profiles::TC35I, Backend::Sqlite, &[]);
    bench.wait_ready();
    let device = bench.sim.path.to_str().unwrap().to_owned();
    let (code, _, all) = probe(&device, &bench._dir);
    assert_eq!(code, Some(1), "{all}");
    assert!(all.contains("holds the modem; stop it first"), "{all}");
    // and serve still sends
    bench.send_three();
}

#[test]
fn probe_of_a_missing_device_says_why() {
    let dir = TempDir::new("probe_missing");
    let missing = dir.path().join("ttyUSB9");
    let (code, _, all) = probe(missing.to_str().unwrap(), &dir);
    assert_eq!(code, Some(1), "{all}");
    assert!(all.contains("not probed:"), "{all}");
    assert!(all.contains("is the modem plugged in"), "{all}");
}

/// One message as the nRF91 would get it pushed.
fn pushed(text: &str, second: u8) -> String {
    encode_deliver(
        "+420777000222",
        text,
        smsc_time(second),
        DeliverRef {
            reference: 0,
            ref16: false,
        },
    )
    .remove(0)
}

/// The commands the simulator got, in order.
fn commands(sim: &PtySim) -> Vec<String> {
    sim.handle
        .state()
        .commands
        .iter()
        .map(|(_, c)| c.clone())
        .collect()
}

/// A modem without storage and a database that goes away: the pushed
/// message cannot be committed, so smss withholds AT+CNMA; the modem gives
/// up waiting (routing off, the network keeps the message), smss asks for
/// direct delivery again once the database is back, and the copy the
/// network delivers again is stored once.
/// With a MySQL store that is away, a pushed message is committed to the
/// local spool, acknowledged, and in `rcv` once the database answers.
#[test]
fn a_pushed_message_goes_to_the_spool_while_mysql_is_away() {
    let dir = TempDir::new("cmt_spool");
    let db = TestDb::new(Backend::Mysql, &dir);
    db.init();
    let proxy = Proxy::start("127.0.0.1:3306".parse().unwrap());
    let sim = PtySim::start_profile(&profiles::NRF91).unwrap();
    let serve = Serve::start(
        &db.url_via(proxy.addr),
        sim.path.to_str().unwrap(),
        &dir,
        &["--poll-interval", "1s", "--spool-retry", "300ms"],
    );
    assert!(
        serve.wait_log("delivered directly (AT+CNMI=3,2,0,1,0)", WAIT),
        "{}",
        serve.log()
    );
    proxy.set_down();
    sim.handle.deliver("SM", &pushed("pushed while away", 1));
    assert!(
        sim.handle.wait_until(WAIT, |s| s.acked >= 1),
        "{}",
        serve.log()
    );
    // acknowledged: so committed to the spool before
    let spool_url = format!("sqlite://{}", dir.path().join("spool.db").display());
    let spool = smss::store::open(&spool_url, false).unwrap();
    let held = spool.list_spooled_received(10).unwrap();
    assert_eq!(held.len(), 1, "{}", serve.log());
    assert_eq!(held[0].msg.text, "pushed while away");
    proxy.set_up();
    let store = db.store();
    assert!(
        wait_for(WAIT, || spool.count_spooled().unwrap() == 0
            && !store.recent_rcv(10).unwrap().is_empty()),
        "{}",
        serve.log()
    );
    let rows = store.recent_rcv(10).unwrap();
    assert_eq!(rows.len(), 1, "stored once: {rows:?}");
    assert_eq!(rows[0].text, "pushed while away");
}

#[test]
fn a_pushed_message_that_cannot_be_stored_is_not_acknowledged() {
    // SQLite held locked by another process: no commit possible (with a
    // MySQL store that is away the message would go to the local spool).
    let dir = TempDir::new("cmt_dbdown");
    let db = TestDb::new(Backend::Sqlite, &dir);
    let path = smss::store::sqlite_path(&db.url).unwrap().to_owned();
    let sim = PtySim::start_profile(&profiles::NRF91).unwrap();
    {
        let mut state = sim.handle.state();
        state.ack_timeout = Duration::from_secs(2);
        state.redeliver_after = Duration::from_millis(500);
    }
    let serve = Serve::start(
        &db.url,
        sim.path.to_str().unwrap(),
        &dir,
        &["--command-timeout", "5s", "--poll-interval", "1s"],
    );
    assert!(serve.wait_log(" ready: ", WAIT), "{}", serve.log());
    assert!(
        serve.wait_log("delivered directly (AT+CNMI=3,2,0,1,0)", WAIT),
        "{}",
        serve.log()
    );

    let lock = rusqlite::Connection::open(&path).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    sim.handle
        .deliver("SM", &pushed("while the database is away", 1));
    assert!(
        sim.handle.wait_until(WAIT, |s| s.ack_timeouts >= 1),
        "{}",
        serve.log()
    );
    assert!(
        serve.wait_log("not acknowledged, so the network delivers it again", WAIT),
        "{}",
        serve.log()
    );
    assert_eq!(sim.handle.state().acked, 0, "acknowledged without a commit");

    lock.execute_batch("COMMIT").unwrap();
    drop(lock);
    assert!(
        sim.handle
            .wait_until(WAIT, |s| s.acked >= 1 && s.stored_count() == 0),
        "{}",
        serve.log()
    );
    let store = db.store();
    assert!(wait_for(WAIT, || !store.recent_rcv(10).unwrap().is_empty()));
    let rows = store.recent_rcv(10).unwrap();
    assert_eq!(rows.len(), 1, "stored once: {rows:?}");
    assert_eq!(rows[0].text, "while the database is away");
    let state = sim.handle.state();
    assert!(state.pushed >= 2, "delivered again: {}", state.pushed);
    // routing was asked for again after the modem switched it off
    drop(state);
    let cnmi = commands(&sim)
        .iter()
        .filter(|c| *c == "AT+CNMI=3,2,0,1,0")
        .count();
    assert!(cnmi >= 2, "{cnmi}");
}

/// Acknowledgements lost on the way: the network delivers every PDU again
/// (a single message and both parts of a two-part one, after the set was
/// joined). The store recognises each copy; nothing is stored twice and no
/// incomplete set is left.
#[test]
fn a_message_delivered_again_after_a_lost_acknowledgement_is_stored_once() {
    let bench = start(
        &profiles::NRF91,
        Backend::Sqlite,
        &["--poll-interval", "1s"],
    );
    bench.wait_ready();
    bench.sim.handle.state().lose_acks = 3;
    bench.sim.handle.state().ack_timeout = Duration::from_secs(1);
    bench.deliver_two();
    assert!(
        bench
            .sim
            .handle
            .wait_until(WAIT, |s| s.pushed >= 6 && s.stored_count() == 0),
        "{} pushed\n{}",
        bench.sim.handle.state().pushed,
        bench.serve.log()
    );
    bench.wait_received(2);
    let rows = bench.db.store().recent_rcv(10).unwrap();
    assert!(rows.iter().all(|r| r.complete), "{rows:?}");
    assert!(
        bench.serve.log().contains("again (stored before)")
            || bench.serve.log().contains("seen before"),
        "{}",
        bench.serve.log()
    );
}

/// A message pushed while serve works through a queue on a slow network
/// is stored and acknowledged between two sends, not after the queue.
#[test]
fn a_message_pushed_during_a_batch_is_stored_before_the_queue_ends() {
    let bench = start(
        &profiles::NRF91,
        Backend::Sqlite,
        &["--poll-interval", "1h"],
    );
    bench.wait_ready();
    bench.sim.handle.state().send_delay = Duration::from_millis(150);
    let lines: Vec<String> = (0..12)
        .map(|i| format!("#4206083377{i:02};queued {i}"))
        .collect();
    let out = client(bench.serve.addr, &[&lines.concat()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(bench.sim.handle.wait_until(WAIT, |s| s.sent.len() >= 2));
    bench
        .sim
        .handle
        .deliver("SM", &pushed("during the batch", 3));
    assert_eq!(bench.sim.handle.wait_for_sent(12, WAIT).len(), 12);
    let store = bench.db.store();
    assert!(wait_for(WAIT, || store.recent_rcv(10).unwrap().len() == 1));
    let log = commands(&bench.sim);
    let acked = log
        .iter()
        .position(|c| c == "AT+CNMA=1")
        .expect("acknowledged");
    let last_send = log.iter().rposition(|c| c.starts_with("AT+CMGS=")).unwrap();
    assert!(
        acked < last_send,
        "acknowledged only after the queue: {log:?}"
    );
    assert_eq!(bench.sim.handle.state().ack_timeouts, 0);
}

#[test]
fn probe_of_a_modem_without_storage_says_messages_are_pushed() {
    let dir = TempDir::new("probe_nrf91");
    let sim = PtySim::start_profile(&profiles::NRF91).unwrap();
    let (code, pairs, all) = probe(sim.path.to_str().unwrap(), &dir);
    assert_eq!(code, Some(0), "{all}");
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {k} in\n{all}"))
    };
    assert_eq!(get("manufacturer"), "Nordic Semiconductor ASA");
    assert_eq!(
        get("smss reads"),
        "nothing stored: the modem has no SMS storage; each message is pushed (+CMT)"
    );
    assert_eq!(
        get("new messages"),
        "pushed (AT+CNMI=3,2,0,1,0), acknowledged (AT+CNMA) once stored"
    );
    assert!(!all.contains("warning:"), "{all}");
}

/// A modem with memories that pushes messages all the same (the baseline
/// with `direct_delivery`, as some modems do for a class they route
/// directly): each is stored; smss chose no acknowledgement (no
/// AT+CSMS=1), asks once whether the modem wants one, and not again when
/// it says none is expected.
#[test]
fn a_message_pushed_by_a_modem_with_memories_is_stored() {
    let sim = PtySim::start_with(smss::sim::SimState {
        direct_delivery: true,
        ..Default::default()
    })
    .unwrap();
    let dir = TempDir::new("cmt_baseline");
    let db = TestDb::new(Backend::Sqlite, &dir);
    let serve = Serve::start(
        &db.url,
        sim.path.to_str().unwrap(),
        &dir,
        &["--poll-interval", "1h"],
    );
    assert!(serve.wait_log(" ready: ", WAIT), "{}", serve.log());
    sim.handle.deliver("SM", &pushed("pushed one", 1));
    sim.handle.deliver("SM", &pushed("pushed two", 2));
    let store = db.store();
    assert!(
        wait_for(WAIT, || store.recent_rcv(10).unwrap().len() == 2),
        "pushed {}\n{}",
        sim.handle.state().pushed,
        serve.log()
    );
    assert!(sim.handle.wait_until(WAIT, |s| s.stored_count() == 0));
    assert_eq!(sim.handle.state().pushed, 2);
    let acks = commands(&sim)
        .iter()
        .filter(|c| c.starts_with("AT+CNMA"))
        .count();
    assert_eq!(acks, 1, "{:?}", commands(&sim));
}
