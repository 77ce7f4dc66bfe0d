//! Issue 15, "no host on the network can silence the alerts", against the
//! real binary: the secrets of a database URL, the recipients of one
//! request, one peer holding the connections of port 2021, and the
//! on-receive program that does not read its input. (The web's attacks:
//! `hostile_web.rs`.) Timings are generous failure bounds; the figures are
//! printed.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::util::*;

const WAIT: Duration = Duration::from_secs(30);

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
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
}

pub fn loopback(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

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
