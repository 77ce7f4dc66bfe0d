//! The request protocol of port 2021: `#phone;text#phone;text...` per line.
//!
//! A new request starts only at a `#` immediately followed by a valid phone
//! number and `;`; any other `#` belongs to the text, and so does every `;`
//! after the first. A line with one bad request is rejected whole.
//!
//! `#!phone;text` is an urgent request (old clients never send `#!`): the
//! modem sends it before every normal message still queued. Options go in
//! a bracket after the `#` (or `#!`), which old clients never send either:
//! `#[ttl=1h,flash]420608337726;text` (see `Options::parse_bracket`; a
//! bad option rejects the line with a clear `ERR`).

use std::fmt;

use crate::gsm;

pub use crate::options::{Options, Priority};

/// One SMS to send, as parsed from a request line (or a web request):
/// to a number, or to every member of a group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// The number; empty when `group` names the recipients.
    pub phone: String,
    pub text: String,
    /// Priority and the other wishes for the message; `Default`: a normal
    /// message, as every request was before options existed.
    pub options: Options,
    /// `@name` (kept without the `@`): the members of that group when the
    /// request is accepted ([`crate::intake::Intake::submit`] expands it).
    pub group: Option<String>,
}

impl Request {
    /// A request to `recipient`: `@name` for a group, else a number.
    pub fn to(recipient: &str, text: &str) -> Request {
        match recipient.strip_prefix('@') {
            Some(group) => Request {
                group: Some(group.to_owned()),
                text: text.to_owned(),
                ..Default::default()
            },
            None => Request {
                phone: recipient.to_owned(),
                text: text.to_owned(),
                ..Default::default()
            },
        }
    }

    /// The recipient as written: the number or `@group`.
    pub fn recipient(&self) -> String {
        match &self.group {
            Some(g) => format!("@{g}"),
            None => self.phone.clone(),
        }
    }
}

/// A group or token name: 1 to 64 letters, digits, `-`, `_`, `.` (what
/// `smss group set` and `smss token add` accept; it reads well in `@name`
/// and fits its column).
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Why a line was rejected. `index` is the 1-based position of the request
/// within the line, so a client chaining several knows which one was bad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    NoHash,
    MissingSemicolon {
        index: usize,
    },
    InvalidPhone {
        index: usize,
        phone: String,
    },
    /// `@name` with a name that cannot be a group's.
    InvalidGroup {
        index: usize,
        name: String,
    },
    EmptyText {
        index: usize,
    },
    BadOptions {
        index: usize,
        reason: String,
    },
    TooManyParts {
        index: usize,
        parts: usize,
        max: usize,
    },
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::NoHash => write!(f, "a request must start with '#' (#phone;text)"),
            RequestError::MissingSemicolon { index } => {
                write!(
                    f,
                    "request {index}: missing ';' between phone and text (#phone;text)"
                )
            }
            RequestError::InvalidPhone { index, phone } => write!(
                f,
                "request {index}: invalid phone number '{}' (use an optional + and 3 to 20 digits)",
                printable(phone)
            ),
            RequestError::InvalidGroup { index, name } => write!(
                f,
                "request {index}: invalid group name '@{}' (letters, digits, '-', '_', '.'; at most 64)",
                printable(name)
            ),
            RequestError::EmptyText { index } => write!(f, "request {index}: empty text"),
            RequestError::BadOptions { index, reason } => write!(
                f,
                "request {index}: {reason} (options: #[ttl=1h,flash,low,in=10m,after=08:00,before=20:00]phone;text)"
            ),
            RequestError::TooManyParts { index, parts, max } => write!(
                f,
                "request {index}: text too long ({parts} SMS parts, the limit is {max})"
            ),
        }
    }
}

impl std::error::Error for RequestError {}

/// Shows at most 32 characters of untrusted input, control characters escaped,
/// so an error line stays one short line.
fn printable(s: &str) -> String {
    let mut out: String = s.chars().take(32).flat_map(char::escape_debug).collect();
    if s.chars().count() > 32 {
        out.push_str("...");
    }
    out
}

/// Parses one request line (without its LF) and checks every request with
/// [`validate`]: what a TCP line goes through (`server.rs` calls
/// [`split_line`], then `Intake::submit`, which validates). Blank lines are
/// not requests; the caller skips them.
pub fn parse_line(line: &str, max_parts: usize) -> Result<Vec<Request>, RequestError> {
    split_line(line)?
        .iter()
        .enumerate()
        .map(|(i, r)| match &r.group {
            // the members are the intake's to check (they were at `group set`)
            Some(_) => validate(i + 1, "000", &r.text, max_parts).map(|_| r.clone()),
            None => validate(i + 1, &r.phone, &r.text, max_parts).map(|v| Request {
                options: r.options.clone(),
                ..v
            }),
        })
        .collect()
}

/// Splits one request line (without its LF) into its requests: the syntax
/// only (a leading `#`, the `;`, the first request's phone, which decides
/// where the next request starts); texts are not checked, that is
/// [`validate`]'s job. Only the first request can break the syntax, so the
/// first error is the same as when each request is validated as it is split.
pub fn split_line(line: &str) -> Result<Vec<Request>, RequestError> {
    let line = line.trim_start_matches([' ', '\t', '\r', '\u{feff}']);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if !line.starts_with('#') {
        return Err(RequestError::NoHash);
    }
    let mut requests = Vec::new();
    let mut start = 0;
    while start < line.len() {
        let index = requests.len() + 1;
        let urgent = line[start + 1..].starts_with('!');
        let mut after_hash = start + 1 + usize::from(urgent);
        let mut options = Options::default();
        if line[after_hash..].starts_with('[') {
            let close = line[after_hash..]
                .find(']')
                .map(|i| after_hash + i)
                .ok_or_else(|| RequestError::BadOptions {
                    index,
                    reason: "'[' without ']'".into(),
                })?;
            options = Options::parse_bracket(&line[after_hash + 1..close])
                .map_err(|reason| RequestError::BadOptions { index, reason })?;
            after_hash = close + 1;
        }
        let semi = line[after_hash..]
            .find(';')
            .map(|i| after_hash + i)
            .ok_or(RequestError::MissingSemicolon { index })?;
        let address = &line[after_hash..semi];
        let text_start = semi + 1;
        let text_end = next_request_start(line, text_start).unwrap_or(line.len());
        if urgent {
            options.priority = Priority::Urgent;
        }
        let text = line[text_start..text_end].to_owned();
        // `#@group;text` (also `#!@group;` and `#[...]@group;`) at the start
        // of a line only: a `#@x;` inside an old client's text stays text,
        // as it always was.
        if let Some(name) = address.strip_prefix('@').filter(|_| start == 0) {
            if !valid_name(name) {
                return Err(RequestError::InvalidGroup {
                    index,
                    name: name.to_owned(),
                });
            }
            requests.push(Request {
                group: Some(name.to_owned()),
                text,
                options,
                ..Default::default()
            });
        } else {
            if !gsm::valid_phone(address) {
                return Err(RequestError::InvalidPhone {
                    index,
                    phone: address.to_owned(),
                });
            }
            requests.push(Request {
                phone: address.to_owned(),
                text,
                options,
                ..Default::default()
            });
        }
        start = text_end;
    }
    Ok(requests)
}

/// The rules every request obeys, whichever way it came (TCP line, web form,
/// HTTP API, Kannel sendsms): a valid phone (optional `+`, 3 to 20 digits),
/// a text that is not blank, at most `max_parts` SMS parts. `index` is the
/// 1-based position of the request among those sent together, for the error.
pub fn validate(
    index: usize,
    phone: &str,
    text: &str,
    max_parts: usize,
) -> Result<Request, RequestError> {
    if !gsm::valid_phone(phone) {
        return Err(RequestError::InvalidPhone {
            index,
            phone: phone.to_owned(),
        });
    }
    if text.trim().is_empty() {
        return Err(RequestError::EmptyText { index });
    }
    let (_, parts) = gsm::plan(text);
    if parts > max_parts {
        return Err(RequestError::TooManyParts {
            index,
            parts,
            max: max_parts,
        });
    }
    Ok(Request {
        phone: phone.to_owned(),
        text: text.to_owned(),
        ..Default::default()
    })
}

/// The byte offset of the next `#` at or after `from` that begins a request:
/// `#`, an optional `!`, an optional `[...]` (no `#`, `;` or `[` inside),
/// an optional `+`, 3 to 20 digits, `;`.
fn next_request_start(line: &str, from: usize) -> Option<usize> {
    let bytes = line.as_bytes();
    (from..bytes.len()).find(|&i| bytes[i] == b'#' && starts_request(&bytes[i + 1..]))
}

fn starts_request(rest: &[u8]) -> bool {
    let rest = rest.strip_prefix(b"!").unwrap_or(rest);
    let rest = match rest.strip_prefix(b"[") {
        Some(inner) => match inner
            .iter()
            .position(|&b| matches!(b, b']' | b'#' | b';' | b'['))
        {
            Some(i) if inner[i] == b']' => &inner[i + 1..],
            _ => return false,
        },
        None => rest,
    };
    let rest = rest.strip_prefix(b"+").unwrap_or(rest);
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    (3..=20).contains(&digits) && rest.get(digits) == Some(&b';')
}

/// The answer to a committed line: `OK <n> <id>,<id>...`; an id of a
/// message in the local spool (the database was unreachable) is `L<id>`:
/// `OK 2 L17,L18`. Clients look at `OK` only.
pub fn ok_answer<T: std::fmt::Display>(ids: &[T]) -> String {
    let list: Vec<String> = ids.iter().map(T::to_string).collect();
    format!("OK {} {}", ids.len(), list.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(phone: &str, text: &str) -> Request {
        Request::to(phone, text)
    }

    #[test]
    fn group_requests_start_a_line() {
        assert_eq!(
            parse("#@oncall;disk full"),
            Ok(vec![req("@oncall", "disk full")])
        );
        assert_eq!(
            parse("#@oncall;a#420608337726;b"),
            Ok(vec![req("@oncall", "a"), req("420608337726", "b")])
        );
        // inside a text, as before: text
        assert_eq!(
            parse("#420608337726;mail #@ops;now"),
            Ok(vec![req("420608337726", "mail #@ops;now")])
        );
        assert_eq!(
            parse("#@on call;x"),
            Err(RequestError::InvalidGroup {
                index: 1,
                name: "on call".into()
            })
        );
        assert_eq!(
            parse("#@;x").unwrap_err().to_string(),
            "request 1: invalid group name '@' (letters, digits, '-', '_', '.'; at most 64)"
        );
        assert_eq!(
            parse("#@oncall"),
            Err(RequestError::MissingSemicolon { index: 1 })
        );
        assert_eq!(
            parse("#@oncall;  "),
            Err(RequestError::EmptyText { index: 1 })
        );
        assert!(valid_name(&"a".repeat(64)) && !valid_name(&"a".repeat(65)));
        // urgent, and with options, to a group
        let urgent = parse("#!@oncall;UPS on battery").unwrap();
        assert_eq!(urgent[0].group.as_deref(), Some("oncall"));
        assert_eq!(urgent[0].options.priority, Priority::Urgent);
        let flash = parse("#[flash]@oncall;x").unwrap();
        assert_eq!(flash[0].group.as_deref(), Some("oncall"));
        assert!(flash[0].options.flash);
    }

    fn urgent(phone: &str, text: &str) -> Request {
        Request {
            options: Options {
                priority: Priority::Urgent,
                ..Options::default()
            },
            ..req(phone, text)
        }
    }

    #[test]
    fn options_in_a_bracket() {
        let r = parse("#[ttl=1h,flash]420608337726;x#![low]+420777123456;y[z]").unwrap();
        assert_eq!(r[0].options.ttl, Some(std::time::Duration::from_secs(3600)));
        assert!(r[0].options.flash);
        assert_eq!(r[0].text, "x");
        // '!' wins over the bracket's priority
        assert_eq!(r[1].options.priority, Priority::Urgent);
        assert_eq!(r[1].text, "y[z]");
        // a bracket in the text that is not a request start stays text
        assert_eq!(
            parse("#420608337726;see #[1] #[a;b]123;"),
            Ok(vec![req("420608337726", "see #[1] #[a;b]123;")])
        );
        assert_eq!(
            parse("#[blink]420608337726;x").unwrap_err().to_string(),
            "request 1: unknown option 'blink' (urgent, normal, low, flash, ttl=, at=, in=, \
             after=, before=) (options: #[ttl=1h,flash,low,in=10m,after=08:00,before=20:00]phone;text)"
        );
        assert!(matches!(
            parse("#[ttl=1h420608337726;x"),
            Err(RequestError::BadOptions { index: 1, .. })
        ));
        assert!(matches!(
            parse("#420608337726;ok#[ttl=0]420608337726;x"),
            Err(RequestError::BadOptions { index: 2, .. })
        ));
    }

    #[test]
    fn bang_makes_a_request_urgent() {
        assert_eq!(
            parse("#!420608337726;UPS on battery"),
            Ok(vec![urgent("420608337726", "UPS on battery")])
        );
        // each request of a chained line has its own priority
        assert_eq!(
            parse("#420608337726;a#!+420777123456;b#420777123456;c!"),
            Ok(vec![
                req("420608337726", "a"),
                urgent("+420777123456", "b"),
                req("420777123456", "c!")
            ])
        );
        // '!' elsewhere is text; '#!' not followed by a phone and ';' too
        assert_eq!(
            parse("#420608337726;disk full! #!x;y"),
            Ok(vec![req("420608337726", "disk full! #!x;y")])
        );
        assert_eq!(
            parse("#!!420608337726;x"),
            Err(RequestError::InvalidPhone {
                index: 1,
                phone: "!420608337726".into()
            })
        );
    }

    fn parse(line: &str) -> Result<Vec<Request>, RequestError> {
        parse_line(line, 10)
    }

    #[test]
    fn single_request() {
        assert_eq!(
            parse("#420608337726;AHOJ"),
            Ok(vec![req("420608337726", "AHOJ")])
        );
    }

    #[test]
    fn chained_requests() {
        assert_eq!(
            parse("#420608337726;AHOJ#420777123456;Cau"),
            Ok(vec![
                req("420608337726", "AHOJ"),
                req("420777123456", "Cau")
            ])
        );
    }

    #[test]
    fn hash_inside_text_is_text() {
        assert_eq!(
            parse("#420608337726;Backup #3 failed"),
            Ok(vec![req("420608337726", "Backup #3 failed")])
        );
        // '#' followed by digits but no ';' is text too
        assert_eq!(
            parse("#420608337726;ticket #12345 open"),
            Ok(vec![req("420608337726", "ticket #12345 open")])
        );
        // too few digits to be a phone: text
        assert_eq!(
            parse("#420608337726;a#12;b"),
            Ok(vec![req("420608337726", "a#12;b")])
        );
    }

    #[test]
    fn semicolon_inside_text_is_text() {
        assert_eq!(
            parse("#420608337726;a;b;c#+420777123456;d;e"),
            Ok(vec![
                req("420608337726", "a;b;c"),
                req("+420777123456", "d;e")
            ])
        );
    }

    #[test]
    fn crlf_and_leading_space_are_stripped() {
        assert_eq!(
            parse("#420608337726;AHOJ\r"),
            Ok(vec![req("420608337726", "AHOJ")])
        );
        assert_eq!(
            parse(" #420608337726;AHOJ"),
            Ok(vec![req("420608337726", "AHOJ")])
        );
    }

    #[test]
    fn international_prefixes_are_accepted() {
        assert_eq!(
            parse("#+420608337726;x"),
            Ok(vec![req("+420608337726", "x")])
        );
        assert_eq!(
            parse("#00420608337726;x"),
            Ok(vec![req("00420608337726", "x")])
        );
    }

    #[test]
    fn missing_hash() {
        assert_eq!(parse("420608337726;AHOJ"), Err(RequestError::NoHash));
    }

    #[test]
    fn missing_semicolon() {
        assert_eq!(
            parse("#420608337726 AHOJ"),
            Err(RequestError::MissingSemicolon { index: 1 })
        );
    }

    #[test]
    fn invalid_phones() {
        for bad in [
            "abc",
            "12",
            "",
            "+",
            "420 608",
            "123456789012345678901",
            "++420608",
        ] {
            assert_eq!(
                parse(&format!("#{bad};x")),
                Err(RequestError::InvalidPhone {
                    index: 1,
                    phone: bad.into()
                }),
                "{bad}"
            );
        }
        // boundaries: 3 and 20 digits are fine
        assert!(parse("#123;x").is_ok());
        assert!(parse("#12345678901234567890;x").is_ok());
    }

    #[test]
    fn empty_text() {
        assert_eq!(
            parse("#420608337726;"),
            Err(RequestError::EmptyText { index: 1 })
        );
        assert_eq!(
            parse("#420608337726;   "),
            Err(RequestError::EmptyText { index: 1 })
        );
        assert_eq!(
            parse("#420608337726;x#420777123456;"),
            Err(RequestError::EmptyText { index: 2 })
        );
    }

    #[test]
    fn one_bad_request_rejects_the_line() {
        // the second request is a valid boundary with an empty text
        assert!(parse("#420608337726;ok#420777123456;").is_err());
    }

    #[test]
    fn split_line_checks_the_syntax_only() {
        // texts are the intake's (validate's) to check
        assert_eq!(
            split_line("#420608337726;#420777123456;   "),
            Ok(vec![req("420608337726", ""), req("420777123456", "   ")])
        );
        assert_eq!(split_line("420608337726;x"), Err(RequestError::NoHash));
        assert_eq!(
            split_line("#12;x"),
            Err(RequestError::InvalidPhone {
                index: 1,
                phone: "12".into()
            })
        );
        assert_eq!(
            split_line("#420608337726"),
            Err(RequestError::MissingSemicolon { index: 1 })
        );
    }

    #[test]
    fn part_limit_edge() {
        let two_parts = "x".repeat(306);
        let three_parts = "x".repeat(307);
        assert!(parse_line(&format!("#420608337726;{two_parts}"), 2).is_ok());
        assert_eq!(
            parse_line(&format!("#420608337726;{three_parts}"), 2),
            Err(RequestError::TooManyParts {
                index: 1,
                parts: 3,
                max: 2
            })
        );
    }

    #[test]
    fn hash_before_non_phone_is_text() {
        assert_eq!(
            parse("#420608337726;x#abc;y"),
            Ok(vec![req("420608337726", "x#abc;y")])
        );
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            parse("#abc;x").unwrap_err().to_string(),
            "request 1: invalid phone number 'abc' (use an optional + and 3 to 20 digits)"
        );
        assert_eq!(
            parse("#12;").unwrap_err().to_string(),
            "request 1: invalid phone number '12' (use an optional + and 3 to 20 digits)"
        );
        let long = "\u{7}".repeat(40);
        let shown = parse(&format!("#{long};x")).unwrap_err().to_string();
        assert!(
            shown.contains("\\u{7}")
                && shown.ends_with("...' (use an optional + and 3 to 20 digits)")
        );
    }

    #[test]
    fn ok_answer_lists_ids() {
        assert_eq!(ok_answer(&[7]), "OK 1 7");
        assert_eq!(ok_answer(&[7, 8, 9]), "OK 3 7,8,9");
        use crate::intake::MsgId;
        assert_eq!(
            ok_answer(&[MsgId::Spooled(17), MsgId::Queued(4), MsgId::Spooled(18)]),
            "OK 3 L17,4,L18"
        );
    }
}
