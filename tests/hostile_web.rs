//! Issue 15 on the web port, against the real `serve`: one peer holding
//! the connections (slowloris, bodies announced and never sent), wrong
//! passwords by the hundred (memory, throttle, timing), a foreign `Host`
//! (DNS rebinding). The legitimate client connects from another loopback
//! address (another peer). Timings are generous failure bounds; the
//! figures are printed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::util::http::basic;
use crate::util::*;

const PASSWORD: &str = "correct horse battery";
const WAIT: Duration = Duration::from_secs(30);

/// An answer read to the end (the server closes after one).
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
    took: Duration,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Writes `request` as it is and reads the answer to its end.
fn exchange(mut s: TcpStream, request: &[u8]) -> Answer {
    let started = Instant::now();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(request).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
        took: started.elapsed(),
    }
}

/// A request with `Host: <addr>` and `headers`, from 127.0.0.`from`.
fn request(
    from: u8,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    if method == "POST" || !body.is_empty() {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    exchange(connect_from(loopback(from), addr), &bytes)
}

fn with_password(extra: &[&str]) -> Rig {
    let hash = password_hash(PASSWORD);
    let mut args = vec!["--web-listen", "0.0.0.0:0", "--web-password-hash", &hash];
    args.extend_from_slice(extra);
    Rig::sqlite("hostile-web", &args)
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// The VmRSS of `pid` in kB.
fn vm_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// One peer (127.0.0.1) keeps as many connections open as the web port
/// takes in all, half of them slowloris (a head a byte at a time), half a
/// POST without credentials announcing a body that never comes.
fn attacker(addr: SocketAddr, stop: Arc<AtomicBool>, refused: Arc<AtomicUsize>) {
    let partial = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nX-Slow: ");
    let stall = format!(
        "POST /api/send HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: 1000\r\n\r\n"
    );
    let mut open: Vec<(TcpStream, bool)> = Vec::new();
    let mut n = 0usize;
    while !stop.load(Ordering::SeqCst) {
        while open.len() < 32 {
            let Ok(mut s) = TcpStream::connect(addr) else {
                break;
            };
            let slow = n.is_multiple_of(2);
            n += 1;
            let _ = s.write_all(if slow {
                partial.as_bytes()
            } else {
                stall.as_bytes()
            });
            s.set_nonblocking(true).unwrap();
            open.push((s, slow));
        }
        // answered (503, 401, 408) or closed: open another in its place
        open.retain_mut(|(s, slow)| {
            let mut buf = [0u8; 1024];
            match s.read(&mut buf) {
                Ok(_) => {
                    refused.fetch_add(1, Ordering::SeqCst);
                    false
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if *slow {
                        let _ = s.write_all(b"x");
                    }
                    true
                }
                Err(_) => false,
            }
        });
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn one_peer_holding_the_web_port_does_not_lock_others_out() {
    // The defaults: web-max-connections 32, 8 per peer, 4 workers.
    let rig = with_password(&[]);
    let web = rig.serve.web_addr();
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicUsize::new(0));
    let attack = {
        let (stop, refused) = (Arc::clone(&stop), Arc::clone(&refused));
        std::thread::spawn(move || attacker(web, stop, refused))
    };
    // let it take what it can
    std::thread::sleep(Duration::from_secs(2));
    let good = basic("admin", PASSWORD);
    let mut times = Vec::new();
    let mut statuses = Vec::new();
    for i in 0..36 {
        let path = if i % 2 == 0 { "/" } else { "/api/messages" };
        let a = request(2, web, "GET", path, &[("Authorization", &good)], b"");
        statuses.push(a.status);
        times.push(a.took);
    }
    let r = request(
        2,
        web,
        "POST",
        "/api/send",
        &[
            ("Authorization", &good),
            ("Content-Type", "application/json"),
        ],
        br#"{"to": "420608337726", "text": "served during the attack"}"#,
    );
    stop.store(true, Ordering::SeqCst);
    attack.join().unwrap();
    let served = statuses.iter().filter(|s| **s == 200).count();
    let max = *times.iter().max().unwrap();
    eprintln!(
        "web port, one peer holding its 8 connections (slowloris and stalled bodies, \
         {} of its attempts answered at once or refused): {served} of 36 legitimate \
         requests served, median {:?}, max {max:?}; a send: {} in {:?}",
        refused.load(Ordering::SeqCst),
        median(&mut times),
        r.status,
        r.took
    );
    assert_eq!(served, 36, "{statuses:?}");
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(max < Duration::from_secs(10), "{max:?}");
    assert_eq!(
        rig.sim.handle.wait_for_sent(1, WAIT)[0].text,
        "served during the attack"
    );
    // its refusals: one log line per minute
    let minutes = started.elapsed().as_secs() / 60 + 1;
    let log = rig.serve.log();
    let lines = log
        .lines()
        .filter(|l| l.contains("web: refused 127.0.0.1:"))
        .count();
    assert!(
        (1..=minutes as usize).contains(&lines),
        "{lines} refusal lines in {minutes} minute(s):\n{log}"
    );
}

#[test]
fn credentials_are_checked_before_the_body_is_read() {
    let rig = with_password(&["--web-auth-delay", "0", "--web-head-timeout", "3s"]);
    let web = rig.serve.web_addr();
    let announce = |auth: Option<&str>, expect: bool| {
        let mut head = format!(
            "POST /api/send HTTP/1.1\r\nHost: {web}\r\nContent-Type: application/json\r\n\
             Content-Length: 1000\r\n"
        );
        if let Some(a) = auth {
            head.push_str(&format!("Authorization: {a}\r\n"));
        }
        if expect {
            head.push_str("Expect: 100-continue\r\n");
        }
        head.push_str("\r\n");
        // the body never comes
        exchange(connect_from(loopback(2), web), head.as_bytes())
    };
    let wrong = basic("admin", "guess");
    for (auth, expect) in [(None, false), (None, true), (Some(wrong.as_str()), true)] {
        let a = announce(auth, expect);
        eprintln!(
            "POST announcing 1000 bytes, credentials {auth:?}, Expect {expect}: {} in {:?}",
            a.status, a.took
        );
        assert_eq!(a.status, 401, "{}", a.head);
        assert!(
            a.head.starts_with("HTTP/1.1 401"),
            "no 100 Continue first: {}",
            a.head
        );
        assert!(a.header("WWW-Authenticate").is_some());
        assert!(a.took < Duration::from_secs(5), "{:?}", a.took);
    }
    // A body read before its credentials are known (sendsms's form) has
    // the head's deadline: 3 s.
    let head = format!(
        "POST /cgi-bin/sendsms HTTP/1.1\r\nHost: {web}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
    );
    let a = exchange(connect_from(loopback(3), web), head.as_bytes());
    eprintln!("sendsms form never sent: {} after {:?}", a.status, a.took);
    assert_eq!(a.status, 408);
    assert!(
        a.took >= Duration::from_millis(2900) && a.took < Duration::from_secs(15),
        "{:?}",
        a.took
    );
    // web-head-timeout at its edge: a head in two pieces within 3 s is
    // read; one not finished by then gets 408 at 3 s.
    let good = basic("admin", PASSWORD);
    let mut s = connect_from(loopback(4), web);
    let head = format!("GET /api/messages HTTP/1.1\r\nHost: {web}\r\nAuthorization: {good}\r\n");
    s.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let a = exchange(s, b"\r\n");
    assert_eq!(a.status, 200, "{}", a.body);
    let mut s = connect_from(loopback(4), web);
    let started = Instant::now();
    s.write_all(head.as_bytes()).unwrap();
    let a = exchange(s, b"");
    let took = started.elapsed();
    eprintln!("a head not finished: {} after {took:?}", a.status);
    assert_eq!(a.status, 408);
    assert!(took >= Duration::from_millis(2900) && took < Duration::from_secs(15));
}

#[test]
fn web_connection_caps_at_their_edge() {
    let rig = with_password(&[
        "--web-max-connections",
        "3",
        "--web-max-connections-per-peer",
        "2",
        // the idle ones stay for the length of the test
        "--web-head-timeout",
        "60s",
    ]);
    let web = rig.serve.web_addr();
    // idle connections: held until web-head-timeout
    let _a = [
        connect_from(loopback(1), web),
        connect_from(loopback(1), web),
    ];
    std::thread::sleep(Duration::from_millis(300));
    let third = exchange(connect_from(loopback(1), web), b"");
    assert_eq!(third.status, 503);
    assert_eq!(
        third.body,
        "too many connections from your address, try again later\n"
    );
    let _b = connect_from(loopback(2), web);
    std::thread::sleep(Duration::from_millis(300));
    let other = exchange(connect_from(loopback(3), web), b"");
    assert_eq!(other.status, 503);
    assert_eq!(other.body, "too many connections, try again later\n");
    assert!(rig.serve.wait_log("web: refused 127.0.0.1:", WAIT));
    assert!(
        rig.serve
            .log()
            .contains("2 connections from 127.0.0.1 already open (web-max-connections-per-peer)")
    );
}

#[test]
fn five_hundred_wrong_passwords_leave_memory_bounded() {
    // No throttle here: the attacker has many addresses (16 peers), and
    // this is about what each check costs.
    let rig = with_password(&["--web-auth-delay", "0"]);
    let web = rig.serve.web_addr();
    let pid = rig.serve.child.id();
    // one right login first: what a working serve holds anyway
    let good = basic("admin", PASSWORD);
    assert_eq!(
        request(2, web, "GET", "/", &[("Authorization", &good)], b"").status,
        200
    );
    let before = vm_rss_kb(pid);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..16u8)
        .map(|t| {
            let next = Arc::clone(&next);
            std::thread::spawn(move || {
                let mut statuses = Vec::new();
                while next.fetch_add(1, Ordering::SeqCst) < 500 {
                    let wrong = basic("admin", &format!("guess {t}"));
                    let a = request(10 + t, web, "GET", "/", &[("Authorization", &wrong)], b"");
                    statuses.push(a.status);
                }
                statuses
            })
        })
        .collect();
    let statuses: Vec<u16> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let took = started.elapsed();
    let after = vm_rss_kb(pid);
    eprintln!(
        "500 wrong passwords from 16 peers in {took:?} ({:.0}/s): VmRSS of serve {} kB before, \
         {} kB after (bound 150,000 kB: 2 Argon2 memories of 19 MiB, web-auth-concurrency 2, \
         plus the rest of serve)",
        500.0 / took.as_secs_f64(),
        before,
        after
    );
    assert_eq!(statuses.len(), 500);
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    assert!(after < 150_000, "VmRSS {after} kB");
    // and it still answers the right password
    assert_eq!(
        request(2, web, "GET", "/", &[("Authorization", &good)], b"").status,
        200
    );
}

#[test]
fn wrong_passwords_are_throttled_per_peer() {
    // 2 s: room for a loaded machine to ask again before the delay is over
    let rig = with_password(&["--web-auth-delay", "2s", "--web-auth-max-delay", "4s"]);
    let web = rig.serve.web_addr();
    let good = basic("admin", PASSWORD);
    let wrong = basic("admin", "guess");
    let get =
        |from: u8, auth: &str| request(from, web, "GET", "/", &[("Authorization", auth)], b"");
    let mut delays = Vec::new();
    for i in 0..3 {
        let t = Instant::now();
        assert_eq!(get(1, &wrong).status, 401);
        // at once again: refused, not checked, with the time to wait
        let a = get(1, &wrong);
        assert_eq!(a.status, 429, "{}", a.body);
        eprintln!(
            "wrong password {}: 401, then at once {} {:?} in {:?}",
            i + 1,
            a.status,
            a.body.trim_end(),
            t.elapsed()
        );
        let secs: u64 = a.header("Retry-After").unwrap().parse().unwrap();
        delays.push(secs);
        if i == 0 {
            // the right password is not checked either...
            assert_eq!(get(1, &good).status, 429);
            // ...but only for this peer
            assert_eq!(get(2, &good).status, 200);
        }
        std::thread::sleep(Duration::from_secs(secs) + Duration::from_millis(100));
    }
    eprintln!("Retry-After after 1, 2, 3 wrong passwords in a row: {delays:?} s");
    assert_eq!(delays, [2, 4, 4]);
    // Credentials verified lately (by 127.0.0.2) pass without a check,
    // throttled or not, and the peer starts over.
    assert_eq!(get(1, &wrong).status, 401);
    assert_eq!(get(1, &good).status, 200);
    assert_eq!(get(1, &wrong).status, 401);
    let a = get(1, &wrong);
    assert_eq!((a.status, a.header("Retry-After")), (429, Some("2")));
    assert!(
        rig.serve.log().contains(
            "wrong user name or password (3 in a row from 127.0.0.1; its next check in 4s)"
        ),
        "{}",
        rig.serve.log()
    );
}

#[test]
fn an_unknown_user_costs_as_much_as_a_wrong_password() {
    let rig = with_password(&["--web-auth-delay", "0"]);
    let web = rig.serve.web_addr();
    let known = basic("admin", "guess");
    let unknown = basic("nobody", "guess");
    let (mut k, mut u) = (Vec::new(), Vec::new());
    for _ in 0..9 {
        for (auth, times) in [(&known, &mut k), (&unknown, &mut u)] {
            let a = request(2, web, "GET", "/", &[("Authorization", auth)], b"");
            assert_eq!(a.status, 401);
            times.push(a.took);
        }
    }
    let (k, u) = (median(&mut k), median(&mut u));
    eprintln!("median answer to a wrong password: known user {k:?}, unknown user {u:?}");
    assert!(u.as_secs_f64() >= 0.3 * k.as_secs_f64(), "{u:?} vs {k:?}");
}

#[test]
fn a_foreign_host_is_refused_on_loopback() {
    // The DNS rebinding case: loopback, no password.
    let rig = Rig::sqlite(
        "rebinding",
        &["--web-listen", "127.0.0.1:0", "--web-host", "smss.lan"],
    );
    let web = rig.serve.web_addr();
    let port = web.port();
    let raw = |host: Option<&str>, method: &str, path: &str, extra: &str, body: &str| {
        let host = host.map(|h| format!("Host: {h}\r\n")).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\n{host}{extra}Content-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        exchange(connect_from(loopback(1), web), request.as_bytes())
    };
    let send = r#"{"to": "420608337726", "text": "rebound"}"#;
    let evil = format!("evil.example:{port}");
    for (method, path, body) in [
        ("GET", "/", ""),
        ("GET", "/api/messages", ""),
        ("POST", "/api/send", send),
    ] {
        let a = raw(Some(&evil), method, path, "", body);
        assert_eq!(a.status, 421, "{method} {path}: {}", a.body);
        assert!(a.body.contains("web-host"), "{}", a.body);
    }
    assert_eq!(raw(None, "GET", "/", "", "").status, 400);
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("smss.lan:{port}"),
        "SMSS.LAN".to_owned(),
        // the machine's own name needs no web-host
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim()
            .to_owned(),
    ] {
        assert_eq!(raw(Some(&host), "GET", "/", "", "").status, 200, "{host}");
    }
    // A POST from another Origin, with a Host of ours: 403.
    let ours = format!("127.0.0.1:{port}");
    let a = raw(
        Some(&ours),
        "POST",
        "/api/send",
        "Origin: http://evil.example\r\n",
        send,
    );
    assert_eq!(a.status, 403, "{}", a.body);
    let origin = format!("Origin: http://127.0.0.1:{port}\r\n");
    let a = raw(Some(&ours), "POST", "/api/send", &origin, send);
    assert_eq!(a.status, 202, "{}", a.body);
    // one queued: the refused ones never reached the queue
    let sent = rig.sim.handle.wait_for_sent(1, WAIT);
    assert_eq!(sent.len(), 1);
    // (the simulator records a message before serve has moved it to `sms`)
    let store = rig.db.store();
    assert!(wait_for(WAIT, || store.queue_stats().unwrap().depth == 0));
    assert_eq!(rig.sim.handle.state().sent.len(), 1);
    assert!(rig.serve.log().contains("refused: Host 'evil.example:"));
}
