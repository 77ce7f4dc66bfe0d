//! The GSM modem: opening the serial port, the init sequence, sending one
//! SMS-SUBMIT part, the memories received messages are read from, and the
//! health queries. Only the modem thread (`outbox`) owns a [`Modem`].
//!
//! Real modems differ (issue 13): this file copes with boot lines in the
//! middle of init (the AT layer sets them aside by context), a slow or
//! noisy first answer (resynchronised), echo that stays on, `AT+CPIN?`
//! without a final `OK`, a SIM still starting up ("SIM busy": waited for),
//! prefixed identity answers, storage lists that are empty, refused or
//! vendor-named, indexes from 0, and `AT+CMGL` that hangs or fails (read
//! slot by slot with `AT+CMGR`). Each answer has a pure `parse_*` function
//! tested on literal transcripts below.

pub mod at;
mod call;
pub mod errors;
pub mod pin;
pub mod probe;
mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::time::{Duration, Instant};

use at::At;
pub use at::{AtError, OtherResult};
pub use call::{CallEnd, dial_string};
pub use pin::SimPin;
use serialport::SerialPort;
pub use watch::Watch;

use crate::gsm::SubmitPart;
use crate::store::SimMemory;

/// How long init waits for a SIM that is still starting up
/// (`+CME ERROR: 14`, `+CPIN: NOT READY`) before it gives up.
pub const SIM_BUSY_WAIT: Duration = Duration::from_secs(30);
/// How often a busy SIM is asked again.
const SIM_BUSY_RETRY: Duration = Duration::from_secs(1);
/// How long a final `OK` is waited for after an answer some modems send
/// without one (`AT+CPIN?`).
const FINAL_GRACE: Duration = Duration::from_millis(1000);
/// How long [`at::At::resync`] waits for the answer to its command.
const SYNC_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the modem could not be opened or initialised, in words an
/// administrator can act on.
#[derive(Debug)]
pub enum ModemError {
    Open {
        device: String,
        error: String,
    },
    Init {
        step: &'static str,
        error: AtError,
    },
    PinNeeded,
    /// The SIM refused the PIN, now or in an earlier run (`record` keeps
    /// that): it is not entered again. `left`: the attempts the modem says
    /// are left, where it tells.
    PinRefused {
        left: Option<u32>,
        record: std::path::PathBuf,
    },
    /// One attempt (or none) left: a wrong PIN now would lock the SIM.
    PinLastAttempt(u32),
    /// The SIM is locked and wants its PUK; smss never sends one.
    PukNeeded,
    PinState(String),
    /// The SIM kept answering "busy" (still starting up) this long.
    SimBusy(Duration),
}

impl std::fmt::Display for ModemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModemError::Open { device, error } => write!(f, "cannot open {device}: {error}"),
            ModemError::Init { step, error } => write!(f, "modem init ({step}) failed: {error}"),
            ModemError::PinNeeded => {
                write!(f, "the SIM asks for a PIN: set pin in the configuration")
            }
            ModemError::PinRefused { left, record } => {
                let left = match left {
                    Some(1) => "1 attempt left".to_owned(),
                    Some(n) => format!("{n} attempts left"),
                    None => "attempts left unknown".to_owned(),
                };
                write!(
                    f,
                    "the SIM refused PIN: not retried; fix `pin` and restart ({left}); \
                     to enter this same PIN once more, delete {}",
                    record.display()
                )
            }
            ModemError::PinLastAttempt(left) => write!(
                f,
                "the SIM has {left} PIN attempt{} left: smss does not enter the PIN, a wrong one \
                 would lock the SIM (PUK needed); check `pin`, enter it once by hand (a phone, or \
                 AT+CPIN in a terminal), then restart",
                if *left == 1 { "" } else { "s" }
            ),
            ModemError::PukNeeded => write!(
                f,
                "the SIM is locked (SIM PUK): it needs its PUK, which smss never sends; unlock it \
                 in a phone with the PUK from the operator, set the right `pin`, then restart"
            ),
            ModemError::PinState(state) => {
                write!(
                    f,
                    "the SIM is not ready ({state}); it may need a PUK, or be missing"
                )
            }
            ModemError::SimBusy(waited) => write!(
                f,
                "SIM busy: still starting up after {}s (if it stays so, check the SIM card)",
                waited.as_secs()
            ),
        }
    }
}

impl std::error::Error for ModemError {}

/// What the init sequence learnt about the modem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModemInfo {
    pub manufacturer: String,
    pub model: String,
}

pub struct Modem {
    /// Dropped first: its thread ends and its copy of the port is closed
    /// before the port itself.
    watch: Option<Watch>,
    /// A second handle of a serial port, for the watch (none for a
    /// scripted port).
    watch_port: Option<Box<dyn SerialPort>>,
    at: At<dyn at::Port>,
    device: String,
    command_timeout: Duration,
    /// How often a busy SIM is asked again.
    sim_retry: Duration,
    /// Memories that cannot be read, and why (logged once, shown in health).
    unreadable: BTreeMap<String, String>,
    /// Memories whose `AT+CMGL` failed: read with `AT+CMGR`.
    cmgr_only: BTreeSet<String>,
    /// `AT+CMGL` hung once: the phone's listing hangs whatever the memory,
    /// so every memory is read with `AT+CMGR` (one command timeout per
    /// init, not one per memory).
    cmgl_hangs: bool,
    /// Memories a `+CMTI`/`+CDSI` named that are not among those read.
    announced: BTreeSet<String>,
    /// The `AT+CNMI` setting the modem took (`None`: it took none).
    indications: Option<&'static str>,
    /// A modem without SMS storage: the `AT+CNMI` setting that routes
    /// messages to smss as `+CMT` (asked again at every read pass, as the
    /// modem switches routing off when an acknowledgement did not come).
    direct: Option<&'static str>,
    /// Whether pushed messages (`+CMT`, `+CDS`) are acknowledged.
    ack: Ack,
    /// The form of `AT+CNMA` the modem took.
    ack_form: Option<&'static str>,
    /// Manufacturer and model, asked once per init.
    info: ModemInfo,
    /// What each memory held as the last listing left it (less what was
    /// deleted since), for health.
    usage: BTreeMap<String, SimMemory>,
    /// The memory listed last and the stat of each of its slots: what
    /// `delete` refers to.
    listed: Option<(String, BTreeMap<u32, u8>)>,
    /// Memories in `usage` known only as `<mem3>` (not read directly).
    receiving: BTreeSet<String>,
}

/// Whether a message the modem pushed (`+CMT:`, `+CDS:`) must be
/// acknowledged with `AT+CNMA` (TS 27.005 §3.4.4: when `AT+CSMS=1`, phase
/// 2+, is selected; without it the modem acknowledges on its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// `AT+CSMS=1` taken: every pushed message waits for `AT+CNMA`, and
    /// one not acknowledged is refused to the network, which sends it again.
    Required,
    /// Not known (smss did not select the service): acknowledged all the
    /// same, until the modem says it expects none.
    Try,
    /// The modem expects none.
    No,
}

/// How long one `read()` on the port may block; the AT layer loops until
/// its own deadline, so this only bounds how late a shutdown is noticed.
const READ_SLICE: Duration = Duration::from_millis(50);

/// What `AT+CPIN?` says of the SIM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimStatus {
    Ready,
    /// Still starting up (`+CPIN: NOT READY`, `+CME ERROR: 14`).
    Busy,
    PinNeeded,
    /// `SIM PUK`: locked after wrong PINs.
    PukNeeded,
    /// Anything else: `PH-SIM PIN`, `SIM PIN2`, ...
    Other(String),
}

/// `+CPIN: <code>` (TS 27.007 §8.3); no `+CPIN:` line at all is taken as
/// ready, as a modem without a PIN lock may answer just `OK`.
pub fn parse_cpin(lines: &[String]) -> SimStatus {
    let Some(code) = lines.iter().find_map(|l| l.strip_prefix("+CPIN:")) else {
        return SimStatus::Ready;
    };
    match code.trim().trim_matches('"') {
        "READY" => SimStatus::Ready,
        "NOT READY" => SimStatus::Busy,
        "SIM PIN" => SimStatus::PinNeeded,
        "SIM PUK" => SimStatus::PukNeeded,
        other => SimStatus::Other(other.to_owned()),
    }
}

/// The answer of a SIM that is still starting up: `+CME ERROR: 14` (SIM
/// busy, TS 27.007 §9.2) or `+CMS ERROR: 314` (TS 27.005 §3.2.5).
pub fn is_sim_busy(e: &AtError) -> bool {
    matches!(
        e,
        AtError::Cme { code: 14, .. } | AtError::Cms { code: 314, .. }
    )
}

impl Modem {
    pub fn open(device: &str, baud: u32, command_timeout: Duration) -> Result<Modem, ModemError> {
        let port = serialport::new(device, baud)
            .timeout(READ_SLICE)
            .open()
            .map_err(|e| ModemError::Open {
                device: device.to_owned(),
                error: describe_open_error(device, &e),
            })?;
        let watch_port = port.try_clone().ok();
        Ok(Modem {
            watch_port,
            ..Modem::on_port(Box::new(port), device, command_timeout)
        })
    }

    /// A modem on any port (a scripted one in unit tests).
    pub fn on_port(port: Box<dyn at::Port>, device: &str, command_timeout: Duration) -> Modem {
        Modem {
            watch: None,
            watch_port: None,
            at: At::new(port),
            device: device.to_owned(),
            command_timeout,
            sim_retry: SIM_BUSY_RETRY,
            unreadable: BTreeMap::new(),
            cmgr_only: BTreeSet::new(),
            cmgl_hangs: false,
            announced: BTreeSet::new(),
            indications: None,
            direct: None,
            ack: Ack::Try,
            ack_form: None,
            info: ModemInfo::default(),
            usage: BTreeMap::new(),
            listed: None,
            receiving: BTreeSet::new(),
        }
    }

    pub fn device(&self) -> &str {
        &self.device
    }

    /// Echo off, numeric errors, PIN, PDU mode, SMSC. The first `AT` is
    /// repeated a few times: a modem that just woke up may miss it. A
    /// modem that answered late or sent junk first is resynchronised, so
    /// that no answer is taken for the next command's.
    pub fn init(
        &mut self,
        pin: Option<&mut SimPin>,
        smsc: Option<&str>,
    ) -> Result<ModemInfo, ModemError> {
        let t = self.command_timeout;
        let step = |step: &'static str| move |error| ModemError::Init { step, error };
        self.unreadable.clear();
        self.cmgr_only.clear();
        self.cmgl_hangs = false;
        self.announced.clear();
        self.usage.clear();
        self.listed = None;
        self.receiving.clear();
        let junk = self
            .at
            .cancel_pending_input(Duration::from_millis(300))
            .map_err(step("cancelling pending input"))?;
        let mut attempt = 0;
        let clean = loop {
            match self.at.command("AT", Duration::from_secs(2).min(t)) {
                Ok(lines) => break attempt == 0 && junk == 0 && lines.is_empty(),
                Err(e) if e.is_lost() && !matches!(e, AtError::Timeout { .. }) => {
                    return Err(ModemError::Init {
                        step: "AT",
                        error: e,
                    });
                }
                Err(e) if attempt >= 2 => {
                    return Err(ModemError::Init {
                        step: "AT",
                        error: e,
                    });
                }
                Err(_) => attempt += 1,
            }
        };
        if !clean {
            log::info!(
                "modem {}: slow or noisy first answer; resynchronising",
                self.device
            );
            self.resync().map_err(step("resynchronising"))?;
        }
        self.at.command("ATE0", t).map_err(step("echo off"))?;
        self.at
            .command("AT+CMEE=1", t)
            .map_err(step("numeric errors"))?;
        if self.at.echoed() {
            log::debug!("modem {}: echo still on after ATE0; again", self.device);
            self.at.command("ATE0", t).map_err(step("echo off"))?;
        }
        self.sim_ready(pin)?;
        self.busy_retry("AT+CMGF=0").map_err(step("PDU mode"))?;
        if let Some(smsc) = smsc {
            let toa = if smsc.starts_with('+') { 145 } else { 129 };
            self.at
                .command(&format!("AT+CSCA=\"{smsc}\",{toa}"), t)
                .map_err(step("SMS centre"))?;
        }
        let (manufacturer, model) = identify(&mut |c| self.at.command(c, t), &mut |_| {})
            .map_err(step("identification"))?;
        self.info = ModemInfo {
            manufacturer,
            model,
        };
        Ok(self.info.clone())
    }

    /// [`at::At::resync`]; a modem that does not know its command is not
    /// an error (what it sent meanwhile was dropped all the same).
    fn resync(&mut self) -> Result<(), AtError> {
        if !self.at.resync(SYNC_TIMEOUT.min(self.command_timeout))? {
            log::info!(
                "modem {}: no answer to {}; carrying on",
                self.device,
                at::SYNC_COMMAND
            );
        }
        Ok(())
    }

    /// Waits (up to [`SIM_BUSY_WAIT`]) for the SIM to be ready, entering
    /// the PIN when it asks for one: at most once, never a PIN it refused
    /// before, never with one attempt left.
    fn sim_ready(&mut self, mut pin: Option<&mut SimPin>) -> Result<(), ModemError> {
        let t = self.command_timeout;
        let step = |step: &'static str| move |error| ModemError::Init { step, error };
        let started = Instant::now();
        let mut pin_sent = false;
        let mut said_busy = false;
        loop {
            let state = match self.at.query_final_optional("AT+CPIN?", t, FINAL_GRACE) {
                Ok((lines, no_final)) => {
                    if no_final {
                        // Its OK may still come, late: it must not answer
                        // the next command.
                        self.resync().map_err(step("SIM PIN state"))?;
                    }
                    parse_cpin(&lines)
                }
                Err(e) if is_sim_busy(&e) => SimStatus::Busy,
                // SIM PUK required (TS 27.007 §9.2)
                Err(AtError::Cme { code: 12, .. }) => SimStatus::PukNeeded,
                Err(e) => {
                    return Err(ModemError::Init {
                        step: "SIM PIN state",
                        error: e,
                    });
                }
            };
            match (state, pin.as_deref_mut()) {
                (SimStatus::Ready, _) => return Ok(()),
                (SimStatus::Busy, _) if started.elapsed() < SIM_BUSY_WAIT => {
                    if !said_busy {
                        log::info!(
                            "modem {}: SIM busy (still starting up); waiting for it",
                            self.device
                        );
                        said_busy = true;
                    }
                    std::thread::sleep(self.sim_retry);
                }
                (SimStatus::Busy, _) => return Err(ModemError::SimBusy(started.elapsed())),
                (SimStatus::PinNeeded, Some(pin)) if !pin_sent => {
                    self.enter_pin(pin)?;
                    pin_sent = true;
                }
                (SimStatus::PinNeeded, Some(_)) => {
                    return Err(ModemError::PinState("SIM PIN asked again".into()));
                }
                (SimStatus::PinNeeded, None) => return Err(ModemError::PinNeeded),
                (SimStatus::PukNeeded, _) => return Err(ModemError::PukNeeded),
                (SimStatus::Other(other), _) => return Err(ModemError::PinState(other)),
            }
        }
    }

    /// Enters the PIN once, unless the SIM refused it before or has one
    /// attempt left. A refusal is recorded (see [`SimPin`]) before anything
    /// else, so that no later start enters it again.
    fn enter_pin(&mut self, pin: &mut SimPin) -> Result<(), ModemError> {
        let left = self.pin_attempts_left();
        if pin.was_refused() {
            return Err(ModemError::PinRefused {
                left,
                record: pin.record().to_owned(),
            });
        }
        if let Some(left) = left.filter(|&n| n <= 1) {
            return Err(ModemError::PinLastAttempt(left));
        }
        log::info!(
            "modem {}: entering the SIM PIN ({})",
            self.device,
            match left {
                Some(n) => format!("{n} attempts left"),
                None => "the modem does not tell the attempts left".into(),
            }
        );
        match self
            .at
            .command(&format!("AT+CPIN=\"{}\"", pin.pin()), self.command_timeout)
        {
            Ok(_) => {
                pin.accepted();
                Ok(())
            }
            Err(e) => {
                // Refused, or no answer: either way not entered again. (A
                // PIN the SIM took after all shows as READY next time.)
                pin.refused();
                log::debug!("modem {}: the PIN was answered {e}", self.device);
                if e.is_lost() {
                    return Err(ModemError::Init {
                        step: "entering the PIN (it is not entered again)",
                        error: e,
                    });
                }
                Err(ModemError::PinRefused {
                    left: self.pin_attempts_left(),
                    record: pin.record().to_owned(),
                })
            }
        }
    }

    /// The PIN attempts left, from the first of [`pin::RETRY_QUERIES`] the
    /// modem answers; `None` when none does. A modem that does not answer
    /// one at all is resynchronised and not asked the others.
    fn pin_attempts_left(&mut self) -> Option<u32> {
        let t = self.command_timeout.min(Duration::from_secs(3));
        for (command, parse) in pin::RETRY_QUERIES {
            match self.at.command(command, t) {
                Ok(lines) => {
                    if let Some(left) = parse(&lines) {
                        return Some(left);
                    }
                }
                Err(e) if e.is_lost() => {
                    log::debug!(
                        "modem {}: {e}; the PIN attempts left stay unknown",
                        self.device
                    );
                    let _ = self.resync();
                    return None;
                }
                Err(_) => {}
            }
        }
        None
    }

    /// A command that a SIM still starting up may refuse as busy: asked
    /// again for up to [`SIM_BUSY_WAIT`].
    fn busy_retry(&mut self, command: &str) -> Result<Vec<String>, AtError> {
        let started = Instant::now();
        loop {
            match self.at.command(command, self.command_timeout) {
                Err(e) if is_sim_busy(&e) && started.elapsed() < SIM_BUSY_WAIT => {
                    log::info!("modem {}: {e} (SIM busy); asking again", self.device);
                    std::thread::sleep(self.sim_retry);
                }
                other => return other,
            }
        }
    }

    /// Sends one part; returns its message reference. The `> ` prompt must
    /// come within `command-timeout`, the network's answer within
    /// `send_timeout`.
    pub fn send_part(&mut self, part: &SubmitPart, send_timeout: Duration) -> Result<u8, AtError> {
        let prompt_timeout = self.command_timeout;
        self.at
            .send_pdu(part.tpdu_len, &part.pdu_hex, prompt_timeout, send_timeout)
    }

    pub fn command(&mut self, command: &str) -> Result<Vec<String>, AtError> {
        let t = self.command_timeout;
        self.at.command(command, t)
    }

    /// Unsolicited lines seen so far. A `+CMTI`/`+CDSI` naming a memory
    /// that is not read yet adds it to the next passes.
    pub fn take_unsolicited(&mut self) -> Vec<String> {
        let lines = self.at.take_unsolicited();
        for line in &lines {
            if let Some(memory) = parse_cmti_memory(line) {
                self.announced.insert(memory);
            }
        }
        lines
    }
}

/// The memory of `+CMTI: "<mem>",<index>` (or `+CDSI:`).
pub fn parse_cmti_memory(line: &str) -> Option<String> {
    let rest = line
        .strip_prefix("+CMTI:")
        .or_else(|| line.strip_prefix("+CDSI:"))?;
    let memory = rest.split(',').next()?.trim().trim_matches('"');
    (!memory.is_empty()).then(|| normalise_memory(memory).to_owned())
}

/// Whether a quoted identity answer is a list (`"GSM900","GSM1800"`).
fn quoted_items(value: &str) -> Option<Vec<&str>> {
    if !value.starts_with('"') {
        return None;
    }
    let mut items = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.strip_prefix('"') {
        let (item, after) = open.split_once('"').unwrap_or((open, ""));
        items.push(item.trim());
        rest = after.trim_start().trim_start_matches(',').trim_start();
    }
    Some(items)
}

/// The manufacturer or model from the answer to `AT+CGMI` / `AT+CGMM`,
/// the way a person reads it: `SIEMENS`, `+CGMI: "Motorola CE, Copyright
/// 2000"` → `Motorola CE`, `+CGMM: "GSM900","GSM1800","MODEL=V3"` → `V3`,
/// `Manufacturer: SIMCOM INCORPORATED` → `SIMCOM INCORPORATED`.
pub fn parse_identity(lines: &[String], prefix: &str, label: &str) -> String {
    for line in lines {
        let mut value = line.trim();
        if value
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
        {
            value = value[prefix.len()..].trim();
        }
        if let Some((name, rest)) = value.split_once(':')
            && name.trim().eq_ignore_ascii_case(label)
        {
            value = rest.trim();
        }
        let value = match quoted_items(value) {
            Some(items) => items
                .iter()
                .find_map(|i| i.strip_prefix("MODEL="))
                .or(items.first().copied())
                .unwrap_or(""),
            None => value,
        };
        let value = value
            .split(", Copyright")
            .next()
            .unwrap_or(value)
            .trim()
            .trim_end_matches(',');
        if !value.is_empty() {
            return value.to_owned();
        }
    }
    String::new()
}

/// Manufacturer and model from the answer to `ATI`: labelled lines
/// (`Manufacturer: ...`, `Model: ...`, SIMCom) or, without labels, the
/// first two lines (`Quectel`, `EC25`, then `Revision: ...`).
pub fn parse_ati(lines: &[String]) -> (String, String) {
    let labelled = |label: &str| {
        lines.iter().find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case(label)
                .then(|| value.trim().to_owned())
        })
    };
    if let Some(manufacturer) = labelled("Manufacturer") {
        return (manufacturer, labelled("Model").unwrap_or_default());
    }
    let mut plain = lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !l.contains(':'));
    let manufacturer = plain.next().unwrap_or("").to_owned();
    (manufacturer, plain.next().unwrap_or("").to_owned())
}

/// Asks `AT+CGMI` and `AT+CGMM` through `run` (and `ATI` when either says
/// nothing usable); returns (manufacturer, model). A refused command is
/// passed to `refused` when `ATI` did not fill the gap either; a modem
/// that stopped answering is an error.
pub fn identify(
    run: &mut impl FnMut(&str) -> Result<Vec<String>, AtError>,
    refused: &mut impl FnMut(AtError),
) -> Result<(String, String), AtError> {
    let mut ask = |command: &str| match run(command) {
        Ok(lines) => Ok((lines, None)),
        Err(e) if e.is_lost() => Err(e),
        Err(e) => Ok((Vec::new(), Some(e))),
    };
    let (lines, cgmi_error) = ask("AT+CGMI")?;
    let mut manufacturer = parse_identity(&lines, "+CGMI:", "Manufacturer");
    let (lines, cgmm_error) = ask("AT+CGMM")?;
    let mut model = parse_identity(&lines, "+CGMM:", "Model");
    if manufacturer.is_empty() || model.is_empty() {
        let (lines, _) = ask("ATI")?;
        let (m, n) = parse_ati(&lines);
        if manufacturer.is_empty() {
            manufacturer = m;
        }
        if model.is_empty() {
            model = n;
        }
    }
    for (value, error) in [(&manufacturer, cgmi_error), (&model, cgmm_error)] {
        if let Some(e) = error.filter(|_| value.is_empty()) {
            refused(e);
        }
    }
    Ok((manufacturer, model))
}

fn describe_open_error(device: &str, e: &serialport::Error) -> String {
    use serialport::ErrorKind;
    match e.kind() {
        // ENOTTY (a file, /dev/null): "Not a typewriter"
        _ if e.description.contains("typewriter")
            || e.description.contains("Inappropriate ioctl") =>
        {
            format!("{device} is not a serial port (set device to the modem's port)")
        }
        ErrorKind::NoDevice => format!(
            "{} (is the modem plugged in and the device path right?)",
            e.description
        ),
        ErrorKind::Io(io::ErrorKind::NotFound) => {
            "no such device (is the modem plugged in and the device path right?)".to_owned()
        }
        ErrorKind::Io(io::ErrorKind::PermissionDenied) => {
            "permission denied (is smss in group dialout?)".to_owned()
        }
        _ if e.description.contains("Permission denied") => {
            "permission denied (is smss in group dialout?)".to_owned()
        }
        _ if e.description.contains("busy") || e.description.contains("Resource temporarily") => {
            format!("{} (another program holds the port)", e.description)
        }
        _ => e.description.clone(),
    }
}

/// A message as `AT+CMGL` lists it: its slot and its PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPdu {
    pub index: u32,
    /// 0 received unread, 1 received read, 2 stored unsent, 3 stored sent.
    pub stat: u8,
    pub pdu: String,
}

/// Parses the lines of `AT+CMGL=4` in PDU mode: `+CMGL: <index>,<stat>,[<alpha>],<length>`
/// each followed by its PDU line. Indexes may start at 0.
pub fn parse_cmgl(lines: &[String]) -> Vec<StoredPdu> {
    let mut out = Vec::new();
    let mut it = lines.iter().peekable();
    while let Some(line) = it.next() {
        let Some(header) = line.strip_prefix("+CMGL:") else {
            continue;
        };
        let mut fields = header.split(',').map(str::trim);
        let index = fields.next().and_then(|f| f.parse().ok());
        let stat = fields.next().and_then(|f| f.parse().ok());
        let pdu = it.next_if(|l| !l.starts_with("+CMGL:"));
        if let (Some(index), Some(stat), Some(pdu)) = (index, stat, pdu) {
            out.push(StoredPdu {
                index,
                stat,
                pdu: pdu.trim().to_owned(),
            });
        }
    }
    out
}

/// Parses the answer to `AT+CMGR=<index>` in PDU mode: `+CMGR:
/// <stat>,[<alpha>],<length>` and the PDU line; `None` for an empty slot
/// (no `+CMGR:`, or a length of 0).
pub fn parse_cmgr(index: u32, lines: &[String]) -> Option<StoredPdu> {
    let at = lines.iter().position(|l| l.starts_with("+CMGR:"))?;
    let header = &lines[at]["+CMGR:".len()..];
    let mut fields = header.split(',').map(str::trim);
    let stat = fields.next()?.parse().ok()?;
    let length: u32 = fields.next_back()?.parse().ok()?;
    let pdu = lines.get(at + 1)?.trim();
    (length > 0 && !pdu.is_empty()).then(|| StoredPdu {
        index,
        stat,
        pdu: pdu.to_owned(),
    })
}

/// Vendor names for SIM and modem memory: SIMCom lists `SM_P` and `ME_P`
/// ("SM preferred", "ME preferred": SIM800 AT Command Manual V1.09, the
/// `AT+CPMS` entry) beside `SM` and `ME`; reading them is reading SM and ME.
fn normalise_memory(memory: &str) -> &str {
    match memory {
        "SM_P" => "SM",
        "ME_P" => "ME",
        other => other,
    }
}

/// The read/delete memories `AT+CPMS=?` offers, from its first list:
/// `+CPMS: ("SM","ME","SR"),("SM","ME"),("SM","ME")`. Without parentheses
/// (`+CPMS: "SM","ME"`) every name counts. Empty when the answer has none.
pub fn parse_cpms_test(lines: &[String]) -> Vec<String> {
    let Some(rest) = lines.iter().find_map(|l| l.strip_prefix("+CPMS:")) else {
        return Vec::new();
    };
    let rest = rest.trim();
    let first = match rest.strip_prefix('(') {
        Some(list) => list.split(')').next().unwrap_or(""),
        None => rest,
    };
    let mut out: Vec<String> = Vec::new();
    for m in first.split(',').map(|m| m.trim().trim_matches('"')) {
        let m = normalise_memory(m);
        if !m.is_empty() && !out.iter().any(|o| o == m) {
            out.push(m.to_owned());
        }
    }
    out
}

/// `+CPMS: <used1>,<total1>,...` (the answer to `AT+CPMS="X"`) → how many
/// messages the memory holds and how many it can.
pub fn parse_cpms_set(lines: &[String]) -> (Option<u32>, Option<u32>) {
    let Some(rest) = lines.iter().find_map(|l| l.strip_prefix("+CPMS:")) else {
        return (None, None);
    };
    let mut fields = rest.split(',').map(|f| f.trim().parse::<u32>().ok());
    (fields.next().flatten(), fields.next().flatten())
}

/// The memory in use from `+CPMS: "<mem1>",<used1>,<total1>,...` (the
/// answer to `AT+CPMS?`).
pub fn parse_cpms_current(lines: &[String]) -> Option<String> {
    let rest = lines.iter().find_map(|l| l.strip_prefix("+CPMS:"))?;
    let memory = rest.split(',').next()?.trim().trim_matches('"');
    (!memory.is_empty()).then(|| normalise_memory(memory).to_owned())
}

/// Every `"<mem>",<used>,<total>` of `+CPMS: "<mem1>",<used1>,<total1>,
/// "<mem2>",...,"<mem3>",<used3>,<total3>` (the answer to `AT+CPMS?`), in
/// order: the last is `<mem3>`, where the modem stores new messages.
pub fn parse_cpms_query(lines: &[String]) -> Vec<(String, u32, u32)> {
    let Some(rest) = lines.iter().find_map(|l| l.strip_prefix("+CPMS:")) else {
        return Vec::new();
    };
    let fields: Vec<&str> = rest.split(',').map(str::trim).collect();
    fields
        .chunks(3)
        .filter_map(|c| match c {
            [m, used, total] => Some((
                normalise_memory(m.trim_matches('"')).to_owned(),
                used.parse().ok()?,
                total.parse().ok()?,
            )),
            _ => None,
        })
        .collect()
}

/// Which memories to read so that both SIM and modem storage (and stored
/// status reports) are emptied: `MT` is SIM + modem where offered.
pub fn memories_to_read(offered: &[String]) -> Vec<String> {
    let has = |m: &str| offered.iter().any(|o| o == m);
    let mut out: Vec<String> = if has("MT") {
        vec!["MT".into()]
    } else {
        ["SM", "ME"]
            .iter()
            .filter(|m| has(m))
            .map(|m| (*m).to_owned())
            .collect()
    };
    if has("SR") {
        out.push("SR".into());
    }
    if out.is_empty() {
        out.push("SM".into());
    }
    out
}

/// `+CSMS: <mt>,<mo>,<bm>` (the answer to `AT+CSMS=<service>`): whether
/// mobile-terminated messages are supported with that service; `None`
/// without the line.
pub fn parse_csms(lines: &[String]) -> Option<bool> {
    let rest = lines.iter().find_map(|l| l.strip_prefix("+CSMS:"))?;
    Some(rest.split(',').next()?.trim() == "1")
}

/// When a slot count is unknown, how many slots `AT+CMGR` tries.
const SCAN_SLOTS: u32 = 50;

impl Modem {
    /// Asks for new-message indications (`+CMTI`, status reports stored
    /// with `+CDSI`) and finds the memories to read. Modems that refuse an
    /// indication setting are still read on every pass. When `AT+CPMS=?`
    /// lists nothing (empty, or refused with `+CMS ERROR: 302/303`), the
    /// memory in use (`AT+CPMS?`), `SM` and `ME` are tried one by one. A
    /// modem with no usable memory at all (LTE-M/NB-IoT modules) is asked
    /// to push each message as `+CMT` instead ([`Modem::setup_direct`]);
    /// the list is then empty.
    pub fn setup_receiving(&mut self) -> Vec<String> {
        self.indications = None;
        self.direct = None;
        self.ack = Ack::Try;
        self.ack_form = None;
        for cnmi in [
            "AT+CNMI=2,1,0,2,0",
            "AT+CNMI=1,1,0,2,0",
            "AT+CNMI=2,1,0,1,0",
        ] {
            if self.command(cnmi).is_ok() {
                self.indications = Some(cnmi);
                break;
            }
        }
        let memories = self.find_memories();
        if memories.is_empty() {
            if self.setup_direct() {
                return Vec::new();
            }
            self.note_unreadable(
                "SM",
                "the modem lists no message memory, refuses AT+CPMS for SM and ME, and \
                 refuses direct delivery (AT+CNMI with <mt>=2)"
                    .into(),
            );
            return memories_to_read(&[]);
        }
        if self.indications.is_none() {
            log::warn!("the modem refuses AT+CNMI: new messages are noticed at the next poll only");
        }
        memories
    }

    /// The memories to read, from `AT+CPMS=?` or tried one by one; empty
    /// when the modem has none it will select.
    fn find_memories(&mut self) -> Vec<String> {
        let offered = match self.busy_retry("AT+CPMS=?") {
            Ok(lines) => parse_cpms_test(&lines),
            Err(e) => {
                log::info!("modem {}: {e}; trying the memories one by one", self.device);
                Vec::new()
            }
        };
        if !offered.is_empty() {
            return memories_to_read(&offered);
        }
        let mut candidates: Vec<String> = self
            .command("AT+CPMS?")
            .ok()
            .and_then(|l| parse_cpms_current(&l))
            .into_iter()
            .collect();
        for m in ["SM", "ME"] {
            if !candidates.iter().any(|c| c == m) {
                candidates.push(m.to_owned());
            }
        }
        let usable: Vec<String> = candidates
            .into_iter()
            .filter(|m| self.command(&format!("AT+CPMS=\"{m}\"")).is_ok())
            .collect();
        if usable.is_empty() {
            return Vec::new();
        }
        memories_to_read(&usable)
    }

    /// A modem with no SMS storage: each message is pushed as `+CMT:
    /// [<alpha>],<length>` and its PDU line (`AT+CNMI=...,2,...`, TS 27.005
    /// §3.4.1), status reports as `+CDS:`. `AT+CSMS=1` first (phase 2+,
    /// §3.2.1): the modem then waits for smss's `AT+CNMA` after each one, and
    /// smss gives it only once the message is committed; without it the
    /// modem acknowledges to the network before smss has stored anything.
    /// False when the modem refuses every direct-delivery setting.
    fn setup_direct(&mut self) -> bool {
        let ack = match self.command("AT+CSMS=1") {
            Ok(lines) if parse_csms(&lines) != Some(false) => Ack::Required,
            Ok(_) | Err(_) => {
                log::warn!(
                    "modem {}: AT+CSMS=1 (phase 2+) refused: the modem acknowledges the messages \
                     it pushes itself, so one that arrives while smss cannot store it is lost",
                    self.device
                );
                Ack::Try
            }
        };
        for cnmi in [
            "AT+CNMI=2,2,0,1,0",
            "AT+CNMI=3,2,0,1,0",
            "AT+CNMI=1,2,0,1,0",
            "AT+CNMI=2,2,0,0,0",
        ] {
            if self.command(cnmi).is_ok() {
                log::info!(
                    "modem {}: no SMS storage; messages are delivered directly ({cnmi}){}",
                    self.device,
                    if ack == Ack::Required {
                        ", each acknowledged (AT+CNMA) once stored"
                    } else {
                        ""
                    }
                );
                self.indications = Some(cnmi);
                self.direct = Some(cnmi);
                self.ack = ack;
                return true;
            }
        }
        false
    }

    /// Whether messages come as `+CMT` (no storage) rather than from memories.
    pub fn direct_delivery(&self) -> bool {
        self.direct.is_some()
    }

    /// Whether the modem waits for `AT+CNMA` after each pushed message.
    pub fn ack_required(&self) -> bool {
        self.ack == Ack::Required
    }

    /// What smss reads received messages from, for the log: the memories,
    /// or direct delivery.
    pub fn receiving(&self, memories: &[String]) -> String {
        match self.direct {
            Some(_) => "direct deliveries (+CMT)".into(),
            None => memories.join(", "),
        }
    }

    /// Direct delivery: asks for it again (a modem switches it off when an
    /// acknowledgement did not come in time, TS 27.005 §3.4.4: after a
    /// message smss could not store, say). Nothing for a modem with memories.
    pub fn keep_routing(&mut self) -> Result<(), AtError> {
        let Some(cnmi) = self.direct else {
            return Ok(());
        };
        match self.command(cnmi) {
            Err(e) if e.is_lost() => Err(e),
            Err(e) => {
                log::warn!("modem {}: {e} (direct delivery asked again)", self.device);
                Ok(())
            }
            Ok(_) => Ok(()),
        }
    }

    /// Acknowledges the message the modem pushed last (`AT+CNMA`, or
    /// `AT+CNMA=1` where the modem wants the PDU-mode form), after it was
    /// committed. A modem that expects none says so (`+CMS ERROR: 340`, or
    /// refuses the command) and is not asked again, unless `AT+CSMS=1` was
    /// selected: then the error is returned (the network sends the message
    /// again; the store recognises it).
    pub fn acknowledge(&mut self) -> Result<(), AtError> {
        if self.ack == Ack::No {
            return Ok(());
        }
        let forms: Vec<&'static str> = match self.ack_form {
            Some(form) => vec![form],
            None => vec!["AT+CNMA", "AT+CNMA=1"],
        };
        let mut refused = None;
        for form in forms {
            match self.command(form) {
                Ok(_) => {
                    self.ack_form = Some(form);
                    return Ok(());
                }
                Err(e) if e.is_lost() => return Err(e),
                Err(e @ AtError::Cms { code: 340, .. }) => {
                    refused = Some(e);
                    break;
                }
                Err(e) => refused = Some(e),
            }
        }
        let e = refused.unwrap_or_else(|| unreachable!());
        if self.ack == Ack::Try {
            log::debug!("modem {}: {e}: it acknowledges by itself", self.device);
            self.ack = Ack::No;
            return Ok(());
        }
        Err(e)
    }

    /// The memories a pass reads: `memories` (from init) and those a
    /// `+CMTI`/`+CDSI` named since (messages arriving in `ME` while only
    /// `SM` was read; `MT` covers both).
    pub fn memories_to_list(&self, memories: &[String]) -> Vec<String> {
        let mut out = memories.to_vec();
        let mt = memories.iter().any(|m| m == "MT");
        for m in &self.announced {
            if !out.contains(m) && !(mt && (m == "SM" || m == "ME")) {
                out.push(m.clone());
            }
        }
        out
    }

    /// Lists every message in `memory` (`AT+CPMS`, then `AT+CMGL=4`; slot
    /// by slot with `AT+CMGR` where `AT+CMGL` hangs or fails, as on some
    /// phones). Deleting then refers to this memory until the next listing.
    pub fn list_memory(&mut self, memory: &str) -> Result<Vec<StoredPdu>, AtError> {
        self.listed = None;
        self.usage.remove(memory);
        self.receiving.remove(memory);
        let (used, total) = parse_cpms_set(&self.command(&format!("AT+CPMS=\"{memory}\""))?);
        if let (Some(used), Some(total)) = (used, total) {
            // readable once the listing below succeeds
            self.usage.insert(
                memory.to_owned(),
                SimMemory {
                    memory: memory.to_owned(),
                    used,
                    total,
                    stored: 0,
                    readable: false,
                },
            );
        }
        let listed = self.list_selected(memory, used, total)?;
        if let Some(usage) = self.usage.get_mut(memory) {
            usage.readable = true;
            usage.stored = listed.iter().filter(|p| p.stat >= 2).count() as u32;
        }
        self.listed = Some((
            memory.to_owned(),
            listed.iter().map(|p| (p.index, p.stat)).collect(),
        ));
        Ok(listed)
    }

    /// The listing of `memory`, selected already (`used` and `total` as
    /// its `AT+CPMS` said).
    fn list_selected(
        &mut self,
        memory: &str,
        used: Option<u32>,
        total: Option<u32>,
    ) -> Result<Vec<StoredPdu>, AtError> {
        if !self.cmgl_hangs && !self.cmgr_only.contains(memory) {
            match self.command("AT+CMGL=4") {
                Ok(lines) => return Ok(parse_cmgl(&lines)),
                Err(e @ AtError::Io(_)) => return Err(e),
                Err(e) => {
                    log::warn!(
                        "modem {}: {e}; reading {memory} message by message (AT+CMGR) instead",
                        self.device
                    );
                    if let AtError::Timeout { .. } = e {
                        self.resync()?;
                        // The listing may have changed the selected memory's state.
                        self.command(&format!("AT+CPMS=\"{memory}\""))?;
                        self.cmgl_hangs = true;
                    }
                    self.cmgr_only.insert(memory.to_owned());
                }
            }
        }
        self.read_each(used, total)
    }

    /// `AT+CMGR` for each slot, from 0 (some modems count from 0), until
    /// `used` messages are found or the `total` slots are read.
    fn read_each(
        &mut self,
        used: Option<u32>,
        total: Option<u32>,
    ) -> Result<Vec<StoredPdu>, AtError> {
        let mut found = Vec::new();
        for index in 0..=total.unwrap_or(SCAN_SLOTS) {
            if used.is_some_and(|u| found.len() >= u as usize) {
                break;
            }
            match self.command(&format!("AT+CMGR={index}")) {
                Ok(lines) => found.extend(parse_cmgr(index, &lines)),
                Err(e) if e.is_lost() => return Err(e),
                // an empty or missing slot: +CMS ERROR: 321 and the like
                Err(_) => {}
            }
        }
        Ok(found)
    }

    /// A memory that cannot be read: logged once, shown in health.
    pub fn note_unreadable(&mut self, memory: &str, why: String) {
        if self.unreadable.get(memory) != Some(&why) {
            log::warn!(
                "modem {}: memory {memory} cannot be read ({why}); messages there stay on the modem",
                self.device
            );
            self.unreadable.insert(memory.to_owned(), why);
        }
    }

    /// A memory was read: whatever was noted against it no longer holds.
    pub fn note_readable(&mut self, memory: &str) {
        if self.unreadable.remove(memory).is_some() {
            log::info!("modem {}: memory {memory} can be read again", self.device);
        }
    }

    /// What health shows of the memories that cannot be read.
    pub fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .unreadable
            .iter()
            .map(|(memory, why)| format!("memory {memory} cannot be read: {why}"))
            .collect();
        if self.direct.is_some() && self.ack != Ack::Required {
            out.push(
                "messages are pushed (no SMS storage) and the modem acknowledges them itself \
                 (AT+CSMS=1 refused): one that arrives while smss cannot store it is lost"
                    .into(),
            );
        }
        out
    }

    /// Deletes slot `index` of the memory listed last.
    pub fn delete(&mut self, index: u32) -> Result<(), AtError> {
        self.command(&format!("AT+CMGD={index}"))?;
        if let Some((memory, stats)) = &mut self.listed
            && let Some(stat) = stats.remove(&index)
            && let Some(usage) = self.usage.get_mut(memory.as_str())
        {
            usage.used = usage.used.saturating_sub(1);
            if stat >= 2 {
                usage.stored = usage.stored.saturating_sub(1);
            }
        }
        Ok(())
    }

    /// After a read pass: the memory new messages go to (`<mem3>` of
    /// `AT+CPMS?`) when it is not one read directly, so that its being
    /// full is seen: an `SM` inside the `MT` that is read (SIM800, EC25...)
    /// may be full while `MT` is not. Its stored sent/unsent messages are
    /// in the `MT` listing: all of them are when `MT` holds nothing else.
    pub fn note_receiving_memory(&mut self) -> Result<(), AtError> {
        let lines = match self.command("AT+CPMS?") {
            Ok(lines) => lines,
            Err(e) if e.is_lost() => return Err(e),
            Err(e) => {
                log::debug!(
                    "modem {}: {e}; where new messages go stays unknown",
                    self.device
                );
                return Ok(());
            }
        };
        let Some((memory, used, total)) = parse_cpms_query(&lines).pop() else {
            return Ok(());
        };
        if self.usage.contains_key(&memory) && !self.receiving.contains(&memory) {
            // read directly: counted by its own listing
            return Ok(());
        }
        let within_mt = (memory == "SM" || memory == "ME")
            .then(|| self.usage.get("MT"))
            .flatten();
        let (stored, readable) = match within_mt {
            Some(mt) if mt.stored >= mt.used => (used, mt.readable),
            Some(mt) => (used.min(mt.stored), mt.readable),
            // a memory smss does not read at all
            None => (0, false),
        };
        self.receiving.insert(memory.clone());
        self.usage.insert(
            memory.clone(),
            SimMemory {
                memory,
                used,
                total,
                stored,
                readable,
            },
        );
        Ok(())
    }

    /// What each memory holds, as the last pass left it.
    pub fn memory_usage(&self) -> Vec<SimMemory> {
        self.usage.values().cloned().collect()
    }

    /// Lines already read but not handed over (see [`at::At::has_pending`]).
    pub fn has_pending(&self) -> bool {
        self.at.has_pending()
    }

    /// Reads what the modem sent unasked (URCs) for up to `wait`.
    pub fn poll_unsolicited(&mut self, wait: Duration) -> Result<(), AtError> {
        self.at.poll_unsolicited(wait).map(|_| ())
    }

    /// Reads what the modem sent unasked (URCs) for up to `wait`, returning
    /// as soon as a whole unsolicited line is in (true then). At least one
    /// read is tried.
    pub fn wait_unsolicited(&mut self, wait: Duration) -> Result<bool, AtError> {
        self.at.wait_unsolicited(wait)
    }

    /// Starts the [`Watch`] of this port: `notify` is called when the modem
    /// has something to read while the watch is armed. A port that cannot
    /// be watched (no second handle) is reported, and the caller reads it
    /// in slices instead.
    pub fn start_watch(&mut self, notify: impl Fn() + Send + 'static) -> std::io::Result<()> {
        let port = self.watch_port.take().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::Unsupported, "not a serial port")
        })?;
        self.watch = Some(Watch::start(port, notify)?);
        Ok(())
    }

    /// Arms the watch (see [`Watch::arm`]); false when there is none.
    pub fn arm_watch(&self) -> bool {
        self.watch.as_ref().is_some_and(|w| {
            w.arm();
            true
        })
    }

    pub fn disarm_watch(&self) {
        if let Some(w) = &self.watch {
            w.disarm();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &[&str]) -> Vec<String> {
        s.iter().map(|l| (*l).to_owned()).collect()
    }

    #[test]
    fn cmgl_listing() {
        // A TC35i listing in PDU mode (two messages, the second read already)
        let l = lines(&[
            "+CMGL: 1,0,,24",
            "07912470000000F0040B912460387327F600006211031020304005C8329BFD06",
            "+CMGL: 4,1,,22",
            "0791247000000000F0060B912460387327F6621103102030406211031020304000",
        ]);
        let got = parse_cmgl(&l);
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].index, got[0].stat), (1, 0));
        assert_eq!((got[1].index, got[1].stat), (4, 1));
        assert!(got[1].pdu.starts_with("0791"));
        assert!(parse_cmgl(&[]).is_empty());
        // a header without its PDU line is skipped, not misread
        assert!(parse_cmgl(&lines(&["+CMGL: 1,0,,24", "+CMGL: 2,0,,24"])).is_empty());
    }

    #[test]
    fn a_lost_prompt_costs_one_command_timeout_not_the_send_timeout() {
        let sim = crate::sim::PtySim::start().unwrap();
        let command_timeout = Duration::from_millis(500);
        let send_timeout = Duration::from_secs(30);
        let mut modem = Modem::open(sim.path.to_str().unwrap(), 115_200, command_timeout).unwrap();
        modem.init(None, None).unwrap();
        let opts = crate::gsm::SubmitOptions::default();
        let part = &crate::gsm::encode_submit("+420608337726", "hung", &opts).unwrap()[0];
        // no answer at all to AT+CMGS=<n>: no prompt
        sim.handle.state().hang_at_part = Some(0);
        let t = std::time::Instant::now();
        let e = modem.send_part(part, send_timeout).unwrap_err();
        eprintln!("lost prompt: timed out after {:?}", t.elapsed());
        assert!(matches!(e, AtError::Timeout { .. }), "{e:?}");
        // a failure bound only: the send timeout would be 30 s
        assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
        // the modem is usable at once, and the part goes out
        assert_eq!(modem.command("AT").unwrap(), Vec::<String>::new());
        modem.send_part(part, send_timeout).unwrap();
        assert_eq!(sim.handle.wait_for_sent(1, send_timeout)[0].text, "hung");
    }

    #[test]
    fn cpms_memories() {
        let offered = parse_cpms_test(&lines(&[
            "+CPMS: (\"SM\",\"ME\",\"SR\"),(\"SM\",\"ME\"),(\"SM\",\"ME\")",
        ]));
        assert_eq!(offered, vec!["SM", "ME", "SR"]);
        assert_eq!(memories_to_read(&offered), vec!["SM", "ME", "SR"]);
        let mt = parse_cpms_test(&lines(&[
            "+CPMS: (\"MT\",\"SM\",\"ME\"),(\"MT\",\"SM\",\"ME\"),(\"MT\")",
        ]));
        assert_eq!(memories_to_read(&mt), vec!["MT"]);
        assert_eq!(memories_to_read(&[]), vec!["SM"]);
    }
}

// ------------------------------------------------------------------ health

/// Network registration, the `<stat>` of `+CREG:` (3GPP TS 27.007 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    NotRegistered,
    Home,
    Searching,
    Denied,
    Unknown,
    Roaming,
}

impl Registration {
    fn from_stat(stat: u8) -> Option<Registration> {
        Some(match stat {
            0 => Registration::NotRegistered,
            1 => Registration::Home,
            2 => Registration::Searching,
            3 => Registration::Denied,
            4 => Registration::Unknown,
            5 => Registration::Roaming,
            _ => return None,
        })
    }

    /// As stored in `modem.registration`.
    pub fn as_str(self) -> &'static str {
        match self {
            Registration::NotRegistered => "not registered",
            Registration::Home => "home",
            Registration::Searching => "searching",
            Registration::Denied => "denied",
            Registration::Unknown => "unknown",
            Registration::Roaming => "roaming",
        }
    }

    /// Registered, at home or roaming: SMS can go out.
    pub fn is_registered(self) -> bool {
        matches!(self, Registration::Home | Registration::Roaming)
    }
}

/// What a health check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    pub manufacturer: String,
    pub model: String,
    /// `AT+CSQ` signal, 0..31, or 99 (not known to the modem).
    pub rssi: Option<u8>,
    pub registration: Option<Registration>,
    pub operator: Option<String>,
    /// Commands answered with an error, in words.
    pub errors: Vec<String>,
    /// What works only in part (a memory that cannot be read): shown, but
    /// the modem still sends.
    pub warnings: Vec<String>,
    /// What the message memories hold (see [`Modem::memory_usage`]).
    pub memories: Vec<SimMemory>,
}

impl Health {
    /// Why the modem cannot send, or `None` when it can.
    pub fn problem(&self) -> Option<String> {
        let mut problems = self.errors.clone();
        match self.registration {
            Some(r) if r.is_registered() => {}
            Some(r) => problems.push(format!("not registered on the network ({})", r.as_str())),
            None if self.errors.is_empty() => {
                problems.push("no answer to AT+CREG? (registration unknown)".into())
            }
            None => {}
        }
        (!problems.is_empty()).then(|| problems.join("; "))
    }
}

/// `+CSQ: <rssi>,<ber>` → rssi (0..31, or 99 for unknown).
pub fn parse_csq(lines: &[String]) -> Option<u8> {
    let rest = lines.iter().rev().find_map(|l| l.strip_prefix("+CSQ:"))?;
    let rssi: u8 = rest.split(',').next()?.trim().parse().ok()?;
    (rssi <= 31 || rssi == 99).then_some(rssi)
}

/// The signal in dBm for an rssi of 0..31 (0: -113 or less, 31: -51 or more).
pub fn rssi_dbm(rssi: u8) -> Option<i32> {
    (rssi <= 31).then(|| -113 + 2 * i32::from(rssi))
}

/// `+CREG: <n>,<stat>[,<lac>,<ci>]` (the answer to `AT+CREG?`), or the
/// unsolicited `+CREG: <stat>[,<lac>,<ci>]` should one arrive meanwhile;
/// the last line counts.
pub fn parse_creg(lines: &[String]) -> Option<Registration> {
    let rest = lines.iter().rev().find_map(|l| l.strip_prefix("+CREG:"))?;
    let fields: Vec<&str> = rest.split(',').map(str::trim).collect();
    let stat = match fields.as_slice() {
        [stat] => stat,
        [_, second, ..] if second.starts_with('"') => fields[0],
        [_, stat, ..] => stat,
        [] => return None,
    };
    Registration::from_stat(stat.parse().ok()?)
}

/// `+COPS: <mode>[,<format>,"<operator>"[,<AcT>]]` → the operator, `None`
/// when the modem names none (not registered).
pub fn parse_cops(lines: &[String]) -> Option<String> {
    let rest = lines.iter().rev().find_map(|l| l.strip_prefix("+COPS:"))?;
    let (_, after_mode) = rest.split_once(',')?;
    let (_, oper) = after_mode.split_once(',')?;
    let oper = oper.trim();
    let name = match oper.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next().unwrap_or(""),
        None => oper.split(',').next().unwrap_or(""),
    }
    .trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// An error answer with its code in words: `AT+CREG?: +CME ERROR: 10 (SIM not inserted)`.
fn in_words(e: &AtError) -> String {
    let words = match e {
        AtError::Cme { code, .. } => format!(" ({})", errors::cme_reason(*code)),
        AtError::Cms { code, .. } => format!(" ({})", errors::cms_reason(*code)),
        _ => String::new(),
    };
    format!("{e}{words}")
}

/// Runs the health queries through `run` (a command → its answer lines):
/// signal, registration, operator; manufacturer and model are the ones the
/// init sequence asked (`info`: they do not change until the next init). A
/// command answered with an error is noted in `errors`; a timeout or a port
/// failure ends the check with that error (the modem is gone).
pub fn check_health(
    info: &ModemInfo,
    mut run: impl FnMut(&str) -> Result<Vec<String>, AtError>,
) -> Result<Health, AtError> {
    let mut health = Health {
        manufacturer: info.manufacturer.clone(),
        model: info.model.clone(),
        ..Health::default()
    };
    let mut ask = |command: &str, health: &mut Health| match run(command) {
        Ok(lines) => Ok(Some(lines)),
        Err(e) if e.is_lost() => Err(e),
        Err(e) => {
            health.errors.push(in_words(&e));
            Ok(None)
        }
    };
    health.rssi = ask("AT+CSQ", &mut health)?.and_then(|l| parse_csq(&l));
    health.registration = ask("AT+CREG?", &mut health)?.and_then(|l| parse_creg(&l));
    health.operator = ask("AT+COPS?", &mut health)?.and_then(|l| parse_cops(&l));
    Ok(health)
}

impl Modem {
    /// Signal (`AT+CSQ`), registration (`AT+CREG?`) and operator
    /// (`AT+COPS?`), with the model found at init, for the `modem` table.
    /// `Err` only when the modem does not answer at all.
    pub fn health(&mut self) -> Result<Health, AtError> {
        let (at, t) = (&mut self.at, self.command_timeout);
        let mut health = check_health(&self.info, |command| at.command(command, t))?;
        health.warnings = self.warnings();
        health.memories = self.memory_usage();
        Ok(health)
    }
}

#[cfg(test)]
mod health_tests {
    use super::at::script::Script;
    use super::*;

    /// The answer a literal modem transcript (after the command) gives,
    /// read by the real AT layer.
    fn answer(command: &str, transcript: &str) -> Result<Vec<String>, AtError> {
        let written = format!("{command}\r");
        let mut at = Script::at("", &[(&written, transcript)]);
        at.command(command, Duration::from_millis(100))
    }

    /// The answer lines of the query whose prefix the transcript shows
    /// (`+CSQ: ...` answers `AT+CSQ`).
    fn lines(transcript: &str) -> Vec<String> {
        let name = transcript
            .split_once('+')
            .and_then(|(_, r)| r.split_once(':'))
            .map_or("", |(name, _)| name);
        answer(&format!("AT+{name}?"), transcript).unwrap()
    }

    #[test]
    fn csq() {
        assert_eq!(parse_csq(&lines("\r\n+CSQ: 21,99\r\n\r\nOK\r\n")), Some(21));
        assert_eq!(parse_csq(&lines("\r\n+CSQ: 99,99\r\n\r\nOK\r\n")), Some(99));
        assert_eq!(parse_csq(&lines("\r\n+CSQ: 0,0\r\n\r\nOK\r\n")), Some(0));
        assert_eq!(parse_csq(&lines("\r\n+CSQ: 45,0\r\n\r\nOK\r\n")), None);
        assert_eq!(parse_csq(&lines("\r\nOK\r\n")), None);
        assert_eq!(rssi_dbm(21), Some(-71));
        assert_eq!(rssi_dbm(31), Some(-51));
        assert_eq!(rssi_dbm(99), None);
    }

    #[test]
    fn creg() {
        use Registration::*;
        let creg = |t: &str| parse_creg(&lines(t));
        assert_eq!(creg("\r\n+CREG: 0,1\r\n\r\nOK\r\n"), Some(Home));
        assert_eq!(creg("\r\n+CREG: 0,5\r\n\r\nOK\r\n"), Some(Roaming));
        assert_eq!(
            creg("\r\n+CREG: 2,1,\"1A2B\",\"00C3\"\r\n\r\nOK\r\n"),
            Some(Home)
        );
        assert_eq!(creg("\r\n+CREG: 0,2\r\n\r\nOK\r\n"), Some(Searching));
        assert_eq!(creg("\r\n+CREG: 0,3\r\n\r\nOK\r\n"), Some(Denied));
        assert_eq!(creg("\r\n+CREG: 0,0\r\n\r\nOK\r\n"), Some(NotRegistered));
        // an unsolicited +CREG: <stat>,<lac>,<ci> before the answer; the answer counts
        assert_eq!(
            creg("\r\n+CREG: 2,\"1A2B\",\"00C3\"\r\n+CREG: 2,5,\"1A2B\",\"00C3\"\r\n\r\nOK\r\n"),
            Some(Roaming)
        );
        assert_eq!(creg("\r\n+CREG: 1\r\n\r\nOK\r\n"), Some(Home));
        assert_eq!(creg("\r\n+CREG: 0,7\r\n\r\nOK\r\n"), None);
        assert_eq!(creg("\r\nOK\r\n"), None);
    }

    #[test]
    fn cops() {
        let cops = |t: &str| parse_cops(&lines(t));
        assert_eq!(
            cops("\r\n+COPS: 0,0,\"T-Mobile CZ\"\r\n\r\nOK\r\n").as_deref(),
            Some("T-Mobile CZ")
        );
        assert_eq!(
            cops("\r\n+COPS: 0,0,\"O2 - CZ\",2\r\n\r\nOK\r\n").as_deref(),
            Some("O2 - CZ")
        );
        assert_eq!(
            cops("\r\n+COPS: 0,2,23001\r\n\r\nOK\r\n").as_deref(),
            Some("23001")
        );
        assert_eq!(cops("\r\n+COPS: 0\r\n\r\nOK\r\n"), None);
        assert_eq!(cops("\r\n+COPS: 0,0,\"\"\r\n\r\nOK\r\n"), None);
    }

    /// A TC35i-like modem; `overrides` replace the answer to some commands.
    fn modem<'a>(
        overrides: &'a [(&'a str, &'a str)],
    ) -> impl FnMut(&str) -> Result<Vec<String>, AtError> + 'a {
        move |command| {
            let transcript = overrides
                .iter()
                .find(|(c, _)| *c == command)
                .map(|(_, t)| *t)
                .unwrap_or(match command {
                    "AT+CGMI" => "\r\nSIEMENS\r\n\r\nOK\r\n",
                    "AT+CGMM" => "\r\nTC35i\r\n\r\nOK\r\n",
                    "AT+CSQ" => "\r\n+CSQ: 18,99\r\n\r\nOK\r\n",
                    "AT+CREG?" => "\r\n+CREG: 0,1\r\n\r\nOK\r\n",
                    "AT+COPS?" => "\r\n+COPS: 0,0,\"Vodafone CZ\"\r\n\r\nOK\r\n",
                    _ => "\r\nERROR\r\n",
                });
            answer(command, transcript)
        }
    }

    fn tc35i() -> ModemInfo {
        ModemInfo {
            manufacturer: "SIEMENS".into(),
            model: "TC35i".into(),
        }
    }

    #[test]
    fn the_identity_is_the_one_init_found_and_not_asked_again() {
        let mut asked = Vec::new();
        let mut tc35i_modem = modem(&[]);
        let h = check_health(&tc35i(), |command| {
            asked.push(command.to_owned());
            tc35i_modem(command)
        })
        .unwrap();
        assert_eq!(
            (h.manufacturer.as_str(), h.model.as_str()),
            ("SIEMENS", "TC35i")
        );
        assert_eq!(asked, ["AT+CSQ", "AT+CREG?", "AT+COPS?"]);
    }

    #[test]
    fn healthy_modem() {
        let h = check_health(&tc35i(), modem(&[])).unwrap();
        assert_eq!(
            h,
            Health {
                manufacturer: "SIEMENS".into(),
                model: "TC35i".into(),
                rssi: Some(18),
                registration: Some(Registration::Home),
                operator: Some("Vodafone CZ".into()),
                errors: vec![],
                warnings: vec![],
                memories: vec![],
            }
        );
        assert_eq!(h.problem(), None);
    }

    #[test]
    fn error_answers_are_problems_not_failures() {
        // no SIM: the network commands fail with +CME ERROR: 10
        let h = check_health(
            &tc35i(),
            modem(&[
                ("AT+CSQ", "\r\n+CSQ: 99,99\r\n\r\nOK\r\n"),
                ("AT+CREG?", "\r\n+CME ERROR: 10\r\n"),
                ("AT+COPS?", "\r\n+CME ERROR: 10\r\n"),
            ]),
        )
        .unwrap();
        assert_eq!(h.rssi, Some(99));
        assert_eq!((h.registration, h.operator.as_deref()), (None, None));
        assert_eq!(
            h.problem().unwrap(),
            "AT+CREG?: +CME ERROR: 10 (SIM not inserted); AT+COPS?: +CME ERROR: 10 (SIM not inserted)"
        );

        // searching for a network, and a modem that had no answer to
        // AT+CGMM at init
        let info = ModemInfo {
            model: String::new(),
            ..tc35i()
        };
        let h = check_health(
            &info,
            modem(&[
                ("AT+CREG?", "\r\n+CREG: 0,2\r\n\r\nOK\r\n"),
                ("AT+COPS?", "\r\n+COPS: 0\r\n\r\nOK\r\n"),
            ]),
        )
        .unwrap();
        assert_eq!(h.model, "");
        assert_eq!(h.operator, None);
        assert_eq!(
            h.problem().unwrap(),
            "not registered on the network (searching)"
        );
    }

    #[test]
    fn a_silent_modem_ends_the_check() {
        let e = check_health(&tc35i(), modem(&[("AT+CSQ", "")])).unwrap_err();
        assert!(matches!(e, AtError::Timeout { .. }), "{e:?}");
    }
}

/// The quirks of real modems (issue 13), each on a literal transcript.
#[cfg(test)]
mod quirk_tests {
    use super::at::script::Script;
    use super::*;

    fn lines(s: &[&str]) -> Vec<String> {
        s.iter().map(|l| (*l).to_owned()).collect()
    }

    /// A modem on a scripted port; short timeouts, so that a command the
    /// script leaves unanswered times out at once.
    fn scripted(boot: &str, steps: &[(&str, &str)]) -> Modem {
        let mut m = Modem::on_port(
            Box::new(Script::new(boot, steps)),
            "test",
            Duration::from_millis(300),
        );
        m.sim_retry = Duration::from_millis(10);
        m
    }

    const OK: &str = "\r\nOK\r\n";

    /// The init sequence after the first `AT`, answered plainly.
    fn rest_of_init(cpin: &str) -> Vec<(&str, &str)> {
        vec![
            ("ATE0\r", OK),
            ("AT+CMEE=1\r", OK),
            ("AT+CPIN?\r", cpin),
            ("AT+CMGF=0\r", OK),
            ("AT+CGMI\r", "\r\nQuectel\r\n\r\nOK\r\n"),
            ("AT+CGMM\r", "\r\nEC25\r\n\r\nOK\r\n"),
        ]
    }

    fn ec25() -> ModemInfo {
        ModemInfo {
            manufacturer: "Quectel".into(),
            model: "EC25".into(),
        }
    }

    #[test]
    fn identity_answers_as_a_person_reads_them() {
        let id = |l: &[&str], prefix, label| parse_identity(&lines(l), prefix, label);
        assert_eq!(id(&["SIEMENS"], "+CGMI:", "Manufacturer"), "SIEMENS");
        assert_eq!(
            id(
                &["+CGMI: \"Motorola CE, Copyright 2000\""],
                "+CGMI:",
                "Manufacturer"
            ),
            "Motorola CE"
        );
        assert_eq!(
            id(
                &["+CGMM: \"GSM900\",\"GSM1800\",\"GSM1900\",\"GSM850\",\"MODEL=V3\""],
                "+CGMM:",
                "Model"
            ),
            "V3"
        );
        assert_eq!(
            id(&["+CGMI: WAVECOM MODEM"], "+CGMI:", "Manufacturer"),
            "WAVECOM MODEM"
        );
        assert_eq!(
            id(
                &["Manufacturer: SIMCOM INCORPORATED"],
                "+CGMI:",
                "Manufacturer"
            ),
            "SIMCOM INCORPORATED"
        );
        assert_eq!(id(&["+CGMM: \"E173\""], "+CGMM:", "Model"), "E173");
        assert_eq!(id(&[], "+CGMM:", "Model"), "");
        // ATI, labelled (SIMCom) and not (Quectel)
        assert_eq!(
            parse_ati(&lines(&[
                "Manufacturer: SIMCOM INCORPORATED",
                "Model: SIMCOM_SIM7600E-H",
                "Revision: SIM7600M22_V2.0",
                "IMEI: 868822040061788",
                "+GCAP: +CGSM"
            ])),
            ("SIMCOM INCORPORATED".into(), "SIMCOM_SIM7600E-H".into())
        );
        assert_eq!(
            parse_ati(&lines(&["Quectel", "EC25", "Revision: EC25EFAR06A06M4G"])),
            ("Quectel".into(), "EC25".into())
        );
    }

    #[test]
    fn identity_falls_back_to_ati() {
        let mut m = scripted(
            "",
            &[
                ("AT+CGMI\r", "\r\nCOMMAND NOT SUPPORT\r\n"),
                ("AT+CGMM\r", "\r\nERROR\r\n"),
                (
                    "ATI\r",
                    "\r\nManufacturer: huawei\r\nModel: E3372\r\nRevision: 22.200.09.01.161\r\n\r\nOK\r\n",
                ),
            ],
        );
        let mut refused = Vec::new();
        let got = identify(&mut |c| m.command(c), &mut |e| refused.push(e)).unwrap();
        assert_eq!(got, ("huawei".into(), "E3372".into()));
        assert!(refused.is_empty(), "ATI filled both: {refused:?}");
    }

    #[test]
    fn sim_states() {
        assert_eq!(parse_cpin(&lines(&["+CPIN: READY"])), SimStatus::Ready);
        assert_eq!(parse_cpin(&lines(&["+CPIN: NOT READY"])), SimStatus::Busy);
        assert_eq!(
            parse_cpin(&lines(&["+CPIN: SIM PIN"])),
            SimStatus::PinNeeded
        );
        assert_eq!(
            parse_cpin(&lines(&["+CPIN: SIM PUK"])),
            SimStatus::PukNeeded
        );
        assert_eq!(parse_cpin(&[]), SimStatus::Ready);
        let busy = AtError::Cme {
            command: "AT+CPIN?".into(),
            code: 14,
        };
        assert!(is_sim_busy(&busy));
        assert_eq!(
            ModemError::SimBusy(Duration::from_secs(30)).to_string(),
            "SIM busy: still starting up after 30s (if it stays so, check the SIM card)"
        );
    }

    #[test]
    fn a_plain_init() {
        let mut steps = vec![("\x1b", ""), ("AT\r", OK)];
        steps.extend(rest_of_init("\r\n+CPIN: READY\r\n\r\nOK\r\n"));
        let mut m = scripted("", &steps);
        assert_eq!(m.init(None, None).unwrap(), ec25());
    }

    #[test]
    fn a_slow_first_answer_is_resynchronised() {
        // The first AT is answered after its timeout; the second gets the
        // first's OK; the second's OK is still on its way. Without the
        // resync every later command would get the answer of the one
        // before (and the PDU would be taken for a command).
        let mut steps = vec![
            ("\x1b", ""),
            ("AT\r", ""),
            ("AT\r", "\r\nOK\r\n\r\nOK\r\n"),
            ("AT+CMEE?\r", "\r\n+CMEE: 0\r\n\r\nOK\r\n"),
        ];
        steps.extend(rest_of_init("\r\n+CPIN: READY\r\n\r\nOK\r\n"));
        let mut m = scripted("", &steps);
        assert_eq!(m.init(None, None).unwrap(), ec25());
    }

    #[test]
    fn junk_after_power_up_is_resynchronised() {
        let mut steps = vec![
            ("\x1b", ""),
            ("AT\r", "\r\n\u{fffd}\u{fffd}AT\r\r\nOK\r\n"),
            ("AT+CMEE?\r", "\r\n+CMEE: 0\r\n\r\nOK\r\n"),
        ];
        steps.extend(rest_of_init("\r\n+CPIN: READY\r\n\r\nOK\r\n"));
        let mut m = scripted("\x00\x00\u{fffd}", &steps);
        assert_eq!(m.init(None, None).unwrap(), ec25());
    }

    #[test]
    fn cpin_without_ok_does_not_block_init() {
        // Wavecom: +CPIN: READY and no OK; a resync follows, in case a late
        // OK is still coming.
        let mut steps = vec![("\x1b", ""), ("AT\r", OK)];
        let mut rest = rest_of_init("\r\n+CPIN: READY\r\n");
        rest.insert(3, ("AT+CMEE?\r", "\r\n+CMEE: 1\r\n\r\nOK\r\n"));
        steps.extend(rest);
        let mut m = scripted("", &steps);
        assert_eq!(m.init(None, None).unwrap(), ec25());
    }

    #[test]
    fn a_busy_sim_is_waited_for() {
        let mut steps = vec![
            ("\x1b", ""),
            ("AT\r", OK),
            ("ATE0\r", OK),
            ("AT+CMEE=1\r", OK),
            ("AT+CPIN?\r", "\r\n+CME ERROR: 14\r\n"),
            ("AT+CPIN?\r", "\r\n+CPIN: NOT READY\r\n\r\nOK\r\n"),
            ("AT+CPIN?\r", "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"),
            // the attempts left: not the standard way, Huawei's
            ("AT+CPINR=\"SIM PIN\"\r", "\r\nCOMMAND NOT SUPPORT\r\n"),
            ("AT^SPIC\r", "\r\nCOMMAND NOT SUPPORT\r\n"),
            ("AT+QPINC=\"SC\"\r", "\r\nCOMMAND NOT SUPPORT\r\n"),
            ("AT+SPIC\r", "\r\nCOMMAND NOT SUPPORT\r\n"),
            ("AT^CPIN?\r", "\r\n^CPIN: SIM PIN,3,10,3,10,3\r\n\r\nOK\r\n"),
            ("AT+CPIN=\"1234\"\r", OK),
            ("AT+CPIN?\r", "\r\n+CME ERROR: 14\r\n"),
            ("AT+CPIN?\r", "\r\n+CPIN: READY\r\n\r\nOK\r\n"),
            // the SMS part of the SIM is slower still
            ("AT+CMGF=0\r", "\r\n+CMS ERROR: 314\r\n"),
        ];
        steps.extend(rest_of_init("").into_iter().skip(3));
        let mut m = scripted("", &steps);
        let record = std::env::temp_dir().join(format!("smss-busy-{}.pin", std::process::id()));
        let mut pin = SimPin::with_record("1234", record);
        assert_eq!(m.init(Some(&mut pin), None).unwrap(), ec25());
    }

    #[test]
    fn echo_that_stays_on_after_ate0_is_switched_off_again() {
        let steps = [
            ("\x1b", ""),
            ("AT\r", "AT\r\r\nOK\r\n"),
            ("ATE0\r", "ATE0\r\r\nOK\r\n"),
            ("AT+CMEE=1\r", "AT+CMEE=1\r\r\nOK\r\n"),
            ("ATE0\r", "ATE0\r\r\nOK\r\n"),
            ("AT+CPIN?\r", "\r\n+CPIN: READY\r\n\r\nOK\r\n"),
            ("AT+CMGF=0\r", OK),
            ("AT+CGMI\r", "\r\nQuectel\r\n\r\nOK\r\n"),
            ("AT+CGMM\r", "\r\nEC25\r\n\r\nOK\r\n"),
        ];
        let mut m = scripted("", &steps);
        assert_eq!(m.init(None, None).unwrap(), ec25());
    }

    #[test]
    fn storage_lists() {
        // SIM800: vendor names for "preferred" memories
        let sim800 = parse_cpms_test(&lines(&[
            "+CPMS: (\"SM\",\"ME\",\"SM_P\",\"ME_P\",\"MT\"),(\"SM\",\"ME\",\"SM_P\",\"ME_P\",\"MT\"),(\"SM\",\"ME\",\"SM_P\",\"ME_P\",\"MT\")",
        ]));
        assert_eq!(sim800, vec!["SM", "ME", "MT"]);
        assert_eq!(memories_to_read(&sim800), vec!["MT"]);
        // without parentheses
        assert_eq!(
            parse_cpms_test(&lines(&["+CPMS: \"ME\",\"SM\""])),
            vec!["ME", "SM"]
        );
        // empty lists, or nothing at all
        assert!(parse_cpms_test(&lines(&["+CPMS: (),(),()"])).is_empty());
        assert!(parse_cpms_test(&[]).is_empty());
        assert_eq!(
            parse_cpms_set(&lines(&["+CPMS: 2,30,2,30,2,30"])),
            (Some(2), Some(30))
        );
        assert_eq!(parse_cpms_set(&[]), (None, None));
        assert_eq!(
            parse_cpms_query(&lines(&["+CPMS: \"MT\",3,80,\"MT\",3,80,\"SM_P\",30,30"])),
            vec![
                ("MT".to_owned(), 3, 80),
                ("MT".to_owned(), 3, 80),
                ("SM".to_owned(), 30, 30)
            ]
        );
        assert!(parse_cpms_query(&lines(&["+CPMS: \"SM\",x"])).is_empty());
        assert_eq!(
            parse_cpms_current(&lines(&["+CPMS: \"ME\",0,255,\"ME\",0,255,\"ME\",0,255"])),
            Some("ME".into())
        );
        assert_eq!(
            parse_cmti_memory("+CMTI: \"ME_P\",0").as_deref(),
            Some("ME")
        );
        assert_eq!(parse_cmti_memory("+CDSI: \"SR\",3").as_deref(), Some("SR"));
    }

    #[test]
    fn cmgr_slots() {
        let pdu = "07912470000000F0040B912460387327F600006211031020304005C8329BFD06";
        let full = lines(&["+CMGR: 0,,24", pdu]);
        assert_eq!(
            parse_cmgr(0, &full),
            Some(StoredPdu {
                index: 0,
                stat: 0,
                pdu: pdu.into()
            })
        );
        assert_eq!(parse_cmgr(3, &[]), None);
        assert_eq!(parse_cmgr(3, &lines(&["+CMGR: 0,,0", ""])), None);
        assert_eq!(
            parse_cmgr(3, &lines(&["+CMGR: 1,\"Mum\",24", pdu])).map(|p| p.stat),
            Some(1)
        );
    }

    const PDU: &str = "07912470000000F0040B912460387327F600006211031020304005C8329BFD06";

    #[test]
    fn cmgl_that_fails_is_read_slot_by_slot_from_0() {
        let cmgr0 = format!("\r\n+CMGR: 0,,24\r\n{PDU}\r\n\r\nOK\r\n");
        let cmgr2 = format!("\r\n+CMGR: 1,,24\r\n{PDU}\r\n\r\nOK\r\n");
        let steps = [
            ("AT+CPMS=\"ME\"\r", "\r\n+CPMS: 2,5,2,5,2,5\r\n\r\nOK\r\n"),
            ("AT+CMGL=4\r", "\r\nMODEM ERROR: 4\r\n"),
            ("AT+CMGR=0\r", cmgr0.as_str()),
            ("AT+CMGR=1\r", "\r\n+CMS ERROR: 321\r\n"),
            ("AT+CMGR=2\r", cmgr2.as_str()),
            // the next pass goes straight to AT+CMGR
            ("AT+CPMS=\"ME\"\r", "\r\n+CPMS: 0,5,0,5,0,5\r\n\r\nOK\r\n"),
        ];
        let mut m = scripted("", &steps);
        let got = m.list_memory("ME").unwrap();
        assert_eq!(
            got.iter().map(|p| (p.index, p.stat)).collect::<Vec<_>>(),
            vec![(0, 0), (2, 1)]
        );
        assert!(m.list_memory("ME").unwrap().is_empty());
    }

    #[test]
    fn cmgl_that_hangs_is_read_slot_by_slot_after_a_resync() {
        let cmgr1 = format!("\r\n+CMGR: 0,,24\r\n{PDU}\r\n\r\nOK\r\n");
        let steps = [
            ("AT+CPMS=\"SM\"\r", "\r\n+CPMS: 1,3,1,3,1,3\r\n\r\nOK\r\n"),
            ("AT+CMGL=4\r", ""),
            ("AT+CMEE?\r", "\r\n+CMEE: 1\r\n\r\nOK\r\n"),
            ("AT+CPMS=\"SM\"\r", "\r\n+CPMS: 1,3,1,3,1,3\r\n\r\nOK\r\n"),
            ("AT+CMGR=0\r", "\r\n+CMS ERROR: 321\r\n"),
            ("AT+CMGR=1\r", cmgr1.as_str()),
        ];
        let mut steps = steps.to_vec();
        // the next memory: no AT+CMGL, no second timeout
        steps.extend([("AT+CPMS=\"ME\"\r", "\r\n+CPMS: 0,5,0,5,0,5\r\n\r\nOK\r\n")]);
        let mut m = scripted("", &steps);
        let got = m.list_memory("SM").unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].index, 1);
        assert!(m.list_memory("ME").unwrap().is_empty());
    }

    #[test]
    fn memories_without_a_list_are_found_one_by_one() {
        let steps = [
            ("AT+CNMI=2,1,0,2,0\r", OK),
            ("AT+CPMS=?\r", "\r\n+CMS ERROR: 303\r\n"),
            (
                "AT+CPMS?\r",
                "\r\n+CPMS: \"ME\",0,100,\"ME\",0,100,\"ME\",0,100\r\n\r\nOK\r\n",
            ),
            (
                "AT+CPMS=\"ME\"\r",
                "\r\n+CPMS: 0,100,0,100,0,100\r\n\r\nOK\r\n",
            ),
            ("AT+CPMS=\"SM\"\r", "\r\n+CMS ERROR: 302\r\n"),
        ];
        let mut m = scripted("", &steps);
        assert_eq!(m.setup_receiving(), vec!["ME"]);
        assert!(m.warnings().is_empty());
        // an empty list, no memory, and no direct delivery either
        let steps = [
            ("AT+CNMI=2,1,0,2,0\r", OK),
            ("AT+CPMS=?\r", OK),
            ("AT+CPMS?\r", "\r\nERROR\r\n"),
            ("AT+CPMS=\"SM\"\r", "\r\n+CMS ERROR: 302\r\n"),
            ("AT+CPMS=\"ME\"\r", "\r\n+CMS ERROR: 302\r\n"),
            ("AT+CSMS=1\r", "\r\nERROR\r\n"),
            ("AT+CNMI=2,2,0,1,0\r", "\r\nERROR\r\n"),
            ("AT+CNMI=3,2,0,1,0\r", "\r\nERROR\r\n"),
            ("AT+CNMI=1,2,0,1,0\r", "\r\nERROR\r\n"),
            ("AT+CNMI=2,2,0,0,0\r", "\r\nERROR\r\n"),
        ];
        let mut m = scripted("", &steps);
        assert_eq!(m.setup_receiving(), vec!["SM"]);
        assert_eq!(
            m.warnings(),
            vec![
                "memory SM cannot be read: the modem lists no message memory, refuses \
                 AT+CPMS for SM and ME, and refuses direct delivery (AT+CNMI with <mt>=2)"
            ]
        );
        assert!(!m.direct_delivery());
    }

    const NRF91_CMT: &str = "+CMT: \"+358401234567\",28";
    const NRF91_PDU: &str = "069144888888F8040C9153481032547600001270113154000020D4F29C9E769F4161D0BC3D07B5CBF379F89C769F416F7B590E62D3CB";

    /// nRF9160: no memory at all; `AT+CNMI` only with mode 3 and `<mt>`
    /// 2; `AT+CNMA=1`.
    fn nrf91_setup() -> Vec<(&'static str, &'static str)> {
        vec![
            ("AT+CNMI=2,1,0,2,0\r", "\r\nERROR\r\n"),
            ("AT+CNMI=1,1,0,2,0\r", "\r\nERROR\r\n"),
            ("AT+CNMI=2,1,0,1,0\r", "\r\nERROR\r\n"),
            ("AT+CPMS=?\r", "\r\nERROR\r\n"),
            ("AT+CPMS?\r", "\r\nERROR\r\n"),
            ("AT+CPMS=\"SM\"\r", "\r\nERROR\r\n"),
            ("AT+CPMS=\"ME\"\r", "\r\nERROR\r\n"),
            ("AT+CSMS=1\r", "\r\n+CSMS: 1,1,0\r\n\r\nOK\r\n"),
            ("AT+CNMI=2,2,0,1,0\r", "\r\nERROR\r\n"),
            ("AT+CNMI=3,2,0,1,0\r", OK),
        ]
    }

    #[test]
    fn a_modem_without_storage_gets_direct_delivery() {
        assert_eq!(parse_csms(&lines(&["+CSMS: 1,1,0"])), Some(true));
        assert_eq!(parse_csms(&lines(&["+CSMS: 0,1,1"])), Some(false));
        assert_eq!(parse_csms(&[]), None);
        let mut m = scripted("", &nrf91_setup());
        assert!(m.setup_receiving().is_empty());
        assert!(m.direct_delivery() && m.ack_required());
        assert!(m.warnings().is_empty(), "{:?}", m.warnings());
        assert_eq!(m.receiving(&[]), "direct deliveries (+CMT)");
        // without phase 2+ the modem acknowledges before smss has stored
        // anything: still received, but shown in health
        let mut steps = nrf91_setup();
        steps[7] = ("AT+CSMS=1\r", "\r\n+CMS ERROR: 303\r\n");
        let mut m = scripted("", &steps);
        assert!(m.setup_receiving().is_empty());
        assert!(m.direct_delivery() && !m.ack_required());
        assert_eq!(
            m.warnings(),
            vec![
                "messages are pushed (no SMS storage) and the modem acknowledges them itself \
                 (AT+CSMS=1 refused): one that arrives while smss cannot store it is lost"
            ]
        );
    }

    #[test]
    fn a_pushed_message_is_acknowledged_in_the_form_the_modem_takes() {
        let mut steps = nrf91_setup();
        steps.extend([
            // the bare form is unknown to the nRF91; =1 is remembered
            ("AT+CNMA\r", "\r\nERROR\r\n"),
            ("AT+CNMA=1\r", OK),
            ("AT+CNMA=1\r", OK),
            // too late: the modem gave up waiting (and will say so)
            ("AT+CNMA=1\r", "\r\n+CMS ERROR: 340\r\n"),
            // each read pass asks for direct delivery again
            ("AT+CNMI=3,2,0,1,0\r", OK),
        ]);
        let mut m = scripted("", &steps);
        m.setup_receiving();
        m.acknowledge().unwrap();
        m.acknowledge().unwrap();
        let e = m.acknowledge().unwrap_err();
        assert!(matches!(e, AtError::Cms { code: 340, .. }), "{e:?}");
        m.keep_routing().unwrap();
    }

    #[test]
    fn a_modem_that_acknowledges_itself_is_not_asked_again() {
        // a modem with memories pushing a class it routes directly: smss
        // never chose AT+CSMS=1; the modem says no acknowledgement is due
        let mut m = scripted(
            "",
            &[
                ("AT+CNMA\r", "\r\n+CMS ERROR: 340\r\n"),
                // no further AT+CNMA: the script would panic
            ],
        );
        m.acknowledge().unwrap();
        m.acknowledge().unwrap();
        assert!(!m.ack_required());
    }

    #[test]
    fn a_pushed_message_interleaved_with_answers_is_taken_whole() {
        // +CMT and its PDU line inside a listing, between the prompt and
        // +CMGS:, and split across reads at idle: never a command's answer
        let cmgl = format!(
            "\r\n+CMGL: 1,0,,24\r\n{PDU}\r\n{NRF91_CMT}\r\n{NRF91_PDU}\r\n+CMGL: 2,1,,24\r\n{PDU}\r\n\r\nOK\r\n"
        );
        let opts = crate::gsm::SubmitOptions::default();
        let part = &crate::gsm::encode_submit("+420608337726", "hi", &opts).unwrap()[0];
        let cmgs_command = format!("AT+CMGS={}\r", part.tpdu_len);
        let sent = format!("{}\x1a", part.pdu_hex);
        let cmgs = format!("\r\n{NRF91_CMT}\r\n{NRF91_PDU}\r\n\r\n+CMGS: 4\r\n\r\nOK\r\n");
        let steps = [
            (
                "AT+CPMS=\"SM\"\r",
                "\r\n+CPMS: 2,20,2,20,2,20\r\n\r\nOK\r\n",
            ),
            ("AT+CMGL=4\r", cmgl.as_str()),
            (cmgs_command.as_str(), "\r\n> "),
            (sent.as_str(), cmgs.as_str()),
        ];
        let mut m = scripted("", &steps);
        let listed = m.list_memory("SM").unwrap();
        assert_eq!(
            listed
                .iter()
                .map(|p| (p.index, p.pdu.as_str()))
                .collect::<Vec<_>>(),
            vec![(1, PDU), (2, PDU)]
        );
        assert_eq!(m.send_part(part, Duration::from_secs(5)).unwrap(), 4);
        assert_eq!(
            m.take_unsolicited(),
            vec![NRF91_CMT, NRF91_PDU, NRF91_CMT, NRF91_PDU]
        );
    }

    #[test]
    fn a_pushed_message_whose_pdu_line_is_late_is_handed_over_whole() {
        // the header came while idle; its PDU line comes during the next
        // command's answer
        let later = format!("{NRF91_PDU}\r\n\r\n+CSQ: 20,99\r\n\r\nOK\r\n");
        let mut m = scripted(&format!("\r\n{NRF91_CMT}\r\n"), &[("AT+CSQ\r", &later)]);
        m.poll_unsolicited(Duration::from_millis(20)).unwrap();
        assert!(
            m.take_unsolicited().is_empty(),
            "the header alone is not handed over"
        );
        assert_eq!(m.command("AT+CSQ").unwrap(), vec!["+CSQ: 20,99"]);
        assert_eq!(m.take_unsolicited(), vec![NRF91_CMT, NRF91_PDU]);
    }

    #[test]
    fn a_memory_announced_by_cmti_is_read_too() {
        let mut m = scripted("\r\n+CMTI: \"ME\",0\r\n", &[]);
        m.poll_unsolicited(Duration::from_millis(20)).unwrap();
        assert_eq!(m.take_unsolicited(), vec!["+CMTI: \"ME\",0"]);
        let sm = vec!["SM".to_owned()];
        assert_eq!(m.memories_to_list(&sm), vec!["SM", "ME"]);
        assert_eq!(m.memories_to_list(&["MT".to_owned()]), vec!["MT"]);
    }
}
