//! Issue 15, "no host on the network can silence the alerts", against the
//! real binary: the secrets of a database URL, the recipients of one
//! request, one peer holding the connections of port 2021, and the
//! on-receive program that does not read its input. (The web's attacks:
//! `hostile_web.rs`.) Timings are generous failure bounds; the figures are
//! printed.

use std::time::{Duration, Instant};

use crate::util::http::{self, form};

use crate::util::*;

const WAIT: Duration = Duration::from_secs(30);

// ------------------------------------------------------------------ secrets

const SECRET: &str = "Sup3rSecretPw";

/// A MariaDB user with a password, allowed on one test database.
struct DbUser {
    name: String,
}

impl DbUser {
    fn new(db: &TestDb) -> DbUser {
        use mysql::prelude::Queryable;
        let database = db.url.rsplit('/').next().unwrap().to_owned();
        let name = format!("u{}", &database[database.len().saturating_sub(12)..]);
        let mut conn = mysql::Pool::new(MYSQL_ROOT)
            .and_then(|p| p.get_conn())
            .expect("MariaDB on 127.0.0.1:3306");
        for sql in [
            format!("DROP USER IF EXISTS '{name}'@'%'"),
            format!("CREATE USER '{name}'@'%' IDENTIFIED BY '{SECRET}'"),
            format!("GRANT ALL ON `{database}`.* TO '{name}'@'%'"),
        ] {
            conn.query_drop(sql).unwrap();
        }
        DbUser { name }
    }
}

impl Drop for DbUser {
    fn drop(&mut self) {
        use mysql::prelude::Queryable;
        if let Ok(mut conn) = mysql::Pool::new(MYSQL_ROOT).and_then(|p| p.get_conn()) {
            let _ = conn.query_drop(format!("DROP USER IF EXISTS '{}'@'%'", self.name));
        }
    }
}

#[test]
fn database_passwords_appear_in_no_output() {
    let dir = TempDir::new("secrets");
    let db = TestDb::new(Backend::Mysql, &dir);
    db.init();
    let user = DbUser::new(&db);
    let database = db.url.rsplit('/').next().unwrap();
    let name = &user.name;
    let urls = [
        format!("mysql://{name}:{SECRET}@127.0.0.1:3306/{database}?prefer_socket=false"),
        format!("mysql://{name}@127.0.0.1:3306/{database}?password={SECRET}&prefer_socket=false"),
    ];
    let wrong = [
        // the password is wrong (the error names the user, not the password)
        format!("mysql://{name}:{SECRET}x@127.0.0.1:3306/{database}"),
        // a mistyped scheme, a mistyped parameter
        format!("mysq://{name}:{SECRET}@127.0.0.1:3306/{database}"),
        format!("mysql://{name}:{SECRET}@127.0.0.1:3306/{database}?passwrd={SECRET}"),
        format!("mysql://{name}@127.0.0.1:3306/{database}?password={SECRET}&prefer_sockt=1"),
    ];
    let lock_dir = dir.path().display().to_string();
    let log = dir.path().join("smss.log");
    let log_arg = log.display().to_string();
    let common = [
        "--config",
        "/dev/null",
        "--device",
        "sim",
        "--lock-dir",
        &lock_dir,
        "--log-file",
        &log_arg,
        "--listen",
        "127.0.0.1:0",
    ];
    let mut outputs: Vec<(String, String)> = Vec::new();
    for url in urls.iter().chain(&wrong) {
        for command in [
            &["status"][..],
            &["serve", "--check"],
            &["send-pending"],
            &["init-db"],
        ] {
            let mut args = command.to_vec();
            args.extend_from_slice(&common);
            args.extend(["--db", url]);
            if command[0] == "status" || command[0] == "init-db" {
                // they do not take --listen
                args.retain(|a| *a != "--listen" && *a != "127.0.0.1:0");
            }
            let out = smss(&args);
            outputs.push((
                format!("{} with {url}", command.join(" ")),
                stdout(&out) + &stderr(&out),
            ));
        }
    }
    // serve itself: its log, on stderr and in the file
    let serve = Serve::start(&urls[1], "sim", &dir, &["--log-file", &log_arg]);
    assert!(serve.wait_log("listening on", WAIT));
    let serve_log = serve.log();
    drop(serve);
    outputs.push(("serve's stderr".into(), serve_log));
    outputs.push((
        "the log file".into(),
        std::fs::read_to_string(&log).unwrap_or_default(),
    ));
    // status really used the database (the first URL) and showed its URL
    let shown = &outputs[0].1;
    assert!(
        shown.contains(&format!("mysql://{name}:***@127.0.0.1:3306/{database}")),
        "{shown}"
    );
    let shown = &outputs[4].1;
    assert!(
        shown.contains("?password=***&prefer_socket=false"),
        "{shown}"
    );
    for (what, text) in &outputs {
        assert!(!text.contains(SECRET), "{what} shows the password:\n{text}");
    }
    eprintln!(
        "{} outputs (status, serve --check, send-pending, init-db with {} URLs; serve's log) \
         without the password",
        outputs.len(),
        urls.len() + wrong.len()
    );
}

// ------------------------------------------------------------ recipients

/// The token of the send form on the overview.
fn csrf_token(web: std::net::SocketAddr) -> String {
    let page = http::get(web, "/", &[]).text();
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a csrf token in the form")
        .to_owned()
}

/// Rows in msg and sms: everything ever queued.
fn queued_ever(db: &TestDb) -> usize {
    let store = db.store();
    let all = smss::store::ListFilter {
        limit: 100_000,
        ..Default::default()
    };
    store.list_queued(&all).unwrap().len() + store.list_sms(&all).unwrap().len()
}

#[test]
fn max_recipients_per_request_on_every_way_in() {
    // the same numbers and texts on every way in: each a message of its
    // own here, not merged (coalesce-window 0)
    let rig = Rig::sqlite(
        "recipients",
        &[
            "--web-listen",
            "127.0.0.1:0",
            "--max-recipients",
            "3",
            "--coalesce-window",
            "0",
        ],
    );
    let web = rig.serve.web_addr();
    let refused = "too many recipients: 4, at most 3 in one request (max-recipients)";
    // A TCP line: three requests are fine, four are refused whole.
    let mut s = connect(rig.serve.addr);
    send(&mut s, "#420608337726;a".repeat(3).as_bytes());
    send(&mut s, b"\n");
    assert!(read_answer(&mut s).starts_with("OK 3 "));
    send(&mut s, "#420608337726;b".repeat(4).as_bytes());
    send(&mut s, b"\n");
    assert_eq!(read_answer(&mut s), format!("ERR {refused}"));
    // The form.
    let token = csrf_token(web);
    let form_type = ("Content-Type", "application/x-www-form-urlencoded");
    let post_form = |to: &str| {
        http::post(
            web,
            "/send",
            &[form_type],
            &form(&[("csrf", &token), ("to", to), ("text", "form")]),
        )
    };
    assert_eq!(
        post_form("420608337726,420608337727,420608337728").status,
        303
    );
    let r = post_form("420608337726,420608337727,420608337728,420608337729");
    assert_eq!(r.status, 422);
    assert!(
        r.text().contains(&format!("Not sent: {refused}")),
        "{}",
        r.text()
    );
    // The API.
    let json = ("Content-Type", "application/json");
    let r = http::post(
        web,
        "/api/send",
        &[json],
        br#"{"to": ["420608337726", "420608337727", "420608337728"], "text": "api"}"#,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let r = http::post(
        web,
        "/api/send",
        &[json],
        br#"{"to": ["420608337726", "420608337727", "420608337728", "1234"], "text": "api"}"#,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], refused);
    // Three times three queued, nothing of the refused ones.
    assert_eq!(queued_ever(&rig.db), 9);
}

#[test]
fn one_form_cannot_queue_thousands() {
    // The attack of the issue: 16,000 numbers in one form post (64 KB).
    // 50 times one number: 50 messages here, not merged (coalesce-window 0)
    let rig = Rig::sqlite(
        "recipients-attack",
        &["--web-listen", "127.0.0.1:0", "--coalesce-window", "0"],
    );
    let web = rig.serve.web_addr();
    let token = csrf_token(web);
    // commas as they are, as a browser may send them
    let numbers = vec!["123"; 16_000].join(",");
    let mut body = form(&[("csrf", &token), ("text", "flood")]);
    body.extend_from_slice(format!("&to={numbers}").as_bytes());
    assert!(body.len() <= 64 * 1024, "{}", body.len());
    let started = Instant::now();
    let r = http::post(
        web,
        "/send",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &body,
    );
    eprintln!(
        "16,000 numbers in one form: {} in {:?}",
        r.status,
        started.elapsed()
    );
    assert_eq!(r.status, 422);
    assert!(
        r.text()
            .contains("too many recipients: 16000, at most 50 in one request (max-recipients)"),
        "{}",
        r.text()
    );
    assert_eq!(queued_ever(&rig.db), 0);
    // 50, the default limit, are queued
    let fifty = vec!["420608337726"; 50].join(",");
    let r = http::post(
        web,
        "/send",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form(&[("csrf", &token), ("to", &fifty), ("text", "fifty")]),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(queued_ever(&rig.db), 50);
}

// ------------------------------------------------------- port 2021 lockout

/// Opens `n` connections from 127.0.0.1 and sorts them: those refused at
/// once (their answer) and those held open (silent).
fn open_many(addr: std::net::SocketAddr, n: usize) -> (Vec<std::net::TcpStream>, Vec<String>) {
    use std::io::Read;
    let mut pending: Vec<(std::net::TcpStream, Vec<u8>)> =
        (0..n).map(|_| (connect(addr), Vec::new())).collect();
    let mut refused = Vec::new();
    // A refusal comes at once; a held connection stays silent. Wait until
    // the answers have come (the held ones do not answer at all).
    let deadline = Instant::now() + WAIT;
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline && quiet_since.elapsed() < Duration::from_secs(2) {
        let mut still = Vec::new();
        for (mut s, mut got) in pending {
            s.set_nonblocking(true).unwrap();
            let mut buf = [0u8; 256];
            let done = match s.read(&mut buf) {
                Ok(0) => true,
                Ok(k) => {
                    got.extend_from_slice(&buf[..k]);
                    got.ends_with(b"\n")
                }
                Err(_) => false,
            };
            if done {
                refused.push(String::from_utf8_lossy(&got).trim_end().to_owned());
                quiet_since = Instant::now();
            } else {
                still.push((s, got));
            }
        }
        pending = still;
        std::thread::sleep(Duration::from_millis(50));
    }
    let held = pending
        .into_iter()
        .map(|(s, _)| {
            s.set_nonblocking(false).unwrap();
            s
        })
        .collect();
    (held, refused)
}

#[test]
fn one_host_cannot_hold_port_2021() {
    // The defaults: max-connections 64, max-connections-per-peer 8.
    let rig = Rig::sqlite("lockout", &[]);
    let addr = rig.serve.addr;
    let started = Instant::now();
    // The attacker, 127.0.0.1, opens as many idle connections as the
    // server takes in all.
    let (held, refused) = open_many(addr, 64);
    assert_eq!(held.len(), 8, "{refused:?}");
    assert_eq!(refused.len(), 56);
    assert!(
        refused
            .iter()
            .all(|a| a == "ERR busy: too many connections from your address (limit 8)"),
        "{refused:?}"
    );
    // It keeps reconnecting while a legitimate client, 127.0.0.2, sends.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hammer = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let mut s = connect(addr);
                let _ = read_answer(&mut s);
                n += 1;
            }
            n
        })
    };
    let mut times = Vec::new();
    for i in 0..17 {
        let t = Instant::now();
        let mut s = connect_from(loopback(2), addr);
        send(&mut s, format!("#420608337726;legit {i}\n").as_bytes());
        let answer = read_answer(&mut s);
        times.push(t.elapsed());
        assert!(answer.starts_with("OK 1 "), "request {i}: {answer}");
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let reconnects = hammer.join().unwrap();
    times.sort();
    eprintln!(
        "port 2021, one peer holding 8 idle connections and reconnecting ({reconnects} refused): \
         17 of 17 legitimate requests served, median {:?}, max {:?}",
        times[times.len() / 2],
        times[times.len() - 1]
    );
    assert!(times[times.len() - 1] < Duration::from_secs(10));
    // One log line about the attacker per minute, however often refused.
    let minutes = started.elapsed().as_secs() / 60 + 1;
    let lines = rig
        .serve
        .log()
        .lines()
        .filter(|l| l.contains("refused 127.0.0.1:"))
        .count();
    assert!(
        (1..=minutes as usize).contains(&lines),
        "{lines} lines in {minutes} minute(s):\n{}",
        rig.serve.log()
    );
    assert!(
        rig.serve
            .log()
            .contains("8 connections from 127.0.0.1 already open (max-connections-per-peer)")
    );
    drop(held);
}

#[test]
fn per_peer_and_global_connection_caps_at_their_edge() {
    let rig = Rig::sqlite(
        "caps",
        &["--max-connections", "3", "--max-connections-per-peer", "2"],
    );
    let addr = rig.serve.addr;
    // 127.0.0.1 holds its 2; the third is refused.
    let (held, refused) = open_many(addr, 3);
    assert_eq!(held.len(), 2);
    assert_eq!(
        refused,
        ["ERR busy: too many connections from your address (limit 2)"]
    );
    // 127.0.0.2 takes the last place; 127.0.0.3 finds all three taken.
    let mut other = connect_from(loopback(2), addr);
    let mut third = connect_from(loopback(3), addr);
    assert_eq!(
        read_answer(&mut third),
        "ERR busy: too many connections (limit 3)"
    );
    send(&mut other, b"#420608337726;within the caps\n");
    assert!(read_answer(&mut other).starts_with("OK 1 "));
    // One of 127.0.0.1's ends: it may open one again (once the server
    // has seen the close).
    drop(held.into_iter().next());
    assert!(wait_for(WAIT, || {
        let mut s = connect(addr);
        send(&mut s, b"#420608337726;again\n");
        read_answer(&mut s).starts_with("OK 1 ")
    }));
}

// ------------------------------------------------------- on-receive program

/// Runs `smss ARGS`; kills it (and fails) if it has not ended within `limit`.
fn output_within(args: &[&str], limit: Duration) -> std::process::Output {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // read both while it runs (a full pipe would stop it)
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let Some(status) = wait_timeout(&mut child, limit) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("smss {} did not end within {limit:?}", args[0]);
    };
    std::process::Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Whether `pid` runs (a zombie does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        })
        .unwrap_or(false)
}

#[test]
fn a_hook_that_does_not_read_a_long_text_is_killed_and_the_next_runs() {
    use smss::gsm::{DeliverRef, encode_deliver};
    use smss::sim::{Memory, PtySim, SimState};
    let dir = TempDir::new("hook-stdin");
    let db = TestDb::new(Backend::Sqlite, &dir);
    let mut state = SimState::default();
    state
        .memories
        .insert("SM".into(), Memory::with_capacity(300));
    let sim = PtySim::start_with(state).unwrap();
    // The longest text an SMS can carry: 255 parts of 152 Greek capitals
    // (one GSM septet each, two bytes of UTF-8): 77,520 bytes, more than a
    // pipe holds (64 KiB). Then a short message.
    let greek: Vec<char> = "ΔΦΓΛΩΠΨΣΘΞ".chars().collect();
    let long: String = (0..255 * 152).map(|i| greek[i % greek.len()]).collect();
    assert!(long.len() > 65_536, "{}", long.len());
    let parts = encode_deliver(
        "+420777123456",
        &long,
        smsc_time(1),
        DeliverRef {
            reference: 777,
            ref16: true,
        },
    );
    assert_eq!(parts.len(), 255);
    for pdu in &parts {
        sim.handle.deliver("SM", pdu).unwrap();
    }
    let short = encode_deliver(
        "+420777123456",
        "after the long one",
        smsc_time(2),
        DeliverRef {
            reference: 0,
            ref16: false,
        },
    );
    sim.handle.deliver("SM", &short[0]).unwrap();

    // The hook: for the long text, a background child and a sleep, never
    // reading its input; for the short one, it records that it ran.
    let ran = dir.path().join("ran");
    let child_pid = dir.path().join("child.pid");
    let hook = dir.path().join("hook.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nif [ ${{#SMSS_TEXT}} -gt 1000 ]; then\n  sleep 120 &\n  echo $! > {pid}\n  \
             head -c 100000 /dev/zero | tr '\\0' o\n  exec sleep 120\nfi\nprintf '%s' \"$SMSS_TEXT\" > {ran}\n",
            pid = child_pid.display(),
            ran = ran.display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&hook)
        .status()
        .unwrap();
    let log = dir.path().join("smss.log");
    let started = Instant::now();
    let lock_dir = dir.path().display().to_string();
    // Bounded here: before the fix, send-pending never ended.
    let out = output_within(
        &[
            "send-pending",
            "--config",
            "/dev/null",
            "--db",
            &db.url,
            "--device",
            sim.path.to_str().unwrap(),
            "--lock-dir",
            &lock_dir,
            "--on-receive",
            hook.to_str().unwrap(),
            "--on-receive-timeout",
            "3s",
            "--log-file",
            log.to_str().unwrap(),
        ],
        Duration::from_secs(90),
    );
    let took = started.elapsed();
    eprintln!(
        "send-pending with a {} byte text and a hook that does not read it: exit {:?} after {took:?}",
        long.len(),
        out.status.code()
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(took < Duration::from_secs(60), "{took:?}");
    let rows = db.store().recent_rcv(10).unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().any(|r| r.text == long));
    assert!(
        stderr(&out).contains("killed (its whole process group)"),
        "{}",
        stderr(&out)
    );
    // the next hook ran
    assert_eq!(std::fs::read_to_string(&ran).unwrap(), "after the long one");
    // the hook's background child went with it
    let pid: u32 = std::fs::read_to_string(&child_pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(5), || !alive(pid)),
        "the hook's child {pid} outlived it"
    );
    // its output went to the log, cut at 4096 bytes
    let logged = std::fs::read_to_string(&log).unwrap();
    let line = logged
        .lines()
        .find(|l| l.contains(": stdout: "))
        .unwrap_or_else(|| panic!("no output line:\n{logged}"));
    assert!(line.contains(&format!(
        "{} (95904 more bytes not logged)",
        "o".repeat(4096)
    )));
}
