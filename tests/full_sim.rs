//! Issue 14, trap 11: a SIM full of stored sent/unsent messages (left by a
//! phone or another tool) is seen, and cleared only when asked. The
//! simulated network holds a message for a full memory and delivers it
//! once a slot is free, as a real one does.

use std::time::Duration;

use smss::gsm::{DeliverRef, encode_deliver};
use smss::sim::PtySim;

use crate::util::*;

fn status(db: &TestDb, device: &str, dir: &TempDir) -> (Option<i32>, String) {
    let lock_dir = dir.path().display().to_string();
    let out = smss(&[
        "status",
        "--config",
        "/dev/null",
        "--db",
        &db.url,
        "--device",
        device,
        "--lock-dir",
        &lock_dir,
    ]);
    (out.status.code(), stdout(&out) + &stderr(&out))
}

const ATTENTION: &str = "memory SM is full (20 of 20), so new SMS wait at the network: it holds \
                         only stored sent/unsent messages, which smss does not read; set \
                         sim-cleanup = stored to have smss delete them";

#[test]
fn a_full_sim_is_shown_and_cleared_only_with_sim_cleanup() {
    let dir = TempDir::new("fullsim_cleanup");
    let db = TestDb::new(Backend::Sqlite, &dir);
    db.init();
    let sim = PtySim::start().unwrap();
    let device = sim.path.display().to_string();
    assert_eq!(sim.handle.state().fill_with_stored_sent("SM"), 20);
    let pdu = &encode_deliver(
        "+420777123456",
        "waited at the network",
        smsc_time(7),
        DeliverRef {
            reference: 0,
            ref16: false,
        },
    )[0];
    assert_eq!(sim.handle.deliver("SM", pdu), None, "held: the SIM is full");

    // without sim-cleanup: shown everywhere, nothing deleted
    let serve = Serve::start(&db.url, &device, &dir, &["--web-listen", "127.0.0.1:0"]);
    let mut shown = String::new();
    assert!(
        wait_for(Duration::from_secs(60), || {
            shown = status(&db, &device, &dir).1;
            shown.contains("SM 20/20 (20 stored sent/unsent)")
        }),
        "{shown}\n{}",
        serve.log()
    );
    let (code, shown) = status(&db, &device, &dir);
    assert_eq!(code, Some(1), "{shown}");
    assert!(
        shown.contains("memory ME 0/50, SM 20/20 (20 stored sent/unsent), SR 0/20"),
        "{shown}"
    );
    assert!(shown.contains(ATTENTION), "{shown}");
    let web = serve.web_addr();
    let page = http::get(web, "/", &[]).text();
    assert!(page.contains("SM 20/20 (20 stored sent/unsent)"), "{page}");
    assert!(page.contains("set sim-cleanup = stored"), "{page}");
    let metrics = http::get(web, "/metrics", &[]).text();
    let instance = metrics
        .lines()
        .find_map(|l| l.strip_prefix("smss_modem_up{instance=\""))
        .and_then(|l| l.split('"').next())
        .unwrap()
        .to_owned();
    for line in [
        format!("smss_sim_messages{{instance=\"{instance}\",memory=\"SM\"}} 20"),
        format!("smss_sim_capacity{{instance=\"{instance}\",memory=\"SM\"}} 20"),
        format!("smss_sim_stored{{instance=\"{instance}\",memory=\"SM\"}} 20"),
        format!("smss_sim_messages{{instance=\"{instance}\",memory=\"ME\"}} 0"),
        format!("smss_sim_capacity{{instance=\"{instance}\",memory=\"ME\"}} 50"),
    ] {
        assert!(metrics.contains(&line), "no {line} in\n{metrics}");
    }
    {
        let state = sim.handle.state();
        assert_eq!(state.memories["SM"].slots.len(), 20, "nothing deleted");
        assert_eq!(state.held.len(), 1, "still held");
        assert!(!state.commands.iter().any(|(_, c)| c.starts_with("AT+CMGD")));
    }
    assert!(db.store().recent_rcv(10).unwrap().is_empty());
    serve.terminate();

    // with sim-cleanup = stored: deleted (each logged), the held message
    // arrives and is stored
    let serve = Serve::start(&db.url, &device, &dir, &["--sim-cleanup", "stored"]);
    assert!(
        wait_for(Duration::from_secs(60), || !db
            .store()
            .recent_rcv(10)
            .unwrap()
            .is_empty()),
        "{}",
        serve.log()
    );
    let rcv = db.store().recent_rcv(10).unwrap();
    assert_eq!(rcv.len(), 1);
    assert_eq!(rcv[0].text, "waited at the network");
    assert!(
        sim.handle
            .wait_until(Duration::from_secs(30), |s| s.stored_count() == 0)
    );
    let log = serve.log();
    assert_eq!(
        log.matches("memory SM: deleted the stored sent message at index ")
            .count(),
        20,
        "{log}"
    );
    assert!(log.contains("deleted the stored sent message at index 20 (sim-cleanup = stored)"));
    assert!(
        !log.contains("sent from a phone"),
        "the texts are not logged:\n{log}"
    );
    let mut shown = String::new();
    assert!(
        wait_for(Duration::from_secs(60), || {
            shown = status(&db, &device, &dir).1;
            shown.contains("SM 0/20") && shown.contains("status:     OK")
        }),
        "{shown}"
    );
    serve.terminate();
}

/// send-pending (cron) clears a full SIM too, and without the setting
/// leaves it as it is.
#[test]
fn send_pending_deletes_stored_messages_only_with_sim_cleanup() {
    let dir = TempDir::new("fullsim_cron");
    let db = TestDb::new(Backend::Sqlite, &dir);
    db.init();
    let sim = PtySim::start().unwrap();
    let device = sim.path.display().to_string();
    sim.handle.state().fill_with_stored_sent("SM");
    let out = send_pending(&db.url, &device, &dir, &["--log-file", "none"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(sim.handle.state().memories["SM"].slots.len(), 20);
    let out = send_pending(
        &db.url,
        &device,
        &dir,
        // at once, not after poll-interval
        &[
            "--log-file",
            "none",
            "--sim-cleanup",
            "stored",
            "--poll-interval",
            "0",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(sim.handle.state().memories["SM"].slots.len(), 0);
}

/// A modem read through MT (SIM and modem memory as one: SIM800) whose
/// SIM part, where it stores new messages, is full: MT is not, but the
/// SIM is shown full, and cleared with sim-cleanup.
#[test]
fn a_full_sim_inside_mt_is_seen() {
    let dir = TempDir::new("fullsim_mt");
    let db = TestDb::new(Backend::Sqlite, &dir);
    db.init();
    let sim = PtySim::start_profile(smss::sim::profile("sim800").unwrap()).unwrap();
    let device = sim.path.display().to_string();
    assert_eq!(sim.handle.state().fill_with_stored_sent("SM"), 30);
    let pdu = &encode_deliver(
        "+420777123456",
        "waited for the SIM",
        smsc_time(9),
        DeliverRef {
            reference: 0,
            ref16: false,
        },
    )[0];
    assert_eq!(sim.handle.deliver("SM", pdu), None, "held");
    let serve = Serve::start(&db.url, &device, &dir, &[]);
    let mut shown = String::new();
    assert!(
        wait_for(Duration::from_secs(60), || {
            shown = status(&db, &device, &dir).1;
            shown.contains("SM 30/30 (30 stored sent/unsent)")
        }),
        "{shown}\n{}",
        serve.log()
    );
    assert!(
        shown.contains("MT 30/80 (30 stored sent/unsent)"),
        "{shown}"
    );
    assert!(
        shown.contains("memory SM is full (30 of 30), so new SMS wait at the network: it holds only stored sent/unsent messages"),
        "{shown}"
    );
    serve.terminate();
    let serve = Serve::start(&db.url, &device, &dir, &["--sim-cleanup", "stored"]);
    assert!(
        wait_for(Duration::from_secs(60), || db
            .store()
            .recent_rcv(10)
            .unwrap()
            .iter()
            .any(|r| r.text == "waited for the SIM")),
        "{}",
        serve.log()
    );
    assert!(
        wait_for(Duration::from_secs(60), || {
            shown = status(&db, &device, &dir).1;
            shown.contains("status:     OK")
        }),
        "{shown}"
    );
    serve.terminate();
}
