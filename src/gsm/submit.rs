//! SMS-SUBMIT encoding (3GPP TS 23.040 §9.2.2.2), with long texts split
//! into concatenated parts (§9.2.3.24.1).

use std::fmt;

use unicode_segmentation::UnicodeSegmentation;

use super::alphabet::{self, Tables};
use super::national::Language;
use super::{address, septets};

/// The alphabet a text is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// GSM 03.38 default alphabet with the extension table, 7 bits a septet.
    Gsm7,
    /// The default alphabet with a national language single shift table in
    /// place of the extension table (TS 23.038 §6.2.1.2.5), named in each
    /// part's header (IE 0x24, three octets): Turkish, Spanish or
    /// Portuguese, when that takes fewer parts than UCS-2.
    Gsm7Shift(Language),
    /// UTF-16 big endian (what phones accept as "UCS-2", surrogates included).
    Ucs2,
}

impl Encoding {
    /// The 7-bit tables of a 7-bit encoding.
    pub fn tables(self) -> Tables {
        match self {
            Encoding::Gsm7Shift(language) => Tables::single_shift(language),
            Encoding::Gsm7 | Encoding::Ucs2 => Tables::DEFAULT,
        }
    }

    fn is_gsm7(self) -> bool {
        !matches!(self, Encoding::Ucs2)
    }

    /// UTF-16 units or septets of one character.
    fn units(self, c: char) -> usize {
        match self {
            Encoding::Ucs2 => c.len_utf16(),
            _ => alphabet::encode_char(c, self.tables()).map_or(1, alphabet::Septets::len),
        }
    }
}

/// The languages whose single shift table smss sends with, tried in order.
const SEND_LANGUAGES: [Language; 3] = [Language::Turkish, Language::Spanish, Language::Portuguese];

/// Octets of the user data header (its length octet included) of a part:
/// the concatenation element (8- or 16-bit reference) when there are
/// several parts, the single shift element for [`Encoding::Gsm7Shift`].
fn header_len(encoding: Encoding, multipart: bool, ref16: bool) -> usize {
    let concat = match (multipart, ref16) {
        (false, _) => 0,
        (true, false) => 5,
        (true, true) => 6,
    };
    let shift = if matches!(encoding, Encoding::Gsm7Shift(_)) {
        3
    } else {
        0
    };
    match concat + shift {
        0 => 0,
        ies => 1 + ies,
    }
}

/// Septets the header and its fill bits take (7-bit user data).
fn header_septets(header_octets: usize) -> usize {
    (header_octets * 8).div_ceil(7)
}

/// What one part holds after a header of `header_octets`: septets (of 160)
/// or UTF-16 units (of 70).
fn capacity(encoding: Encoding, header_octets: usize) -> usize {
    match encoding {
        Encoding::Ucs2 => (140 - header_octets) / 2,
        _ => 160 - header_septets(header_octets),
    }
}

/// Which encoding the text needs and how many parts it takes (1 if it fits a
/// single SMS: ≤160 septets counting an extension char as 2, or ≤70 UTF-16
/// code units; else parts of ≤153 septets / ≤67 UTF-16 units; 155 and 149
/// with a single shift table).
pub fn plan(text: &str) -> (Encoding, usize) {
    let (encoding, ranges) = part_ranges(text, false);
    (encoding, ranges.len())
}

/// Splits text into the part texts, never splitting an extension character's
/// escape pair (ESC + char) across parts, and never splitting a UTF-16
/// surrogate pair (emoji) across UCS-2 parts; a UCS-2 part ends where a
/// grapheme does (a letter and its accents, a flag, a family emoji) when
/// one ends within it. An empty text is one empty part.
pub fn split(text: &str) -> (Encoding, Vec<String>) {
    split_ref(text, false)
}

/// [`split`] for parts with a 16-bit reference header (one octet longer,
/// which costs a septet or a UTF-16 unit per part).
pub(super) fn split_ref(text: &str, ref16: bool) -> (Encoding, Vec<String>) {
    let (encoding, ranges) = part_ranges(text, ref16);
    let parts = ranges
        .into_iter()
        .map(|(a, b)| text[a..b].to_string())
        .collect();
    (encoding, parts)
}

/// The encoding and the byte ranges of the parts: the default alphabet when
/// every character is in it, else a single shift table when that takes
/// fewer parts than UCS-2, else UCS-2.
fn part_ranges(text: &str, ref16: bool) -> (Encoding, Vec<(usize, usize)>) {
    if alphabet::septet_count(text, Tables::DEFAULT).is_some() {
        return (Encoding::Gsm7, ranges_in(text, Encoding::Gsm7, ref16));
    }
    let mut best = (Encoding::Ucs2, ranges_in(text, Encoding::Ucs2, ref16));
    for language in SEND_LANGUAGES {
        let encoding = Encoding::Gsm7Shift(language);
        if alphabet::septet_count(text, encoding.tables()).is_none() {
            continue;
        }
        let ranges = ranges_in(text, encoding, ref16);
        if ranges.len() < best.1.len() {
            best = (encoding, ranges);
        }
    }
    best
}

/// Whether a 7-bit part that ends in CR must carry a second one: its user
/// data would end on an octet boundary, where a receiver takes a final CR
/// for padding (TS 23.038 §6.1.2.3.1).
fn doubles_final_cr(part: &str, header_septets: usize, septets: usize) -> bool {
    part.ends_with('\r') && (header_septets + septets).is_multiple_of(8)
}

/// Byte ranges of the parts in `encoding`. Parts are filled greedily, whole
/// characters at a time (graphemes for UCS-2, where they fit a part), so a
/// character that does not fit starts the next part; a 7-bit part that
/// would end in a CR needing a second one it has no room for leaves the CR
/// to the next part.
fn ranges_in(text: &str, encoding: Encoding, ref16: bool) -> Vec<(usize, usize)> {
    let gsm7 = encoding.is_gsm7();
    let single_header = header_len(encoding, false, ref16);
    let single = capacity(encoding, single_header);
    let total: usize = text.chars().map(|c| encoding.units(c)).sum();
    let extra = usize::from(gsm7 && doubles_final_cr(text, header_septets(single_header), total));
    if total + extra <= single {
        return vec![(0, text.len())];
    }
    let header = header_len(encoding, true, ref16);
    let part = capacity(encoding, header);
    let hs = header_septets(header);
    let mut ranges = Vec::new();
    let (mut start, mut used) = (0, 0);
    // Ends the part at `at`; a full 7-bit part ending in CR gives the CR to
    // the next one instead (two CRs would not fit).
    let cut = |ranges: &mut Vec<(usize, usize)>, start: &mut usize, used: &mut usize, at: usize| {
        if gsm7 && *used == part && doubles_final_cr(&text[*start..at], hs, *used) {
            ranges.push((*start, at - 1));
            (*start, *used) = (at - 1, 1);
        } else {
            ranges.push((*start, at));
            (*start, *used) = (at, 0);
        }
    };
    let segments: Box<dyn Iterator<Item = (usize, &str)>> = if gsm7 {
        Box::new(
            text.char_indices()
                .map(|(i, c)| (i, &text[i..i + c.len_utf8()])),
        )
    } else {
        Box::new(text.grapheme_indices(true))
    };
    for (at, segment) in segments {
        let n: usize = segment.chars().map(|c| encoding.units(c)).sum();
        if used + n <= part {
            used += n;
            continue;
        }
        if used > 0 {
            cut(&mut ranges, &mut start, &mut used, at);
            if used + n <= part {
                used += n;
                continue;
            }
        }
        // A grapheme longer than a part: split between its characters.
        for (i, c) in segment.char_indices() {
            let m = encoding.units(c);
            if used + m > part && used > 0 {
                cut(&mut ranges, &mut start, &mut used, at + i);
            }
            used += m;
        }
    }
    if gsm7 && used == part && doubles_final_cr(&text[start..], hs, used) {
        ranges.push((start, text.len() - 1));
        start = text.len() - 1;
    }
    ranges.push((start, text.len()));
    ranges
}

/// How to build the SMS-SUBMIT PDUs.
#[derive(Debug, Clone)]
pub struct SubmitOptions {
    /// Numbers without '+' or '00' prefix: true = international (TON 0x91),
    /// false = national/unknown (0x81).
    pub bare_numbers_international: bool,
    /// 8-bit concatenation reference used when the text needs several parts.
    pub concat_ref: u8,
    /// Set TP-SRR (request a status report).
    pub status_report: bool,
    /// TP-VP relative validity octet (TP-VPF = relative); None = no validity
    /// period field.
    pub validity: Option<u8>,
    /// Refuse texts needing more parts than this.
    pub max_parts: usize,
    /// Message class 0 (TS 23.038 §4: TP-DCS bit 4 set, class bits 00): a
    /// "flash" SMS the phone shows at once and does not store.
    pub flash: bool,
}

/// The relative TP-VP (TS 23.040 §9.2.3.12.1) for a validity of `d`: the
/// longest period the field can say that is not longer than `d` (a
/// message must not be delivered later than it was meant to), but at least
/// its shortest, 5 minutes; at most 63 weeks.
pub fn relative_validity(d: std::time::Duration) -> u8 {
    let minutes = d.as_secs() / 60;
    let (hours, days, weeks) = (minutes / 60, minutes / 1440, minutes / 10080);
    if minutes < 5 {
        0
    } else if minutes <= 12 * 60 {
        (minutes / 5 - 1) as u8
    } else if hours < 24 {
        (143 + (minutes - 12 * 60) / 30) as u8
    } else if days <= 30 || weeks < 5 {
        (166 + days.min(30)) as u8
    } else {
        (192 + weeks.min(63)) as u8
    }
}

impl Default for SubmitOptions {
    fn default() -> Self {
        SubmitOptions {
            bare_numbers_international: true,
            concat_ref: 0,
            status_report: false,
            // 0xAA: 4 days.
            validity: Some(0xAA),
            max_parts: 10,
            flash: false,
        }
    }
}

/// One SMS-SUBMIT, ready for AT+CMGS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitPart {
    /// Hex (uppercase) of the whole PDU as written after the AT+CMGS prompt,
    /// starting with "00" (SMSC length 0 = use the SIM's SMSC).
    pub pdu_hex: String,
    /// Octets of the TPDU (excluding the SMSC field): the <length> of
    /// AT+CMGS=<length>.
    pub tpdu_len: usize,
    /// 1-based.
    pub seq: u8,
    pub total: u8,
}

/// Why a text cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    InvalidNumber(String),
    EmptyText,
    TooManyParts { needed: usize, max: usize },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::InvalidNumber(n) => write!(
                f,
                "invalid phone number '{n}': use + or digits, 3 to 20 digits"
            ),
            EncodeError::EmptyText => write!(f, "the text is empty"),
            EncodeError::TooManyParts { needed, max } => {
                write!(f, "text needs {needed} parts, more than the limit of {max}")
            }
        }
    }
}

impl std::error::Error for EncodeError {}

const MTI_SUBMIT: u8 = 0x01;
const VPF_RELATIVE: u8 = 0x10;
const SRR: u8 = 0x20;
const UDHI: u8 = 0x40;
const DCS_GSM7: u8 = 0x00;
const DCS_UCS2: u8 = 0x08;
/// The septet CR.
const CR: u8 = 0x0D;

/// Encodes `text` to `number` as one SMS-SUBMIT per part.
pub fn encode_submit(
    number: &str,
    text: &str,
    opts: &SubmitOptions,
) -> Result<Vec<SubmitPart>, EncodeError> {
    let (toa, digits) = address::parse_number(number, opts.bare_numbers_international)
        .ok_or_else(|| EncodeError::InvalidNumber(number.to_string()))?;
    if text.is_empty() {
        return Err(EncodeError::EmptyText);
    }
    let (encoding, parts) = split(text);
    // The part numbers are octets, so 255 is a hard ceiling.
    let max = opts.max_parts.min(255);
    if parts.len() > max {
        return Err(EncodeError::TooManyParts {
            needed: parts.len(),
            max,
        });
    }
    let total = parts.len() as u8;
    let da = address::encode(toa, digits);
    let pdus = parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let seq = i as u8 + 1;
            // Concatenation, 8-bit reference (TS 23.040 §9.2.3.24.1).
            let concat = (total > 1).then_some([0x00, 0x03, opts.concat_ref, total, seq]);
            let udh = header(concat.as_ref().map(|c| &c[..]), encoding);
            let tpdu = tpdu(&da, encoding, part, &udh, opts);
            SubmitPart {
                pdu_hex: format!("00{}", to_hex(&tpdu)),
                tpdu_len: tpdu.len(),
                seq,
                total,
            }
        })
        .collect();
    Ok(pdus)
}

/// The user data header (length octet first) of a part: the concatenation
/// element (`concat`: IEI, length and data), then the single shift element
/// of [`Encoding::Gsm7Shift`] (TS 23.040 §9.2.3.24.15); empty for neither.
pub(super) fn header(concat: Option<&[u8]>, encoding: Encoding) -> Vec<u8> {
    let mut ies = concat.unwrap_or_default().to_vec();
    if let Encoding::Gsm7Shift(language) = encoding {
        ies.extend([0x24, 0x01, language.id()]);
    }
    if ies.is_empty() {
        return ies;
    }
    let mut h = vec![ies.len() as u8];
    h.extend(ies);
    h
}

fn tpdu(da: &[u8], encoding: Encoding, text: &str, udh: &[u8], opts: &SubmitOptions) -> Vec<u8> {
    let mut first = MTI_SUBMIT;
    if opts.validity.is_some() {
        first |= VPF_RELATIVE;
    }
    if opts.status_report {
        first |= SRR;
    }
    if !udh.is_empty() {
        first |= UDHI;
    }
    let dcs = match encoding {
        Encoding::Gsm7 | Encoding::Gsm7Shift(_) => DCS_GSM7,
        Encoding::Ucs2 => DCS_UCS2,
    };
    // Bit 4: the class bits mean something; class 0 is 00.
    let dcs = if opts.flash { dcs | 0x10 } else { dcs };
    let mut out = Vec::with_capacity(160);
    out.extend([first, 0x00]); // TP-MR 0: the modem assigns the reference
    out.extend_from_slice(da);
    out.extend([0x00, dcs]); // TP-PID 0: plain short message
    out.extend(opts.validity);

    let (udl, ud) = user_data(encoding, text, udh);
    out.push(udl);
    out.extend(ud);
    out
}

/// TP-UDL and TP-UD for a text with an optional user data header (its
/// length octet included; empty for none): GSM 7-bit after fill bits so
/// the text starts on a septet boundary, or UCS-2. The text must fit
/// `encoding`. 7-bit user data that leaves 7 spare bits in its last octet
/// has them set to CR rather than zeros, and a final CR that would end on
/// an octet boundary is doubled (TS 23.038 §6.1.2.3.1), so that no
/// receiver shows a trailing '@' or drops a wanted CR.
pub(super) fn user_data(encoding: Encoding, text: &str, header: &[u8]) -> (u8, Vec<u8>) {
    let mut ud = header.to_vec();
    match encoding {
        Encoding::Gsm7 | Encoding::Gsm7Shift(_) => {
            // Every character was checked by `split`.
            let mut text = alphabet::encode(text, encoding.tables()).unwrap_or_default();
            let header_bits = header.len() * 8;
            let fill = (7 - header_bits % 7) % 7;
            let header_septets = (header_bits + fill) / 7;
            let udl = header_septets + text.len();
            if udl.is_multiple_of(8) && text.last() == Some(&CR) {
                text.push(CR);
            }
            let udl = header_septets + text.len();
            let mut packed = septets::pack(&text, fill);
            if udl % 8 == 7
                && let Some(last) = packed.last_mut()
            {
                *last |= CR << 1;
            }
            ud.extend(packed);
            (udl as u8, ud)
        }
        Encoding::Ucs2 => {
            let units: Vec<u16> = text.encode_utf16().collect();
            ud.extend(units.iter().flat_map(|u| u.to_be_bytes()));
            ((header.len() + 2 * units.len()) as u8, ud)
        }
    }
}

/// Uppercase hex, as PDUs are written.
pub fn to_hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> SubmitOptions {
        SubmitOptions::default()
    }

    #[test]
    fn plans() {
        assert_eq!(plan(""), (Encoding::Gsm7, 1));
        assert_eq!(plan("hello"), (Encoding::Gsm7, 1));
        assert_eq!(plan(&"x".repeat(160)), (Encoding::Gsm7, 1));
        assert_eq!(plan(&"x".repeat(161)), (Encoding::Gsm7, 2));
        assert_eq!(plan(&"x".repeat(306)), (Encoding::Gsm7, 2));
        assert_eq!(plan(&"x".repeat(307)), (Encoding::Gsm7, 3));
        assert_eq!(plan(&"€".repeat(80)), (Encoding::Gsm7, 1));
        assert_eq!(plan(&("€".repeat(80) + "x")), (Encoding::Gsm7, 2));
        assert_eq!(plan(&"ř".repeat(70)), (Encoding::Ucs2, 1));
        assert_eq!(plan(&"ř".repeat(71)), (Encoding::Ucs2, 2));
        assert_eq!(plan(&"ř".repeat(134)), (Encoding::Ucs2, 2));
        assert_eq!(plan(&"ř".repeat(135)), (Encoding::Ucs2, 3));
        assert_eq!(plan(&"😀".repeat(35)), (Encoding::Ucs2, 1));
        assert_eq!(plan(&"😀".repeat(36)), (Encoding::Ucs2, 2));
    }

    #[test]
    fn escape_pair_at_the_153rd_septet_moves_to_the_next_part() {
        let text = format!("{}€{}", "x".repeat(152), "y".repeat(20));
        let (enc, parts) = split(&text);
        assert_eq!(enc, Encoding::Gsm7);
        assert_eq!(parts, ["x".repeat(152), format!("€{}", "y".repeat(20))]);
        // One septet earlier it fits exactly.
        let text = format!("{}€{}", "x".repeat(151), "y".repeat(20));
        let (_, parts) = split(&text);
        assert_eq!(parts[0], format!("{}€", "x".repeat(151)));
    }

    #[test]
    fn emoji_at_the_67th_unit_moves_to_the_next_part() {
        let text = format!("{}😀{}", "ř".repeat(66), "ř".repeat(10));
        let (enc, parts) = split(&text);
        assert_eq!(enc, Encoding::Ucs2);
        assert_eq!(parts, ["ř".repeat(66), format!("😀{}", "ř".repeat(10))]);
    }

    // SMS-SUBMIT "hola" to +34616585119 with TP-VP 0xAA from
    // pmarti/python-messaging messaging/test/test_sms.py
    // (test_encoding_validity, relative validity): PDU and AT+CMGS length 18.
    #[test]
    fn known_single_gsm7() {
        let p = encode_submit("+34616585119", "hola", &opts()).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].pdu_hex, "0011000B914316565811F90000AA04E8373B0C");
        assert_eq!(p[0].tpdu_len, 18);
        assert_eq!((p[0].seq, p[0].total), (1, 1));
    }

    // Same source (test_encoding_request_status): TP-SRR, no TP-VP.
    #[test]
    fn known_status_report_request() {
        let o = SubmitOptions {
            status_report: true,
            validity: None,
            ..opts()
        };
        let p = encode_submit("+34654123456", "hey yo", &o).unwrap();
        assert_eq!(p[0].pdu_hex, "0021000B914356143254F6000006E8721E947F03");
    }

    // Same source (test_encoding_ucs2_message): "Русский" to a national
    // number with TP-VP 0xAA.
    #[test]
    fn known_ucs2() {
        let o = SubmitOptions {
            bare_numbers_international: false,
            ..opts()
        };
        let p = encode_submit("655345678", "Русский", &o).unwrap();
        assert_eq!(
            p[0].pdu_hex,
            "001100098156355476F80008AA0E0420044304410441043A04380439"
        );
    }

    // Same source (test_encoding_multipart_7bit): three parts, reference
    // 136 (0x88), TP-VP 0xAA, national number. Their first octet 0x51 is ours.
    #[test]
    fn known_multipart_gsm7() {
        let text = "Or walk with Kings - nor lose the common touch, if neither foes nor loving friends can hurt you, If all men count with you, but none too much; If you can fill the unforgiving minute With sixty seconds' worth of distance run, Yours is the Earth and everything thats in it, And - which is more - you will be a Man, my son";
        let o = SubmitOptions {
            bare_numbers_international: false,
            concat_ref: 136,
            ..opts()
        };
        let p = encode_submit("655345678", text, &o).unwrap();
        let want = [
            "005100098156355476F80000AAA00500038803019E72D03DCC5E83EE693A1AB44CBBCF73500BE47ECB41ECF7BC0CA2A3CBA0F1BBDD7EBB41F4777D8C6681D26690BB9CA6A3CB7290F95D9E83DC6F3988FDB6A7DD6790599E2EBBC973D038EC06A1EB723A28FFAEB340493328CC6683DA653768FCAEBBE9A07B9A8E06E5DF7516485CA783DC6F7719447FBF41EDFA18BD0325CDA0FCBB0E1A87DD",
            "005100098156355476F80000AAA005000388030240E6349B0DA2A3CBA0BADBFC969FD3F6B4FB0C6AA7DD757A19744DD3D1A0791A4FCF83E6E5F1DB4D9E9F40F7B79C8E06BDCD20727A4E0FBBC76590BCEE6681B2EFBA7C0E4ACF41747419540CCBE96850D84D0695ED65799E8E4EBBCF203A3A4C9F83D26E509ACE0205DD64500B7447A7C768507A0E6ABFE565500B947FD741F7349B0D129741",
            "005100098156355476F80000AA14050003880303C2A066D8CD02B5F3A0F9DB0D",
        ];
        assert_eq!(p.len(), 3);
        for (i, (got, want)) in p.iter().zip(want).enumerate() {
            assert_eq!(got.pdu_hex, want, "part {}", i + 1);
            assert_eq!((got.seq, got.total), (i as u8 + 1, 3));
            assert_eq!(got.tpdu_len, want.len() / 2 - 1);
        }
    }

    #[test]
    fn number_forms() {
        let no_vp = SubmitOptions {
            validity: None,
            ..opts()
        };
        let da = |n: &str, o: &SubmitOptions| {
            encode_submit(n, "a", o).unwrap()[0].pdu_hex[6..22].to_string()
        };
        assert_eq!(da("+420608337726", &no_vp), "0C91246080337762");
        assert_eq!(da("00420608337726", &no_vp), "0C91246080337762");
        assert_eq!(da("420608337726", &no_vp), "0C91246080337762");
        let national = SubmitOptions {
            bare_numbers_international: false,
            ..no_vp.clone()
        };
        assert_eq!(da("608337726", &national)[..4], *"0981");
        assert_eq!(da("+420608337726", &national), "0C91246080337762");
    }

    #[test]
    fn errors() {
        assert_eq!(
            encode_submit("abc", "x", &opts()),
            Err(EncodeError::InvalidNumber("abc".into()))
        );
        assert_eq!(
            EncodeError::InvalidNumber("abc".into()).to_string(),
            "invalid phone number 'abc': use + or digits, 3 to 20 digits"
        );
        assert_eq!(
            encode_submit("+420123", "", &opts()),
            Err(EncodeError::EmptyText)
        );
        let long = "x".repeat(153 * 11 + 1);
        let e = encode_submit("+420123", &long, &opts()).unwrap_err();
        assert_eq!(
            e,
            EncodeError::TooManyParts {
                needed: 12,
                max: 10
            }
        );
        assert_eq!(
            e.to_string(),
            "text needs 12 parts, more than the limit of 10"
        );
        let huge = SubmitOptions {
            max_parts: 1000,
            ..opts()
        };
        let e = encode_submit("+420123", &"x".repeat(153 * 256), &huge).unwrap_err();
        assert_eq!(
            e,
            EncodeError::TooManyParts {
                needed: 256,
                max: 255
            }
        );
    }

    #[test]
    fn first_octet_flags() {
        let fo = |o: &SubmitOptions, text: &str| {
            u8::from_str_radix(
                &encode_submit("+420123", text, o).unwrap()[0].pdu_hex[2..4],
                16,
            )
            .unwrap()
        };
        assert_eq!(fo(&opts(), "a"), 0x11);
        // relative validity: never longer than asked, 5 min at least
        use std::time::Duration as D;
        for (secs, vp) in [
            (0, 0),
            (299, 0),
            (300, 0),
            (600, 1),
            (3600, 11),
            (12 * 3600, 143),
            (12 * 3600 + 1799, 143),
            (13 * 3600, 145),
            (2 * 86400, 168),
            (4 * 86400, 170),
            (30 * 86400, 196),
            (33 * 86400, 196),
            (35 * 86400, 197),
            (1000 * 86400, 255),
        ] {
            assert_eq!(relative_validity(D::from_secs(secs)), vp, "{secs} s");
        }
        let o = SubmitOptions {
            validity: None,
            status_report: true,
            ..opts()
        };
        assert_eq!(fo(&o, "a"), 0x21);
        assert_eq!(fo(&o, &"a".repeat(200)), 0x61);
        assert_eq!(fo(&opts(), &"a".repeat(200)), 0x51);
    }
}
