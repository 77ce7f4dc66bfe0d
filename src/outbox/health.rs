//! When the modem thread writes its `modem` row (for `status` and the web
//! UI): after the modem was (re)opened, when it is lost, and otherwise once
//! a [`HEALTH_INTERVAL`]; never while the database is away. Pure: the
//! caller passes the time in, asks the modem and writes the row.

use std::time::{Duration, Instant};

use crate::modem::Health;
use crate::store::ModemHealth;

/// How often `serve` records the modem's health while nothing changes.
const HEALTH_INTERVAL: Duration = Duration::from_secs(60);

/// How the last pass of the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassEnd {
    Ok,
    /// The database is away: there is nowhere to write.
    DatabaseAway,
    /// The modem failed (lost, refused a command, could not be opened).
    Failed,
}

/// What to record now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Skip,
    /// The pass's error, as an unhealthy row.
    Problem,
    /// Ask the modem (`AT+CSQ`, `AT+CREG?`, `AT+COPS?`) and record that.
    AskModem,
}

/// When the health was last recorded, and whether it was healthy.
#[derive(Debug, Default)]
pub struct HealthMark {
    last: Option<(Instant, bool)>,
}

impl HealthMark {
    /// What to record after a pass that ended as `pass`, at `now`: a change
    /// (lost, or back after a problem) at once, the same state again only
    /// once the interval has passed.
    pub fn check(&self, pass: PassEnd, now: Instant) -> Check {
        let healthy_before = self.last.map(|(_, ok)| ok);
        let due = self
            .last
            .is_none_or(|(at, _)| now.saturating_duration_since(at) >= HEALTH_INTERVAL);
        match pass {
            PassEnd::DatabaseAway => Check::Skip,
            PassEnd::Failed if healthy_before == Some(false) && !due => Check::Skip,
            PassEnd::Failed => Check::Problem,
            PassEnd::Ok if healthy_before == Some(true) && !due => Check::Skip,
            PassEnd::Ok => Check::AskModem,
        }
    }

    /// Whether a row with `healthy` differs from the last one recorded
    /// (then it is worth a log line).
    pub fn changed(&self, healthy: bool) -> bool {
        self.last.map(|(_, ok)| ok) != Some(healthy)
    }

    /// A row with `healthy` was written at `at`.
    pub fn recorded(&mut self, healthy: bool, at: Instant) {
        self.last = Some((at, healthy));
    }
}

/// The `modem` row of `instance`: healthy unless there is an `error`.
pub fn row(instance: &str, device: &str, health: Health, error: Option<String>) -> ModemHealth {
    ModemHealth {
        instance: instance.to_owned(),
        device: device.to_owned(),
        manufacturer: health.manufacturer,
        model: health.model,
        rssi: health.rssi,
        registration: health.registration.map(|r| r.as_str().to_owned()),
        operator: health.operator,
        healthy: error.is_none(),
        last_error: error,
        warnings: (!health.warnings.is_empty()).then(|| health.warnings.join("\n")),
        sim_memories: health.memories,
        pid: std::process::id(),
        ..ModemHealth::default()
    }
}

/// A healthy row in words, for the log.
pub fn described(row: &ModemHealth) -> String {
    format!(
        "signal {}, registration {}, operator {}",
        row.rssi.map_or("unknown".into(), |r| r.to_string()),
        row.registration.as_deref().unwrap_or("unknown"),
        row.operator.as_deref().unwrap_or("unknown"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modem::Registration;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn the_first_pass_is_recorded_whatever_it_was() {
        let mark = HealthMark::default();
        let t = Instant::now();
        assert_eq!(mark.check(PassEnd::Ok, t), Check::AskModem);
        assert_eq!(mark.check(PassEnd::Failed, t), Check::Problem);
        assert_eq!(mark.check(PassEnd::DatabaseAway, t), Check::Skip);
        assert!(mark.changed(true) && mark.changed(false));
    }

    #[test]
    fn a_healthy_modem_is_checked_once_a_minute() {
        let mut mark = HealthMark::default();
        let t = Instant::now();
        mark.recorded(true, t);
        assert_eq!(mark.check(PassEnd::Ok, t + secs(1)), Check::Skip);
        assert_eq!(mark.check(PassEnd::Ok, t + secs(59)), Check::Skip);
        assert_eq!(mark.check(PassEnd::Ok, t + secs(60)), Check::AskModem);
        assert!(!mark.changed(true));
    }

    #[test]
    fn a_lost_modem_is_recorded_at_once_then_once_a_minute() {
        let mut mark = HealthMark::default();
        let t = Instant::now();
        mark.recorded(true, t);
        assert_eq!(mark.check(PassEnd::Failed, t + secs(1)), Check::Problem);
        assert!(mark.changed(false));
        mark.recorded(false, t + secs(1));
        assert_eq!(mark.check(PassEnd::Failed, t + secs(2)), Check::Skip);
        assert_eq!(mark.check(PassEnd::Failed, t + secs(61)), Check::Problem);
        // back (reopened): at once
        assert_eq!(mark.check(PassEnd::Ok, t + secs(2)), Check::AskModem);
        assert!(mark.changed(true));
    }

    #[test]
    fn nothing_is_written_while_the_database_is_away() {
        let mut mark = HealthMark::default();
        let t = Instant::now();
        mark.recorded(true, t);
        for later in [1, 60, 600] {
            assert_eq!(
                mark.check(PassEnd::DatabaseAway, t + secs(later)),
                Check::Skip
            );
        }
    }

    #[test]
    fn the_row_is_healthy_without_an_error() {
        let health = Health {
            manufacturer: "SIEMENS".into(),
            model: "TC35i".into(),
            rssi: Some(21),
            registration: Some(Registration::Roaming),
            operator: Some("T-Mobile CZ".into()),
            ..Health::default()
        };
        let ok = row("host:/dev/ttyS0", "/dev/ttyS0", health, None);
        assert!(ok.healthy && ok.last_error.is_none());
        assert_eq!(
            (ok.instance.as_str(), ok.device.as_str(), ok.model.as_str()),
            ("host:/dev/ttyS0", "/dev/ttyS0", "TC35i")
        );
        assert_eq!(
            (ok.rssi, ok.registration.as_deref(), ok.operator.as_deref()),
            (Some(21), Some("roaming"), Some("T-Mobile CZ"))
        );
        assert_eq!(ok.pid, std::process::id());
        assert_eq!(
            described(&ok),
            "signal 21, registration roaming, operator T-Mobile CZ"
        );
        let lost = row("h", "sim", Health::default(), Some("modem lost: x".into()));
        assert_eq!(
            described(&lost),
            "signal unknown, registration unknown, operator unknown"
        );
        assert!(!lost.healthy);
        assert_eq!(lost.last_error.as_deref(), Some("modem lost: x"));
    }
}
