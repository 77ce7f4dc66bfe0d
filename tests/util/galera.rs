//! A MariaDB Galera cluster of a test's own: three `mariadbd` (Debian's
//! `mariadb-server` and `galera-4`) on loopback, each with its own data
//! directory and free ports (client, group communication, IST, SST), the
//! first bootstrapping the cluster and the others joining it by a state
//! transfer (rsync). A node may be killed and started again: it rejoins
//! and copies what it missed. Every node is killed and every directory
//! removed when dropped, also when the test panics.

use std::process::Command;
use std::time::{Duration, Instant};

use super::mariadb::{MariaDb, free_port};
use super::wait_for;

const PROVIDER: &str = "/usr/lib/galera/libgalera_smm.so";

pub struct Galera {
    pub nodes: Vec<MariaDb>,
}

/// rsync's daemon on the joining node, started by root, writes as
/// `nobody`: each node's directory is that user's (its server, run as
/// root, reads it all the same). Again before each start: files the
/// server made since are root's.
fn hand_to_rsync(node: &MariaDb) {
    let ok = Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(node.dir())
        .status()
        .expect("chown")
        .success();
    assert!(
        ok,
        "chown -R nobody:nogroup {} failed",
        node.dir().display()
    );
}

impl Galera {
    /// Three nodes, started one after the other and all synced.
    pub fn start() -> Galera {
        let group: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let address = format!(
            "gcomm://{}",
            group
                .iter()
                .map(|p| format!("127.0.0.1:{p}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let nodes = group
            .iter()
            .enumerate()
            .map(|(i, &base)| {
                let options = vec![
                    "--wsrep-on=ON".to_owned(),
                    format!("--wsrep-provider={PROVIDER}"),
                    format!("--wsrep-cluster-address={address}"),
                    // IST listens on base_port + 1 unless told: another
                    // node's port, maybe.
                    format!(
                        "--wsrep-provider-options=base_port={base};\
                         ist.recv_addr=127.0.0.1:{};gcache.size=64M",
                        free_port()
                    ),
                    format!("--wsrep-node-address=127.0.0.1:{base}"),
                    format!("--wsrep-node-name=node{}", i + 1),
                    "--wsrep-sst-method=rsync".to_owned(),
                    format!("--wsrep-sst-receive-address=127.0.0.1:{}", free_port()),
                    "--binlog-format=ROW".to_owned(),
                    "--default-storage-engine=InnoDB".to_owned(),
                    "--innodb-autoinc-lock-mode=2".to_owned(),
                ];
                MariaDb::install(&format!("galera{}", i + 1), options)
            })
            .collect();
        let mut cluster = Galera { nodes };
        for i in 0..3 {
            hand_to_rsync(&cluster.nodes[i]);
            if i == 0 {
                cluster.nodes[0].resume_with(&["--wsrep-new-cluster"]);
            } else {
                cluster.nodes[i].resume();
            }
            cluster.wait_synced(i);
        }
        cluster
    }

    /// `mysql://root@127.0.0.1:PORT/NAME` of node `i`.
    pub fn url(&self, i: usize, name: &str) -> String {
        self.nodes[i].url(name)
    }

    /// kill -9 of node `i`'s server.
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].kill();
    }

    /// Starts node `i` again; it rejoins the cluster (a state transfer
    /// from a donor) and is synced when this returns.
    pub fn restart(&mut self, i: usize) {
        hand_to_rsync(&self.nodes[i]);
        self.nodes[i].resume();
        self.wait_synced(i);
    }

    /// One status value of node `i` (`wsrep_cluster_size`, ...).
    pub fn status(&self, i: usize, name: &str) -> Option<String> {
        use mysql::prelude::Queryable;
        let mut conn = mysql::Conn::new(
            mysql::OptsBuilder::new()
                .ip_or_hostname(Some("127.0.0.1"))
                .tcp_port(self.nodes[i].port)
                .user(Some("root"))
                .prefer_socket(false)
                .tcp_connect_timeout(Some(Duration::from_secs(2))),
        )
        .ok()?;
        // SHOW takes no placeholders; `name` is the test's own.
        conn.query_first::<(String, String), _>(format!("SHOW STATUS LIKE '{name}'"))
            .ok()
            .flatten()
            .map(|(_, v)| v)
    }

    /// Waits until node `i` is synced with every running node and takes
    /// work (`wsrep_ready`).
    pub fn wait_synced(&self, i: usize) {
        let running = self
            .nodes
            .iter()
            .filter(|n| n.running())
            .count()
            .to_string();
        let synced = wait_for(Duration::from_secs(180), || {
            self.status(i, "wsrep_local_state_comment").as_deref() == Some("Synced")
                && self.status(i, "wsrep_ready").as_deref() == Some("ON")
                && self.status(i, "wsrep_cluster_size").as_deref() == Some(&running)
        });
        assert!(
            synced,
            "galera node {} not synced:\n{}",
            i + 1,
            self.nodes[i].error_log()
        );
    }
}

/// Seconds since `since`, for the test's printed timings.
pub fn secs(since: Instant) -> f64 {
    since.elapsed().as_secs_f64()
}
