//! GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 §6.2.1).

/// Escape to the extension table.
pub const ESC: u8 = 0x1B;

/// The basic table, indexed by septet value. 0x1B is the escape and never
/// decodes to itself.
const BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1B}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The extension table: (septet after ESC, character).
const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// The septets encoding one character: one from the basic table, or ESC
/// plus one from the extension table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Septets {
    Basic(u8),
    Extended(u8),
}

impl Septets {
    pub fn len(self) -> usize {
        match self {
            Septets::Basic(_) => 1,
            Septets::Extended(_) => 2,
        }
    }

    pub fn push_to(self, out: &mut Vec<u8>) {
        match self {
            Septets::Basic(s) => out.push(s),
            Septets::Extended(s) => out.extend([ESC, s]),
        }
    }
}

/// How `c` is written in the default alphabet, if it can be.
pub fn encode_char(c: char) -> Option<Septets> {
    if c != '\u{1B}'
        && let Some(i) = BASIC.iter().position(|&b| b == c)
    {
        return Some(Septets::Basic(i as u8));
    }
    EXTENSION
        .iter()
        .find(|&&(_, e)| e == c)
        .map(|&(s, _)| Septets::Extended(s))
}

/// Septets needed for `text` in the default alphabet, or None when some
/// character is not in it.
pub fn septet_count(text: &str) -> Option<usize> {
    text.chars().map(|c| encode_char(c).map(Septets::len)).sum()
}

/// Encodes `text`; None when some character is not in the alphabet.
pub fn encode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        encode_char(c)?.push_to(&mut out);
    }
    Some(out)
}

/// Decodes septets (values 0..=127; higher bits are ignored).
pub fn decode(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut iter = septets.iter().map(|s| s & 0x7F);
    while let Some(s) = iter.next() {
        if s != ESC {
            out.push(BASIC[s as usize]);
            continue;
        }
        let Some(next) = iter.next() else {
            // A lone trailing escape carries no character.
            break;
        };
        match EXTENSION.iter().find(|&&(e, _)| e == next) {
            Some(&(_, c)) => out.push(c),
            // TS 23.038: an undefined extension code shows the basic-table
            // character instead; ESC ESC (reserved) shows as a space.
            None if next == ESC => out.push(' '),
            None => out.push(BASIC[next as usize]),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_table_spot_checks() {
        assert_eq!(encode_char('@'), Some(Septets::Basic(0x00)));
        assert_eq!(encode_char('$'), Some(Septets::Basic(0x02)));
        assert_eq!(encode_char('Ç'), Some(Septets::Basic(0x09)));
        assert_eq!(encode_char('\n'), Some(Septets::Basic(0x0A)));
        assert_eq!(encode_char('\r'), Some(Septets::Basic(0x0D)));
        assert_eq!(encode_char('¤'), Some(Septets::Basic(0x24)));
        assert_eq!(encode_char('§'), Some(Septets::Basic(0x5F)));
        assert_eq!(encode_char('à'), Some(Septets::Basic(0x7F)));
        assert_eq!(encode_char('\u{1B}'), None);
        assert_eq!(encode_char('`'), None);
        assert_eq!(encode_char('ř'), None);
        assert_eq!(encode_char('\t'), None);
    }

    #[test]
    fn extension_table() {
        let want = [
            ('\u{0C}', 0x0A),
            ('^', 0x14),
            ('{', 0x28),
            ('}', 0x29),
            ('\\', 0x2F),
            ('[', 0x3C),
            ('~', 0x3D),
            (']', 0x3E),
            ('|', 0x40),
            ('€', 0x65),
        ];
        for (c, s) in want {
            assert_eq!(encode_char(c), Some(Septets::Extended(s)), "{c:?}");
            assert_eq!(decode(&[ESC, s]), c.to_string());
        }
    }

    #[test]
    fn every_basic_septet_round_trips() {
        for s in 0u8..128 {
            if s == ESC {
                continue;
            }
            let text = decode(&[s]);
            assert_eq!(encode(&text), Some(vec![s]), "septet {s:#04x}");
        }
    }

    #[test]
    fn counts_extension_chars_as_two() {
        assert_eq!(septet_count("a€b"), Some(4));
        assert_eq!(septet_count("ř"), None);
        assert_eq!(septet_count(""), Some(0));
    }

    #[test]
    fn odd_escapes() {
        // Undefined extension code: the basic character is shown.
        assert_eq!(decode(&[ESC, 0x41]), "A");
        assert_eq!(decode(&[ESC, ESC]), " ");
        assert_eq!(decode(&[0x41, ESC]), "A");
    }
}
