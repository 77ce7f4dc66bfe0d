//! The GSM modem: opening the serial port, the init sequence, sending one
//! SMS-SUBMIT part. Only the modem thread (`sender`) owns a [`Modem`].

pub mod at;
pub mod errors;

use std::io;
use std::time::Duration;

use serialport::SerialPort;

use at::At;
pub use at::AtError;

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
    at: At<dyn SerialPort>,
    device: String,
    command_timeout: Duration,
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
            at: At::new(port),
            device: device.to_owned(),
            command_timeout,
        })
    }

    pub fn device(&self) -> &str {
        &self.device
    }

    /// Echo off, numeric errors, PIN, PDU mode, SMSC. The first `AT` is
    /// repeated a few times: a modem that just woke up may miss it.
    pub fn init(&mut self, pin: Option<&str>, smsc: Option<&str>) -> Result<ModemInfo, ModemError> {
        let t = self.command_timeout;
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
        Ok(ModemInfo {
            manufacturer: first(self.at.command("AT+CGMI", t)),
            model: first(self.at.command("AT+CGMM", t)),
        })
    }

    /// Sends one part; returns its message reference.
    pub fn send_part(&mut self, part: &SubmitPart, timeout: Duration) -> Result<u8, AtError> {
        self.at.send_pdu(part.tpdu_len, &part.pdu_hex, timeout)
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

    /// Reads what the modem sent unasked (URCs) for up to `wait`.
    pub fn poll_unsolicited(&mut self, wait: Duration) -> Result<(), AtError> {
        self.at.poll_unsolicited(wait)
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
