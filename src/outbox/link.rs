//! Whether the modem keeps the radio link open between messages
//! (`AT+CMMS`, TS 27.005 §3.5.6): `AT+CMMS=2` while more claimed messages
//! follow (a run of messages then goes out much faster), `AT+CMMS=0` before
//! the last; nothing when the mode is already as asked. A modem that answers
//! `ERROR` (not every modem has `AT+CMMS`) is not asked again until its next
//! init, and sends as before.

use crate::modem::{AtError, Modem};

/// The `AT+CMMS` mode in effect on the modem. A fresh value is the state
/// after init: reset it whenever the modem is (re)initialised (after ATZ the
/// mode is the default again, and a modem that was replaced may have
/// `AT+CMMS` after all).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// `AT+CMMS=0`, the power-on default.
    #[default]
    Off,
    /// `AT+CMMS=2`.
    Kept,
    /// The modem answered `ERROR`: not asked again.
    Refused,
}

impl Link {
    /// Whether more messages follow message `index` (from 0) of the
    /// `claimed` ones: the rest of the batch, or the next batch when this
    /// one was full (`batch` rows), since more are likely waiting.
    pub fn more_follow(index: usize, claimed: usize, batch: usize) -> bool {
        index + 1 < claimed || claimed == batch
    }

    /// The command to send before the next message, `None` when nothing
    /// is to be sent.
    pub fn command(self, more: bool) -> Option<&'static str> {
        let wanted = Link::wanted(more);
        if self == wanted || self == Link::Refused {
            return None;
        }
        Some(if more { "AT+CMMS=2" } else { "AT+CMMS=0" })
    }

    /// The modem took [`Link::command`]`(more)`.
    pub fn accepted(&mut self, more: bool) {
        *self = Link::wanted(more);
    }

    /// The modem answered the command with an error: it has no `AT+CMMS`.
    pub fn refused(&mut self) {
        *self = Link::Refused;
    }

    fn wanted(more: bool) -> Link {
        if more { Link::Kept } else { Link::Off }
    }

    /// Sends what [`Link::command`] says, if anything. Best effort: only a
    /// modem that stopped answering is an error (the send that follows
    /// finds it too).
    pub fn keep(&mut self, modem: &mut Modem, more: bool) -> Result<(), AtError> {
        let Some(command) = self.command(more) else {
            return Ok(());
        };
        match modem.command(command) {
            Ok(_) => {
                self.accepted(more);
                Ok(())
            }
            Err(e @ (AtError::Timeout { .. } | AtError::Io(_))) => Err(e),
            Err(e) => {
                log::info!(
                    "modem {}: {e}; each message sets up its own radio link",
                    modem.device()
                );
                self.refused();
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn more_follow_within_a_batch_and_after_a_full_one() {
        let more = |claimed| -> Vec<bool> {
            (0..claimed)
                .map(|i| Link::more_follow(i, claimed, 8))
                .collect()
        };
        assert_eq!(more(1), [false]);
        assert_eq!(more(3), [true, true, false]);
        assert_eq!(more(8), [true; 8], "a full batch: the next one follows");
    }

    #[test]
    fn asks_on_change_only() {
        let mut link = Link::default();
        assert_eq!(link.command(false), None, "the default already");
        assert_eq!(link.command(true), Some("AT+CMMS=2"));
        link.accepted(true);
        assert_eq!(link.command(true), None);
        assert_eq!(link.command(false), Some("AT+CMMS=0"));
        link.accepted(false);
        assert_eq!(link, Link::Off);
        assert_eq!(link.command(false), None);
    }

    #[test]
    fn a_modem_that_refused_is_not_asked_again_until_init() {
        let mut link = Link::default();
        link.refused();
        assert_eq!(link.command(true), None);
        assert_eq!(link.command(false), None);
        let mut kept = Link::Kept;
        kept.refused();
        assert_eq!(kept.command(false), None);
        // the next init starts from a fresh value
        assert_eq!(Link::default().command(true), Some("AT+CMMS=2"));
    }

    #[test]
    fn keep_sends_cmms_on_change_only() {
        let sim = crate::sim::PtySim::start().unwrap();
        let cmms = || {
            sim.handle
                .state()
                .commands
                .iter()
                .filter(|(_, c)| c.starts_with("AT+CMMS="))
                .count()
        };
        let t = Duration::from_secs(10);
        let mut modem = Modem::open(sim.path.to_str().unwrap(), 115_200, t).unwrap();
        modem.init(None, None).unwrap();
        let mut link = Link::default();
        link.keep(&mut modem, false).unwrap(); // the default already
        assert_eq!(cmms(), 0);
        link.keep(&mut modem, true).unwrap();
        link.keep(&mut modem, true).unwrap();
        assert_eq!(cmms(), 1);
        assert_eq!(modem.command("AT+CMMS?").unwrap(), ["+CMMS: 2"]);
        link.keep(&mut modem, false).unwrap();
        assert_eq!(modem.command("AT+CMMS?").unwrap(), ["+CMMS: 0"]);
        assert_eq!(cmms(), 2);

        // A modem that answers ERROR is not asked again...
        sim.handle.state().refuse_cmms = true;
        link.keep(&mut modem, true).unwrap();
        link.keep(&mut modem, false).unwrap();
        link.keep(&mut modem, true).unwrap();
        assert_eq!(cmms(), 3);
        // ...until it is initialised again (after ATZ, or another modem).
        sim.handle.state().refuse_cmms = false;
        modem.command("ATZ").unwrap();
        modem.init(None, None).unwrap();
        let mut link = Link::default();
        link.keep(&mut modem, true).unwrap();
        assert_eq!(cmms(), 4);
        assert_eq!(modem.command("AT+CMMS?").unwrap(), ["+CMMS: 2"]);
    }
}
