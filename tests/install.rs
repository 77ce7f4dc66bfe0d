//! Operating smss: the init files, `make install` / `uninstall`, and the
//! installed binary run with the installed sample config.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::*;

const WAIT: Duration = Duration::from_secs(30);

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file `make install DESTDIR=...` puts in place, with its mode.
const TREE: &[(&str, u32)] = &[
    ("usr/local/bin/smss", 0o755),
    ("etc/smss/smss.conf", 0o640),
    ("etc/init.d/smss", 0o755),
    ("usr/local/lib/systemd/system/smss.service", 0o644),
    ("etc/cron.d/smss", 0o644),
    ("etc/logrotate.d/smss", 0o644),
    ("usr/local/share/smss/sql/sqlite/001_init.sql", 0o644),
    ("usr/local/share/smss/sql/sqlite/002_receive.sql", 0o644),
    ("usr/local/share/smss/sql/sqlite/003_modem.sql", 0o644),
    ("usr/local/share/smss/sql/sqlite/004_claims.sql", 0o644),
    (
        "usr/local/share/smss/sql/sqlite/005_modem_warnings.sql",
        0o644,
    ),
    (
        "usr/local/share/smss/sql/sqlite/006_received_corners.sql",
        0o644,
    ),
    (
        "usr/local/share/smss/sql/sqlite/007_sim_memories.sql",
        0o644,
    ),
    (
        "usr/local/share/smss/sql/sqlite/008_integrations.sql",
        0o644,
    ),
    ("usr/local/share/smss/sql/sqlite/009_storms.sql", 0o644),
    ("usr/local/share/smss/sql/sqlite/010_pager.sql", 0o644),
    ("usr/local/share/smss/sql/sqlite/011_spool.sql", 0o644),
    ("usr/local/share/smss/sql/sqlite/012_call.sql", 0o644),
    ("usr/local/share/smss/sql/sqlite/013_escalation.sql", 0o644),
    ("usr/local/share/smss/sql/mysql/001_init.sql", 0o644),
    ("usr/local/share/smss/sql/mysql/002_receive.sql", 0o644),
    ("usr/local/share/smss/sql/mysql/003_modem.sql", 0o644),
    ("usr/local/share/smss/sql/mysql/004_claims.sql", 0o644),
    (
        "usr/local/share/smss/sql/mysql/005_modem_warnings.sql",
        0o644,
    ),
    (
        "usr/local/share/smss/sql/mysql/006_received_corners.sql",
        0o644,
    ),
    ("usr/local/share/smss/sql/mysql/007_sim_memories.sql", 0o644),
    ("usr/local/share/smss/sql/mysql/008_integrations.sql", 0o644),
    ("usr/local/share/smss/sql/mysql/009_storms.sql", 0o644),
    ("usr/local/share/smss/sql/mysql/010_pager.sql", 0o644),
    ("usr/local/share/smss/sql/mysql/011_spool.sql", 0o644),
    ("usr/local/share/smss/sql/mysql/012_call.sql", 0o644),
    ("usr/local/share/smss/sql/mysql/013_escalation.sql", 0o644),
    ("usr/local/share/doc/smss/README.md", 0o644),
];

#[test]
fn install_keeps_an_edited_config_and_uninstall_removes_the_rest() {
    let dir = TempDir::new("install");
    let dest = dir.path();
    make("install", dest);
    let mut files: Vec<String> = Vec::new();
    collect_files(dest, dest, &mut files);
    files.sort();
    let mut expected: Vec<String> = TREE.iter().map(|(p, _)| p.to_string()).collect();
    expected.sort();
    assert_eq!(files, expected);
    for (path, m) in TREE {
        assert_eq!(mode(&dest.join(path)), *m, "mode of {path}");
    }
    // Paths are filled in; the sample is the one in the tree.
    for path in [
        "etc/init.d/smss",
        "etc/cron.d/smss",
        "usr/local/lib/systemd/system/smss.service",
    ] {
        let text = read(&dest.join(path));
        for placeholder in ["@BINDIR@", "@DOCDIR@"] {
            assert!(!text.contains(placeholder), "{path}: {placeholder} left");
        }
        assert!(text.contains("/usr/local/bin/smss"), "{path}");
    }
    assert_eq!(
        read(&dest.join("etc/smss/smss.conf")),
        read(&repo_root().join("etc/smss.conf"))
    );
    let cron = read(&dest.join("etc/cron.d/smss"));
    assert!(
        cron.contains("* * * * * smss /usr/local/bin/smss send-pending"),
        "{cron}"
    );

    // A second install keeps the administrator's config.
    let conf = dest.join("etc/smss/smss.conf");
    let edited = read(&conf).replace("\n#device =\n", "\ndevice = /dev/ttyUSB0\n");
    assert_ne!(edited, read(&conf), "the sample has a #device = line");
    std::fs::write(&conf, &edited).unwrap();
    let said = make("install", dest);
    assert!(said.contains("smss.conf.dist"), "{said}");
    assert_eq!(read(&conf), edited);
    assert_eq!(
        read(&dest.join("etc/smss/smss.conf.dist")),
        read(&repo_root().join("etc/smss.conf"))
    );

    // uninstall: everything but the edited config goes.
    make("uninstall", dest);
    let mut left: Vec<String> = Vec::new();
    collect_files(dest, dest, &mut left);
    assert_eq!(left, ["etc/smss/smss.conf"]);
    // an unedited config goes too
    make("install", dest);
    std::fs::write(&conf, read(&repo_root().join("etc/smss.conf"))).unwrap();
    make("uninstall", dest);
    let mut left: Vec<String> = Vec::new();
    collect_files(dest, dest, &mut left);
    assert!(left.is_empty(), "{left:?}");
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(root, &path, out);
        } else {
            out.push(path.strip_prefix(root).unwrap().display().to_string());
        }
    }
}

#[test]
fn init_script_is_posix_sh_with_an_lsb_header() {
    let script = repo_root().join("init/smss.init");
    let text = read(&script);
    assert!(text.starts_with("#!/bin/sh\n"));
    for field in [
        "### BEGIN INIT INFO",
        "# Provides:          smss",
        "# Required-Start:",
        "# Default-Start:     2 3 4 5",
        "# Default-Stop:      0 1 6",
        "### END INIT INFO",
    ] {
        assert!(text.contains(field), "LSB header lacks {field}");
    }
    for action in ["start)", "stop)", "restart|reload|force-reload)", "status)"] {
        assert!(text.contains(action), "no {action}");
    }
    assert!(text.contains("start-stop-daemon --start"));
    assert!(text.contains("--chuid \"$SMSS_USER:$SMSS_GROUP\""));
    assert!(text.contains("--pidfile \"$PIDFILE\""));

    let out = Command::new("sh").arg("-n").arg(&script).output().unwrap();
    assert!(out.status.success(), "sh -n: {}", stderr(&out));
    if have_tool("dash", "the init script with dash -n") {
        let out = Command::new("dash")
            .arg("-n")
            .arg(&script)
            .output()
            .unwrap();
        assert!(out.status.success(), "dash -n: {}", stderr(&out));
    }
    if have_tool("checkbashisms", "the init script for bashisms") {
        let out = Command::new("checkbashisms").arg(&script).output().unwrap();
        assert!(
            out.status.success(),
            "checkbashisms:\n{}{}",
            stdout(&out),
            stderr(&out)
        );
    }
}

#[test]
fn init_script_usage_and_status() {
    // Run against the installed binary with a pid file of our own.
    let dir = TempDir::new("initscript");
    make("install", dir.path());
    let script = dir.path().join("etc/init.d/smss");
    let defaults = dir.path().join("default");
    let pidfile = dir.path().join("smss.pid");
    // Its settings come from /etc/default/smss: use one of our own that
    // names the installed binary and a pid file in the temp dir.
    std::fs::write(
        &defaults,
        format!(
            "DAEMON={}\nPIDFILE={}\n",
            dir.path().join("usr/local/bin/smss").display(),
            pidfile.display()
        ),
    )
    .unwrap();
    let text = read(&script).replace("/etc/default/smss", &defaults.display().to_string());
    std::fs::write(&script, text).unwrap();
    let run = |arg: &str| {
        Command::new("sh")
            .arg(&script)
            .arg(arg)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = run("bogus");
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("Usage: /etc/init.d/smss {start|stop|restart|reload"));
    if have_tool("start-stop-daemon", "the init script's status action") {
        let out = run("status");
        assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
        assert!(stdout(&out).contains("smss is not running"));
        std::fs::write(&pidfile, "999999\n").unwrap();
        let out = run("status");
        assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    }
}

#[test]
fn systemd_unit_verifies() {
    let dir = TempDir::new("unit");
    make("install", dir.path());
    let installed = dir.path().join("usr/local/lib/systemd/system/smss.service");
    let text = read(&installed);
    for key in [
        "User=smss",
        "SupplementaryGroups=dialout",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "ReadWritePaths=/run/lock",
        "StateDirectory=smss",
        "LogsDirectory=smss",
        "ExecStart=/usr/local/bin/smss serve",
    ] {
        assert!(text.contains(key), "the unit lacks {key}");
    }
    if !have_tool("systemd-analyze", "the systemd unit") {
        return;
    }
    // verify wants the ExecStart binary to exist: the one in DESTDIR.
    let unit = dir.path().join("smss.service");
    let bin = dir.path().join("usr/local/bin/smss");
    std::fs::write(
        &unit,
        text.replace("/usr/local/bin/smss", &bin.display().to_string()),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let complaints: Vec<&str> = std::str::from_utf8(&out.stderr)
        .unwrap()
        .lines()
        .filter(|l| l.contains("smss.service"))
        .collect();
    assert!(
        out.status.success() && complaints.is_empty(),
        "systemd-analyze verify:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn logrotate_file_parses() {
    let text = read(&repo_root().join("init/smss.logrotate"));
    assert!(text.contains("/var/log/smss/*.log"));
    assert!(text.contains("copytruncate"));
    if !have_tool("logrotate", "the logrotate file") {
        return;
    }
    // The same file, pointed at a temp dir and without `su smss` (no such
    // user here): a dry run must accept every directive.
    let dir = TempDir::new("logrotate");
    let log = dir.path().join("smss.log");
    std::fs::write(&log, "x\n").unwrap();
    let conf = dir.path().join("smss.logrotate");
    let text = text
        .replace("/var/log/smss", &dir.path().display().to_string())
        .replace("su smss smss", "");
    std::fs::write(&conf, text).unwrap();
    let out = Command::new("logrotate")
        .arg("--debug")
        .arg("--state")
        .arg(dir.path().join("state"))
        .arg(&conf)
        .output()
        .unwrap();
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(out.status.success(), "logrotate -d:\n{all}");
    assert!(!all.contains("error"), "logrotate -d:\n{all}");
}

/// The installed binary with the installed sample config (paths pointed
/// into a temp dir, the simulated modem): a request through the client,
/// and the log file records it and its send; `status` sees it all.
#[test]
fn installed_binary_runs_with_the_installed_sample_config() {
    let dir = TempDir::new("installed");
    let dest = dir.path().join("root");
    std::fs::create_dir(&dest).unwrap();
    make("install", &dest);
    let bin = dest.join("usr/local/bin/smss");
    let log = dir.path().join("smss.log");
    let conf = dir.path().join("smss.conf");
    let sample = read(&dest.join("etc/smss/smss.conf"));
    let db = format!("sqlite://{}", dir.path().join("smss.db").display());
    let lock_dir = dir.path().display().to_string();
    let log_file = log.display().to_string();
    std::fs::write(
        &conf,
        set_config_keys(
            &sample,
            &[
                ("db", &db),
                ("device", "sim"),
                ("lock-dir", &lock_dir),
                ("log-file", &log_file),
                ("listen", "127.0.0.1:0"),
            ],
        ),
    )
    .unwrap();
    let conf_arg = conf.display().to_string();
    let installed = |args: &[&str]| {
        Command::new(&bin)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };

    let out = installed(&["serve", "--check", "--config", &conf_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("smss serve --check: configuration OK"),
        "{}",
        stdout(&out)
    );

    let mut child = Command::new(&bin)
        .args(["serve", "--config", &conf_arg])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = KillOnDrop(&mut child);
    let listening = wait_file_line(&log, " listening on ", WAIT)
        .unwrap_or_else(|| panic!("serve did not start:\n{}", read(&log)));
    let addr: std::net::SocketAddr = listening
        .split(" listening on ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();

    let out = client(addr, &["#420608337726;installed and working"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let answer = stdout(&out);
    let ids = answer.trim().strip_prefix("OK 1 ").expect("OK 1 <id>");

    let accepted = wait_file_line(&log, "accepted from 127.0.0.1:", WAIT)
        .unwrap_or_else(|| panic!("no request line in the log:\n{}", read(&log)));
    assert!(accepted.contains(&format!(": OK 1 {ids}")), "{accepted}");
    assert!(accepted.contains("[INFO]"), "{accepted}");
    let sent = wait_file_line(&log, &format!("sent message {ids} to 420608337726"), WAIT)
        .unwrap_or_else(|| panic!("no send line in the log:\n{}", read(&log)));
    assert!(sent.contains("(1 part, mr "), "{sent}");
    wait_file_line(&log, "modem sim: signal 21", WAIT)
        .unwrap_or_else(|| panic!("no health line in the log:\n{}", read(&log)));

    // status: the queue is empty, the modem healthy, serve holds the lock.
    // Both lines above are logged before their rows are committed: ask
    // until status has seen the commits.
    let mut out = installed(&["status", "--config", &conf_arg]);
    let deadline = std::time::Instant::now() + WAIT;
    while !(stdout(&out).contains("1 sent") && stdout(&out).contains("OK, SIEMENS"))
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
        out = installed(&["status", "--config", &conf_arg]);
    }
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.contains("last 24 h:  1 sent, 0 failed, 0 received"),
        "{text}"
    );
    assert!(
        text.contains(&format!("last sent:  #{ids} to 420608337726")),
        "{text}"
    );
    assert!(
        text.contains(
            "OK, SIEMENS TC35i (simulated), signal 21/31 (-71 dBm), home, operator SIMULATED"
        ),
        "{text}"
    );
    let pid = guard.0.id();
    assert!(
        text.contains(&format!("held by smss serve (pid {pid})")),
        "{text}"
    );
    assert!(text.ends_with("status:     OK\n"), "{text}");

    signal(guard.0, "TERM");
    let status = wait_timeout(guard.0, WAIT).expect("serve did not stop");
    assert!(status.success());
    wait_file_line(&log, "stopped", WAIT).expect("a stop line");
}

/// Kills a child still running when the test ends (a failed assertion).
struct KillOnDrop<'a>(&'a mut std::process::Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The init script starts, restarts and stops the installed binary (as
/// root only: it changes user with runuser and start-stop-daemon).
#[test]
fn init_script_starts_and_stops_serve() {
    let uid = Command::new("id").arg("-u").output().unwrap();
    if stdout(&uid).trim() != "0" {
        eprintln!("NOTE: not root: not running the init script's start and stop");
        return;
    }
    if !have_tool("start-stop-daemon", "the init script's start and stop")
        || !have_tool("runuser", "the init script's start and stop")
    {
        return;
    }
    let dir = TempDir::new("initrun");
    let d = dir.path();
    let dest = d.join("root");
    std::fs::create_dir(&dest).unwrap();
    make("install", &dest);
    let conf = d.join("smss.conf");
    let log = d.join("log/smss.log");
    let good = format!(
        "db = sqlite://{}/state/smss.db\ndevice = sim\nlock-dir = {}\nlog-file = {}\nlisten = 127.0.0.1:0\n",
        d.display(),
        d.display(),
        log.display()
    );
    std::fs::write(&conf, &good).unwrap();
    let defaults = d.join("default");
    let pidfile = d.join("smss.pid");
    std::fs::write(
        &defaults,
        format!(
            "DAEMON={}\nPIDFILE={}\nSMSS_USER=root\nSMSS_GROUP=root\nSTATE_DIR={}/state\n\
             LOG_DIR={}/log\nSMSS_OPTS=\"--config {}\"\n",
            dest.join("usr/local/bin/smss").display(),
            pidfile.display(),
            d.display(),
            d.display(),
            conf.display()
        ),
    )
    .unwrap();
    let script = dest.join("etc/init.d/smss");
    let text = read(&script).replace("/etc/default/smss", &defaults.display().to_string());
    std::fs::write(&script, text).unwrap();
    let run = |action: &str| {
        let out = Command::new("sh")
            .arg(&script)
            .arg(action)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (out.status.code(), stdout(&out) + &stderr(&out))
    };
    let pid = || read(&pidfile).trim().to_owned();

    let (code, text) = run("start");
    assert_eq!(code, Some(0), "{text}");
    assert!(d.join("state").is_dir() && d.join("log").is_dir());
    let first = pid();
    let (code, text) = run("status");
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!("smss is running (pid {first})")),
        "{text}"
    );
    wait_file_line(&log, " listening on ", WAIT).expect("serve logs to its file");

    // A broken config: restart refuses, says why, and the server stays.
    std::fs::write(&conf, format!("{good}speed = 9600\n")).unwrap();
    let (code, text) = run("restart");
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("smss.conf:6: unknown setting 'speed'"),
        "{text}"
    );
    assert_eq!(run("status").0, Some(0));
    assert_eq!(pid(), first);

    std::fs::write(&conf, &good).unwrap();
    let (code, text) = run("reload");
    assert_eq!(code, Some(0), "{text}");
    assert_ne!(pid(), first);
    let (code, text) = run("stop");
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = run("status");
    assert_eq!(code, Some(3), "{text}");
    assert!(read(&log).contains("[INFO] stopped"));
}
