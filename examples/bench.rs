//! `make bench`: starts the real `smss serve` (release build) against the pty
//! modem simulator and prints figures for SQLite and MariaDB. Nothing here
//! asserts a time: the machines are shared and noisy; read the numbers, and
//! run it more than once. BENCHMARKS.md holds the results and what limits
//! each figure.
//!
//! Sections (all by default; `BENCH_ONLY=ingest,latency` picks some):
//!
//! * `commit`: the database's own commit rate on this disk, single-row
//!   INSERT + COMMIT from 1 connection (and 10 and 50 for MariaDB);
//! * `ingest`: requests/s committed with 1, 10 and 50 concurrent clients,
//!   each request one TCP line answered OK; then a check that every OK'd
//!   id is in the database;
//! * `latency`: client OK → the simulator sees `AT+CMGS`, sequential
//!   requests with an idle queue;
//! * `sender`: SMS/s through the zero-delay simulator with N queued;
//! * `depth`: request → OK and the sender's time per message, empty
//!   database vs. 100,000 waiting in `msg` and 1,000,000 in `sms`;
//! * `slow`: the simulator at 3 s per SMS, a short run with a modem that
//!   refuses `AT+CMMS` and one that keeps the link open;
//! * `footprint`: binary size, startup to listening, idle RSS (the peak
//!   under the 50-client burst is printed by `ingest`);
//! * `faults`: recovery from three modem faults, serve and the simulator
//!   on their defaults (issue 21): two `+CMS ERROR: 500` with three
//!   queued (request → all sent), one lost reply to `AT+CMGS` (request →
//!   sent), an unplug and a replug 3 s later (replug → sent);
//! * `sql`: a row another tool INSERTs into `msg` → `AT+CMGS`, with
//!   `sql-poll-interval` 1 s (the default) and 0 (the 10 s poll alone);
//! * `storm`: an urgent request → its `AT+CMGS` with 1,000 normal messages
//!   queued and the simulator at `BENCH_SLOW_DELAY_MS` per SMS (issue 18).
//!
//! Environment (defaults in brackets): `BENCH_N` ingest requests [10000],
//! `BENCH_CLIENTS` [1,10,50], `BENCH_LATENCY_N` [1000], `BENCH_SEND_N`
//! [10000], `BENCH_DEPTH_MSG` [100000], `BENCH_DEPTH_SMS` [1000000],
//! `BENCH_DEPTH_SENDS` messages timed [2000], `BENCH_DEPTH_REQUESTS` [1000],
//! `BENCH_DEPTH_ROUNDS` empty/deep pairs [2],
//! `BENCH_SLOW_N` [5], `BENCH_SLOW_DELAY_MS` [3000], `BENCH_STARTS` [5],
//! `BENCH_FAULT_RUNS` runs of each fault [3], `BENCH_SQL_N` [10],
//! `BENCH_STORM_QUEUED` [1000], `BENCH_STORM_ROUNDS` [3],
//! `BENCH_COMMITS` per connection count [5000], `BENCH_DB` [sqlite,mariadb],
//! `BENCH_ONLY` [all], `BENCH_MYSQL` [mysql://root@127.0.0.1:3306],
//! `BENCH_MYSQL_PARAMS` appended to the URL serve gets (`?pool_max=4`),
//! `BENCH_WRAP` a command to run serve under (`valgrind --tool=callgrind`),
//! `BENCH_SMSS` the smss binary [target/release/smss next to this one],
//! `BENCH_FLUSH_COMPARE=1` also measures MariaDB's commit rate with
//! `innodb_flush_log_at_trx_commit=2` (a global setting: it is set back at
//! once; never for the reported figures).

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use smss::sim::{PtySim, SimState};

const PHONE: &str = "420608337726";
/// The 3-second modem used while measuring ingest: the sender is there, as
/// in production, but a real modem keeps it nearly idle.
const REAL_MODEM: Duration = Duration::from_secs(3);

fn smss_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("BENCH_SMSS") {
        return bin.into();
    }
    let exe = std::env::current_exe().expect("current exe");
    // target/release/examples/bench → target/release/smss
    exe.parent()
        .and_then(|p| p.parent())
        .expect("target dir")
        .join("smss")
}

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v}: a number, please")),
        Err(_) => default,
    }
}

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

struct Config {
    ingest_n: usize,
    clients: Vec<usize>,
    latency_n: usize,
    send_n: usize,
    depth_msg: usize,
    depth_sms: usize,
    depth_sends: usize,
    depth_requests: usize,
    depth_rounds: usize,
    slow_n: usize,
    slow_delay: Duration,
    starts: usize,
    fault_runs: usize,
    sql_n: usize,
    storm_queued: usize,
    storm_rounds: usize,
    commits: usize,
    backends: Vec<Backend>,
    sections: Vec<String>,
    mysql_root: String,
    /// Appended to the MariaDB URL serve gets (`?pool_max=4`).
    mysql_params: String,
    flush_compare: bool,
}

impl Config {
    fn from_env() -> Config {
        let backends = env_list("BENCH_DB", "sqlite,mariadb")
            .iter()
            .map(|b| match b.as_str() {
                "sqlite" => Backend::Sqlite,
                "mariadb" | "mysql" => Backend::Mariadb,
                other => panic!("BENCH_DB: unknown backend {other} (sqlite, mariadb)"),
            })
            .collect();
        Config {
            ingest_n: env_usize("BENCH_N", 10_000),
            clients: env_list("BENCH_CLIENTS", "1,10,50")
                .iter()
                .map(|c| c.parse().expect("BENCH_CLIENTS: numbers"))
                .collect(),
            latency_n: env_usize("BENCH_LATENCY_N", 1000),
            send_n: env_usize("BENCH_SEND_N", 10_000),
            depth_msg: env_usize("BENCH_DEPTH_MSG", 100_000),
            depth_sms: env_usize("BENCH_DEPTH_SMS", 1_000_000),
            depth_sends: env_usize("BENCH_DEPTH_SENDS", 2000),
            depth_requests: env_usize("BENCH_DEPTH_REQUESTS", 1000),
            depth_rounds: env_usize("BENCH_DEPTH_ROUNDS", 2).max(1),
            slow_n: env_usize("BENCH_SLOW_N", 5),
            slow_delay: Duration::from_millis(env_usize("BENCH_SLOW_DELAY_MS", 3000) as u64),
            starts: env_usize("BENCH_STARTS", 5).max(1),
            fault_runs: env_usize("BENCH_FAULT_RUNS", 3).max(1),
            sql_n: env_usize("BENCH_SQL_N", 10).max(1),
            storm_queued: env_usize("BENCH_STORM_QUEUED", 1000),
            storm_rounds: env_usize("BENCH_STORM_ROUNDS", 3).max(1),
            commits: env_usize("BENCH_COMMITS", 5000),
            backends,
            sections: env_list(
                "BENCH_ONLY",
                "commit,ingest,latency,sender,depth,slow,footprint,faults,sql,storm",
            ),
            mysql_root: std::env::var("BENCH_MYSQL")
                .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into()),
            mysql_params: std::env::var("BENCH_MYSQL_PARAMS").unwrap_or_default(),
            flush_compare: std::env::var("BENCH_FLUSH_COMPARE").is_ok_and(|v| v == "1"),
        }
    }

    fn wants(&self, section: &str) -> bool {
        self.sections.iter().any(|s| s == section)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Mariadb,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Mariadb => "mariadb",
        }
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A database of its own for one measurement, with a temp dir for the
/// SQLite file and the modem lock; dropped (MariaDB) or removed at the end.
struct Db {
    backend: Backend,
    url: String,
    dir: PathBuf,
    mysql: Option<(String, String)>,
}

impl Db {
    /// `None` when MariaDB is not reachable.
    fn create(cfg: &Config, backend: Backend, tag: &str) -> Option<Db> {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let dir = std::env::temp_dir().join(format!("smss-bench-{pid}-{n}-{tag}"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let db = match backend {
            Backend::Sqlite => Db {
                backend,
                url: format!("sqlite://{}", dir.join("bench.db").display()),
                dir,
                mysql: None,
            },
            Backend::Mariadb => {
                let name = format!("smss_bench_{pid}_{n}");
                let mut conn = match mysql::Conn::new(cfg.mysql_root.as_str()) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = std::fs::remove_dir_all(&dir);
                        println!("  mariadb: not reachable at {}: {e}", cfg.mysql_root);
                        return None;
                    }
                };
                conn.query_drop(format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
                    .expect("create database");
                Db {
                    backend,
                    url: format!("{}/{name}{}", cfg.mysql_root, cfg.mysql_params),
                    dir,
                    mysql: Some((cfg.mysql_root.clone(), name)),
                }
            }
        };
        let out = Command::new(smss_bin())
            .args(["init-db", "--config", "/dev/null", "--db", &db.url])
            .output()
            .expect("run smss init-db (cargo build --release first)");
        assert!(
            out.status.success(),
            "init-db: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(db)
    }

    fn sqlite_path(&self) -> &str {
        self.url.strip_prefix("sqlite://").expect("a SQLite URL")
    }

    fn sqlite(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(self.sqlite_path()).expect("open SQLite");
        c.busy_timeout(Duration::from_secs(30))
            .expect("busy timeout");
        c
    }

    fn mysql(&self) -> mysql::Conn {
        let opts =
            mysql::OptsBuilder::from_opts(mysql::Opts::from_url(&self.url).expect("MySQL URL"))
                .init(vec!["SET time_zone = '+00:00'"]);
        mysql::Conn::new(opts).expect("connect to MariaDB")
    }

    fn exec(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => self
                .sqlite()
                .execute_batch(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
            Backend::Mariadb => self
                .mysql()
                .query_drop(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
        }
    }

    fn ids(&self, sql: &str) -> Vec<i64> {
        match self.backend {
            Backend::Sqlite => {
                let c = self.sqlite();
                let mut stmt = c.prepare(sql).expect("prepare");
                stmt.query_map([], |r| r.get::<_, i64>(0))
                    .expect("query")
                    .collect::<Result<_, _>>()
                    .expect("rows")
            }
            Backend::Mariadb => self.mysql().query(sql).expect("query"),
        }
    }

    fn count(&self, table: &str) -> i64 {
        self.ids(&format!("SELECT COUNT(*) FROM {table}"))[0]
    }

    /// `bench_seq (n)` = 1..=count, filled by doubling (a few statements).
    fn sequence(&self, count: usize) {
        self.exec("DROP TABLE IF EXISTS bench_seq");
        self.exec("CREATE TABLE bench_seq (n BIGINT NOT NULL PRIMARY KEY)");
        self.exec("INSERT INTO bench_seq (n) VALUES (1)");
        let mut have = 1;
        while have < count {
            let add = have.min(count - have);
            self.exec(&format!(
                "INSERT INTO bench_seq (n) SELECT n + {have} FROM bench_seq WHERE n <= {add}"
            ));
            have += add;
        }
    }

    /// `count` sent rows in `sms`, ids 1..=count, one a second up to now,
    /// 50,000 numbers, every 100th failed.
    fn fill_sms(&self, count: usize) {
        if count == 0 {
            return;
        }
        self.sequence(count);
        let sql = match self.backend {
            Backend::Sqlite => format!(
                "INSERT INTO sms (id, phone, text, source, queued_at, sent_at, status, parts, \
                 part_refs, error, attempts, sent_by) \
                 SELECT n, '+420' || (600000000 + n % 50000), 'depth fill ' || n, 'sql', \
                 strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || ({count} - n + 61) || ' seconds'), \
                 CASE WHEN n % 100 = 0 THEN NULL ELSE \
                 strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || ({count} - n + 60) || ' seconds') END, \
                 CASE WHEN n % 100 = 0 THEN 'failed' ELSE 'sent' END, 1, n % 256, \
                 CASE WHEN n % 100 = 0 THEN '+CMS ERROR: 38' END, 0, 'bench' FROM bench_seq"
            ),
            Backend::Mariadb => format!(
                "INSERT INTO sms (id, phone, text, source, queued_at, sent_at, status, parts, \
                 part_refs, error, attempts, sent_by) \
                 SELECT n, CONCAT('+420', 600000000 + n % 50000), CONCAT('depth fill ', n), 'sql', \
                 UTC_TIMESTAMP(3) - INTERVAL ({count} - n + 61) SECOND, \
                 IF(n % 100 = 0, NULL, UTC_TIMESTAMP(3) - INTERVAL ({count} - n + 60) SECOND), \
                 IF(n % 100 = 0, 'failed', 'sent'), 1, n % 256, \
                 IF(n % 100 = 0, '+CMS ERROR: 38', NULL), 0, 'bench' FROM bench_seq"
            ),
        };
        self.exec(&sql);
        self.exec("DROP TABLE bench_seq");
    }

    /// `count` due rows in `msg` after id `after`, created one a second.
    fn fill_msg(&self, count: usize, after: usize) {
        if count == 0 {
            return;
        }
        self.sequence(count);
        let sql = match self.backend {
            Backend::Sqlite => format!(
                "INSERT INTO msg (id, phone, text, source, created) \
                 SELECT {after} + n, '+420' || (700000000 + n % 50000), 'queued ' || n, 'sql', \
                 strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || ({count} - n) || ' seconds') \
                 FROM bench_seq"
            ),
            Backend::Mariadb => format!(
                "INSERT INTO msg (id, phone, text, source, created) \
                 SELECT {after} + n, CONCAT('+420', 700000000 + n % 50000), CONCAT('queued ', n), \
                 'sql', UTC_TIMESTAMP(3) - INTERVAL ({count} - n) SECOND FROM bench_seq"
            ),
        };
        self.exec(&sql);
        self.exec("DROP TABLE bench_seq");
    }

    /// After a bulk fill: the database at rest, as one that grew over months
    /// would be. InnoDB writes the tables' dirty pages now (else it does so
    /// in the background during the measurement); SQLite moves its WAL into
    /// the database file (else the first commit of serve does).
    fn settle(&self) {
        match self.backend {
            Backend::Sqlite => self.exec("PRAGMA wal_checkpoint(TRUNCATE)"),
            Backend::Mariadb => {
                let mut c = self.mysql();
                c.query_drop("FLUSH TABLES msg, sms FOR EXPORT")
                    .expect("flush tables");
                c.query_drop("UNLOCK TABLES").expect("unlock tables");
            }
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((root, name)) = &self.mysql
            && let Ok(mut c) = mysql::Conn::new(root.as_str())
        {
            let _ = c.query_drop(format!("DROP DATABASE IF EXISTS `{name}`"));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running `smss serve`; killed when dropped.
struct Serve {
    child: Child,
    addr: SocketAddr,
    /// From spawn to the "listening on" line.
    startup: Duration,
    errors: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    fn start(db: &Db, device: &Path) -> Serve {
        Serve::start_with(db, device, &[])
    }

    /// [`Serve::start`] with more settings (`--key value` pairs).
    fn start_with(db: &Db, device: &Path, extra: &[&str]) -> Serve {
        let t0 = Instant::now();
        // BENCH_WRAP="perf record -g -o /tmp/p.data" (etc.) runs serve under
        // a profiler; the RSS figures are then the wrapper's.
        let wrap = std::env::var("BENCH_WRAP").unwrap_or_default();
        let mut words = wrap.split_whitespace();
        let mut command = match words.next() {
            Some(program) => {
                let mut c = Command::new(program);
                c.args(words).arg(smss_bin());
                c
            }
            None => Command::new(smss_bin()),
        };
        let mut child = command
            .args([
                "serve",
                "--config",
                "/dev/null",
                "--db",
                &db.url,
                "--device",
                device.to_str().expect("device path"),
                "--lock-dir",
                db.dir.to_str().expect("dir"),
                "--listen",
                "127.0.0.1:0",
                "--log-file",
                "none",
                "--log-level",
                "info",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start smss serve (cargo build --release first)");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        let errors = Arc::new(Mutex::new(Vec::new()));
        let errs = Arc::clone(&errors);
        // Drains stderr (serve logs every line at info) so it never blocks.
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split(" listening on ").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_owned();
                    let _ = tx.send((addr, Instant::now()));
                } else if line.contains("[ERROR]") || line.contains("[WARN]") {
                    let mut e = errs.lock().unwrap_or_else(|p| p.into_inner());
                    if e.len() < 20 {
                        e.push(line);
                    }
                }
            }
        });
        let (addr, at) = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("serve did not start");
        Serve {
            child,
            addr: addr.parse().expect("address"),
            startup: at - t0,
            errors,
        }
    }

    /// (VmRSS, VmHWM) in KiB.
    fn rss(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    fn report_errors(&self) {
        self.report_errors_but("\0");
    }

    /// The warnings and errors, but those that contain `expected`.
    fn report_errors_but(&self, expected: &str) {
        for e in self.errors.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            if !e.contains(expected) {
                println!("    serve said: {e}");
            }
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sim(delay: Duration) -> PtySim {
    PtySim::start_with(SimState {
        send_delay: delay,
        ..SimState::default()
    })
    .expect("pty simulator")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

/// (p50, p99, max) in ms.
fn spread(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (
        percentile(&v, 0.5),
        percentile(&v, 0.99),
        v.last().copied().unwrap_or(f64::NAN),
    )
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// A client connection: one line out, one answer back.
struct Client {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).ok();
        stream.set_read_timeout(Some(Duration::from_secs(120))).ok();
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        Client { stream, reader }
    }

    /// Sends one request line; returns the answer (trimmed).
    fn request(&mut self, text: &str) -> String {
        self.raw(&format!("#{PHONE};{text}"))
    }

    /// Sends `line` as it is (one or more requests); returns the answer.
    fn raw(&mut self, line: &str) -> String {
        self.stream
            .write_all(format!("{line}\n").as_bytes())
            .expect("write");
        let mut answer = String::new();
        self.reader.read_line(&mut answer).expect("answer");
        answer.trim_end().to_owned()
    }
}

/// The ids of an `OK <n> <id>,<id>` answer.
fn ok_ids(answer: &str) -> Option<Vec<i64>> {
    let mut words = answer.split_whitespace();
    (words.next()? == "OK").then_some(())?;
    words.next()?;
    words
        .next()?
        .split(',')
        .map(|i| i.parse().ok())
        .collect::<Option<Vec<_>>>()
}

// ---------------------------------------------------------------- commit

/// Single-row INSERT + COMMIT, as tight as a client can: the database's own
/// commit rate on this disk, which bounds what one connection can do.
fn commit_rate(cfg: &Config, backend: Backend) {
    let Some(db) = Db::create(cfg, backend, "commit") else {
        return;
    };
    let n = cfg.commits;
    match backend {
        Backend::Sqlite => {
            let mut c = db.sqlite();
            c.pragma_update(None, "journal_mode", "WAL").expect("WAL");
            c.pragma_update(None, "synchronous", "FULL").expect("FULL");
            let t0 = Instant::now();
            for i in 0..n {
                let tx = c
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .expect("begin");
                tx.execute(
                    "INSERT INTO msg (phone, text, source) VALUES (?1, ?2, 'bench')",
                    rusqlite::params![PHONE, format!("commit probe {i}")],
                )
                .expect("insert");
                tx.commit().expect("commit");
            }
            let rate = n as f64 / t0.elapsed().as_secs_f64();
            println!("| sqlite (WAL, synchronous=FULL) | 1 | {n} | {rate:.0} |");
        }
        Backend::Mariadb => {
            for conns in [1usize, 10, 50] {
                let rate = mysql_commits(&db, conns, n);
                println!("| mariadb (flush_log_at_trx_commit=1) | {conns} | {n} | {rate:.0} |");
            }
            if cfg.flush_compare {
                let mut root = mysql::Conn::new(cfg.mysql_root.as_str()).expect("root");
                let old: i64 = root
                    .query_first("SELECT @@GLOBAL.innodb_flush_log_at_trx_commit")
                    .expect("read")
                    .unwrap_or(1);
                root.query_drop("SET GLOBAL innodb_flush_log_at_trx_commit = 2")
                    .expect("set");
                let rate = mysql_commits(&db, 50, n);
                root.query_drop(format!("SET GLOBAL innodb_flush_log_at_trx_commit = {old}"))
                    .expect("restore");
                println!(
                    "| mariadb (flush_log_at_trx_commit=2, comparison only) | 50 | {n} | {rate:.0} |"
                );
            }
        }
    }
}

/// `total` single-row transactions from `conns` connections at once.
fn mysql_commits(db: &Db, conns: usize, total: usize) -> f64 {
    let barrier = Arc::new(Barrier::new(conns + 1));
    let threads: Vec<_> = (0..conns)
        .map(|c| {
            let mut conn = db.mysql();
            let barrier = Arc::clone(&barrier);
            let share = total / conns + usize::from(c < total % conns);
            thread::spawn(move || {
                barrier.wait();
                for i in 0..share {
                    let mut tx = conn
                        .start_transaction(mysql::TxOpts::default())
                        .expect("begin");
                    tx.exec_drop(
                        "INSERT INTO msg (phone, text, source) VALUES (?, ?, 'bench')",
                        (PHONE, format!("commit probe {c}/{i}")),
                    )
                    .expect("insert");
                    tx.commit().expect("commit");
                }
            })
        })
        .collect();
    barrier.wait();
    let t0 = Instant::now();
    for t in threads {
        t.join().expect("client thread");
    }
    total as f64 / t0.elapsed().as_secs_f64()
}

// ---------------------------------------------------------------- ingest

/// `n` requests from `clients` connections at once; returns the figures
/// and the peak RSS of serve.
fn ingest(cfg: &Config, backend: Backend, clients: usize) {
    let Some(db) = Db::create(cfg, backend, "ingest") else {
        return;
    };
    let sim = sim(REAL_MODEM);
    let serve = Serve::start(&db, &sim.path);
    let n = cfg.ingest_n;
    let barrier = Arc::new(Barrier::new(clients + 1));
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let mut client = Client::connect(serve.addr);
            let barrier = Arc::clone(&barrier);
            let share = n / clients + usize::from(c < n % clients);
            thread::spawn(move || {
                let mut lat = Vec::with_capacity(share);
                let mut ids = Vec::with_capacity(share);
                let mut errors = Vec::new();
                barrier.wait();
                for i in 0..share {
                    let t0 = Instant::now();
                    let answer = client.request(&format!("ingest {c}/{i}"));
                    lat.push(ms(t0.elapsed()));
                    match ok_ids(&answer) {
                        Some(got) => ids.extend(got),
                        None => errors.push(answer),
                    }
                }
                (lat, ids, errors)
            })
        })
        .collect();
    barrier.wait();
    let t0 = Instant::now();
    let mut lat = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    let mut errors = Vec::new();
    for t in threads {
        let (l, i, e) = t.join().expect("client thread");
        lat.extend(l);
        ids.extend(i);
        errors.extend(e);
    }
    let elapsed = t0.elapsed();
    let (_, hwm) = serve.rss();
    thread::sleep(Duration::from_secs(1));
    let (after, _) = serve.rss();
    let rate = ids.len() as f64 / elapsed.as_secs_f64();
    let (p50, p99, max) = spread(lat);

    // Every OK'd id must be in the database (queued or already sent).
    let stored: HashSet<i64> = db
        .ids("SELECT id FROM msg UNION ALL SELECT id FROM sms")
        .into_iter()
        .collect();
    let distinct: HashSet<i64> = ids.iter().copied().collect();
    let missing = distinct.iter().filter(|id| !stored.contains(id)).count();
    let check = if missing == 0 && distinct.len() == ids.len() && errors.is_empty() {
        format!("all {} in the database", ids.len())
    } else {
        format!(
            "MISSING {missing}, duplicate ids {}, ERR answers {}",
            ids.len() - distinct.len(),
            errors.len()
        )
    };
    println!(
        "| {} | {clients} | {n} | {rate:.0} | {p50:.2} | {p99:.2} | {max:.1} | {} | {} | {check} |",
        backend.name(),
        mib(hwm),
        mib(after)
    );
    if let Some(e) = errors.first() {
        println!("    first error answer: {e}");
    }
    serve.report_errors();
}

// ---------------------------------------------------------------- latency

fn latency(cfg: &Config, backend: Backend) {
    let Some(db) = Db::create(cfg, backend, "latency") else {
        return;
    };
    let sim = sim(Duration::ZERO);
    let serve = Serve::start(&db, &sim.path);
    let mut client = Client::connect(serve.addr);
    let n = cfg.latency_n;
    let mut to_ok = Vec::with_capacity(n);
    let mut ok_to_cmgs = Vec::with_capacity(n);
    let mut to_cmgs = Vec::with_capacity(n);
    for i in 0..n {
        let before = sim.handle.state().sent.len();
        let t0 = Instant::now();
        let answer = client.request(&format!("latency probe {i}"));
        let t_ok = Instant::now();
        assert!(answer.starts_with("OK"), "{answer}");
        sim.handle
            .wait_until(Duration::from_secs(30), |s| s.sent.len() > before);
        let t_cmgs = sim
            .handle
            .state()
            .commands
            .iter()
            .rev()
            .find(|(_, c)| c.starts_with("AT+CMGS"))
            .map(|(t, _)| *t)
            .expect("AT+CMGS seen");
        to_ok.push(ms(t_ok - t0));
        // The server wakes the modem thread just before it writes OK, so the
        // modem can be first: that counts as 0.
        ok_to_cmgs.push(ms(t_cmgs.saturating_duration_since(t_ok)));
        to_cmgs.push(ms(t_cmgs.saturating_duration_since(t0)));
    }
    for (what, v) in [
        ("request → OK", to_ok),
        ("OK → modem sees AT+CMGS", ok_to_cmgs),
        ("request → AT+CMGS", to_cmgs),
    ] {
        let (p50, p99, max) = spread(v);
        println!(
            "| {} | {what} | {n} | {p50:.2} | {p99:.2} | {max:.2} |",
            backend.name()
        );
    }
    serve.report_errors();
}

// ---------------------------------------------------------------- sender

/// Polls (cheaper than a condvar wake per message) until the simulator has
/// `n` messages; returns when it saw the n-th, or `None` on timeout.
fn wait_sent(sim: &PtySim, n: usize, timeout: Duration) -> Option<Instant> {
    let deadline = Instant::now() + timeout;
    loop {
        if sim.handle.state().sent.len() >= n {
            return Some(Instant::now());
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(2));
    }
}

fn first_cmgs(sim: &PtySim) -> Option<Instant> {
    sim.handle
        .state()
        .commands
        .iter()
        .find(|(_, c)| c.starts_with("AT+CMGS"))
        .map(|(t, _)| *t)
}

fn count_commands(sim: &PtySim, prefix: &str) -> usize {
    sim.handle
        .state()
        .commands
        .iter()
        .filter(|(_, c)| c.starts_with(prefix))
        .count()
}

/// Waits until `msg` is empty (every finish committed); false on timeout.
fn wait_drained(db: &Db, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while db.count("msg") > 0 {
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
    true
}

fn sender(cfg: &Config, backend: Backend) {
    let Some(db) = Db::create(cfg, backend, "sender") else {
        return;
    };
    let n = cfg.send_n;
    db.fill_msg(n, 0);
    let sim = sim(Duration::ZERO);
    let serve = Serve::start(&db, &sim.path);
    let timeout = Duration::from_secs(60 + n as u64 / 20);
    let Some(t_end) = wait_sent(&sim, n, timeout) else {
        println!(
            "| {} | {n} | timed out: {} sent |",
            backend.name(),
            sim.handle.state().sent.len()
        );
        serve.report_errors();
        return;
    };
    let t_first = first_cmgs(&sim).expect("AT+CMGS seen");
    let secs = (t_end - t_first).as_secs_f64();
    let drained = wait_drained(&db, Duration::from_secs(60));
    let recorded = db.count("sms");
    println!(
        "| {} | {n} | {:.0} | {:.2} | {} | {} |",
        backend.name(),
        n as f64 / secs,
        secs * 1000.0 / n as f64,
        count_commands(&sim, "AT+CMMS"),
        if drained && recorded == n as i64 {
            format!("all {n} in sms, msg empty")
        } else {
            format!("{recorded} in sms, {} still in msg", db.count("msg"))
        }
    );
    serve.report_errors();
}

// ---------------------------------------------------------------- depth

struct DepthFigures {
    fill: Duration,
    per_message_ms: f64,
    ok: (f64, f64, f64),
    rss_kib: u64,
}

/// The sender's time per message over `depth_sends` messages, then
/// request → OK over `depth_requests` sequential requests (the simulator
/// slowed to 3 s per SMS first, so that the sender is as quiet as with an
/// empty queue and only the depth differs).
fn depth(cfg: &Config, backend: Backend, deep: bool) -> Option<DepthFigures> {
    let db = Db::create(cfg, backend, if deep { "deep" } else { "empty" })?;
    let k = cfg.depth_sends;
    let t0 = Instant::now();
    if deep {
        db.fill_sms(cfg.depth_sms);
        db.fill_msg(cfg.depth_msg.max(k), cfg.depth_sms);
    } else {
        db.fill_msg(k, 0);
    }
    db.settle();
    let fill = t0.elapsed();
    let sim = sim(Duration::ZERO);
    let serve = Serve::start(&db, &sim.path);
    let t_end = wait_sent(&sim, k, Duration::from_secs(60 + k as u64 / 10))?;
    let t_first = first_cmgs(&sim)?;
    let per_message_ms = ms(t_end - t_first) / k as f64;
    sim.handle.state().send_delay = REAL_MODEM;
    let mut client = Client::connect(serve.addr);
    let mut lat = Vec::with_capacity(cfg.depth_requests);
    for i in 0..cfg.depth_requests {
        let t0 = Instant::now();
        let answer = client.request(&format!("depth probe {i}"));
        lat.push(ms(t0.elapsed()));
        assert!(answer.starts_with("OK"), "{answer}");
    }
    let (rss, _) = serve.rss();
    serve.report_errors();
    drop(serve);
    sim.handle.state().send_delay = Duration::ZERO;
    Some(DepthFigures {
        fill,
        per_message_ms,
        ok: spread(lat),
        rss_kib: rss,
    })
}

fn depth_section(cfg: &Config, backend: Backend) {
    // Alternating rounds, so that a slow minute of the shared machine does
    // not land on one side only.
    let mut empty = Vec::new();
    let mut deep = Vec::new();
    for _ in 0..cfg.depth_rounds {
        empty.extend(depth(cfg, backend, false));
        deep.extend(depth(cfg, backend, true));
    }
    if empty.is_empty() || deep.is_empty() {
        println!("| {} | (not measured) | | |", backend.name());
        return;
    }
    let row = |what: &str, f: &dyn Fn(&DepthFigures) -> String| {
        let cell = |v: &[DepthFigures]| v.iter().map(f).collect::<Vec<_>>().join(" / ");
        println!(
            "| {} | {what} | {} | {} |",
            backend.name(),
            cell(&empty),
            cell(&deep)
        );
    };
    row("request → OK p50, ms", &|d| format!("{:.2}", d.ok.0));
    row("request → OK p99, ms", &|d| format!("{:.2}", d.ok.1));
    row("sender, ms per message", &|d| {
        format!("{:.2}", d.per_message_ms)
    });
    row("serve RSS afterwards", &|d| mib(d.rss_kib));
    row("filling the tables, s", &|d| {
        format!("{:.1}", d.fill.as_secs_f64())
    });
}

// ---------------------------------------------------------------- slow

/// A few messages through a modem taking `slow_delay` per SMS: one that
/// refuses `AT+CMMS` (every message sets up the link) and one that keeps
/// the link open while more messages follow.
fn slow(cfg: &Config, backend: Backend) {
    for refuse in [true, false] {
        let Some(db) = Db::create(cfg, backend, "slow") else {
            return;
        };
        let n = cfg.slow_n;
        db.fill_msg(n, 0);
        let sim = PtySim::start_with(SimState {
            send_delay: cfg.slow_delay,
            refuse_cmms: refuse,
            ..SimState::default()
        })
        .expect("pty simulator");
        let serve = Serve::start(&db, &sim.path);
        let timeout = cfg.slow_delay * (n as u32 + 2) + Duration::from_secs(30);
        let Some(t_end) = wait_sent(&sim, n, timeout) else {
            println!("| {} | timed out |", backend.name());
            return;
        };
        let t_first = first_cmgs(&sim).expect("AT+CMGS seen");
        // Each message's time: from one AT+CMGS to the next (the last one
        // to when the simulator had it).
        let cmgs: Vec<Instant> = sim
            .handle
            .state()
            .commands
            .iter()
            .filter(|(_, c)| c.starts_with("AT+CMGS"))
            .map(|(t, _)| *t)
            .chain(std::iter::once(t_end))
            .collect();
        let each: Vec<String> = cmgs
            .windows(2)
            .map(|w| format!("{:.2}", (w[1] - w[0]).as_secs_f64()))
            .collect();
        let total = (t_end - t_first).as_secs_f64();
        println!(
            "| {} | {} | {n} | {total:.2} s | {:.2} | {} |",
            backend.name(),
            if refuse {
                "refuses AT+CMMS"
            } else {
                "accepts AT+CMMS=2"
            },
            n as f64 / total,
            each.join(" / ")
        );
        serve.report_errors();
        drop(serve);
        sim.handle.state().send_delay = Duration::ZERO;
    }
}

// ---------------------------------------------------------------- sql path

/// Waits until the modem thread has initialised the simulator (its last
/// init command, `AT+CNMI`, seen).
fn wait_modem_ready(sim: &PtySim) {
    sim.handle.wait_until(Duration::from_secs(60), |s| {
        s.commands.iter().any(|(_, c)| c.starts_with("AT+CNMI"))
    });
    // the first pass (claim, read the memories) runs after init
    thread::sleep(Duration::from_millis(500));
}

/// A row another tool INSERTs into `msg` → the simulator sees its
/// `AT+CMGS`, with `sql-poll-interval` on its default (1 s) and off (the
/// 10 s `poll-interval` alone, as before issue 18).
fn sql_path(cfg: &Config, backend: Backend) {
    for (label, extra) in [
        ("sql-poll-interval 1s", &[][..]),
        (
            "sql-poll-interval 0 (poll-interval 10s)",
            &["--sql-poll-interval", "0"][..],
        ),
    ] {
        let Some(db) = Db::create(cfg, backend, "sqlpath") else {
            return;
        };
        let sim = sim(Duration::ZERO);
        let serve = Serve::start_with(&db, &sim.path, extra);
        wait_modem_ready(&sim);
        let n = cfg.sql_n;
        let mut took = Vec::with_capacity(n);
        for i in 0..n {
            let before = sim.handle.state().sent.len();
            // a different moment of the poll cycle each time
            thread::sleep(Duration::from_millis(137 * i as u64 % 1000));
            let t0 = Instant::now();
            db.exec(&format!(
                "INSERT INTO msg (phone, text) VALUES ('{PHONE}', 'sql row {i}')"
            ));
            if !sim
                .handle
                .wait_until(Duration::from_secs(60), |s| s.sent.len() > before)
            {
                println!("| {} | {label} | timed out |", backend.name());
                return;
            }
            let t_cmgs = sim
                .handle
                .state()
                .commands
                .iter()
                .rev()
                .find(|(_, c)| c.starts_with("AT+CMGS"))
                .map(|(t, _)| *t)
                .expect("AT+CMGS seen");
            took.push(ms(t_cmgs.saturating_duration_since(t0)));
        }
        let (p50, _, max) = spread(took);
        println!(
            "| {} | {label} | {n} | {:.2} | {:.2} |",
            backend.name(),
            p50 / 1000.0,
            max / 1000.0
        );
        serve.report_errors();
    }
}

// ---------------------------------------------------------------- storm

/// 1,000 normal messages queued, a modem at `slow_delay` per SMS: an
/// urgent request (`#!`) → its `AT+CMGS`, at several moments of the send
/// on the air. The goal: at most one send time.
fn storm(cfg: &Config, backend: Backend) {
    let Some(db) = Db::create(cfg, backend, "storm") else {
        return;
    };
    db.fill_msg(cfg.storm_queued, 0);
    let sim = sim(cfg.slow_delay);
    let serve = Serve::start(&db, &sim.path);
    if !sim.handle.wait_until(Duration::from_secs(60), |s| {
        s.commands.iter().any(|(_, c)| c.starts_with("AT+CMGS"))
    }) {
        println!("| {} | no send began |", backend.name());
        return;
    }
    let mut client = Client::connect(serve.addr);
    let mut took = Vec::new();
    for round in 0..cfg.storm_rounds {
        // somewhere into the message on the air
        thread::sleep(cfg.slow_delay * (round as u32 % 3 + 1) / 4);
        let text = format!("storm urgent {round}");
        let t0 = Instant::now();
        let answer = client.raw(&format!("#!{PHONE};{text}"));
        assert!(answer.starts_with("OK"), "{answer}");
        let deadline = cfg.slow_delay * 12 + Duration::from_secs(30);
        if !sim
            .handle
            .wait_until(deadline, |s| s.sent.iter().any(|m| m.text == text))
        {
            println!("| {} | timed out |", backend.name());
            return;
        }
        let state = sim.handle.state();
        let at = state
            .sent
            .iter()
            .position(|m| m.text == text)
            .expect("sent");
        let t_cmgs = state
            .commands
            .iter()
            .filter(|(_, c)| c.starts_with("AT+CMGS"))
            .nth(at)
            .map(|(t, _)| *t)
            .expect("its AT+CMGS");
        took.push(t_cmgs.saturating_duration_since(t0).as_secs_f64());
    }
    let each: Vec<String> = took.iter().map(|t| format!("{t:.2}")).collect();
    println!(
        "| {} | {} | {:.1} s | {} | {:.2} |",
        backend.name(),
        cfg.storm_queued,
        cfg.slow_delay.as_secs_f64(),
        each.join(" / "),
        took.iter().cloned().fold(0.0, f64::max)
    );
    serve.report_errors();
    drop(serve);
    sim.handle.state().send_delay = Duration::ZERO;
}

// ---------------------------------------------------------------- footprint

fn footprint(cfg: &Config, backend: Backend) {
    let Some(db) = Db::create(cfg, backend, "footprint") else {
        return;
    };
    let sim = sim(Duration::ZERO);
    let mut startups = Vec::new();
    let mut idle = 0;
    for i in 0..cfg.starts {
        let serve = Serve::start(&db, &sim.path);
        startups.push(ms(serve.startup));
        if i == 0 {
            // Modem init and the first receive pass done: the steady state.
            thread::sleep(Duration::from_secs(3));
            idle = serve.rss().0;
            serve.report_errors();
        }
    }
    let (min, max) = startups
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let (median, _, _) = spread(startups.clone());
    println!(
        "| {} | {} | {median:.1} ms (min {min:.1}, max {max:.1}, {} starts) |",
        backend.name(),
        mib(idle),
        startups.len()
    );
}

// ---------------------------------------------------------------- faults

/// One line of requests to serve; the answer.
fn request_line(addr: SocketAddr, line: &str) -> String {
    let mut client = Client::connect(addr);
    client.raw(line)
}

/// Two `+CMS ERROR: 500` (the first two sends), three messages in one
/// line: request → the third of them sent.
fn fault_cms(cfg: &Config, backend: Backend) -> Option<Duration> {
    let db = Db::create(cfg, backend, "cms500")?;
    let sim = PtySim::start_with(SimState {
        fail_sends: vec![500, 500],
        ..SimState::default()
    })
    .expect("pty simulator");
    let serve = Serve::start(&db, &sim.path);
    let t = Instant::now();
    let answer = request_line(
        serve.addr,
        "#420777000001;one#420777000002;two#420777000003;three",
    );
    assert!(answer.starts_with("OK 3"), "{answer}");
    let done = wait_sent(&sim, 3, Duration::from_secs(120));
    serve.report_errors_but("+CMS ERROR: 500");
    done.map(|at| at - t)
}

/// The first `AT+CMGS` never answered: request → sent.
fn fault_lost_reply(cfg: &Config, backend: Backend) -> Option<Duration> {
    let db = Db::create(cfg, backend, "lostreply")?;
    let sim = PtySim::start_with(SimState {
        hang_at_part: Some(0),
        ..SimState::default()
    })
    .expect("pty simulator");
    let serve = Serve::start(&db, &sim.path);
    let t = Instant::now();
    let answer = request_line(serve.addr, "#420777000001;after a lost reply");
    assert!(answer.starts_with("OK 1"), "{answer}");
    let done = wait_sent(&sim, 1, Duration::from_secs(180));
    done.map(|at| at - t)
}

/// The modem unplugged (its device gone), a message queued meanwhile, the
/// modem plugged back 3 s later as a new device: replug → sent.
fn fault_unplug(cfg: &Config, backend: Backend) -> Option<Duration> {
    let db = Db::create(cfg, backend, "unplug")?;
    let link = db.dir.join("ttyMODEM");
    let sim1 = sim(Duration::ZERO);
    std::os::unix::fs::symlink(&sim1.path, &link).expect("symlink");
    let serve = Serve::start(&db, &link);
    let answer = request_line(serve.addr, "#420777000001;before");
    assert!(answer.starts_with("OK 1"), "{answer}");
    wait_sent(&sim1, 1, Duration::from_secs(60))?;
    // on record before the unplug
    let deadline = Instant::now() + Duration::from_secs(60);
    while db.count("msg") > 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    drop(sim1);
    let _ = std::fs::remove_file(&link);
    thread::sleep(Duration::from_millis(200));
    let answer = request_line(serve.addr, "#420777000001;while away");
    assert!(answer.starts_with("OK 1"), "{answer}");
    thread::sleep(Duration::from_millis(2800));
    let sim2 = sim(Duration::ZERO);
    std::os::unix::fs::symlink(&sim2.path, &link).expect("symlink");
    let replugged = Instant::now();
    wait_sent(&sim2, 1, Duration::from_secs(120)).map(|at| at - replugged)
}

fn faults(cfg: &Config, backend: Backend) {
    type Fault = fn(&Config, Backend) -> Option<Duration>;
    let cases: [(&str, &str, Fault); 3] = [
        (
            "2 × `+CMS ERROR: 500`, 3 queued",
            "request → all 3 sent",
            fault_cms,
        ),
        (
            "one reply lost (a hung `AT+CMGS`)",
            "request → sent",
            fault_lost_reply,
        ),
        ("unplug, replug after 3 s", "replug → sent", fault_unplug),
    ];
    for (fault, interval, run) in cases {
        let times: Vec<String> = (0..cfg.fault_runs)
            .map(|_| match run(cfg, backend) {
                Some(d) => format!("{:.2} s", d.as_secs_f64()),
                None => "timed out".into(),
            })
            .collect();
        println!(
            "| {} | {fault} | {interval} | {} |",
            backend.name(),
            times.join(" / ")
        );
    }
}

// ---------------------------------------------------------------- main

fn first_line_with(path: &str, prefix: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        .unwrap_or_else(|| "?".into())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// What the figures were measured on.
fn machine(cfg: &Config) {
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "machine: {cores} cores, {}, {} RAM, Linux {}",
        first_line_with("/proc/cpuinfo", "model name"),
        first_line_with("/proc/meminfo", "MemTotal"),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
    );
    println!("SQLite {} (bundled)", rusqlite::version());
    if cfg.backends.contains(&Backend::Mariadb) {
        let info: Option<(String, String, String)> = mysql::Conn::new(cfg.mysql_root.as_str())
            .ok()
            .and_then(|mut c| {
                c.query_first(
                    "SELECT VERSION(), @@innodb_flush_log_at_trx_commit, @@innodb_flush_method",
                )
                .ok()
                .flatten()
            });
        match info {
            Some((v, flush, method)) => println!(
                "MariaDB {v}, innodb_flush_log_at_trx_commit={flush}, innodb_flush_method={method}"
            ),
            None => println!("MariaDB: not reachable at {}", cfg.mysql_root),
        }
    }
    println!("load average at start: {}", loadavg());
}

fn main() {
    let cfg = Config::from_env();
    let bin = smss_bin();
    let size = std::fs::metadata(&bin).map(|m| m.len()).unwrap_or(0);
    println!("# smss bench — {}", bin.display());
    println!(
        "backends: {}; sections: {}",
        cfg.backends
            .iter()
            .map(|b| b.name())
            .collect::<Vec<_>>()
            .join(", "),
        cfg.sections.join(", ")
    );
    machine(&cfg);
    let t_all = Instant::now();

    if cfg.wants("commit") {
        println!("\n## 0. Commit rate of the database on this disk (single-row INSERT + COMMIT)\n");
        println!("| database | connections | commits | commits/s |");
        println!("|---|---:|---:|---:|");
        for &b in &cfg.backends {
            commit_rate(&cfg, b);
        }
    }
    if cfg.wants("ingest") {
        println!(
            "\n## 1. Ingest: one request per line, answered after the commit \
             (modem: simulator at {} s/SMS)\n",
            REAL_MODEM.as_secs()
        );
        println!(
            "| backend | clients | requests | req/s | p50 ms | p99 ms | max ms | serve peak RSS | RSS 1 s after | OK'd ids |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        for &b in &cfg.backends {
            for &c in &cfg.clients {
                ingest(&cfg, b, c);
            }
        }
    }
    if cfg.wants("latency") {
        println!(
            "\n## 2. Latency to the modem: sequential requests, idle queue, zero-delay simulator\n"
        );
        println!("| backend | interval | requests | p50 ms | p99 ms | max ms |");
        println!("|---|---|---:|---:|---:|---:|");
        for &b in &cfg.backends {
            latency(&cfg, b);
        }
    }
    if cfg.wants("sender") {
        println!("\n## 3. Sender throughput: rows queued before start, zero-delay simulator\n");
        println!("| backend | messages | SMS/s | ms per SMS | AT+CMMS sent | record |");
        println!("|---|---:|---:|---:|---:|---|");
        for &b in &cfg.backends {
            sender(&cfg, b);
        }
    }
    if cfg.wants("depth") {
        println!(
            "\n## 4. Depth: empty database vs. {} waiting in msg and {} in sms \
             ({} sends timed, zero-delay simulator; then {} requests, simulator at 3 s/SMS; \
             {} rounds each, alternating)\n",
            cfg.depth_msg, cfg.depth_sms, cfg.depth_sends, cfg.depth_requests, cfg.depth_rounds
        );
        println!("| backend | figure | empty | deep |");
        println!("|---|---|---:|---:|");
        for &b in &cfg.backends {
            depth_section(&cfg, b);
        }
    }
    if cfg.wants("slow") {
        println!(
            "\n## 5. A realistic modem: {} ms per SMS ({} messages queued; the radio link \
             kept open makes a message a third of that)\n",
            cfg.slow_delay.as_millis(),
            cfg.slow_n
        );
        println!("| backend | modem | messages | total | SMS/s | seconds per message |");
        println!("|---|---|---:|---:|---:|---|");
        // The database does not matter at this speed: the first backend only.
        if let Some(&b) = cfg.backends.first() {
            slow(&cfg, b);
        }
    }
    if cfg.wants("footprint") {
        println!(
            "\n## 6. Footprint: binary {} ({} bytes); peak RSS under the 50-client burst: \
             section 1\n",
            mib(size / 1024),
            size
        );
        println!("| backend | idle RSS | startup to listening |");
        println!("|---|---:|---:|");
        for &b in &cfg.backends {
            footprint(&cfg, b);
        }
    }
    if cfg.wants("faults") {
        println!(
            "\n## 7. Modem faults: serve and the simulator on their defaults \
             ({} runs each)\n",
            cfg.fault_runs
        );
        println!("| backend | fault | interval | seconds (each run) |");
        println!("|---|---|---|---|");
        // The database does not matter at these times: the first backend only.
        if let Some(&b) = cfg.backends.first() {
            faults(&cfg, b);
        }
    }
    if cfg.wants("sql") {
        println!(
            "\n## 8. Rows inserted by plain SQL: INSERT INTO msg → the modem sees AT+CMGS \
             ({} rows one at a time, idle queue, zero-delay simulator)\n",
            cfg.sql_n
        );
        println!("| backend | serve | rows | p50 s | max s |");
        println!("|---|---|---:|---:|---:|");
        for &b in &cfg.backends {
            sql_path(&cfg, b);
        }
    }
    if cfg.wants("storm") {
        println!(
            "\n## 9. Storm: an urgent request (#!) → its AT+CMGS with {} normal messages \
             queued, simulator at {} ms per SMS ({} rounds at different moments of the send \
             on the air; goal: at most one send time)\n",
            cfg.storm_queued,
            cfg.slow_delay.as_millis(),
            cfg.storm_rounds
        );
        println!("| backend | queued | per SMS | request → AT+CMGS, s (each) | max s |");
        println!("|---|---:|---:|---|---:|");
        for &b in &cfg.backends {
            storm(&cfg, b);
        }
    }
    println!(
        "\n(bench took {:.0} s; load average at the end: {})",
        t_all.elapsed().as_secs_f64(),
        loadavg()
    );
}
