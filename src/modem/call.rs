//! A voice call that wakes someone after an urgent SMS (`call-urgent`):
//! `ATD<number>;`, let it ring at most `call-ring`, hang up, and say how
//! it ended.
//!
//! What the modems do (their manuals): `ATD<n>;` answers `OK` as soon as
//! the dialing is done (SIMCom SIM800 manual V1.09 §ATD: with the factory
//! default `AT+COLP=0`; Quectel and Huawei alike); the end of the call
//! comes later on its own line, `BUSY`, `NO ANSWER`, `NO CARRIER` or `NO
//! DIALTONE`. A call being answered prints nothing: `AT+CLCC` (TS 27.007
//! §7.18) lists the call with `<stat>` 2 dialing, 3 alerting (it rings), 0
//! active (answered). Hanging up: `AT+CHUP` (TS 27.007 §6.5) first, since
//! `ATH` does not end a voice call everywhere (Huawei MU509 §9.10: `H`
//! ends data calls; SIMCom/Sierra `AT+CVHU=1`: `ATH` answers `OK` and is
//! ignored); `ATH` when `AT+CHUP` is refused or the call is still listed
//! after it.
//!
//! How a call's end maps to its outcome ([`Progress`]):
//!
//! | what the modem says | outcome |
//! | --- | --- |
//! | `+CLCC` stat 0 (active) | answered (smss hangs up at once) |
//! | `BUSY` before it rang | busy |
//! | `BUSY` after it rang | rejected (networks report a declined call as user busy, cause 17) |
//! | `NO ANSWER` | no answer (the network gave up ringing) |
//! | still stat 2/3 when `call-ring` is over | no answer (smss hangs up) |
//! | `NO CARRIER`, or gone from `+CLCC` (two polls, no result line), after it rang | rejected |
//! | `NO CARRIER` after it was answered | answered |
//! | `NO CARRIER`/gone before it rang, `NO DIALTONE` | failed |
//! | `ATD` refused (`ERROR`, `+CME ERROR`) | failed, with the error |
//! | no answer from the modem, port gone | failed; the modem's recovery follows |
//!
//! Without `+CLCC` (refused) only the result lines tell: an answered call
//! is then not seen, and one still up at the end of `call-ring` counts as
//! no answer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::Modem;
use super::at::{AtError, OtherResult};
use crate::store::CallOutcome;

/// How often `AT+CLCC` asks how the call is going.
const POLL: Duration = Duration::from_millis(500);
/// `AT+CLCC` polls without our call listed (before it rang) after which
/// the modem is taken not to have placed it.
const ABSENT_POLLS: usize = 3;

/// How a call ended.
#[derive(Debug)]
pub struct CallEnd {
    pub outcome: CallOutcome,
    /// Why, for a failed call.
    pub error: Option<String>,
    /// The modem stopped answering or its port failed during the call: the
    /// caller recovers it as after a failed send.
    pub lost: Option<AtError>,
}

impl CallEnd {
    fn failed(error: String, lost: Option<AtError>) -> CallEnd {
        CallEnd {
            outcome: CallOutcome::Failed,
            error: Some(error),
            lost,
        }
    }
}

/// What to dial for `phone`: digits with an optional leading `+` (a bare
/// number is international when `bare_international`, as for the SMS).
/// Anything else is refused, so that no text reaches the modem as a command
/// (`;`, `H`, `>` are dial modifiers).
pub fn dial_string(phone: &str, bare_international: bool) -> Result<String, String> {
    let digits = phone.strip_prefix('+').unwrap_or(phone);
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{phone}' is not a number a voice call can dial"));
    }
    if phone.starts_with('+') || !bare_international || digits.starts_with("00") {
        return Ok(phone.to_owned());
    }
    Ok(format!("+{digits}"))
}

/// One line of `+CLCC: <id>,<dir>,<stat>,<mode>,<mpty>[,<number>,<type>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedCall {
    pub id: u8,
    /// 0 mobile originated (ours), 1 mobile terminated.
    pub dir: u8,
    /// 0 active, 1 held, 2 dialing, 3 alerting, 4 incoming, 5 waiting.
    pub stat: u8,
    /// 0 voice.
    pub mode: u8,
    pub number: Option<String>,
}

/// The calls an `AT+CLCC` answer lists (lines that do not parse are left
/// out).
pub fn parse_clcc(lines: &[String]) -> Vec<ListedCall> {
    lines
        .iter()
        .filter_map(|l| {
            let rest = l.strip_prefix("+CLCC:")?;
            let fields: Vec<&str> = rest.split(',').map(str::trim).collect();
            let num = |i: usize| fields.get(i)?.parse::<u8>().ok();
            Some(ListedCall {
                id: num(0)?,
                dir: num(1)?,
                stat: num(2)?,
                mode: num(3)?,
                number: fields
                    .get(5)
                    .map(|n| n.trim_matches('"').to_owned())
                    .filter(|n| !n.is_empty()),
            })
        })
        .collect()
}

/// Our call among those listed: the voice call we placed to `number`, or
/// the only voice call we placed.
pub fn our_call<'a>(calls: &'a [ListedCall], number: &str) -> Option<&'a ListedCall> {
    let digits = |n: &str| n.trim_start_matches('+').to_owned();
    let ours: Vec<&ListedCall> = calls.iter().filter(|c| c.dir == 0 && c.mode == 0).collect();
    ours.iter()
        .copied()
        .find(|c| c.number.as_deref().map(digits) == Some(digits(number)))
        .or_else(|| (ours.len() == 1).then(|| ours[0]))
}

/// What is known of the call so far (pure: the table in the module doc).
#[derive(Debug, Default)]
pub struct Progress {
    /// `+CLCC` listed it.
    seen: bool,
    /// It rang (stat 3).
    alerted: bool,
    answered: bool,
    /// Polls that did not list it before it rang.
    absent: usize,
    /// The last poll did not list it any more: one more poll (or a result
    /// line meanwhile, which says more) before that is its end.
    gone: bool,
    end: Option<(CallOutcome, Option<String>)>,
}

impl Progress {
    /// The outcome once known, with its error text.
    pub fn end(&self) -> Option<&(CallOutcome, Option<String>)> {
        self.end.as_ref()
    }

    fn finish(&mut self, outcome: CallOutcome, error: Option<String>) {
        self.end.get_or_insert((outcome, error));
    }

    /// A call result line: the call is over.
    pub fn result(&mut self, r: OtherResult) {
        use CallOutcome::{Answered, Busy, Failed, NoAnswer, Rejected};
        match r {
            OtherResult::Busy if self.alerted => self.finish(Rejected, None),
            OtherResult::Busy => self.finish(Busy, None),
            OtherResult::NoAnswer => self.finish(NoAnswer, None),
            OtherResult::NoCarrier if self.answered => self.finish(Answered, None),
            OtherResult::NoCarrier if self.alerted => self.finish(Rejected, None),
            OtherResult::NoCarrier => self.finish(
                Failed,
                Some("NO CARRIER: the network did not set the call up".into()),
            ),
            OtherResult::NoDialtone => {
                self.finish(Failed, Some("NO DIALTONE: no network for a call".into()));
            }
            other => self.finish(Failed, Some(other.to_string())),
        }
    }

    /// What `AT+CLCC` listed of our call.
    pub fn listed(&mut self, call: Option<&ListedCall>) {
        use CallOutcome::{Answered, Failed, Rejected};
        match call.map(|c| c.stat) {
            Some(0) => {
                self.answered = true;
                self.finish(Answered, None);
            }
            Some(stat) => {
                self.seen = true;
                self.gone = false;
                self.alerted |= stat == 3;
            }
            None if (self.answered || self.seen) && !std::mem::replace(&mut self.gone, true) => {}
            None if self.answered => self.finish(Answered, None),
            None if self.alerted => self.finish(Rejected, None),
            None if self.seen => self.finish(Failed, Some("the call ended before it rang".into())),
            None => {
                self.absent += 1;
                if self.absent >= ABSENT_POLLS {
                    self.finish(
                        Failed,
                        Some("the modem lists no call after ATD (AT+CLCC)".into()),
                    );
                }
            }
        }
    }

    /// `call-ring` is over with the call still up.
    pub fn ring_over(&mut self) {
        self.finish(CallOutcome::NoAnswer, None);
    }

    /// Whether the call may still be up (smss must hang up): nothing but
    /// the ring time or an answer ended it.
    fn may_be_up(&self) -> bool {
        self.answered
            || self.end.is_none()
            || self
                .end
                .as_ref()
                .is_some_and(|(o, _)| *o == CallOutcome::NoAnswer)
    }
}

impl Modem {
    /// Calls `number` (a [`dial_string`]), lets it ring at most `ring`, hangs
    /// up. Returns within `ring` plus a few command timeouts. `stop`
    /// (serve shutting down) ends the ringing early.
    pub fn call(&mut self, number: &str, ring: Duration, stop: &AtomicBool) -> CallEnd {
        let t = self.command_timeout;
        let deadline = Instant::now() + ring;
        let mut progress = Progress::default();
        // A result line that came as the answer to a command, or an ATD
        // whose OK did not come: the conversation is resynchronised after.
        let mut irregular = false;
        let mut clcc = true;
        let mut ended_early = false;
        let dial = format!("ATD{number};");
        match self.at.command(&dial, ring.max(t)) {
            Ok(_) => {}
            Err(AtError::Other { result, .. }) => progress.result(result),
            Err(AtError::Timeout { .. }) => {
                // Dialing without OK yet (AT+COLP=1 answers when picked
                // up); the hang-up tells whether the modem still answers.
                irregular = true;
                progress.ring_over();
            }
            Err(e) if e.is_lost() => return CallEnd::failed(e.to_string(), Some(e)),
            Err(e) => return CallEnd::failed(e.to_string(), None),
        }
        while progress.end().is_none() {
            let now = Instant::now();
            if now >= deadline {
                progress.ring_over();
                break;
            }
            if stop.load(Ordering::SeqCst) {
                ended_early = true;
                break;
            }
            match self.at.wait_call_result(POLL.min(deadline - now)) {
                Ok(Some(result)) => {
                    progress.result(result);
                    break;
                }
                Ok(None) => {}
                Err(e) => return CallEnd::failed(e.to_string(), Some(e)),
            }
            if !clcc {
                continue;
            }
            match self.at.command("AT+CLCC", t) {
                Ok(lines) => progress.listed(our_call(&parse_clcc(&lines), number)),
                Err(AtError::Other { result, .. }) => {
                    // The call's end came while AT+CLCC waited: its own OK
                    // follows and is stale.
                    irregular = true;
                    progress.result(result);
                }
                Err(e) if e.is_lost() => return CallEnd::failed(e.to_string(), Some(e)),
                Err(e) => {
                    log::info!(
                        "modem {}: {e}; the call is followed by its result lines only",
                        self.device
                    );
                    clcc = false;
                }
            }
        }
        if ended_early || progress.may_be_up() {
            match self.hang_up(number, clcc) {
                Ok(stale) => irregular |= stale,
                Err(e) => return CallEnd::failed(e.to_string(), Some(e)),
            }
        }
        if irregular && let Err(e) = self.at.resync(t) {
            return CallEnd::failed(e.to_string(), Some(e));
        }
        if ended_early && progress.end().is_none() {
            return CallEnd::failed("serve stopped while it rang".into(), None);
        }
        let (outcome, error) = progress.end.unwrap_or((CallOutcome::NoAnswer, None));
        CallEnd {
            outcome,
            error,
            lost: None,
        }
    }

    /// `AT+CHUP`, then `ATH` when it was refused or the call is still
    /// listed after it. True when a call result came as the answer to one
    /// of them (the call ended meanwhile): its own `OK` follows, stale.
    fn hang_up(&mut self, number: &str, clcc: bool) -> Result<bool, AtError> {
        let t = self.command_timeout;
        for command in ["AT+CHUP", "ATH"] {
            match self.at.command(command, t) {
                Ok(_) => {}
                Err(AtError::Other { .. }) => return Ok(true),
                Err(e) if e.is_lost() => return Err(e),
                Err(e) => {
                    log::debug!("modem {}: {e}; hanging up another way", self.device);
                    continue;
                }
            }
            if !clcc {
                return Ok(false);
            }
            match self.at.command("AT+CLCC", t) {
                Ok(lines) if our_call(&parse_clcc(&lines), number).is_none() => return Ok(false),
                Ok(_) => log::debug!(
                    "modem {}: the call is still up after {command}",
                    self.device
                ),
                Err(e) if e.is_lost() => return Err(e),
                Err(AtError::Other { .. }) => return Ok(true),
                Err(_) => return Ok(false),
            }
        }
        log::warn!(
            "modem {}: the call to {number} is still up after AT+CHUP and ATH; the network ends it",
            self.device
        );
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modem::at::script::Script;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn dial_strings_are_digits_only() {
        assert_eq!(dial_string("+420608337726", true).unwrap(), "+420608337726");
        assert_eq!(dial_string("420608337726", true).unwrap(), "+420608337726");
        assert_eq!(dial_string("608337726", false).unwrap(), "608337726");
        assert_eq!(
            dial_string("00420608337726", true).unwrap(),
            "00420608337726"
        );
        for bad in [
            "",
            "+",
            "123;H",
            "12 34",
            "*#06#",
            "1>2",
            "+123456789012345678901",
        ] {
            let e = dial_string(bad, true).unwrap_err();
            assert!(
                e.contains("not a number a voice call can dial"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn clcc_lines_parse_and_our_call_is_found() {
        let calls = parse_clcc(&lines(&[
            "+CLCC: 1,1,4,0,0,\"+420777000111\",145",
            "+CLCC: 2,0,3,0,0,\"+420608337726\",145",
            "+CLCC: garbage",
        ]));
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[1].stat, 3);
        assert_eq!(our_call(&calls, "420608337726").map(|c| c.id), Some(2));
        // Without a number (some modems leave it out): the one MO call.
        let bare = parse_clcc(&lines(&["+CLCC: 1,0,0,0,0"]));
        assert_eq!(our_call(&bare, "+420608337726").map(|c| c.stat), Some(0));
        // An incoming call only is not ours.
        let incoming = parse_clcc(&lines(&["+CLCC: 1,1,4,0,0,\"+420608337726\",145"]));
        assert_eq!(our_call(&incoming, "+420608337726"), None);
    }

    fn listed(stat: u8) -> ListedCall {
        ListedCall {
            id: 1,
            dir: 0,
            stat,
            mode: 0,
            number: None,
        }
    }

    #[test]
    fn the_mapping_of_the_module_doc() {
        use CallOutcome::*;
        let outcome = |p: &Progress| p.end().map(|(o, _)| *o);
        let mut p = Progress::default();
        p.listed(Some(&listed(2)));
        p.result(OtherResult::Busy);
        assert_eq!(outcome(&p), Some(Busy));

        let mut p = Progress::default();
        p.listed(Some(&listed(3)));
        p.result(OtherResult::Busy);
        assert_eq!(
            outcome(&p),
            Some(Rejected),
            "declined: user busy after ringing"
        );

        let mut p = Progress::default();
        p.listed(Some(&listed(3)));
        p.listed(None);
        assert_eq!(outcome(&p), None, "one more poll, for a result line");
        p.listed(None);
        assert_eq!(outcome(&p), Some(Rejected));

        // gone from the list, then the result line: the line says more
        let mut p = Progress::default();
        p.listed(Some(&listed(2)));
        p.listed(None);
        p.result(OtherResult::Busy);
        assert_eq!(outcome(&p), Some(Busy));

        let mut p = Progress::default();
        p.listed(Some(&listed(3)));
        p.result(OtherResult::NoCarrier);
        assert_eq!(outcome(&p), Some(Rejected));

        let mut p = Progress::default();
        p.listed(Some(&listed(0)));
        assert_eq!(outcome(&p), Some(Answered));
        assert!(p.may_be_up(), "an answered call is hung up");

        let mut p = Progress::default();
        p.result(OtherResult::NoCarrier);
        assert_eq!(outcome(&p), Some(Failed));
        assert!(!p.may_be_up());

        let mut p = Progress::default();
        p.listed(Some(&listed(3)));
        p.ring_over();
        assert_eq!(outcome(&p), Some(NoAnswer));
        assert!(p.may_be_up());

        let mut p = Progress::default();
        p.result(OtherResult::NoAnswer);
        assert_eq!(outcome(&p), Some(NoAnswer));

        let mut p = Progress::default();
        for _ in 0..ABSENT_POLLS {
            p.listed(None);
        }
        assert_eq!(outcome(&p), Some(Failed));
    }

    fn modem(steps: &[(&str, &str)]) -> Modem {
        Modem::on_port(
            Box::new(Script::new("", steps)),
            "scripted",
            Duration::from_secs(2),
        )
    }

    #[test]
    fn an_answered_call_is_hung_up_with_chup() {
        let mut m = modem(&[
            ("ATD+420608337726;\r", "\r\nOK\r\n"),
            (
                "AT+CLCC\r",
                "\r\n+CLCC: 1,0,3,0,0,\"+420608337726\",145\r\n\r\nOK\r\n",
            ),
            (
                "AT+CLCC\r",
                "\r\n+CLCC: 1,0,0,0,0,\"+420608337726\",145\r\n\r\nOK\r\n",
            ),
            ("AT+CHUP\r", "\r\nOK\r\n"),
            ("AT+CLCC\r", "\r\nOK\r\n"),
        ]);
        let end = m.call(
            "+420608337726",
            Duration::from_secs(20),
            &AtomicBool::new(false),
        );
        assert_eq!(end.outcome, CallOutcome::Answered, "{end:?}");
        assert!(end.lost.is_none());
    }

    #[test]
    fn a_modem_without_chup_hangs_up_with_ath() {
        let mut m = modem(&[
            ("ATD+420608337726;\r", "\r\nOK\r\n"),
            (
                "AT+CLCC\r",
                "\r\n+CLCC: 1,0,0,0,0,\"+420608337726\",145\r\n\r\nOK\r\n",
            ),
            ("AT+CHUP\r", "\r\nERROR\r\n"),
            ("ATH\r", "\r\nOK\r\n"),
            ("AT+CLCC\r", "\r\nOK\r\n"),
        ]);
        let end = m.call(
            "+420608337726",
            Duration::from_secs(20),
            &AtomicBool::new(false),
        );
        assert_eq!(end.outcome, CallOutcome::Answered, "{end:?}");
    }

    #[test]
    fn a_call_still_up_after_chup_gets_ath() {
        // AT+CHUP taken, the call still listed (a modem that ignores it):
        // ATH follows.
        let mut m = modem(&[
            ("ATD+420608337726;\r", "\r\nOK\r\n"),
            (
                "AT+CLCC\r",
                "\r\n+CLCC: 1,0,0,0,0,\"+420608337726\",145\r\n\r\nOK\r\n",
            ),
            ("AT+CHUP\r", "\r\nOK\r\n"),
            (
                "AT+CLCC\r",
                "\r\n+CLCC: 1,0,0,0,0,\"+420608337726\",145\r\n\r\nOK\r\n",
            ),
            ("ATH\r", "\r\nOK\r\n"),
            ("AT+CLCC\r", "\r\nOK\r\n"),
        ]);
        let end = m.call(
            "+420608337726",
            Duration::from_secs(20),
            &AtomicBool::new(false),
        );
        assert_eq!(end.outcome, CallOutcome::Answered, "{end:?}");
    }

    #[test]
    fn busy_on_the_dial_and_refusals_and_a_silent_modem() {
        let mut m = modem(&[("ATD+420608337726;\r", "\r\nBUSY\r\n")]);
        let end = m.call(
            "+420608337726",
            Duration::from_secs(20),
            &AtomicBool::new(false),
        );
        assert_eq!(end.outcome, CallOutcome::Busy, "{end:?}");

        let mut m = modem(&[("ATD+420608337726;\r", "\r\n+CME ERROR: 30\r\n")]);
        let end = m.call(
            "+420608337726",
            Duration::from_secs(20),
            &AtomicBool::new(false),
        );
        assert_eq!(end.outcome, CallOutcome::Failed);
        assert_eq!(
            end.error.as_deref(),
            Some("ATD+420608337726;: +CME ERROR: 30")
        );
        assert!(end.lost.is_none());

        // The modem says nothing at all: failed, and lost (recovery).
        let mut m = Modem::on_port(
            Box::new(Script::new(
                "",
                &[("ATD+420608337726;\r", ""), ("AT+CHUP\r", "")],
            )),
            "scripted",
            Duration::from_millis(200),
        );
        let end = m.call(
            "+420608337726",
            Duration::from_millis(300),
            &AtomicBool::new(false),
        );
        assert_eq!(end.outcome, CallOutcome::Failed, "{end:?}");
        assert!(end.lost.as_ref().is_some_and(AtError::is_lost), "{end:?}");
    }

    #[test]
    fn a_result_answering_the_hang_up_resynchronises() {
        // The callee hangs up as smss does: NO CARRIER answers AT+CHUP and
        // its OK comes after, stale; the resync drops it.
        let mut m = modem(&[
            ("ATD+420608337726;\r", "\r\nOK\r\n"),
            (
                "AT+CLCC\r",
                "\r\n+CLCC: 1,0,0,0,0,\"+420608337726\",145\r\n\r\nOK\r\n",
            ),
            ("AT+CHUP\r", "\r\nNO CARRIER\r\n\r\nOK\r\n"),
            ("AT+CMEE?\r", "\r\n+CMEE: 1\r\n\r\nOK\r\n"),
            ("AT+CSQ\r", "\r\n+CSQ: 20,99\r\n\r\nOK\r\n"),
        ]);
        let end = m.call(
            "+420608337726",
            Duration::from_secs(20),
            &AtomicBool::new(false),
        );
        assert_eq!(end.outcome, CallOutcome::Answered, "{end:?}");
        assert!(end.lost.is_none(), "{end:?}");
        // in step: the next command gets its own answer, not the stale OK
        assert_eq!(m.command("AT+CSQ").unwrap(), ["+CSQ: 20,99"]);
    }

    #[test]
    fn a_result_during_clcc_is_the_call_end_and_resynchronises() {
        // NO CARRIER arrives as AT+CLCC's answer; AT+CLCC's own OK follows
        // late and is dropped by the resync.
        let mut m = modem(&[
            ("ATD+420608337726;\r", "\r\nOK\r\n"),
            (
                "AT+CLCC\r",
                "\r\n+CLCC: 1,0,3,0,0,\"+420608337726\",145\r\n\r\nOK\r\n",
            ),
            ("AT+CLCC\r", "\r\nNO CARRIER\r\n\r\nOK\r\n"),
            ("AT+CMEE?\r", "\r\n+CMEE: 1\r\n\r\nOK\r\n"),
            ("AT+CSQ\r", "\r\n+CSQ: 20,99\r\n\r\nOK\r\n"),
        ]);
        let end = m.call(
            "+420608337726",
            Duration::from_secs(20),
            &AtomicBool::new(false),
        );
        assert_eq!(end.outcome, CallOutcome::Rejected, "{end:?}");
        assert!(end.lost.is_none(), "{end:?}");
        assert_eq!(m.command("AT+CSQ").unwrap(), ["+CSQ: 20,99"]);
    }
}
