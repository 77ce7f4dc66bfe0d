//! A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`,
//! 0.25) routes alerts posted to its API to smss's `/api/alertmanager`
//! with an API token; the simulated modem receives the SMS. The database
//! is a MariaDB server of the test's own, stopped and started again to
//! show that an alert to a group is sent while it is away (the spool's
//! copy of the group and the token), and its repeats are not, during the
//! outage or after it.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smss::sim::PtySim;

use crate::integrations::add_token;
use crate::util::http;
use crate::util::mariadb::MariaDb;
use crate::util::*;

const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";
const WAIT: Duration = Duration::from_secs(90);

/// A running Alertmanager with its own configuration and storage in a
/// temp dir, on a free port, clustering off; killed when dropped.
struct AlertManager {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    _dir: TempDir,
}

impl AlertManager {
    fn start(config: &str) -> AlertManager {
        let dir = TempDir::new("alertmanager");
        let config_file = dir.path().join("alertmanager.yml");
        std::fs::write(&config_file, config).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut child = Command::new(ALERTMANAGER)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--cluster.listen-address=")
            .arg("--log.level=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("prometheus-alertmanager (Debian package) must be installed");
        let log = Arc::new(Mutex::new(Vec::new()));
        {
            let log = Arc::clone(&log);
            let stderr = child.stderr.take().unwrap();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    log.lock().unwrap().push(line);
                }
            });
        }
        let am = AlertManager {
            child,
            addr,
            log,
            _dir: dir,
        };
        let ready = wait_for(WAIT, || {
            TcpStream::connect(addr).is_ok() && http::get(addr, "/-/ready", &[]).status == 200
        });
        assert!(ready, "alertmanager did not start:\n{}", am.log());
        am
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// `POST /api/v2/alerts` (what Prometheus does).
    fn post(&self, alerts: &serde_json::Value) {
        let r = http::post(
            self.addr,
            "/api/v2/alerts",
            &[("Content-Type", "application/json")],
            alerts.to_string().as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

impl Drop for AlertManager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn texts(sim: &PtySim) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = sim
        .handle
        .state()
        .sent
        .iter()
        .map(|s| (s.number.clone(), s.text.clone()))
        .collect();
    v.sort();
    v
}

fn alert(name: &str, instance: &str, ends_at: Option<&str>) -> serde_json::Value {
    let mut a = serde_json::json!({
        "labels": {"alertname": name, "instance": instance, "severity": "critical"},
        "annotations": {"summary": format!("{name} on {instance}")},
    });
    if let Some(t) = ends_at {
        a["endsAt"] = t.into();
    }
    a
}

#[test]
fn alertmanager_delivers_through_smss() {
    if !std::path::Path::new(ALERTMANAGER).exists() {
        // CI installs it (.ci/run); say so rather than pass in silence
        panic!("{ALERTMANAGER} is missing: apt-get install prometheus-alertmanager");
    }
    let mut mariadb = MariaDb::start();
    mariadb.create_database("smss");
    let url = mariadb.url("smss");
    let dir = TempDir::new("am_serve");
    let init = smss(&["init-db", "--config", "/dev/null", "--db", &url]);
    assert!(init.status.success(), "{}", stderr(&init));
    let group = smss(&[
        "group",
        "set",
        "oncall",
        "420608337726",
        "420777123456",
        "--config",
        "/dev/null",
        "--db",
        &url,
    ]);
    assert!(group.status.success(), "{}", stderr(&group));
    let token = add_token(&url, "alertmanager");
    let sim = PtySim::start().unwrap();
    let serve = Serve::start(
        &url,
        sim.path.to_str().unwrap(),
        &dir,
        &["--web-listen", "127.0.0.1:0"],
    );
    let web = serve.web_addr();

    let config = format!(
        "route:\n  receiver: smss\n  group_by: ['alertname']\n  group_wait: 1s\n  \
         group_interval: 2s\n  repeat_interval: 3s\n\
         receivers:\n- name: smss\n  webhook_configs:\n  \
         - url: 'http://{web}/api/alertmanager?to=@oncall'\n    send_resolved: true\n    \
         http_config:\n      authorization:\n        credentials: '{token}'\n"
    );
    let am = AlertManager::start(&config);

    // Two alerts of one group: one SMS to each member of @oncall.
    am.post(&serde_json::json!([
        alert("HighCPU", "web1:9100", None),
        alert("HighCPU", "web2:9100", None)
    ]));
    let firing = "[FIRING:2] HighCPU web1,web2: HighCPU on web1:9100".to_string();
    assert!(
        wait_for(WAIT, || texts(&sim).len() >= 2),
        "no SMS: {}\n{}",
        serve.log(),
        am.log()
    );
    assert_eq!(
        texts(&sim),
        [
            ("+420608337726".to_string(), firing.clone()),
            ("+420777123456".to_string(), firing.clone()),
        ]
    );

    // Alertmanager repeats the group (repeat_interval): nothing new is sent.
    assert!(
        wait_for(WAIT, || serve
            .log()
            .matches("alertmanager token:alertmanager: nothing new to send")
            .count()
            >= 2),
        "no repeat came: {}\n{}",
        serve.log(),
        am.log()
    );
    assert_eq!(texts(&sim).len(), 2, "{:?}", texts(&sim));

    // Resolved: endsAt in the past.
    let past = "2020-01-01T00:00:00Z";
    am.post(&serde_json::json!([
        alert("HighCPU", "web1:9100", Some(past)),
        alert("HighCPU", "web2:9100", Some(past))
    ]));
    assert!(
        wait_for(WAIT, || texts(&sim).len() >= 4),
        "no resolution: {}\n{}",
        serve.log(),
        am.log()
    );
    let resolved = "[RESOLVED] HighCPU web1,web2: HighCPU on web1:9100";
    let got = texts(&sim);
    assert_eq!(
        got.iter().filter(|(_, t)| t == resolved).count(),
        2,
        "{got:?}"
    );

    // The database goes away: the group comes from the spool's copy, the
    // alert is spooled, answered 200 and sent during the outage...
    mariadb.stop();
    let repeats = || {
        serve
            .log()
            .matches("alertmanager token:alertmanager: nothing new to send")
            .count()
    };
    am.post(&serde_json::json!([alert("DiskFull", "db1:9100", None)]));
    assert!(
        wait_for(WAIT, || texts(&sim).len() >= 6),
        "not sent during the outage: {}\n{}",
        serve.log(),
        am.log()
    );
    assert!(serve.log().contains("queued 2 message(s): [Spooled("));
    // ... its repeats are not sent again (the spool keeps the marks) ...
    let before = repeats();
    assert!(
        wait_for(WAIT, || repeats() >= before + 2),
        "no repeat came during the outage: {}\n{}",
        serve.log(),
        am.log()
    );
    assert_eq!(texts(&sim).len(), 6, "{:?}", texts(&sim));
    // ... nor once the database is back (the marks moved in).
    mariadb.resume();
    assert!(
        serve.wait_log("Alertmanager mark(s) of the outage moved", WAIT),
        "{}",
        serve.log()
    );
    let before = repeats();
    assert!(
        wait_for(WAIT, || repeats() >= before + 2),
        "no repeat came after the outage: {}\n{}",
        serve.log(),
        am.log()
    );
    assert!(!am.log().contains("unexpected status code"), "{}", am.log());
    let disk = "[FIRING:1] DiskFull db1: DiskFull on db1:9100";
    let got = texts(&sim);
    assert_eq!(got.len(), 6, "{got:?}");
    assert_eq!(got.iter().filter(|(_, t)| t == disk).count(), 2, "{got:?}");
    let rows = db_rows(&url);
    assert!(
        rows.iter()
            .all(|r| r.source == "alertmanager token:alertmanager"
                && r.group.as_deref() == Some("oncall")),
        "{rows:?}"
    );
    drop(am);
    drop(serve);
}

fn db_rows(url: &str) -> Vec<smss::store::SmsRow> {
    let store = smss::store::open(url, false).unwrap();
    let mut rows = Vec::new();
    assert!(wait_for(WAIT, || {
        rows = store
            .list_sms(&smss::store::ListFilter {
                limit: 100,
                ..Default::default()
            })
            .unwrap_or_default();
        rows.len() == 6
    }));
    rows
}
