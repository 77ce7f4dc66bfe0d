//! What a request may ask of its message besides phone and text: the
//! priority (which message the modem sends next), a time to live, flash
//! (class 0), a time not to send before, a send window (times of day).
//! Every way in fills in [`Options`]; `Options::default()` is what a
//! request that asks nothing gets (a normal message, sent as soon as
//! possible, as before these options existed).
//!
//! On port 2021 the options are a bracket after the `#` (old clients
//! never send one): `#[ttl=1h,flash]420608337726;text`, see
//! [`Options::parse_bracket`].

use std::fmt;
use std::time::Duration;

/// Which message goes out first. The modem thread always sends the most
/// urgent due message next; within one priority, the oldest.
///
/// Stored in `msg.priority` / `sms.priority` as its [`Priority::rank`]
/// (0 urgent, 1 normal, 2 low), so that `ORDER BY priority, id` is the
/// order of sending and another tool can `INSERT ... priority = 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    Urgent,
    #[default]
    Normal,
    Low,
}

impl Priority {
    pub const ALL: [Priority; 3] = [Priority::Urgent, Priority::Normal, Priority::Low];

    /// `urgent`, `normal` or `low`: the word in the web's pages, the API and
    /// the log.
    pub const fn as_str(self) -> &'static str {
        match self {
            Priority::Urgent => "urgent",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }

    /// The number in the database: 0 urgent, 1 normal, 2 low.
    pub const fn rank(self) -> u8 {
        match self {
            Priority::Urgent => 0,
            Priority::Normal => 1,
            Priority::Low => 2,
        }
    }

    /// The priority of a stored rank; a rank another tool wrote out of
    /// range counts as the nearest one (below 0 urgent, above 2 low).
    pub fn from_rank(rank: i64) -> Priority {
        match rank {
            i64::MIN..=0 => Priority::Urgent,
            1 => Priority::Normal,
            _ => Priority::Low,
        }
    }

    /// The words a client may use (any case): the names, and the words of
    /// the gateways smss stands in for (`high`/`critical` = urgent, as
    /// SMSEagle's `highpriority` and Alertmanager's `severity=critical`).
    /// Kannel's numbers are the sendsms adapter's to map.
    pub fn parse(word: &str) -> Option<Priority> {
        match word.trim().to_ascii_lowercase().as_str() {
            "urgent" | "high" | "critical" => Some(Priority::Urgent),
            "normal" => Some(Priority::Normal),
            "low" => Some(Priority::Low),
            _ => None,
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request's wishes for its message. `Default` = a normal message, sent
/// as soon as possible (what every request was before these options).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub priority: Priority,
    /// Not sent by then (from the request): `expired` in `sms`, never sent
    /// late; the SMS's TP-VP says the rest of it to the network.
    pub ttl: Option<Duration>,
    /// Class 0: the phone shows it at once and does not store it.
    pub flash: bool,
    /// Not sent before.
    pub send_at: Option<SendAt>,
    /// Sent only between these times of day (the server's local time);
    /// urgent messages ignore it.
    pub window: Option<Window>,
}

/// Longest `ttl`: what TP-VP can say (63 weeks).
pub const MAX_TTL: Duration = Duration::from_secs(63 * 7 * 86_400);

/// When a message may go out at the earliest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendAt {
    /// This long after the request.
    In(Duration),
    /// At this UTC time, `YYYY-MM-DD HH:MM:SS.000` (as the store keeps times).
    At(String),
}

/// Times of day, minutes after midnight (the server's local time). `after`
/// may be later than `before`: a window across midnight (22:00-06:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub after: Option<u16>,
    pub before: Option<u16>,
}

impl Window {
    /// Minutes from `now` (minutes after midnight) until the window opens;
    /// 0 when it is open.
    pub fn wait_from(&self, now: u16) -> u16 {
        let after = self.after.unwrap_or(0);
        let before = self.before.unwrap_or(24 * 60);
        let open = if after <= before {
            (after..before).contains(&now)
        } else {
            now >= after || now < before
        };
        if open {
            0
        } else {
            (after + 24 * 60 - now) % (24 * 60)
        }
    }
}

/// `HH:MM` (or `H:MM`), 00:00 to 23:59, as minutes after midnight.
pub fn parse_time_of_day(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    let ok =
        |t: &str, n: usize| (1..=n).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit());
    if !ok(h, 2) || m.len() != 2 || !ok(m, 2) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// `send_at` as a client writes it: a UTC time (`2026-12-24 18:00`,
/// `2026-12-24T18:00:30Z`) or a duration from now (`10m`, `+2h`).
pub fn parse_send_at(s: &str) -> Option<SendAt> {
    let s = s.trim();
    if let Ok(d) = crate::duration::parse(s.strip_prefix('+').unwrap_or(s)) {
        return Some(SendAt::In(d));
    }
    let s = s.strip_suffix(['Z', 'z']).unwrap_or(s);
    let (date, time) = s.split_once(['T', 't', ' '])?;
    let d: Vec<&str> = date.split('-').collect();
    let t: Vec<&str> = time.split(':').collect();
    let digits = |x: &str, n: usize| x.len() == n && x.bytes().all(|b| b.is_ascii_digit());
    if d.len() != 3 || !digits(d[0], 4) || !digits(d[1], 2) || !digits(d[2], 2) {
        return None;
    }
    if !(2..=3).contains(&t.len()) || !t.iter().all(|x| digits(x, 2)) {
        return None;
    }
    let n = |x: &str| x.parse::<u32>().unwrap_or(99);
    let (month, day) = (n(d[1]), n(d[2]));
    let (hour, minute, second) = (n(t[0]), n(t[1]), t.get(2).map_or(0, |x| n(x)));
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    Some(SendAt::At(format!(
        "{}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}.000",
        d[0]
    )))
}

/// A ttl as given: a duration, more than zero, at most [`MAX_TTL`].
fn parse_ttl(s: &str) -> Result<Duration, String> {
    let d = crate::duration::parse(s.trim()).map_err(|e| format!("bad ttl '{}': {e}", clip(s)))?;
    if d.is_zero() || d > MAX_TTL {
        return Err(format!(
            "bad ttl '{}': more than 0 and at most 63 weeks",
            clip(s)
        ));
    }
    Ok(d)
}

fn parse_flag(name: &str, s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(format!("bad {name} '{}': use true or false", clip(s))),
    }
}

fn time_of_day(name: &str, s: &str) -> Result<u16, String> {
    parse_time_of_day(s).ok_or_else(|| format!("bad {name} '{}': a time of day, HH:MM", clip(s)))
}

fn send_at(s: &str) -> Result<SendAt, String> {
    parse_send_at(s).ok_or_else(|| {
        format!(
            "bad send_at '{}': a UTC time (2026-12-24 18:00) or a duration (10m)",
            clip(s)
        )
    })
}

impl Options {
    /// The options in a TCP request's bracket (between `[` and `]`, which
    /// the caller stripped): comma-separated, each at most once:
    /// `urgent` / `normal` / `low`, `flash`, `ttl=DURATION`, `at=TIME`
    /// (UTC `2026-12-24T18:00`) or `in=DURATION`, `after=HH:MM`,
    /// `before=HH:MM`. Anything else is an error naming it.
    pub fn parse_bracket(inner: &str) -> Result<Options, String> {
        let mut o = Options::default();
        let mut seen: Vec<&str> = Vec::new();
        for item in inner.split(',').map(str::trim) {
            if item.is_empty() {
                return Err("empty option in [...]".into());
            }
            let (name, value) = match item.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim())),
                None => (item, None),
            };
            let slot = match name {
                "urgent" | "normal" | "low" => "priority",
                other => other,
            };
            if seen.contains(&slot) {
                return Err(format!("option '{}' given twice", clip(name)));
            }
            seen.push(slot);
            match (name, value) {
                ("urgent" | "normal" | "low", None) => {
                    o.priority = Priority::parse(name).unwrap_or_default()
                }
                ("flash", None) => o.flash = true,
                ("ttl", Some(v)) => o.ttl = Some(parse_ttl(v)?),
                ("at", Some(v)) if !v.is_empty() => {
                    o.send_at = Some(match parse_send_at(v) {
                        Some(at @ SendAt::At(_)) => at,
                        _ => {
                            return Err(format!(
                                "bad at '{}': a UTC time, 2026-12-24T18:00",
                                clip(v)
                            ));
                        }
                    })
                }
                ("in", Some(v)) => {
                    let d = crate::duration::parse(v)
                        .map_err(|e| format!("bad in '{}': {e}", clip(v)))?;
                    o.send_at = Some(SendAt::In(d));
                }
                ("after", Some(v)) => o.window_mut().after = Some(time_of_day("after", v)?),
                ("before", Some(v)) => o.window_mut().before = Some(time_of_day("before", v)?),
                _ => {
                    return Err(format!(
                        "unknown option '{}' (urgent, normal, low, flash, ttl=, at=, in=, after=, before=)",
                        clip(item)
                    ));
                }
            }
        }
        if seen.contains(&"at") && seen.contains(&"in") {
            return Err("give at= or in=, not both".into());
        }
        Ok(o)
    }

    fn window_mut(&mut self) -> &mut Window {
        self.window.get_or_insert(Window {
            after: None,
            before: None,
        })
    }

    /// The options of an HTTP request (`POST /api/send` JSON or form
    /// fields, the web form), each field read by `field` (absent: `None`;
    /// JSON booleans and numbers as their text). Strict: a field that is
    /// given must make sense, else the error names it and what it takes.
    pub fn from_fields(field: impl Fn(&str) -> Option<String>) -> Result<Options, String> {
        let mut o = Options::default();
        if let Some(p) = field("priority") {
            o.priority = Priority::parse(&p)
                .ok_or_else(|| format!("bad priority '{}': use urgent, normal or low", clip(&p)))?;
        }
        if let Some(t) = field("ttl") {
            o.ttl = Some(parse_ttl(&t)?);
        }
        if let Some(f) = field("flash") {
            o.flash = parse_flag("flash", &f)?;
        }
        if let Some(t) = field("send_at") {
            o.send_at = Some(send_at(&t)?);
        }
        if let Some(t) = field("send_after") {
            o.window_mut().after = Some(time_of_day("send_after", &t)?);
        }
        if let Some(t) = field("send_before") {
            o.window_mut().before = Some(time_of_day("send_before", &t)?);
        }
        Ok(o)
    }
}

/// Untrusted input in an error: at most 32 characters, escaped.
fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(32).flat_map(char::escape_debug).collect();
    if s.chars().count() > 32 {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Result<Options, String> {
        Options::from_fields(|k| {
            pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn bracket_options() {
        let o = Options::parse_bracket("ttl=1h, flash,low,after=22:00,before=6:00").unwrap();
        assert_eq!(o.ttl, Some(Duration::from_secs(3600)));
        assert!(o.flash);
        assert_eq!(o.priority, Priority::Low);
        assert_eq!(
            o.window,
            Some(Window {
                after: Some(22 * 60),
                before: Some(6 * 60)
            })
        );
        assert_eq!(
            Options::parse_bracket("at=2026-12-24T18:00Z")
                .unwrap()
                .send_at,
            Some(SendAt::At("2026-12-24 18:00:00.000".into()))
        );
        assert_eq!(
            Options::parse_bracket("in=90s,urgent").unwrap(),
            Options {
                send_at: Some(SendAt::In(Duration::from_secs(90))),
                priority: Priority::Urgent,
                ..Options::default()
            }
        );
        for (bad, why) in [
            ("", "empty option in [...]"),
            ("ttl=1h,", "empty option in [...]"),
            ("ttl=soon", "bad ttl 'soon'"),
            ("ttl=0", "bad ttl '0': more than 0 and at most 63 weeks"),
            ("ttl=64w", "bad ttl '64w'"),
            ("flash=yes", "unknown option 'flash=yes'"),
            ("blink", "unknown option 'blink'"),
            ("urgent,low", "option 'low' given twice"),
            ("ttl=1h,ttl=2h", "option 'ttl' given twice"),
            ("at=10m", "bad at '10m'"),
            ("at=2026-13-01T00:00", "bad at"),
            ("in=5m,at=2026-12-01T00:00", "give at= or in=, not both"),
            ("after=24:00", "bad after '24:00': a time of day, HH:MM"),
            ("before=7", "bad before '7'"),
        ] {
            let e = Options::parse_bracket(bad).unwrap_err();
            assert!(e.starts_with(why), "{bad}: {e}");
        }
    }

    #[test]
    fn windows() {
        let night = Window {
            after: Some(22 * 60),
            before: Some(6 * 60),
        };
        assert_eq!(night.wait_from(23 * 60), 0);
        assert_eq!(night.wait_from(5 * 60 + 59), 0);
        assert_eq!(night.wait_from(6 * 60), 16 * 60);
        let day = Window {
            after: Some(8 * 60),
            before: Some(20 * 60),
        };
        assert_eq!(day.wait_from(7 * 60 + 30), 30);
        assert_eq!(day.wait_from(20 * 60), 12 * 60);
        assert_eq!(day.wait_from(8 * 60), 0);
        let from_nine = Window {
            after: Some(9 * 60),
            before: None,
        };
        assert_eq!(from_nine.wait_from(0), 9 * 60);
        assert_eq!(from_nine.wait_from(23 * 60 + 59), 0);
    }

    #[test]
    fn fields_of_an_http_request() {
        assert_eq!(fields(&[]), Ok(Options::default()));
        assert_eq!(
            fields(&[("priority", "urgent")]).map(|o| o.priority),
            Ok(Priority::Urgent)
        );
        assert_eq!(
            fields(&[("priority", "asap")]),
            Err("bad priority 'asap': use urgent, normal or low".into())
        );
        let o = fields(&[
            ("ttl", "30m"),
            ("flash", "true"),
            ("send_at", "2026-12-24 18:00"),
            ("send_after", "08:00"),
        ])
        .unwrap();
        assert_eq!(o.ttl, Some(Duration::from_secs(1800)));
        assert!(o.flash);
        assert_eq!(
            o.send_at,
            Some(SendAt::At("2026-12-24 18:00:00.000".into()))
        );
        assert_eq!(o.window.and_then(|w| w.after), Some(480));
        assert_eq!(
            fields(&[("send_at", "10m")]).unwrap().send_at,
            Some(SendAt::In(Duration::from_secs(600)))
        );
        assert!(
            fields(&[("flash", "maybe")])
                .unwrap_err()
                .starts_with("bad flash")
        );
        assert!(
            fields(&[("send_at", "tomorrow")])
                .unwrap_err()
                .starts_with("bad send_at")
        );
    }

    #[test]
    fn ranks_round_trip_and_order_as_sent() {
        for p in Priority::ALL {
            assert_eq!(Priority::from_rank(i64::from(p.rank())), p);
            assert_eq!(Priority::parse(p.as_str()), Some(p));
        }
        assert!(Priority::Urgent < Priority::Normal && Priority::Normal < Priority::Low);
        assert_eq!(Priority::from_rank(-5), Priority::Urgent);
        assert_eq!(Priority::from_rank(9), Priority::Low);
    }

    #[test]
    fn gateway_words() {
        assert_eq!(Priority::parse("CRITICAL"), Some(Priority::Urgent));
        assert_eq!(Priority::parse("high"), Some(Priority::Urgent));
        assert_eq!(Priority::parse(" Low "), Some(Priority::Low));
        assert_eq!(Priority::parse("soon"), None);
    }
}
