//! The production backend: MySQL / MariaDB through the `mysql` driver and
//! a pool of our own (`mysql_pool.rs`: why not the driver's).
//!
//! Every new connection sets `time_zone = '+00:00'` (so `NOW(3)` and the
//! column defaults are UTC) and `utf8mb4`. Several senders on several hosts
//! may share the queue: a claim is, in one READ COMMITTED transaction, an
//! UPDATE making due retries plain due rows, `SELECT ... FOR UPDATE SKIP
//! LOCKED` (MariaDB >= 10.6, MySQL >= 8.0, checked at open) and an UPDATE
//! setting the claim. READ COMMITTED needs `binlog_format` ROW or MIXED (the
//! defaults) where the binary log is on.

use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{DriverError, IsolationLevel, Opts, OptsBuilder, TxOpts};

use super::migrate::{self, Migration, Migrator};
use super::mysql_pool::{Pool, PooledConn};
use super::retry;
use super::sql::{Backend, Dialect, Exec, Row, TxKind, Value, capped};
use super::{ErrorKind, Result, StoreError};

/// Connections open at most, unless the URL sets `pool_max`.
const POOL_MAX: usize = 10;
/// How long to wait for a free pooled connection before "unavailable".
const CONN_WAIT: Duration = Duration::from_secs(10);
/// Defaults for options the URL does not set.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// A DATETIME(3) column as `YYYY-MM-DD HH:MM:SS.fff`.
macro_rules! time {
    ($col:literal) => {
        concat!("LEFT(DATE_FORMAT(", $col, ", '%Y-%m-%d %H:%i:%s.%f'), 23)")
    };
}

/// Step 1 of a claim: rows whose retry time has passed become plain due
/// rows (`next_attempt` NULL). A range of `msg_due`: reads only those rows,
/// each once per retry, never the ones still waiting. (Left to itself,
/// MariaDB 10.11 scans the whole table for this UPDATE of an indexed column.)
const PROMOTE_DUE: &str = "UPDATE msg FORCE INDEX (msg_due) SET next_attempt = NULL \
                           WHERE next_attempt IS NOT NULL AND next_attempt <= NOW(3)";

/// Step 2: the due rows, most urgent first, then oldest id, locked; rows
/// another sender is claiming right now are skipped. `msg_due
/// (next_attempt, priority, id)` holds the NULL group in that order, so
/// every sender of a cluster claims the urgent rows first; this reads the
/// first LIMIT unclaimed rows
/// (plus the few under a live claim) and stops, however long the queue is;
/// no filesort. FORCE INDEX keeps the optimizer from a primary key scan,
/// which would read (and lock-test) every waiting row before the due ones.
const CLAIM: &str = concat!(
    "SELECT id, phone, text, source, attempts, concat_ref, parts_done, part_refs, ",
    time!("created"),
    ", priority, repeats, shown_repeats, TIMESTAMPDIFF(SECOND, NOW(3), expires_at), flash,",
    " send_after, send_before, HOUR(CONVERT_TZ(UTC_TIMESTAMP(), '+00:00', 'SYSTEM')) * 60",
    " + MINUTE(CONVERT_TZ(UTC_TIMESTAMP(), '+00:00', 'SYSTEM')) FROM msg FORCE INDEX (msg_due) WHERE next_attempt IS NULL",
    " AND (claimed_by IS NULL OR claim_until < NOW(3))",
    " ORDER BY priority, id LIMIT ? FOR UPDATE SKIP LOCKED"
);

/// Anything due and unclaimed more urgent than `?`: the NULL group's
/// ranks below it, then the due retries not yet promoted (few: each claim
/// promotes them). Both ranges of `msg_due`; no lock taken.
const MORE_URGENT: &str = "SELECT 1 FROM DUAL WHERE EXISTS (SELECT 1 FROM msg FORCE INDEX \
     (msg_due) WHERE next_attempt IS NULL AND priority < ? \
     AND (claimed_by IS NULL OR claim_until < NOW(3))) OR EXISTS (SELECT 1 FROM msg FORCE \
     INDEX (msg_due) WHERE next_attempt IS NOT NULL AND next_attempt <= NOW(3) \
     AND priority < ? AND (claimed_by IS NULL OR claim_until < NOW(3)))";

/// A duration in microseconds, for `NOW(3) + INTERVAL ? MICROSECOND`.
fn micros(d: Duration) -> i64 {
    capped(d).as_micros() as i64
}

/// The prefix is `+` and digits (checked by the caller): no LIKE wildcards
/// to escape. LIKE 'const%' is a range of the index.
fn number_prefix(col: &str, prefix: &str) -> (String, Vec<Value>) {
    (format!("{col} LIKE ?"), vec![format!("{prefix}%").into()])
}

static DIALECT: Dialect = Dialect {
    now: "NOW(3)",
    now_shifted: "NOW(3) + INTERVAL ? MICROSECOND",
    later: |d| Value::Int(micros(d)),
    earlier: |d| Value::Int(-micros(d)),
    time: time!("{}"),
    age_secs: "TIMESTAMPDIFF(SECOND, {}, NOW(3))",
    insert_ignore: "INSERT IGNORE",
    insert_or_replace: "REPLACE",
    upsert: "ON DUPLICATE KEY UPDATE",
    excluded: "VALUES({})",
    for_update: " FOR UPDATE",
    promote_due: PROMOTE_DUE,
    claim: CLAIM,
    more_urgent: MORE_URGENT,
    merge_on_duplicate: " ON DUPLICATE KEY UPDATE repeats = repeats + 1, id = LAST_INSERT_ID(id)",
    number_prefix,
};

pub struct Mysql {
    pool: Pool,
}

impl Mysql {
    /// Connects to `url` (`mysql://user:pass@host:port/database`), checks the
    /// server version and the schema (creating or upgrading it with
    /// `create_schema`; then a missing database is created too).
    pub fn open(url: &str, create_schema: bool) -> Result<Mysql> {
        Mysql::open_checked(url, create_schema, true)
    }

    /// A store for `url` that has not connected yet (its connections are
    /// made when used): `serve` started while the database is unreachable.
    /// Its server version and schema are for the caller to check once the
    /// database answers.
    pub fn unchecked(url: &str) -> Result<Mysql> {
        Mysql::open_checked(url, false, false)
    }

    fn open_checked(url: &str, create_schema: bool, check: bool) -> Result<Mysql> {
        // As given (the host, the options), the password as ***.
        let shown = crate::secret::redact_url(url);
        let opts = Opts::from_url(url)
            .map_err(|e| StoreError::other(format!("bad MySQL URL {shown}: {e}")).with_source(e))?;
        let Some(db_name) = opts.get_db_name().map(str::to_string) else {
            return Err(StoreError::other(format!(
                "the MySQL URL {shown} names no database: use mysql://user:pass@host:3306/database"
            )));
        };
        let max = if url.contains("pool_max") {
            opts.get_pool_opts().constraints().max()
        } else {
            POOL_MAX
        };
        let store = Mysql {
            pool: Pool::new(session_opts(&opts, Some(&db_name)).into(), max),
        };
        if !check {
            return Ok(store);
        }
        let mut conn = match store.pool.get(CONN_WAIT) {
            Err(mysql::Error::MySqlError(e)) if e.code == ER_BAD_DB_ERROR && create_schema => {
                create_database(&opts, &db_name)?;
                store.conn()?
            }
            Err(mysql::Error::MySqlError(e)) if e.code == ER_BAD_DB_ERROR => {
                return Err(StoreError::schema(format!(
                    "the database '{db_name}' does not exist ({shown})"
                ))
                .with_source(e)
                .needing_init());
            }
            other => other.map_err(|e| {
                let mut e = map_err(e);
                let via = local_socket(&opts)
                    .map(|s| format!(" through the socket {s}"))
                    .unwrap_or_default();
                e.message = format!("cannot connect to {shown}{via}: {}", e.message);
                e
            })?,
        };
        // It may hold the migration lock (GET_LOCK): closed after use
        // whatever happens, so nothing of the migration stays.
        conn.discard();
        check_server_version(&mut conn)?;
        let lock_name = lock_name(&db_name);
        if create_schema {
            // DDL is not transactional: keep two init-db runs apart.
            let got: Option<i64> = conn
                .exec_first("SELECT GET_LOCK(?, 60)", (&lock_name,))
                .map_err(map_err)?;
            if got != Some(1) {
                return Err(StoreError::unavailable(
                    "another process is migrating the schema (GET_LOCK timed out)",
                ));
            }
        }
        let result = migrate::run(
            &mut MysqlMigrator(&mut conn),
            migrate::MYSQL,
            create_schema,
            &shown,
        );
        if create_schema {
            let _ = conn.exec_drop("DO RELEASE_LOCK(?)", (&lock_name,));
        }
        result?;
        drop(conn);
        Ok(store)
    }

    fn conn(&self) -> Result<PooledConn<'_>> {
        self.pool.get(CONN_WAIT).map_err(map_err)
    }
}

const ER_BAD_DB_ERROR: u16 = 1049;

/// Where MySQL and MariaDB put their socket (Debian first, as the `mysql`
/// client has it compiled in).
const SOCKETS: &[&str] = &[
    "/run/mysqld/mysqld.sock",
    "/var/run/mysqld/mysqld.sock",
    "/var/lib/mysql/mysql.sock",
    "/tmp/mysql.sock",
];

/// For the host `localhost`, the server's Unix socket, as the `mysql`
/// client connects: a grant to `'smss'@'localhost'` then works even with
/// `skip-name-resolve` (over TCP the server sees 127.0.0.1). Not when the
/// URL names a `socket` itself or says `prefer_socket=false` (TCP, like
/// `mysql --protocol=tcp`), nor when no socket is found.
fn local_socket(opts: &Opts) -> Option<&'static str> {
    if opts.get_socket().is_some()
        || !opts.get_prefer_socket()
        || opts.get_ip_or_hostname() != "localhost"
    {
        return None;
    }
    SOCKETS
        .iter()
        .copied()
        .find(|s| std::path::Path::new(s).exists())
}

/// The URL's options plus our session setup and defaults for the timeouts
/// the URL leaves unset.
fn session_opts(opts: &Opts, db_name: Option<&str>) -> OptsBuilder {
    let mut b = OptsBuilder::from_opts(opts.clone())
        .db_name(db_name)
        .init(vec![
            "SET time_zone = '+00:00'",
            "SET NAMES utf8mb4",
            // A server configured with autocommit off would leave a lone
            // INSERT uncommitted (enqueue relies on autocommit).
            "SET autocommit = 1",
            // Claims skip locked rows; anything else that waits for a lock
            // this long gives up (error 1205), and runs again (`retry.rs`).
            "SET SESSION innodb_lock_wait_timeout = 10",
        ]);
    if opts.get_tcp_connect_timeout().is_none() {
        b = b.tcp_connect_timeout(Some(CONNECT_TIMEOUT));
    }
    if opts.get_read_timeout().is_none() {
        b = b
            .read_timeout(Some(IO_TIMEOUT))
            .write_timeout(Some(IO_TIMEOUT));
    }
    if let Some(socket) = local_socket(opts) {
        b = b.socket(Some(socket));
    }
    b
}

fn create_database(opts: &Opts, db_name: &str) -> Result<()> {
    if db_name.contains('`') {
        return Err(StoreError::other(format!(
            "unsupported database name {db_name:?}"
        )));
    }
    let mut conn = mysql::Conn::new(session_opts(opts, None)).map_err(map_err)?;
    log::info!("creating MySQL database {db_name}");
    conn.query_drop(format!(
        "CREATE DATABASE IF NOT EXISTS `{db_name}` \
         CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    ))
    .map_err(|e| {
        StoreError::other(format!(
            "cannot create database {db_name}: {}",
            in_words(&e)
        ))
        .with_source(e)
    })
}

fn lock_name(db_name: &str) -> String {
    let mut name = format!("smss_migrate.{db_name}");
    name.truncate(64);
    name
}

/// Parses "10.11.19-MariaDB-0+deb12u1" or "8.0.36" and requires SKIP LOCKED.
fn check_server_version(conn: &mut mysql::Conn) -> Result<()> {
    let version: String = conn
        .query_first("SELECT VERSION()")
        .map_err(map_err)?
        .unwrap_or_default();
    let mut nums = version
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let major_minor = (nums.next().unwrap_or(0), nums.next().unwrap_or(0));
    let (needed, product) = if version.to_ascii_lowercase().contains("mariadb") {
        ((10, 6), "MariaDB 10.6")
    } else {
        ((8, 0), "MySQL 8.0")
    };
    if major_minor < needed {
        return Err(StoreError::other(format!(
            "the database server is {version}; smss needs {product} or newer \
             (for SELECT ... FOR UPDATE SKIP LOCKED)"
        )));
    }
    Ok(())
}

struct MysqlMigrator<'a>(&'a mut mysql::Conn);

impl Migrator for MysqlMigrator<'_> {
    fn current_version(&mut self) -> Result<u32> {
        let exists: Option<i64> = self
            .0
            .query_first(
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name = 'smss_schema'",
            )
            .map_err(map_err)?;
        if exists.unwrap_or(0) == 0 {
            return Ok(0);
        }
        let v: Option<Option<i64>> = self
            .0
            .query_first("SELECT MAX(version) FROM smss_schema")
            .map_err(map_err)?;
        Ok(v.flatten().unwrap_or(0).clamp(0, u32::MAX as i64) as u32)
    }

    /// Runs under the GET_LOCK taken in `open`. DDL commits implicitly, so
    /// only the version update is a transaction of its own.
    fn apply(&mut self, m: &Migration) -> Result<()> {
        if self.current_version()? >= m.version {
            return Ok(());
        }
        for stmt in migrate::split_statements(m.sql) {
            self.0.query_drop(&stmt).map_err(|e| {
                StoreError::schema(format!("migration {} failed: {}", m.name, in_words(&e)))
                    .with_source(e)
            })?;
        }
        let mut tx = self
            .0
            .start_transaction(TxOpts::default())
            .map_err(map_err)?;
        tx.query_drop("DELETE FROM smss_schema").map_err(map_err)?;
        tx.exec_drop("INSERT INTO smss_schema (version) VALUES (?)", (m.version,))
            .map_err(map_err)?;
        tx.commit().map_err(map_err)
    }
}

fn map_err(e: mysql::Error) -> StoreError {
    let kind = match &e {
        mysql::Error::IoError(_) | mysql::Error::CodecError(_) => ErrorKind::Unavailable,
        mysql::Error::DriverError(
            DriverError::ConnectTimeout
            | DriverError::CouldNotConnect(_)
            | DriverError::PacketOutOfSync
            | DriverError::UnexpectedPacket
            | DriverError::SetupError
            | DriverError::PoisonedPoolMutex
            | DriverError::Timeout,
        ) => ErrorKind::Unavailable,
        mysql::Error::MySqlError(m) => match m.code {
            // too many connections, shutdown in progress, server gone away /
            // lost (as reported by some proxies), connection killed
            // (MariaDB); 1047 "WSREP has not yet prepared node for
            // application use": a Galera node outside the primary component
            // (split off, or joining) accepts no work.
            1040 | 1053 | 2006 | 2013 | 1927 | 1047 => ErrorKind::Unavailable,
            // Deadlock (on Galera also a certification failure), lock wait
            // timeout: the server rolled the work back (`retry.rs`).
            1213 | 1205 => ErrorKind::Conflict,
            // duplicate key (1062, 1586), a row referenced or a reference
            // missing (1451, 1452; 1216, 1217 from older servers), NULL in a
            // NOT NULL column (1048), a CHECK (MySQL 3819, MariaDB 4025).
            1062 | 1586 | 1451 | 1452 | 1216 | 1217 | 1048 | 3819 | 4025 => ErrorKind::Constraint,
            _ => ErrorKind::Other,
        },
        _ => ErrorKind::Other,
    };
    StoreError::new(kind, in_words(&e)).with_source(e)
}

/// The driver's error as a sentence for the administrator: the server's
/// message with what to check, not `MySqlError { ERROR 1045 (28000): ... }`.
fn in_words(e: &mysql::Error) -> String {
    let m = match e {
        mysql::Error::MySqlError(m) => m,
        mysql::Error::IoError(io) => return format!("cannot reach the MySQL server: {io}"),
        mysql::Error::DriverError(d @ DriverError::CouldNotConnect(_)) => {
            return format!("{d} (is the server running, and the host and port right?)");
        }
        mysql::Error::DriverError(d) => return d.to_string(),
        other => return other.to_string(),
    };
    // Access denied for user 'smss'@'127.0.0.1' (using password: YES)
    let user_at_host = || {
        let rest = m.message.split_once("for user '")?.1;
        let (user, rest) = rest.split_once("'@'")?;
        let host = rest.split_once('\'')?.0;
        Some(format!("{user}@{host}"))
    };
    match (m.code, user_at_host()) {
        // 1698: MariaDB's for a user of another authentication (unix_socket)
        (1045 | 1698, Some(who)) => {
            let without = if m.message.contains("using password: NO") {
                " (no password was given)"
            } else {
                ""
            };
            format!(
                "access denied for user {who}{without}: check the user, password and host of \
                 the grant (CREATE USER / GRANT ... TO 'user'@'host')"
            )
        }
        (1044, Some(who)) => format!(
            "access denied for user {who} to the database: GRANT it SELECT, INSERT, UPDATE, \
             DELETE, CREATE, ALTER, INDEX ON that database"
        ),
        _ => format!("{} (MySQL error {})", m.message, m.code),
    }
}

fn conversion(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::other(format!("unexpected value from the database: {e}")).with_source(e)
}

impl From<&Value> for mysql::Value {
    fn from(v: &Value) -> mysql::Value {
        match v {
            Value::Null => mysql::Value::NULL,
            Value::Int(i) => mysql::Value::Int(*i),
            Value::Text(t) => mysql::Value::Bytes(t.as_bytes().to_vec()),
        }
    }
}

fn bind(params: &[Value]) -> mysql::Params {
    if params.is_empty() {
        mysql::Params::Empty
    } else {
        mysql::Params::Positional(params.iter().map(Into::into).collect())
    }
}

fn read_row(row: mysql::Row) -> Result<Row> {
    row.unwrap()
        .into_iter()
        .map(|v| {
            Ok(match v {
                mysql::Value::NULL => Value::Null,
                mysql::Value::Int(i) => Value::Int(i),
                mysql::Value::UInt(u) => Value::Int(i64::try_from(u).map_err(conversion)?),
                mysql::Value::Bytes(b) => Value::Text(String::from_utf8(b).map_err(conversion)?),
                other => Value::Text(other.as_sql(true).trim_matches('\'').to_owned()),
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(Row)
}

/// What the last statement did, on a connection or in a transaction (the
/// driver has these methods on both, not in a trait).
trait Outcome {
    fn changed(&self) -> u64;
    fn last_id(&self) -> Option<u64>;
}

impl Outcome for mysql::Conn {
    fn changed(&self) -> u64 {
        self.affected_rows()
    }

    fn last_id(&self) -> Option<u64> {
        Some(self.last_insert_id()).filter(|&id| id != 0)
    }
}

impl Outcome for mysql::Transaction<'_> {
    fn changed(&self) -> u64 {
        self.affected_rows()
    }

    fn last_id(&self) -> Option<u64> {
        self.last_insert_id()
    }
}

/// Statements on a connection or in one of its transactions.
struct On<'a, Q>(&'a mut Q);

impl<Q: Queryable + Outcome> Exec for On<'_, Q> {
    fn exec(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        self.0.exec_drop(sql, bind(params)).map_err(map_err)?;
        Ok(self.0.changed())
    }

    fn insert(&mut self, sql: &str, params: &[Value]) -> Result<Option<i64>> {
        if self.exec(sql, params)? == 0 {
            return Ok(None);
        }
        let id = self
            .0
            .last_id()
            .ok_or_else(|| StoreError::other("an INSERT gave no id"))?;
        Ok(Some(i64::try_from(id).map_err(conversion)?))
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let rows: Vec<mysql::Row> = self.0.exec(sql, bind(params)).map_err(map_err)?;
        rows.into_iter().map(read_row).collect()
    }
}

/// Statements outside a transaction, each run again on a conflict.
struct Autocommit<E>(E);

impl<E: Exec> Exec for Autocommit<E> {
    fn exec(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        retry::on_conflict("a statement", || self.0.exec(sql, params))
    }

    fn insert(&mut self, sql: &str, params: &[Value]) -> Result<Option<i64>> {
        retry::on_conflict("an insert", || self.0.insert(sql, params))
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        retry::on_conflict("a query", || self.0.query(sql, params))
    }
}

impl Backend for Mysql {
    fn name(&self) -> &'static str {
        "mysql"
    }

    fn dialect(&self) -> &'static Dialect {
        &DIALECT
    }

    /// Each statement commits on its own: one that lost a conflict
    /// committed nothing and runs again by itself ([`Autocommit`]).
    fn run<T>(&self, f: impl FnOnce(&mut dyn Exec) -> Result<T>) -> Result<T> {
        let mut conn = self.conn()?;
        f(&mut Autocommit(On(&mut *conn)))
    }

    /// A transaction that lost a conflict (deadlock, Galera certification
    /// failure, lock wait timeout) was rolled back whole, by the server or
    /// when `tx` is dropped: it runs again from the start (`retry.rs`).
    fn transaction<T>(
        &self,
        kind: TxKind,
        mut f: impl FnMut(&mut dyn Exec) -> Result<T>,
    ) -> Result<T> {
        let opts = match kind {
            TxKind::Write => TxOpts::default(),
            // Claims and the release of claims touch many rows that other
            // senders are claiming too: READ COMMITTED unlocks the rows a
            // statement looked at but did not change at once, instead of
            // at commit, and takes no gap locks.
            TxKind::Claim => {
                TxOpts::default().set_isolation_level(Some(IsolationLevel::ReadCommitted))
            }
            // Not `set_with_consistent_snapshot`: mysql 28's
            // `_start_transaction` unwraps that statement's result, so a
            // server refusing it (a Galera node outside the primary
            // component: 1047) panicked the calling thread (seen: serve's
            // spool reconcile thread, which then never moved the spool in).
            // A plain REPEATABLE READ transaction takes its snapshot at its
            // first read instead of its start: the same for reads only.
            TxKind::Snapshot => TxOpts::default(),
        };
        retry::on_conflict("a transaction", || {
            let mut conn = self.conn()?;
            let mut tx = conn.start_transaction(opts).map_err(map_err)?;
            let value = f(&mut On(&mut tx))?;
            tx.commit().map_err(map_err)?;
            Ok(value)
        })
    }

    fn execute_batch(&self, sql: &str) -> Result<()> {
        let mut conn = self.conn()?;
        // Arbitrary SQL may change the session: not for another caller.
        conn.discard();
        conn.query_drop(sql).map_err(map_err)
    }

    /// The plans (EXPLAIN, MariaDB 10.11, 100,000 rows; tests/web.rs
    /// `large_history_mysql` prints them with times): the first page of
    /// `sms` reads the primary key backwards and stops after `n` rows; with
    /// a status it reads `sms_status (status, id)` backwards; a number
    /// prefix (`LIKE '420608%'`) is a range of `sms_phone` with the few
    /// matching rows sorted, or, when the optimizer's index dive finds that
    /// the prefix matches many rows, the primary key backwards until `n` of
    /// them are found.
    fn explain(&self, sql: &str, params: &[Value]) -> Result<String> {
        let rows: Vec<mysql::Row> = self
            .conn()?
            .exec(format!("EXPLAIN {sql}"), bind(params))
            .map_err(map_err)?;
        let lines: Vec<String> = rows
            .iter()
            .map(|r| {
                let col = |name: &str| -> String {
                    r.get_opt::<Option<String>, _>(name)
                        .and_then(|v| v.ok())
                        .flatten()
                        .unwrap_or_default()
                };
                format!(
                    "type {}, key {}, rows {}, Extra: {}",
                    col("type"),
                    col("key"),
                    col("rows"),
                    col("Extra")
                )
            })
            .collect();
        Ok(lines.join("; "))
    }
}

#[cfg(test)]
pub(crate) const CLAIM_QUERIES: [&str; 2] = [PROMOTE_DUE, CLAIM];

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(code: u16, message: &str) -> StoreError {
        map_err(mysql::Error::MySqlError(mysql::MySqlError {
            state: "40001".into(),
            message: message.into(),
            code,
        }))
    }

    #[test]
    fn a_conflict_is_not_an_outage_and_a_split_off_galera_node_is() {
        let deadlock = server_error(
            1213,
            "WSREP detected deadlock/conflict and aborted the transaction. Try restarting the transaction",
        );
        assert_eq!(deadlock.kind(), ErrorKind::Conflict);
        assert!(
            deadlock.to_string().starts_with("database busy: "),
            "{deadlock}"
        );
        let waited = server_error(
            1205,
            "Lock wait timeout exceeded; try restarting transaction",
        );
        assert_eq!(waited.kind(), ErrorKind::Conflict);
        let split = server_error(1047, "WSREP has not yet prepared node for application use");
        assert_eq!(split.kind(), ErrorKind::Unavailable);
        assert!(split.to_string().contains("(MySQL error 1047)"), "{split}");
    }
}
