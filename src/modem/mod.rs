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
