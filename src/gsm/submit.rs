//! SMS-SUBMIT encoding (3GPP TS 23.040 §9.2.2.2), with long texts split
//! into concatenated parts (§9.2.3.24.1).

use std::fmt;

use super::{address, alphabet, septets};

/// The alphabet a text is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// GSM 03.38 default alphabet with the extension table, 7 bits a septet.
    Gsm7,
    /// UTF-16 big endian (what phones accept as "UCS-2", surrogates included).
    Ucs2,
}

const GSM7_SINGLE: usize = 160;
const GSM7_PART: usize = 153;
const UCS2_SINGLE: usize = 70;
const UCS2_PART: usize = 67;

/// Which encoding the text needs and how many parts it takes (1 if it fits a
/// single SMS: ≤160 septets counting an extension char as 2, or ≤70 UTF-16
/// code units; else parts of ≤153 septets / ≤67 UTF-16 units).
pub fn plan(text: &str) -> (Encoding, usize) {
    let (encoding, ranges) = part_ranges(text, GSM7_PART, UCS2_PART);
    (encoding, ranges.len())
}

/// Splits text into the part texts, never splitting an extension character's
/// escape pair (ESC + char) across parts, and never splitting a UTF-16
/// surrogate pair (emoji) across UCS-2 parts. An empty text is one empty part.
pub fn split(text: &str) -> (Encoding, Vec<String>) {
    split_with(text, GSM7_PART, UCS2_PART)
}

/// [`split`] with other part sizes (a 16-bit reference header is one octet
/// longer, which costs a septet or a UTF-16 unit per part).
pub(super) fn split_with(
    text: &str,
    gsm7_part: usize,
    ucs2_part: usize,
) -> (Encoding, Vec<String>) {
    let (encoding, ranges) = part_ranges(text, gsm7_part, ucs2_part);
    let parts = ranges
        .into_iter()
        .map(|(a, b)| text[a..b].to_string())
        .collect();
    (encoding, parts)
}

/// Byte ranges of the parts. Parts are filled greedily, whole characters at
/// a time, so a two-unit character that does not fit starts the next part.
fn part_ranges(text: &str, gsm7_part: usize, ucs2_part: usize) -> (Encoding, Vec<(usize, usize)>) {
    let (encoding, units, single, part): (Encoding, fn(char) -> usize, usize, usize) =
        if alphabet::septet_count(text).is_some() {
            let septets = |c| alphabet::encode_char(c).map_or(1, alphabet::Septets::len);
            (Encoding::Gsm7, septets, GSM7_SINGLE, gsm7_part)
        } else {
            (Encoding::Ucs2, char::len_utf16, UCS2_SINGLE, ucs2_part)
        };
    let total: usize = text.chars().map(units).sum();
    if total <= single {
        return (encoding, vec![(0, text.len())]);
    }
    let mut ranges = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, c) in text.char_indices() {
        let n = units(c);
        if used + n > part {
            ranges.push((start, i));
            (start, used) = (i, 0);
        }
        used += n;
    }
    ranges.push((start, text.len()));
    (encoding, ranges)
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
            let udh = [0x05, 0x00, 0x03, opts.concat_ref, total, seq];
            let udh = (total > 1).then_some(&udh[..]);
            let tpdu = tpdu(&da, encoding, part, udh, opts);
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

fn tpdu(
    da: &[u8],
    encoding: Encoding,
    text: &str,
    udh: Option<&[u8]>,
    opts: &SubmitOptions,
) -> Vec<u8> {
    let mut first = MTI_SUBMIT;
    if opts.validity.is_some() {
        first |= VPF_RELATIVE;
    }
    if opts.status_report {
        first |= SRR;
    }
    if udh.is_some() {
        first |= UDHI;
    }
    let dcs = match encoding {
        Encoding::Gsm7 => DCS_GSM7,
        Encoding::Ucs2 => DCS_UCS2,
    };
    let mut out = Vec::with_capacity(160);
    out.extend([first, 0x00]); // TP-MR 0: the modem assigns the reference
    out.extend_from_slice(da);
    out.extend([0x00, dcs]); // TP-PID 0: plain short message
    out.extend(opts.validity);

    let header = udh.unwrap_or_default();
    let (udl, ud) = user_data(encoding, text, header);
    out.push(udl);
    out.extend(ud);
    out
}

/// TP-UDL and TP-UD for a text with an optional user data header (its
/// length octet included): GSM 7-bit after fill bits so the text starts on
/// a septet boundary, or UCS-2. The text must fit `encoding`.
pub(super) fn user_data(encoding: Encoding, text: &str, header: &[u8]) -> (u8, Vec<u8>) {
    let mut ud = header.to_vec();
    match encoding {
        Encoding::Gsm7 => {
            // Every character was checked by `split`.
            let text = alphabet::encode(text).unwrap_or_default();
            let header_bits = header.len() * 8;
            let fill = (7 - header_bits % 7) % 7;
            let header_septets = (header_bits + fill) / 7;
            ud.extend(septets::pack(&text, fill));
            ((header_septets + text.len()) as u8, ud)
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
