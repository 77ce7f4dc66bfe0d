//! The local spool of a MySQL setup (issue 20): while the database is
//! unreachable, what the ways in accept is committed to an SQLite file of
//! the same schema (`spool`, default `/var/lib/smss/spool.db`; the
//! ordinary SQLite store: `synchronous = FULL`, 0640, the service user's)
//! and answered `OK` with `L<id>` ids; the reconcile thread of `serve`
//! moves it into the database once the database answers again.
//!
//! Exactly once: each spooled message has a random 128-bit key (the
//! `spooled` table of both stores). The move of one message is one
//! transaction of the database that records its key first
//! ([`Store::import_spooled`]); only after that commit is the message
//! deleted from the spool. A kill -9 in between: the next move finds the
//! key and only deletes.
//!
//! Sending from the spool (issue 20): while degraded the modem threads
//! claim from the spool as from a queue and finish into its `sms`; the
//! move then carries the outcomes into the database's `sms`. A spooled
//! message is never claimable from both: the rule is that an unsent
//! spooled row is moved only under the claim [`store::SPOOL_MOVER`] takes in the
//! spool first (one SQLite transaction, so either a modem or the mover
//! has it, never both), and that claim is handed back only for rows whose
//! move was not tried. A row whose import was tried (the database may
//! have committed it, whatever it answered) keeps the mover's claim, which
//! never expires and which no modem takes, until a later move finds its
//! key or inserts it (a pass begins only once the database answered, so
//! that is at most the one message whose move the failure cut short). A row a modem holds is left alone by the mover: it
//! is moved once finished, as an outcome. So a message is sent from the
//! spool only while it certainly is not in the database's queue.
//!
//! Received messages are committed to the spool while degraded (before
//! `AT+CMGD`, as always); the on-receive hook runs then, once, with the
//! spool's id. The move inserts them into `rcv` by their `dedupe_key`
//! (once however often it is tried) and runs no hook. Parts of a
//! concatenated message still waiting for the rest are moved as they are,
//! through the database's own part rule (which joins a set once it has
//! all of it there; such a set is logged, its hook does not run).
//!
//! State: normal, or degraded since a time. Degraded is entered when an
//! enqueue finds the database unreachable; from then on every batch goes
//! to the spool at once (no connect timeout per request) until the
//! reconcile thread has emptied the spool with the database answering.
//! Both changes are logged once.
//!
//! The copy (issue 20): while the database answers, the reconcile thread
//! copies its groups and API tokens (names and hashes) into the spool's
//! `sms_group` and `api_token` (`spool-copy-every`, and right after the
//! state is left). While degraded, `@group` lines and API tokens are
//! checked against that copy: it survives restarts, so a serve started
//! while the database is down uses the copy of an earlier run. A change
//! made since the copy is not seen (a token revoked since is accepted
//! until the database answers again). Alertmanager's marks of what was
//! notified during an outage are spooled with its messages and moved into
//! the database when the state is left, so a repeat is sent neither during
//! nor after it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::intake::Wake;
use crate::store::{self, AlertMark, ErrorKind, Group, NewMessage, Store, StoreError, TokenHash};

/// Spooled messages moved per pass of the reconcile thread (each its own
/// transaction; the pass ends early when the database fails).
const BATCH: usize = 100;

/// The local spool and the degraded state.
pub struct Spool {
    store: Arc<dyn Store>,
    path: PathBuf,
    /// `Some(since)` (UTC, `YYYY-MM-DD HH:MM:SS`) while degraded. Held
    /// while a batch is spooled, so that leaving the state (spool empty)
    /// cannot miss a batch spooled at the same moment.
    degraded: Mutex<Option<String>>,
    /// Messages moved into the database since this serve started.
    moved: AtomicU64,
    /// Messages the modems sent from the spool since this serve started.
    sent: AtomicU64,
    /// The groups and tokens last copied by this serve (a copy that is
    /// the same is not written again).
    copy: Mutex<Option<(Vec<Group>, Vec<TokenHash>)>>,
    /// The copy was used in this outage (logged once per outage).
    copy_used: AtomicBool,
}

/// What `status`, the web panel and `/metrics` show of the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolState {
    /// When the database was found unreachable (UTC); `None`: normal.
    pub degraded_since: Option<String>,
    /// Messages in the spool now.
    pub spooled: u64,
    /// Messages moved from the spool into the database by this serve.
    pub moved: u64,
    /// Messages sent from the spool by this serve's modems.
    pub sent: u64,
}

impl SpoolState {
    /// `degraded: database unreachable since T UTC; N spooled, M sent
    /// from spool`, or (normal) the messages still waiting in the spool;
    /// `None` when there is nothing to tell.
    pub fn describe(&self) -> Option<String> {
        let (n, m) = (self.spooled, self.sent);
        match &self.degraded_since {
            Some(since) => Some(format!(
                "degraded: database unreachable since {since} UTC; {n} spooled, {m} sent from spool"
            )),
            None if n > 0 => Some(format!(
                "{n} message(s) in the local spool, to be moved into the database"
            )),
            None => None,
        }
    }
}

impl Spool {
    /// Opens (creates) the spool file at `path`, and tells of messages
    /// left in it by an earlier run (the reconcile thread moves them).
    pub fn open(path: &Path) -> Result<Spool, StoreError> {
        let url = format!("sqlite://{}", path.display());
        let store = store::open(&url, true).map_err(|e| {
            StoreError::new(
                e.kind(),
                format!(
                    "the local spool (setting spool = {}) cannot be used: {e}",
                    path.display()
                ),
            )
        })?;
        let spool = Spool {
            store,
            path: path.to_owned(),
            degraded: Mutex::new(None),
            moved: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            copy: Mutex::new(None),
            copy_used: AtomicBool::new(false),
        };
        let left = spool.store.count_spooled()?;
        if left > 0 {
            log::warn!(
                "spool {}: {left} message(s) spooled by an earlier run, to be moved into the database",
                path.display()
            );
        }
        Ok(spool)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The spool as a store: the modem threads send from it and receive
    /// into it while degraded.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Whether the database is taken as unreachable now.
    pub fn is_degraded(&self) -> bool {
        self.state_lock().is_some()
    }

    /// A modem sent a spooled message (for "M sent from spool").
    pub fn note_sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// The database failed with `cause` (unreachable): enters the
    /// degraded state, logged once (a modem thread or receiving found it).
    pub fn enter_degraded(&self, cause: &StoreError) {
        let mut state = self.state_lock();
        self.enter(&mut state, cause);
    }

    fn enter(&self, state: &mut Option<String>, cause: &StoreError) {
        if state.is_none() {
            log::error!(
                "degraded: {cause}; accepted messages go to the local spool {} and are sent \
                 from there until the database answers again",
                self.path.display()
            );
            *state = Some(utc_now());
        }
    }

    fn state_lock(&self) -> MutexGuard<'_, Option<String>> {
        self.degraded.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// While degraded: commits `msgs` to the spool (`Some`, with the spool
    /// ids). Normal: `None`, the database is to be tried.
    pub fn enqueue_if_degraded(
        &self,
        msgs: &[NewMessage],
        keys: &[String],
        marks: &[AlertMark],
    ) -> Option<Result<Vec<i64>, StoreError>> {
        let state = self.state_lock();
        state.as_ref()?;
        Some(self.spool(msgs, keys, marks))
    }

    /// While degraded: records Alertmanager's `marks` in the spool
    /// (`Some`). Normal: `None`, the database is to be used.
    pub fn mark_if_degraded(&self, marks: &[AlertMark]) -> Option<Result<(), StoreError>> {
        let state = self.state_lock();
        state.as_ref()?;
        Some(self.store.enqueue_marked(&[], marks).map(|_| ()))
    }

    /// The database failed with `cause` (unreachable): enters the degraded
    /// state (logged once) and commits `msgs` to the spool.
    pub fn enqueue_degraded(
        &self,
        msgs: &[NewMessage],
        keys: &[String],
        marks: &[AlertMark],
        cause: &StoreError,
    ) -> Result<Vec<i64>, StoreError> {
        let mut state = self.state_lock();
        self.enter(&mut state, cause);
        self.spool(msgs, keys, marks)
    }

    /// `marks`: Alertmanager's, kept in the spool's `alert_notified` (so a
    /// repeat during the outage is not sent again) and moved into the
    /// database when the state is left.
    fn spool(
        &self,
        msgs: &[NewMessage],
        keys: &[String],
        marks: &[AlertMark],
    ) -> Result<Vec<i64>, StoreError> {
        // One spool row per key: not merged here (the move would find two
        // keys for one row); the database merges once they are moved in.
        let msgs: Vec<NewMessage> = msgs
            .iter()
            .map(|m| {
                if let Some(chain) = &m.escalation {
                    // The chain's row needs the database: the first step
                    // is spooled (urgent, sent as usual), the chain is not.
                    log::warn!(
                        "escalation @{}: the database is unreachable, only its first \
                         member ({}) is alerted; no further step",
                        chain.group,
                        m.phone
                    );
                }
                NewMessage {
                    coalesce_window: std::time::Duration::ZERO,
                    escalation: None,
                    ..m.clone()
                }
            })
            .collect();
        self.store.enqueue_keyed(&msgs, keys, marks).map_err(|e| {
            log::error!("spool {}: cannot commit: {e}", self.path.display());
            e
        })
    }

    /// Copies `main`'s groups and API tokens into the spool (one
    /// transaction), unless they are what this serve copied last. `true`
    /// when it wrote them.
    pub fn refresh_copy(&self, main: &dyn Store) -> Result<bool, StoreError> {
        let groups = main.list_groups()?;
        let tokens = main.token_hashes()?;
        let mut last = self.copy.lock().unwrap_or_else(|p| p.into_inner());
        if last
            .as_ref()
            .is_some_and(|(g, t)| *g == groups && *t == tokens)
        {
            return Ok(false);
        }
        self.store.replace_copy(&groups, &tokens)?;
        log::info!(
            "spool: copied {} group(s) and {} API token(s) for use while the database is unreachable",
            groups.len(),
            tokens.len()
        );
        *last = Some((groups, tokens));
        Ok(true)
    }

    /// The group `name` as copied, for an `@group` line while degraded.
    pub fn copied_group(&self, name: &str) -> Result<Option<Group>, StoreError> {
        self.note_copy_used();
        self.store.group(name)
    }

    /// The name of the copied token with this hash, while degraded.
    pub fn copied_token(&self, hash: &str) -> Result<Option<String>, StoreError> {
        self.note_copy_used();
        self.store.token_name(hash)
    }

    /// When the copy was made (UTC, to the second), `None` when it holds
    /// nothing.
    pub fn copied_at(&self) -> Option<String> {
        let mut at = self.store.copied_at().ok().flatten()?;
        at.truncate("YYYY-MM-DD HH:MM:SS".len());
        Some(at)
    }

    fn note_copy_used(&self) {
        if !self.copy_used.swap(true, Ordering::Relaxed) {
            let at = self.copied_at();
            log::warn!(
                "degraded: @group lines and API tokens are checked against the spool's copy \
                 ({}); a change made since is not seen until the database answers again",
                at.map_or("which holds no group and no token".to_owned(), |t| format!(
                    "groups and tokens as of {t} UTC"
                ))
            );
        }
    }

    /// Degraded since, spooled, moved.
    pub fn state(&self) -> SpoolState {
        SpoolState {
            degraded_since: self.state_lock().clone(),
            spooled: self.store.count_spooled().unwrap_or(0),
            moved: self.moved.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
        }
    }

    /// One pass: moves up to [`BATCH`] each of the spooled unsent
    /// messages, finished ones and received ones into `main`, each in its
    /// own transaction of the database, deleting each from the spool after
    /// its commit. Returns how many were moved now (a row moved before a
    /// crash is only deleted, and not counted). With the spool empty and
    /// the database answering, leaves the degraded state.
    pub fn reconcile_once(&self, main: &dyn Store) -> Result<usize, StoreError> {
        // Nothing is claimed for a move before the database answers: a
        // move cut short keeps its row from the modems (it may be in the
        // database), so it should be cut short only by a failure in that
        // very moment.
        main.queue_stats()?;
        let mut moved = self.move_unsent(main)?;
        moved += self.move_done(main)?;
        moved += self.move_received(main)?;
        if moved == 0 && self.store.count_spooled()? == 0 {
            self.leave(main)?;
        }
        Ok(moved)
    }

    /// Unsent messages into `main`'s queue, each under the mover's claim
    /// (the rule at the top of this file).
    fn move_unsent(&self, main: &dyn Store) -> Result<usize, StoreError> {
        let rows = self.store.list_spooled(BATCH)?;
        let mut moved = 0;
        let mut done = Vec::with_capacity(rows.len());
        let mut tried = 0;
        let result = (|| {
            for m in &rows {
                tried += 1;
                if !self.store.claim_spooled_move(m.local_id)? {
                    // A modem took it since the list: it is being sent.
                    continue;
                }
                match main.import_spooled(m)? {
                    Some(id) => {
                        log::info!("spool: L{} moved into the database as {id}", m.local_id);
                        moved += 1;
                    }
                    None => log::info!(
                        "spool: L{} was moved before (key {}): deleted from the spool only",
                        m.local_id,
                        m.key
                    ),
                }
                done.push(m.local_id);
            }
            Ok::<(), StoreError>(())
        })();
        // What is in the database leaves the spool, also when a later
        // message of the pass failed.
        self.store.delete_spooled(&done)?;
        self.moved.fetch_add(moved as u64, Ordering::Relaxed);
        if result.is_err() {
            // Those not tried are certainly not in the database: a modem
            // may send them. The one that failed keeps the claim.
            let untried: Vec<i64> = rows[tried.min(rows.len())..]
                .iter()
                .map(|m| m.local_id)
                .collect();
            self.store.release_spooled_move(&untried)?;
        }
        result.map(|()| moved)
    }

    /// Messages sent (failed, expired) from the spool into `main`'s `sms`.
    fn move_done(&self, main: &dyn Store) -> Result<usize, StoreError> {
        let rows = self.store.list_spooled_done(BATCH)?;
        let mut moved = 0;
        let mut done = Vec::with_capacity(rows.len());
        let result = (|| {
            for m in &rows {
                match main.import_spooled_done(m)? {
                    Some(id) => {
                        log::info!(
                            "spool: L{} ({}) moved into the database's record as {id}",
                            m.local_id,
                            m.status
                        );
                        moved += 1;
                    }
                    None => log::info!(
                        "spool: L{} ({}) was moved before (key {}): deleted from the spool only",
                        m.local_id,
                        m.status,
                        m.key
                    ),
                }
                done.push(m.local_id);
            }
            Ok::<(), StoreError>(())
        })();
        self.store.delete_spooled_done(&done)?;
        self.moved.fetch_add(moved as u64, Ordering::Relaxed);
        result.map(|()| moved)
    }

    /// Received messages (and waiting parts) into `main`'s `rcv`.
    fn move_received(&self, main: &dyn Store) -> Result<usize, StoreError> {
        let rows = self.store.list_spooled_received(BATCH)?;
        let mut moved = 0;
        let mut done = Vec::with_capacity(rows.len());
        let result = (|| {
            for m in &rows {
                match main.import_received(m)? {
                    Some(id) => log::info!(
                        "spool: received message {} (spool) moved into the database as {id}",
                        m.local_id
                    ),
                    None => log::info!(
                        "spool: received message {} (spool) is in the database already: \
                         deleted from the spool only",
                        m.local_id
                    ),
                }
                moved += 1;
                done.push(m.local_id);
            }
            Ok::<(), StoreError>(())
        })();
        self.store.delete_spooled_received(&done)?;
        result?;
        let parts = self.store.list_spooled_parts(BATCH)?;
        let mut done = Vec::with_capacity(parts.len());
        let result = (|| {
            for (id, part) in &parts {
                if let store::Saved::New(joined) = main.save_part(part)?.saved {
                    log::info!(
                        "spool: a waiting part completed received message {joined} in the database"
                    );
                }
                moved += 1;
                done.push(*id);
            }
            Ok::<(), StoreError>(())
        })();
        self.store.delete_spooled_parts(&done)?;
        result.map(|()| moved)
    }

    /// The spool is empty: back to normal once the database answers (the
    /// queue's depth is asked, cheaply, to be sure it does).
    fn leave(&self, main: &dyn Store) -> Result<(), StoreError> {
        if self.state_lock().is_none() {
            return Ok(());
        }
        main.queue_stats()?;
        let mut state = self.state_lock();
        // A batch spooled since the list above keeps the state.
        if self.store.count_spooled()? > 0 {
            return Ok(());
        }
        // Alertmanager's marks of the outage: the database's now (under
        // the state's lock, so no mark is added meanwhile).
        let marks = self.store.alert_marks()?;
        if !marks.is_empty() {
            main.enqueue_marked(&[], &marks)?;
            self.store.delete_alert_marks(&marks)?;
            log::info!(
                "spool: {} Alertmanager mark(s) of the outage moved into the database",
                marks.len()
            );
        }
        if let Some(since) = state.take() {
            self.copy_used.store(false, Ordering::Relaxed);
            log::info!(
                "back to normal: the database answers again (degraded since {since} UTC; \
                 {} spooled message(s) moved in)",
                self.moved.load(Ordering::Relaxed)
            );
        }
        Ok(())
    }

    /// The reconcile thread of `serve`: every `every`, while the spool
    /// holds messages or the state is degraded, moves them into `main`
    /// and wakes the modem threads for them; while not degraded, copies
    /// the groups and tokens every `copy_every` (and right after the state
    /// is left). `check_schema`: the database was not reachable when serve
    /// started, so its schema is checked (opening `url` once) before
    /// anything is moved or copied.
    pub fn reconcile(
        &self,
        main: &dyn Store,
        mut check_schema: Option<String>,
        every: Duration,
        copy_every: Duration,
        wake: &Sender<Wake>,
        stop: &AtomicBool,
    ) {
        let mut last_problem = String::new();
        let mut announced = false;
        let mut copied: Option<std::time::Instant> = None;
        let mut copy_problem = String::new();
        while !stop.load(Ordering::SeqCst) {
            if !self.is_degraded() && copied.is_none_or(|t| t.elapsed() >= copy_every) {
                let result = (|| {
                    if let Some(url) = &check_schema {
                        store::open(url, false)?;
                        check_schema = None;
                    }
                    self.refresh_copy(main)
                })();
                match result {
                    Ok(_) => {
                        copied = Some(std::time::Instant::now());
                        copy_problem.clear();
                    }
                    Err(e) => {
                        let problem = e.to_string();
                        if problem != copy_problem {
                            log::warn!(
                                "spool: cannot copy the groups and API tokens yet: {e} \
                                 (tried again every {every:?})"
                            );
                            copy_problem = problem;
                        }
                    }
                }
            }
            let busy = self.state_lock().is_some() || self.store.count_spooled().unwrap_or(0) > 0;
            if busy {
                // A bug (or a driver's panic) in one pass must not end the
                // thread: the spool would never move in again.
                let pass = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    if let Some(url) = &check_schema {
                        store::open(url, false)?;
                        check_schema = None;
                    }
                    if !announced {
                        let n = self.store.count_spooled()?;
                        if n > 0 {
                            log::info!("spool: moving {n} spooled message(s) into the database");
                            announced = true;
                        }
                    }
                    let mut total = 0;
                    loop {
                        let was_degraded = self.is_degraded();
                        let n = self.reconcile_once(main)?;
                        // Moved rows, or back to normal: the modem threads
                        // claim from the database again (while degraded
                        // they claim only from the spool).
                        if n > 0 || (was_degraded && !self.is_degraded()) {
                            let _ = wake.send(Wake::Queued);
                        }
                        if was_degraded && !self.is_degraded() {
                            // What changed during the outage is copied now.
                            copied = None;
                        }
                        total += n;
                        if n == 0 || stop.load(Ordering::SeqCst) {
                            break;
                        }
                    }
                    Ok::<usize, StoreError>(total)
                }));
                let result = pass.unwrap_or_else(|_| {
                    Err(StoreError::other(
                        "a pass of the move panicked (a bug: the panic is logged above)",
                    ))
                });
                match result {
                    Ok(_) => {
                        last_problem.clear();
                        if self.store.count_spooled().unwrap_or(0) == 0 {
                            announced = false;
                        }
                    }
                    Err(e) => {
                        let problem = e.to_string();
                        if problem != last_problem {
                            if e.kind() == ErrorKind::Unavailable {
                                log::warn!("spool: cannot move spooled messages yet: {e}");
                            } else {
                                log::error!(
                                    "spool: cannot move spooled messages: {e}; they stay in {} \
                                     (tried again every {}s)",
                                    self.path.display(),
                                    every.as_secs()
                                );
                            }
                            last_problem = problem;
                        }
                    }
                }
            }
            std::thread::sleep(every);
        }
    }
}

/// A key for each of `n` messages (see [`new_key`]).
pub fn new_keys(n: usize) -> Result<Vec<String>, StoreError> {
    (0..n).map(|_| new_key()).collect()
}

/// A spooled message's key: 128 random bits, 32 hex digits.
fn new_key() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| {
        StoreError::other(format!(
            "no random numbers from the system for a spool key: {e}"
        ))
    })?;
    Ok(crate::gsm::to_hex(&bytes).to_ascii_lowercase())
}

/// Now, UTC, `YYYY-MM-DD HH:MM:SS` (the database's time is not at hand
/// when it is unreachable).
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc_text(secs)
}

fn utc_text(secs: u64) -> String {
    let (year, month, day) = crate::pager::clock::civil((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ListFilter;

    #[test]
    fn utc_text_is_the_calendar() {
        assert_eq!(utc_text(0), "1970-01-01 00:00:00");
        assert_eq!(utc_text(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc_text(1_798_761_599), "2026-12-31 23:59:59");
    }

    fn temp_spool(name: &str) -> (Spool, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "smss-spool-{name}-{}-{}",
            std::process::id(),
            new_key().unwrap()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("spool.db");
        (Spool::open(&path).unwrap(), dir)
    }

    fn msg(text: &str) -> NewMessage {
        NewMessage {
            phone: "420777000001".into(),
            text: text.into(),
            source: "test".into(),
            group: None,
            ..Default::default()
        }
    }

    #[test]
    fn spooled_rows_move_once_and_leave_the_spool() {
        let (spool, dir) = temp_spool("once");
        let main = store::open("sqlite::memory:", true).unwrap();
        let keys = |n| new_keys(n).unwrap();
        assert!(
            spool
                .enqueue_if_degraded(&[msg("x")], &keys(1), &[])
                .is_none()
        );
        let cause = StoreError::unavailable("test: down");
        let ids = spool
            .enqueue_degraded(&[msg("a"), msg("b")], &keys(2), &[], &cause)
            .unwrap();
        assert_eq!(ids.len(), 2);
        // degraded: the next batch goes to the spool at once
        let more = spool
            .enqueue_if_degraded(&[msg("c")], &keys(1), &[])
            .unwrap()
            .unwrap();
        assert_eq!(more.len(), 1);
        let state = spool.state();
        assert!(state.degraded_since.is_some());
        assert_eq!(state.spooled, 3);
        let told = state.describe().unwrap();
        assert!(
            told.starts_with("degraded: database unreachable since "),
            "{told}"
        );
        assert!(
            told.ends_with(" UTC; 3 spooled, 0 sent from spool"),
            "{told}"
        );

        // a move whose spool delete was lost (kill -9): the same key again
        let first = spool.store.list_spooled(1).unwrap().remove(0);
        assert!(main.import_spooled(&first).unwrap().is_some());
        assert_eq!(main.import_spooled(&first).unwrap(), None);

        assert_eq!(spool.reconcile_once(&*main).unwrap(), 2);
        assert_eq!(spool.state().spooled, 0);
        let all = ListFilter {
            limit: 10,
            ..Default::default()
        };
        let mut texts: Vec<String> = main
            .list_queued(&all)
            .unwrap()
            .into_iter()
            .map(|r| r.text)
            .collect();
        texts.sort();
        assert_eq!(texts, ["a", "b", "c"]);
        // the queue time is kept
        let queued = main.list_queued(&all).unwrap();
        let a = queued.iter().find(|r| r.text == "a").unwrap();
        assert_eq!(a.created, first.created);
        // the next pass finds the spool empty and leaves the state
        assert_eq!(spool.reconcile_once(&*main).unwrap(), 0);
        assert_eq!(spool.state().degraded_since, None);
        assert_eq!(spool.state().describe(), None);
        assert_eq!(spool.state().moved, 2);
        assert!(
            spool
                .enqueue_if_degraded(&[msg("x")], &keys(1), &[])
                .is_none()
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
