//! Legacy 8-bit charsets for request bytes that are not valid UTF-8.
//!
//! Tables for bytes 0x80..=0xFF, generated from Python's codecs (undefined
//! bytes map to the same code point as Latin-1 would, so nothing is dropped).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legacy {
    Windows1250,
    Iso8859_2,
    Windows1252,
    Latin1,
}

impl Legacy {
    /// Parses a charset name as written in the config (`windows-1250`, `cp1250`, ...).
    pub fn from_name(name: &str) -> Option<Legacy> {
        match name.to_ascii_lowercase().replace('_', "-").as_str() {
            "windows-1250" | "cp1250" => Some(Legacy::Windows1250),
            "iso-8859-2" | "latin2" => Some(Legacy::Iso8859_2),
            "windows-1252" | "cp1252" => Some(Legacy::Windows1252),
            "iso-8859-1" | "latin1" => Some(Legacy::Latin1),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Legacy::Windows1250 => "windows-1250",
            Legacy::Iso8859_2 => "iso-8859-2",
            Legacy::Windows1252 => "windows-1252",
            Legacy::Latin1 => "iso-8859-1",
        }
    }

    fn high_half(self) -> Option<&'static [char; 128]> {
        match self {
            Legacy::Windows1250 => Some(&WINDOWS_1250),
            Legacy::Iso8859_2 => Some(&ISO_8859_2),
            Legacy::Windows1252 => Some(&WINDOWS_1252),
            Legacy::Latin1 => None,
        }
    }

    pub fn decode_byte(self, b: u8) -> char {
        match (b, self.high_half()) {
            (0x80.., Some(table)) => table[usize::from(b - 0x80)],
            _ => char::from(b),
        }
    }
}

/// Decodes a request line: UTF-8 when the whole line is valid UTF-8, else
/// every byte through the legacy charset. Mixing the two within a line would
/// turn a legacy pair such as `Ă©` into an accidental UTF-8 `é`.
pub fn decode_line(bytes: &[u8], legacy: Legacy) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| legacy.decode_byte(b)).collect(),
    }
}

#[rustfmt::skip]
static WINDOWS_1250: [char; 128] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0083}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{0088}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{015A}', '\u{0164}', '\u{017D}', '\u{0179}',
    '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{0098}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{015B}', '\u{0165}', '\u{017E}', '\u{017A}',
    '\u{00A0}', '\u{02C7}', '\u{02D8}', '\u{0141}', '\u{00A4}', '\u{0104}', '\u{00A6}', '\u{00A7}',
    '\u{00A8}', '\u{00A9}', '\u{015E}', '\u{00AB}', '\u{00AC}', '\u{00AD}', '\u{00AE}', '\u{017B}',
    '\u{00B0}', '\u{00B1}', '\u{02DB}', '\u{0142}', '\u{00B4}', '\u{00B5}', '\u{00B6}', '\u{00B7}',
    '\u{00B8}', '\u{0105}', '\u{015F}', '\u{00BB}', '\u{013D}', '\u{02DD}', '\u{013E}', '\u{017C}',
    '\u{0154}', '\u{00C1}', '\u{00C2}', '\u{0102}', '\u{00C4}', '\u{0139}', '\u{0106}', '\u{00C7}',
    '\u{010C}', '\u{00C9}', '\u{0118}', '\u{00CB}', '\u{011A}', '\u{00CD}', '\u{00CE}', '\u{010E}',
    '\u{0110}', '\u{0143}', '\u{0147}', '\u{00D3}', '\u{00D4}', '\u{0150}', '\u{00D6}', '\u{00D7}',
    '\u{0158}', '\u{016E}', '\u{00DA}', '\u{0170}', '\u{00DC}', '\u{00DD}', '\u{0162}', '\u{00DF}',
    '\u{0155}', '\u{00E1}', '\u{00E2}', '\u{0103}', '\u{00E4}', '\u{013A}', '\u{0107}', '\u{00E7}',
    '\u{010D}', '\u{00E9}', '\u{0119}', '\u{00EB}', '\u{011B}', '\u{00ED}', '\u{00EE}', '\u{010F}',
    '\u{0111}', '\u{0144}', '\u{0148}', '\u{00F3}', '\u{00F4}', '\u{0151}', '\u{00F6}', '\u{00F7}',
    '\u{0159}', '\u{016F}', '\u{00FA}', '\u{0171}', '\u{00FC}', '\u{00FD}', '\u{0163}', '\u{02D9}',
];

#[rustfmt::skip]
static ISO_8859_2: [char; 128] = [
    '\u{0080}', '\u{0081}', '\u{0082}', '\u{0083}', '\u{0084}', '\u{0085}', '\u{0086}', '\u{0087}',
    '\u{0088}', '\u{0089}', '\u{008A}', '\u{008B}', '\u{008C}', '\u{008D}', '\u{008E}', '\u{008F}',
    '\u{0090}', '\u{0091}', '\u{0092}', '\u{0093}', '\u{0094}', '\u{0095}', '\u{0096}', '\u{0097}',
    '\u{0098}', '\u{0099}', '\u{009A}', '\u{009B}', '\u{009C}', '\u{009D}', '\u{009E}', '\u{009F}',
    '\u{00A0}', '\u{0104}', '\u{02D8}', '\u{0141}', '\u{00A4}', '\u{013D}', '\u{015A}', '\u{00A7}',
    '\u{00A8}', '\u{0160}', '\u{015E}', '\u{0164}', '\u{0179}', '\u{00AD}', '\u{017D}', '\u{017B}',
    '\u{00B0}', '\u{0105}', '\u{02DB}', '\u{0142}', '\u{00B4}', '\u{013E}', '\u{015B}', '\u{02C7}',
    '\u{00B8}', '\u{0161}', '\u{015F}', '\u{0165}', '\u{017A}', '\u{02DD}', '\u{017E}', '\u{017C}',
    '\u{0154}', '\u{00C1}', '\u{00C2}', '\u{0102}', '\u{00C4}', '\u{0139}', '\u{0106}', '\u{00C7}',
    '\u{010C}', '\u{00C9}', '\u{0118}', '\u{00CB}', '\u{011A}', '\u{00CD}', '\u{00CE}', '\u{010E}',
    '\u{0110}', '\u{0143}', '\u{0147}', '\u{00D3}', '\u{00D4}', '\u{0150}', '\u{00D6}', '\u{00D7}',
    '\u{0158}', '\u{016E}', '\u{00DA}', '\u{0170}', '\u{00DC}', '\u{00DD}', '\u{0162}', '\u{00DF}',
    '\u{0155}', '\u{00E1}', '\u{00E2}', '\u{0103}', '\u{00E4}', '\u{013A}', '\u{0107}', '\u{00E7}',
    '\u{010D}', '\u{00E9}', '\u{0119}', '\u{00EB}', '\u{011B}', '\u{00ED}', '\u{00EE}', '\u{010F}',
    '\u{0111}', '\u{0144}', '\u{0148}', '\u{00F3}', '\u{00F4}', '\u{0151}', '\u{00F6}', '\u{00F7}',
    '\u{0159}', '\u{016F}', '\u{00FA}', '\u{0171}', '\u{00FC}', '\u{00FD}', '\u{0163}', '\u{02D9}',
];

#[rustfmt::skip]
static WINDOWS_1252: [char; 128] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}',
    '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
    '\u{00A0}', '\u{00A1}', '\u{00A2}', '\u{00A3}', '\u{00A4}', '\u{00A5}', '\u{00A6}', '\u{00A7}',
    '\u{00A8}', '\u{00A9}', '\u{00AA}', '\u{00AB}', '\u{00AC}', '\u{00AD}', '\u{00AE}', '\u{00AF}',
    '\u{00B0}', '\u{00B1}', '\u{00B2}', '\u{00B3}', '\u{00B4}', '\u{00B5}', '\u{00B6}', '\u{00B7}',
    '\u{00B8}', '\u{00B9}', '\u{00BA}', '\u{00BB}', '\u{00BC}', '\u{00BD}', '\u{00BE}', '\u{00BF}',
    '\u{00C0}', '\u{00C1}', '\u{00C2}', '\u{00C3}', '\u{00C4}', '\u{00C5}', '\u{00C6}', '\u{00C7}',
    '\u{00C8}', '\u{00C9}', '\u{00CA}', '\u{00CB}', '\u{00CC}', '\u{00CD}', '\u{00CE}', '\u{00CF}',
    '\u{00D0}', '\u{00D1}', '\u{00D2}', '\u{00D3}', '\u{00D4}', '\u{00D5}', '\u{00D6}', '\u{00D7}',
    '\u{00D8}', '\u{00D9}', '\u{00DA}', '\u{00DB}', '\u{00DC}', '\u{00DD}', '\u{00DE}', '\u{00DF}',
    '\u{00E0}', '\u{00E1}', '\u{00E2}', '\u{00E3}', '\u{00E4}', '\u{00E5}', '\u{00E6}', '\u{00E7}',
    '\u{00E8}', '\u{00E9}', '\u{00EA}', '\u{00EB}', '\u{00EC}', '\u{00ED}', '\u{00EE}', '\u{00EF}',
    '\u{00F0}', '\u{00F1}', '\u{00F2}', '\u{00F3}', '\u{00F4}', '\u{00F5}', '\u{00F6}', '\u{00F7}',
    '\u{00F8}', '\u{00F9}', '\u{00FA}', '\u{00FB}', '\u{00FC}', '\u{00FD}', '\u{00FE}', '\u{00FF}',
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn czech_windows_1250_bytes_decode() {
        // "Příliš žluťoučký" as a Czech Windows client sends it
        let bytes = b"P\xf8\xedli\x9a \x9elu\x9dou\xe8k\xfd";
        assert_eq!(decode_line(bytes, Legacy::Windows1250), "Příliš žluťoučký");
    }

    #[test]
    fn valid_utf8_is_kept() {
        assert_eq!(
            decode_line("Příliš €".as_bytes(), Legacy::Windows1250),
            "Příliš €"
        );
    }

    #[test]
    fn iso_8859_2_differs_from_windows_1250() {
        assert_eq!(decode_line(b"\xb9", Legacy::Iso8859_2), "š");
        assert_eq!(decode_line(b"\x9a", Legacy::Windows1250), "š");
        assert_eq!(decode_line(b"\x80", Legacy::Windows1250), "€");
    }

    #[test]
    fn undefined_bytes_are_not_dropped() {
        // 0x81 is undefined in windows-1250
        assert_eq!(
            decode_line(b"a\x81b", Legacy::Windows1250).chars().count(),
            3
        );
    }

    #[test]
    fn names() {
        assert_eq!(Legacy::from_name("CP1250"), Some(Legacy::Windows1250));
        assert_eq!(Legacy::from_name("iso_8859_2"), Some(Legacy::Iso8859_2));
        assert_eq!(Legacy::from_name("koi8-r"), None);
    }
}
