//! `smss status` as a monitoring check, the configuration as an
//! administrator meets it, and logging from cron.

use std::time::Duration;

use crate::util::*;

fn status(db: &str, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["status", "--config", "/dev/null", "--db", db];
    args.extend_from_slice(extra);
    let out = smss(&args);
    (out.status.code(), stdout(&out) + &stderr(&out))
}

fn status_exit_codes(backend: Backend) {
    let dir = TempDir::new("status");
    let db = TestDb::new(backend, &dir);
    db.init();
    let lock_dir = dir.path().display().to_string();
    let quiet = ["--device", "sim", "--lock-dir", lock_dir.as_str()];

    let (code, text) = status(&db.url, &quiet);
    assert_eq!(code, Some(0), "{text}");
    for line in [
        &format!("schema version {}", smss::store::SCHEMA_VERSION),
        "queue:      0 waiting",
        "last 24 h:  0 sent, 0 failed, 0 received",
        "last sent:  nothing yet",
        "modem:      no health recorded",
        "smss-sim.lock free",
        "status:     OK",
    ] {
        assert!(text.contains(line), "no '{line}' in:\n{text}");
    }

    // A message waiting since 2020: attention, unless the limit is off.
    let store = db.store();
    store
        .execute_sql(
            "INSERT INTO msg (phone, text, created) \
             VALUES ('420608337726', 'stuck', '2020-01-01 00:00:00.000')",
        )
        .unwrap();
    let (code, text) = status(&db.url, &quiet);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("queue:      1 waiting, the oldest since 2020-01-01 00:00:00.000 UTC"),
        "{text}"
    );
    assert!(text.contains("status:     ATTENTION"), "{text}");
    assert!(
        text.contains("(max-queue-age 10m): is smss serve"),
        "{text}"
    );
    let mut no_limit = quiet.to_vec();
    no_limit.extend(["--max-queue-age", "0"]);
    assert_eq!(status(&db.url, &no_limit).0, Some(0));
    store.execute_sql("DELETE FROM msg").unwrap();

    // A modem serve checked long ago, and one that is unwell.
    store
        .execute_sql(
            "INSERT INTO modem (instance, device, healthy, checked_at, pid) \
             VALUES ('old-host:/dev/ttyS0', '/dev/ttyS0', 1, '2020-01-01 00:00:00.000', 77)",
        )
        .unwrap();
    // (checked in 2020: retired after health-retire-age, here never)
    let mut never_retired = quiet.to_vec();
    never_retired.extend(["--health-retire-age", "0"]);
    let (code, text) = status(&db.url, &never_retired);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("modem old-host:/dev/ttyS0: last checked") && text.contains("by pid 77"),
        "{text}"
    );
    assert!(
        text.contains("smss status --forget old-host:/dev/ttyS0"),
        "{text}"
    );
    store.execute_sql("DELETE FROM modem").unwrap();
    store
        .save_modem_health(&smss::store::ModemHealth {
            instance: "here:/dev/ttyUSB0".into(),
            device: "/dev/ttyUSB0".into(),
            rssi: Some(99),
            registration: Some("searching".into()),
            healthy: false,
            last_error: Some("not registered on the network (searching)".into()),
            pid: 1,
            ..Default::default()
        })
        .unwrap();
    let (code, text) = status(&db.url, &quiet);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("modem:      here:/dev/ttyUSB0: NOT OK, signal unknown, searching"),
        "{text}"
    );
    assert!(
        text.contains("  - modem here:/dev/ttyUSB0: not registered on the network (searching)"),
        "{text}"
    );
}

#[test]
fn status_exit_codes_sqlite() {
    status_exit_codes(Backend::Sqlite);
}

#[test]
fn status_exit_codes_mysql() {
    status_exit_codes(Backend::Mysql);
}

#[test]
fn status_without_a_database_needs_attention() {
    let dir = TempDir::new("status_nodb");
    let url = format!("sqlite://{}", dir.path().join("missing.db").display());
    let (code, text) = status(&url, &["--lock-dir", &dir.path().display().to_string()]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("the database cannot be used"), "{text}");
    assert!(text.contains("smss init-db --db"), "{text}");
    assert!(text.contains("modem lock:"), "{text}");
    // unreachable MySQL: exit 1 too, no password shown
    let (code, text) = status("mysql://u:s3cret@127.0.0.1:1/sms", &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    // usage errors are 2
    let out = smss(&["status", "--max-queue-age"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = smss(&["status", "--config", "/dev/null", "--max-queue-age", "soon"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--max-queue-age: 'soon' should be a duration"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn smss_db_environment_variable_names_the_database() {
    let dir = TempDir::new("envdb");
    let db = TestDb::new(Backend::Sqlite, &dir);
    db.init();
    let lock_dir = dir.path().display().to_string();
    let out = smss_env(
        &["status", "--config", "/dev/null", "--lock-dir", &lock_dir],
        &[("SMSS_DB", &db.url)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains(&format!("database:   sqlite ({})", db.url)));
    // the command line still wins
    let out = smss_env(
        &[
            "status",
            "--config",
            "/dev/null",
            "--db",
            "sqlite:///nonexistent/x.db",
        ],
        &[("SMSS_DB", &db.url)],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("sqlite:///nonexistent/x.db"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn config_file_errors_name_the_line() {
    let dir = TempDir::new("conf");
    let conf = dir.path().join("smss.conf");
    std::fs::write(&conf, "# ok\ndevice = sim\nmax_parts = 3\nspeed = 9600\n").unwrap();
    let conf = conf.display().to_string();
    for command in ["serve", "send-pending", "init-db", "status"] {
        let out = smss(&[command, "--config", &conf]);
        assert_eq!(out.status.code(), Some(1), "{command}");
        assert_eq!(
            stderr(&out),
            format!("smss {command}: {conf}:4: unknown setting 'speed' (see smss --help)\n")
        );
    }
    // every subcommand explains every option
    for command in ["serve", "send-pending", "init-db", "status"] {
        let out = smss(&[command, "--help"]);
        assert!(out.status.success());
        for key in [
            "--db URL",
            "--device PATH",
            "--log-file PATH",
            "--max-queue-age DURATION",
        ] {
            assert!(stdout(&out).contains(key), "{command} --help lacks {key}");
        }
    }
}

#[test]
fn serve_check_names_what_is_wrong() {
    let dir = TempDir::new("check");
    let db = format!("sqlite://{}", dir.path().join("smss.db").display());
    let lock_dir = dir.path().display().to_string();
    let log = dir.path().join("smss.log").display().to_string();
    let base = [
        "serve",
        "--check",
        "--config",
        "/dev/null",
        "--db",
        &db,
        "--device",
        "sim",
        "--lock-dir",
        &lock_dir,
        // --check binds the port as serve does: not 2021, which may be taken
        "--listen",
        "127.0.0.1:0",
    ];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        smss(&args)
    };
    let out = with(&["--log-file", &log]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("configuration OK"),
        "{}",
        stdout(&out)
    );
    let out = with(&["--log-file", "/nonexistent/dir/smss.log"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "cannot open the log file /nonexistent/dir/smss.log: No such file or directory (os error 2) \
             (the directory /nonexistent/dir does not exist"
        ),
        "{}",
        stderr(&out)
    );
    let out = with(&["--log-file", "none", "--listen", "nowhere"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("listen = nowhere"),
        "{}",
        stderr(&out)
    );
}

/// From cron: nothing on stdout or stderr when all is well; the pass is in
/// the log file.
#[test]
fn send_pending_is_quiet_from_cron() {
    let dir = TempDir::new("cron");
    let db = TestDb::new(Backend::Sqlite, &dir);
    db.init();
    db.store()
        .execute_sql("INSERT INTO msg (phone, text) VALUES ('420608337726', 'from cron')")
        .unwrap();
    let log = dir.path().join("smss.log");
    let lock_dir = dir.path().display().to_string();
    let log_arg = log.display().to_string();
    let out = smss(&[
        "send-pending",
        "--config",
        "/dev/null",
        "--db",
        &db.url,
        "--device",
        "sim",
        "--lock-dir",
        &lock_dir,
        "--log-file",
        &log_arg,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!((stdout(&out).as_str(), stderr(&out).as_str()), ("", ""));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("sent message 1 to 420608337726 (1 part, mr 1)"),
        "{text}"
    );
    assert!(
        text.contains("send-pending: 1 sent, 0 failed, 0 to retry later"),
        "{text}"
    );
    assert!(
        !text.contains("[DEBUG]"),
        "the default level is info:\n{text}"
    );
    assert_eq!(db.store().queue_stats().unwrap().depth, 0);

    // log-level debug: the modem traffic
    let out = smss(&[
        "send-pending",
        "--config",
        "/dev/null",
        "--db",
        &db.url,
        "--device",
        "sim",
        "--lock-dir",
        &lock_dir,
        "--log-file",
        &log_arg,
        "--log-level",
        "debug",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let found = wait_file_line(&log, "modem <- AT+CMGF=0", Duration::from_secs(5));
    assert!(
        found.is_some(),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
}

/// serve records its modem's health; a modem that goes away shows as NOT OK
/// (and the message waits in the queue).
#[test]
fn serve_records_a_lost_modem() {
    let dir = TempDir::new("lost");
    let db = TestDb::new(Backend::Sqlite, &dir);
    let sim = smss::sim::PtySim::start().unwrap();
    // through a link of the test's own: once unplugged, the pty's number
    // may go to another test's simulator, which serve must not find
    let link = dir.path().join("ttyMODEM");
    std::os::unix::fs::symlink(&sim.path, &link).unwrap();
    let device = link.display().to_string();
    let timeouts = ["--send-timeout", "2s", "--command-timeout", "2s"];
    let serve = Serve::start(&db.url, &device, &dir, &timeouts);
    let lock_dir = dir.path().display().to_string();
    let check = || status(&db.url, &["--device", &device, "--lock-dir", &lock_dir]);
    // The health line is logged before its row is committed: wait for the row.
    let until = |done: &dyn Fn(Option<i32>, &str) -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (code, text) = check();
            if done(code, &text) || std::time::Instant::now() > deadline {
                break (code, text);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let (code, text) = until(&|code, text| code == Some(0) && text.contains(": OK, SIEMENS"));
    assert_eq!(code, Some(0), "{text}\n{}", serve.log());
    assert!(
        text.contains(": OK, SIEMENS TC35i (simulated), signal 21/31"),
        "{text}"
    );
    assert!(
        text.contains(&format!("held by smss serve (pid {})", serve.child.id())),
        "{text}"
    );

    drop(sim); // unplugged
    std::fs::remove_file(&link).unwrap();
    let out = client(serve.addr, &["#420608337726;into the void"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (code, text) = until(&|code, _| code == Some(1));
    assert_eq!(code, Some(1), "{text}\n{}", serve.log());
    assert!(
        text.contains(": NOT OK, SIEMENS TC35i (simulated)"),
        "{text}"
    );
    // Lost by the idle loop or by the send, whichever noticed first; then
    // every reopen fails until the device comes back.
    assert!(
        text.contains("modem lost") || text.contains("cannot open"),
        "{text}"
    );
    assert!(
        serve.wait_log("modem lost", Duration::from_secs(30)),
        "{}",
        serve.log()
    );
    assert!(text.contains("queue:      1 waiting"), "{text}");
    assert!(serve.terminate().success());
}
