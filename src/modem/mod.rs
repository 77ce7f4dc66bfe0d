//! The GSM modem: opening the serial port, the init sequence, sending one
//! SMS-SUBMIT part. Only the modem thread (`outbox`) owns a [`Modem`].

pub mod at;
pub mod errors;
mod watch;

use std::io;
use std::time::Duration;

use serialport::SerialPort;

use at::At;
pub use at::AtError;
pub use watch::Watch;

use crate::gsm::SubmitPart;

/// Why the modem could not be opened or initialised, in words an
/// administrator can act on.
#[derive(Debug)]
pub enum ModemError {
    Open { device: String, error: String },
    Init { step: &'static str, error: AtError },
    PinNeeded,
    PinState(String),
}

impl std::fmt::Display for ModemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModemError::Open { device, error } => write!(f, "cannot open {device}: {error}"),
            ModemError::Init { step, error } => write!(f, "modem init ({step}) failed: {error}"),
            ModemError::PinNeeded => {
                write!(f, "the SIM asks for a PIN: set pin in the configuration")
            }
            ModemError::PinState(state) => {
                write!(
                    f,
                    "the SIM is not ready ({state}); it may need a PUK, or be missing"
                )
            }
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
    at: At<dyn SerialPort>,
    device: String,
    command_timeout: Duration,
    /// Manufacturer and model, asked once per init.
    info: ModemInfo,
}

/// How long one `read()` on the port may block; the AT layer loops until
/// its own deadline, so this only bounds how late a shutdown is noticed.
const READ_SLICE: Duration = Duration::from_millis(50);

impl Modem {
    pub fn open(device: &str, baud: u32, command_timeout: Duration) -> Result<Modem, ModemError> {
        let port = serialport::new(device, baud)
            .timeout(READ_SLICE)
            .open()
            .map_err(|e| ModemError::Open {
                device: device.to_owned(),
                error: describe_open_error(&e),
            })?;
        Ok(Modem {
            watch: None,
            at: At::new(port),
            device: device.to_owned(),
            command_timeout,
            info: ModemInfo::default(),
        })
    }

    pub fn device(&self) -> &str {
        &self.device
    }

    /// Echo off, numeric errors, PIN, PDU mode, SMSC. The first `AT` is
    /// repeated a few times: a modem that just woke up may miss it.
    pub fn init(&mut self, pin: Option<&str>, smsc: Option<&str>) -> Result<ModemInfo, ModemError> {
        let t = self.command_timeout;
        self.at
            .cancel_pending_input(Duration::from_millis(300))
            .map_err(|error| ModemError::Init {
                step: "cancelling pending input",
                error,
            })?;
        let mut attempt = 0;
        loop {
            match self.at.command("AT", Duration::from_secs(2).min(t)) {
                Ok(_) => break,
                Err(AtError::Io(e)) => {
                    return Err(ModemError::Init {
                        step: "AT",
                        error: AtError::Io(e),
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
        }
        let step = |step: &'static str| move |error| ModemError::Init { step, error };
        self.at.command("ATE0", t).map_err(step("echo off"))?;
        self.at
            .command("AT+CMEE=1", t)
            .map_err(step("numeric errors"))?;
        let state = self
            .at
            .command("AT+CPIN?", t)
            .map_err(step("SIM PIN state"))?;
        let state = state
            .iter()
            .find_map(|l| l.strip_prefix("+CPIN:"))
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| "READY".into());
        match (state.as_str(), pin) {
            ("READY", _) => {}
            ("SIM PIN", Some(pin)) => {
                self.at
                    .command(&format!("AT+CPIN=\"{pin}\""), t)
                    .map_err(step("entering the PIN (is the pin setting right?)"))?;
            }
            ("SIM PIN", None) => return Err(ModemError::PinNeeded),
            (other, _) => return Err(ModemError::PinState(other.to_owned())),
        }
        self.at.command("AT+CMGF=0", t).map_err(step("PDU mode"))?;
        if let Some(smsc) = smsc {
            let toa = if smsc.starts_with('+') { 145 } else { 129 };
            self.at
                .command(&format!("AT+CSCA=\"{smsc}\",{toa}"), t)
                .map_err(step("SMS centre"))?;
        }
        let first = |lines: Result<Vec<String>, AtError>| {
            lines
                .ok()
                .and_then(|l| l.into_iter().next())
                .unwrap_or_default()
        };
        self.info = ModemInfo {
            manufacturer: first(self.at.command("AT+CGMI", t)),
            model: first(self.at.command("AT+CGMM", t)),
        };
        Ok(self.info.clone())
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

    pub fn take_unsolicited(&mut self) -> Vec<String> {
        self.at.take_unsolicited()
    }
}

fn describe_open_error(e: &serialport::Error) -> String {
    use serialport::ErrorKind;
    match e.kind() {
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
/// each followed by its PDU line.
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

/// The read/delete memories `AT+CPMS=?` offers, from its first list:
/// `+CPMS: ("SM","ME","SR"),("SM","ME"),("SM","ME")`.
pub fn parse_cpms_test(lines: &[String]) -> Vec<String> {
    let Some(rest) = lines.iter().find_map(|l| l.strip_prefix("+CPMS:")) else {
        return Vec::new();
    };
    let first = rest.trim().trim_start_matches('(');
    let first = first.split(')').next().unwrap_or("");
    first
        .split(',')
        .map(|m| m.trim().trim_matches('"').to_owned())
        .filter(|m| !m.is_empty())
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

impl Modem {
    /// Asks for new-message indications (`+CMTI`, status reports stored
    /// with `+CDSI`) and finds the memories to read. Modems that refuse an
    /// indication setting are still read on every pass.
    pub fn setup_receiving(&mut self) -> Vec<String> {
        let mut indications = false;
        for cnmi in [
            "AT+CNMI=2,1,0,2,0",
            "AT+CNMI=1,1,0,2,0",
            "AT+CNMI=2,1,0,1,0",
        ] {
            if self.command(cnmi).is_ok() {
                indications = true;
                break;
            }
        }
        if !indications {
            log::warn!("the modem refuses AT+CNMI: new messages are noticed at the next poll only");
        }
        let offered = self
            .command("AT+CPMS=?")
            .map(|l| parse_cpms_test(&l))
            .unwrap_or_default();
        memories_to_read(&offered)
    }

    /// Lists every message in `memory` (`AT+CPMS`, then `AT+CMGL=4`).
    /// Deleting then refers to this memory until the next listing.
    pub fn list_memory(&mut self, memory: &str) -> Result<Vec<StoredPdu>, AtError> {
        self.command(&format!("AT+CPMS=\"{memory}\""))?;
        let lines = self.command("AT+CMGL=4")?;
        Ok(parse_cmgl(&lines))
    }

    /// Deletes slot `index` of the memory listed last.
    pub fn delete(&mut self, index: u32) -> Result<(), AtError> {
        self.command(&format!("AT+CMGD={index}")).map(|_| ())
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
        let port = self.at.port().try_clone().map_err(std::io::Error::other)?;
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
        Err(e @ (AtError::Timeout { .. } | AtError::Io(_))) => Err(e),
        Err(e) => {
            let words = match &e {
                AtError::Cme { code, .. } => format!(" ({})", errors::cme_reason(*code)),
                AtError::Cms { code, .. } => format!(" ({})", errors::cms_reason(*code)),
                _ => String::new(),
            };
            health.errors.push(format!("{e}{words}"));
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
        check_health(&self.info, |command| at.command(command, t))
    }
}

#[cfg(test)]
mod health_tests {
    use super::at::{FinalError, LineSplitter, parse_final};
    use super::*;

    /// The answer lines a literal modem transcript (after the command) gives.
    fn answer(command: &str, transcript: &str) -> Result<Vec<String>, AtError> {
        let mut s = LineSplitter::default();
        s.push(transcript.as_bytes());
        let mut lines = Vec::new();
        while let Some(at::Event::Line(line)) = s.next_event() {
            let command = command.to_owned();
            match parse_final(&line) {
                Some(Ok(())) => return Ok(lines),
                Some(Err(FinalError::Error)) => return Err(AtError::Error { command }),
                Some(Err(FinalError::Cms(code))) => return Err(AtError::Cms { command, code }),
                Some(Err(FinalError::Cme(code))) => return Err(AtError::Cme { command, code }),
                None => lines.push(line),
            }
        }
        Err(AtError::Timeout {
            command: command.to_owned(),
        })
    }

    fn lines(transcript: &str) -> Vec<String> {
        answer("AT", transcript).unwrap()
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
