//! One test suite, run against both backends.
//!
//! Every case is a function taking a [`Fixture`] (a fresh, empty database of
//! one backend); `suite!` turns each into `sqlite::<case>` and
//! `mysql::<case>` tests. SQLite databases live in a unique temporary
//! directory; MySQL ones are uniquely named databases on the server named by
//! `SMSS_TEST_MYSQL` (default `mysql://root@127.0.0.1:3306`), dropped again
//! when the test ends. A missing MySQL server fails the MySQL tests (it is
//! not a reason to skip them).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::gsm::Tables;

const LONG: Duration = Duration::from_secs(600);

// ---------------------------------------------------------------- fixtures

trait Fixture {
    fn url(&self) -> String;
    /// One integer from a query run on a connection of the test's own.
    fn scalar(&self, sql: &str) -> Option<i64>;

    fn open(&self) -> Arc<dyn StoreDiagnostics> {
        open_diagnostics(&self.url(), true).unwrap_or_else(|e| panic!("open {}: {e}", self.url()))
    }
}

fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_000_000;
    format!(
        "smss_t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

struct SqliteFixture {
    dir: PathBuf,
}

impl SqliteFixture {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(unique_name());
        std::fs::create_dir(&dir).unwrap();
        SqliteFixture { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.join("smss.db")
    }
}

impl Fixture for SqliteFixture {
    fn url(&self) -> String {
        format!("sqlite://{}", self.path().display())
    }

    fn scalar(&self, sql: &str) -> Option<i64> {
        let conn = rusqlite::Connection::open(self.path()).unwrap();
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }
}

impl Drop for SqliteFixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn mysql_server() -> String {
    std::env::var("SMSS_TEST_MYSQL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

fn mysql_admin() -> ::mysql::Conn {
    let server = mysql_server();
    ::mysql::Conn::new(::mysql::Opts::from_url(&server).unwrap()).unwrap_or_else(|e| {
        panic!(
            "the MySQL tests need a MariaDB/MySQL server at {server} (set SMSS_TEST_MYSQL to \
             another one): {e}. Start it with \
             `start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd`"
        )
    })
}

struct MysqlFixture {
    name: String,
}

impl MysqlFixture {
    fn new() -> Self {
        use ::mysql::prelude::Queryable;
        let name = unique_name();
        mysql_admin()
            .query_drop(format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
            .unwrap();
        MysqlFixture { name }
    }

    /// A name for a database that does not exist yet (dropped at the end
    /// in case the test created it).
    fn without_database() -> Self {
        mysql_admin();
        MysqlFixture {
            name: unique_name(),
        }
    }
}

impl Fixture for MysqlFixture {
    fn url(&self) -> String {
        format!("{}/{}", mysql_server(), self.name)
    }

    fn scalar(&self, sql: &str) -> Option<i64> {
        use ::mysql::prelude::Queryable;
        let mut conn = ::mysql::Conn::new(::mysql::Opts::from_url(&self.url()).unwrap()).unwrap();
        conn.query_first::<Option<i64>, _>(sql).unwrap().flatten()
    }
}

impl Drop for MysqlFixture {
    fn drop(&mut self) {
        use ::mysql::prelude::Queryable;
        if let Ok(mut conn) = ::mysql::Conn::new(::mysql::Opts::from_url(&mysql_server()).unwrap())
        {
            let _ = conn.query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.name));
        }
    }
}

// ---------------------------------------------------------------- helpers

fn msg(phone: &str, text: &str) -> NewMessage {
    NewMessage {
        phone: phone.into(),
        text: text.into(),
        source: "ip:192.0.2.7".into(),
        group: None,
        ..Default::default()
    }
}

fn ids(rows: &[QueuedMessage]) -> Vec<i64> {
    rows.iter().map(|r| r.id).collect()
}

fn sent(parts: u32, part_refs: &str) -> Outcome {
    Outcome::Sent {
        parts,
        part_refs: part_refs.into(),
    }
}

/// Seconds since the epoch of a stored UTC time `YYYY-MM-DD HH:MM:SS.fff`.
fn parse_utc(t: &str) -> i64 {
    let b = t.as_bytes();
    assert!(
        t.len() == 23 && b[4] == b'-' && b[10] == b' ' && b[19] == b'.',
        "not a stored time: {t:?}"
    );
    let n = |r: std::ops::Range<usize>| t[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // days from civil (Howard Hinnant)
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

// ---------------------------------------------------------------- cases

fn enqueue_returns_increasing_ids_and_is_durable(fx: &dyn Fixture) {
    let s = fx.open();
    let new = [
        msg("420608337726", "one"),
        msg("420777123456", "two"),
        msg("1", "three"),
    ];
    let got = s.enqueue(&new).unwrap();
    assert_eq!(got.len(), 3);
    assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
    let more = s.enqueue(&[msg("2", "four")]).unwrap();
    assert!(more[0] > got[2]);
    drop(s);

    let s = open(&fx.url(), false).unwrap();
    let rows = s.claim_due("a", LONG, 10).unwrap();
    assert_eq!(ids(&rows), [got.clone(), more].concat());
    for (row, m) in rows.iter().zip(&new) {
        assert_eq!(row.phone, m.phone);
        assert_eq!(row.text, m.text);
        assert_eq!(row.source, m.source);
        assert_eq!(row.attempts, 0);
        assert_eq!(row.concat_ref, None);
        assert_eq!(row.parts_done, 0);
        assert_eq!(row.part_refs, "");
    }
}

fn enqueue_empty_slice(fx: &dyn Fixture) {
    let s = fx.open();
    assert_eq!(s.enqueue(&[]).unwrap(), Vec::<i64>::new());
    assert_eq!(s.queue_stats().unwrap().depth, 0);
}

fn plain_sql_insert_is_due_with_source_sql(fx: &dyn Fixture) {
    let s = fx.open();
    s.execute_sql("INSERT INTO msg (phone, text) VALUES ('420608337726','x')")
        .unwrap();
    let rows = s.claim_due("a", LONG, 10).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].phone, "420608337726");
    assert_eq!(rows[0].text, "x");
    assert_eq!(rows[0].source, "sql");
    assert_eq!(rows[0].attempts, 0);
    assert!(s.finish(rows[0].id, "a", &sent(1, "3")).unwrap());
}

fn times_are_utc(fx: &dyn Fixture) {
    let s = fx.open();
    s.enqueue(&[msg("1", "t")]).unwrap();
    let row = s.claim_due("a", LONG, 1).unwrap().remove(0);
    let skew = parse_utc(&row.created) - now_secs();
    assert!(skew.abs() < 120, "created {} is not UTC now", row.created);
    assert!(s.finish(row.id, "a", &sent(1, "1")).unwrap());
    let sms = s.sms(row.id).unwrap().unwrap();
    assert_eq!(sms.queued_at, row.created);
    let sent_at = sms.sent_at.unwrap();
    assert!(sent_at >= sms.queued_at, "{sent_at} < {}", sms.queued_at);
    assert!((parse_utc(&sent_at) - now_secs()).abs() < 120);
}

fn claim_respects_limit_order_and_leases(fx: &dyn Fixture) {
    let s = fx.open();
    let all = s
        .enqueue(
            &(0..5)
                .map(|i| msg("1", &format!("m{i}")))
                .collect::<Vec<_>>(),
        )
        .unwrap();
    let a = s.claim_due("a", Duration::from_secs(1), 2).unwrap();
    assert_eq!(ids(&a), all[..2]);
    let b = s.claim_due("b", LONG, 10).unwrap();
    assert_eq!(ids(&b), all[2..]);
    assert!(s.claim_due("c", LONG, 10).unwrap().is_empty());

    thread::sleep(Duration::from_millis(1300));
    // a's lease has run out; b's has not.
    let c = s.claim_due("c", LONG, 10).unwrap();
    assert_eq!(ids(&c), all[..2]);
    // a lost the row to c: a cannot finish it, c can.
    assert!(!s.finish(all[0], "a", &sent(1, "1")).unwrap());
    assert!(s.finish(all[0], "c", &sent(1, "1")).unwrap());
    assert_eq!(s.claim_due("d", LONG, 0).unwrap(), vec![]);
}

fn with_priority(phone: &str, text: &str, priority: Priority) -> NewMessage {
    NewMessage {
        options: Options {
            priority,
            ..Options::default()
        },
        ..msg(phone, text)
    }
}

fn claims_come_most_urgent_first(fx: &dyn Fixture) {
    let s = fx.open();
    let low = s
        .enqueue(&[with_priority("1", "low", Priority::Low)])
        .unwrap();
    let normal = s.enqueue(&[msg("1", "n1"), msg("1", "n2")]).unwrap();
    // another tool's row: normal unless it says otherwise
    s.execute_sql("INSERT INTO msg (phone, text, priority) VALUES ('1', 'sql urgent', 0)")
        .unwrap();
    let urgent = s
        .enqueue(&[with_priority("1", "urgent", Priority::Urgent)])
        .unwrap();
    let batch = s.claim_due("a", LONG, 3).unwrap();
    let texts: Vec<&str> = batch.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["sql urgent", "urgent", "n1"]);
    assert_eq!(batch[1].id, urgent[0]);
    assert_eq!(batch[1].priority, Priority::Urgent);
    assert_eq!(batch[2].priority, Priority::Normal);
    // nothing more urgent than normal is left unclaimed; the low one waits
    assert!(!s.more_urgent_due(Priority::Normal).unwrap());
    assert!(s.more_urgent_due(Priority::Low).unwrap());
    s.enqueue(&[with_priority("2", "late urgent", Priority::Urgent)])
        .unwrap();
    assert!(s.more_urgent_due(Priority::Normal).unwrap());
    assert!(!s.more_urgent_due(Priority::Urgent).unwrap());
    // the unsent rest of a batch goes back; other claims of "a" stay
    assert_eq!(s.release("a", &[batch[2].id]).unwrap(), 1);
    assert_eq!(s.release("b", &[batch[1].id]).unwrap(), 0, "not b's claim");
    let next = s.claim_due("b", LONG, 10).unwrap();
    let texts: Vec<&str> = next.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["late urgent", "n1", "n2", "low"]);
    assert_eq!(next[3].id, low[0]);
    assert_eq!(next[1].id, normal[0]);
    // sms keeps the priority
    assert!(s.finish(batch[1].id, "a", &sent(1, "1")).unwrap());
    assert_eq!(
        fx.scalar(&format!(
            "SELECT priority FROM sms WHERE id = {}",
            urgent[0]
        )),
        Some(0)
    );
}

fn a_due_urgent_retry_overtakes(fx: &dyn Fixture) {
    let s = fx.open();
    let ids = s
        .enqueue(&[with_priority("1", "u", Priority::Urgent), msg("1", "n")])
        .unwrap();
    let first = s.claim_due("a", LONG, 1).unwrap();
    assert_eq!(first[0].id, ids[0]);
    s.retry_later(ids[0], "a", "+CMS ERROR: 42", Duration::from_millis(300))
        .unwrap();
    assert!(!s.more_urgent_due(Priority::Normal).unwrap(), "not due yet");
    thread::sleep(Duration::from_millis(600));
    // due, not yet promoted by a claim: found all the same
    assert!(s.more_urgent_due(Priority::Normal).unwrap());
}

fn coalesced(phone: &str, text: &str) -> NewMessage {
    NewMessage {
        coalesce_window: LONG,
        ..msg(phone, text)
    }
}

fn repeats_are_merged_then_suppressed(fx: &dyn Fixture) {
    let s = fx.open();
    let first = s.enqueue(&[coalesced("1", "disk full")]).unwrap();
    // one line with the same request twice, then more: all the same row
    let again = s
        .enqueue(&[coalesced("1", "disk full"), coalesced("1", "disk full")])
        .unwrap();
    assert_eq!(again, [first[0], first[0]]);
    // an urgent repeat makes the queued one urgent
    let urgent = NewMessage {
        options: Options {
            priority: Priority::Urgent,
            ..Options::default()
        },
        ..coalesced("1", "disk full")
    };
    assert_eq!(s.enqueue(&[urgent]).unwrap(), first);
    // another number, another text, no window: messages of their own
    let other = s
        .enqueue(&[
            coalesced("2", "disk full"),
            coalesced("1", "disk ok"),
            msg("1", "disk full"),
        ])
        .unwrap();
    assert!(!other.contains(&first[0]));
    assert_eq!(s.queue_stats().unwrap().depth, 4);
    let batch = s.claim_due("a", LONG, 10).unwrap();
    let m = &batch[0];
    assert_eq!(
        (m.id, m.repeats, m.priority),
        (first[0], 3, Priority::Urgent)
    );
    assert_eq!(m.text_to_send(10), "disk full (x4)");
    // merged while on the air: counted, the text already went
    s.enqueue(&[coalesced("1", "disk full")]).unwrap();
    assert!(s.finish(m.id, "a", &sent(1, "1")).unwrap());
    let row = s.sms(m.id).unwrap().unwrap();
    assert_eq!((row.status, row.repeats), (SmsStatus::Sent, 4));
    // now sent: a repeat within the window is recorded, not queued
    let rep = s.enqueue(&[coalesced("1", "disk full")]).unwrap();
    assert_ne!(rep, first);
    let row = s.sms(rep[0]).unwrap().unwrap();
    assert_eq!(row.status, SmsStatus::Suppressed);
    assert_eq!(row.coalesced_into, Some(first[0]));
    assert_eq!(row.sent_at, None);
    assert_eq!(s.queue_stats().unwrap().depth, 3);
    // outside the window: queued again
    let later = NewMessage {
        coalesce_window: Duration::from_millis(1),
        ..msg("1", "disk full")
    };
    thread::sleep(Duration::from_millis(20));
    let again = s.enqueue(&[later]).unwrap();
    assert!(s.sms(again[0]).unwrap().is_none(), "queued, not recorded");
    assert_eq!(s.queue_stats().unwrap().depth, 4);
}

fn concurrent_repeats_make_one_row(fx: &dyn Fixture) {
    let s = fx.open();
    let ids: Vec<i64> = thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let s = &s;
                scope.spawn(move || {
                    (0..10)
                        .map(|_| s.enqueue(&[coalesced("1", "storm")]).unwrap()[0])
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert_eq!(ids.len(), 80);
    assert!(ids.iter().all(|&id| id == ids[0]), "{ids:?}");
    let batch = s.claim_due("a", LONG, 10).unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].repeats, 79);
}

fn a_resumed_multipart_send_keeps_its_count(fx: &dyn Fixture) {
    let s = fx.open();
    let long = "y".repeat(300);
    let id = s.enqueue(&[coalesced("1", &long)]).unwrap()[0];
    s.enqueue(&[coalesced("1", &long)]).unwrap();
    let m = s.claim_due("a", LONG, 1).unwrap().remove(0);
    assert_eq!(m.text_to_send(10), format!("{long} (x2)"));
    s.save_progress(id, "a", 7, 1, "5", m.repeats_shown(10))
        .unwrap();
    // more repeats come while it is half sent; the send resumes later
    s.enqueue(&[coalesced("1", &long), coalesced("1", &long)])
        .unwrap();
    s.release_claims("a").unwrap();
    let m = s.claim_due("b", LONG, 1).unwrap().remove(0);
    assert_eq!((m.repeats, m.parts_done), (3, 1));
    assert_eq!(m.text_to_send(10), format!("{long} (x2)"), "the same text");
    // a count that does not fit is left off
    assert_eq!(m.text_to_send(1), long);
}

fn ttl_send_at_and_window_are_kept(fx: &dyn Fixture) {
    let s = fx.open();
    let with = |text: &str, options: Options| NewMessage {
        options,
        ..msg("1", text)
    };
    let queued = s
        .enqueue(&[
            with(
                "short",
                Options {
                    ttl: Some(Duration::from_millis(300)),
                    ..Options::default()
                },
            ),
            with(
                "later",
                Options {
                    send_at: Some(SendAt::In(LONG)),
                    ..Options::default()
                },
            ),
            with(
                "at a time",
                Options {
                    send_at: Some(SendAt::At("2099-01-01 00:00:00.000".into())),
                    ..Options::default()
                },
            ),
            with(
                "flash",
                Options {
                    flash: true,
                    ttl: Some(Duration::from_secs(3600)),
                    window: Some(Window {
                        after: Some(60),
                        before: None,
                    }),
                    ..Options::default()
                },
            ),
        ])
        .unwrap();
    // the held ones are not due
    let batch = s.claim_due("a", LONG, 10).unwrap();
    assert_eq!(ids(&batch), [queued[0], queued[3]]);
    let f = &batch[1];
    assert!(f.flash);
    assert!(
        f.expires_in
            .is_some_and(|left| (3500..=3600).contains(&left))
    );
    assert_eq!(
        f.window,
        Some(Window {
            after: Some(60),
            before: None
        })
    );
    assert!(f.local_minute < 24 * 60);
    // a claimed message does not expire under its sender
    s.release("a", &[queued[0]]).unwrap();
    thread::sleep(Duration::from_millis(500));
    assert_eq!(s.expire_due().unwrap(), [queued[0]]);
    let row = s.sms(queued[0]).unwrap().unwrap();
    assert_eq!(row.status, SmsStatus::Expired);
    assert!(s.expire_due().unwrap().is_empty());
    // postponed: not due, claim gone, no attempt charged
    s.postpone(queued[3], "a", LONG).unwrap();
    assert!(
        s.postpone(queued[3], "a", LONG).is_err(),
        "no longer claimed"
    );
    assert!(s.claim_due("b", LONG, 10).unwrap().is_empty());
    // an expired message finished by its sender
    let id = s
        .enqueue(&[with(
            "gone",
            Options {
                ttl: Some(Duration::from_millis(1)),
                ..Options::default()
            },
        )])
        .unwrap()[0];
    thread::sleep(Duration::from_millis(20));
    let m = s.claim_due("c", LONG, 1).unwrap().remove(0);
    assert!(m.expires_in.is_some_and(|left| left <= 0));
    assert!(s.finish(id, "c", &Outcome::Expired).unwrap());
    assert_eq!(s.sms(id).unwrap().unwrap().status, SmsStatus::Expired);
}

fn totals_and_the_queue_in_send_order(fx: &dyn Fixture) {
    let s = fx.open();
    let first = s.enqueue(&[coalesced("1", "a")]).unwrap()[0];
    s.enqueue(&[coalesced("1", "a"), coalesced("1", "a")])
        .unwrap();
    let m = s.claim_due("x", LONG, 1).unwrap().remove(0);
    assert_eq!(m.id, first);
    assert!(s.finish(first, "x", &sent(1, "1")).unwrap());
    s.enqueue(&[coalesced("1", "a")]).unwrap(); // suppressed
    let normal = s.enqueue(&[msg("2", "n")]).unwrap()[0];
    let later = s
        .enqueue(&[NewMessage {
            options: Options {
                send_at: Some(SendAt::In(LONG)),
                priority: Priority::Urgent,
                ..Options::default()
            },
            ..msg("2", "later")
        }])
        .unwrap()[0];
    let urgent = s
        .enqueue(&[with_priority("2", "u", Priority::Urgent)])
        .unwrap()[0];
    s.enqueue(&[NewMessage {
        options: Options {
            ttl: Some(Duration::from_millis(1)),
            ..Options::default()
        },
        ..msg("3", "gone")
    }])
    .unwrap();
    thread::sleep(Duration::from_millis(20));
    assert_eq!(s.expire_due().unwrap().len(), 1);
    let t = s.totals().unwrap();
    assert_eq!(
        (t.sent, t.merged, t.suppressed, t.expired, t.queued_urgent),
        (1, 2, 1, 1, 2)
    );
    let order = |send_order| -> Vec<i64> {
        s.list_queued(&ListFilter {
            limit: 10,
            send_order,
            ..ListFilter::default()
        })
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect()
    };
    assert_eq!(
        order(true),
        [urgent, normal, later],
        "as the modem will send"
    );
    assert_eq!(order(false), [urgent, later, normal], "newest first");
}

fn release_claims_makes_rows_due(fx: &dyn Fixture) {
    let s = fx.open();
    let all = s
        .enqueue(&[msg("1", "a"), msg("2", "b"), msg("3", "c")])
        .unwrap();
    assert_eq!(s.claim_due("a", LONG, 2).unwrap().len(), 2);
    assert_eq!(s.claim_due("other", LONG, 2).unwrap().len(), 1);
    assert_eq!(s.release_claims("a").unwrap(), 2);
    assert_eq!(s.release_claims("a").unwrap(), 0);
    assert_eq!(ids(&s.claim_due("b", LONG, 10).unwrap()), all[..2]);
}

fn retry_later_delays_and_counts(fx: &dyn Fixture) {
    let s = fx.open();
    let id = s.enqueue(&[msg("1", "retry me")]).unwrap()[0];
    s.claim_due("a", LONG, 1).unwrap();
    let err = s
        .retry_later(id, "b", "not mine", Duration::from_secs(1))
        .unwrap_err();
    assert!(err.kind() == ErrorKind::Other, "{err:?}");
    s.retry_later(id, "a", "+CMS ERROR: 38", Duration::from_secs(1))
        .unwrap();
    assert!(s.claim_due("b", LONG, 10).unwrap().is_empty());

    thread::sleep(Duration::from_millis(1300));
    let rows = s.claim_due("b", LONG, 10).unwrap();
    assert_eq!(ids(&rows), [id]);
    assert_eq!(rows[0].attempts, 1);
    s.retry_later(id, "b", "again", Duration::from_millis(0))
        .unwrap();
    let rows = s.claim_due("c", LONG, 10).unwrap();
    assert_eq!(rows[0].attempts, 2);
}

fn huge_delays_are_not_due_now(fx: &dyn Fixture) {
    let s = fx.open();
    let id = s.enqueue(&[msg("1", "x")]).unwrap()[0];
    s.claim_due("a", Duration::MAX, 1).unwrap();
    assert!(s.claim_due("b", LONG, 1).unwrap().is_empty());
    s.retry_later(id, "a", "later", Duration::MAX).unwrap();
    assert!(s.claim_due("b", LONG, 1).unwrap().is_empty());
}

fn due_retries_and_fresh_rows_come_in_id_order(fx: &dyn Fixture) {
    let s = fx.open();
    let all = s
        .enqueue(
            &(0..6)
                .map(|i| msg("1", &format!("m{i}")))
                .collect::<Vec<_>>(),
        )
        .unwrap();
    // 1 and 3 fail once and are due again at once; 4 waits.
    s.claim_due("a", LONG, 6).unwrap();
    s.retry_later(all[1], "a", "e", Duration::ZERO).unwrap();
    s.retry_later(all[3], "a", "e", Duration::ZERO).unwrap();
    s.retry_later(all[4], "a", "e", LONG).unwrap();
    s.release_claims("a").unwrap();
    let rows = s.claim_due("b", LONG, 3).unwrap();
    assert_eq!(ids(&rows), [all[0], all[1], all[2]]);
    let rows = s.claim_due("b", LONG, 10).unwrap();
    assert_eq!(ids(&rows), [all[3], all[5]]);
}

fn finish_moves_row_to_sms(fx: &dyn Fixture) {
    let s = fx.open();
    let id = s.enqueue(&[msg("420608337726", "AHOJ")]).unwrap()[0];
    let row = s.claim_due("host1", LONG, 1).unwrap().remove(0);
    assert!(s.finish(id, "host1", &sent(2, "17,18")).unwrap());

    let sms = s.sms(id).unwrap().expect("sms row");
    assert_eq!(sms.id, id);
    assert_eq!(sms.phone, "420608337726");
    assert_eq!(sms.text, "AHOJ");
    assert_eq!(sms.source, "ip:192.0.2.7");
    assert_eq!(sms.queued_at, row.created);
    assert!(sms.sent_at.is_some());
    assert_eq!(sms.status, SmsStatus::Sent);
    assert_eq!(sms.parts, 2);
    assert_eq!(sms.part_refs, "17,18");
    assert_eq!(sms.error, None);
    assert_eq!(sms.attempts, 0);
    assert_eq!(sms.sent_by, "host1");

    assert_eq!(fx.scalar("SELECT COUNT(*) FROM msg"), Some(0));
    assert_eq!(s.queue_stats().unwrap().depth, 0);
    assert!(s.claim_due("host1", LONG, 10).unwrap().is_empty());
    assert!(!s.finish(id, "host1", &sent(2, "17,18")).unwrap());
    assert_eq!(s.sms(id + 1000).unwrap(), None);
}

fn finish_by_non_owner_changes_nothing(fx: &dyn Fixture) {
    let s = fx.open();
    let id = s.enqueue(&[msg("1", "x")]).unwrap()[0];
    assert!(!s.finish(id, "a", &sent(1, "1")).unwrap(), "unclaimed");
    s.claim_due("a", LONG, 1).unwrap();
    assert!(!s.finish(id, "b", &sent(1, "1")).unwrap());
    let failed = Outcome::Failed { error: "x".into() };
    assert!(!s.finish(id, "b", &failed).unwrap());
    assert_eq!(s.sms(id).unwrap(), None);
    assert_eq!(fx.scalar("SELECT COUNT(*) FROM sms"), Some(0));
    assert_eq!(s.queue_stats().unwrap().depth, 1);
    // still a's
    assert!(s.claim_due("b", LONG, 10).unwrap().is_empty());
    assert!(s.finish(id, "a", &sent(1, "1")).unwrap());
}

fn save_progress_is_seen_by_next_claim(fx: &dyn Fixture) {
    let s = fx.open();
    let id = s.enqueue(&[msg("1", "long text")]).unwrap()[0];
    s.claim_due("a", LONG, 1).unwrap();
    assert!(matches!(
        s.save_progress(id, "b", 1, 1, "1", 0),
        Err(e) if e.kind() == ErrorKind::Other
    ));
    s.save_progress(id, "a", 200, 1, "5", 0).unwrap();
    s.save_progress(id, "a", 200, 2, "5,6", 0).unwrap();
    s.save_progress(id, "a", 200, 2, "5,6", 0).unwrap(); // same again: still fine
    s.release_claims("a").unwrap();
    let row = s.claim_due("b", LONG, 1).unwrap().remove(0);
    assert_eq!(row.concat_ref, Some(200));
    assert_eq!(row.parts_done, 2);
    assert_eq!(row.part_refs, "5,6");
    assert_eq!(row.attempts, 0);
}

fn failed_outcome_is_recorded(fx: &dyn Fixture) {
    let s = fx.open();
    let id = s.enqueue(&[msg("999", "doomed")]).unwrap()[0];
    s.claim_due("a", LONG, 1).unwrap();
    s.save_progress(id, "a", 7, 1, "9", 0).unwrap();
    s.retry_later(id, "a", "+CMS ERROR: 500", Duration::ZERO)
        .unwrap();
    s.claim_due("a", LONG, 1).unwrap();
    let outcome = Outcome::Failed {
        error: "invalid number".into(),
    };
    assert!(s.finish(id, "a", &outcome).unwrap());
    let sms = s.sms(id).unwrap().unwrap();
    assert_eq!(sms.status, SmsStatus::Failed);
    assert_eq!(sms.sent_at, None);
    assert_eq!(sms.error.as_deref(), Some("invalid number"));
    assert_eq!(sms.attempts, 1);
    assert_eq!(sms.parts, 1);
    assert_eq!(sms.part_refs, "9");
    assert_eq!(sms.sent_by, "a");
}

fn utf8_round_trip(fx: &dyn Fixture) {
    let s = fx.open();
    let texts = [
        "Příliš žluťoučký kůň 😀",
        "€[]{}",
        "quote ' \" back\\slash ;#% _",
    ];
    let new: Vec<_> = texts.iter().map(|t| msg("420608337726", t)).collect();
    let got = s.enqueue(&new).unwrap();
    let rows = s.claim_due("a", LONG, 10).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.text.as_str()).collect::<Vec<_>>(),
        texts
    );
    for id in &got {
        assert!(s.finish(*id, "a", &sent(1, "1")).unwrap());
    }
    let recent = s.recent_sms(10).unwrap();
    let mut back: Vec<_> = recent.iter().map(|r| r.text.as_str()).collect();
    back.reverse();
    assert_eq!(back, texts);
    let error = "chyba: žádný signál 📵".to_string();
    let id = s.enqueue(&[msg("1", "x")]).unwrap()[0];
    s.claim_due("a", LONG, 1).unwrap();
    s.finish(
        id,
        "a",
        &Outcome::Failed {
            error: error.clone(),
        },
    )
    .unwrap();
    assert_eq!(s.sms(id).unwrap().unwrap().error, Some(error));
}

fn recent_sms_newest_first(fx: &dyn Fixture) {
    let s = fx.open();
    let all = s
        .enqueue(
            &(0..4)
                .map(|i| msg("1", &format!("m{i}")))
                .collect::<Vec<_>>(),
        )
        .unwrap();
    for id in &all {
        s.claim_due("a", LONG, 1).unwrap();
        assert!(s.finish(*id, "a", &sent(1, "1")).unwrap());
    }
    let recent = s.recent_sms(3).unwrap();
    assert_eq!(
        recent.iter().map(|r| r.id).collect::<Vec<_>>(),
        [all[3], all[2], all[1]]
    );
    assert!(s.recent_sms(0).unwrap().is_empty());
}

fn queue_stats_reports_depth_and_oldest(fx: &dyn Fixture) {
    let s = fx.open();
    assert_eq!(
        s.queue_stats().unwrap(),
        QueueStats {
            depth: 0,
            oldest: None,
            oldest_age_secs: None
        }
    );
    s.execute_sql(
        "INSERT INTO msg (phone, text, created) VALUES ('1', 'old', '2020-01-01 00:00:00.000')",
    )
    .unwrap();
    s.enqueue(&[msg("2", "new"), msg("3", "newer")]).unwrap();
    let st = s.queue_stats().unwrap();
    assert_eq!(st.depth, 3);
    assert_eq!(st.oldest.as_deref(), Some("2020-01-01 00:00:00.000"));
    let expected = now_secs() - parse_utc("2020-01-01 00:00:00.000");
    let age = st.oldest_age_secs.unwrap();
    assert!(
        (age - expected).abs() < 120,
        "age {age}, expected {expected}"
    );

    // Only the fresh ones: the age is small.
    let old = s.claim_due("a", LONG, 1).unwrap().remove(0);
    assert_eq!(old.text, "old");
    assert!(s.finish(old.id, "a", &sent(1, "1")).unwrap());
    let st = s.queue_stats().unwrap();
    assert_eq!(st.depth, 2);
    let age = st.oldest_age_secs.unwrap();
    assert!((0..120).contains(&age), "{age}");
    assert!(parse_utc(st.oldest.as_deref().unwrap()) > parse_utc("2025-01-01 00:00:00.000"));
}

fn migrations_are_idempotent(fx: &dyn Fixture) {
    let s = fx.open();
    s.enqueue(&[msg("1", "kept")]).unwrap();
    drop(s);
    let s = fx.open();
    drop(s);
    assert_eq!(fx.scalar("SELECT COUNT(*) FROM smss_schema"), Some(1));
    assert_eq!(
        fx.scalar("SELECT version FROM smss_schema"),
        Some(SCHEMA_VERSION as i64)
    );
    let s = open(&fx.url(), false).unwrap();
    assert_eq!(s.queue_stats().unwrap().depth, 1);
}

fn open_without_schema_is_a_schema_error(fx: &dyn Fixture) {
    match open(&fx.url(), false) {
        Err(e) if e.kind() == ErrorKind::Schema => {
            // the commands add `run smss init-db ...` with their options
            assert!(e.needs_init(), "{e}")
        }
        Err(e) => panic!("expected a schema error, got {e:?}"),
        Ok(_) => panic!("expected a schema error, got a store"),
    }
    // and still usable for init-db afterwards
    fx.open();
}

fn newer_schema_is_refused(fx: &dyn Fixture) {
    let s = fx.open();
    s.execute_sql(&format!(
        "UPDATE smss_schema SET version = {}",
        SCHEMA_VERSION + 1
    ))
    .unwrap();
    drop(s);
    for create in [true, false] {
        match open(&fx.url(), create) {
            Err(e) if e.kind() == ErrorKind::Schema => {
                assert!(e.message().contains("newer"), "{e}")
            }
            Err(e) => panic!("expected a schema error, got {e:?}"),
            Ok(_) => panic!("expected a schema error, got a store"),
        }
    }
}

fn concurrent_claimers_never_share_a_row(fx: &dyn Fixture) {
    let s = fx.open();
    let all: BTreeSet<i64> = s
        .enqueue(
            &(0..60)
                .map(|i| msg("1", &format!("m{i}")))
                .collect::<Vec<_>>(),
        )
        .unwrap()
        .into_iter()
        .collect();
    drop(s);
    let url = fx.url();
    let handles: Vec<_> = (0..4)
        .map(|n| {
            let url = url.clone();
            thread::spawn(move || {
                // each sender with a store (connection / pool) of its own
                let s = open(&url, false).unwrap();
                let owner = format!("host{n}");
                let mut mine = Vec::new();
                loop {
                    let rows = s.claim_due(&owner, LONG, 4).unwrap();
                    if rows.is_empty() {
                        break;
                    }
                    for r in rows {
                        assert!(s.finish(r.id, &owner, &sent(1, "1")).unwrap());
                        mine.push(r.id);
                    }
                }
                mine
            })
        })
        .collect();
    let mut seen = Vec::new();
    for h in handles {
        seen.extend(h.join().unwrap());
    }
    let unique: BTreeSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "a row was claimed twice");
    assert_eq!(unique, all);
    assert_eq!(fx.scalar("SELECT COUNT(*) FROM sms"), Some(60));
}

// ---------------------------------------------------------------- receiving

fn received(sender: &str, text: &str) -> Received {
    Received {
        sender: sender.into(),
        text: text.into(),
        coding: Coding::Decoded(DataCoding::Gsm7),
        smsc_time: "2026-11-30 01:02:03+01:00".into(),
        smsc: Some("+420603052000".into()),
        parts: 1,
        complete: true,
        dedupe_key: dedupe_key(sender, "2026-11-30 01:02:03+01:00", None, text),
        pid: 0,
        ports: None,
    }
}

fn part(
    reference: u16,
    total: u8,
    seq: u8,
    coding: DataCoding,
    body_hex: &str,
    text: &str,
) -> ReceivedPart {
    ReceivedPart {
        sender: "+420608337726".into(),
        reference,
        ref16: false,
        total,
        seq,
        coding: Coding::Decoded(coding),
        tables: Tables::DEFAULT,
        pid: 0,
        ports: None,
        body_hex: body_hex.into(),
        text: text.into(),
        smsc_time: format!("2026-11-30 01:02:0{seq}+01:00"),
        smsc: None,
        dedupe_key: dedupe_key(
            "+420608337726",
            &format!("2026-11-30 01:02:0{seq}+01:00"),
            Some((reference, total, seq)),
            body_hex,
        ),
    }
}

fn received_message_is_stored_once(fx: &dyn Fixture) {
    let s = fx.open();
    let m = received("+420608337726", "Příliš žluťoučký 😀 €{}");
    let Saved::New(id) = s.save_received(&m).unwrap() else {
        panic!()
    };
    // read again after a crash between commit and AT+CMGD
    assert_eq!(s.save_received(&m).unwrap(), Saved::Duplicate);
    let rows = s.recent_rcv(10).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].id, rows[0].text.as_str(), rows[0].complete),
        (id, m.text.as_str(), true)
    );
    // same sender and time, other text: another message
    assert!(matches!(
        s.save_received(&received("+420608337726", "other"))
            .unwrap(),
        Saved::New(_)
    ));
}

fn parts_join_in_order_whatever_order_they_arrive(fx: &dyn Fixture) {
    let s = fx.open();
    // UCS-2 "AB😀C" split by the sender inside the surrogate pair
    let p1 = part(7, 3, 1, DataCoding::Ucs2, "00410042", "AB");
    let p2 = part(7, 3, 2, DataCoding::Ucs2, "D83D", "\u{FFFD}");
    let p3 = part(7, 3, 3, DataCoding::Ucs2, "DE000043", "\u{FFFD}C");
    assert_eq!(s.save_part(&p3).unwrap().saved, Saved::Waiting);
    assert_eq!(s.save_part(&p1).unwrap().saved, Saved::Waiting);
    assert_eq!(s.save_part(&p1).unwrap().saved, Saved::Duplicate);
    let Saved::New(id) = s.save_part(&p2).unwrap().saved else {
        panic!()
    };
    let rows = s.recent_rcv(10).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].id, rows[0].text.as_str(), rows[0].parts),
        (id, "AB😀C", 3)
    );
    assert_eq!(rows[0].coding, Coding::Decoded(DataCoding::Ucs2));
    // a part read again after the set was joined changes nothing
    assert_eq!(s.save_part(&p2).unwrap().saved, Saved::Duplicate);
    assert_eq!(s.recent_rcv(10).unwrap().len(), 1);
    assert_eq!(
        fx.scalar("SELECT COUNT(*) FROM rcv_part WHERE rcv_id IS NULL"),
        Some(0)
    );
}

fn incomplete_sets_are_stored_after_their_time(fx: &dyn Fixture) {
    let s = fx.open();
    // GSM 7-bit septets "ab" and "d": part 2 of 3 never comes
    assert_eq!(
        s.save_part(&part(9, 3, 1, DataCoding::Gsm7, "6162", "ab"))
            .unwrap()
            .saved,
        Saved::Waiting
    );
    assert_eq!(
        s.save_part(&part(9, 3, 3, DataCoding::Gsm7, "64", "d"))
            .unwrap()
            .saved,
        Saved::Waiting
    );
    assert!(
        s.flush_parts(Duration::from_secs(3600), LONG)
            .unwrap()
            .is_empty()
    );
    thread::sleep(Duration::from_millis(1100));
    let ids = s.flush_parts(Duration::from_secs(1), LONG).unwrap();
    assert_eq!(ids.len(), 1);
    let row = &s.recent_rcv(1).unwrap()[0];
    assert_eq!(
        (row.text.as_str(), row.parts, row.complete),
        ("abd", 2, false)
    );
    assert!(
        s.flush_parts(Duration::from_secs(1), LONG)
            .unwrap()
            .is_empty()
    );
    // joined parts are forgotten after `keep`
    thread::sleep(Duration::from_millis(1100));
    s.flush_parts(Duration::from_secs(1), Duration::from_secs(1))
        .unwrap();
    assert_eq!(fx.scalar("SELECT COUNT(*) FROM rcv_part"), Some(0));
}

/// A part of a set from +420608337726 with its own time stamp (so that
/// each has its own key, as two messages do).
fn part_at(
    reference: u16,
    ref16: bool,
    (total, seq): (u8, u8),
    time: &str,
    text: &str,
) -> ReceivedPart {
    // 7-bit: the body is the text's septets, as hex.
    let body_hex = crate::gsm::to_hex(&Tables::DEFAULT.encode(text).unwrap());
    let smsc_time = format!("2026-11-30 01:02:{time}+01:00");
    ReceivedPart {
        dedupe_key: dedupe_key(
            "+420608337726",
            &smsc_time,
            Some((reference, total, seq)),
            &body_hex,
        ),
        sender: "+420608337726".into(),
        reference,
        ref16,
        total,
        seq,
        coding: Coding::Decoded(DataCoding::Gsm7),
        tables: Tables::DEFAULT,
        pid: 0,
        ports: None,
        body_hex,
        text: text.into(),
        smsc_time,
        smsc: None,
    }
}

/// Texts, part counts and completeness of `rcv`, oldest first.
fn rcv_rows(s: &dyn StoreDiagnostics) -> Vec<(String, u32, bool)> {
    let mut rows: Vec<_> = s
        .recent_rcv(100)
        .unwrap()
        .into_iter()
        .map(|r| (r.text, r.parts, r.complete))
        .collect();
    rows.reverse();
    rows
}

fn row(text: &str, parts: u32, complete: bool) -> (String, u32, bool) {
    (text.into(), parts, complete)
}

/// Issue 16, item 1: a part lost, then the reference reused within the
/// multipart timeout.
fn a_reused_reference_starts_a_new_set(fx: &dyn Fixture) {
    let s = fx.open();
    let lost1 = part_at(77, false, (2, 1), "01", "LOST-1");
    let next1 = part_at(77, false, (2, 1), "05", "NEXT-1");
    let next2 = part_at(77, false, (2, 2), "06", "NEXT-2");
    assert_eq!(s.save_part(&lost1).unwrap().saved, Saved::Waiting);
    // Part 1 again, other content: the waiting set is stored on its own.
    let got = s.save_part(&next1).unwrap();
    assert_eq!(got.saved, Saved::Waiting);
    let stale = got.stale.expect("the stale set stored");
    assert_eq!(rcv_rows(&*s), [row("LOST-1", 1, false)]);
    assert_eq!(s.rcv(stale).unwrap().unwrap().text, "LOST-1");
    let Saved::New(id) = s.save_part(&next2).unwrap().saved else {
        panic!("the new set is complete")
    };
    assert_eq!(
        rcv_rows(&*s),
        [row("LOST-1", 1, false), row("NEXT-1NEXT-2", 2, true)]
    );
    assert_eq!(s.rcv(id).unwrap().unwrap().parts, 2);
    // Each part read again after a crash: recognised, nothing doubled.
    for p in [&lost1, &next1, &next2] {
        assert_eq!(
            s.save_part(p).unwrap(),
            PartSaved {
                saved: Saved::Duplicate,
                stale: None
            }
        );
    }
    assert_eq!(rcv_rows(&*s).len(), 2);
    // The same part read twice while its set waits is a duplicate, not a
    // reuse.
    let a1 = part_at(78, false, (3, 1), "10", "A1");
    assert_eq!(s.save_part(&a1).unwrap().saved, Saved::Waiting);
    assert_eq!(
        s.save_part(&a1).unwrap(),
        PartSaved {
            saved: Saved::Duplicate,
            stale: None
        }
    );
    assert_eq!(
        fx.scalar("SELECT COUNT(*) FROM rcv_part WHERE rcv_id IS NULL"),
        Some(1)
    );
    // Nothing waits longer than it should: the flush finds only A1's set.
    thread::sleep(Duration::from_millis(1100));
    let ids = s.flush_parts(Duration::from_secs(1), LONG).unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!(rcv_rows(&*s).last().unwrap(), &row("A1", 1, false));
}

/// Issue 16, item 2.
fn eight_and_sixteen_bit_references_are_different_sets(fx: &dyn Fixture) {
    let s = fx.open();
    let a1 = part_at(300 % 256, false, (2, 1), "01", "eight-1 ");
    let b2 = part_at(300 % 256, true, (2, 2), "02", "sixteen-2");
    assert_eq!(s.save_part(&a1).unwrap().saved, Saved::Waiting);
    assert_eq!(s.save_part(&b2).unwrap().saved, Saved::Waiting);
    assert!(rcv_rows(&*s).is_empty(), "joined across reference sizes");
    let a2 = part_at(300 % 256, false, (2, 2), "03", "eight-2");
    let b1 = part_at(300 % 256, true, (2, 1), "04", "sixteen-1 ");
    assert!(matches!(s.save_part(&a2).unwrap().saved, Saved::New(_)));
    assert!(matches!(s.save_part(&b1).unwrap().saved, Saved::New(_)));
    assert_eq!(
        rcv_rows(&*s),
        [
            row("eight-1 eight-2", 2, true),
            row("sixteen-1 sixteen-2", 2, true)
        ]
    );
    assert_eq!(
        fx.scalar("SELECT COUNT(*) FROM rcv_part WHERE ref_bits = 16"),
        Some(2)
    );
}

/// A Turkish single shift escape split across parts joins whole.
fn national_parts_join_with_their_tables(fx: &dyn Fixture) {
    let s = fx.open();
    let tr = crate::gsm::Tables::single_shift(crate::gsm::Language::Turkish);
    // "Kuş" = 4B 75 | 1B 73: the escape ends part 1, its septet starts part 2.
    let mut p1 = part(9, 2, 1, DataCoding::Gsm7, "4B751B", "Ku");
    let mut p2 = part(9, 2, 2, DataCoding::Gsm7, "73", "s");
    p1.tables = tr;
    p2.tables = tr;
    assert_eq!(s.save_part(&p1).unwrap().saved, Saved::Waiting);
    let Saved::New(id) = s.save_part(&p2).unwrap().saved else {
        panic!()
    };
    assert_eq!(s.rcv(id).unwrap().unwrap().text, "Kuş");
}

fn silent_messages_and_replace_types(fx: &dyn Fixture) {
    let s = fx.open();
    let with = |sender: &str, text: &str, pid: u8| Received {
        pid,
        ..received(sender, text)
    };
    // Type 0: stored as such.
    let Saved::New(silent) = s.save_received(&with("+420111", "ping", 0x40)).unwrap() else {
        panic!()
    };
    assert!(s.rcv(silent).unwrap().unwrap().silent());
    // Replace type 1 from one sender, twice: the first is replaced.
    let r1 = with("+420222", "voicemail: 1 new", 0x41);
    let Saved::New(first) = s.save_received(&r1).unwrap() else {
        panic!()
    };
    let Saved::New(other_type) = s.save_received(&with("+420222", "type 2", 0x42)).unwrap() else {
        panic!()
    };
    let Saved::New(other_sender) = s.save_received(&with("+420333", "other", 0x41)).unwrap() else {
        panic!()
    };
    let Saved::New(plain) = s.save_received(&with("+420222", "plain", 0x00)).unwrap() else {
        panic!()
    };
    let Saved::New(second) = s
        .save_received(&with("+420222", "voicemail: 2 new", 0x41))
        .unwrap()
    else {
        panic!()
    };
    let by = |id| s.rcv(id).unwrap().unwrap().replaced_by;
    assert_eq!(by(first), Some(second));
    assert_eq!(by(second), None);
    assert_eq!(by(other_type), None);
    assert_eq!(by(other_sender), None);
    assert_eq!(by(plain), None);
    assert!(!s.rcv(first).unwrap().unwrap().silent());
    // The replaced one read again after a crash: a duplicate, and it does
    // not come back in place of the newer one.
    assert_eq!(s.save_received(&r1).unwrap(), Saved::Duplicate);
    assert_eq!(by(second), None);
    // A joined set of replace type 1 replaces too.
    let mut p1 = part(11, 2, 1, DataCoding::Gsm7, "6162", "ab");
    let mut p2 = part(11, 2, 2, DataCoding::Gsm7, "63", "c");
    for p in [&mut p1, &mut p2] {
        p.sender = "+420222".into();
        p.pid = 0x41;
    }
    s.save_part(&p1).unwrap();
    let Saved::New(third) = s.save_part(&p2).unwrap().saved else {
        panic!()
    };
    assert_eq!(by(second), Some(third));
    let row = s.rcv(third).unwrap().unwrap();
    assert_eq!((row.text.as_str(), row.pid), ("abc", 0x41));
}

fn application_ports_are_stored(fx: &dyn Fixture) {
    let s = fx.open();
    let push = crate::gsm::Ports {
        destination: 2948,
        source: 9200,
    };
    let m = Received {
        coding: Coding::Decoded(DataCoding::EightBit),
        ports: Some(push),
        ..received("+420444", "010603AE81EA02056A00")
    };
    let Saved::New(id) = s.save_received(&m).unwrap() else {
        panic!()
    };
    let row = s.rcv(id).unwrap().unwrap();
    assert_eq!(row.ports, Some(push));
    assert!(row.ports.unwrap().is_wap_push());
    // In parts: the joined row has the ports.
    let mut p1 = part(12, 2, 1, DataCoding::EightBit, "0106", "0106");
    let mut p2 = part(12, 2, 2, DataCoding::EightBit, "03AE", "03AE");
    p1.ports = Some(push);
    p2.ports = Some(push);
    s.save_part(&p1).unwrap();
    let Saved::New(id) = s.save_part(&p2).unwrap().saved else {
        panic!()
    };
    let row = s.rcv(id).unwrap().unwrap();
    assert_eq!((row.text.as_str(), row.ports), ("010603AE", Some(push)));
    assert_eq!(s.recent_rcv(1).unwrap()[0].ports, Some(push));
    // No ports: none.
    let Saved::New(id) = s.save_received(&received("+420444", "hi")).unwrap() else {
        panic!()
    };
    assert_eq!(s.rcv(id).unwrap().unwrap().ports, None);
}

fn delivery_reports_match_the_sent_row(fx: &dyn Fixture) {
    let s = fx.open();
    let ids = s
        .enqueue(&[
            msg("420608337726", "single"),
            msg("+420777123456", "three parts"),
        ])
        .unwrap();
    let rows = s.claim_due("me", LONG, 10).unwrap();
    assert_eq!(rows.len(), 2);
    s.finish(ids[0], "me", &sent(1, "17")).unwrap();
    s.finish(ids[1], "me", &sent(3, "18,19,20")).unwrap();
    let report = |mr: u8, to: &str, st: u8| DeliveryReport {
        mr,
        recipient: to.into(),
        st,
        discharged: "2026-11-30 01:02:03+01:00".into(),
    };
    assert_eq!(
        s.save_report(&report(17, "+420608337726", 0)).unwrap(),
        Some((ids[0], ReportStatus::Delivered))
    );
    assert_eq!(
        s.sms(ids[0]).unwrap().unwrap().report_status,
        Some(ReportStatus::Delivered)
    );
    // unknown reference or other number: no match
    assert_eq!(
        s.save_report(&report(99, "+420608337726", 0)).unwrap(),
        None
    );
    assert_eq!(
        s.save_report(&report(17, "+420111222333", 0)).unwrap(),
        None
    );
    // multipart: delivered only when every part is
    assert_eq!(
        s.save_report(&report(18, "00420777123456", 0)).unwrap(),
        Some((ids[1], ReportStatus::Pending))
    );
    assert_eq!(
        s.save_report(&report(19, "+420777123456", 0x20)).unwrap(),
        Some((ids[1], ReportStatus::Pending))
    );
    assert_eq!(
        s.save_report(&report(19, "+420777123456", 0)).unwrap(),
        Some((ids[1], ReportStatus::Pending))
    );
    assert_eq!(
        s.save_report(&report(20, "+420777123456", 0)).unwrap(),
        Some((ids[1], ReportStatus::Delivered))
    );
    assert_eq!(
        s.save_report(&report(20, "+420777123456", 0x41)).unwrap(),
        Some((ids[1], ReportStatus::Failed))
    );
}

#[test]
fn stored_names_round_trip() {
    for status in [
        SmsStatus::Sent,
        SmsStatus::Failed,
        SmsStatus::Suppressed,
        SmsStatus::Expired,
    ] {
        assert_eq!(SmsStatus::parse(status.as_str()), Some(status));
    }
    for report in [
        ReportStatus::Delivered,
        ReportStatus::Pending,
        ReportStatus::Failed,
    ] {
        assert_eq!(ReportStatus::parse(report.as_str()), Some(report));
    }
    for coding in ["gsm7", "ucs2", "8bit", "raw"] {
        assert_eq!(Coding::parse(coding).map(Coding::as_str), Some(coding));
    }
    assert_eq!(Coding::parse("utf9"), None);
}

/// A status or coding another tool wrote that this smss does not know is
/// an error naming the column, not a panic or a made-up value.
fn unknown_stored_text_is_an_error_naming_the_column(fx: &dyn Fixture) {
    let s = fx.open();
    s.execute_sql(
        "INSERT INTO sms (id, phone, text, queued_at, status) \
         VALUES (7, '1', 'x', '2026-01-01 00:00:00.000', 'lost')",
    )
    .unwrap();
    let err = s.sms(7).unwrap_err().to_string();
    assert!(err.contains("sms.status") && err.contains("lost"), "{err}");
    s.execute_sql("UPDATE sms SET status = 'sent', report_status = 'maybe' WHERE id = 7")
        .unwrap();
    let err = s.recent_sms(10).unwrap_err().to_string();
    assert!(err.contains("sms.report_status"), "{err}");
    s.execute_sql("INSERT INTO rcv (sender, text, coding) VALUES ('1', 'x', 'utf9')")
        .unwrap();
    let err = s.recent_rcv(10).unwrap_err().to_string();
    assert!(err.contains("rcv.coding") && err.contains("utf9"), "{err}");
}

/// A duplicate key or a NULL in a NOT NULL column is a `Constraint` error
/// that carries the driver's error and prints as any database error, in
/// the server's words.
fn constraint_violations_are_classified(fx: &dyn Fixture) {
    use std::error::Error;
    let s = fx.open();
    let id = s.enqueue(&[msg("1", "first")]).unwrap()[0];
    for sql in [
        format!("INSERT INTO msg (id, phone, text) VALUES ({id}, '1', 'again')"),
        "INSERT INTO msg (phone, text) VALUES (NULL, 'no number')".to_owned(),
    ] {
        let err = s.execute_sql(&sql).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Constraint, "{sql}: {err:?}");
        assert!(err.to_string().starts_with("database error: "), "{err}");
        let source = err.source().expect("the driver's error");
        // the server's words, not the driver's `MySqlError { ERROR ... }`
        let raw = source.to_string();
        let words = raw.rsplit_once("): ").map_or(raw.as_str(), |(_, w)| w);
        assert!(
            err.message().contains(words.trim_end_matches(" }")),
            "{err:?}"
        );
        assert!(!err.message().contains("MySqlError"), "{err:?}");
    }
    // not a constraint: a statement the database cannot parse
    let err = s.execute_sql("INSERT INTO nowhere").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Other, "{err:?}");
}

fn renewed_claims_do_not_expire(fx: &dyn Fixture) {
    let s = fx.open();
    s.enqueue(&[msg("420608337726", "a"), msg("420608337726", "b")])
        .unwrap();
    assert_eq!(
        s.claim_due("one", Duration::from_secs(1), 1).unwrap().len(),
        1
    );
    assert_eq!(s.renew_claims("one", LONG).unwrap(), 1);
    thread::sleep(Duration::from_millis(1300));
    // only the unclaimed row is there for another sender
    let other = s.claim_due("two", LONG, 10).unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].text, "b");
    assert_eq!(s.renew_claims("nobody", LONG).unwrap(), 0);
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $case() { super::$case(&super::SqliteFixture::new()); } )*
        }
        mod mysql {
            $( #[test] fn $case() { super::$case(&super::MysqlFixture::new()); } )*
        }
    };
}

suite!(
    enqueue_returns_increasing_ids_and_is_durable,
    enqueue_empty_slice,
    plain_sql_insert_is_due_with_source_sql,
    times_are_utc,
    claim_respects_limit_order_and_leases,
    release_claims_makes_rows_due,
    claims_come_most_urgent_first,
    repeats_are_merged_then_suppressed,
    concurrent_repeats_make_one_row,
    a_resumed_multipart_send_keeps_its_count,
    ttl_send_at_and_window_are_kept,
    totals_and_the_queue_in_send_order,
    a_due_urgent_retry_overtakes,
    retry_later_delays_and_counts,
    huge_delays_are_not_due_now,
    due_retries_and_fresh_rows_come_in_id_order,
    finish_moves_row_to_sms,
    finish_by_non_owner_changes_nothing,
    save_progress_is_seen_by_next_claim,
    failed_outcome_is_recorded,
    utf8_round_trip,
    recent_sms_newest_first,
    queue_stats_reports_depth_and_oldest,
    migrations_are_idempotent,
    open_without_schema_is_a_schema_error,
    newer_schema_is_refused,
    concurrent_claimers_never_share_a_row,
    received_message_is_stored_once,
    parts_join_in_order_whatever_order_they_arrive,
    incomplete_sets_are_stored_after_their_time,
    a_reused_reference_starts_a_new_set,
    eight_and_sixteen_bit_references_are_different_sets,
    national_parts_join_with_their_tables,
    silent_messages_and_replace_types,
    application_ports_are_stored,
    delivery_reports_match_the_sent_row,
    unknown_stored_text_is_an_error_naming_the_column,
    constraint_violations_are_classified,
    renewed_claims_do_not_expire,
);

// ---------------------------------------------------------------- backend specific

mod sqlite_only {
    use super::*;

    #[test]
    fn missing_directory_is_named() {
        let fx = SqliteFixture::new();
        let path = fx.dir.join("no/such/dir/smss.db");
        for create in [true, false] {
            let err = open(&format!("sqlite://{}", path.display()), create)
                .err()
                .expect("an error");
            let m = err.to_string();
            assert!(
                m.contains(&fx.dir.join("no/such/dir").display().to_string()),
                "{m}"
            );
        }
    }

    #[test]
    fn url_without_slashes_works() {
        let fx = SqliteFixture::new();
        let s = open(&format!("sqlite:{}", fx.path().display()), true).unwrap();
        assert_eq!(s.backend(), "sqlite");
        assert!(fx.path().exists());
    }

    #[test]
    fn journal_is_wal() {
        let fx = SqliteFixture::new();
        let _s = fx.open();
        let conn = rusqlite::Connection::open(fx.path()).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn claim_queries_use_the_due_index() {
        let fx = SqliteFixture::new();
        let _s = fx.open();
        let conn = rusqlite::Connection::open(fx.path()).unwrap();
        // 20,000 rows waiting for a retry (lowest ids), 20 due; with
        // statistics that would tempt the planner to scan by rowid.
        conn.execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) \
             INSERT INTO msg (phone, text, next_attempt) \
             SELECT '1', 'x', '2099-01-01 00:00:00.000' FROM n; \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20) \
             INSERT INTO msg (phone, text) SELECT '1', 'x' FROM n; ANALYZE;",
        )
        .unwrap();
        let [promote, claim] = crate::store::sqlite::CLAIM_QUERIES;
        let plan = |sql: &str| -> String {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let params: &[&dyn rusqlite::ToSql] = if sql.contains('?') { &[&10] } else { &[] };
            let rows = stmt.query_map(params, |r| r.get::<_, String>(3)).unwrap();
            rows.map(|r| r.unwrap()).collect::<Vec<_>>().join("; ")
        };
        let p = plan(promote);
        assert!(
            p.contains("SEARCH msg USING INDEX msg_due (next_attempt<?)"),
            "{p}"
        );
        let p = plan(claim);
        assert!(
            p.contains("SEARCH msg USING INDEX msg_due (next_attempt=?)"),
            "{p}"
        );
        assert!(!p.contains("TEMP B-TREE"), "{p}");

        // and it really reads only a handful of rows: VM steps of the claim
        let mut stmt = conn.prepare(claim).unwrap();
        let ids: Vec<i64> = stmt
            .query_map([10], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(ids, (20001..=20010).collect::<Vec<_>>());
        let steps = stmt.get_status(rusqlite::StatementStatus::VmStep);
        assert!(steps < 1000, "{steps} VM steps");
    }
}

mod mysql_only {
    use super::*;

    #[test]
    fn unreachable_server_is_unavailable() {
        for create in [true, false] {
            match open("mysql://root@127.0.0.1:1/sms", create) {
                Err(e) if e.kind() == ErrorKind::Unavailable => {}
                Err(e) => panic!("expected Unavailable, got {e:?}"),
                Ok(_) => panic!("expected Unavailable, got a store"),
            }
        }
    }

    #[test]
    fn url_without_database_is_refused() {
        let err = open(&mysql_server(), true).err().expect("an error");
        assert!(err.kind() == ErrorKind::Other, "{err:?}");
    }

    #[test]
    fn missing_database_is_created_by_init_only() {
        let fx = MysqlFixture::without_database();
        match open(&fx.url(), false) {
            Err(e) if e.kind() == ErrorKind::Schema => assert!(e.needs_init(), "{e}"),
            Err(e) => panic!("expected a schema error, got {e:?}"),
            Ok(_) => panic!("expected a schema error, got a store"),
        }
        let s = fx.open();
        s.enqueue(&[msg("1", "😀")]).unwrap();
        assert_eq!(s.claim_due("a", LONG, 1).unwrap()[0].text, "😀");
    }

    #[test]
    fn claim_reads_only_due_rows() {
        use ::mysql::prelude::Queryable;
        let fx = MysqlFixture::new();
        let _s = fx.open();
        let mut conn = ::mysql::Conn::new(::mysql::Opts::from_url(&fx.url()).unwrap()).unwrap();
        // 10,000 rows waiting for a retry (lowest ids), 10 whose retry is
        // due, 20 fresh.
        let digits = "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
                      UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 \
                      UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)";
        conn.query_drop(format!(
            "INSERT INTO msg (phone, text, next_attempt) SELECT '1', 'x', '2099-01-01' \
             FROM {digits} a, {digits} b, {digits} c, {digits} d"
        ))
        .unwrap();
        conn.query_drop(format!(
            "INSERT INTO msg (phone, text, next_attempt) SELECT '1', 'x', '2000-01-01' FROM {digits} a"
        ))
        .unwrap();
        conn.query_drop(format!(
            "INSERT INTO msg (phone, text) SELECT '1', 'x' FROM {digits} a, (SELECT 1 UNION ALL SELECT 2) b"
        ))
        .unwrap();
        conn.query_drop("ANALYZE TABLE msg").unwrap();
        conn.query_drop("SET time_zone = '+00:00'").unwrap();

        let [promote, claim] = crate::store::mysql::CLAIM_QUERIES;
        for (sql, access) in [(promote, "range"), (claim, "ref")] {
            let sql = sql.replace("LIMIT ?", "LIMIT 10");
            let explain: Vec<::mysql::Row> = conn.query(format!("EXPLAIN {sql}")).unwrap();
            let text = |col: &str| -> String {
                explain[0]
                    .get::<Option<String>, _>(col)
                    .flatten()
                    .unwrap_or_default()
            };
            assert_eq!(
                (text("type").as_str(), text("key").as_str()),
                (access, "msg_due"),
                "{sql}: {explain:?}"
            );
            assert!(!text("Extra").contains("filesort"), "{sql}: {explain:?}");
        }

        let expected: Vec<i64> = conn
            .query("SELECT id FROM msg WHERE next_attempt IS NULL OR next_attempt < '2050-01-01' ORDER BY id LIMIT 15")
            .unwrap();
        let handler_reads = |conn: &mut ::mysql::Conn| -> u64 {
            let rows: Vec<(String, u64)> = conn
                .query("SHOW SESSION STATUS LIKE 'Handler_read%'")
                .unwrap();
            rows.iter().map(|r| r.1).sum()
        };
        let before = handler_reads(&mut conn);
        let mut tx = conn.start_transaction(::mysql::TxOpts::default()).unwrap();
        tx.query_drop(promote).unwrap();
        assert_eq!(tx.affected_rows(), 10);
        let rows: Vec<::mysql::Row> = tx.exec(claim, (15,)).unwrap();
        let ids: Vec<i64> = rows.into_iter().map(|mut r| r.take(0).unwrap()).collect();
        assert_eq!(ids, expected);
        tx.rollback().unwrap();
        let read = handler_reads(&mut conn) - before;
        assert!(read < 200, "the claim read {read} rows");
    }

    #[test]
    fn password_is_not_shown_in_errors() {
        let fx = MysqlFixture::without_database();
        let url = fx.url().replacen("root@", "root:s3cret@", 1);
        let err = open(&url, false).err().expect("an error");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    /// A real deadlock: another connection holds the row of the second
    /// message a two-message enqueue merges into, the enqueue takes the
    /// first one's and waits, and the other connection then asks for the
    /// first: InnoDB rolls back the lighter transaction, the enqueue's (the
    /// other one has inserted rows of its own). The enqueue runs again as a
    /// whole: it answers Ok, and each row holds its merge once (the rolled
    /// back attempt's merge of the first is not counted twice).
    #[test]
    fn enqueue_that_loses_a_deadlock_runs_again_whole() {
        use ::mysql::prelude::Queryable;
        let fx = MysqlFixture::new();
        let s = fx.open();
        let (a, b) = (coalesced("1", "disk full"), coalesced("2", "disk full"));
        let first = s.enqueue(&[a.clone(), b.clone()]).unwrap();
        let deadlocks = || {
            fx.scalar("SELECT VARIABLE_VALUE FROM information_schema.global_status                                       WHERE VARIABLE_NAME = 'INNODB_DEADLOCKS'")
        };
        let before = deadlocks().unwrap();
        let mut other = ::mysql::Conn::new(::mysql::Opts::from_url(&fx.url()).unwrap()).unwrap();
        other
            .query_drop("CREATE TABLE ballast (id INT PRIMARY KEY)")
            .unwrap();
        let mut tx = other.start_transaction(::mysql::TxOpts::default()).unwrap();
        tx.query_drop("INSERT INTO ballast SELECT seq FROM seq_1_to_500")
            .unwrap();
        tx.exec_drop("UPDATE msg SET source = 'other' WHERE id = ?", (first[1],))
            .unwrap();
        let (again, outcome) = thread::scope(|scope| {
            let enqueue = scope.spawn(|| s.enqueue(&[a.clone(), b.clone()]));
            // The enqueue holds the first row and waits for the second.
            // MariaDB does not always show that wait as 'LOCK WAIT' in
            // innodb_trx (seen: 'RUNNING' for 60 s while blocked), so the
            // merge UPDATE running for half a second counts too: the first
            // one cannot block (nobody else holds that row), so it is the
            // second, waiting for the row lock.
            let waiting = format!(
                "SELECT (SELECT COUNT(*) FROM information_schema.innodb_trx t JOIN \
                 information_schema.processlist p ON p.id = t.trx_mysql_thread_id \
                 WHERE t.trx_state = 'LOCK WAIT' AND p.db = '{0}') + \
                 (SELECT COUNT(*) FROM information_schema.processlist WHERE db = '{0}' \
                 AND info LIKE 'UPDATE msg SET repeats%' AND time_ms >= 500)",
                fx.name
            );
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while fx.scalar(&waiting).unwrap_or(0) == 0 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the enqueue never waited"
                );
                thread::sleep(Duration::from_millis(20));
            }
            let outcome = tx.exec_drop("UPDATE msg SET source = 'other' WHERE id = ?", (first[0],));
            let outcome = outcome.and_then(|()| tx.commit());
            (enqueue.join().unwrap(), outcome)
        });
        outcome.expect("the heavier transaction is not the deadlock's victim");
        assert_eq!(again.unwrap(), first, "merged into the same rows");
        assert!(deadlocks().unwrap() > before, "no deadlock happened");
        for id in &first {
            let row = format!("SELECT repeats FROM msg WHERE id = {id}");
            assert_eq!(fx.scalar(&row), Some(1), "message {id}: one merge");
            let source = format!("SELECT source = 'other' FROM msg WHERE id = {id}");
            assert_eq!(
                fx.scalar(&source),
                Some(1),
                "message {id}: the other's change kept"
            );
        }
    }
}

// ---------------------------------------------------------------- status and health

/// The queries behind `smss status` and the modem health table, on both
/// backends (a `suite!` of their own, so this block stays self-contained).
mod health {
    use super::*;

    fn check(instance: &str, healthy: bool) -> ModemHealth {
        ModemHealth {
            instance: instance.into(),
            device: "/dev/ttyS0".into(),
            manufacturer: "SIEMENS".into(),
            model: "TC35i".into(),
            rssi: Some(21),
            registration: Some("home".into()),
            operator: Some("T-Mobile CZ".into()),
            healthy,
            last_error: None,
            pid: 4242,
            ..ModemHealth::default()
        }
    }

    fn a_modem_row_is_forgotten(fx: &dyn Fixture) {
        let s = fx.open();
        s.save_modem_health(&check("a:/dev/ttyUSB0", true)).unwrap();
        s.save_modem_health(&check("b:/dev/ttyS0", true)).unwrap();
        assert!(s.forget_modem("b:/dev/ttyS0").unwrap());
        assert!(!s.forget_modem("b:/dev/ttyS0").unwrap(), "gone already");
        let rows = s.modem_health().unwrap();
        assert_eq!(
            rows.iter().map(|r| r.instance.as_str()).collect::<Vec<_>>(),
            ["a:/dev/ttyUSB0"]
        );
    }

    fn modem_health_is_upserted_per_instance(fx: &dyn Fixture) {
        let s = fx.open();
        assert!(s.modem_health().unwrap().is_empty());
        s.save_modem_health(&check("b:/dev/ttyS0", true)).unwrap();
        s.save_modem_health(&check("a:/dev/ttyUSB0", true)).unwrap();
        let rows = s.modem_health().unwrap();
        assert_eq!(
            rows.iter().map(|r| r.instance.as_str()).collect::<Vec<_>>(),
            ["a:/dev/ttyUSB0", "b:/dev/ttyS0"]
        );
        let b = &rows[1];
        assert_eq!(
            (b.manufacturer.as_str(), b.model.as_str(), b.rssi, b.pid),
            ("SIEMENS", "TC35i", Some(21), 4242)
        );
        assert_eq!(b.registration.as_deref(), Some("home"));
        assert_eq!(b.operator.as_deref(), Some("T-Mobile CZ"));
        assert!(b.healthy);
        assert!((0..120).contains(&b.checked_age_secs), "{b:?}");
        assert!((parse_utc(&b.checked_at) - now_secs()).abs() < 120, "{b:?}");
        assert_eq!(b.last_send_ok, None);

        // The modem is lost: unknown model stays as it was, the rest is replaced.
        let lost = ModemHealth {
            manufacturer: String::new(),
            model: String::new(),
            rssi: None,
            registration: None,
            operator: None,
            last_error: Some("cannot open /dev/ttyS0: no such device ✗".into()),
            ..check("b:/dev/ttyS0", false)
        };
        s.save_modem_health(&lost).unwrap();
        let rows = s.modem_health().unwrap();
        assert_eq!(rows.len(), 2);
        let b = &rows[1];
        assert!(!b.healthy);
        assert_eq!(
            (b.manufacturer.as_str(), b.model.as_str()),
            ("SIEMENS", "TC35i")
        );
        assert_eq!((b.rssi, b.registration.as_deref()), (None, None));
        assert_eq!(b.last_error, lost.last_error);
        assert_eq!(b.warnings, None);
        assert_eq!(fx.scalar("SELECT COUNT(*) FROM modem"), Some(2));

        // Healthy, with a memory it cannot read; the next row replaces it.
        let partial = ModemHealth {
            warnings: Some("memory ME cannot be read: AT+CMGL=4: MODEM ERROR: 4".into()),
            ..check("a:/dev/ttyUSB0", true)
        };
        s.save_modem_health(&partial).unwrap();
        let a = &s.modem_health().unwrap()[0];
        assert!(a.healthy);
        assert_eq!(a.warnings, partial.warnings);
        s.save_modem_health(&check("a:/dev/ttyUSB0", true)).unwrap();
        assert_eq!(s.modem_health().unwrap()[0].warnings, None);

        // Over-long answers are cut to the column width, not refused.
        let long = ModemHealth {
            model: "M".repeat(300),
            operator: Some("Ö".repeat(100)),
            ..check("c", true)
        };
        s.save_modem_health(&long).unwrap();
        let c = s.modem_health().unwrap().remove(2);
        assert_eq!(c.model.chars().count(), 64);
        assert_eq!(c.operator.unwrap().chars().count(), 64);
    }

    fn modem_health_tracks_the_last_send_of_its_instance(fx: &dyn Fixture) {
        let s = fx.open();
        let ids = s
            .enqueue(&[msg("1", "a"), msg("2", "b"), msg("3", "c")])
            .unwrap();
        s.claim_due("other", LONG, 1).unwrap();
        assert!(s.finish(ids[0], "other", &sent(1, "1")).unwrap());
        s.save_modem_health(&check("me", true)).unwrap();
        assert_eq!(s.modem_health().unwrap()[0].last_send_ok, None);

        s.claim_due("me", LONG, 1).unwrap();
        assert!(s.finish(ids[1], "me", &sent(1, "2")).unwrap());
        s.save_modem_health(&check("me", true)).unwrap();
        let mine = s.sms(ids[1]).unwrap().unwrap().sent_at;
        assert!(mine.is_some());
        assert_eq!(s.modem_health().unwrap()[0].last_send_ok, mine);

        // No send since: the value stays.
        std::thread::sleep(Duration::from_millis(5));
        s.save_modem_health(&check("me", true)).unwrap();
        assert_eq!(s.modem_health().unwrap()[0].last_send_ok, mine);
    }

    fn activity_counts_the_period(fx: &dyn Fixture) {
        let s = fx.open();
        assert_eq!(
            s.activity_since(Duration::from_secs(86_400)).unwrap(),
            Activity::default()
        );
        assert_eq!(s.last_sent().unwrap(), None);
        let ids = s
            .enqueue(&[msg("1", "a"), msg("2", "b"), msg("3", "c")])
            .unwrap();
        s.claim_due("a", LONG, 3).unwrap();
        assert!(s.finish(ids[0], "a", &sent(1, "1")).unwrap());
        assert!(s.finish(ids[1], "a", &sent(2, "2,3")).unwrap());
        let failed = Outcome::Failed {
            error: "+CMS ERROR: 38".into(),
        };
        assert!(s.finish(ids[2], "a", &failed).unwrap());
        s.execute_sql("INSERT INTO rcv (sender, text) VALUES ('420608337726', 'hi')")
            .unwrap();
        // Old rows are outside the period.
        s.execute_sql(
            "INSERT INTO sms (id, phone, text, queued_at, sent_at, status) VALUES \
             (1000, '1', 'old', '2020-01-01 00:00:00.000', '2020-01-01 00:00:01.000', 'sent'), \
             (1001, '1', 'old', '2020-01-01 00:00:00.000', NULL, 'failed')",
        )
        .unwrap();
        s.execute_sql(
            "INSERT INTO rcv (sender, text, received_at) \
             VALUES ('1', 'old', '2020-01-01 00:00:00.000')",
        )
        .unwrap();
        assert_eq!(
            s.activity_since(Duration::from_secs(86_400)).unwrap(),
            Activity {
                sent: 2,
                failed: 1,
                received: 1
            }
        );
        assert_eq!(
            s.activity_since(Duration::from_secs(100 * 365 * 86_400))
                .unwrap(),
            Activity {
                sent: 3,
                failed: 2,
                received: 2
            }
        );
        let (row, age) = s.last_sent().unwrap().expect("a sent row");
        assert_eq!(row.id, ids[1]);
        assert_eq!(row.parts, 2);
        assert!((0..120).contains(&age), "{age}");
    }

    fn version_2_database_is_upgraded(fx: &dyn Fixture) {
        let s = fx.open();
        s.enqueue(&[msg("1", "kept")]).unwrap();
        s.execute_sql("DROP TABLE modem").unwrap();
        if s.backend() == "sqlite" {
            // What 006 added (SQLite's migrations are not re-runnable: they
            // run in a transaction; MySQL's are).
            s.execute_sql(
                "DROP INDEX rcv_part_set; \
                 CREATE INDEX rcv_part_set ON rcv_part (sender, reference, total); \
                 ALTER TABLE rcv_part DROP COLUMN ref_bits; \
                 ALTER TABLE rcv_part DROP COLUMN locking_shift; \
                 ALTER TABLE rcv_part DROP COLUMN single_shift; \
                 ALTER TABLE rcv_part DROP COLUMN pid; \
                 ALTER TABLE rcv_part DROP COLUMN dst_port; \
                 ALTER TABLE rcv_part DROP COLUMN src_port; \
                 ALTER TABLE rcv DROP COLUMN pid; \
                 ALTER TABLE rcv DROP COLUMN replaced_by; \
                 ALTER TABLE rcv DROP COLUMN dst_port; \
                 ALTER TABLE rcv DROP COLUMN src_port; \
                 DROP TABLE sms_group; DROP TABLE sms_group_member; \
                 DROP TABLE api_token; DROP TABLE alert_notified; \
                 ALTER TABLE msg DROP COLUMN via_group; \
                 ALTER TABLE sms DROP COLUMN via_group; \
                 DROP TABLE spooled; \
                 DROP TABLE checkin; DROP TABLE pager_mark; \
                 ALTER TABLE sms DROP COLUMN acked_at; ALTER TABLE sms DROP COLUMN acked_by; \
                 DROP TABLE `call`; \
                 DROP TABLE escalation; DROP TABLE escalation_step;",
            )
            .unwrap();
            // and what 009 added
            s.execute_sql(
                "DROP INDEX msg_due; \
                 CREATE INDEX msg_due ON msg (next_attempt, id); \
                 ALTER TABLE msg DROP COLUMN priority; \
                 ALTER TABLE sms DROP COLUMN priority; \
                 DROP INDEX msg_coalesce; DROP INDEX sms_coalesce; DROP INDEX msg_expiry; \
                 DROP INDEX sms_repeats; \
                 ALTER TABLE msg DROP COLUMN expires_at; \
                 ALTER TABLE msg DROP COLUMN flash; \
                 ALTER TABLE msg DROP COLUMN send_after; \
                 ALTER TABLE msg DROP COLUMN send_before; \
                 ALTER TABLE msg DROP COLUMN text_key; \
                 ALTER TABLE msg DROP COLUMN repeats; \
                 ALTER TABLE msg DROP COLUMN shown_repeats; \
                 ALTER TABLE sms DROP COLUMN text_key; \
                 ALTER TABLE sms DROP COLUMN repeats; \
                 ALTER TABLE sms DROP COLUMN coalesced_into;",
            )
            .unwrap();
        }
        s.execute_sql("UPDATE smss_schema SET version = 2").unwrap();
        drop(s);
        match open(&fx.url(), false) {
            Err(e) if e.kind() == ErrorKind::Schema => {
                let needs = format!("has schema version 2, this smss needs {SCHEMA_VERSION}");
                assert!(e.message().contains(&needs), "{e}")
            }
            Err(e) => panic!("expected a schema error, got {e:?}"),
            Ok(_) => panic!("expected a schema error, got a store"),
        }
        let s = fx.open();
        assert_eq!(
            fx.scalar("SELECT version FROM smss_schema"),
            Some(i64::from(SCHEMA_VERSION))
        );
        assert_eq!(s.queue_stats().unwrap().depth, 1);
        s.save_modem_health(&check("x", true)).unwrap();
        assert_eq!(s.modem_health().unwrap().len(), 1);
    }

    fn the_memories_are_recorded_and_kept_while_the_modem_is_lost(fx: &dyn Fixture) {
        let s = fx.open();
        let full = SimMemory {
            memory: "SM".into(),
            used: 20,
            total: 20,
            stored: 20,
            readable: true,
        };
        let me = SimMemory {
            memory: "ME".into(),
            used: 1,
            total: 50,
            stored: 0,
            readable: false,
        };
        let row = ModemHealth {
            sim_memories: vec![me.clone(), full.clone()],
            ..check("a", true)
        };
        s.save_modem_health(&row).unwrap();
        assert_eq!(
            s.modem_health().unwrap()[0].sim_memories,
            vec![me.clone(), full.clone()]
        );
        // a lost modem tells nothing of its memories: the last known stay
        s.save_modem_health(&check("a", false)).unwrap();
        assert_eq!(s.modem_health().unwrap()[0].sim_memories.len(), 2);
        // emptied
        let emptied = ModemHealth {
            sim_memories: vec![SimMemory {
                used: 0,
                stored: 0,
                ..full
            }],
            ..check("a", true)
        };
        s.save_modem_health(&emptied).unwrap();
        let got = &s.modem_health().unwrap()[0].sim_memories;
        assert_eq!(got.len(), 1);
        assert!(!got[0].is_full());
        // what another tool wrote there does not break the reading
        s.execute_sql("UPDATE modem SET sim_memories = 'SM x\nME 1 50 0 1\n'")
            .unwrap();
        assert_eq!(
            s.modem_health().unwrap()[0].sim_memories,
            vec![SimMemory {
                readable: true,
                ..me
            }]
        );
    }

    suite!(
        a_modem_row_is_forgotten,
        the_memories_are_recorded_and_kept_while_the_modem_is_lost,
        modem_health_is_upserted_per_instance,
        modem_health_tracks_the_last_send_of_its_instance,
        activity_counts_the_period,
        version_2_database_is_upgraded,
    );
}

// ---------------------------------------------------------------- memories

#[test]
fn a_full_memory_says_what_to_do() {
    let m = |used, stored, readable| SimMemory {
        memory: "SM".into(),
        used,
        total: 20,
        stored,
        readable,
    };
    assert_eq!(m(19, 19, true).attention(), None, "a slot is free");
    assert_eq!(m(0, 0, true).describe(), "SM 0/20");
    assert_eq!(
        m(20, 20, true).describe(),
        "SM 20/20 (20 stored sent/unsent)"
    );
    assert_eq!(
        m(20, 20, true).attention().unwrap(),
        "memory SM is full (20 of 20), so new SMS wait at the network: it holds only stored \
         sent/unsent messages, which smss does not read; set sim-cleanup = stored to have smss \
         delete them (or delete them in a phone)"
    );
    assert_eq!(
        m(20, 0, false).attention().unwrap(),
        "memory SM is full (20 of 20), so new SMS wait at the network; smss cannot read it \
         (see the warning), so it cannot empty it"
    );
    assert_eq!(m(20, 0, false).describe(), "SM 20/20 (unreadable)");
    assert!(m(20, 5, true).attention().unwrap().ends_with(
        ": 15 of them are received messages smss could not read or delete (see the log)"
    ));
    let total_zero = SimMemory {
        total: 0,
        ..m(0, 0, true)
    };
    assert!(!total_zero.is_full(), "a memory without slots is not full");
    assert_eq!(
        SimMemory::from_lines(SimMemory::to_lines(&[m(20, 3, false)]).as_deref()),
        vec![m(20, 3, false)]
    );
}

/// Groups, API tokens and the Alertmanager marks (schema 008).
mod integrations {
    use super::*;
    use crate::store::{AlertMark, Group, TokenHash};

    fn groups_are_set_replaced_and_removed(fx: &dyn Fixture) {
        let s = fx.open();
        assert_eq!(s.group_members("oncall").unwrap(), None);
        assert!(
            s.set_group("oncall", &["420608337726".into(), "+420777123456".into()])
                .unwrap()
        );
        assert!(s.set_group("dba", &["123456".into()]).unwrap());
        assert_eq!(
            s.group_members("oncall").unwrap().unwrap(),
            ["420608337726", "+420777123456"]
        );
        // replaced, in the new order
        assert!(
            !s.set_group("oncall", &["555555".into(), "420608337726".into()])
                .unwrap()
        );
        let groups = s.list_groups().unwrap();
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["dba", "oncall"]);
        assert_eq!(groups[1].members, ["555555", "420608337726"]);
        assert!(s.remove_group("oncall").unwrap());
        assert!(!s.remove_group("oncall").unwrap());
        assert_eq!(s.group_members("oncall").unwrap(), None);
        assert_eq!(fx.scalar("SELECT COUNT(*) FROM sms_group_member"), Some(1));
        // names are exact: a group is not found by another case
        assert_eq!(s.group_members("DBA").unwrap(), None);
    }

    fn the_group_goes_with_the_message_to_sms(fx: &dyn Fixture) {
        let s = fx.open();
        let ids = s
            .enqueue(&[NewMessage {
                group: Some("oncall".into()),
                ..msg("420608337726", "via group")
            }])
            .unwrap();
        let queued = s
            .list_queued(&ListFilter {
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(queued[0].group.as_deref(), Some("oncall"));
        s.claim_due("a", LONG, 10).unwrap();
        assert!(s.finish(ids[0], "a", &sent(1, "7")).unwrap());
        assert_eq!(
            s.sms(ids[0]).unwrap().unwrap().group.as_deref(),
            Some("oncall")
        );
    }

    fn tokens_are_found_by_hash_until_revoked(fx: &dyn Fixture) {
        let s = fx.open();
        s.add_token("prometheus", &"a".repeat(64)).unwrap();
        let e = s.add_token("prometheus", &"b".repeat(64)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Constraint, "{e:?}");
        assert_eq!(
            s.token_name(&"a".repeat(64)).unwrap().as_deref(),
            Some("prometheus")
        );
        assert_eq!(s.token_name(&"b".repeat(64)).unwrap(), None);
        let list = s.list_tokens().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].name, "prometheus");
        assert!(s.revoke_token("prometheus").unwrap());
        assert!(!s.revoke_token("prometheus").unwrap());
        assert_eq!(s.token_name(&"a".repeat(64)).unwrap(), None);
    }

    /// The spool's copy: one call replaces every group and token, keeps
    /// members in order, the escalation step and `updated`, and tells when.
    fn the_copy_replaces_groups_and_tokens(fx: &dyn Fixture) {
        let s = fx.open();
        assert_eq!(s.copied_at().unwrap(), None);
        s.set_group("old", &["111".into()]).unwrap();
        s.add_token("old", &"c".repeat(64)).unwrap();
        let chain = Group {
            name: "ops".into(),
            members: vec!["420777000002".into(), "420777000001".into()],
            updated: "2026-01-02 03:04:05.000".into(),
            escalate: Some(Duration::from_secs(120)),
        };
        let plain = Group {
            name: "dba".into(),
            members: vec!["123456".into()],
            updated: "2026-01-01 00:00:00.000".into(),
            escalate: None,
        };
        let token = TokenHash {
            name: "prom".into(),
            hash: "a".repeat(64),
        };
        s.replace_copy(
            &[chain.clone(), plain.clone()],
            std::slice::from_ref(&token),
        )
        .unwrap();
        assert_eq!(s.list_groups().unwrap(), [plain, chain.clone()]);
        assert_eq!(s.group("ops").unwrap(), Some(chain));
        assert_eq!(s.group("old").unwrap(), None);
        assert_eq!(
            s.token_name(&"a".repeat(64)).unwrap().as_deref(),
            Some("prom")
        );
        assert_eq!(s.token_name(&"c".repeat(64)).unwrap(), None);
        assert_eq!(s.token_hashes().unwrap(), [token]);
        let at = s.copied_at().unwrap().expect("the time of the copy");
        assert_eq!(at.len(), "2026-01-01 00:00:00.000".len(), "{at}");
        assert!(at.as_str() > "2026-01-02 03:04:05.000", "{at}");
        // an empty copy empties both
        s.replace_copy(&[], &[]).unwrap();
        assert_eq!(s.list_groups().unwrap(), []);
        assert_eq!(s.token_hashes().unwrap(), []);
        assert_eq!(fx.scalar("SELECT COUNT(*) FROM sms_group_member"), Some(0));
        assert_eq!(s.copied_at().unwrap(), None);
    }

    fn alert_marks_commit_with_their_messages(fx: &dyn Fixture) {
        let s = fx.open();
        let mark = |fp: &str, status: &str| AlertMark {
            recipient: "@oncall".into(),
            fingerprint: fp.into(),
            status: status.into(),
        };
        let ids = s
            .enqueue_marked(
                &[msg("420608337726", "[FIRING:2] x")],
                &[mark("f1", "firing"), mark("f2", "firing")],
            )
            .unwrap();
        assert_eq!(ids.len(), 1);
        let fps = vec!["f1".to_string(), "f2".to_string(), "f3".to_string()];
        let mut got = s.notified_alerts("@oncall", &fps).unwrap();
        got.sort();
        assert_eq!(
            got,
            [
                ("f1".to_string(), "firing".to_string()),
                ("f2".to_string(), "firing".to_string())
            ]
        );
        assert!(s.notified_alerts("420608337726", &fps).unwrap().is_empty());
        s.enqueue_marked(
            &[msg("420608337726", "[RESOLVED] x")],
            &[mark("f1", "resolved")],
        )
        .unwrap();
        let mut got = s.notified_alerts("@oncall", &fps).unwrap();
        got.sort();
        assert_eq!(got[0], ("f1".to_string(), "resolved".to_string()));
        assert_eq!(fx.scalar("SELECT COUNT(*) FROM alert_notified"), Some(2));
        assert_eq!(s.queue_stats().unwrap().depth, 2);
        // forgotten after alert-remember: older ones only
        assert_eq!(s.forget_alerts(Duration::from_secs(3600)).unwrap(), 0);
        s.execute_sql(
            "UPDATE alert_notified SET notified_at = '2020-01-01 00:00:00.000' \
             WHERE fingerprint = 'f2'",
        )
        .unwrap();
        assert_eq!(s.forget_alerts(Duration::from_secs(3600)).unwrap(), 1);
        let left = s.notified_alerts("@oncall", &fps).unwrap();
        assert_eq!(left, [("f1".to_string(), "resolved".to_string())]);
    }

    /// The spool's marks of an outage are listed to be moved, then deleted.
    fn alert_marks_are_listed_and_deleted(fx: &dyn Fixture) {
        let s = fx.open();
        let mark = |r: &str, fp: &str, status: &str| AlertMark {
            recipient: r.into(),
            fingerprint: fp.into(),
            status: status.into(),
        };
        let (a, b) = (mark("@ops", "f1", "firing"), mark("@ops", "f2", "resolved"));
        let other = mark("420777000001", "f1", "firing");
        s.enqueue_marked(&[], &[b.clone(), a.clone(), other.clone()])
            .unwrap();
        assert_eq!(
            s.alert_marks().unwrap(),
            [other.clone(), a.clone(), b.clone()]
        );
        s.delete_alert_marks(&[a, b]).unwrap();
        assert_eq!(s.alert_marks().unwrap(), [other]);
    }

    suite!(
        alert_marks_are_listed_and_deleted,
        groups_are_set_replaced_and_removed,
        the_group_goes_with_the_message_to_sms,
        tokens_are_found_by_hash_until_revoked,
        the_copy_replaces_groups_and_tokens,
        alert_marks_commit_with_their_messages,
    );
}

/// Check-ins and the once-per-slot marks (schema 010).
mod pager {
    use super::*;
    use crate::store::{CheckinDef, Guard};

    fn def(name: &str) -> CheckinDef {
        CheckinDef {
            name: name.into(),
            every: Duration::from_secs(60),
            grace: Duration::from_secs(10),
            recipients: vec!["@ops".into(), "420608337726".into()],
        }
    }

    fn a_checkin_goes_late_and_back_once(fx: &dyn Fixture) {
        let s = fx.open();
        assert!(s.create_checkin(&def("backup"), 1000).unwrap());
        assert!(!s.create_checkin(&def("backup"), 1001).unwrap());
        let c = s.checkin("backup").unwrap().unwrap();
        assert_eq!(c.def, def("backup"));
        assert_eq!(
            (c.last_seen, c.late, c.due_at(), c.late_at()),
            (Some(1000), false, 1060, 1070)
        );
        let late = |now| Guard::CheckinLate {
            name: "backup".into(),
            now,
        };
        let m = [msg("420608337726", "backup missed its check-in")];
        // not overdue yet: nothing queued
        assert_eq!(s.enqueue_guarded(&m, &late(1069)).unwrap(), None);
        assert_eq!(s.queue_stats().unwrap().depth, 0);
        // overdue: once, however often asked (another serve asks too)
        assert_eq!(
            s.enqueue_guarded(&m, &late(1070)).unwrap().unwrap().len(),
            1
        );
        assert_eq!(s.enqueue_guarded(&m, &late(1071)).unwrap(), None);
        let c = s.checkin("backup").unwrap().unwrap();
        assert!(c.late);
        assert_eq!(c.alerted_at, Some(1070));
        let back = |now| Guard::CheckinBack {
            name: "backup".into(),
            now,
        };
        // no check-in since the late SMS: no back SMS
        s.execute_sql("UPDATE checkin SET last_seen = 1000")
            .unwrap();
        assert_eq!(s.enqueue_guarded(&m, &back(1080)).unwrap(), None);
        let c = s.checkin_seen("backup", 1090).unwrap().unwrap();
        assert_eq!((c.last_seen, c.late), (Some(1090), true));
        assert_eq!(
            s.enqueue_guarded(&m, &back(1090)).unwrap().unwrap().len(),
            1
        );
        assert_eq!(s.enqueue_guarded(&m, &back(1091)).unwrap(), None);
        let c = s.checkin("backup").unwrap().unwrap();
        assert!(!c.late);
        assert_eq!(s.queue_stats().unwrap().depth, 2);
        assert_eq!(s.checkin_seen("nobody", 1).unwrap(), None);
    }

    fn checkins_are_defined_listed_and_removed(fx: &dyn Fixture) {
        let s = fx.open();
        assert!(s.define_checkin(&def("b"), 500).unwrap());
        let mut other = def("a");
        other.recipients = vec!["420777123456".into()];
        assert!(s.define_checkin(&other, 600).unwrap());
        let list = s.checkins().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].def, other);
        // added, never seen: due from when it was added
        assert_eq!((list[1].last_seen, list[1].due_at()), (None, 560));
        s.checkin_seen("b", 700).unwrap();
        let mut changed = def("b");
        changed.every = Duration::from_secs(3600);
        assert!(!s.define_checkin(&changed, 800).unwrap());
        let b = s.checkin("b").unwrap().unwrap();
        assert_eq!(
            (b.def.every, b.last_seen, b.created),
            (changed.every, Some(700), 500)
        );
        assert!(s.remove_checkin("b").unwrap());
        assert!(!s.remove_checkin("b").unwrap());
        assert_eq!(s.checkins().unwrap().len(), 1);
    }

    fn a_slot_is_sent_once(fx: &dyn Fixture) {
        let s = fx.open();
        let once = |slot| Guard::Once {
            name: "heartbeat".into(),
            slot,
        };
        let m = [msg("420608337726", "alive")];
        assert!(s.enqueue_guarded(&m, &once(20000)).unwrap().is_some());
        assert_eq!(s.enqueue_guarded(&m, &once(20000)).unwrap(), None);
        assert_eq!(s.enqueue_guarded(&m, &once(19999)).unwrap(), None);
        assert!(s.enqueue_guarded(&m, &once(20001)).unwrap().is_some());
        assert_eq!(s.queue_stats().unwrap().depth, 2);
    }

    fn an_alert_is_acknowledged_once(fx: &dyn Fixture) {
        let s = fx.open();
        s.execute_sql(
            "INSERT INTO sms (id, phone, text, source, status, parts, part_refs, attempts, \
             queued_at, sent_at) VALUES \
             (7, '420608337726', 'disk full', 'ip:1', 'sent', 1, '1', 0, \
              '2026-12-01 02:00:00.000', '2026-12-01 02:00:01.000'), \
             (8, '420608337726', 'alive', 'heartbeat', 'sent', 1, '2', 0, \
              '2026-12-01 02:00:00.000', '2026-12-01 02:00:01.000')",
        )
        .unwrap();
        assert_eq!(s.ack_cursor().unwrap(), None);
        let alerts = s.unacked_alerts(&["heartbeat"], 10).unwrap();
        assert_eq!(alerts.iter().map(|a| a.id).collect::<Vec<_>>(), [7]);
        let ack = |rcv_id| Guard::Ack {
            rcv_id,
            sms_id: 7,
            by: "+420608337726".into(),
            now: 1234,
        };
        let m = [msg("420608337726", "ACK #7")];
        assert_eq!(s.enqueue_guarded(&m, &ack(3)).unwrap().unwrap().len(), 1);
        assert_eq!(s.ack_cursor().unwrap(), Some(3));
        assert_eq!(
            s.acked(7).unwrap(),
            Some((1234, "+420608337726".to_string()))
        );
        // the same reply again (another serve), a later one: nothing
        assert_eq!(s.enqueue_guarded(&m, &ack(3)).unwrap(), None);
        assert_eq!(s.enqueue_guarded(&m, &ack(4)).unwrap(), None);
        assert_eq!(
            s.ack_cursor().unwrap(),
            Some(4),
            "the later reply is passed"
        );
        assert_eq!(s.queue_stats().unwrap().depth, 1);
        assert!(s.unacked_alerts(&["heartbeat"], 10).unwrap().is_empty());
    }

    suite!(
        an_alert_is_acknowledged_once,
        a_checkin_goes_late_and_back_once,
        checkins_are_defined_listed_and_removed,
        a_slot_is_sent_once,
    );
}

/// The local spool's rules (schema 011): keyed enqueue, the move once.
mod spool {
    use super::*;
    use crate::store::SpooledMessage;

    fn message(text: &str) -> NewMessage {
        NewMessage {
            phone: "420777000001".into(),
            text: text.into(),
            source: "test".into(),
            group: Some("oncall".into()),
            ..Default::default()
        }
    }

    fn spooled(key: &str, text: &str) -> SpooledMessage {
        SpooledMessage {
            key: key.into(),
            local_id: 7,
            msg: message(text),
            created: "2026-01-02 03:04:05.678".into(),
            attempts: 2,
            kept: crate::store::SpooledColumns {
                priority: 0,
                flash: true,
                ..Default::default()
            },
        }
    }

    fn a_spooled_message_is_moved_once(fx: &dyn Fixture) {
        let s = fx.open();
        let m = spooled("0123456789abcdef0123456789abcdef", "moved");
        let id = s.import_spooled(&m).unwrap().expect("moved now");
        assert_eq!(s.import_spooled(&m).unwrap(), None);
        let rows = s
            .list_queued(&ListFilter {
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!((r.id, r.text.as_str(), r.attempts), (id, "moved", 2));
        assert_eq!(r.created, "2026-01-02 03:04:05.678");
        assert_eq!(r.group.as_deref(), Some("oncall"));
        assert_eq!(r.priority, Priority::Urgent, "the priority goes along");
        // still known once sent
        let claimed = s.claim_due("me", Duration::from_secs(60), 10).unwrap();
        assert!(s.finish(claimed[0].id, "me", &sent(1, "1")).unwrap());
        assert_eq!(s.import_spooled(&m).unwrap(), None);
        assert_eq!(s.queue_stats().unwrap().depth, 0);
    }

    fn a_keyed_commit_is_not_moved_again(fx: &dyn Fixture) {
        let s = fx.open();
        let key = "fedcba9876543210fedcba9876543210".to_string();
        let ids = s
            .enqueue_keyed(&[message("once")], std::slice::from_ref(&key), &[])
            .unwrap();
        assert_eq!(ids.len(), 1);
        // the same batch, spooled because its commit was not confirmed
        assert_eq!(s.import_spooled(&spooled(&key, "once")).unwrap(), None);
        assert_eq!(s.queue_stats().unwrap().depth, 1);
        // one key per message
        assert!(s.enqueue_keyed(&[message("x")], &[], &[]).is_err());
    }

    fn the_spool_lists_counts_and_deletes(fx: &dyn Fixture) {
        let s = fx.open();
        let keys: Vec<String> = (0..3).map(|i| format!("{i:032}")).collect();
        let urgent = NewMessage {
            options: crate::store::Options {
                priority: Priority::Urgent,
                flash: true,
                ttl: Some(Duration::from_secs(3600)),
                ..Default::default()
            },
            ..message("a")
        };
        let ids = s
            .enqueue_keyed(&[urgent, message("b"), message("c")], &keys, &[])
            .unwrap();
        s.enqueue(&[message("not spooled")]).unwrap();
        assert_eq!(s.count_spooled().unwrap(), 3);
        let listed = s.list_spooled(2).unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].local_id, ids[0]);
        assert_eq!(listed[0].key, keys[0]);
        let kept = &listed[0].kept;
        assert_eq!((kept.priority, kept.flash), (0, true), "{kept:?}");
        assert!(kept.expires_at.is_some(), "{kept:?}");
        assert_eq!(listed[1].kept.priority, 1);
        assert_eq!(listed[1].msg.text, "b");
        s.delete_spooled(&ids[..2]).unwrap();
        assert_eq!(s.count_spooled().unwrap(), 1);
        assert_eq!(s.list_spooled(10).unwrap()[0].msg.text, "c");
        assert_eq!(s.queue_stats().unwrap().depth, 2);
    }

    /// A modem's claim and the mover's keep each other off a spooled row;
    /// the mover's never expires and is handed back only when asked.
    fn the_mover_and_a_modem_never_hold_one_row(fx: &dyn Fixture) {
        let spool = fx.open();
        let keys: Vec<String> = (0..2).map(|i| format!("{i:032}")).collect();
        let ids = spool
            .enqueue_keyed(&[message("a"), message("b")], &keys, &[])
            .unwrap();
        let sending = spool.claim_due("modem", LONG, 1).unwrap();
        assert_eq!(sending[0].id, ids[0]);
        assert!(
            !spool.claim_spooled_move(ids[0]).unwrap(),
            "a modem holds it"
        );
        assert!(spool.claim_spooled_move(ids[1]).unwrap());
        assert!(spool.claim_spooled_move(ids[1]).unwrap(), "the mover again");
        // no modem takes what the mover holds, however long it waits
        assert!(spool.claim_due("modem 2", LONG, 10).unwrap().is_empty());
        assert_eq!(spool.release_claims("modem 2").unwrap(), 0);
        // the mover lists its own (a move cut short), not the modem's
        let listed: Vec<i64> = spool
            .list_spooled(10)
            .unwrap()
            .iter()
            .map(|m| m.local_id)
            .collect();
        assert_eq!(listed, [ids[1]]);
        spool.release_spooled_move(&[ids[1]]).unwrap();
        let claimed = spool.claim_due("modem 2", LONG, 10).unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].id, ids[1]);
    }

    /// A message sent from the spool goes to the database's record once,
    /// with its outcome, its reports and a new id from the queue.
    fn a_finished_spooled_message_is_recorded_once(fx: &dyn Fixture) {
        // the spool is SQLite; the database is the backend under test
        let spool = SqliteFixture::new();
        let spool = spool.open();
        let main = fx.open();
        let keys = vec!["a".repeat(32), "b".repeat(32)];
        let ids = spool
            .enqueue_keyed(&[message("sent"), message("failed")], &keys, &[])
            .unwrap();
        let claimed = spool.claim_due("modem", LONG, 10).unwrap();
        assert_eq!(claimed.len(), 2);
        assert!(spool.finish(ids[0], "modem", &sent(2, "17,18")).unwrap());
        let failed = Outcome::Failed {
            error: "no network".into(),
        };
        assert!(spool.finish(ids[1], "modem", &failed).unwrap());
        let report = DeliveryReport {
            mr: 17,
            recipient: "420777000001".into(),
            st: 0,
            discharged: "2026-11-30 01:02:03+01:00".into(),
        };
        assert!(spool.save_report(&report).unwrap().is_some());
        assert_eq!(spool.count_spooled().unwrap(), 2, "finished ones count");
        assert!(spool.list_spooled(10).unwrap().is_empty());
        let done = spool.list_spooled_done(10).unwrap();
        assert_eq!(done.len(), 2);
        assert_eq!(done[0].key, keys[0]);
        assert_eq!(done[0].reports.len(), 1);
        // a message queued in the database meanwhile keeps its own id
        let queued = main.enqueue(&[message("in the database")]).unwrap()[0];
        let id = main
            .import_spooled_done(&done[0])
            .unwrap()
            .expect("moved now");
        assert_ne!(id, queued);
        assert_eq!(main.import_spooled_done(&done[0]).unwrap(), None);
        main.import_spooled_done(&done[1])
            .unwrap()
            .expect("moved now");
        let r = main.sms(id).unwrap().expect("in sms");
        assert_eq!(r.status, SmsStatus::Sent);
        assert_eq!((r.parts, r.part_refs.as_str()), (2, "17,18"));
        assert_eq!(r.sent_by, "modem");
        assert_eq!(r.group.as_deref(), Some("oncall"));
        assert_eq!(r.queued_at, done[0].queued_at, "the queue time is kept");
        assert_eq!(r.sent_at, done[0].sent_at);
        assert!(r.report_status.is_some(), "{r:?}");
        let all = main.list_sms(&ListFilter {
            limit: 10,
            ..Default::default()
        });
        let all = all.unwrap();
        assert_eq!(all.len(), 2);
        assert!(
            all.iter()
                .any(|r| r.status == SmsStatus::Failed && r.error.as_deref() == Some("no network"))
        );
        assert_eq!(main.queue_stats().unwrap().depth, 1, "the queue as it was");
        // a report for it still finds it in the database
        assert!(main.save_report(&report).unwrap().is_some());
        spool.delete_spooled_done(&[ids[0], ids[1]]).unwrap();
        assert_eq!(spool.count_spooled().unwrap(), 0);
        assert!(spool.list_spooled_done(10).unwrap().is_empty());
    }

    /// A request whose commit the database made but could not confirm is
    /// spooled too and sent from the spool: the copy queued in the
    /// database takes the outcome and is not sent again.
    fn a_copy_queued_by_an_unconfirmed_commit_takes_the_outcome(fx: &dyn Fixture) {
        let spool = SqliteFixture::new();
        let spool = spool.open();
        let main = fx.open();
        let key = "c".repeat(32);
        let queued = main
            .enqueue_keyed(&[message("twice?")], std::slice::from_ref(&key), &[])
            .unwrap()[0];
        let local = spool
            .enqueue_keyed(&[message("twice?")], std::slice::from_ref(&key), &[])
            .unwrap()[0];
        spool.claim_due("modem", LONG, 1).unwrap();
        assert!(spool.finish(local, "modem", &sent(1, "9")).unwrap());
        let done = spool.list_spooled_done(10).unwrap();
        assert_eq!(main.import_spooled_done(&done[0]).unwrap(), Some(queued));
        assert_eq!(main.queue_stats().unwrap().depth, 0, "not sent again");
        let r = main.sms(queued).unwrap().expect("recorded");
        assert_eq!((r.status, r.part_refs.as_str()), (SmsStatus::Sent, "9"));
        assert_eq!(main.import_spooled_done(&done[0]).unwrap(), None, "once");
        // a copy a sender holds (on the air now) is left to it
        let key = "d".repeat(32);
        main.enqueue_keyed(&[message("held")], std::slice::from_ref(&key), &[])
            .unwrap();
        assert_eq!(main.claim_due("other serve", LONG, 1).unwrap().len(), 1);
        let local = spool
            .enqueue_keyed(&[message("held")], std::slice::from_ref(&key), &[])
            .unwrap()[0];
        spool.claim_due("modem", LONG, 1).unwrap();
        assert!(spool.finish(local, "modem", &sent(1, "10")).unwrap());
        let done = spool.list_spooled_done(10).unwrap();
        let held = done.iter().find(|m| m.key == key).unwrap();
        assert_eq!(main.import_spooled_done(held).unwrap(), None);
        assert_eq!(main.queue_stats().unwrap().depth, 1);
    }

    /// Messages received into the spool are moved into `rcv` once, with
    /// their time; waiting parts join in the database when the rest comes.
    fn received_spooled_messages_move_once(fx: &dyn Fixture) {
        // the spool is SQLite; the database is the backend under test
        let spool = SqliteFixture::new();
        let spool = spool.open();
        let main = fx.open();
        let m = received("+420608337726", "in the spool");
        let Saved::New(local) = spool.save_received(&m).unwrap() else {
            panic!("stored")
        };
        let first = part(5, 2, 1, DataCoding::Ucs2, "0048", "H");
        assert_eq!(spool.save_part(&first).unwrap().saved, Saved::Waiting);
        assert_eq!(spool.count_spooled().unwrap(), 2);
        let listed = spool.list_spooled_received(10).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].local_id, local);
        assert_eq!(listed[0].msg, m);
        let id = main
            .import_received(&listed[0])
            .unwrap()
            .expect("moved now");
        assert_eq!(main.import_received(&listed[0]).unwrap(), None, "once");
        let row = main.rcv(id).unwrap().unwrap();
        assert_eq!(row.text, "in the spool");
        assert_eq!(row.received_at, listed[0].received_at, "its time is kept");
        // read again from the SIM after the move: still once
        assert_eq!(main.save_received(&m).unwrap(), Saved::Duplicate);
        spool.delete_spooled_received(&[local]).unwrap();
        let parts = spool.list_spooled_parts(10).unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].1, first);
        assert_eq!(main.save_part(&parts[0].1).unwrap().saved, Saved::Waiting);
        spool.delete_spooled_parts(&[parts[0].0]).unwrap();
        assert_eq!(spool.count_spooled().unwrap(), 0);
        let second = part(5, 2, 2, DataCoding::Ucs2, "0069", "i");
        let Saved::New(joined) = main.save_part(&second).unwrap().saved else {
            panic!("joined in the database")
        };
        assert_eq!(main.rcv(joined).unwrap().unwrap().parts, 2);
    }

    suite!(
        a_spooled_message_is_moved_once,
        a_keyed_commit_is_not_moved_again,
        the_spool_lists_counts_and_deletes,
        the_mover_and_a_modem_never_hold_one_row,
        a_finished_spooled_message_is_recorded_once,
        a_copy_queued_by_an_unconfirmed_commit_takes_the_outcome,
        received_spooled_messages_move_once,
    );
}

mod calls {
    use super::*;

    fn call(number: &str, ended: i64, outcome: CallOutcome) -> CallRecord {
        CallRecord {
            sms_id: 7,
            number: number.into(),
            sender: "host:/dev/ttyUSB0".into(),
            started: ended - 30,
            ended,
            outcome,
            error: None,
        }
    }

    fn a_call_row_is_recorded_and_listed_newest_first(fx: &dyn Fixture) {
        let s = fx.open();
        assert!(s.list_calls(10, None).unwrap().is_empty());
        let now = now_secs();
        let a = s
            .record_call(&call("+420608337726", now, CallOutcome::Answered))
            .unwrap();
        let failed = CallRecord {
            error: Some("ATD+420777123456;: +CME ERROR: 30".into()),
            ..call("+420777123456", now + 1, CallOutcome::Failed)
        };
        let b = s.record_call(&failed).unwrap();
        assert!(b > a);
        let rows = s.list_calls(10, None).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].id, b);
        assert_eq!(rows[0].call, failed, "every column comes back");
        assert_eq!(rows[1].call.outcome, CallOutcome::Answered);
        assert_eq!(rows[1].call.error, None);
        // paging by id
        let older = s.list_calls(10, Some(b)).unwrap();
        assert_eq!(older.iter().map(|r| r.id).collect::<Vec<_>>(), [a]);
        assert_eq!(s.list_calls(1, None).unwrap().len(), 1);
        // per SMS, the last call's outcome (both followed SMS 7)
        assert_eq!(s.call_outcomes(&[]).unwrap(), []);
        assert_eq!(
            s.call_outcomes(&[8, 7]).unwrap(),
            [(7, CallOutcome::Failed)]
        );
        // an outcome text the store does not know is an error naming it
        fx.open()
            .execute_sql("UPDATE `call` SET outcome = 'picked up' WHERE outcome = 'answered'")
            .unwrap();
        let e = s.list_calls(10, None).unwrap_err();
        assert!(e.to_string().contains("call.outcome"), "{e}");
    }

    fn a_number_is_called_once_per_call_ring(fx: &dyn Fixture) {
        let s = fx.open();
        let ring = Duration::from_secs(30);
        let now = now_secs();
        assert!(s.call_due("+420608337726", now, ring).unwrap());
        s.record_call(&call("+420608337726", now - 10, CallOutcome::NoAnswer))
            .unwrap();
        // ended 10 s ago, call-ring 30 s: not again yet; others may be called
        assert!(!s.call_due("+420608337726", now, ring).unwrap());
        assert!(s.call_due("+420777123456", now, ring).unwrap());
        // at the edge: ended exactly call-ring ago is due again
        assert!(!s.call_due("+420608337726", now + 19, ring).unwrap());
        assert!(s.call_due("+420608337726", now + 20, ring).unwrap());
        // a failed call counts too: the modem is not asked to dial in a loop
        s.record_call(&call("+420777123456", now, CallOutcome::Failed))
            .unwrap();
        assert!(!s.call_due("+420777123456", now, ring).unwrap());
    }

    fn call_totals_count_every_outcome(fx: &dyn Fixture) {
        let s = fx.open();
        let zero: Vec<(CallOutcome, u64)> = CallOutcome::ALL.iter().map(|o| (*o, 0)).collect();
        assert_eq!(s.call_totals().unwrap(), zero);
        let now = now_secs();
        for o in [CallOutcome::Busy, CallOutcome::Busy, CallOutcome::Rejected] {
            s.record_call(&call("+420608337726", now, o)).unwrap();
        }
        let totals = s.call_totals().unwrap();
        assert_eq!(totals.len(), CallOutcome::ALL.len());
        let of = |o| totals.iter().find(|(t, _)| *t == o).unwrap().1;
        assert_eq!(of(CallOutcome::Busy), 2);
        assert_eq!(of(CallOutcome::Rejected), 1);
        assert_eq!(of(CallOutcome::Answered), 0);
    }

    fn long_texts_are_clipped_not_refused(fx: &dyn Fixture) {
        let s = fx.open();
        let long = CallRecord {
            error: Some("x".repeat(1000)),
            sender: "s".repeat(300),
            ..call("+420608337726", now_secs(), CallOutcome::Failed)
        };
        s.record_call(&long).unwrap();
        let row = &s.list_calls(1, None).unwrap()[0].call;
        assert_eq!(row.error.as_deref().map(str::len), Some(255));
        assert_eq!(row.sender.len(), 128);
    }

    suite!(
        a_call_row_is_recorded_and_listed_newest_first,
        a_number_is_called_once_per_call_ring,
        call_totals_count_every_outcome,
        long_texts_are_clipped_not_refused,
    );
}

/// Escalation chains (issue 19 item 5): a group with a step time, the
/// chain written with its first SMS, each step and the end once, an ACK
/// of any step's SMS ending it.
mod escalation {
    use super::*;

    const A: &str = "420608337726";
    const B: &str = "420777123456";
    const C: &str = "420606000111";

    fn first(text: &str) -> NewMessage {
        NewMessage {
            group: Some("oncall".into()),
            escalation: Some(EscalationStart {
                group: "oncall".into(),
                step_time: Duration::from_secs(600),
                members: vec![A.into(), B.into(), C.into()],
                text: text.into(),
            }),
            ..msg(A, &step_text(1, 3, text))
        }
    }

    fn only(s: &dyn Store, active: bool) -> Escalation {
        let mut list = s.escalations(active, 10).unwrap();
        assert_eq!(list.len(), 1, "{list:?}");
        list.remove(0)
    }

    fn send_all(s: &dyn Store) {
        for m in s.claim_due("a", LONG, 10).unwrap() {
            assert!(s.finish(m.id, "a", &sent(1, "1")).unwrap());
        }
    }

    fn a_group_can_be_an_escalation_chain(fx: &dyn Fixture) {
        let s = fx.open();
        let members = [A.to_string(), B.to_string()];
        assert!(
            s.set_group_with("oncall", &members, Some(Duration::from_secs(600)))
                .unwrap()
        );
        let g = s.group("oncall").unwrap().unwrap();
        assert_eq!(g.escalate, Some(Duration::from_secs(600)));
        assert_eq!(g.members, members);
        assert_eq!(s.list_groups().unwrap()[0].escalate, g.escalate);
        // set again without a step time: a plain group
        assert!(!s.set_group("oncall", &members).unwrap());
        assert_eq!(s.group("oncall").unwrap().unwrap().escalate, None);
        assert_eq!(s.group("nobody").unwrap(), None);
        assert_eq!(s.group_members("oncall").unwrap().unwrap(), members);
    }

    fn a_chain_steps_once_and_an_ack_ends_it(fx: &dyn Fixture) {
        let s = fx.open();
        assert!(s.escalations(false, 10).unwrap().is_empty());
        let ids = s.enqueue(&[first("disk full")]).unwrap();
        let c = only(&*s, true);
        assert_eq!(
            (c.step, c.state, c.group.as_str(), c.text.as_str()),
            (1, EscalationState::Active, "oncall", "disk full")
        );
        assert_eq!(c.members, [A, B, C]);
        assert_eq!(c.step_time, Duration::from_secs(600));
        assert_eq!(c.steps.len(), 1);
        assert_eq!(
            (
                c.steps[0].step,
                c.steps[0].phone.as_str(),
                c.steps[0].sms_id
            ),
            (1, A, ids[0])
        );
        assert_eq!(c.steps[0].status, StepStatus::Queued);
        send_all(&*s);
        let c = only(&*s, true);
        let StepStatus::Sent { age_secs, .. } = &c.steps[0].status else {
            panic!("{c:?}");
        };
        assert!((0..600).contains(age_secs), "{c:?}");

        // step 2, queued once (a second serve finds the step moved on)
        let next = Guard::EscalationStep { id: c.id, step: 1 };
        let m = [msg(B, &c.step_text(2))];
        let step2 = s.enqueue_guarded(&m, &next).unwrap().unwrap();
        assert_eq!(s.enqueue_guarded(&m, &next).unwrap(), None);
        let c = only(&*s, true);
        assert_eq!(c.step, 2);
        assert_eq!(c.steps.len(), 2);
        assert_eq!(
            (
                c.steps[1].step,
                c.steps[1].phone.as_str(),
                c.steps[1].sms_id
            ),
            (2, B, step2[0])
        );
        assert_eq!(s.queue_stats().unwrap().depth, 1);
        send_all(&*s);

        // the first member's ACK (of step 1) ends it
        let ack = Guard::Ack {
            rcv_id: 5,
            sms_id: ids[0],
            by: format!("+{A}"),
            now: 1234,
        };
        assert!(s.enqueue_guarded(&[], &ack).unwrap().is_some());
        assert!(s.escalations(true, 10).unwrap().is_empty());
        let c = only(&*s, false);
        assert_eq!(c.state, EscalationState::Acked);
        assert_eq!(c.acked_by.as_deref(), Some(format!("+{A}").as_str()));
        assert!(c.ended.is_some());
        // no further step, no end
        let later = Guard::EscalationStep { id: c.id, step: 2 };
        assert_eq!(
            s.enqueue_guarded(&[msg(C, &c.step_text(3))], &later)
                .unwrap(),
            None
        );
        let end = Guard::EscalationEnd { id: c.id, step: 2 };
        assert_eq!(s.enqueue_guarded(&[], &end).unwrap(), None);
        assert_eq!(only(&*s, false).state, EscalationState::Acked);
        assert_eq!(s.queue_stats().unwrap().depth, 0);
    }

    fn a_chain_ends_once_and_an_ack_elsewhere_changes_nothing(fx: &dyn Fixture) {
        let s = fx.open();
        // repeats are not merged into one chain: each alert is its own
        let window = NewMessage {
            coalesce_window: LONG,
            ..first("db down")
        };
        s.enqueue(&[window.clone(), window]).unwrap();
        let plain = s.enqueue(&[msg(B, "other alert")]).unwrap();
        send_all(&*s);
        let chains = s.escalations(true, 10).unwrap();
        assert_eq!(chains.len(), 2, "{chains:?}");
        assert_ne!(chains[0].steps[0].sms_id, chains[1].steps[0].sms_id);
        // an ACK of a message that is no step: the chains go on
        let ack = Guard::Ack {
            rcv_id: 9,
            sms_id: plain[0],
            by: format!("+{B}"),
            now: 1,
        };
        assert!(s.enqueue_guarded(&[], &ack).unwrap().is_some());
        assert_eq!(s.escalations(true, 10).unwrap().len(), 2);
        // the end, once; a stale step number changes nothing
        let id = chains[0].id;
        let stale = Guard::EscalationEnd { id, step: 3 };
        assert_eq!(s.enqueue_guarded(&[], &stale).unwrap(), None);
        let end = Guard::EscalationEnd { id, step: 1 };
        assert!(s.enqueue_guarded(&[], &end).unwrap().is_some());
        assert_eq!(s.enqueue_guarded(&[], &end).unwrap(), None);
        let all = s.escalations(false, 10).unwrap();
        assert_eq!(all[0].state, EscalationState::Exhausted);
        assert!(all[0].ended.is_some());
        assert_eq!(all[1].state, EscalationState::Active);
        assert_eq!(s.escalations(true, 10).unwrap()[0].id, all[1].id);
        // a failed step's SMS is shown as such
        let next = Guard::EscalationStep {
            id: all[1].id,
            step: 1,
        };
        let ids = s
            .enqueue_guarded(&[msg(B, "[2/3] db down")], &next)
            .unwrap()
            .unwrap();
        s.claim_due("a", LONG, 10).unwrap();
        let failed = Outcome::Failed {
            error: "+CMS ERROR: 38".into(),
        };
        assert!(s.finish(ids[0], "a", &failed).unwrap());
        let c = s.escalations(true, 10).unwrap().remove(0);
        assert_eq!(c.steps[1].status, StepStatus::NotSent(SmsStatus::Failed));
    }

    /// A late check-in or the heartbeat to an escalation group: its
    /// guarded enqueue starts the chain too.
    fn a_guarded_alert_starts_its_chain(fx: &dyn Fixture) {
        let s = fx.open();
        let once = Guard::Once {
            name: "heartbeat".into(),
            slot: 1,
        };
        let ids = s
            .enqueue_guarded(&[first("smss alive")], &once)
            .unwrap()
            .unwrap();
        let c = only(&*s, true);
        assert_eq!(c.steps[0].sms_id, ids[0]);
        assert_eq!(c.text, "smss alive");
        // not again for the same slot: no second chain
        assert_eq!(
            s.enqueue_guarded(&[first("smss alive")], &once).unwrap(),
            None
        );
        assert_eq!(s.escalations(false, 10).unwrap().len(), 1);
    }

    suite!(
        a_guarded_alert_starts_its_chain,
        a_group_can_be_an_escalation_chain,
        a_chain_steps_once_and_an_ack_ends_it,
        a_chain_ends_once_and_an_ack_elsewhere_changes_nothing,
    );
}
