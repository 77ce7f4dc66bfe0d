//! `heartbeat = 08:00 @ops` (the server's local time) or `heartbeat =
//! every 6h @ops`: a short "alive" SMS, so that the administrator knows
//! the whole path works; silence is the alarm. Once per day (or interval)
//! across every serve of one database: the slot sent is recorded in the
//! transaction that queues it (`Guard::Once`).

use std::time::Duration;

use super::clock;
use crate::intake::{self, Intake};
use crate::store::Guard;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub when: When,
    /// Numbers and `@group`s.
    pub to: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Seconds after local midnight.
    Daily(u32),
    Every(Duration),
}

/// The setting's parser: empty = no heartbeat.
pub fn parse(value: &str) -> Result<Option<Heartbeat>, String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    let (when, to) = match words.as_slice() {
        [] => return Ok(None),
        ["every", d, to @ ..] => {
            let d = crate::duration::parse(d)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| format!("invalid interval '{d}': use a duration such as 6h"))?;
            (When::Every(d), to)
        }
        [time, to @ ..] => (When::Daily(time_of_day(time)?), to),
    };
    let to: Vec<String> = to
        .iter()
        .flat_map(|w| w.split(','))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if to.is_empty() {
        return Err("give the time and the recipients: 08:00 @ops (or every 6h @ops)".into());
    }
    if let Some(bad) = to.iter().find(|r| match r.strip_prefix('@') {
        Some(g) => !crate::protocol::valid_name(g),
        None => !crate::gsm::valid_phone(r),
    }) {
        return Err(format!(
            "invalid recipient '{bad}': a number (an optional + and 3 to 20 digits) or @group"
        ));
    }
    Ok(Some(Heartbeat { when, to }))
}

fn time_of_day(s: &str) -> Result<u32, String> {
    let bad = || format!("invalid time '{s}': HH:MM, 00:00 to 23:59 (or every DURATION)");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    if h > 23 || m > 59 || s.len() > 5 {
        return Err(bad());
    }
    Ok(h * 3600 + m * 60)
}

/// The slot due at `now` (local offset `offset`): the local day number
/// once its time has come that day, the interval number; `None` before
/// the day's time.
pub fn slot(when: When, now: i64, offset: i64) -> Option<i64> {
    match when {
        When::Daily(at) => {
            let local = now + offset;
            (local.rem_euclid(86_400) >= i64::from(at)).then(|| local.div_euclid(86_400))
        }
        When::Every(d) => {
            let d = i64::try_from(d.as_secs().max(1)).unwrap_or(i64::MAX);
            Some(now.div_euclid(d))
        }
    }
}

/// The text: what the last 24 hours sent and failed, the queue, and
/// each modem's signal.
pub fn text(intake: &Intake) -> String {
    let store = intake.store();
    let host = crate::config::host_name().unwrap_or_else(|| "?".into());
    let day = store.activity_since(Duration::from_secs(86_400));
    let queue = store.queue_stats().map(|q| q.depth.to_string());
    let signal: Vec<String> = store
        .modem_health()
        .unwrap_or_default()
        .iter()
        .filter(|m| m.healthy)
        .filter_map(|m| m.rssi.filter(|r| *r <= 31).map(|r| r.to_string()))
        .collect();
    let (sent, failed) = match &day {
        Ok(a) => (a.sent.to_string(), a.failed.to_string()),
        Err(_) => ("?".into(), "?".into()),
    };
    format!(
        "smss on {host} alive: {sent} sent, {failed} failed, queue {}, signal {}",
        queue.unwrap_or_else(|_| "?".into()),
        if signal.is_empty() {
            "-".into()
        } else {
            signal.join("/")
        }
    )
}

/// Sends the heartbeat when its slot came and no serve sent it yet.
pub fn tick(intake: &Intake, h: &Heartbeat, now: i64) {
    let Some(slot) = slot(h.when, now, clock::local_offset(now)) else {
        return;
    };
    let text = text(intake);
    let guard = Guard::Once {
        name: "heartbeat".into(),
        slot,
    };
    match intake.submit_guarded(&intake::to_each(&h.to, &text), "heartbeat", &guard) {
        Ok(Some(_)) => log::info!("heartbeat queued: {text}"),
        Ok(None) => log::debug!("heartbeat: slot {slot} was sent already"),
        Err(e) => log::error!(
            "heartbeat: cannot queue: {}",
            e.store_error()
                .map_or_else(|| e.to_string(), ToString::to_string)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings() {
        assert_eq!(parse("").unwrap(), None);
        let h = parse("08:00 @ops,420608337726").unwrap().unwrap();
        assert_eq!(h.when, When::Daily(8 * 3600));
        assert_eq!(h.to, ["@ops", "420608337726"]);
        let h = parse("every 5s @ops").unwrap().unwrap();
        assert_eq!(h.when, When::Every(Duration::from_secs(5)));
        for bad in [
            "08:00",
            "24:00 @ops",
            "8 @ops",
            "08:60 @ops",
            "every x @ops",
            "08:00 12",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse("23:59 @x").unwrap().unwrap().when,
            When::Daily(86_340)
        );
    }

    #[test]
    fn the_day_slot_starts_at_its_time() {
        let day = 20_423; // 2025-12-01
        let at = When::Daily(8 * 3600);
        let t = |h: i64, m: i64| day * 86_400 + h * 3600 + m * 60;
        assert_eq!(slot(at, t(7, 59), 0), None);
        assert_eq!(slot(at, t(8, 0), 0), Some(day));
        assert_eq!(slot(at, t(23, 59), 0), Some(day));
        // local time: UTC+2, 06:00 UTC is 08:00 there
        assert_eq!(slot(at, t(5, 59), 7200), None);
        assert_eq!(slot(at, t(6, 0), 7200), Some(day));
        // UTC-5: 13:00 UTC is 08:00 the same day; 02:00 UTC is the day before
        assert_eq!(slot(at, t(13, 0), -5 * 3600), Some(day));
        assert_eq!(slot(at, t(2, 0), -5 * 3600), Some(day - 1));
        let every = When::Every(Duration::from_secs(5));
        assert_eq!(slot(every, 12, 0), Some(2));
        assert_eq!(slot(every, 15, 3600), Some(3));
    }
}
