//! The modem thread: claims due rows of `msg`, sends them part by part, and
//! moves each to `sms`. It wakes at once when a connection commits a request
//! (through an `mpsc` channel), when a retry it scheduled is due, and
//! otherwise every `poll_interval`, for rows that other tools insert with
//! plain SQL. While idle it listens for `+CMTI` (the port's [`Watch`] wakes
//! it through the same channel) and lets [`Inbox`] read what arrived.
//!
//! [`Watch`]: crate::modem::Watch
//!
//! This file is the loop: it owns the modem and makes the store calls. The
//! decisions it acts on are small pure types, each with its unit tests, that
//! take the time as an argument: `policy.rs` (what a failed part means, the
//! retry backoff, the failing-modem pause, `rate-limit`, the reopen backoff),
//! `link.rs` (`AT+CMMS`) and `health.rs` (when to write the `modem` row);
//! `pass.rs` says what a pass did and how it failed.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use crate::config::Settings;
use crate::gsm::{self, SubmitOptions};
use crate::hook::OnReceive;
use crate::modem::{AtError, Health, Modem, ModemError, SimPin};
use crate::receive::{Inbox, ReceiveSummary};
use crate::spool::Spool;
use crate::store::{ErrorKind, Outcome, Priority, QueuedMessage, Store};

mod call;
mod digest;
mod health;
mod link;
mod pass;
mod policy;

pub use pass::{PassError, PassSummary};

use health::{Check, HealthMark, PassEnd};
use link::Link;
use policy::{Failure, Reopen, SendPolicy, Verdict};

/// Rows claimed per transaction.
const BATCH: usize = 8;
/// How often the idle modem thread looks at a port it cannot watch (see
/// `modem::Watch`) for announcements.
const IDLE_SLICE: Duration = Duration::from_millis(200);
/// The period of `max-per-recipient`.
const HOUR: Duration = Duration::from_secs(3600);
/// How long the idle thread reads once the watch said the modem speaks.
const URC_READ: Duration = Duration::from_millis(50);
/// How often a device that is gone (unplugged) is looked for while idle:
/// it is opened as soon as it is back, not at the next reopen attempt.
const DEVICE_LOOK: Duration = Duration::from_millis(200);

pub use crate::intake::Wake;

/// The modem thread of one modem: the outgoing half, paired with
/// [`Inbox`] for what arrives.
pub struct Outbox {
    /// The queue the current pass claims from: `main`, or the local spool
    /// while the database is unreachable (a spool pass).
    store: Arc<dyn Store>,
    main: Arc<dyn Store>,
    /// The local spool of a MySQL store: sent from while degraded.
    spool: Option<Arc<Spool>>,
    /// The claims of an earlier run in the spool were handed back.
    spool_released: bool,
    settings: Settings,
    /// The port to open (the simulator's pty for `device = sim`).
    port_path: String,
    owner: String,
    modem: Option<Modem>,
    /// The SIM PIN and what is known of its refusals (entered at most once
    /// after a refusal, across reopens and process starts).
    pin: Option<SimPin>,
    /// The modem's `AT+CMMS` mode; fresh after every init.
    link: Link,
    next_ref: u8,
    /// The memories to read received messages from (found at init).
    memories: Vec<String>,
    /// Read the memories at the next chance (a `+CMTI` came, or init).
    receive_due: bool,
    /// When the memories are read again without an announcement
    /// (`poll-interval` after the last read).
    next_receive: Instant,
    hooks: OnReceive,
    /// Retries, the failing-modem pause, `rate-limit`.
    policy: SendPolicy,
    /// Outcomes the database could not take yet (it was away), with
    /// whether the message came from the spool.
    unfinished: Vec<(bool, i64, Outcome)>,
    /// Set when `serve` shuts down; pacing waits give way to it.
    stop: Arc<AtomicBool>,
    /// When the modem's health was last recorded, and whether it was healthy.
    health_mark: HealthMark,
    /// This thread's wake-ups (`run`), and a sender for the port's watch.
    wake: Receiver<Wake>,
    waker: Sender<Wake>,
    /// Watch the port while idle (`serve`; `send-pending` never idles).
    watch: bool,
    /// The last open failed because the device is not there (unplugged).
    device_missing: bool,
    /// Messages of the current batch that went out as lines of a digest.
    digested: Vec<i64>,
}

/// What became of one message.
enum Sent {
    Done,
    Failed,
    Retry,
}

impl Outbox {
    pub fn new(store: Arc<dyn Store>, settings: Settings, port_path: String) -> Self {
        let owner = settings.instance_name();
        // Start concatenation references somewhere arbitrary so that two
        // runs in a row do not reuse the same one for different messages.
        let next_ref = (std::process::id() as u8) ^ (Instant::now().elapsed().subsec_nanos() as u8);
        let hooks = OnReceive::start(
            settings.on_receive.clone(),
            crate::hook::Limits {
                timeout: settings.on_receive_timeout,
                queue: settings.on_receive_queue,
                log_bytes: settings.on_receive_log_bytes,
            },
        );
        let policy = SendPolicy::new(&settings);
        let (waker, wake) = mpsc::channel();
        let pin = settings
            .pin
            .as_deref()
            .map(|pin| SimPin::new(pin, &settings.lock_dir, &settings.device));
        Outbox {
            pin,
            main: Arc::clone(&store),
            spool: None,
            spool_released: false,
            store,
            settings,
            port_path,
            owner,
            modem: None,
            link: Link::default(),
            next_ref,
            memories: Vec::new(),
            receive_due: true,
            next_receive: Instant::now(),
            hooks,
            policy,
            unfinished: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            health_mark: HealthMark::default(),
            wake,
            waker,
            watch: false,
            device_missing: false,
            digested: Vec::new(),
        }
    }

    /// The same modem thread, sending from `spool` while the database is
    /// unreachable (`serve` with a MySQL store).
    pub fn with_spool(mut self, spool: Arc<Spool>) -> Self {
        self.spool = Some(spool);
        self
    }

    /// Whether this pass claims from the spool.
    fn on_spool(&self) -> bool {
        !Arc::ptr_eq(&self.store, &self.main)
    }

    /// A message's id as clients were told it: `L<id>` from the spool.
    fn shown(&self, id: i64) -> String {
        if self.on_spool() {
            format!("L{id}")
        } else {
            id.to_string()
        }
    }

    /// Whether the database is taken as unreachable now (never without a
    /// spool).
    fn degraded(&self) -> bool {
        self.spool.as_ref().is_some_and(|s| s.is_degraded())
    }

    /// An inbox over the database, committing to the spool while it is
    /// unreachable.
    fn inbox(&self) -> Inbox<'_> {
        Inbox {
            store: &*self.main,
            spool: self.spool.as_deref(),
            hooks: &self.hooks,
            multipart_timeout: self.settings.multipart_timeout,
            cleanup_stored: self.settings.sim_cleanup_stored,
        }
    }

    /// A sender of wake-ups to this modem thread (`Wake::Queued` from the
    /// wake relay of `serve`, and at shutdown).
    pub fn waker(&self) -> Sender<Wake> {
        self.waker.clone()
    }

    /// Waits for on-receive programs still queued (send-pending exits after).
    pub fn wait_for_hooks(self) {
        self.hooks.finish();
    }

    /// Opens and initialises the modem unless it is open already.
    fn ensure_modem(&mut self) -> Result<&mut Modem, ModemError> {
        if self.modem.is_none() {
            let s = &self.settings;
            let mut modem = Modem::open(&self.port_path, s.baud, s.command_timeout)?;
            let info = modem.init(self.pin.as_mut(), s.smsc.as_deref())?;
            self.link = Link::default();
            self.memories = modem.setup_receiving();
            self.receive_due = true;
            if self.watch {
                let waker = self.waker.clone();
                if let Err(e) = modem.start_watch(move || {
                    let _ = waker.send(Wake::Modem);
                }) {
                    log::warn!(
                        "modem {}: cannot watch the port ({e}); new messages are noticed within {} ms",
                        s.device,
                        IDLE_SLICE.as_millis()
                    );
                }
            }
            log::info!(
                "modem {} ready: {} {} (reading {})",
                self.settings.device,
                info.manufacturer,
                info.model,
                modem.receiving(&self.memories)
            );
            self.modem = Some(modem);
        }
        Ok(self.modem.as_mut().unwrap_or_else(|| unreachable!()))
    }

    /// `send-pending`: sends everything due, then returns.
    pub fn run_once(&mut self) -> Result<PassSummary, PassError> {
        self.store.release_claims(&self.owner)?;
        self.expire()?;
        self.ensure_modem().map_err(PassError::Modem)?;
        let mut summary = PassSummary::default();
        self.handle_unsolicited();
        while self.send_batch(&mut summary)? {}
        summary.received.add(self.receive()?);
        Ok(summary)
    }

    /// Reads, stores and deletes what arrived.
    fn receive(&mut self) -> Result<ReceiveSummary, PassError> {
        self.receive_due = false;
        let Some(mut modem) = self.modem.take() else {
            return Ok(ReceiveSummary::default());
        };
        let inbox = self.inbox();
        let result = inbox.pass(&mut modem, &self.memories);
        let unsolicited = modem.take_unsolicited();
        let announced = inbox.unsolicited(&mut modem, &unsolicited);
        self.modem = Some(modem);
        if announced {
            self.receive_due = true;
        }
        let summary = result?;
        self.next_receive = Instant::now() + self.settings.poll_interval;
        Ok(summary)
    }

    /// Reads what arrived if a `+CMTI` announced it or the poll is due:
    /// between two messages of a long queue too, so that receiving does not
    /// wait for the queue to empty.
    fn receive_if_due(&mut self) -> Result<ReceiveSummary, PassError> {
        if self.receive_due || Instant::now() >= self.next_receive {
            return self.receive();
        }
        Ok(ReceiveSummary::default())
    }

    /// [`Outbox::receive_if_due`] between two sends. Only a modem that
    /// stopped answering ends the batch; any other failure (the database,
    /// a refused command) is logged and the queue goes on: what arrived stays
    /// on the modem and is read after the next `poll-interval`.
    fn receive_between_sends(&mut self, summary: &mut PassSummary) -> Result<(), PassError> {
        match self.receive_if_due() {
            Ok(received) => summary.received.add(received),
            Err(e @ PassError::ModemLost(_)) => return Err(e),
            Err(e) => {
                log::warn!("reading received messages between sends: {e}; sending goes on");
                self.receive_due = false;
                self.next_receive = Instant::now() + self.settings.poll_interval;
            }
        }
        Ok(())
    }

    /// Acts on unsolicited lines collected so far; true when a new message
    /// was announced.
    fn handle_unsolicited(&mut self) -> bool {
        let Some(mut modem) = self.modem.take() else {
            return false;
        };
        let lines = modem.take_unsolicited();
        let announced = !lines.is_empty() && self.inbox().unsolicited(&mut modem, &lines);
        self.modem = Some(modem);
        self.receive_due |= announced;
        announced
    }

    /// Waits up to `wait` for a wake-up, a shutdown, a modem announcing a
    /// new message, or a missing device coming back. The wait is on the
    /// channel; the port's watch sends `Wake::Modem` into it when the modem
    /// speaks, so neither waits on the other. False when every sender of
    /// wake-ups is gone.
    fn idle(&mut self, wait: Duration, stop: &AtomicBool) -> bool {
        let deadline = Instant::now() + wait;
        // Rows other tools insert wake nobody: ask the queue every
        // `sql-poll-interval` (one indexed query) whether any is due.
        let sql_poll = self.settings.sql_poll_interval;
        let mut next_sql_poll = (!sql_poll.is_zero()).then(|| Instant::now() + sql_poll);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let left = match next_sql_poll {
                Some(at) => left.min(at.saturating_duration_since(Instant::now())),
                None => left,
            };
            // Lines read already (set aside during the last commands, or a
            // second message that came in the same read): the watch would
            // not see them, so they are taken before any wait.
            let pending = self.modem.as_ref().is_some_and(Modem::has_pending);
            let watched = !pending && self.modem.as_ref().is_some_and(Modem::arm_watch);
            let slice = match &self.modem {
                Some(_) if pending => Duration::ZERO,
                Some(_) if !watched => left.min(IDLE_SLICE),
                None if self.device_missing => left.min(DEVICE_LOOK),
                _ => left,
            };
            let woke = self.wake.recv_timeout(slice);
            if let Some(modem) = &self.modem {
                modem.disarm_watch();
            }
            let spoke = match woke {
                Ok(Wake::Queued) => {
                    while self.wake.try_recv().is_ok() {}
                    return true;
                }
                Ok(Wake::Modem) => true,
                Err(RecvTimeoutError::Timeout) => pending,
                Err(RecvTimeoutError::Disconnected) => return false,
            };
            if let Some(at) = next_sql_poll
                && Instant::now() >= at
            {
                next_sql_poll = Some(Instant::now() + sql_poll);
                // Only with a modem to send them: a missing one is looked
                // for below, and its pass would claim nothing.
                if self.modem.is_some() && !self.degraded() && self.store.any_due().unwrap_or(false)
                {
                    return true;
                }
            }
            if stop.load(Ordering::SeqCst) || Instant::now() >= deadline {
                return true;
            }
            let Some(modem) = self.modem.as_mut() else {
                if self.device_missing && Path::new(&self.port_path).exists() {
                    log::info!(
                        "modem {}: {} is there again; opening it",
                        self.settings.device,
                        self.port_path
                    );
                    return true;
                }
                continue;
            };
            if watched && !spoke {
                continue;
            }
            let wait = if spoke && !pending {
                URC_READ
            } else {
                Duration::ZERO
            };
            if let Err(e) = modem.wait_unsolicited(wait) {
                log::error!("modem lost while idle: {e}");
                self.modem = None;
                return true;
            }
            if self.handle_unsolicited() {
                return true;
            }
        }
    }

    /// `serve`: the modem thread's loop, until `stop` is set; woken through
    /// [`Outbox::waker`].
    pub fn run(&mut self, stop: Arc<AtomicBool>) {
        self.stop = Arc::clone(&stop);
        self.watch = true;
        let stop = &*stop;
        let mut reopen = Reopen::default();
        let mut last_problem = String::new();
        let mut released = false;
        while !stop.load(Ordering::SeqCst) {
            let mut summary = PassSummary::default();
            let result = self.serve_pass(stop, &mut released, &mut summary);
            self.record_health(result.as_ref().err());
            let wait = match result {
                Ok(()) => {
                    if !last_problem.is_empty() {
                        if self.degraded() {
                            log::info!(
                                "modem {}: sending from the local spool while the database is \
                                 unreachable",
                                self.settings.device
                            );
                        } else {
                            log::info!("recovered: the modem and the database answer again");
                        }
                        last_problem.clear();
                    }
                    reopen.recovered();
                    self.device_missing = false;
                    let until = self.policy.wake_at(self.next_receive, Instant::now());
                    if self.receive_due {
                        Duration::ZERO
                    } else {
                        until.saturating_duration_since(Instant::now())
                    }
                }
                Err(e) => {
                    let problem = e.to_string();
                    if problem != last_problem {
                        log::error!("{problem}; retrying in the background");
                        last_problem = problem;
                    }
                    match &e {
                        PassError::ModemLost(e) => self.lost(e),
                        PassError::Modem(e) => {
                            self.modem = None;
                            self.device_missing = matches!(e, ModemError::Open { .. })
                                && !Path::new(&self.port_path).exists();
                        }
                        // Claims taken before the database went away are
                        // ours to hand back once it returns.
                        PassError::Store(_) => released = false,
                        PassError::Command(_) => {}
                    }
                    if matches!(e, PassError::ModemLost(_)) && self.modem.is_some() {
                        // Reset and answering again: what the modem failed
                        // to send goes out now, not after a backoff.
                        Duration::ZERO
                    } else {
                        reopen.failed()
                    }
                }
            };
            if !self.idle(wait, stop) {
                break;
            }
        }
    }

    /// One pass of `serve`: from the database's queue; while it is
    /// unreachable (found so now, or before by anyone), from the spool.
    /// Outcomes of messages claimed from the database before it went away
    /// wait in memory for it (they are recorded by the first pass on it).
    fn serve_pass(
        &mut self,
        stop: &AtomicBool,
        released: &mut bool,
        summary: &mut PassSummary,
    ) -> Result<(), PassError> {
        if !self.degraded() {
            match self.queue_pass(stop, released, summary) {
                Err(PassError::Store(e))
                    if self.spool.is_some() && e.kind() == ErrorKind::Unavailable =>
                {
                    // Claims taken before it went away: handed back once
                    // it returns.
                    *released = false;
                    if let Some(spool) = &self.spool {
                        spool.enter_degraded(&e);
                    }
                }
                other => return other,
            }
        }
        let Some(spool) = self.spool.clone() else {
            return Ok(());
        };
        self.store = Arc::clone(spool.store());
        let mut spool_released = self.spool_released;
        let result = self.queue_pass(stop, &mut spool_released, summary);
        self.spool_released = spool_released;
        self.store = Arc::clone(&self.main);
        result
    }

    /// Records what waits, expires, hands back an earlier run's claims,
    /// sends what is due from `self.store` and reads what arrived.
    fn queue_pass(
        &mut self,
        stop: &AtomicBool,
        released: &mut bool,
        summary: &mut PassSummary,
    ) -> Result<(), PassError> {
        self.record_unfinished()?;
        self.expire()?;
        if !*released {
            self.store.release_claims(&self.owner)?;
            *released = true;
        }
        self.ensure_modem().map_err(PassError::Modem)?;
        self.handle_unsolicited();
        while !stop.load(Ordering::SeqCst) && self.send_batch(summary)? {}
        self.receive_if_due()?;
        Ok(())
    }

    /// Messages whose ttl passed go to `sms` as expired: each pass, also
    /// while the modem is away (before it is opened).
    fn expire(&mut self) -> Result<(), PassError> {
        let ids = self.store.expire_due()?;
        if !ids.is_empty() {
            log::warn!(
                "{} message(s) expired, not sent within their ttl: {ids:?}",
                ids.len()
            );
        }
        Ok(())
    }

    /// Records outcomes kept while the database was away (those of the
    /// queue this pass claims from).
    fn record_unfinished(&mut self) -> Result<(), PassError> {
        let on_spool = self.on_spool();
        while let Some(i) = self.unfinished.iter().position(|u| u.0 == on_spool) {
            let (_, id, outcome) = self.unfinished[i].clone();
            self.store.finish(id, &self.owner, &outcome)?;
            self.unfinished.remove(i);
            if on_spool {
                log::info!("message L{id}: outcome recorded in the spool now");
            } else {
                log::info!("message {id}: outcome recorded now that the database is back");
            }
        }
        Ok(())
    }

    /// The modem stopped answering (`ATZ` first for a hang) or its port
    /// failed (reopen).
    fn lost(&mut self, e: &AtError) {
        match e {
            AtError::Timeout { .. } => self.reset_or_close(),
            _ => self.modem = None,
        }
    }

    /// A modem that stopped answering: try `ATZ` and the init sequence on
    /// the open port; failing that, close it (the loop reopens it).
    fn reset_or_close(&mut self) {
        let Some(modem) = self.modem.as_mut() else {
            return;
        };
        log::warn!(
            "modem {} does not answer: resetting it (ATZ)",
            self.settings.device
        );
        let s = &self.settings;
        let reset = modem
            .command("ATZ")
            .map_err(|e| e.to_string())
            .and_then(|_| {
                modem
                    .init(self.pin.as_mut(), s.smsc.as_deref())
                    .map_err(|e| e.to_string())
            });
        match reset {
            Ok(_) => {
                self.link = Link::default();
                self.memories = modem.setup_receiving();
                log::info!("modem {} answers again after ATZ", s.device);
            }
            Err(e) => {
                log::warn!(
                    "modem {} reset failed ({e}): closing and reopening the port",
                    s.device
                );
                self.modem = None;
            }
        }
    }

    /// Waits as `rate-limit` asks before the next part; false when `serve`
    /// is stopping.
    fn pace(&mut self) -> bool {
        if let Some(next) = self.policy.next_part_at() {
            while Instant::now() < next {
                if self.stop.load(Ordering::SeqCst) {
                    return false;
                }
                std::thread::sleep(
                    next.saturating_duration_since(Instant::now())
                        .min(Duration::from_millis(100)),
                );
            }
        }
        true
    }

    /// Claims and sends one batch; true when more may be due (the batch
    /// was full, or a more urgent message overtook its rest).
    ///
    /// The batch comes most urgent first. Before each message after the
    /// first, unless it is urgent itself, the queue is asked whether
    /// something more urgent became due meanwhile (one indexed query); if
    /// so, the unsent rest is handed back (by id: a sent message waiting in
    /// memory for its finish keeps its claim) and the caller claims again,
    /// so an urgent message waits at most for the message on the air.
    fn send_batch(&mut self, summary: &mut PassSummary) -> Result<bool, PassError> {
        if self.policy.paused(Instant::now()) {
            return Ok(false);
        }
        let lease = self.settings.lease;
        self.policy.claiming(Instant::now());
        let batch = self.store.claim_due(&self.owner, lease, BATCH)?;
        let claimed = batch.len();
        if claimed == 0 {
            // The queue emptied at a batch boundary: the last message was
            // sent with the link kept for more. Let it go now (harmless if
            // left, TS 27.005 §3.5.6, but the modem is left as it was found).
            self.keep_link(false);
        }
        let mut renewed = Instant::now();
        self.digested.clear();
        for (i, msg) in batch.iter().enumerate() {
            if self.digested.contains(&msg.id) {
                continue;
            }
            if i > 0 && self.overtaken(msg.priority)? {
                let rest: Vec<i64> = batch[i..]
                    .iter()
                    .map(|m| m.id)
                    .filter(|id| !self.digested.contains(id))
                    .collect();
                self.store.release(&self.owner, &rest)?;
                log::info!(
                    "a more urgent message is due: {} {} message(s) handed back to the queue",
                    rest.len(),
                    msg.priority
                );
                return Ok(true);
            }
            // A full batch means more are likely waiting: keep the link open
            // across batches too.
            self.keep_link(Link::more_follow(i, claimed, BATCH));
            if renewed.elapsed() >= lease / 3 {
                // Still working on the batch: keep others off it.
                self.store.renew_claims(&self.owner, lease)?;
                renewed = Instant::now();
            }
            match self.send_message(msg) {
                Ok(Sent::Done) if self.wants_call(msg) => {
                    summary.sent += 1;
                    let rest: Vec<i64> = batch[i + 1..]
                        .iter()
                        .map(|m| m.id)
                        .filter(|id| !self.digested.contains(id))
                        .collect();
                    // Handed back first: the call may take call-ring.
                    let released = self.store.release(&self.owner, &rest);
                    self.call(msg)?;
                    released?;
                    return Ok(true);
                }
                Ok(Sent::Done) => summary.sent += 1,
                Ok(Sent::Failed) => summary.failed += 1,
                Ok(Sent::Retry) => summary.retried += 1,
                Err(e) => {
                    if matches!(e, PassError::Store(_)) && self.sent_unrecorded(msg) {
                        // Sent, its finish waiting in memory for the
                        // database: the call still follows.
                        self.call_unrecorded(msg);
                    }
                    // The modem failed: the rest of the batch and the
                    // message it failed to send (uncharged) are handed
                    // back, to be claimed when a modem answers. Not when
                    // the database failed: a message the modem did send
                    // then waits in memory for its finish, and its claim
                    // must keep other senders off it until then (the run
                    // loop hands the claims back after recording it).
                    if !matches!(e, PassError::Store(_)) {
                        let _ = self.store.release_claims(&self.owner);
                    }
                    return Err(e);
                }
            }
            if self.policy.modem_failing() {
                self.stop_claiming()?;
                return Ok(false);
            }
            if let Err(e) = self.receive_between_sends(summary) {
                let _ = self.store.release_claims(&self.owner);
                return Err(e);
            }
        }
        Ok(claimed == BATCH)
    }

    /// Whether a message more urgent than `next` (the next of the batch)
    /// is due and unclaimed. An urgent one is overtaken by nothing.
    fn overtaken(&self, next: Priority) -> Result<bool, PassError> {
        if next == Priority::Urgent {
            return Ok(false);
        }
        Ok(self.store.more_urgent_due(next)?)
    }

    /// Sends keep failing whatever the message: the modem (or its SIM, or
    /// its network) is the problem. Hand the claimed rest back and claim
    /// nothing for a while, so that other modems sharing the queue send it;
    /// then try again.
    fn stop_claiming(&mut self) -> Result<(), PassError> {
        let pause = self.policy.pause(Instant::now());
        self.keep_link(false);
        let handed_back = self.store.release_claims(&self.owner)?;
        let failed = self.policy.failing_run_over();
        log::warn!(
            "modem {}: sends of {} different messages failed in a row; claiming nothing for {}s (handed back {handed_back} \
             message(s) for other modems)",
            self.settings.device,
            failed,
            pause.as_secs()
        );
        Ok(())
    }

    /// `AT+CMMS` as [`Link`] says. Best effort: a modem without it sends as
    /// before, and a modem that stopped answering is found by the send that
    /// follows.
    fn keep_link(&mut self, more: bool) {
        if let Some(modem) = self.modem.as_mut()
            && let Err(e) = self.link.keep(modem, more)
        {
            log::debug!("keeping the radio link open: {e}");
        }
    }

    fn submit_options(&mut self, msg: &QueuedMessage) -> SubmitOptions {
        let concat_ref = msg.concat_ref.unwrap_or_else(|| {
            self.next_ref = self.next_ref.wrapping_add(1);
            self.next_ref
        });
        let defaults = SubmitOptions::default();
        SubmitOptions {
            bare_numbers_international: self.settings.bare_numbers_international,
            concat_ref,
            max_parts: self.settings.max_parts,
            status_report: self.settings.status_reports,
            // The network keeps it no longer than its ttl has left.
            validity: match msg.expires_in {
                Some(left) => Some(gsm::relative_validity(Duration::from_secs(
                    left.max(0) as u64
                ))),
                None => defaults.validity,
            },
            flash: msg.flash,
        }
    }

    /// Before the first part of a message: its ttl passed (it goes to
    /// `sms` as expired), or its send window is closed (it waits until the
    /// window opens, uncharged; urgent messages have no window).
    fn not_now(&mut self, msg: &QueuedMessage) -> Result<Option<Sent>, PassError> {
        if msg.parts_done > 0 {
            return Ok(None);
        }
        if msg.expires_in.is_some_and(|left| left <= 0) {
            log::warn!(
                "message {} to {} expired: not sent within its ttl",
                msg.id,
                msg.phone
            );
            return self.finish(msg, Outcome::Expired, Sent::Failed).map(Some);
        }
        let wait = match msg.window {
            Some(w) if msg.priority != Priority::Urgent => w.wait_from(msg.local_minute),
            _ => 0,
        };
        if wait == 0 {
            return Ok(None);
        }
        let delay = Duration::from_secs(u64::from(wait) * 60);
        log::info!(
            "message {} to {}: outside its send window, waits {wait} min",
            msg.id,
            msg.phone
        );
        self.postpone(msg, delay)
    }

    fn postpone(
        &mut self,
        msg: &QueuedMessage,
        delay: Duration,
    ) -> Result<Option<Sent>, PassError> {
        self.store.postpone(msg.id, &self.owner, delay)?;
        self.policy.retry_scheduled(Instant::now() + delay);
        Ok(Some(Sent::Retry))
    }

    /// `max-per-recipient`: what may go to `msg`'s number now. `None`: the
    /// message is held (postponed until the oldest SMS of the hour ages
    /// out); else the lines of a digest (empty: send it as it is). The
    /// last SMS allowed in the hour carries everything then waiting for
    /// the number. Urgent messages are never held, nor digested.
    fn flood_cap(&mut self, msg: &QueuedMessage) -> Result<Option<Vec<QueuedMessage>>, PassError> {
        let cap = self.settings.max_per_recipient as u64;
        if cap == 0 || msg.priority == Priority::Urgent || msg.parts_done > 0 {
            return Ok(Some(Vec::new()));
        }
        let (sent, oldest) = self.store.sent_to(&msg.phone, HOUR)?;
        if sent >= cap {
            let left = HOUR
                .as_secs()
                .saturating_sub(oldest.unwrap_or(0).max(0) as u64);
            log::info!(
                "message {} to {}: {sent} SMS to this number in the last hour \
                 (max-per-recipient {cap}); held for {left} s, then sent in a digest",
                msg.id,
                msg.phone
            );
            self.postpone(msg, Duration::from_secs(left.max(1)))?;
            return Ok(None);
        }
        if sent + 1 < cap {
            return Ok(Some(Vec::new()));
        }
        let lines =
            self.store
                .claim_for_digest(&self.owner, &msg.phone, msg.id, self.settings.lease)?;
        Ok(Some(lines))
    }

    fn send_message(&mut self, msg: &QueuedMessage) -> Result<Sent, PassError> {
        if let Some(done) = self.not_now(msg)? {
            return Ok(done);
        }
        let Some(lines) = self.flood_cap(msg)? else {
            return Ok(Sent::Retry);
        };
        let opts = self.submit_options(msg);
        let text = if lines.is_empty() {
            msg.text_to_send(self.settings.max_parts)
        } else {
            digest::text(msg, &lines, self.settings.max_parts)
        };
        let parts = match gsm::encode_submit(&msg.phone, &text, &opts) {
            Ok(parts) => parts,
            Err(e) => {
                log::warn!("message {} to {} cannot be sent: {e}", msg.id, msg.phone);
                return self.finish(
                    msg,
                    Outcome::Failed {
                        error: e.to_string(),
                    },
                    Sent::Failed,
                );
            }
        };
        let total = parts.len() as u32;
        let mut refs: Vec<String> = msg
            .part_refs
            .split(',')
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect();
        let send_timeout = self.settings.send_timeout;
        for (i, part) in parts.iter().enumerate().skip(msg.parts_done as usize) {
            if !self.pace() {
                // Stopping: the claim is released at the next start.
                return Ok(Sent::Retry);
            }
            let modem = self.ensure_modem().map_err(PassError::Modem)?;
            let result = modem.send_part(part, send_timeout);
            self.policy.part_sent(Instant::now());
            match result {
                Ok(mr) => refs.push(mr.to_string()),
                Err(e) => return self.send_failed(msg, e),
            }
            // A message the modem pushed meanwhile is stored and
            // acknowledged now, within one part's time; an announced one
            // is read after this message.
            self.handle_unsolicited();
            if total > 1 && i + 1 < parts.len() {
                self.store.save_progress(
                    msg.id,
                    &self.owner,
                    opts.concat_ref,
                    i as u32 + 1,
                    &refs.join(","),
                    msg.repeats_shown(self.settings.max_parts),
                )?;
            }
        }
        self.policy.sent();
        if !lines.is_empty() {
            log::info!(
                "message {} to {} carried {} more as a digest (max-per-recipient)",
                msg.id,
                msg.phone,
                lines.len()
            );
        }
        let refs = refs.join(",");
        log::info!(
            "sent message {} to {} ({} part{}, mr {})",
            self.shown(msg.id),
            msg.phone,
            total,
            if total == 1 { "" } else { "s" },
            refs
        );
        let done = self.finish(
            msg,
            Outcome::Sent {
                parts: total,
                part_refs: refs,
            },
            Sent::Done,
        );
        // Each line on record as sent in the digest; an outcome the
        // database cannot take now waits in memory as the carrier's does.
        let mut recorded = Ok(());
        for line in &lines {
            self.digested.push(line.id);
            if let Err(e) = self.finish(line, Outcome::InDigest { carrier: msg.id }, Sent::Done) {
                recorded = Err(e);
            }
        }
        let done = done?;
        recorded.map(|()| done)
    }

    /// Gives up on the message or stores its retry, as the policy says.
    fn send_failed(&mut self, msg: &QueuedMessage, e: AtError) -> Result<Sent, PassError> {
        let failure = Failure::of(&e);
        let verdict = self.policy.failed(msg.id, msg.attempts, &failure);
        let Failure {
            reason, modem_lost, ..
        } = failure;
        let outcome = match verdict {
            Verdict::Fail { attempts } => {
                log::warn!(
                    "message {} to {} failed after {attempts} attempt(s): {reason}",
                    self.shown(msg.id),
                    msg.phone
                );
                self.finish(msg, Outcome::Failed { error: reason }, Sent::Failed)?
            }
            Verdict::Retry { attempt, of, delay } => {
                log::warn!(
                    "message {} to {}: {reason}; retry {attempt} of {of} in {:.1}s",
                    msg.id,
                    msg.phone,
                    delay.as_secs_f64()
                );
                self.store
                    .retry_later(msg.id, &self.owner, &reason, delay)?;
                self.policy.retry_scheduled(Instant::now() + delay);
                Sent::Retry
            }
            Verdict::Resend => {
                log::warn!(
                    "message {} to {}: {reason}; the modem failed, not the message: it goes out \
                     again as soon as the modem answers (attempt not counted)",
                    msg.id,
                    msg.phone
                );
                // Its claim is handed back with the rest of the batch.
                Sent::Retry
            }
        };
        if modem_lost {
            // The run loop decides: ATZ first for a hang, reopen for a dead port.
            return Err(PassError::ModemLost(e));
        }
        Ok(outcome)
    }

    fn finish(
        &mut self,
        msg: &QueuedMessage,
        outcome: Outcome,
        sent: Sent,
    ) -> Result<Sent, PassError> {
        let on_spool = self.on_spool();
        let sent_now = matches!(outcome, Outcome::Sent { .. });
        let done = match self.store.finish(msg.id, &self.owner, &outcome) {
            Ok(done) => done,
            Err(e) => {
                // Sent (or given up) but not recorded: keep it to record when
                // the database is back, rather than send it again.
                self.unfinished.push((on_spool, msg.id, outcome));
                return Err(e.into());
            }
        };
        if on_spool
            && sent_now
            && let Some(spool) = &self.spool
        {
            spool.note_sent();
        }
        if !done {
            log::warn!(
                "message {} was no longer claimed by {} when it finished (its lease expired?)",
                msg.id,
                self.owner
            );
        }
        Ok(sent)
    }

    /// Writes the modem's health to the `modem` table (for `status` and the
    /// web UI) when [`HealthMark`] says so. `problem` is how the last pass
    /// ended.
    fn record_health(&mut self, problem: Option<&PassError>) {
        let pass = match problem {
            None => PassEnd::Ok,
            Some(PassError::Store(_)) => PassEnd::DatabaseAway,
            Some(_) => PassEnd::Failed,
        };
        let (health, error) = match self.health_mark.check(pass, Instant::now()) {
            Check::Skip => return,
            Check::Problem => (Health::default(), problem.map(ToString::to_string)),
            Check::AskModem => {
                let Some(modem) = self.modem.as_mut() else {
                    return;
                };
                match modem.health() {
                    Ok(h) => {
                        let problem = h.problem();
                        (h, problem)
                    }
                    Err(e) => {
                        let lost = format!("modem lost: {e}");
                        self.lost(&e);
                        (Health::default(), Some(lost))
                    }
                }
            }
        };
        if self.degraded() {
            // The `modem` table is in the database; written once it answers.
            return;
        }
        let record = health::row(&self.owner, &self.settings.device, health, error);
        if self.health_mark.changed(record.healthy) && problem.is_none() {
            match &record.last_error {
                Some(e) => log::warn!("modem {}: {e}", self.settings.device),
                None => log::info!(
                    "modem {}: {}",
                    self.settings.device,
                    health::described(&record)
                ),
            }
        }
        match self.store.save_modem_health(&record) {
            Ok(()) => self.health_mark.recorded(record.healthy, Instant::now()),
            Err(e) => log::warn!("cannot record the modem's health: {e}"),
        }
    }
}
