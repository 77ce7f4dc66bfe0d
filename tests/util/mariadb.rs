//! A MariaDB server of a test's own: its own `mariadbd` on a free port
//! with its own data directory (made by `mariadb-install-db`), which the
//! test may stop and start again to take "the database" away for real
//! (never the shared server on 3306). Killed and its directory removed
//! when dropped, also when the test panics.

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{TempDir, wait_for, wait_timeout};

const MARIADBD: &str = "/usr/sbin/mariadbd";

pub struct MariaDb {
    dir: TempDir,
    pub port: u16,
    child: Option<Child>,
    /// Server options of every start (a Galera node's wsrep settings).
    options: Vec<String>,
}

/// A port nobody listens on now (bound and released: the server binds it
/// a moment later).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl MariaDb {
    /// A new server (empty data directory, `root` without a password on
    /// 127.0.0.1), started and answering.
    pub fn start() -> MariaDb {
        let mut db = MariaDb::install("mariadb", Vec::new());
        db.resume();
        db
    }

    /// A new data directory in a directory of its own (`tag`), for a
    /// server started with `options` besides the usual ones; not started.
    pub fn install(tag: &str, options: Vec<String>) -> MariaDb {
        let dir = TempDir::new(tag);
        let data = dir.path().join("data");
        // Its own temporary directory: bootstraps running at the same time
        // in /tmp were seen to fail on each other's temporary tables.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        let out = Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .args([
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--user=root",
            ])
            .stdin(Stdio::null())
            .output()
            .expect("mariadb-install-db (Debian package mariadb-server) must be installed");
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        MariaDb {
            dir,
            port: free_port(),
            child: None,
            options,
        }
    }

    /// The server's own directory (data, socket, error log).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The server's error log so far.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// Whether the server process runs.
    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `mysql://root@127.0.0.1:PORT/NAME` (over TCP, not the socket).
    pub fn url(&self, name: &str) -> String {
        format!(
            "mysql://root@127.0.0.1:{}/{name}?prefer_socket=false",
            self.port
        )
    }

    /// Creates a database.
    pub fn create_database(&self, name: &str) {
        use mysql::prelude::Queryable;
        let mut conn = mysql::Conn::new(
            mysql::Opts::from_url(&format!("mysql://root@127.0.0.1:{}", self.port)).unwrap(),
        )
        .unwrap();
        conn.query_drop(format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
            .unwrap();
    }

    pub fn answers(&self) -> bool {
        mysql::Conn::new(
            mysql::OptsBuilder::new()
                .ip_or_hostname(Some("127.0.0.1"))
                .tcp_port(self.port)
                .user(Some("root"))
                .prefer_socket(false)
                .tcp_connect_timeout(Some(Duration::from_secs(2))),
        )
        .is_ok()
    }

    /// Starts the server (again, on the same port and data) and waits
    /// until it answers.
    pub fn resume(&mut self) {
        self.resume_with(&[]);
    }

    /// [`MariaDb::resume`] with options for this start only (a Galera
    /// cluster's first node: `--wsrep-new-cluster`).
    pub fn resume_with(&mut self, once: &[&str]) {
        assert!(self.child.is_none(), "the server is running");
        let d = self.dir.path();
        let child = Command::new(MARIADBD)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", d.join("data").display()))
            .arg(format!("--tmpdir={}", d.join("tmp").display()))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", d.join("mysqld.sock").display()))
            .arg(format!("--pid-file={}", d.join("mysqld.pid").display()))
            .arg(format!("--log-error={}", d.join("error.log").display()))
            .args([
                "--user=root",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=32M",
            ])
            .args(&self.options)
            .args(once)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd (Debian package mariadb-server)");
        let mut child = child;
        // A Galera node copies the data of another before it answers.
        let up = wait_for(Duration::from_secs(120), || {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "mariadbd exited ({status}):\n{}",
                    std::fs::read_to_string(d.join("error.log")).unwrap_or_default()
                );
            }
            self.answers()
        });
        self.child = Some(child);
        assert!(
            up,
            "mariadbd did not answer on port {}:\n{}",
            self.port,
            std::fs::read_to_string(d.join("error.log")).unwrap_or_default()
        );
    }

    /// Stops the server (SIGTERM, a clean shutdown) and waits for it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        super::signal(&child, "TERM");
        if wait_timeout(&mut child, Duration::from_secs(60)).is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl MariaDb {
    /// kill -9: no shutdown at all (a crash, a power cut).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // the TempDir (data directory included) goes after this
    }
}
