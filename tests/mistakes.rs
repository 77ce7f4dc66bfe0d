//! Issue 14: the administrator's mistakes never hurt. Each trap the README
//! and the defaults led into, driven through the real binary.

use crate::util::*;

/// The code block of README.md that contains `needle`.
pub fn readme_block(needle: &str) -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    readme
        .split("```")
        .skip(1)
        .step_by(2)
        .find(|b| b.contains(needle))
        .unwrap_or_else(|| panic!("README.md has no code block with {needle}"))
        .to_owned()
}

/// `serve --check` with a config file of `text` plus what keeps it in the
/// test's directory.
pub fn check_with_config(dir: &TempDir, text: &str) -> std::process::Output {
    let conf = dir.path().join("smss.conf");
    let d = dir.path().display();
    std::fs::write(
        &conf,
        format!(
            "db = sqlite://{d}/smss.db\ndevice = sim\nlock-dir = {d}\nlog-file = none\n\
             listen = 127.0.0.1:0\n{text}"
        ),
    )
    .unwrap();
    smss(&["serve", "--check", "--config", conf.to_str().unwrap()])
}

/// Trap 2: the README's web snippet, copied with its comment, works.
#[test]
fn the_readme_web_snippet_works_when_copied() {
    let dir = TempDir::new("snippet");
    let block = readme_block("web-password-hash = ");
    let placeholder = "$argon2id$v=19$m=19456,t=2,p=1$...";
    assert!(block.contains(placeholder), "{block}");
    assert!(block.contains("# from smss hash-password"), "{block}");
    let hash = password_hash("a long passphrase");
    // port 0: the check binds it, and 8025 may be taken on this machine
    let text = block
        .replace(placeholder, &hash)
        .replace("0.0.0.0:8025", "0.0.0.0:0");
    let out = check_with_config(&dir, text.trim_start_matches(|c| c != '\n'));
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    // a comment after any value, and \# for a literal #
    let out = check_with_config(&dir, "max-parts = 3   # fewer\ninstance = gw\\#1 # one\n");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
}

/// `smss client ARGS` with `input` on standard input.
fn client_with_stdin(args: &[&str], input: &[u8]) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(BIN)
        .arg("client")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn sent_texts(rig: &Rig, n: usize) -> Vec<String> {
    let sent = rig
        .sim
        .handle
        .wait_for_sent(n, std::time::Duration::from_secs(30));
    assert_eq!(sent.len(), n, "{}", rig.serve.log());
    let mut texts: Vec<String> = sent.into_iter().map(|s| s.text).collect();
    texts.sort();
    texts
}

/// Trap 9: standard input that is not UTF-8 goes through as bytes (the
/// server reads it as windows-1250), the good line before it too.
#[test]
fn client_passes_bytes_through() {
    let rig = Rig::sqlite("client_bytes", &[]);
    let addr = rig.serve.addr.to_string();
    let out = client_with_stdin(
        &["-a", &addr, "-t", "2m"],
        b"#420608337726;first line\n#420608337726;P\xf8\xedli\x9a \x9elu\x9dou\xe8k\xfd\r\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 2, "{}", stdout(&out));
    assert_eq!(sent_texts(&rig, 2), ["Příliš žluťoučký", "first line"]);
}

/// Trap 9: a line break inside an argument loses nothing, and the next
/// argument's answer is its own.
#[test]
fn client_sends_each_argument_as_one_line() {
    let rig = Rig::sqlite("client_lines", &[]);
    let out = client(
        rig.serve.addr,
        &["#420608337726;disk full\nfree: 0\n", "#420777123456;second"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let answers: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert!(
        answers.iter().all(|a| a.starts_with("OK 1 ")),
        "{answers:?}"
    );
    assert_eq!(sent_texts(&rig, 2), ["disk full free: 0", "second"]);
}

/// Trap 9: a bad port is named as given; durations as the server's.
#[test]
fn client_addresses_and_timeouts() {
    let out = smss(&["client", "-a", "127.0.0.1:99999", "#420608337726;x"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "smss client: invalid address -a 127.0.0.1:99999: the port '99999' is not a number \
         from 1 to 65535\n(see smss client --help)\n"
    );
    let out = smss(&["client", "-a", "h", "-t", "soon", "#420608337726;x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid timeout 'soon': use a duration such as 500ms, 30s, 2m"),
        "{}",
        stderr(&out)
    );
}

/// The installed sample config with the paths of `dir` (database, lock,
/// log), as a file in `dir`; `extra` set on top. Returns its path.
fn installed_sample(dir: &TempDir, extra: &[(&str, &str)]) -> String {
    let dest = dir.path().join("root");
    std::fs::create_dir_all(&dest).unwrap();
    make("install", &dest);
    let sample = std::fs::read_to_string(dest.join("etc/smss/smss.conf")).unwrap();
    let db = format!("sqlite://{}", dir.path().join("smss.db").display());
    let lock_dir = dir.path().join("lock");
    std::fs::create_dir_all(&lock_dir).unwrap();
    let lock_dir = lock_dir.display().to_string();
    let log = dir.path().join("smss.log").display().to_string();
    let mut keys = vec![
        ("db", db.as_str()),
        ("lock-dir", lock_dir.as_str()),
        ("log-file", log.as_str()),
        ("listen", "127.0.0.1:0"),
    ];
    keys.extend_from_slice(extra);
    let conf = dir.path().join("smss.conf");
    std::fs::write(&conf, set_config_keys(&sample, &keys)).unwrap();
    conf.display().to_string()
}

fn lock_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Trap 5: right after `make install`, nothing touches a serial port: the
/// sample leaves `device` unset, and each command says where to set it.
#[test]
fn the_sample_config_touches_no_port() {
    let dir = TempDir::new("nodevice");
    let conf = installed_sample(&dir, &[]);
    let hint = format!(
        "device is not set: set device in {conf} (the modem's serial port, e.g. /dev/ttyUSB0; \
         several separated by commas; sim = the simulated modem)"
    );
    // cron: exit 0, nothing on stderr (nothing mailed), the hint on stdout
    let out = smss(&["send-pending", "--config", &conf]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    assert_eq!(
        stdout(&out),
        format!("smss send-pending: nothing to do: {hint}\n")
    );
    for args in [&["serve"][..], &["serve", "--check"]] {
        let mut all = args.to_vec();
        all.extend(["--config", &conf]);
        let out = smss(&all);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr(&out), format!("smss serve: {hint}\n"), "{args:?}");
    }
    let out = smss(&["status", "--config", &conf]);
    assert!(
        stdout(&out).contains(&format!("modem lock: none: {hint}")),
        "{}",
        stdout(&out)
    );
    assert!(lock_files(&dir.path().join("lock")).is_empty());
}

/// Trap 5: with nothing queued, send-pending opens the modem at most once
/// per poll-interval; a queued message goes at once.
#[test]
fn send_pending_with_nothing_queued_reads_at_most_once_per_poll_interval() {
    let dir = TempDir::new("pollgate");
    let db = TestDb::new(Backend::Sqlite, &dir);
    db.init();
    let sim = smss::sim::PtySim::start().unwrap();
    let device = sim.path.display().to_string();
    let hour = ["--poll-interval", "1h", "--log-file", "none"];
    let out = send_pending(&db.url, &device, &dir, &hour);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !sim.handle.state().commands.is_empty(),
        "the first pass reads"
    );
    sim.handle.state().commands.clear();
    let out = send_pending(&db.url, &device, &dir, &hour);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        sim.handle.state().commands,
        [],
        "nothing queued, read a moment ago: the port is not opened"
    );
    db.store()
        .execute_sql("INSERT INTO msg (phone, text) VALUES ('420608337726', 'queued')")
        .unwrap();
    let out = send_pending(&db.url, &device, &dir, &hour);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(sim.handle.state().sent.len(), 1);
}

/// Trap 5 (and 10): a failure is printed once on stderr and logged once.
#[test]
fn a_failure_is_printed_once() {
    let dir = TempDir::new("once");
    let db = TestDb::new(Backend::Sqlite, &dir);
    db.init();
    let log = dir.path().join("smss.log");
    let missing = dir.path().join("ttyNOTHERE").display().to_string();
    let out = send_pending(
        &db.url,
        &missing,
        &dir,
        &["--log-file", &log.display().to_string()],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("smss send-pending: cannot open {missing}")),
        "{err}"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        logged.matches(&format!("cannot open {missing}")).count(),
        1,
        "{logged}"
    );
    // the same for serve's fatal errors
    let out = smss(&[
        "serve",
        "--config",
        "/dev/null",
        "--db",
        &db.url,
        "--device",
        "sim",
        "--lock-dir",
        "/nonexistent",
        "--log-file",
        "none",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
}

/// Whether the tests run as root (some need it: other users, chown).
fn is_root() -> bool {
    let uid = std::process::Command::new("id").arg("-u").output().unwrap();
    stdout(&uid).trim() == "0"
}

/// A throwaway system user (and its group of the same name), deleted at
/// the end of the test.
struct SystemUser(String);

impl SystemUser {
    fn new() -> SystemUser {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "smsst{}x{}",
            std::process::id() % 100_000,
            N.fetch_add(1, Ordering::SeqCst)
        );
        let out = std::process::Command::new("useradd")
            .args(["--system", "--user-group", "--no-create-home"])
            .args(["--shell", "/usr/sbin/nologin", &name])
            .output()
            .unwrap();
        assert!(out.status.success(), "useradd: {}", stderr(&out));
        SystemUser(name)
    }

    /// `smss ARGS` as this user.
    fn smss(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new("runuser")
            .args(["-u", &self.0, "--", BIN])
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }

    fn chown(&self, path: &std::path::Path) {
        let ok = std::process::Command::new("chown")
            .arg(format!("{0}:{0}", self.0))
            .arg(path)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
}

impl Drop for SystemUser {
    fn drop(&mut self) {
        let _ = std::process::Command::new("userdel").arg(&self.0).output();
    }
}

fn owner_and_mode(path: &std::path::Path) -> (String, u32) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let owner = std::process::Command::new("stat")
        .args(["-c", "%U:%G"])
        .arg(path)
        .output()
        .unwrap();
    (stdout(&owner).trim().to_owned(), m.mode() & 0o7777)
}

/// Trap 4: run as root, smss gives the files it creates to the service
/// user, which then runs with them; a file the service user cannot use is
/// reported with its owner, mode and the command that fixes it.
#[test]
fn files_created_as_root_belong_to_the_service_user() {
    use std::os::unix::fs::PermissionsExt;
    if !is_root() {
        eprintln!("NOTE: not root: not checking the files root creates");
        return;
    }
    let user = SystemUser::new();
    let name = user.0.clone();
    let me = format!("{name}:{name}");
    let dir = TempDir::new("rootfiles");
    let d = dir.path();
    for sub in ["state", "log"] {
        std::fs::create_dir(d.join(sub)).unwrap();
        user.chown(&d.join(sub));
    }
    for sub in ["lock", "lock2"] {
        std::fs::create_dir(d.join(sub)).unwrap();
        std::fs::set_permissions(d.join(sub), std::fs::Permissions::from_mode(0o1777)).unwrap();
    }
    let db_path = d.join("state/smss.db");
    let db = format!("sqlite://{}", db_path.display());
    let lock = d.join("lock").display().to_string();
    let log_path = d.join("log/smss.log");
    let log = log_path.display().to_string();
    let args = |command: &str, lock: &str| -> Vec<String> {
        [
            command,
            "--config",
            "/dev/null",
            "--db",
            &db,
            "--device",
            "sim",
            "--lock-dir",
            lock,
            "--log-file",
            &log,
            "--service-user",
            &name,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let run_root = |a: &[String]| smss(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let run_user = |a: &[String]| user.smss(&a.iter().map(String::as_str).collect::<Vec<_>>());

    // sudo smss init-db, sudo smss send-pending
    let out = run_root(&args("init-db", &lock));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(owner_and_mode(&db_path), (me.clone(), 0o640));
    smss::store::open_diagnostics(&db, false)
        .unwrap()
        .execute_sql("INSERT INTO msg (phone, text) VALUES ('420608337726', 'as root')")
        .unwrap();
    let out = run_root(&args("send-pending", &lock));
    assert!(out.status.success(), "{}", stderr(&out));
    let lock_file = d.join("lock/smss-sim.lock");
    assert_eq!(owner_and_mode(&lock_file).0, me);
    assert_eq!(owner_and_mode(&log_path), (me.clone(), 0o640));
    for side in ["smss.db-wal", "smss.db-shm"] {
        let p = d.join("state").join(side);
        if p.exists() {
            assert_eq!(owner_and_mode(&p).0, me, "{side}");
        }
    }
    // ... and the service user carries on with them
    let out = run_user(&args("send-pending", &lock));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run_user(&args("status", &lock));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // A lock file left by root (an older smss, another tool): owner, mode, fix.
    let lock2 = d.join("lock2");
    let root_lock = lock2.join("smss-sim.lock");
    std::fs::write(&root_lock, "").unwrap();
    std::fs::set_permissions(&root_lock, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run_user(&args("send-pending", &lock2.display().to_string()));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let p = root_lock.display();
    assert!(
        stderr(&out).contains(&format!(
            "the lock file {p} is owned by root:root, mode 0644, and {name} cannot write it: \
             fix with `sudo chown {me} {p}`"
        )),
        "{}",
        stderr(&out)
    );

    // A database root made for itself (service-user unset): the same.
    let root_db = d.join("state/root.db");
    let root_url = format!("sqlite://{}", root_db.display());
    let out = smss(&[
        "init-db",
        "--config",
        "/dev/null",
        "--db",
        &root_url,
        "--service-user",
        "",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(owner_and_mode(&root_db), ("root:root".into(), 0o640));
    let out = user.smss(&[
        "status",
        "--config",
        "/dev/null",
        "--db",
        &root_url,
        "--lock-dir",
        &lock,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let p = root_db.display();
    let unusable_db = format!(
        "the SQLite database: {p} is owned by root:root, mode 0640, and {name} cannot \
         write it: fix with `sudo chown {me} {p}`"
    );
    assert!(stdout(&out).contains(&unusable_db), "{}", stdout(&out));

    // Trap 3: serve --check, as the init script runs it (as the service
    // user), refuses both as serve would.
    let check = |db: &str, lock: &str| {
        user.smss(&[
            "serve",
            "--check",
            "--config",
            "/dev/null",
            "--db",
            db,
            "--device",
            "sim",
            "--lock-dir",
            lock,
            "--log-file",
            "none",
            "--listen",
            "127.0.0.1:0",
        ])
    };
    let out = check(&root_url, &lock);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains(&unusable_db), "{}", stderr(&out));
    let out = check(&db, &lock2.display().to_string());
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains(&format!(
            "the lock file {} is owned by root:root, mode 0644",
            root_lock.display()
        )),
        "{}",
        stderr(&out)
    );
    let out = check(&db, &lock);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Trap 10: the database and the log are created 0640, like the config.
#[test]
fn new_database_and_log_are_not_world_readable() {
    let dir = TempDir::new("modes");
    let db_path = dir.path().join("smss.db");
    let db = format!("sqlite://{}", db_path.display());
    let log_path = dir.path().join("smss.log");
    let out = send_pending(
        &db,
        "sim",
        &dir,
        &["--log-file", &log_path.display().to_string()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(owner_and_mode(&db_path).1, 0o640);
    assert_eq!(owner_and_mode(&log_path).1, 0o640);
}

/// Trap 3: `serve --check` refuses what `serve` refuses, with the same
/// words, and creates nothing.
#[test]
fn serve_check_refuses_what_serve_refuses() {
    let dir = TempDir::new("checkall");
    let d = dir.path().display().to_string();
    let db = format!("sqlite://{d}/smss.db");
    let log = format!("{d}/smss.log");
    let base = |command: &[&str], extra: &[&str]| -> std::process::Output {
        let mut args = command.to_vec();
        args.extend([
            "--config",
            "/dev/null",
            "--db",
            &db,
            "--device",
            "sim",
            "--lock-dir",
            &d,
            "--log-file",
            &log,
            "--listen",
            "127.0.0.1:0",
        ]);
        args.extend_from_slice(extra);
        smss(&args)
    };
    let both = |extra: &[&str], expect: &str| {
        let check = base(&["serve", "--check"], extra);
        let serve = base(&["serve"], extra);
        assert_eq!(
            check.status.code(),
            Some(1),
            "{extra:?}: {}",
            stdout(&check)
        );
        assert_eq!(serve.status.code(), Some(1), "{extra:?}");
        assert!(
            stderr(&check).contains(expect),
            "{extra:?}: {}",
            stderr(&check)
        );
        // serve logs what it did before (a migration): its last line
        let last = stderr(&serve).lines().last().unwrap_or("").to_owned();
        assert_eq!(stderr(&check), format!("{last}\n"), "{extra:?}");
    };
    // the web interface on the network without a password
    both(
        &["--web-listen", "0.0.0.0:0"],
        "web-listen 0.0.0.0:0 is not a loopback address, so the web interface needs a password",
    );
    // the check creates nothing: not the database, the log or a lock
    let out = base(&["serve", "--check"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!(
            "note: the database file {d}/smss.db does not exist yet: serve creates it"
        )),
        "{}",
        stdout(&out)
    );
    assert_eq!(lock_files(dir.path()), Vec::<String>::new());
    // ports in use: port 2021 and the web port
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    both(
        &["--listen", &taken],
        &format!("smss serve: cannot listen on {taken}: Address already in use"),
    );
    both(
        &["--web-listen", &taken],
        &format!("smss serve: cannot listen on {taken} (web-listen): Address already in use"),
    );
    // a directory where the modem should be
    both(
        &["--device", &d],
        &format!("smss serve: {d} is not a serial port"),
    );
}

/// Trap 3: before a restart, the running serve holds the port and the
/// modem: that is not the new configuration's fault.
#[test]
fn serve_check_beside_a_running_serve() {
    let rig = Rig::sqlite("checkrunning", &[]);
    let device = rig.sim.path.display().to_string();
    let addr = rig.serve.addr.to_string();
    let out = smss(&[
        "serve",
        "--check",
        "--config",
        "/dev/null",
        "--db",
        &rig.db.url,
        "--device",
        &device,
        "--lock-dir",
        &rig.dir.path().display().to_string(),
        "--log-file",
        "none",
        "--listen",
        &addr,
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let pid = rig.serve.child.id();
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "note: smss serve (pid {pid}) holds {device} now: a restart replaces it"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "note: {addr} is in use, by smss serve (pid {pid})"
        )),
        "{text}"
    );
}

/// Trap 6: a sender that stopped reporting long ago, or a device of this
/// host that is no longer configured, is "retired", not a problem, and
/// `status --forget NAME` deletes its row.
fn retired_senders(backend: Backend) {
    let dir = TempDir::new("retired");
    let db = TestDb::new(backend, &dir);
    db.init();
    let lock_dir = dir.path().display().to_string();
    let status = |extra: &[&str]| {
        let mut args = vec![
            "status",
            "--config",
            "/dev/null",
            "--db",
            &db.url,
            "--lock-dir",
            &lock_dir,
        ];
        args.extend_from_slice(extra);
        let out = smss(&args);
        (out.status.code(), stdout(&out) + &stderr(&out))
    };
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned();
    let ten_minutes_ago = match backend {
        Backend::Sqlite => "strftime('%Y-%m-%d %H:%M:%f', 'now', '-10 minutes')",
        Backend::Mysql => "NOW(3) - INTERVAL 10 MINUTE",
    };
    let store = db.store();
    store
        .execute_sql(
            "INSERT INTO modem (instance, device, healthy, checked_at, pid) \
             VALUES ('old-host:/dev/ttyS0', '/dev/ttyS0', 1, '2020-01-01 00:00:00.000', 77)",
        )
        .unwrap();
    let former = format!("{host}:/dev/ttyS0");
    store
        .execute_sql(&format!(
            "INSERT INTO modem (instance, device, healthy, checked_at, pid) \
             VALUES ('{former}', '/dev/ttyS0', 0, {ten_minutes_ago}, 78)"
        ))
        .unwrap();

    // The device was changed to ttyUSB0: both old rows are retired.
    let (code, text) = status(&["--device", "/dev/ttyUSB0"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("modem:      old-host:/dev/ttyS0: retired (not checked for ")
            && text.contains(" (health-retire-age 1d); `smss status --forget")
            && text.contains("`smss status --forget old-host:/dev/ttyS0` deletes the row)"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "modem:      {former}: retired (/dev/ttyS0 is not a device of this host's \
             configuration now; last checked 10m"
        )),
        "{text}"
    );
    // The web panel says the same, and /metrics has no series for them
    // (an alert on smss_modem_up == 0 would fire for ever).
    {
        let sim = smss::sim::PtySim::start().unwrap();
        let serve = Serve::start(
            &db.url,
            sim.path.to_str().unwrap(),
            &dir,
            &["--web-listen", "127.0.0.1:0"],
        );
        let web = serve.web_addr();
        let mut metrics = String::new();
        assert!(
            wait_for(std::time::Duration::from_secs(60), || {
                metrics = crate::util::http::get(web, "/metrics", &[]).text();
                metrics.contains("smss_modem_up{")
            }),
            "serve's own modem never reported: {metrics}"
        );
        assert!(!metrics.contains("old-host"), "{metrics}");
        assert!(!metrics.contains(&format!("\"{former}\"")), "{metrics}");
        let panel = crate::util::http::get(web, "/", &[]).text();
        assert!(
            panel.contains("Modem old-host:/dev/ttyS0")
                && panel.contains("retired (not checked for "),
            "{panel}"
        );
        assert!(serve.terminate().success());
    }

    // Still the device of this host: not checked for 10 minutes is a problem.
    let (code, text) = status(&["--device", "/dev/ttyS0"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!("  - modem {former}: last checked 10m")),
        "{text}"
    );

    // --forget deletes a row, once.
    let (code, text) = status(&["--forget", "old-host:/dev/ttyS0"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(
        text,
        "smss status: forgot modem old-host:/dev/ttyS0 (a sender of that name that runs \
         again records a new row)\n"
    );
    let (code, text) = status(&["--forget", "old-host:/dev/ttyS0"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("no modem row of a sender named 'old-host:/dev/ttyS0'"),
        "{text}"
    );
    let (_, text) = status(&["--device", "/dev/ttyUSB0"]);
    assert!(!text.contains("old-host"), "{text}");
}

#[test]
fn retired_senders_sqlite() {
    retired_senders(Backend::Sqlite);
}

#[test]
fn retired_senders_mysql() {
    retired_senders(Backend::Mysql);
}

/// A MariaDB user and database made from README's recipe, dropped at the end.
struct MysqlRecipe {
    user: String,
    password: String,
    db: String,
}

impl MysqlRecipe {
    /// Runs README's `CREATE DATABASE` / `CREATE USER` / `GRANT` block as
    /// root, with names of this test's own.
    fn from_readme() -> MysqlRecipe {
        use mysql::prelude::Queryable;
        let n = std::process::id();
        let recipe = MysqlRecipe {
            user: format!("smsst{n}"),
            password: format!("pw{n}x"),
            db: format!("smsst_recipe_{n}"),
        };
        let block = readme_block("CREATE USER 'smss'@'localhost'");
        let sql = block
            .replace("'smss'@", &format!("'{}'@", recipe.user))
            .replace("'secret'", &format!("'{}'", recipe.password))
            .replace("DATABASE sms ", &format!("DATABASE {} ", recipe.db))
            .replace("ON sms.*", &format!("ON {}.*", recipe.db));
        let mut conn = mysql::Conn::new(mysql::Opts::from_url(MYSQL_ROOT).unwrap()).unwrap();
        for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            conn.query_drop(stmt)
                .unwrap_or_else(|e| panic!("README's {stmt}: {e}"));
        }
        recipe
    }

    /// README's URL (`mysql://smss:secret@localhost:3306/sms`) for this
    /// user, password and database.
    fn readme_url(&self) -> String {
        let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
        let url = "mysql://smss:secret@localhost:3306/sms";
        assert!(readme.contains(&format!("smss init-db --db {url}")));
        format!(
            "mysql://{}:{}@localhost:3306/{}",
            self.user, self.password, self.db
        )
    }
}

impl Drop for MysqlRecipe {
    fn drop(&mut self) {
        use mysql::prelude::Queryable;
        if let Ok(mut conn) = mysql::Pool::new(MYSQL_ROOT).and_then(|p| p.get_conn()) {
            let _ = conn.query_drop(format!("DROP USER IF EXISTS '{}'@'localhost'", self.user));
            let _ = conn.query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.db));
        }
    }
}

/// Trap 7: README's MySQL recipe works as written ('smss'@'localhost',
/// even with skip-name-resolve: smss connects through the socket for
/// localhost, as the mysql client does); hints keep the URL as given with
/// the password as ***; errors are sentences.
#[test]
fn readme_mysql_recipe_works() {
    if !std::path::Path::new("/run/mysqld/mysqld.sock").exists()
        && !std::path::Path::new("/var/run/mysqld/mysqld.sock").exists()
    {
        eprintln!("NOTE: no MariaDB socket here: not checking the localhost grant");
        return;
    }
    let recipe = MysqlRecipe::from_readme();
    let url = recipe.readme_url();
    let dir = TempDir::new("recipe");
    let lock_dir = dir.path().display().to_string();
    let status = |db: &str| {
        let out = smss(&[
            "status",
            "--config",
            "/dev/null",
            "--db",
            db,
            "--lock-dir",
            &lock_dir,
        ]);
        (out.status.code(), stdout(&out) + &stderr(&out))
    };
    // before init-db: the hint is runnable, the password hidden
    let (code, text) = status(&url);
    assert_eq!(code, Some(1), "{text}");
    let shown = url.replace(&recipe.password, "***");
    assert!(
        text.contains(&format!(
            "has no smss tables: run `smss init-db --db '{shown}' --config /dev/null` \
             (with the password in place of ***)"
        )),
        "{text}"
    );
    assert!(!text.contains(&recipe.password), "{text}");

    let out = smss(&["init-db", "--config", "/dev/null", "--db", &url]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let (code, text) = status(&url);
    assert_eq!(code, Some(0), "{text}");
    // the port does not matter for localhost, as for the mysql client
    let (code, text) = status(&url.replace(":3306/", ":1/"));
    assert_eq!(code, Some(0), "{text}");

    // a wrong password, over TCP: in words
    let wrong = format!("mysql://{}:wrong@127.0.0.1:3306/{}", recipe.user, recipe.db);
    let (code, text) = status(&wrong);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "access denied for user {}@127.0.0.1: check the user, password and host of the grant",
            recipe.user
        )),
        "{text}"
    );
    assert!(!text.contains("MySqlError"), "{text}");
}

/// Every line of a README code block that contains `needle`.
fn readme_lines(needle: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    readme
        .split("```")
        .skip(1)
        .step_by(2)
        .flat_map(|b| b.lines())
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// Runs `script` with bash; `None` when it has not ended within `limit`.
fn bash_within(script: &str, limit: std::time::Duration) -> Option<std::process::Output> {
    use std::process::{Command, Stdio};
    let mut child = Command::new("bash")
        .args(["-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    match wait_timeout(&mut child, limit) {
        Some(_) => Some(child.wait_with_output().unwrap()),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            None
        }
    }
}

/// Trap 8: the README's first examples come back at once (not after the
/// server's 60 s idle timeout), and queue their message: each netcat form
/// with the nc here (Debian's netcat-openbsd), bash's /dev/tcp, and the
/// PowerShell script where pwsh is installed.
#[test]
fn readme_examples_return_at_once() {
    // every form sends README's same text: one SMS each, not merged
    let rig = Rig::sqlite(
        "examples",
        &["--idle-timeout", "60s", "--coalesce-window", "0"],
    );
    let port = rig.serve.addr.port().to_string();
    let here = |line: &str| {
        line.replace("smss-host 2021", &format!("127.0.0.1 {port}"))
            .replace("smss-host/2021", &format!("127.0.0.1/{port}"))
    };
    let mut forms: Vec<String> = Vec::new();
    for needle in ["| nc -N ", "| nc -q 1 ", "/dev/tcp/smss-host/2021"] {
        let lines = readme_lines(needle);
        assert!(!lines.is_empty(), "README.md shows no {needle}");
        forms.extend(lines);
    }
    let have_nc = have_tool("nc", "the README's netcat examples");
    let mut sent = 0;
    for form in &forms {
        if form.contains("| nc ") && !have_nc {
            continue;
        }
        // the answer's first word, whether or not the line checks it
        let script = format!("{} && echo QUEUED", here(form));
        let out = bash_within(&script, std::time::Duration::from_secs(30))
            .unwrap_or_else(|| panic!("hangs: {form}"));
        assert!(
            stdout(&out).contains("QUEUED"),
            "{form}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        sent += 1;
    }
    if have_tool("pwsh", "the README's PowerShell script") {
        let block = readme_block("param([string]$Phone");
        let script = rig.dir.path().join("sms.ps1");
        std::fs::write(&script, block.trim_start_matches("powershell")).unwrap();
        let run = format!(
            "pwsh -NoProfile -File {} -Text 'from PowerShell' -Server 127.0.0.1 -Port {port}",
            script.display()
        );
        let out = bash_within(&run, std::time::Duration::from_secs(60))
            .unwrap_or_else(|| panic!("the PowerShell script hangs"));
        assert!(out.status.success(), "{}", stderr(&out));
        sent += 1;
    }
    let got = rig
        .sim
        .handle
        .wait_for_sent(sent, std::time::Duration::from_secs(30));
    assert_eq!(got.len(), sent, "{}", rig.serve.log());
}

/// Trap 10: `serve --demo` makes its directory with a name nobody can
/// guess or make first (mode 0700), and removes it when it stops.
#[test]
fn the_demo_directory_is_private_and_removed() {
    use std::io::BufRead;
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Command, Stdio};
    let tmp = TempDir::new("demo");
    let mut child = Command::new(BIN)
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .args(["--web-listen", "127.0.0.1:0", "--log-file", "none"])
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let started = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains(" listening on "));
    assert!(started, "serve --demo did not start");
    // the rest of its log, so that it never waits on a full pipe
    std::thread::spawn(move || lines.for_each(drop));
    let demo: Vec<std::path::PathBuf> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("smss-demo-")
        })
        .collect();
    assert_eq!(demo.len(), 1, "{demo:?}");
    let name = demo[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        !name.contains(&child.id().to_string()),
        "{name}: not the pid"
    );
    assert!(name.len() >= "smss-demo-".len() + 8, "{name}");
    let mode = std::fs::metadata(&demo[0]).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    assert!(demo[0].join("smss.db").exists());
    signal(&child, "TERM");
    let status = wait_timeout(&mut child, std::time::Duration::from_secs(30));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    assert!(!demo[0].exists(), "{} is left behind", demo[0].display());
}

/// Trap 10: received texts go into the log, and request texts into
/// `status`, with control characters escaped: no forged log line, no
/// terminal escapes.
#[test]
fn untrusted_texts_are_printed_escaped() {
    use smss::gsm::{DeliverRef, Timestamp, encode_deliver};
    let dir = TempDir::new("escape");
    let db = TestDb::new(Backend::Sqlite, &dir);
    db.init();
    let sim = smss::sim::PtySim::start().unwrap();
    let hostile = "\u{1b}[2Jcleared\n2026-11-30T10:15:02.123Z [INFO] forged line";
    let ts = Timestamp {
        year: 2026,
        month: 11,
        day: 30,
        hour: 3,
        minute: 4,
        second: 5,
        tz_quarters: 4,
    };
    for pdu in encode_deliver(
        "+420777123456",
        hostile,
        ts,
        DeliverRef {
            reference: 1,
            ref16: false,
        },
    ) {
        sim.handle.deliver("SM", &pdu).unwrap();
    }
    db.store()
        .execute_sql(&format!(
            "INSERT INTO msg (phone, text) VALUES ('420608337726', '{}')",
            "ring \u{7}\u{1b}]0;owned\u{7} bell"
        ))
        .unwrap();
    let log = dir.path().join("smss.log");
    let out = send_pending(
        &db.url,
        sim.path.to_str().unwrap(),
        &dir,
        &["--log-file", &log.display().to_string()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(
        text.contains(
            "(1 part(s)): \\u{1b}[2Jcleared\\n2026-11-30T10:15:02.123Z [INFO] forged line\n"
        ),
        "{text}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("2026-11-30T10:15:02.123Z")),
        "{text}"
    );
    let out = smss(&[
        "status",
        "--config",
        "/dev/null",
        "--db",
        &db.url,
        "--lock-dir",
        &dir.path().display().to_string(),
    ]);
    let shown = stdout(&out);
    assert!(
        !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
        "{shown:?}"
    );
    assert!(
        shown.contains("ring \\u{7}\\u{1b}]0;owned\\u{7} bell"),
        "{shown}"
    );
}

/// Trap 10: a device that is not a serial port is named as such, not
/// "Not a typewriter".
#[test]
fn a_device_that_is_no_serial_port_says_so() {
    let dir = TempDir::new("notatty");
    let db = TestDb::new(Backend::Sqlite, &dir);
    let file = dir.path().join("modem.txt");
    std::fs::write(&file, "").unwrap();
    let file = file.display().to_string();
    for device in [file.as_str(), "/dev/null"] {
        let out = send_pending(&db.url, device, &dir, &["--log-file", "none"]);
        assert_eq!(out.status.code(), Some(1), "{device}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{device} is not a serial port")),
            "{device}: {err}"
        );
        assert!(!err.contains("typewriter"), "{err}");
    }
}

/// Trap 10: what README shows is what smss does: the schema version of the
/// status example, the metrics /metrics serves, `sudo` where a file is the
/// service's.
#[test]
fn the_readme_shows_what_smss_does() {
    let status = readme_block("database:   sqlite (");
    assert!(
        status.contains(&format!("schema version {}\n", smss::store::SCHEMA_VERSION)),
        "{status}"
    );
    let rig = Rig::sqlite("metrics", &["--web-listen", "127.0.0.1:0"]);
    let web = rig.serve.web_addr();
    // the modem rows appear once the modem thread recorded its health
    let mut names: Vec<String> = Vec::new();
    let found = wait_for(std::time::Duration::from_secs(30), || {
        let body = crate::util::http::get(web, "/metrics", &[]).text();
        names = body
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.split(['{', ' ']).next().unwrap().to_owned())
            .collect();
        names.iter().any(|n| n == "smss_modem_up")
    });
    assert!(found, "{names:?}");
    let listed = readme_block("# Prometheus: ");
    for name in &names {
        assert!(
            listed.contains(name.as_str()),
            "README's metrics lack {name}"
        );
    }
    // step 5: the log and the config are not everyone's
    let step5 = readme_block("smss client -a localhost '#420608337726;smss works'");
    for line in step5.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.contains("/var/log/smss") || line.contains("smss status") {
            assert!(line.starts_with("sudo "), "README step 5: {line}");
        }
    }
}
