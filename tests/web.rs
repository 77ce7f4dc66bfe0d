//! The web interface and HTTP API against the real `serve` (simulated
//! modem): a browser run, authentication and CSRF, the JSON API and the
//! Kannel-compatible sendsms with a real HTTP client, and the lists with a
//! large history.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use smss::sim::PtySim;
use smss::store::{ListFilter, SmsStatus};

use crate::util::http::{self, basic, form};
use crate::util::webdriver::Browser;
use crate::util::*;

const WAIT: Duration = Duration::from_secs(30);
const PASSWORD: &str = "correct horse battery";

struct Fixture {
    _dir: TempDir,
    db: TestDb,
    sim: PtySim,
    serve: Serve,
    web: SocketAddr,
}

fn fixture(backend: Backend, extra: &[&str]) -> Fixture {
    let dir = TempDir::new("web");
    let db = TestDb::new(backend, &dir);
    db.init();
    let sim = PtySim::start().unwrap();
    let serve = Serve::start(&db.url, sim.path.to_str().unwrap(), &dir, extra);
    let web = serve.web_addr();
    Fixture {
        _dir: dir,
        db,
        sim,
        serve,
        web,
    }
}

/// Polls `f` until it gives `Some`, or fails after `WAIT`.
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn target_dir() -> std::path::PathBuf {
    // CARGO_TARGET_TMPDIR is target/tmp
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn browser_sends_and_lists() {
    let f = fixture(Backend::Sqlite, &["--web-listen", "127.0.0.1:0"]);
    f.db.store()
        .execute_sql(
            "INSERT INTO rcv (sender, text, smsc_time) \
             VALUES ('420777123456', '<script>alert(1)</script>', '26/11/30,10:00:00+04')",
        )
        .unwrap();
    let base = format!("http://{}", f.web);
    let b = Browser::start();

    // The overview: fill in the form and send.
    b.goto(&format!("{base}/"));
    assert!(b.source().contains("Send an SMS"), "{}", b.source());
    b.type_into("#to", "420608337726");
    b.type_into("#text", "Hello from the browser, žluťoučký kůň");
    b.click_and_wait_for_page("#send");
    let url = b.url();
    assert!(url.starts_with(&format!("{base}/?queued=")), "{url}");
    assert!(b.source().contains("Queued as #"), "{}", b.source());

    // The modem sends it, and the Sent list shows it.
    let sent = f.sim.handle.wait_for_sent(1, WAIT);
    assert_eq!(sent[0].text, "Hello from the browser, žluťoučký kůň");
    assert_eq!(sent[0].number, "+420608337726");
    eventually("the message in the sent list", || {
        b.goto(&format!("{base}/sent"));
        let texts: Vec<String> = b.find_all("td.text").iter().map(|e| b.text_of(e)).collect();
        texts
            .iter()
            .any(|t| t == "Hello from the browser, žluťoučký kůň")
            .then_some(())
    });
    assert!(b.source().contains("420608337726"));

    // A received SMS with markup is shown as text, never run.
    b.goto(&format!("{base}/received"));
    let cells = b.find_all("td.text");
    assert_eq!(cells.len(), 1, "{}", b.source());
    assert_eq!(b.text_of(&cells[0]), "<script>alert(1)</script>");
    assert!(b.find_all("main script").is_empty());
    assert_eq!(b.alert_text(), None);
    assert!(b.source().contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    // "Count characters" answers on the server, keeps the text.
    b.goto(&format!("{base}/"));
    b.type_into("#to", "420608337726");
    b.type_into("#text", &"x".repeat(200));
    b.click_and_wait_for_page("#count-button");
    let count = b.text_of(&b.find("#count"));
    assert_eq!(count, "200 characters, GSM 7-bit, 2 SMS parts");
    assert_eq!(b.find_all("textarea#text").len(), 1);

    // The overview, for people to look at.
    b.goto(&format!("{base}/"));
    let png = b.screenshot();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    let path = target_dir().join("web-overview.png");
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
    // and as a phone shows it: rows become cards
    b.resize(390, 844);
    b.goto(&format!("{base}/sent"));
    let path = target_dir().join("web-sent-phone.png");
    std::fs::write(&path, b.screenshot()).unwrap();
    eprintln!("screenshot: {}", path.display());
    // "Count characters" queued nothing: the queue is empty, and the modem
    // sent the one message only
    assert_eq!(f.db.store().queue_stats().unwrap().depth, 0);
    assert_eq!(f.sim.handle.state().sent.len(), 1, "nothing else was sent");
}

#[test]
fn non_loopback_needs_a_password() {
    let dir = TempDir::new("web-nopw");
    let db = TestDb::new(Backend::Sqlite, &dir);
    let lock = dir.path().display().to_string();
    let out = smss(&[
        "serve",
        "--config",
        "/dev/null",
        "--db",
        &db.url,
        "--device",
        "sim",
        "--lock-dir",
        &lock,
        "--listen",
        "127.0.0.1:0",
        "--web-listen",
        "0.0.0.0:0",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("not a loopback address") && err.contains("web-password-hash"),
        "{err}"
    );
    // a hash that is not one is refused with its origin
    let out = smss(&[
        "serve",
        "--config",
        "/dev/null",
        "--web-password-hash",
        "secret",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--web-password-hash: not a password hash"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn authentication_and_csrf() {
    let hash = password_hash(PASSWORD);
    // 0.0.0.0 is not loopback: every request needs the password.
    let f = fixture(
        Backend::Sqlite,
        &[
            "--web-listen",
            "0.0.0.0:0",
            "--web-password-hash",
            &hash,
            "--web-user",
            "ops",
            // wrong passwords in a row: the throttle is hostile_web.rs's
            "--web-auth-delay",
            "0",
        ],
    );
    let good = basic("ops", PASSWORD);
    let auth = [("Authorization", good.as_str())];
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/sent"),
        ("GET", "/received"),
        ("GET", "/api/messages"),
        ("GET", "/metrics"),
        ("POST", "/api/send"),
        ("POST", "/send"),
    ] {
        let body = form(&[("to", "420608337726"), ("text", "x")]);
        for headers in [
            vec![],
            vec![("Authorization", basic("ops", "wrong"))],
            vec![("Authorization", basic("admin", PASSWORD))],
            vec![("Authorization", "Basic !!!".to_owned())],
        ] {
            let h: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let r = http::request(f.web, method, path, &h, &body);
            assert_eq!(r.status, 401, "{method} {path} {headers:?}: {}", r.text());
            assert_eq!(
                r.header("WWW-Authenticate"),
                Some("Basic realm=\"smss\", charset=\"UTF-8\"")
            );
        }
    }
    let r = http::get(f.web, "/", &auth);
    assert_eq!(r.status, 200, "{}", r.text());
    for (h, v) in [
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Cache-Control", "no-store"),
    ] {
        assert_eq!(r.header(h), Some(v), "{h}");
    }
    assert!(
        r.header("Content-Security-Policy")
            .unwrap()
            .contains("default-src 'none'")
    );
    let page = r.text();
    let token = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a csrf token in the form")
        .to_owned();

    // The form without a token, with a forged one, with another's: refused.
    let store = f.db.store();
    let send = |extra: &[(&str, &str)], headers: &[(&str, &str)]| {
        let mut pairs = vec![
            ("to", "420608337726"),
            ("text", "from the form"),
            ("action", "send"),
        ];
        pairs.extend_from_slice(extra);
        http::post(f.web, "/send", headers, &form(&pairs))
    };
    let form_type = ("Content-Type", "application/x-www-form-urlencoded");
    for extra in [
        vec![],
        vec![("csrf", "")],
        vec![(
            "csrf",
            "69000000.00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        )],
        vec![("csrf", &token[..token.len() - 1])],
    ] {
        let r = send(&extra, &[auth[0], form_type]);
        assert_eq!(r.status, 403, "{extra:?}: {}", r.text());
        assert!(r.text().contains("Nothing was sent"));
    }
    // a cross-site post with a valid token is refused too
    let r = send(
        &[("csrf", &token)],
        &[auth[0], form_type, ("Origin", "http://evil.example")],
    );
    assert_eq!(r.status, 403);
    let r = send(
        &[("csrf", &token)],
        &[auth[0], form_type, ("Sec-Fetch-Site", "cross-site")],
    );
    assert_eq!(r.status, 403);
    assert_eq!(store.queue_stats().unwrap().depth, 0);
    assert!(store.recent_sms(10).unwrap().is_empty());

    // With the token: queued (303 to the overview), sent.
    let origin = format!("http://{}", f.web);
    let r = send(
        &[("csrf", &token)],
        &[
            auth[0],
            form_type,
            ("Origin", &origin),
            ("Sec-Fetch-Site", "same-origin"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let location = r.header("Location").unwrap();
    assert!(location.starts_with("/?queued="), "{location}");
    let sent = f.sim.handle.wait_for_sent(1, WAIT);
    assert_eq!(sent[0].text, "from the form");
    let id: i64 = location["/?queued=".len()..].parse().unwrap();
    let row = eventually("the sms row", || store.sms(id).unwrap());
    assert_eq!((row.source.as_str(), row.status.as_str()), ("web", "sent"));

    // A bad request in the form: 422, the form keeps what was typed.
    let r = http::post(
        f.web,
        "/send",
        &[auth[0], form_type],
        &form(&[
            ("csrf", &token),
            ("to", "420608337726, 12"),
            ("text", "a <b>"),
        ]),
    );
    assert_eq!(r.status, 422);
    let page = r.text();
    assert!(
        page.contains("Not sent: request 2: invalid phone number &#39;12&#39;"),
        "{page}"
    );
    assert!(page.contains(">a &lt;b&gt;</textarea>"), "{page}");
    assert!(page.contains("value=\"420608337726, 12\""), "{page}");
    assert!(
        f.serve
            .wait_log("wrong user name or password", Duration::from_secs(30))
    );
}

/// The JSON API and Kannel's sendsms with a real HTTP client; the lists.
fn api(backend: Backend) {
    let hash = password_hash(PASSWORD);
    let kannel_hash = password_hash("nagios-secret");
    let f = fixture(
        backend,
        &[
            "--web-listen",
            "127.0.0.1:0",
            "--web-password-hash",
            &hash,
            "--kannel-user",
            "nagios",
            "--kannel-password-hash",
            &kannel_hash,
            // wrong passwords in a row: the throttle is hostile_web.rs's
            "--web-auth-delay",
            "0",
        ],
    );
    let good = basic("admin", PASSWORD);
    let json_headers = [
        ("Authorization", good.as_str()),
        ("Content-Type", "application/json"),
    ];
    let post_json = |body: &str| http::post(f.web, "/api/send", &json_headers, body.as_bytes());

    // JSON: one number, several, errors.
    let r = post_json(r#"{"to": "420608337726", "text": "disk full on db1"}"#);
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.json()["queued"], 1);
    let r =
        post_json(r#"{"to": ["+420777123456", "420608337726"], "text": "backup #3 failed 😀"}"#);
    assert_eq!(r.status, 202, "{}", r.text());
    let ids: Vec<i64> = r.json()["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    for (body, error) in [
        (r#"{"text": "x"}"#, "missing 'to'"),
        (r#"{"to": "420608337726"}"#, "missing 'text'"),
        (r#"{"to": [], "text": "x"}"#, "missing 'to'"),
        (
            r#"{"to": 420608337726, "text": "x"}"#,
            "'to' must be a string or a list of strings",
        ),
        (
            r#"{"to": "12", "text": "x"}"#,
            "request 1: invalid phone number '12' (use an optional + and 3 to 20 digits)",
        ),
        (
            r#"{"to": "420608337726", "text": "  "}"#,
            "request 1: empty text",
        ),
        ("{not json", "the body is not valid JSON"),
    ] {
        let r = post_json(body);
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert_eq!(r.json()["error"], error, "{body}");
    }
    let long = format!(
        r#"{{"to": "420608337726", "text": "{}"}}"#,
        "x".repeat(2000)
    );
    let r = post_json(&long);
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("text too long")
    );
    // wrong password, no password
    let wrong = basic("admin", "nope");
    let r = http::post(
        f.web,
        "/api/send",
        &[("Authorization", &wrong)],
        b"to=123&text=x",
    );
    assert_eq!(r.status, 401);
    let r = http::post(f.web, "/api/send", &[], b"to=123&text=x");
    assert_eq!(r.status, 401);
    // a form works too
    let r = http::post(
        f.web,
        "/api/send",
        &[
            ("Authorization", &good),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &form(&[("to", "420608337726"), ("text", "from a form")]),
    );
    assert_eq!(r.status, 202, "{}", r.text());

    // Kannel's sendsms, as a monitoring script calls it (a modem is up:
    // "0: Accepted"; with none, "3: Queued for later delivery").
    assert!(wait_for(WAIT, || f
        .db
        .store()
        .modem_health()
        .unwrap()
        .iter()
        .any(|m| m.healthy)));
    let kannel = |query: &str| http::get(f.web, &format!("/cgi-bin/sendsms?{query}"), &[]);
    let r = kannel(
        "username=nagios&password=nagios-secret&to=420608337726&text=PROBLEM%3A+web1+is+DOWN",
    );
    assert_eq!(
        (r.status, r.text().as_str()),
        (202, "0: Accepted for delivery\n")
    );
    let kannel_id: i64 = r.header("X-Smss-Ids").unwrap().parse().unwrap();
    for (query, status, answer) in [
        (
            "username=nagios&password=wrong&to=420608337726&text=x",
            403,
            "Authorization failed for sendsms",
        ),
        (
            "username=admin&password=correct+horse+battery&to=420608337726&text=x",
            403,
            "Authorization failed for sendsms",
        ),
        (
            "to=420608337726&text=x",
            403,
            "Authorization failed for sendsms",
        ),
        (
            "username=nagios&password=nagios-secret&text=x",
            400,
            "Missing receiver number, rejected",
        ),
        (
            "username=nagios&password=nagios-secret&to=&text=x",
            400,
            "Missing receiver number, rejected",
        ),
        (
            "username=nagios&password=nagios-secret&to=420608337726",
            400,
            "Missing text, rejected",
        ),
        (
            "username=nagios&password=nagios-secret&to=42x&text=x",
            400,
            "request 1: invalid phone number '42x' (use an optional + and 3 to 20 digits), rejected",
        ),
    ] {
        let r = kannel(query);
        assert_eq!((r.status, r.text().trim_end()), (status, answer), "{query}");
    }
    // POST with a form body; two receivers separated by a space; a
    // windows-1250 text from an old script
    let r = http::post(
        f.web,
        "/cgi-bin/sendsms",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"username=nagios&password=nagios-secret&to=420608337726+420777123456&text=P%F8%EDli%9A",
    );
    assert_eq!(r.status, 202, "{}", r.text());

    // All of them go out; the record says where each came from.
    let sent = f.sim.handle.wait_for_sent(7, WAIT);
    assert_eq!(sent.len(), 7);
    assert!(sent.iter().any(|s| s.text == "Příliš"));
    assert!(sent.iter().any(|s| s.text == "backup #3 failed 😀"));
    let store = f.db.store();
    eventually("all rows in sms", || {
        (store.queue_stats().unwrap().depth == 0).then_some(())
    });
    assert_eq!(store.sms(kannel_id).unwrap().unwrap().source, "kannel");
    assert_eq!(store.sms(ids[0]).unwrap().unwrap().source, "api");

    // GET /api/messages: filters and paging.
    let auth = [("Authorization", good.as_str())];
    let list = |query: &str| {
        let r = http::get(f.web, &format!("/api/messages?{query}"), &auth);
        assert_eq!(r.status, 200, "{query}: {}", r.text());
        r.json()
    };
    let all = list("");
    let msgs = all["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 7);
    let got_ids: Vec<i64> = msgs.iter().map(|m| m["id"].as_i64().unwrap()).collect();
    let mut sorted = got_ids.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(got_ids, sorted, "newest first");
    assert_eq!(msgs[0]["status"], "sent");
    assert!(msgs[0]["sent_at"].as_str().unwrap().ends_with('Z'));
    let page1 = list("limit=3");
    assert_eq!(page1["messages"].as_array().unwrap().len(), 3);
    let next = page1["next_before"].as_i64().unwrap();
    let page2 = list(&format!("limit=3&before={next}"));
    assert_eq!(page2["messages"][0]["id"].as_i64().unwrap(), got_ids[3]);
    let page3 = list(&format!("limit=3&before={}", page2["next_before"]));
    assert_eq!(page3["messages"].as_array().unwrap().len(), 1);
    assert_eq!(page3["next_before"], serde_json::Value::Null);
    assert_eq!(
        list("number=%2B420777")["messages"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        list("number=420777")["messages"].as_array().unwrap().len(),
        1
    );
    assert_eq!(
        list("number=420608")["messages"].as_array().unwrap().len(),
        5
    );
    assert_eq!(
        list("status=sent&number=420608337726")["messages"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        list("status=failed")["messages"].as_array().unwrap().len(),
        0
    );
    assert_eq!(
        list("status=queued")["messages"].as_array().unwrap().len(),
        0
    );
    assert_eq!(
        list("since=2000-01-01")["messages"]
            .as_array()
            .unwrap()
            .len(),
        7
    );
    assert_eq!(
        list("since=2999-01-01T00:00:00Z")["messages"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    for bad in [
        "status=lost",
        "number=abc",
        "since=yesterday",
        "limit=0",
        "before=x",
    ] {
        let r = http::get(f.web, &format!("/api/messages?{bad}"), &auth);
        assert_eq!(r.status, 400, "{bad}");
    }

    // Received rows, through the API and the page.
    store
        .execute_sql(
            "INSERT INTO rcv (sender, text) VALUES ('420777123456', 'OK, restarting'), \
             ('420608337726', '<b>bold</b> & more')",
        )
        .unwrap();
    let rcv = list("status=received");
    assert_eq!(rcv["messages"].as_array().unwrap().len(), 2);
    assert_eq!(rcv["messages"][0]["text"], "<b>bold</b> & more");
    assert_eq!(
        list("status=received&number=420777")["messages"][0]["text"],
        "OK, restarting"
    );
    let page = http::get(f.web, "/received?number=420608", &auth).text();
    assert!(
        page.contains("&lt;b&gt;bold&lt;/b&gt; &amp; more"),
        "{page}"
    );
    assert!(!page.contains("OK, restarting"));
    let page = http::get(f.web, "/sent?number=%2B420777", &auth).text();
    assert!(
        page.contains("backup #3 failed 😀") && !page.contains("disk full"),
        "{page}"
    );
    let page = http::get(f.web, "/sent?number=abc", &auth);
    assert!(page.text().contains("Search by the beginning of a number"));

    // Metrics.
    // HEAD of sendsms queues nothing
    let r = http::request(
        f.web,
        "HEAD",
        "/cgi-bin/sendsms?username=nagios&password=nagios-secret&to=420608337726&text=x",
        &[],
        b"",
    );
    assert_eq!(r.status, 405);
    let m = http::get(f.web, "/metrics", &auth).text();
    for line in [
        "smss_database_up 1",
        "smss_sent_total 7",
        "smss_failed_total 0",
        "smss_received_total 2",
        "smss_queue_depth 0",
        "smss_queued_total 7",
        "# TYPE smss_sent_total counter",
    ] {
        assert!(m.lines().any(|l| l == line), "{line}\n{m}");
    }
    assert!(
        f.serve
            .wait_log("sendsms: authorization failed", Duration::from_secs(30))
    );
}

#[test]
fn api_and_kannel_sqlite() {
    api(Backend::Sqlite);
}

#[test]
fn api_and_kannel_mysql() {
    api(Backend::Mysql);
}

#[test]
fn front_limits() {
    let f = fixture(Backend::Sqlite, &["--web-listen", "127.0.0.1:0"]);
    use std::io::{Read, Write};
    // a body over the limit, chunked bodies, garbage: answered, not hung
    for (raw, status) in [
        (
            "POST /api/send HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n".to_owned(),
            "413",
        ),
        (
            "POST /api/send HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_owned(),
            "411",
        ),
        ("HELLO\r\n\r\n".to_owned(), "400"),
        (
            format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(20_000)),
            "431",
        ),
    ] {
        let mut s = std::net::TcpStream::connect(f.web).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.write_all(raw.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{status}: {answer}"
        );
    }
    // HEAD: headers only
    let r = http::request(f.web, "HEAD", "/", &[], b"");
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    // a client that says nothing is closed after the head timeout (10 s)
    let mut s = std::net::TcpStream::connect(f.web).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    let started = Instant::now();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// The lists with 100,000 rows in `sms`: the query plans use the indexes,
/// and the first page and a number search answer in milliseconds.
fn large_history(backend: Backend) {
    let dir = TempDir::new("web-large");
    let db = TestDb::new(backend, &dir);
    db.init();
    let store = db.store();
    // 100,000 rows: 30% each to three admin numbers, 10% to 10,000 others;
    // one in fifty failed.
    let (numbers, fill) = match backend {
        Backend::Sqlite => (
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)",
            "SELECT i + 1, \
             CASE WHEN i % 10 < 3 THEN '420608337726' WHEN i % 10 < 6 THEN '420777123456' \
                  WHEN i % 10 < 9 THEN '+420602000001' ELSE '4207' || printf('%08d', i % 10000) END, \
             'alert number ' || i, 'ip:10.0.0.1', \
             strftime('%Y-%m-%d %H:%M:%f', 'now', printf('-%d minutes', 100000 - i)), \
             CASE WHEN i % 50 = 0 THEN NULL ELSE strftime('%Y-%m-%d %H:%M:%f', 'now', printf('-%d minutes', 100000 - i)) END, \
             CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'sent' END, 1, \
             CASE WHEN i % 50 = 0 THEN 'SIM not inserted' END FROM n",
        ),
        Backend::Mysql => (
            "",
            "SELECT i + 1, \
             CASE WHEN i % 10 < 3 THEN '420608337726' WHEN i % 10 < 6 THEN '420777123456' \
                  WHEN i % 10 < 9 THEN '+420602000001' ELSE CONCAT('4207', LPAD(i % 10000, 8, '0')) END, \
             CONCAT('alert number ', i), 'ip:10.0.0.1', \
             NOW(3) - INTERVAL (100000 - i) MINUTE, \
             CASE WHEN i % 50 = 0 THEN NULL ELSE NOW(3) - INTERVAL (100000 - i) MINUTE END, \
             CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'sent' END, 1, \
             CASE WHEN i % 50 = 0 THEN 'SIM not inserted' END \
             FROM (SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * g.d AS i FROM \
             (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) a, \
             (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) b, \
             (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) c, \
             (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) e, \
             (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) g) n",
        ),
    };
    let started = Instant::now();
    store
        .execute_sql(&format!(
            "{numbers} INSERT INTO sms (id, phone, text, source, queued_at, sent_at, status, parts, error) {fill}"
        ))
        .unwrap();
    if backend == Backend::Mysql {
        store.execute_sql("ANALYZE TABLE sms").unwrap();
    }
    eprintln!("{backend:?}: 100,000 rows in {:?}", started.elapsed());
    assert_eq!(
        store.totals().unwrap().sent + store.totals().unwrap().failed,
        100_000
    );

    // rows are one minute apart: the 10th newest row's time
    let newest = store
        .list_sms(&ListFilter {
            limit: 10,
            ..ListFilter::default()
        })
        .unwrap();
    let tenth_newest = newest[9].queued_at.clone();
    let page = |status: Option<SmsStatus>, number: Option<&str>| ListFilter {
        status,
        number_prefix: number.map(str::to_owned),
        limit: 51,
        ..ListFilter::default()
    };
    let cases = [
        ("first page", page(None, None), 51),
        ("sent, first page", page(Some(SmsStatus::Sent), None), 51),
        (
            "failed, first page",
            page(Some(SmsStatus::Failed), None),
            51,
        ),
        ("rare number", page(None, Some("420700000049")), 10),
        ("rare prefix", page(None, Some("4207000000")), 51),
        ("common number", page(None, Some("420608337726")), 51),
        (
            "sent, common number",
            page(Some(SmsStatus::Sent), Some("+420602")),
            51,
        ),
        (
            "sent, rare number",
            page(Some(SmsStatus::Sent), Some("420700000049")),
            10,
        ),
        (
            "failed, common number",
            page(Some(SmsStatus::Failed), Some("420608337726")),
            51,
        ),
        (
            "second page",
            ListFilter {
                before_id: Some(50_000),
                ..page(None, None)
            },
            51,
        ),
        // `since` compares queued_at, which has no index: a newest-first
        // scan that stops after LIMIT matches, or reads to the end of the
        // table when fewer match (here: 10)
        (
            "since 10 minutes",
            ListFilter {
                since: Some(tenth_newest.clone()),
                ..page(None, None)
            },
            10,
        ),
    ];
    for (what, filter, expected) in cases {
        let plan = store.explain_list_sms(&filter).unwrap();
        // warm, then the best of three
        store.list_sms(&filter).unwrap();
        let mut best = Duration::MAX;
        let mut rows = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            rows = store.list_sms(&filter).unwrap();
            best = best.min(t.elapsed());
        }
        eprintln!(
            "{backend:?} {what}: {} rows in {best:?}; plan: {plan}",
            rows.len()
        );
        assert_eq!(rows.len(), expected, "{what}");
        assert!(
            rows.windows(2).all(|w| w[0].id > w[1].id),
            "{what}: newest first"
        );
        if let Some(p) = &filter.number_prefix {
            assert!(
                rows.iter().all(|r| r.phone.starts_with(p.as_str())),
                "{what}"
            );
        }
        // No plan reads the whole table.
        match backend {
            Backend::Sqlite => {
                // An index, or the primary key backwards with a stop after
                // LIMIT matches (a number matching many rows).
                assert!(
                    plan.contains("USING INDEX")
                        || plan.contains("PRIMARY KEY")
                        || plan == "SCAN sms",
                    "{what}: {plan}"
                );
                if filter.number_prefix.is_none() {
                    assert!(!plan.contains("TEMP B-TREE"), "{what}: {plan}");
                }
            }
            Backend::Mysql => {
                assert!(!plan.contains("type ALL"), "{what}: {plan}");
                if filter.number_prefix.is_none() {
                    assert!(!plan.contains("filesort"), "{what}: {plan}");
                }
            }
        }
        // generous: the machine is shared; typical figures are printed above
        assert!(best < Duration::from_millis(500), "{what}: {best:?}");
    }
}

#[test]
fn large_history_sqlite() {
    large_history(Backend::Sqlite);
}

#[test]
fn large_history_mysql() {
    large_history(Backend::Mysql);
}

#[test]
fn health_panel_and_metrics_show_every_modem() {
    let f = fixture(
        Backend::Sqlite,
        &["--web-listen", "127.0.0.1:0", "--instance", "box1"],
    );
    assert!(f.serve.wait_log("ready", WAIT), "{}", f.serve.log());
    // a second sender sharing the database reports too
    f.db.store()
        .save_modem_health(&smss::store::ModemHealth {
            instance: "box2".into(),
            device: "/dev/ttyUSB1".into(),
            model: "MC35i".into(),
            rssi: Some(9),
            registration: Some("roaming".into()),
            healthy: false,
            last_error: Some("modem lost".into()),
            ..Default::default()
        })
        .unwrap();
    let metrics = eventually("both modems in /metrics", || {
        let body = String::from_utf8_lossy(&http::get(f.web, "/metrics", &[]).body).into_owned();
        (body.contains("smss_modem_up{instance=\"box1\"} 1")
            && body.contains("smss_modem_up{instance=\"box2\"} 0"))
        .then_some(body)
    });
    assert!(
        metrics.contains("smss_modem_signal{instance=\"box2\"} 9"),
        "{metrics}"
    );
    let page = String::from_utf8_lossy(&http::get(f.web, "/", &[]).body).into_owned();
    assert!(
        page.contains("Modem box1") && page.contains("Modem box2"),
        "{page}"
    );
    assert!(
        page.contains("MC35i — down, signal 9/31, roaming"),
        "{page}"
    );
}

#[test]
fn the_allow_list_applies_to_the_web_port() {
    let f = fixture(
        Backend::Sqlite,
        &["--web-listen", "127.0.0.1:0", "--allow", "10.0.0.0/8"],
    );
    let r = http::get(f.web, "/", &[]);
    assert_eq!(r.status, 403);
    assert!(
        f.serve.wait_log("web: refused 127.0.0.1", WAIT),
        "{}",
        f.serve.log()
    );
}

/// The web socket's private directories in `dir` (serve's `TMPDIR`).
fn web_private_dirs(dir: &TempDir) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("smss-web-"))
        .collect();
    names.sort();
    names
}

#[test]
fn a_killed_serves_socket_directory_is_removed_at_the_next_start() {
    let f = fixture(Backend::Sqlite, &["--web-listen", "127.0.0.1:0"]);
    let killed = web_private_dirs(&f._dir);
    assert_eq!(killed.len(), 1, "{killed:?}");
    assert!(
        killed[0].starts_with(&format!("smss-web-{}-", f.serve.child.id())),
        "{killed:?}"
    );
    // another user's or a live process's directory is not touched
    let live = format!("smss-web-{}-x", std::process::id());
    std::fs::create_dir(f._dir.path().join(&live)).unwrap();
    let Fixture {
        _dir: dir,
        db,
        sim,
        serve,
        ..
    } = f;
    drop(serve); // SIGKILL: nothing cleaned up
    let mut both = vec![killed[0].clone(), live.clone()];
    both.sort();
    assert_eq!(web_private_dirs(&dir), both);

    let again = Serve::start(
        &db.url,
        sim.path.to_str().unwrap(),
        &dir,
        &["--web-listen", "127.0.0.1:0"],
    );
    again.web_addr();
    let now = web_private_dirs(&dir);
    assert!(!now.contains(&killed[0]), "{now:?}");
    assert!(now.contains(&live), "{now:?}");
    assert_eq!(now.len(), 2, "{now:?}");
    // a clean stop removes its own
    assert!(again.terminate().success());
    assert_eq!(web_private_dirs(&dir), [live]);
}
