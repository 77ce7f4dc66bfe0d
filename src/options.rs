//! What a request may ask of its message besides phone and text: the
//! priority (which message the modem sends next). Every way in fills in
//! [`Options`]; `Options::default()` is what a request that asks nothing
//! gets (a normal message, as before these options existed).

use std::fmt;

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
}

impl Options {
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
