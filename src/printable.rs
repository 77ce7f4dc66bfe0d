//! Untrusted text made safe to print on one line of a log or a terminal.
//!
//! A received SMS (and a request's text) may hold a line break, which would
//! forge a log line, or terminal escapes (`ESC [2J`), which would act on the
//! administrator's terminal under `tail` or `smss status`. [`escape`] writes
//! such characters as `\n`, `\r`, `\t`, `\u{1b}` (and a backslash as `\\`,
//! so the escapes stay unambiguous); everything else, accents and emoji
//! included, is kept as it is.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` is shown escaped: control characters (C0, DEL, C1), the line
/// and paragraph separators and the bidirectional overrides and isolates
/// (which reorder what follows them on the screen).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || c == '\\'
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with control characters escaped; borrowed when there are none.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("Příliš žluťoučký 😀"), "Příliš žluťoučký 😀");
        assert!(matches!(escape("plain"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(
            escape("a\nb\r\tc\u{1b}[2J\u{7f}\u{9b}"),
            "a\\nb\\r\\tc\\u{1b}[2J\\u{7f}\\u{9b}"
        );
        assert_eq!(escape("C:\\x \u{202e}txt"), "C:\\\\x \\u{202e}txt");
    }
}
