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

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use serialport::{SerialPort, TTYPort};

pub use self::core::{LINK_HOLD, SimCore};
pub use self::profiles::{PROFILES, Profile, profile};

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
    /// Answer `ERROR` to `AT+CMMS` (not every modem has it).
    pub refuse_cmms: bool,
    /// The SIM PIN; `None` = no PIN asked.
    pub pin: Option<String>,
    /// How this modem differs from the baseline.
    pub profile: &'static Profile,
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
            refuse_cmms: false,
            pin: None,
            profile: &profiles::TC35I,
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

    /// Messages still held in any memory.
    pub fn stored_count(&self) -> usize {
        self.memories.values().map(|m| m.slots.len()).sum()
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

    /// Waits for `n` complete messages and returns them.
    pub fn wait_for_sent(&self, n: usize, timeout: Duration) -> Vec<SentSms> {
        self.wait_until(timeout, |s| s.sent.len() >= n);
        self.state().sent.clone()
    }

    /// A message arrives from the network: stored in `memory` and announced
    /// with `+CMTI` (`+CDSI` for the report memory `SR`).
    pub fn deliver(&self, memory: &str, pdu: &str) -> Option<u32> {
        let mut state = self.state();
        let index = state.store_pdu(memory, pdu)?;
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
        let urcs: Vec<String> = std::mem::take(&mut handle.state().urcs);
        for urc in urcs {
            let _ = master.write_all(format!("\r\n{urc}\r\n").as_bytes());
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
