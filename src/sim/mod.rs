//! A simulated GSM modem on a pseudo-terminal, answering like a Siemens
//! TC35i in PDU mode, or like another modem: a [`Profile`]
//! (`profiles.rs`) is a set of deviations from that baseline, written from
//! the vendors' AT manuals. smss opens the pty's slave path exactly as it opens
//! `/dev/ttyS0`, through the real `serialport` code; the simulator drives
//! the master side. It decodes every PDU it is given (with the codec's
//! decoder, independent of the encoder) and joins concatenated parts, so
//! tests assert on numbers and texts, not on hex.
//!
//! `serve --device sim` (and `--demo`) runs one in-process; integration tests
//! and the benchmark run one in the test process and pass its slave path.

mod core;
pub mod profiles;

use std::collections::{BTreeMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use serialport::{SerialPort, TTYPort};

pub use self::core::{LINK_HOLD, SimCore};
pub use self::profiles::{PROFILES, PinRetries, Profile, profile};

/// One SMS as the simulated network received it, all parts joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSms {
    pub number: String,
    pub text: String,
    pub parts: usize,
    /// The concatenation reference, for multipart messages.
    pub concat_ref: Option<u16>,
    /// `"gsm7"`, `"ucs2"` or `"8bit"`.
    pub coding: &'static str,
    /// The message references the modem answered for each part.
    pub mrs: Vec<u8>,
    pub status_report: bool,
    /// The message class from TP-DCS (0 = flash), when it was given.
    pub class: Option<u8>,
    /// The relative TP-VP of the (last) part, when given.
    pub validity: Option<u8>,
}

/// How the simulated callee of a number answers a voice call (`ATD<n>;`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallAnswer {
    /// It rings, and the callee picks up this long after the dial.
    Answer(Duration),
    /// It rings, and the callee declines it this long after the dial: the
    /// call ends with `NO CARRIER`.
    Reject(Duration),
    /// The callee is busy: `BUSY` before it rings.
    Busy,
    /// It rings until smss hangs up.
    RingOut,
}

/// How long after `ATD` the simulated network says the callee's phone rings
/// (`+CLCC` stat 2 dialing, then 3 alerting), and says busy.
pub const CALL_SETUP: Duration = Duration::from_millis(300);

/// One voice call the simulator saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCall {
    /// As dialed (`ATD<number>;`).
    pub number: String,
    pub dialed: Instant,
    pub answered: Option<Instant>,
    /// When the call ended, however.
    pub ended: Option<Instant>,
    /// When smss hung it up (`ATH`, `AT+CHUP`), if it was still up then.
    pub hung_up: Option<Instant>,
    /// The command that ended it (`AT+CHUP`, `ATH`), or `BUSY` / `NO CARRIER`.
    pub ended_by: Option<String>,
    /// Complete SMS the simulator had received when the call was dialed,
    /// and when it ended.
    pub sms_before: usize,
    pub sms_at_end: Option<usize>,
}

impl SimCall {
    fn answer_of(&self, state: &SimState) -> CallAnswer {
        let digits = self.number.trim_start_matches('+');
        state
            .call_answers
            .iter()
            .find(|(n, _)| n.trim_start_matches('+') == digits)
            .map_or(state.default_call_answer, |(_, a)| *a)
    }

    /// The `+CLCC` `<stat>` now: 0 active, 2 dialing, 3 alerting (never
    /// for a busy callee: that phone does not ring).
    fn stat(&self, now: Instant, answer: CallAnswer) -> u8 {
        if self.answered.is_some() {
            0
        } else if now >= self.dialed + CALL_SETUP && answer != CallAnswer::Busy {
            3
        } else {
            2
        }
    }
}

/// One message memory of the modem (`SM` SIM, `ME` modem, `SR` reports).
#[derive(Debug, Clone, Default)]
pub struct Memory {
    pub capacity: usize,
    /// Slot index (from 1, or 0 for some profiles) → (stat, PDU hex with
    /// SMSC field).
    pub slots: BTreeMap<u32, (u8, String)>,
}

impl Memory {
    pub fn with_capacity(capacity: usize) -> Memory {
        Memory {
            capacity,
            slots: BTreeMap::new(),
        }
    }
}

/// The memories a fresh simulated modem has: 20 SIM slots, 50 in the
/// modem, 20 for status reports.
pub fn default_memories() -> BTreeMap<String, Memory> {
    memories_of(&profiles::TC35I)
}

/// The memories of a profile.
pub fn memories_of(profile: &Profile) -> BTreeMap<String, Memory> {
    profile
        .memories
        .iter()
        .copied()
        .map(|(name, cap)| (name.to_owned(), Memory::with_capacity(cap)))
        .collect()
}

/// What the simulator saw and what tests tell it to do.
#[derive(Debug)]
pub struct SimState {
    /// Received messages and reports held by the modem.
    pub memories: BTreeMap<String, Memory>,
    /// Unsolicited lines to send to smss at the next chance.
    pub urcs: Vec<String>,
    /// Every command line received, with its arrival time.
    pub commands: Vec<(Instant, String)>,
    /// Complete messages, in the order their last part arrived.
    pub sent: Vec<SentSms>,
    /// Parts received (all messages).
    pub parts_received: usize,
    /// PDUs the simulator could not decode or whose length did not match.
    pub bad_pdus: Vec<String>,
    /// `+CMS ERROR` codes to answer to the next sends, one each.
    pub fail_sends: Vec<u16>,
    /// How many of the next `AT+CMGD` fail (as if smss died between
    /// storing a message and deleting it).
    pub fail_deletes: usize,
    /// Sends to a number fail with a `+CMS ERROR` code, this many times
    /// (`usize::MAX`: always).
    pub fail_numbers: std::collections::HashMap<String, (u16, usize)>,
    /// Every send fails with this `+CMS ERROR` code (a broken SIM or network).
    pub fail_all_sends: Option<u16>,
    /// The next this many command lines get no answer at all (a hung modem).
    pub hang_commands: usize,
    /// Hang (no answer, part not taken) at the `AT+CMGS` that would be part
    /// number N+1 overall, i.e. once `parts_received == N`; then clear.
    pub hang_at_part: Option<usize>,
    /// How long each `AT+CMGS` takes before `+CMGS:` comes back. A message
    /// sent while the radio link is still open (`AT+CMMS=1` or `2`, and a
    /// previous message less than [`LINK_HOLD`] ago) takes a third of it.
    pub send_delay: Duration,
    /// While set, a PDU taken after the prompt gets no `+CMGS:` yet (the
    /// network is slow): tests act at that moment, then clear it.
    pub hold_sends: bool,
    /// Answer `ERROR` to `AT+CMMS` (not every modem has it).
    pub refuse_cmms: bool,
    /// The SIM PIN; `None` = no PIN asked.
    pub pin: Option<String>,
    /// PIN attempts the SIM has left (3 when new): a wrong PIN takes one,
    /// the right one restores 3; at 0 the SIM wants its PUK (`SIM PUK`).
    pub pin_attempts_left: u32,
    /// Every `AT+CPIN=` that came, right or wrong.
    pub pin_attempts: usize,
    /// How this modem differs from the baseline.
    pub profile: &'static Profile,
    /// Messages the network holds for the modem because the memory they
    /// go to was full (memory, PDU): delivered, in order, once a slot is
    /// free (as after the SIM's "memory available" notification, TS
    /// 24.011 §7.3.2), not lost and not announced before.
    pub held: Vec<(String, String)>,
    /// Messages pushed as `+CMT` rather than stored (always for a profile
    /// without SMS storage; a setting for the others, where the modem then
    /// pushes whenever `AT+CNMI` asks for any indication).
    pub direct_delivery: bool,
    /// Direct delivery: what the network holds for the modem (due time,
    /// PDU), pushed in turn.
    pub network: VecDeque<(Instant, String)>,
    /// The pushed message waiting for `AT+CNMA` (with `AT+CSMS=1`), and
    /// until when.
    pub awaiting_ack: Option<(Instant, String)>,
    /// How long the modem waits for `AT+CNMA`: then it refuses the message
    /// to the network and switches routing off (`<mt>` and `<ds>` of
    /// `AT+CNMI` to 0, TS 27.005 §3.4.4).
    pub ack_timeout: Duration,
    /// How long the network waits before it delivers a refused message
    /// again.
    pub redeliver_after: Duration,
    /// `AT+CSMS` service (1: phase 2+, pushed messages need `AT+CNMA`).
    pub csms: u8,
    /// `<mt>` of the last `AT+CNMI` (0: no routing, 1: store and `+CMTI`,
    /// 2: push as `+CMT`).
    pub cnmi_mt: u8,
    /// Messages pushed as `+CMT` (each delivery, copies included).
    pub pushed: usize,
    /// Pushed messages acknowledged with `AT+CNMA`.
    pub acked: usize,
    /// Pushed messages whose acknowledgement did not come in time.
    pub ack_timeouts: usize,
    /// The next this many `AT+CNMA` are answered `OK` but never reach the
    /// network (lost on the radio): the message is delivered again.
    pub lose_acks: usize,
    /// Every voice call dialed, in order; the last one may be up.
    pub calls: Vec<SimCall>,
    /// How the callee of a number answers (numbers compared without `+`).
    pub call_answers: Vec<(String, CallAnswer)>,
    /// How every other callee answers: picks up after a second.
    pub default_call_answer: CallAnswer,
}

impl Default for SimState {
    fn default() -> Self {
        SimState {
            memories: default_memories(),
            urcs: Vec::new(),
            commands: Vec::new(),
            sent: Vec::new(),
            parts_received: 0,
            bad_pdus: Vec::new(),
            fail_sends: Vec::new(),
            fail_deletes: 0,
            fail_numbers: std::collections::HashMap::new(),
            fail_all_sends: None,
            hang_commands: 0,
            hang_at_part: None,
            send_delay: Duration::ZERO,
            hold_sends: false,
            refuse_cmms: false,
            pin: None,
            pin_attempts_left: 3,
            pin_attempts: 0,
            profile: &profiles::TC35I,
            held: Vec::new(),
            direct_delivery: false,
            network: VecDeque::new(),
            awaiting_ack: None,
            ack_timeout: Duration::from_secs(20),
            redeliver_after: Duration::from_secs(1),
            csms: 0,
            cnmi_mt: 0,
            pushed: 0,
            acked: 0,
            ack_timeouts: 0,
            lose_acks: 0,
            calls: Vec::new(),
            call_answers: Vec::new(),
            default_call_answer: CallAnswer::Answer(Duration::from_secs(1)),
        }
    }
}

impl SimState {
    /// Puts a PDU into the first free slot of `memory`; `None` when full.
    pub fn store_pdu(&mut self, memory: &str, pdu: &str) -> Option<u32> {
        let mem = self.memories.get_mut(memory)?;
        if mem.slots.len() >= mem.capacity {
            return None;
        }
        let index = (self.profile.first_index..).find(|i| !mem.slots.contains_key(i))?;
        mem.slots.insert(index, (0, pdu.to_owned()));
        Some(index)
    }

    /// Fills `memory` with stored sent messages (`AT+CMGL` stat 3), as a
    /// phone leaves them: the full SIM of issue 14. Returns how many.
    pub fn fill_with_stored_sent(&mut self, memory: &str) -> usize {
        let opts = crate::gsm::SubmitOptions::default();
        let mut n = 0;
        loop {
            let text = format!("sent from a phone {n}");
            let Ok(parts) = crate::gsm::encode_submit("+420777000111", &text, &opts) else {
                return n;
            };
            match self.store_pdu(memory, &parts[0].pdu_hex) {
                Some(index) => {
                    if let Some(slot) = self
                        .memories
                        .get_mut(memory)
                        .and_then(|m| m.slots.get_mut(&index))
                    {
                        slot.0 = 3;
                    }
                    n += 1;
                }
                None => return n,
            }
        }
    }

    /// The network delivers what it held where there is room again; the
    /// announcements go out with the other URCs.
    fn deliver_held(&mut self) -> bool {
        let mut delivered = false;
        while let Some((memory, pdu)) = self.held.first().cloned() {
            let Some(index) = self.store_pdu(&memory, &pdu) else {
                break;
            };
            self.held.remove(0);
            let urc = if memory == "SR" { "+CDSI" } else { "+CMTI" };
            self.urcs.push(format!("{urc}: \"{memory}\",{index}"));
            delivered = true;
        }
        delivered
    }

    /// The call that is up (dialing, ringing or answered), if any.
    pub fn call_up(&self) -> Option<&SimCall> {
        self.calls.last().filter(|c| c.ended.is_none())
    }

    /// `ATD<number>;`: the call starts (`false`: one is up already).
    fn dial(&mut self, number: &str) -> bool {
        if self.call_up().is_some() {
            return false;
        }
        self.calls.push(SimCall {
            number: number.to_owned(),
            dialed: Instant::now(),
            answered: None,
            ended: None,
            hung_up: None,
            ended_by: None,
            sms_before: self.sent.len(),
            sms_at_end: None,
        });
        true
    }

    /// `ATH` or `AT+CHUP`: ends the call that is up, if any.
    fn hang_up(&mut self, command: &str) {
        let now = Instant::now();
        let sent = self.sent.len();
        if let Some(call) = self.calls.last_mut().filter(|c| c.ended.is_none()) {
            call.ended = Some(now);
            call.sms_at_end = Some(sent);
            call.hung_up = Some(now);
            call.ended_by = Some(command.to_owned());
        }
    }

    /// The callee acts when its time comes: busy, answered, declined. The
    /// call results (`BUSY`, `NO CARRIER`) go out with the other URCs.
    /// True when something changed.
    pub(crate) fn advance_call(&mut self, now: Instant) -> bool {
        let Some(call) = self.call_up() else {
            return false;
        };
        let answer = call.answer_of(self);
        let dialed = call.dialed;
        let answered = call.answered.is_some();
        let (end, result) = match answer {
            CallAnswer::Busy if now >= dialed + CALL_SETUP / 2 => (true, "BUSY"),
            CallAnswer::Reject(after) if now >= dialed + after.max(CALL_SETUP) => {
                (true, "NO CARRIER")
            }
            CallAnswer::Answer(after) if !answered && now >= dialed + after.max(CALL_SETUP) => {
                if let Some(call) = self.calls.last_mut() {
                    call.answered = Some(now);
                }
                return true;
            }
            _ => return false,
        };
        let sent = self.sent.len();
        if end && let Some(call) = self.calls.last_mut() {
            call.ended = Some(now);
            call.sms_at_end = Some(sent);
            call.ended_by = Some(result.to_owned());
            self.urcs.push(result.to_owned());
        }
        end
    }

    /// Messages still held in any memory, or (direct delivery) not yet
    /// acknowledged.
    pub fn stored_count(&self) -> usize {
        self.memories.values().map(|m| m.slots.len()).sum::<usize>()
            + self.network.len()
            + usize::from(self.awaiting_ack.is_some())
    }

    /// Whether arriving messages are pushed as `+CMT`.
    pub fn delivers_directly(&self) -> bool {
        self.direct_delivery || !self.profile.sms_storage
    }

    /// The next `+CMT` to push now, if any: an acknowledgement that did not
    /// come ends its wait first (the message goes back to the network,
    /// routing goes off); one message at a time waits for its
    /// acknowledgement (TS 27.005 §3.4.4).
    pub fn next_push(&mut self, now: Instant) -> Option<Vec<u8>> {
        if let Some((deadline, _)) = &self.awaiting_ack
            && now >= *deadline
        {
            let (_, pdu) = self.awaiting_ack.take()?;
            self.ack_timeouts += 1;
            self.cnmi_mt = 0;
            self.network.push_back((now + self.redeliver_after, pdu));
        }
        let routed = self.cnmi_mt == 2 || (self.direct_delivery && self.cnmi_mt == 1);
        if self.awaiting_ack.is_some() || !routed {
            return None;
        }
        let at = self.network.iter().position(|(due, _)| *due <= now)?;
        let (_, pdu) = self.network.remove(at)?;
        self.pushed += 1;
        let urc = format!("\r\n+CMT: ,{}\r\n{pdu}\r\n", core::tpdu_len(&pdu));
        if self.csms == 1 {
            self.awaiting_ack = Some((now + self.ack_timeout, pdu));
        }
        Some(urc.into_bytes())
    }
}

#[derive(Clone, Default)]
pub struct SimHandle {
    shared: Arc<(Mutex<SimState>, Condvar)>,
    stop: Arc<AtomicBool>,
}

impl SimHandle {
    pub fn state(&self) -> MutexGuard<'_, SimState> {
        self.shared.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn changed(&self) {
        self.shared.1.notify_all();
    }

    /// Waits until `cond` holds on the state or `timeout` passes; returns
    /// whether it held.
    pub fn wait_until(&self, timeout: Duration, mut cond: impl FnMut(&SimState) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.state();
        loop {
            if cond(&state) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .shared
                .1
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// How the callee of `number` answers the calls that follow.
    pub fn answer_calls(&self, number: &str, answer: CallAnswer) {
        let mut state = self.state();
        state.call_answers.retain(|(n, _)| n != number);
        state.call_answers.push((number.to_owned(), answer));
    }

    /// Waits until `n` calls have ended and returns every call seen.
    pub fn wait_for_calls(&self, n: usize, timeout: Duration) -> Vec<SimCall> {
        self.wait_until(timeout, |s| {
            s.calls.iter().filter(|c| c.ended.is_some()).count() >= n
        });
        self.state().calls.clone()
    }

    /// Waits for `n` complete messages and returns them.
    pub fn wait_for_sent(&self, n: usize, timeout: Duration) -> Vec<SentSms> {
        self.wait_until(timeout, |s| s.sent.len() >= n);
        self.state().sent.clone()
    }

    /// A message arrives from the network: stored in `memory` and announced
    /// with `+CMTI` (`+CDSI` for the report memory `SR`); with direct
    /// delivery, pushed as `+CMT` instead (index 0). With `memory` full (or
    /// others held before it) the network holds it (`None`), to deliver it
    /// once a slot is free.
    pub fn deliver(&self, memory: &str, pdu: &str) -> Option<u32> {
        let mut state = self.state();
        if state.delivers_directly() && memory != "SR" {
            state.network.push_back((Instant::now(), pdu.to_owned()));
            drop(state);
            self.changed();
            return Some(0);
        }
        let stored = if state.held.is_empty() {
            state.store_pdu(memory, pdu)
        } else {
            None
        };
        let Some(index) = stored else {
            if state.memories.contains_key(memory) {
                state.held.push((memory.to_owned(), pdu.to_owned()));
            }
            return None;
        };
        let urc = if memory == "SR" { "+CDSI" } else { "+CMTI" };
        state.urcs.push(format!("{urc}: \"{memory}\",{index}"));
        drop(state);
        self.changed();
        Some(index)
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A simulator running on a pty; dropping it stops the thread.
pub struct PtySim {
    pub handle: SimHandle,
    /// The slave side: what smss opens as its device.
    pub path: PathBuf,
    thread: Option<thread::JoinHandle<()>>,
}

impl PtySim {
    /// Opens a pty pair and starts answering on its master side.
    pub fn start() -> std::io::Result<PtySim> {
        Self::start_with(SimState::default())
    }

    /// A simulator answering as `profile` does.
    pub fn start_profile(profile: &'static Profile) -> std::io::Result<PtySim> {
        Self::start_with(SimState {
            memories: memories_of(profile),
            profile,
            ..SimState::default()
        })
    }

    pub fn start_with(state: SimState) -> std::io::Result<PtySim> {
        let (inheritable, slave) = TTYPort::pair().map_err(std::io::Error::other)?;
        // pair() leaves both descriptors inheritable: every program started
        // later (a `serve` under test, a hook) would hold the master open, and
        // closing the simulator would not look like an unplugged modem. The
        // clone is close-on-exec; the originals are closed.
        let mut master = inheritable
            .try_clone_native()
            .map_err(std::io::Error::other)?;
        drop(inheritable);
        let path = PathBuf::from(
            slave
                .name()
                .ok_or_else(|| std::io::Error::other("pty without a name"))?,
        );
        master
            .set_timeout(Duration::from_millis(20))
            .map_err(std::io::Error::other)?;
        let handle = SimHandle::default();
        *handle.state() = state;
        let h = handle.clone();
        let thread = thread::Builder::new()
            .name("modem-sim".into())
            .spawn(move || run(&mut master, &h))?;
        // Not holding the slave open: the tty is released whenever smss
        // closes it, as a real port is, so its exclusive-open flag clears.
        drop(slave);
        Ok(PtySim {
            handle,
            path,
            thread: Some(thread),
        })
    }
}

impl Drop for PtySim {
    fn drop(&mut self) {
        self.handle.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(master: &mut TTYPort, handle: &SimHandle) {
    let mut core = SimCore::new();
    let mut buf = [0u8; 4096];
    while !handle.stop.load(Ordering::SeqCst) {
        let urcs: Vec<String> = {
            let mut state = handle.state();
            if !state.held.is_empty() && state.deliver_held() {
                handle.changed();
            }
            if state.advance_call(Instant::now()) {
                handle.changed();
            }
            std::mem::take(&mut state.urcs)
        };
        for urc in urcs {
            let _ = master.write_all(format!("\r\n{urc}\r\n").as_bytes());
        }
        if !core.collecting_pdu() {
            let mut state = handle.state();
            let timeouts = state.ack_timeouts;
            let push = state.next_push(Instant::now());
            let gave_up = state.ack_timeouts != timeouts;
            drop(state);
            if let Some(push) = &push {
                let _ = master.write_all(push);
            }
            if push.is_some() || gave_up {
                handle.changed();
            }
        }
        match master.read(&mut buf) {
            Ok(0) => thread::sleep(Duration::from_millis(10)),
            Ok(n) => {
                let out = core.feed(&buf[..n], handle);
                if !out.is_empty() && master.write_all(&out).is_err() {
                    thread::sleep(Duration::from_millis(10));
                }
            }
            Err(e) if e.kind() == ErrorKind::TimedOut || e.kind() == ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // EIO: nobody has the slave open right now.
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}
