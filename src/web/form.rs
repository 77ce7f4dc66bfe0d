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

/// The raw (still percent-encoded) value of the first `name=` in
/// urlencoded `input`.
pub fn raw_value<'a>(input: &'a [u8], name: &str) -> Option<&'a [u8]> {
    input.split(|&b| b == b'&').find_map(|piece| {
        let i = piece.iter().position(|&b| b == b'=')?;
        (&piece[..i] == name.as_bytes()).then(|| &piece[i + 1..])
    })
}

/// Percent-decoded bytes of a urlencoded value (`+` is a space).
pub fn decode_bytes(raw: &[u8]) -> Vec<u8> {
    let plus: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&plus).collect()
}

/// Percent-encodes a value for a link (`?number=...&before=...`).
pub fn encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The value of the field `name` of a `multipart/form-data` body (RFC
/// 7578), the boundary from `content_type`: what Uptime Kuma's form-data
/// webhook sends. `None` when there is no such field.
pub fn multipart_field(body: &[u8], content_type: &str, name: &str) -> Option<Vec<u8>> {
    let boundary = content_type.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
    })?;
    let delimiter = format!("--{boundary}");
    let d = delimiter.as_bytes();
    let mut rest = body;
    // each part starts after a delimiter line
    while let Some(i) = rest.windows(d.len()).position(|w| w == d) {
        rest = &rest[i + d.len()..];
        if rest.starts_with(b"--") {
            return None;
        }
        let rest_part = rest.strip_prefix(b"\r\n").unwrap_or(rest);
        let head_end = rest_part.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&rest_part[..head_end]).to_ascii_lowercase();
        let content = &rest_part[head_end + 4..];
        let end = content
            .windows(d.len() + 2)
            .position(|w| w[..2] == *b"\r\n" && &w[2..] == d)
            .unwrap_or(content.len());
        let wanted = format!("name=\"{}\"", name.to_ascii_lowercase());
        if head
            .lines()
            .any(|l| l.starts_with("content-disposition:") && l.contains(&wanted))
        {
            return Some(content[..end].to_vec());
        }
        rest = &content[end..];
    }
    None
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
    fn multipart_fields() {
        // as the form-data package (Uptime Kuma's) writes it
        let ct = "multipart/form-data; boundary=--------------------------615123456789012345678901";
        let body = b"----------------------------615123456789012345678901\r\n\
Content-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n\
----------------------------615123456789012345678901\r\n\
Content-Disposition: form-data; name=\"data\"\r\n\r\n{\"msg\":\"a\\r\\nb\"}\r\n\
----------------------------615123456789012345678901--\r\n";
        assert_eq!(
            multipart_field(body, ct, "data").as_deref(),
            Some(&b"{\"msg\":\"a\\r\\nb\"}"[..])
        );
        assert_eq!(
            multipart_field(body, ct, "other").as_deref(),
            Some(&b"x"[..])
        );
        assert_eq!(multipart_field(body, ct, "none"), None);
        assert_eq!(multipart_field(body, "multipart/form-data", "data"), None);
    }

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
