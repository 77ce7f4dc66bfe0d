//! GSM 7-bit default alphabet and its extension table (3GPP TS 23.038
//! §6.2.1), or in their place the national language tables a message names
//! (`national.rs`).

use super::national::{self, Language};

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

/// The tables a 7-bit text is written in: the default alphabet and its
/// extension table, unless a national language table replaces one or both
/// (TS 23.038 §6.2.1.2.4/5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Tables {
    /// Locking shift: replaces the default alphabet. (Spanish has none: its
    /// identifier here means the default alphabet.)
    pub locking: Option<Language>,
    /// Single shift: replaces the extension table.
    pub single: Option<Language>,
}

impl Tables {
    /// The default alphabet and extension table.
    pub const DEFAULT: Tables = Tables {
        locking: None,
        single: None,
    };

    /// The default alphabet with `language`'s single shift table, the one
    /// form smss sends in besides the default (TS 23.038 §6.2.1.2.5).
    pub fn single_shift(language: Language) -> Tables {
        Tables {
            locking: None,
            single: Some(language),
        }
    }

    /// Septets of `text` in these tables (an extension character as ESC and
    /// its septet); `None` when some character is not in them.
    pub fn encode(self, text: &str) -> Option<Vec<u8>> {
        encode(text, self)
    }

    /// Text of septets written in these tables.
    pub fn decode(self, septets: &[u8]) -> String {
        decode(septets, self)
    }

    /// Every character these tables can write, each once.
    pub fn characters(self) -> Vec<char> {
        let mut out: Vec<char> = Vec::new();
        for s in 0u8..128 {
            let basic = if s == ESC { None } else { self.basic(s) };
            for c in [basic, self.extended(s)].into_iter().flatten() {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
        out
    }

    /// The character of septet `s` (not ESC) outside an escape.
    fn basic(self, s: u8) -> Option<char> {
        match self.locking.and_then(Language::locking) {
            Some(table) => national::at(table, s),
            None => Some(BASIC[usize::from(s & 0x7F)]),
        }
    }

    /// The character of `s` after an escape, if the table has one there.
    fn extended(self, s: u8) -> Option<char> {
        match self.single {
            Some(language) => national::at(language.single(), s),
            None => EXTENSION.iter().find(|&&(e, _)| e == s).map(|&(_, c)| c),
        }
    }
}

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

/// How `c` is written with `tables`, if it can be: the locking (basic)
/// table first, then the single shift (extension) table.
pub fn encode_char(c: char, tables: Tables) -> Option<Septets> {
    let basic = match tables.locking.and_then(Language::locking) {
        Some(table) => national::find(table, c),
        None if c != '\u{1B}' => BASIC.iter().position(|&b| b == c).map(|i| i as u8),
        None => None,
    };
    if let Some(s) = basic {
        return Some(Septets::Basic(s));
    }
    let extended = match tables.single {
        Some(language) => national::find(language.single(), c),
        None => EXTENSION.iter().find(|&&(_, e)| e == c).map(|&(s, _)| s),
    };
    extended.map(Septets::Extended)
}

/// Septets needed for `text` with `tables`, or None when some character is
/// not in them.
pub fn septet_count(text: &str, tables: Tables) -> Option<usize> {
    text.chars()
        .map(|c| encode_char(c, tables).map(Septets::len))
        .sum()
}

/// Encodes `text`; None when some character is not in the tables.
pub fn encode(text: &str, tables: Tables) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        encode_char(c, tables)?.push_to(&mut out);
    }
    Some(out)
}

/// Decodes septets (values 0..=127; higher bits are ignored) written with
/// `tables`. A position a national table leaves empty shows as U+FFFD.
pub fn decode(septets: &[u8], tables: Tables) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut iter = septets.iter().map(|s| s & 0x7F);
    while let Some(s) = iter.next() {
        if s != ESC {
            out.push(tables.basic(s).unwrap_or(char::REPLACEMENT_CHARACTER));
            continue;
        }
        let Some(next) = iter.next() else {
            // A lone trailing escape carries no character.
            break;
        };
        match tables.extended(next) {
            Some(c) => out.push(c),
            // TS 23.038: an undefined extension code shows the basic-table
            // character instead; ESC ESC (reserved) shows as a space.
            None if next == ESC => out.push(' '),
            None => out.push(tables.basic(next).unwrap_or(char::REPLACEMENT_CHARACTER)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Tables = Tables::DEFAULT;

    fn encode_char_d(c: char) -> Option<Septets> {
        encode_char(c, D)
    }

    #[test]
    fn basic_table_spot_checks() {
        assert_eq!(encode_char_d('@'), Some(Septets::Basic(0x00)));
        assert_eq!(encode_char_d('$'), Some(Septets::Basic(0x02)));
        assert_eq!(encode_char_d('Ç'), Some(Septets::Basic(0x09)));
        assert_eq!(encode_char_d('\n'), Some(Septets::Basic(0x0A)));
        assert_eq!(encode_char_d('\r'), Some(Septets::Basic(0x0D)));
        assert_eq!(encode_char_d('¤'), Some(Septets::Basic(0x24)));
        assert_eq!(encode_char_d('§'), Some(Septets::Basic(0x5F)));
        assert_eq!(encode_char_d('à'), Some(Septets::Basic(0x7F)));
        assert_eq!(encode_char_d('\u{1B}'), None);
        assert_eq!(encode_char_d('`'), None);
        assert_eq!(encode_char_d('ř'), None);
        assert_eq!(encode_char_d('\t'), None);
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
            assert_eq!(encode_char(c, D), Some(Septets::Extended(s)), "{c:?}");
            assert_eq!(decode(&[ESC, s], D), c.to_string());
        }
    }

    #[test]
    fn every_basic_septet_round_trips() {
        for s in 0u8..128 {
            if s == ESC {
                continue;
            }
            let text = decode(&[s], D);
            assert_eq!(encode(&text, D), Some(vec![s]), "septet {s:#04x}");
        }
    }

    #[test]
    fn counts_extension_chars_as_two() {
        assert_eq!(septet_count("a€b", D), Some(4));
        assert_eq!(septet_count("ř", D), None);
        assert_eq!(septet_count("", D), Some(0));
    }

    #[test]
    fn odd_escapes() {
        // Undefined extension code: the basic character is shown.
        assert_eq!(decode(&[ESC, 0x41], D), "A");
        assert_eq!(decode(&[ESC, ESC], D), " ");
        assert_eq!(decode(&[0x41, ESC], D), "A");
    }
}
