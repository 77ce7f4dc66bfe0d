//! Helpers for driving the real `smss` binary: temp dirs, databases per
//! test, a running `serve` with its address, the client.

#![allow(dead_code)]

pub mod proxy;

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use smss::store::{self, StoreDiagnostics};

pub const BIN: &str = env!("CARGO_BIN_EXE_smss");

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{tag}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A directory removed when the test ends.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(unique(&format!("smss_{tag}")));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Mysql,
}

pub const MYSQL_ROOT: &str = "mysql://root@127.0.0.1:3306";

/// A database of its own for one test: a SQLite file in the temp dir, or a
/// uniquely named MariaDB database dropped at the end.
pub struct TestDb {
    pub url: String,
    mysql_name: Option<String>,
}

impl TestDb {
    pub fn new(backend: Backend, dir: &TempDir) -> TestDb {
        match backend {
            Backend::Sqlite => TestDb {
                url: format!("sqlite://{}", dir.path().join("smss.db").display()),
                mysql_name: None,
            },
            Backend::Mysql => {
                let name = unique("smss_it");
                let pool = mysql::Pool::new(MYSQL_ROOT).unwrap_or_else(|e| {
                    panic!(
                        "MariaDB must run on 127.0.0.1:3306 (root, no password) for this test: {e}"
                    )
                });
                use mysql::prelude::Queryable;
                pool.get_conn()
                    .expect("MariaDB on 127.0.0.1:3306")
                    .query_drop(format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
                    .unwrap();
                TestDb {
                    url: format!("{MYSQL_ROOT}/{name}"),
                    mysql_name: Some(name),
                }
            }
        }
    }

    /// The MySQL URL with another server address (a proxy in front).
    pub fn url_via(&self, addr: SocketAddr) -> String {
        let name = self.mysql_name.as_deref().expect("a MySQL test database");
        // prefer_socket=false: else the driver notices the server is local
        // and goes round the proxy through the Unix socket.
        format!("mysql://root@{addr}/{name}?prefer_socket=false")
    }

    /// Creates the schema with `smss init-db`, as an administrator would.
    pub fn init(&self) {
        let out = smss(&["init-db", "--config", "/dev/null", "--db", &self.url]);
        assert!(
            out.status.success(),
            "init-db failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The database as the tests see it: the `Store` and, to play another
    /// tool or check a plan, the test-only `StoreDiagnostics`.
    pub fn store(&self) -> Arc<dyn StoreDiagnostics> {
        store::open_diagnostics(&self.url, false).unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.mysql_name {
            use mysql::prelude::Queryable;
            if let Ok(mut conn) = mysql::Pool::new(MYSQL_ROOT).and_then(|p| p.get_conn()) {
                let _ = conn.query_drop(format!("DROP DATABASE IF EXISTS `{name}`"));
            }
        }
    }
}

/// The usual rig of a test: a temp dir, an SQLite database in it, a
/// simulated modem, and `serve` on them with `extra` arguments.
pub struct Rig {
    pub serve: Serve,
    pub sim: smss::sim::PtySim,
    pub db: TestDb,
    pub dir: TempDir,
}

impl Rig {
    pub fn sqlite(tag: &str, extra: &[&str]) -> Rig {
        let dir = TempDir::new(tag);
        let db = TestDb::new(Backend::Sqlite, &dir);
        let sim = smss::sim::PtySim::start().unwrap();
        let serve = Serve::start(&db.url, sim.path.to_str().unwrap(), &dir, extra);
        Rig {
            serve,
            sim,
            db,
            dir,
        }
    }
}

/// Runs `smss send-pending` (one pass) on a device, with the lock in `dir`.
pub fn send_pending(db: &str, device: &str, dir: &TempDir, extra: &[&str]) -> Output {
    let lock_dir = dir.path().display().to_string();
    let mut args = vec![
        "send-pending",
        "--config",
        "/dev/null",
        "--db",
        db,
        "--device",
        device,
        "--lock-dir",
        &lock_dir,
    ];
    args.extend_from_slice(extra);
    smss(&args)
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `smss ARGS` to completion.
pub fn smss(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Runs `smss client -a ADDR ARGS...`.
pub fn client(addr: SocketAddr, args: &[&str]) -> Output {
    let addr = addr.to_string();
    let mut all = vec!["client", "-a", &addr, "-t", "20"];
    all.extend_from_slice(args);
    smss(&all)
}

/// A running `smss serve`; killed when dropped.
pub struct Serve {
    pub child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    /// Starts `smss serve` with `--config /dev/null` (no system config), the
    /// given database and device, listening on a free port, and waits for it
    /// to say where it listens.
    pub fn start(db: &str, device: &str, dir: &TempDir, extra: &[&str]) -> Serve {
        Serve::start_on(db, device, dir, "127.0.0.1:0", extra)
    }

    /// [`Serve::start`] on another listen address.
    pub fn start_on(db: &str, device: &str, dir: &TempDir, listen: &str, extra: &[&str]) -> Serve {
        let lock_dir = dir.path().display().to_string();
        // not the default /var/lib/smss/spool.db (used with MySQL only)
        let spool = dir.path().join("spool.db").display().to_string();
        let mut args = vec![
            "serve",
            "--spool",
            &spool,
            "--config",
            "/dev/null",
            "--db",
            db,
            "--device",
            device,
            "--lock-dir",
            &lock_dir,
            "--listen",
            listen,
            "--log-level",
            "debug",
            // not the default /var/log/smss/smss.log; `extra` may name one
            "--log-file",
            "none",
        ];
        args.extend_from_slice(extra);
        let mut child = Command::new(BIN)
            .args(&args)
            // its private files (the web socket's directory) in the test's
            // directory, which goes when the test ends, even after SIGKILL
            .env("TMPDIR", dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(rest) = line.split(" listening on ").nth(1) {
                        let addr = rest.split_whitespace().next().unwrap_or("").to_owned();
                        let _ = tx.send(addr);
                    }
                    log.lock().unwrap().push(line);
                }
            });
        }
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a.parse().unwrap(),
            Err(_) => {
                let _ = child.kill();
                panic!("serve did not start:\n{}", log.lock().unwrap().join("\n"));
            }
        };
        Serve { child, addr, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Waits until the log has a line containing `needle`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.log.lock().unwrap().iter().any(|l| l.contains(needle)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// SIGTERM, then waits for the exit status.
    pub fn terminate(mut self) -> ExitStatus {
        signal(&self.child, "TERM");
        wait_timeout(&mut self.child, Duration::from_secs(30))
            .expect("serve did not stop on SIGTERM")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} failed");
}

pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// A raw TCP connection for protocol tests.
pub fn connect(addr: SocketAddr) -> std::net::TcpStream {
    let s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

pub fn read_answer(stream: &mut std::net::TcpStream) -> String {
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match std::io::Read::read(stream, &mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => answer.push(byte[0]),
            Err(e) => panic!(
                "no answer: {e} (so far {:?})",
                String::from_utf8_lossy(&answer)
            ),
        }
    }
    String::from_utf8_lossy(&answer).trim_end().to_owned()
}

pub fn send(stream: &mut std::net::TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).unwrap();
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `smss ARGS` to completion with extra environment variables.
pub fn smss_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The source tree (for `make`, `init/`, `etc/`).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `make -C <repo> TARGET DESTDIR=<dest> BIN=<the test binary>`; panics
/// with make's output when it fails. Returns make's stdout.
pub fn make(target: &str, dest: &Path) -> String {
    let out = Command::new("make")
        .arg("-C")
        .arg(repo_root())
        .arg("-s")
        .arg(target)
        .arg(format!("DESTDIR={}", dest.display()))
        .arg(format!("BIN={BIN}"))
        .stdin(Stdio::null())
        .output()
        .expect("make must be installed");
    assert!(
        out.status.success(),
        "make {target} failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// Whether a tool is on PATH; when not, says so on stderr (the test then
/// skips that check and runs the others).
pub fn have_tool(name: &str, why: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !found {
        eprintln!("NOTE: {name} is not installed: not checking {why}");
    }
    found
}

/// Waits until the file at `path` has a whole line (one that ends in a
/// newline: the logger writes a line in several pieces) containing
/// `needle`; returns it.
pub fn wait_file_line(path: &Path, needle: &str, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Some(line) = text
                .split_inclusive('\n')
                .filter_map(|l| l.strip_suffix('\n'))
                .find(|l| l.contains(needle))
        {
            return Some(line.to_owned());
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A config file's text with `key = value` set for each pair: replaces the
/// key's line, commented out (`#key = ...`) or not, or appends one.
pub fn set_config_keys(text: &str, settings: &[(&str, &str)]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for (key, value) in settings {
        let is_key = |l: &String| {
            let l = l.strip_prefix('#').unwrap_or(l);
            l.split_once('=').is_some_and(|(k, _)| k.trim() == *key)
        };
        let line = format!("{key} = {value}");
        match lines.iter().position(is_key) {
            Some(i) => lines[i] = line,
            None => lines.push(line),
        }
    }
    lines.join("\n") + "\n"
}

pub mod galera;
pub mod http;
pub mod mariadb;
pub mod webdriver;

/// An SMSC time stamp for simulated received messages: 2026-11-30
/// 03:04:`second` +01:00.
pub fn smsc_time(second: u8) -> smss::gsm::Timestamp {
    smss::gsm::Timestamp {
        year: 2026,
        month: 11,
        day: 30,
        hour: 3,
        minute: 4,
        second,
        tz_quarters: 4,
    }
}

impl Serve {
    /// The web interface's address, from serve's "web UI on http://ADDR/"
    /// line (an unspecified 0.0.0.0 becomes 127.0.0.1).
    pub fn web_addr(&self) -> SocketAddr {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let found = self.log.lock().unwrap().iter().find_map(|l| {
                let rest = l.split("web UI on http://").nth(1)?;
                rest.split('/').next()?.parse::<SocketAddr>().ok()
            });
            if let Some(mut addr) = found {
                if addr.ip().is_unspecified() {
                    addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                return addr;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("serve did not start its web interface:\n{}", self.log());
    }
}

/// `smss hash-password` for `password`.
pub fn password_hash(password: &str) -> String {
    let mut child = Command::new(BIN)
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "hash-password: {}", stderr(&out));
    stdout(&out).trim().to_owned()
}

/// A TCP connection to `to` from the local address `from` (any address of
/// 127.0.0.0/8 is ours on Linux): another peer than 127.0.0.1.
pub fn connect_from(from: IpAddr, to: SocketAddr) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(to), Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::new(from, 0).into())
        .unwrap_or_else(|e| panic!("bind {from}: {e}"));
    socket
        .connect_timeout(&to.into(), Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("connect {to} from {from}: {e}"));
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

pub fn loopback(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}
