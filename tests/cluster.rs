//! Several modems share one MariaDB queue: separate `serve` processes, each
//! with its own simulator, and one `serve` with two modems. Every message
//! goes out exactly once; a dead sender's claims are taken over; a failing
//! modem stops claiming and its share moves to the others.

use std::collections::HashMap;
use std::time::Duration;

use smss::sim::{PtySim, SimState};
use smss::store::{SmsStatus, Store, StoreDiagnostics};

use crate::util::*;

fn queue(store: &dyn StoreDiagnostics, n: usize, prefix: &str) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| format!("('420777{:06}', '{prefix}-{i}')", i % 1000))
            .collect();
        store
            .execute_sql(&format!(
                "INSERT INTO msg (phone, text) VALUES {}",
                values.join(",")
            ))
            .unwrap();
    }
}

fn sent_by(store: &dyn Store, n: usize) -> HashMap<String, usize> {
    let mut by: HashMap<String, usize> = HashMap::new();
    for row in store.recent_sms(n * 2).unwrap() {
        *by.entry(row.sent_by).or_default() += 1;
    }
    by
}

/// How often each text reached any of the simulators.
fn texts_sent(sims: &[&PtySim]) -> HashMap<String, usize> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for sim in sims {
        for sms in sim.handle.state().sent.iter() {
            *seen.entry(sms.text.clone()).or_default() += 1;
        }
    }
    seen
}

fn drained(store: &dyn Store, timeout: Duration) -> bool {
    wait_for(timeout, || store.queue_stats().unwrap().depth == 0)
}

#[test]
fn three_instances_send_every_message_exactly_once() {
    const N: usize = 3000;
    let dir = TempDir::new("three");
    let db = TestDb::new(Backend::Mysql, &dir);
    db.init();
    // 2 ms a message: the run lasts long enough for every sender to poll
    let sims: Vec<PtySim> = (0..3)
        .map(|_| {
            PtySim::start_with(SimState {
                send_delay: Duration::from_millis(2),
                ..SimState::default()
            })
            .unwrap()
        })
        .collect();
    let serves: Vec<Serve> = sims
        .iter()
        .zip(["alpha", "beta", "gamma"])
        .map(|(sim, name)| {
            // rows come by plain SQL: each sender finds them at its next poll
            Serve::start(
                &db.url,
                sim.path.to_str().unwrap(),
                &dir,
                &["--instance", name, "--poll-interval", "1s"],
            )
        })
        .collect();
    let store = db.store();
    queue(&*store, N, "m");
    for s in &serves {
        s.wait_log("ready", Duration::from_secs(30));
    }
    assert!(
        drained(&*store, Duration::from_secs(300)),
        "queue not drained"
    );

    let seen = texts_sent(&sims.iter().collect::<Vec<_>>());
    assert_eq!(seen.len(), N, "every message reached a modem");
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    let warnings: Vec<String> = serves
        .iter()
        .flat_map(|s| {
            s.log()
                .lines()
                .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        twice.is_empty(),
        "sent more than once: {twice:?}\n{}",
        warnings.join("\n")
    );
    let by = sent_by(&*store, N);
    assert_eq!(by.values().sum::<usize>(), N);
    for ((sim, name), serve) in sims.iter().zip(["alpha", "beta", "gamma"]).zip(&serves) {
        // what each simulator saw is what its instance recorded
        assert_eq!(
            sim.handle.state().sent.len(),
            by.get(name).copied().unwrap_or(0),
            "{name}"
        );
        assert!(
            by.get(name).copied().unwrap_or(0) > 0,
            "{name} sent nothing: {by:?}\n{}",
            serve.log()
        );
    }
    eprintln!("3 instances, {N} messages, each sent once; shares: {by:?}");
}

#[test]
fn a_killed_instances_claims_are_taken_over_after_the_lease() {
    const N: usize = 300;
    let dir = TempDir::new("takeover");
    let db = TestDb::new(Backend::Mysql, &dir);
    db.init();
    let slow = || {
        PtySim::start_with(SimState {
            send_delay: Duration::from_millis(50),
            ..SimState::default()
        })
        .unwrap()
    };
    let sims = [slow(), slow(), slow()];
    let mut serves: Vec<Serve> = sims
        .iter()
        .zip(["alpha", "beta", "gamma"])
        .map(|(sim, name)| {
            Serve::start(
                &db.url,
                sim.path.to_str().unwrap(),
                &dir,
                &[
                    "--instance",
                    name,
                    "--lease",
                    "10s",
                    "--poll-interval",
                    "1s",
                ],
            )
        })
        .collect();
    let store = db.store();
    queue(&*store, N, "t");
    assert!(
        sims[0]
            .handle
            .wait_until(Duration::from_secs(60), |s| s.sent.len() >= 5)
    );
    let victim = serves.remove(0);
    let mut victim = victim;
    signal(&victim.child, "KILL");
    let _ = victim.child.wait();
    let held = store
        .list_queued(&smss::store::ListFilter {
            limit: 500,
            ..Default::default()
        })
        .map(|rows| rows.iter().filter(|r| r.sending).count())
        .unwrap_or(0);
    assert!(
        drained(&*store, Duration::from_secs(300)),
        "queue not drained"
    );

    let seen = texts_sent(&sims.iter().collect::<Vec<_>>());
    assert_eq!(seen.len(), N, "nothing lost");
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    let by = sent_by(&*store, N);
    eprintln!(
        "killed alpha while it held claims (about {held} rows under a live claim at the kill); \
         all {N} sent, {duplicates} sent twice (in flight at the kill); shares: {by:?}"
    );
    assert!(duplicates <= 1, "{duplicates} duplicates");
    for row in store.recent_sms(N * 2).unwrap() {
        assert_eq!(row.status, SmsStatus::Sent);
    }
}

#[test]
fn a_failing_modem_stops_claiming_and_the_others_send_its_share() {
    const N: usize = 200;
    let dir = TempDir::new("failing");
    let db = TestDb::new(Backend::Mysql, &dir);
    db.init();
    let good1 = PtySim::start().unwrap();
    let good2 = PtySim::start().unwrap();
    let bad = PtySim::start_with(SimState {
        fail_all_sends: Some(500),
        ..SimState::default()
    })
    .unwrap();
    let args = |name: &'static str| {
        vec![
            "--instance",
            name,
            "--retry-delay",
            "1s",
            "--max-attempts",
            "3",
        ]
    };
    let store = db.store();
    queue(&*store, N, "f");
    let bad_serve = Serve::start(&db.url, bad.path.to_str().unwrap(), &dir, &args("bad"));
    assert!(
        bad_serve.wait_log("claiming nothing", Duration::from_secs(60)),
        "{}",
        bad_serve.log()
    );
    let _s1 = Serve::start(&db.url, good1.path.to_str().unwrap(), &dir, &args("good1"));
    let _s2 = Serve::start(&db.url, good2.path.to_str().unwrap(), &dir, &args("good2"));
    assert!(
        drained(&*store, Duration::from_secs(300)),
        "queue not drained"
    );

    let rows = store.recent_sms(N * 2).unwrap();
    assert_eq!(rows.len(), N);
    let failed: Vec<_> = rows
        .iter()
        .filter(|r| r.status != SmsStatus::Sent)
        .collect();
    assert!(
        failed.is_empty(),
        "marked failed instead of retried elsewhere: {failed:?}"
    );
    assert!(rows.iter().all(|r| r.sent_by != "bad"));
    assert!(bad.handle.state().sent.is_empty());
    let retried = rows.iter().filter(|r| r.attempts > 0).count();
    eprintln!(
        "failing modem: it tried {} send(s) and stopped claiming; {retried} message(s) it had \
         touched were sent by the others, none marked failed",
        bad.handle
            .state()
            .commands
            .iter()
            .filter(|(_, c)| c.starts_with("AT+CMGS"))
            .count()
    );
}

#[test]
fn one_serve_with_two_modems_uses_both() {
    let dir = TempDir::new("twomodems");
    let db = TestDb::new(Backend::Sqlite, &dir);
    let slow = || {
        PtySim::start_with(SimState {
            send_delay: Duration::from_millis(50),
            ..SimState::default()
        })
        .unwrap()
    };
    let (a, b) = (slow(), slow());
    let devices = format!("{},{}", a.path.display(), b.path.display());
    // Queued before serve starts, so both modem threads find rows at their
    // first claim, and polled every second: the one that initialises
    // later still finds work (3 s of it for one modem alone).
    db.init();
    let store = db.store();
    queue(&*store, 60, "two");
    let serve = Serve::start(
        &db.url,
        &devices,
        &dir,
        &["--instance", "box", "--poll-interval", "1s"],
    );
    let _ = serve.wait_log("ready", Duration::from_secs(30));
    assert!(drained(&*store, Duration::from_secs(60)), "{}", serve.log());
    let (na, nb) = (a.handle.state().sent.len(), b.handle.state().sent.len());
    assert_eq!(na + nb, 60);
    assert!(na > 0 && nb > 0, "{na} / {nb}");
    let by = sent_by(&*store, 60);
    assert_eq!(by.len(), 2, "one name per modem: {by:?}");
    assert!(by.keys().all(|k| k.starts_with("box:")), "{by:?}");
}
