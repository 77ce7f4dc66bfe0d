//! The SIM PIN, entered so that a wrong one never locks the SIM: at most
//! once after the SIM refused it, never when one attempt is left.
//!
//! A refused PIN is remembered across process starts (a `serve` restart,
//! every `send-pending` run from cron) in `lock-dir/smss-<device>.pin-refused`:
//! an Argon2 hash of the refused PIN ([`crate::password::hash`]). Whoever can
//! read that file can read the configuration, which holds the PIN in
//! clear, so it exposes nothing new; it lets a *different* `pin` be tried
//! (once) while the same refused one is never entered again. Deleting the
//! file allows one more try of the same PIN.
//!
//! The attempts left are read before the PIN is entered, where the modem
//! tells them ([`RETRY_QUERIES`]).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
#[cfg(test)]
use std::time::Duration;

/// The PIN of one modem's SIM and what is known of its refusals.
#[derive(Debug)]
pub struct SimPin {
    pin: String,
    /// The file that remembers a refusal of this device's SIM.
    record: PathBuf,
    /// Refused in this process (also when the record could not be written).
    refused_here: bool,
}

/// `lock-dir/smss-ttyS0.pin-refused` for `/dev/ttyS0`.
pub fn record_path(lock_dir: &Path, device: &str) -> PathBuf {
    crate::lock::lock_path(lock_dir, device).with_extension("pin-refused")
}

impl SimPin {
    pub fn new(pin: &str, lock_dir: &Path, device: &str) -> SimPin {
        SimPin {
            pin: pin.to_owned(),
            record: record_path(lock_dir, device),
            refused_here: false,
        }
    }

    /// A PIN remembered in `record` (unit tests).
    pub fn with_record(pin: &str, record: PathBuf) -> SimPin {
        SimPin {
            pin: pin.to_owned(),
            record,
            refused_here: false,
        }
    }

    pub(crate) fn pin(&self) -> &str {
        &self.pin
    }

    pub fn record(&self) -> &Path {
        &self.record
    }

    /// Whether the SIM refused this PIN before (in this process, or in an
    /// earlier one that recorded it).
    pub fn was_refused(&self) -> bool {
        self.refused_here
            || std::fs::read_to_string(&self.record)
                .is_ok_and(|hash| crate::password::verify(hash.trim(), &self.pin))
    }

    /// The SIM refused the PIN: never again in this process, nor in later
    /// ones until the PIN in the configuration changes or the record goes.
    pub fn refused(&mut self) {
        self.refused_here = true;
        if let Err(e) = self.write_record() {
            log::warn!(
                "cannot record the refused PIN in {}: {e}; a later start may enter it once more",
                self.record.display()
            );
        }
    }

    fn write_record(&self) -> io::Result<()> {
        let hash = crate::password::hash(&self.pin).map_err(|e| io::Error::other(e.to_string()))?;
        let _ = std::fs::remove_file(&self.record);
        let mut file = crate::owner::create_new(&self.record, 0o600)?;
        writeln!(file, "{hash}")?;
        file.sync_all()
    }

    /// The SIM took the PIN: a record of an earlier refusal no longer holds.
    pub fn accepted(&mut self) {
        self.refused_here = false;
        match std::fs::remove_file(&self.record) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => log::warn!(
                "cannot remove {} after the SIM took the PIN: {e}",
                self.record.display()
            ),
            _ => {}
        }
    }
}

/// Reads the attempts left from a command's answer lines.
pub type ParseRetries = fn(&[String]) -> Option<u32>;

/// The commands that tell how many PIN attempts are left, each with the
/// parser of its answer, in the order they are tried. A modem without one
/// answers `ERROR` (or its own word for it) at once, so the order costs
/// little; the standard one comes first.
pub const RETRY_QUERIES: &[(&str, ParseRetries)] = &[
    // 3GPP TS 27.007 §8.65
    ("AT+CPINR=\"SIM PIN\"", parse_cpinr),
    // Cinterion/Siemens (TC35i, MC55, BGS2...): the counter of the
    // password the SIM asks for now
    ("AT^SPIC", parse_cinterion_spic),
    // Quectel
    ("AT+QPINC=\"SC\"", parse_qpinc),
    // SIMCom
    ("AT+SPIC", parse_simcom_spic),
    // Huawei
    ("AT^CPIN?", parse_huawei_cpin),
];

/// The fields after `prefix` on the first line that has it, unquoted.
fn fields<'a>(lines: &'a [String], prefix: &str) -> Option<Vec<&'a str>> {
    let rest = lines.iter().find_map(|l| l.trim().strip_prefix(prefix))?;
    Some(
        rest.split(',')
            .map(|f| f.trim().trim_matches('"').trim())
            .collect(),
    )
}

fn number(field: Option<&&str>) -> Option<u32> {
    field?.parse().ok()
}

/// `+CPINR: SIM PIN,<retries>,<default retries>` (TS 27.007 §8.65).
pub fn parse_cpinr(lines: &[String]) -> Option<u32> {
    let f = fields(lines, "+CPINR:")?;
    (f.first()? == &"SIM PIN").then(|| number(f.get(1)))?
}

/// `^SPIC: <counter>` (Cinterion/Siemens).
pub fn parse_cinterion_spic(lines: &[String]) -> Option<u32> {
    number(fields(lines, "^SPIC:")?.first())
}

/// `+QPINC: "SC",<pin1 counter>,<puk1 counter>` (Quectel).
pub fn parse_qpinc(lines: &[String]) -> Option<u32> {
    let f = fields(lines, "+QPINC:")?;
    (f.first()? == &"SC").then(|| number(f.get(1)))?
}

/// `+SPIC: <pin1>,<pin2>,<puk1>,<puk2>` (SIMCom).
pub fn parse_simcom_spic(lines: &[String]) -> Option<u32> {
    number(fields(lines, "+SPIC:")?.first())
}

/// `^CPIN: <code>,[<times>],<puk_times>,<pin_times>,<puk2_times>,<pin2_times>`
/// (Huawei): `<pin_times>` is the SIM PIN's.
pub fn parse_huawei_cpin(lines: &[String]) -> Option<u32> {
    number(fields(lines, "^CPIN:")?.get(3))
}

/// The `pin` setting: 4 to 8 digits (3GPP TS 31.101 §9.4.1, TS 22.030);
/// empty = none. The value is never repeated in the message: a PIN with a
/// stray character is still nearly the PIN.
pub fn parse_setting(value: &str) -> Result<Option<String>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    let digits = value.bytes().all(|b| b.is_ascii_digit());
    if digits && (4..=8).contains(&value.len()) {
        return Ok(Some(value.to_owned()));
    }
    let what = if digits {
        format!("{} digits", value.len())
    } else {
        format!("{} characters, not all digits", value.chars().count())
    };
    Err(format!(
        "a SIM PIN is 4 to 8 digits; this one has {what} (the value is not shown)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &[&str]) -> Vec<String> {
        s.iter().map(|l| (*l).to_owned()).collect()
    }

    #[test]
    fn attempts_left_as_each_vendor_tells_them() {
        assert_eq!(parse_cpinr(&lines(&["+CPINR: SIM PIN,3,3"])), Some(3));
        assert_eq!(parse_cpinr(&lines(&["+CPINR: \"SIM PIN\",2,3"])), Some(2));
        assert_eq!(parse_cpinr(&lines(&["+CPINR: SIM PUK,10,10"])), None);
        assert_eq!(parse_cinterion_spic(&lines(&["^SPIC: 2"])), Some(2));
        assert_eq!(parse_qpinc(&lines(&["+QPINC: \"SC\",1,10"])), Some(1));
        assert_eq!(parse_qpinc(&lines(&["+QPINC: \"P2\",3,10"])), None);
        assert_eq!(parse_simcom_spic(&lines(&["+SPIC: 3,3,10,10"])), Some(3));
        assert_eq!(
            parse_huawei_cpin(&lines(&["^CPIN: SIM PIN,2,10,2,10,3"])),
            Some(2)
        );
        assert_eq!(
            parse_huawei_cpin(&lines(&["^CPIN: READY,,10,3,10,3"])),
            Some(3)
        );
        for parse in RETRY_QUERIES.iter().map(|(_, p)| p) {
            assert_eq!(parse(&[]), None);
            assert_eq!(parse(&lines(&["+CME ERROR: 3"])), None);
        }
    }

    #[test]
    fn a_pin_is_4_to_8_digits_and_never_repeated_in_the_error() {
        assert_eq!(parse_setting(""), Ok(None));
        assert_eq!(parse_setting("1234"), Ok(Some("1234".into())));
        assert_eq!(parse_setting("12345678"), Ok(Some("12345678".into())));
        for bad in ["123", "123456789", "12a4", "1234 x", "１２３４"] {
            let e = parse_setting(bad).unwrap_err();
            assert!(e.starts_with("a SIM PIN is 4 to 8 digits"), "{e}");
            assert!(!e.contains(bad), "{e}");
        }
        assert_eq!(
            parse_setting("123").unwrap_err(),
            "a SIM PIN is 4 to 8 digits; this one has 3 digits (the value is not shown)"
        );
    }

    #[test]
    fn a_refusal_is_remembered_for_that_pin_only() {
        let dir = std::env::temp_dir().join(format!("smss-pin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut wrong = SimPin::new("1111", &dir, "/dev/ttyUSB0");
        assert_eq!(wrong.record(), dir.join("smss-ttyUSB0.pin-refused"));
        assert!(!wrong.was_refused());
        wrong.refused();
        assert!(wrong.was_refused());
        let text = std::fs::read_to_string(wrong.record()).unwrap();
        assert!(
            text.starts_with("$argon2id$") && !text.contains("1111"),
            "{text}"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(wrong.record())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // a later process with the same PIN knows; with another PIN it tries
        assert!(SimPin::new("1111", &dir, "/dev/ttyUSB0").was_refused());
        let mut other = SimPin::new("2222", &dir, "/dev/ttyUSB0");
        assert!(!other.was_refused());
        // another device is another SIM
        assert!(!SimPin::new("1111", &dir, "/dev/ttyUSB1").was_refused());
        other.accepted();
        assert!(!wrong.record().exists());
        assert!(!SimPin::new("1111", &dir, "/dev/ttyUSB0").was_refused());
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Every simulated modem profile: the attempts left as that modem tells
    /// them, through the real AT layer on a pty.
    #[test]
    fn every_profile_enters_a_pin_at_most_once_and_never_the_last_attempt() {
        use crate::modem::{Modem, ModemError};
        use crate::sim::{PinRetries, PtySim, SimState, memories_of};
        let dir = std::env::temp_dir().join(format!("smss-pin-profiles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let check = |profile: &'static crate::sim::Profile| {
            let t = std::time::Instant::now();
            let tells = profile.pin_retries != PinRetries::Untold;
            let sim = PtySim::start_with(SimState {
                memories: memories_of(profile),
                profile,
                pin: Some("1234".into()),
                pin_attempts_left: 2,
                ..SimState::default()
            })
            .unwrap();
            let path = sim.path.to_str().unwrap().to_owned();
            let init = |pin: &mut SimPin| {
                let mut modem = Modem::open(&path, 115_200, Duration::from_secs(5)).unwrap();
                modem.init(Some(pin), None).map(drop)
            };
            let mut wrong = SimPin::new("9999", &dir, profile.name);
            let e = init(&mut wrong).unwrap_err();
            let left = if tells { Some(1) } else { None };
            assert!(
                matches!(&e, ModemError::PinRefused { left: l, .. } if *l == left),
                "{}: {e}",
                profile.name
            );
            // reopened: not entered again
            let e = init(&mut wrong).unwrap_err();
            assert!(
                matches!(e, ModemError::PinRefused { .. }),
                "{}: {e}",
                profile.name
            );
            assert_eq!(sim.handle.state().pin_attempts, 1, "{}", profile.name);
            // the right PIN, with one attempt left
            let mut right = SimPin::new("1234", &dir, profile.name);
            if tells {
                let e = init(&mut right).unwrap_err();
                assert!(
                    matches!(e, ModemError::PinLastAttempt(1)),
                    "{}: {e}",
                    profile.name
                );
                assert_eq!(sim.handle.state().pin_attempts, 1, "{}", profile.name);
            } else {
                init(&mut right).unwrap();
                assert_eq!(sim.handle.state().pin_attempts, 2, "{}", profile.name);
                assert_eq!(sim.handle.state().pin_attempts_left, 3, "{}", profile.name);
            }
            eprintln!("{}: {:?}", profile.name, t.elapsed());
        };
        std::thread::scope(|s| {
            for profile in crate::sim::PROFILES.iter().copied() {
                s.spawn(move || check(profile));
            }
        });
        std::fs::remove_dir_all(dir).unwrap();
    }
}
