//! Issue 14, trap 1: a wrong `pin` never locks the SIM. The simulated SIM
//! counts PIN attempts as a real one does (3, a wrong PIN takes one, at 0 it
//! wants its PUK); smss enters a refused PIN at most once, across reopens
//! and process starts, never with one attempt left, and never shows it.

use std::time::Duration;

use smss::sim::{PtySim, SimState, memories_of, profile};

use crate::util::*;

const RIGHT: &str = "48151623";
const WRONG: &str = "11112222";

fn sim_with_pin(profile_name: &str, attempts_left: u32) -> PtySim {
    let profile = profile(profile_name).unwrap();
    PtySim::start_with(SimState {
        memories: memories_of(profile),
        profile,
        pin: Some(RIGHT.into()),
        pin_attempts_left: attempts_left,
        ..SimState::default()
    })
    .unwrap()
}

fn cpin_queries(sim: &PtySim) -> usize {
    let state = sim.handle.state();
    state
        .commands
        .iter()
        .filter(|(_, c)| c == "AT+CPIN?")
        .count()
}

fn assert_no_pin(what: &str, text: &str) {
    for pin in [RIGHT, WRONG] {
        assert!(!text.contains(pin), "the PIN {pin} is in {what}:\n{text}");
    }
}

/// serve reopening the modem again and again after the SIM refused the
/// PIN enters it once; fixed in the configuration, the PIN is entered and
/// the modem works. Neither PIN is in the debug log, status or the modem
/// table.
#[test]
fn a_wrong_pin_is_entered_once_however_often_serve_reopens() {
    let dir = TempDir::new("pin_serve");
    let db = TestDb::new(Backend::Sqlite, &dir);
    db.init();
    let sim = sim_with_pin("tc35i", 3);
    let device = sim.path.display().to_string();
    let log = dir.path().join("smss.log");
    let log_arg = log.display().to_string();
    let serve = Serve::start(
        &db.url,
        &device,
        &dir,
        &["--pin", WRONG, "--log-file", &log_arg],
    );
    // several reopen cycles (1 s, 2 s, 4 s apart), each asking AT+CPIN?
    assert!(
        wait_for(Duration::from_secs(90), || cpin_queries(&sim) >= 4),
        "serve did not reopen the modem:\n{}",
        serve.log()
    );
    assert_eq!(sim.handle.state().pin_attempts, 1, "{}", serve.log());
    assert_eq!(sim.handle.state().pin_attempts_left, 2);
    let refused = "the SIM refused PIN: not retried; fix `pin` and restart (2 attempts left)";
    assert!(
        serve.wait_log(refused, Duration::from_secs(30)),
        "{}",
        serve.log()
    );
    let record = smss::modem::pin::record_path(dir.path(), &device);
    assert!(
        serve
            .log()
            .contains(&format!("delete {}", record.display())),
        "{}",
        serve.log()
    );
    // status names the problem, not the PIN
    let lock_dir = dir.path().display().to_string();
    let status = smss(&[
        "status",
        "--config",
        "/dev/null",
        "--db",
        &db.url,
        "--device",
        &device,
        "--lock-dir",
        &lock_dir,
    ]);
    let shown = stdout(&status) + &stderr(&status);
    assert!(shown.contains(refused), "{shown}");
    assert_no_pin("status", &shown);
    serve.terminate();

    // restarted with the same wrong PIN: still not entered
    let serve = Serve::start(
        &db.url,
        &device,
        &dir,
        &["--pin", WRONG, "--log-file", &log_arg],
    );
    let before = cpin_queries(&sim);
    assert!(wait_for(Duration::from_secs(60), || cpin_queries(&sim) > before + 1));
    assert_eq!(sim.handle.state().pin_attempts, 1, "{}", serve.log());
    assert!(
        serve.wait_log(refused, Duration::from_secs(30)),
        "{}",
        serve.log()
    );
    serve.terminate();

    // the PIN fixed: entered once, and the modem sends
    let serve = Serve::start(
        &db.url,
        &device,
        &dir,
        &["--pin", RIGHT, "--log-file", &log_arg],
    );
    let out = client(serve.addr, &["#420608337726;the PIN works"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        sim.handle.wait_for_sent(1, Duration::from_secs(60))[0].text,
        "the PIN works"
    );
    assert_eq!(sim.handle.state().pin_attempts, 2);
    assert_eq!(sim.handle.state().pin_attempts_left, 3);
    assert!(!record.exists(), "the record of the refusal is gone");
    let stderr_log = serve.log();
    serve.terminate();

    // never in the log, at debug level (the AT traffic included), nor in
    // the modem table
    let file_log = std::fs::read_to_string(&log).unwrap();
    assert!(file_log.contains("modem <- AT+CPIN=\"****\""), "{file_log}");
    assert_no_pin("the log file", &file_log);
    assert_no_pin("serve's stderr", &stderr_log);
    let rows = db
        .store()
        .modem_health()
        .unwrap()
        .into_iter()
        .map(|m| format!("{m:?}"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_no_pin("the modem table", &rows);
}

fn pass(sim: &PtySim, dir: &TempDir, db: &TestDb, pin: &str) -> (Option<i32>, String) {
    let out = send_pending(
        &db.url,
        &sim.path.display().to_string(),
        dir,
        &["--pin", pin, "--log-file", "none", "--log-level", "debug"],
    );
    let text = stdout(&out) + &stderr(&out);
    assert_no_pin("send-pending's output", &text);
    (out.status.code(), text)
}

/// cron's send-pending is a new process every minute: three runs with a
/// wrong PIN enter it once (Quectel: AT+QPINC tells the attempts left).
#[test]
fn send_pending_three_times_with_a_wrong_pin_enters_it_once() {
    let dir = TempDir::new("pin_cron");
    let db = TestDb::new(Backend::Sqlite, &dir);
    db.init();
    let sim = sim_with_pin("ec25", 3);
    for run in 0..3 {
        let (code, text) = pass(&sim, &dir, &db, WRONG);
        assert_eq!(code, Some(1), "run {run}: {text}");
        assert!(
            text.contains(
                "the SIM refused PIN: not retried; fix `pin` and restart (2 attempts left)"
            ),
            "run {run}: {text}"
        );
    }
    assert_eq!(sim.handle.state().pin_attempts, 1);
    assert_eq!(sim.handle.state().pin_attempts_left, 2);
    // serve --check says so before a start
    let device = sim.path.display().to_string();
    let lock_dir = dir.path().display().to_string();
    let check = smss(&[
        "serve",
        "--check",
        "--config",
        "/dev/null",
        "--db",
        &db.url,
        "--device",
        &device,
        "--lock-dir",
        &lock_dir,
        "--listen",
        "127.0.0.1:0",
        "--log-file",
        "none",
        "--pin",
        WRONG,
    ]);
    let said = stdout(&check) + &stderr(&check);
    assert!(check.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "the SIM of {device} refused this pin before: serve does not enter it again"
        )),
        "{said}"
    );
    assert_no_pin("serve --check", &said);
    // another PIN is a new try: the right one works
    let (code, text) = pass(&sim, &dir, &db, RIGHT);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(sim.handle.state().pin_attempts, 2);
    assert_eq!(sim.handle.state().pin_attempts_left, 3);
}

/// One attempt left: smss enters nothing and says why; a modem that does
/// not tell (Telit) gets the PIN once; a SIM that wants its PUK gets none.
#[test]
fn the_last_attempt_and_the_puk_are_left_to_the_administrator() {
    let dir = TempDir::new("pin_last");
    let db = TestDb::new(Backend::Sqlite, &dir);
    db.init();
    for modem in ["tc35i", "ec25", "sim800", "e173", "ublox"] {
        let sim = sim_with_pin(modem, 1);
        let (code, text) = pass(&sim, &dir, &db, RIGHT);
        assert_eq!(code, Some(1), "{modem}: {text}");
        assert!(
            text.contains("the SIM has 1 PIN attempt left: smss does not enter the PIN"),
            "{modem}: {text}"
        );
        assert_eq!(sim.handle.state().pin_attempts, 0, "{modem}");
    }

    let untold = TempDir::new("pin_untold");
    let sim = sim_with_pin("telit", 3);
    for _ in 0..2 {
        let (code, text) = pass(&sim, &untold, &db, WRONG);
        assert_eq!(code, Some(1), "{text}");
        assert!(
            text.contains(
                "the SIM refused PIN: not retried; fix `pin` and restart (attempts left unknown)"
            ),
            "{text}"
        );
    }
    assert_eq!(sim.handle.state().pin_attempts, 1);

    let sim = sim_with_pin("tc35i", 0);
    let (code, text) = pass(&sim, &dir, &db, RIGHT);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("the SIM is locked (SIM PUK): it needs its PUK, which smss never sends"),
        "{text}"
    );
    assert_eq!(sim.handle.state().pin_attempts, 0);
}

/// A PIN that is not 4 to 8 digits is a configuration error, with its
/// line, and the value is not repeated.
#[test]
fn a_pin_that_is_not_4_to_8_digits_is_a_config_error() {
    let dir = TempDir::new("pin_check");
    for bad in ["123", "123456789", "12a4", "1234x"] {
        let out = crate::mistakes::check_with_config(&dir, &format!("pin = {bad}\n"));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{bad}: {err}");
        let (_, message) = err
            .split_once("smss.conf:6: ")
            .unwrap_or_else(|| panic!("{bad}: no path:line in {err}"));
        assert!(
            message.starts_with("a SIM PIN is 4 to 8 digits"),
            "{bad}: {err}"
        );
        assert!(!message.contains(bad), "{err}");
    }
    let out = crate::mistakes::check_with_config(&dir, "pin = 1234   # the SIM PIN\n");
    assert!(out.status.success(), "{}", stderr(&out));
}
