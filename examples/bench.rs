//! `make bench`: starts the real `smss serve` (release build) against the pty
//! modem simulator and prints figures. Nothing here asserts: the machines
//! are shared and noisy; read the numbers.
//!
//! Measured now: latency from a request to the modem seeing `AT+CMGS`, on
//! SQLite and on MariaDB (127.0.0.1:3306, skipped with a note if absent).
//! Environment: `BENCH_N` (requests, default 1000).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use smss::sim::PtySim;

fn smss_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/release/examples/bench → target/release/smss
    exe.parent()
        .and_then(|p| p.parent())
        .expect("target dir")
        .join("smss")
}

struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_serve(db: &str, device: &str, lock_dir: &str) -> Serve {
    let mut child = Command::new(smss_bin())
        .args([
            "serve",
            "--config",
            "/dev/null",
            "--db",
            db,
            "--device",
            device,
            "--lock-dir",
            lock_dir,
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "info",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start smss serve (run `cargo build --release` first)");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split(" listening on ").nth(1) {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_owned());
            } else if line.contains("ERROR") {
                eprintln!("serve: {line}");
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("serve did not start");
    Serve {
        child,
        addr: addr.parse().expect("address"),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn summary(name: &str, mut v: Vec<f64>) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    println!(
        "  {name:<34} p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms",
        percentile(&v, 0.5),
        percentile(&v, 0.99),
        v.last().copied().unwrap_or(f64::NAN)
    );
}

fn latency(label: &str, db: &str, n: usize) {
    let dir = std::env::temp_dir().join(format!("smss-bench-{}-{label}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sim = PtySim::start().expect("pty simulator");
    let serve = start_serve(
        db,
        sim.path.to_str().expect("path"),
        dir.to_str().expect("dir"),
    );
    let mut stream = TcpStream::connect(serve.addr).expect("connect");
    stream.set_nodelay(true).ok();
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));

    let mut to_ok = Vec::with_capacity(n);
    let mut to_cmgs = Vec::with_capacity(n);
    let mut ok_to_cmgs = Vec::with_capacity(n);
    for i in 0..n {
        let before = sim.handle.state().sent.len();
        let t0 = Instant::now();
        stream
            .write_all(format!("#420608337726;latency probe {i}\n").as_bytes())
            .expect("write");
        let mut answer = String::new();
        reader.read_line(&mut answer).expect("answer");
        let t_ok = Instant::now();
        assert!(answer.starts_with("OK"), "{answer}");
        sim.handle
            .wait_until(Duration::from_secs(30), |s| s.sent.len() > before);
        let t_cmgs = {
            let state = sim.handle.state();
            state
                .commands
                .iter()
                .rev()
                .find(|(_, c)| c.starts_with("AT+CMGS"))
                .map(|(t, _)| *t)
                .expect("AT+CMGS seen")
        };
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        to_ok.push(ms(t_ok - t0));
        to_cmgs.push(ms(t_cmgs.saturating_duration_since(t0)));
        // The server wakes the modem thread just before it writes OK, so the
        // modem can be first: count that as 0.
        ok_to_cmgs.push(ms(t_cmgs.saturating_duration_since(t_ok)));
    }
    println!("{label}: {n} sequential requests, idle queue");
    summary("request → OK (committed)", to_ok);
    summary("OK → modem sees AT+CMGS", ok_to_cmgs);
    summary("request → modem sees AT+CMGS", to_cmgs);
    drop(serve);
    let _ = std::fs::remove_dir_all(dir);
}

fn mysql_db() -> Option<(String, String)> {
    use mysql::prelude::Queryable;
    let root = "mysql://root@127.0.0.1:3306";
    let name = format!("smss_bench_{}", std::process::id());
    let mut conn = mysql::Pool::new(root).ok()?.get_conn().ok()?;
    conn.query_drop(format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        .ok()?;
    let url = format!("{root}/{name}");
    let ok = Command::new(smss_bin())
        .args(["init-db", "--config", "/dev/null", "--db", &url])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    ok.then_some((url, name))
}

fn drop_mysql(name: &str) {
    use mysql::prelude::Queryable;
    if let Ok(mut c) = mysql::Pool::new("mysql://root@127.0.0.1:3306").and_then(|p| p.get_conn()) {
        let _ = c.query_drop(format!("DROP DATABASE IF EXISTS `{name}`"));
    }
}

fn main() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    println!("smss bench — {}", smss_bin().display());
    let dir = std::env::temp_dir().join(format!("smss-bench-db-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    latency(
        "sqlite",
        &format!("sqlite://{}", dir.join("bench.db").display()),
        n,
    );
    let _ = std::fs::remove_dir_all(&dir);
    match mysql_db() {
        Some((url, name)) => {
            latency("mariadb", &url, n);
            drop_mysql(&name);
        }
        None => println!("mariadb: not reachable on 127.0.0.1:3306, skipped"),
    }
}
