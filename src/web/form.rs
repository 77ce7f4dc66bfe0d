//! `application/x-www-form-urlencoded`: query strings and form bodies.
//!
//! Values that are not valid UTF-8 once percent-decoded are read through the
//! legacy charset, as request lines on port 2021 are (an old Kannel client
//! may send `text=P%F8%EDli%9A` in windows-1250), never dropped.

use percent_encoding::percent_decode;

use crate::charset::{self, Legacy};

/// The decoded `name=value` pairs, in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(input: &[u8], legacy: Legacy) -> Params {
        let mut pairs = Vec::new();
        for piece in input.split(|&b| b == b'&') {
            if piece.is_empty() {
                continue;
            }
            let (name, value) = match piece.iter().position(|&b| b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &b""[..]),
            };
            pairs.push((decode(name, legacy), decode(value, legacy)));
        }
        Params(pairs)
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed, `None` when blank.
    pub fn nonblank(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }
}

fn decode(raw: &[u8], legacy: Legacy) -> String {
    let plus: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    let bytes: Vec<u8> = percent_decode(&plus).collect();
    charset::decode_line(&bytes, legacy)
}

/// Percent-encodes a value for a link (`?number=...&before=...`).
pub fn encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Several numbers in one field: separated by commas, semicolons or white
/// space ("420608337726, +420777123456").
pub fn split_numbers(field: &str) -> Vec<String> {
    field
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs() {
        let p = Params::parse(
            b"to=%2B420608337726&text=Hello+world%21&x&&empty=",
            Legacy::Windows1250,
        );
        assert_eq!(p.get("to"), Some("+420608337726"));
        assert_eq!(p.get("text"), Some("Hello world!"));
        assert_eq!(p.get("x"), Some(""));
        assert_eq!(p.nonblank("empty"), None);
        assert_eq!(p.get("missing"), None);
    }

    #[test]
    fn utf8_and_legacy() {
        let p = Params::parse(b"t=P%C5%99%C3%ADli%C5%A1", Legacy::Windows1250);
        assert_eq!(p.get("t"), Some("Příliš"));
        let p = Params::parse(b"t=P%F8%EDli%9A", Legacy::Windows1250);
        assert_eq!(p.get("t"), Some("Příliš"));
    }

    #[test]
    fn numbers() {
        assert_eq!(
            split_numbers(" 420608337726, +420777123456;123\n456 "),
            ["420608337726", "+420777123456", "123", "456"]
        );
        assert!(split_numbers(" , ").is_empty());
    }
}
