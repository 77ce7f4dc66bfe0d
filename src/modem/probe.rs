//! `smss probe`: what a modem is, what it offers and what smss will use,
//! in lines an administrator can read and paste into a bug report.

use super::{AtError, Health, Modem, ModemInfo, parse_cpms_set, parse_identity, rssi_dbm};

/// What [`Modem::probe`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub device: String,
    pub info: ModemInfo,
    pub firmware: String,
    /// The answer to `AT+CPMS=?` as the modem printed it (or its error).
    pub memories_offered: String,
    /// The memories smss reads, with (used, slots) where the modem says.
    pub memories: Vec<(String, Option<(u32, u32)>)>,
    /// The `AT+CNMI` setting the modem took.
    pub indications: Option<String>,
    /// No storage: messages are pushed (`+CMT`), and whether each waits
    /// for `AT+CNMA`.
    pub direct: Option<bool>,
    /// `AT+CMMS=?`: the answer, or why not.
    pub cmms: Result<String, String>,
    pub health: Health,
}

impl Modem {
    /// Asks an initialised modem what `smss probe` shows. It reads no
    /// message and deletes nothing.
    pub fn probe(&mut self, info: ModemInfo) -> Result<Probe, AtError> {
        let answer_or_error = |r: Result<Vec<String>, AtError>| match r {
            Ok(lines) => Ok(lines.join(" ")),
            Err(e) if e.is_lost() => Err(e),
            Err(e) => Ok(format!("refused ({e})")),
        };
        let firmware = match self.command("AT+CGMR") {
            Ok(lines) => parse_identity(&lines, "+CGMR:", "Revision"),
            Err(e) if e.is_lost() => return Err(e),
            Err(_) => String::new(),
        };
        let memories_offered = answer_or_error(self.command("AT+CPMS=?"))?;
        let mut memories = Vec::new();
        for memory in self.setup_receiving() {
            let usage = match self.command(&format!("AT+CPMS=\"{memory}\"")) {
                Ok(lines) => match parse_cpms_set(&lines) {
                    (Some(used), Some(total)) => Some((used, total)),
                    _ => None,
                },
                Err(e) if e.is_lost() => return Err(e),
                Err(e) => {
                    self.note_unreadable(&memory, e.to_string());
                    None
                }
            };
            memories.push((memory, usage));
        }
        let cmms = match self.command("AT+CMMS=?") {
            Ok(lines) => Ok(lines.join(" ")),
            Err(e) if e.is_lost() => return Err(e),
            Err(e) => Err(e.to_string()),
        };
        let health = self.health()?;
        Ok(Probe {
            device: self.device.clone(),
            info,
            firmware,
            memories_offered,
            memories,
            indications: self.indications.map(str::to_owned),
            direct: self.direct_delivery().then(|| self.ack_required()),
            cmms,
            health,
        })
    }
}

impl Probe {
    /// The report, one `name: value` line each.
    pub fn report(&self) -> String {
        let h = &self.health;
        let or_unknown = |s: &str| {
            if s.is_empty() {
                "(not told)".to_owned()
            } else {
                s.to_owned()
            }
        };
        let signal = match h.rssi {
            Some(r) => match rssi_dbm(r) {
                Some(dbm) => format!("{r}/31 ({dbm} dBm)"),
                None => "unknown to the modem (99)".into(),
            },
            None => "(no answer)".into(),
        };
        let memories: Vec<String> = self
            .memories
            .iter()
            .map(|(m, usage)| match usage {
                Some((used, total)) => format!("{m} ({used} of {total} used)"),
                None => m.clone(),
            })
            .collect();
        let mut lines = vec![
            ("device", self.device.clone()),
            ("manufacturer", or_unknown(&self.info.manufacturer)),
            ("model", or_unknown(&self.info.model)),
            ("firmware", or_unknown(&self.firmware)),
            ("SIM", "ready".to_owned()),
            ("signal", signal),
            (
                "registration",
                h.registration
                    .map_or("(no answer)".into(), |r| r.as_str().to_owned()),
            ),
            ("operator", h.operator.clone().unwrap_or("(none)".into())),
            ("memories offered", self.memories_offered.clone()),
            (
                "smss reads",
                match self.direct {
                    Some(_) => "nothing stored: the modem has no SMS storage; each message is \
                                pushed (+CMT)"
                        .into(),
                    None => memories.join(", "),
                },
            ),
            (
                "new messages",
                match (&self.indications, self.direct) {
                    (Some(cnmi), Some(true)) => {
                        format!("pushed ({cnmi}), acknowledged (AT+CNMA) once stored")
                    }
                    (Some(cnmi), Some(false)) => format!(
                        "pushed ({cnmi}), acknowledged by the modem itself (AT+CSMS=1 refused: \
                         one arriving while smss cannot store it is lost)"
                    ),
                    (Some(cnmi), None) => format!("announced ({cnmi}): read at once"),
                    (None, _) => "not announced (AT+CNMI refused): read every poll-interval".into(),
                },
            ),
            (
                "AT+CMMS",
                match &self.cmms {
                    Ok(answer) => {
                        format!("yes ({answer}): the radio link is kept between messages")
                    }
                    Err(e) => format!("no ({e}): each message sets up its own radio link"),
                },
            ),
        ];
        for e in &h.errors {
            lines.push(("problem", e.clone()));
        }
        for w in &h.warnings {
            lines.push(("warning", w.clone()));
        }
        let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
        lines
            .iter()
            .map(|(k, v)| format!("{:width$} {v}\n", format!("{k}:")))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::at::script::Script;
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_probe_of_a_huawei_stick() {
        let ok = "\r\nOK\r\n";
        let steps = [
            ("AT+CGMR\r", "\r\n11.126.85.00.209\r\n\r\nOK\r\n"),
            (
                "AT+CPMS=?\r",
                "\r\n+CPMS: (\"SM\"),(\"SM\"),(\"SM\")\r\n\r\nOK\r\n",
            ),
            ("AT+CNMI=2,1,0,2,0\r", "\r\nCOMMAND NOT SUPPORT\r\n"),
            ("AT+CNMI=1,1,0,2,0\r", ok),
            (
                "AT+CPMS=?\r",
                "\r\n+CPMS: (\"SM\"),(\"SM\"),(\"SM\")\r\n\r\nOK\r\n",
            ),
            (
                "AT+CPMS=\"SM\"\r",
                "\r\n+CPMS: 2,20,2,20,2,20\r\n\r\nOK\r\n",
            ),
            ("AT+CMMS=?\r", "\r\nCOMMAND NOT SUPPORT\r\n"),
            // the health check asks no identity: init did, once
            ("AT+CSQ\r", "\r\n+CSQ: 14,99\r\n\r\nOK\r\n"),
            ("AT+CREG?\r", "\r\n+CREG: 0,5\r\n\r\nOK\r\n"),
            ("AT+COPS?\r", "\r\n+COPS: 0,2,\"23003\",2\r\n\r\nOK\r\n"),
        ];
        let mut m = Modem::on_port(
            Box::new(Script::new("", &steps)),
            "/dev/ttyUSB2",
            Duration::from_millis(300),
        );
        let info = ModemInfo {
            manufacturer: "huawei".into(),
            model: "E173".into(),
        };
        let report = m.probe(info).unwrap().report();
        assert_eq!(
            report,
            "\
device:           /dev/ttyUSB2
manufacturer:     huawei
model:            E173
firmware:         11.126.85.00.209
SIM:              ready
signal:           14/31 (-85 dBm)
registration:     roaming
operator:         23003
memories offered: +CPMS: (\"SM\"),(\"SM\"),(\"SM\")
smss reads:       SM (2 of 20 used)
new messages:     announced (AT+CNMI=1,1,0,2,0): read at once
AT+CMMS:          no (AT+CMMS=?: COMMAND NOT SUPPORT): each message sets up its own radio link
"
        );
    }
}
