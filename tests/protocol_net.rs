//! The request protocol over a real socket against the real `serve`:
//! fragments, the ends of a line, legacy bytes, and every limit at its edge.

use std::io::Read;
use std::net::Shutdown;
use std::time::{Duration, Instant};

use smss::sim::PtySim;

use crate::util::*;

struct Fixture {
    _dir: TempDir,
    _db: TestDb,
    sim: PtySim,
    serve: Serve,
}

fn fixture(extra: &[&str]) -> Fixture {
    let dir = TempDir::new("proto");
    let db = TestDb::new(Backend::Sqlite, &dir);
    let sim = PtySim::start().unwrap();
    let serve = Serve::start(&db.url, sim.path.to_str().unwrap(), &dir, extra);
    Fixture {
        _dir: dir,
        _db: db,
        sim,
        serve,
    }
}

#[test]
fn request_written_in_fragments() {
    let f = fixture(&[]);
    let mut s = connect(f.serve.addr);
    for piece in [
        &b"#4206083"[..],
        b"37726;AH",
        b"OJ#420777",
        b"123456;Cau\r",
        b"\n",
    ] {
        send(&mut s, piece);
        std::thread::sleep(Duration::from_millis(30));
    }
    assert!(read_answer(&mut s).starts_with("OK 2 "));
    let sent = f.sim.handle.wait_for_sent(2, Duration::from_secs(30));
    assert_eq!(sent[0].text, "AHOJ");
    assert_eq!(sent[1].text, "Cau");
}

#[test]
fn several_lines_on_one_connection() {
    let f = fixture(&[]);
    let mut s = connect(f.serve.addr);
    send(&mut s, b"#420608337726;one\n#420608337726;two\r\n\n#bad\n");
    assert!(read_answer(&mut s).starts_with("OK 1 "));
    assert!(read_answer(&mut s).starts_with("OK 1 "));
    // the blank line gets no answer; the bad one does
    assert!(read_answer(&mut s).starts_with("ERR request 1: missing ';'"));
}

#[test]
fn line_ends_at_end_of_input() {
    let f = fixture(&[]);
    let mut s = connect(f.serve.addr);
    send(&mut s, b"#420608337726;no newline, then half-close");
    s.shutdown(Shutdown::Write).unwrap();
    assert!(read_answer(&mut s).starts_with("OK 1 "));
    assert_eq!(
        f.sim.handle.wait_for_sent(1, Duration::from_secs(30))[0].text,
        "no newline, then half-close"
    );
}

#[test]
fn line_ends_after_a_quiet_pause() {
    let f = fixture(&["--quiet-pause", "300ms"]);
    let mut s = connect(f.serve.addr);
    let start = Instant::now();
    send(&mut s, b"#420608337726;old client waits");
    assert!(read_answer(&mut s).starts_with("OK 1 "));
    assert!(start.elapsed() >= Duration::from_millis(300));
    // and the connection still takes lines
    send(&mut s, b"#420608337726;again\n");
    assert!(read_answer(&mut s).starts_with("OK 1 "));
}

#[test]
fn windows_1250_bytes_are_decoded() {
    let f = fixture(&[]);
    let mut s = connect(f.serve.addr);
    send(
        &mut s,
        b"#420608337726;P\xf8\xedli\x9a \x9elu\x9dou\xe8k\xfd\n",
    );
    assert!(read_answer(&mut s).starts_with("OK 1 "));
    let sent = f.sim.handle.wait_for_sent(1, Duration::from_secs(30));
    assert_eq!(sent[0].text, "Příliš žluťoučký");
}

#[test]
fn line_length_limit_edge() {
    let f = fixture(&["--max-line-bytes", "100"]);
    let mut s = connect(f.serve.addr);
    // exactly 100 bytes before the newline: accepted
    let ok = format!("#420608337726;{}\n", "x".repeat(100 - 14));
    assert_eq!(ok.len(), 101);
    send(&mut s, ok.as_bytes());
    assert!(read_answer(&mut s).starts_with("OK 1 "));
    // 101 bytes: refused and closed
    let long = format!("#420608337726;{}\n", "x".repeat(101 - 14));
    send(&mut s, long.as_bytes());
    assert_eq!(read_answer(&mut s), "ERR line too long (limit 100 bytes)");
    let mut rest = Vec::new();
    assert_eq!(s.read_to_end(&mut rest).unwrap_or(0), 0);
    // a megabyte without a newline is cut off at the limit too
    let mut s = connect(f.serve.addr);
    let _ = std::io::Write::write_all(&mut s, &vec![b'#'; 1 << 20]);
    assert_eq!(read_answer(&mut s), "ERR line too long (limit 100 bytes)");
}

#[test]
fn connection_limit_edge() {
    let f = fixture(&["--max-connections", "2"]);
    let mut a = connect(f.serve.addr);
    let mut b = connect(f.serve.addr);
    // make sure both are being served before the third arrives
    send(&mut a, b"#420608337726;a\n");
    send(&mut b, b"#420608337726;b\n");
    assert!(read_answer(&mut a).starts_with("OK"));
    assert!(read_answer(&mut b).starts_with("OK"));
    let mut c = connect(f.serve.addr);
    assert_eq!(
        read_answer(&mut c),
        "ERR busy: too many connections (limit 2)"
    );
    drop(a);
    // the slot comes back
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut d = connect(f.serve.addr);
        send(&mut d, b"#420608337726;d\n");
        let answer = read_answer(&mut d);
        if answer.starts_with("OK") {
            break;
        }
        assert!(Instant::now() < deadline, "{answer}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn idle_and_slow_clients_are_closed() {
    let f = fixture(&["--idle-timeout", "1s", "--quiet-pause", "5s"]);
    let mut idle = connect(f.serve.addr);
    assert_eq!(read_answer(&mut idle), "ERR idle timeout");
    // a client dribbling one byte at a time never finishes a line
    let mut slow = connect(f.serve.addr);
    let start = Instant::now();
    let mut closed = false;
    for b in b"#420608337726;slowloris".iter().cycle().take(200) {
        if std::io::Write::write_all(&mut slow, &[*b]).is_err() {
            closed = true;
            break;
        }
        slow.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut buf = [0u8; 64];
        match slow.read(&mut buf) {
            Ok(n) if n > 0 => {
                assert!(
                    String::from_utf8_lossy(&buf[..n]).starts_with("ERR line not finished in time")
                );
                closed = true;
                break;
            }
            _ => {}
        }
    }
    assert!(closed, "still open after {:?}", start.elapsed());
    // others are still served
    let mut s = connect(f.serve.addr);
    send(&mut s, b"#420608337726;still here\n");
    assert!(read_answer(&mut s).starts_with("OK"));
}

#[test]
fn part_limit_edge() {
    let f = fixture(&["--max-parts", "2"]);
    let mut s = connect(f.serve.addr);
    send(
        &mut s,
        format!("#420608337726;{}\n", "y".repeat(306)).as_bytes(),
    );
    assert!(read_answer(&mut s).starts_with("OK 1 "));
    send(
        &mut s,
        format!("#420608337726;{}\n", "y".repeat(307)).as_bytes(),
    );
    assert_eq!(
        read_answer(&mut s),
        "ERR request 1: text too long (3 SMS parts, the limit is 2)"
    );
}
