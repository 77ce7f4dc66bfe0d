//! Address fields (3GPP TS 23.040 §9.1.2.5): TP-DA, TP-OA, TP-RA and the
//! SMSC address that precedes the TPDU in PDU mode.

use super::alphabet::{self, Tables};
use super::septets;

/// Type of address: international number, ISDN numbering plan.
pub const TOA_INTERNATIONAL: u8 = 0x91;
/// Type of address: unknown type of number, ISDN numbering plan.
pub const TOA_UNKNOWN: u8 = 0x81;

const TON_MASK: u8 = 0x70;
const TON_INTERNATIONAL: u8 = 0x10;
const TON_ALPHANUMERIC: u8 = 0x50;

/// The phone number rule shared with the request parser: an optional '+',
/// then 3 to 20 digits.
pub fn valid_phone(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    (3..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Type of address and digits for a valid number: "+..." and "00..." are
/// international (the "00" is dropped), bare digits as configured.
pub fn parse_number(s: &str, bare_international: bool) -> Option<(u8, &str)> {
    if !valid_phone(s) {
        return None;
    }
    if let Some(d) = s.strip_prefix('+') {
        Some((TOA_INTERNATIONAL, d))
    } else if let Some(d) = s.strip_prefix("00") {
        Some((TOA_INTERNATIONAL, d))
    } else if bare_international {
        Some((TOA_INTERNATIONAL, s))
    } else {
        Some((TOA_UNKNOWN, s))
    }
}

/// Encodes a TP-DA style address field: digit count, type of address,
/// digits as swapped semi-octets padded with F.
pub fn encode(toa: u8, digits: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + digits.len().div_ceil(2));
    out.push(digits.len() as u8);
    out.push(toa);
    for pair in digits.as_bytes().chunks(2) {
        let lo = pair[0] - b'0';
        let hi = pair.get(1).map_or(0x0F, |d| d - b'0');
        out.push((hi << 4) | lo);
    }
    out
}

/// A decoded address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Digits, with a leading '+' when the type of number is international;
    /// or the text of an alphanumeric address.
    pub value: String,
    pub alphanumeric: bool,
}

/// Why an address could not be read: the octet count it needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Short {
    pub needed: usize,
}

/// Decodes a TP-OA/DA/RA field from the start of `data`; returns the address
/// and the octets it took.
pub fn decode(data: &[u8]) -> Result<(Address, usize), Short> {
    let Some(&len) = data.first() else {
        return Err(Short { needed: 1 });
    };
    let value_octets = usize::from(len).div_ceil(2);
    let total = 2 + value_octets;
    if data.len() < total {
        return Err(Short { needed: total });
    }
    let toa = data[1];
    let value = &data[2..total];
    let address = if toa & TON_MASK == TON_ALPHANUMERIC {
        // The length counts semi-octets; the text is packed septets.
        let chars = usize::from(len) * 4 / 7;
        let mut s = septets::unpack(value, 0, chars).unwrap_or_default();
        // Some senders count the fill of the last octet as a semi-octet
        // pair ("Megafon", 7 septets in 7 octets, given as 14 semi-octets
        // instead of 13): the 7 spare bits then read as one more septet,
        // an '@' (zeros) or a CR (TS 23.038 §6.1.2.3.1 padding). Only a
        // septet count on an octet boundary can end in such fill.
        if s.len().is_multiple_of(8) && matches!(s.last(), Some(0x00 | 0x0D)) {
            s.pop();
        }
        Address {
            value: alphabet::decode(&s, Tables::DEFAULT),
            alphanumeric: true,
        }
    } else {
        Address {
            value: digits(toa, value, usize::from(len)),
            alphanumeric: false,
        }
    };
    Ok((address, total))
}

/// Decodes the SMSC field of a PDU-mode string; None when its length is 0.
pub fn decode_smsc(data: &[u8]) -> Result<(Option<String>, usize), Short> {
    let Some(&len) = data.first() else {
        return Err(Short { needed: 1 });
    };
    let total = 1 + usize::from(len);
    if data.len() < total {
        return Err(Short { needed: total });
    }
    if len == 0 {
        return Ok((None, 1));
    }
    let toa = data[1];
    let value = &data[2..total];
    Ok((Some(digits(toa, value, value.len() * 2)), total))
}

fn digits(toa: u8, value: &[u8], max_digits: usize) -> String {
    let mut out = String::with_capacity(max_digits + 1);
    if toa & TON_MASK == TON_INTERNATIONAL {
        out.push('+');
    }
    let nibbles = value.iter().flat_map(|b| [b & 0x0F, b >> 4]);
    for n in nibbles.take(max_digits) {
        match n {
            0..=9 => out.push(char::from(b'0' + n)),
            0x0A => out.push('*'),
            0x0B => out.push('#'),
            0x0C => out.push('a'),
            0x0D => out.push('b'),
            0x0E => out.push('c'),
            // F is the filler of an odd digit count.
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_rule() {
        assert!(valid_phone("+420608337726"));
        assert!(valid_phone("00420608337726"));
        assert!(valid_phone("420608337726"));
        assert!(valid_phone("123"));
        assert!(valid_phone(&"1".repeat(20)));
        assert!(valid_phone(&format!("+{}", "1".repeat(20))));
        assert!(!valid_phone(&"1".repeat(21)));
        assert!(!valid_phone("12"));
        assert!(!valid_phone("+12"));
        assert!(!valid_phone(""));
        assert!(!valid_phone("+"));
        assert!(!valid_phone("abc"));
        assert!(!valid_phone("+420 608"));
        assert!(!valid_phone("++420608"));
        assert!(!valid_phone("420-608-337"));
        assert!(!valid_phone("٤٢٠٦٠٨")); // non-ASCII digits
    }

    #[test]
    fn number_forms() {
        assert_eq!(parse_number("+4206", true), Some((0x91, "4206")));
        assert_eq!(parse_number("004206", false), Some((0x91, "4206")));
        assert_eq!(parse_number("4206", true), Some((0x91, "4206")));
        assert_eq!(parse_number("4206", false), Some((0x81, "4206")));
        assert_eq!(parse_number("42a6", false), None);
    }

    // Address fields from faucamp/python-gsmmodem test/test_pdu.py
    // (TestSmsPduAddressFields, TestSmsPduSmscFields).
    #[test]
    fn known_address_fields() {
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let cases = [
            ("0A918967452301", "+9876543210", false, 7),
            ("099189674523F1000000", "+987654321", false, 7),
            ("0B917228195339F4", "+27829135934", false, 8),
            ("06D061F118", "abc", true, 5),
            ("0ED04669D0397C26A7", "FRANCOIS", true, 9),
            ("14D0E10D6FE3DBA036A94D19", "a[]{}€", true, 12),
            ("0AA11092997856", "0129998765", false, 7),
            // "Megafon", 7 septets packed in 7 octets (CD F2 39 6C 7E BB 01:
            // the top 7 bits of the last octet are fill), its length given
            // as 14 semi-octets instead of 13:
            // the fill is not an eighth character '@'.
            ("0ED0CDF2396C7EBB01", "Megafon", true, 9),
            // The same with the length right.
            ("0DD0CDF2396C7EBB01", "Megafon", true, 9),
            // With the 7 spare bits filled with CR (0x0D << 1 = 0x1A) and
            // counted: also fill.
            ("0ED0CDF2396C7EBB1B", "Megafon", true, 9),
            // Eight real characters are all kept ("Megafonz": z is 0x7A).
            ("0ED0CDF2396C7EBBF5", "Megafonz", true, 9),
        ];
        for (h, value, alpha, used) in cases {
            let (a, n) = decode(&hex(h)).unwrap();
            assert_eq!((a.value.as_str(), a.alphanumeric, n), (value, alpha, used));
        }
        assert_eq!(encode(0x91, "9876543210"), hex("0A918967452301"));
        assert_eq!(encode(0x91, "27829135934"), hex("0B917228195339F4"));
        assert_eq!(
            decode_smsc(&hex("069189674523F1000000")).unwrap(),
            (Some("+987654321".to_string()), 7)
        );
        assert_eq!(decode_smsc(&[0x00, 0x11]).unwrap(), (None, 1));
    }

    #[test]
    fn short_fields() {
        assert_eq!(decode(&[]), Err(Short { needed: 1 }));
        assert_eq!(decode(&[0x0B, 0x91, 0x72]), Err(Short { needed: 8 }));
        assert_eq!(decode_smsc(&[0x07, 0x91]), Err(Short { needed: 8 }));
    }
}
