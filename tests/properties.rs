//! Property tests (proptest) for the code that takes untrusted input: the
//! PDU codec, the request parser, the legacy charset decoder and the modem
//! line splitter. Each property holds for every input proptest generates; a
//! failure is shrunk to a minimal case and printed.
//!
//! `PROPTEST_CASES=N` runs more (or fewer) cases than the defaults below.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use unicode_segmentation::UnicodeSegmentation;

use smss::charset::{Legacy, decode_line};
use smss::gsm::{
    self, DataCoding, DeliverRef, EncodeError, Encoding, Language, SmscTime, SubmitOptions, Tables,
    Timestamp, Tpdu, decode_body, decode_pdu, encode_deliver, encode_submit, plan, split,
};
use smss::modem::at::{Event, LineSplitter};
use smss::protocol::{Options, Priority, Request, parse_line};

const ESC: u8 = 0x1B;

// ---------------------------------------------------------------- texts --

/// Characters of the GSM 7-bit default alphabet, the extension table
/// (two septets each) weighted up, and '@' (septet 0, the classic
/// trailing-zero trap), CR and LF.
fn gsm_char() -> impl Strategy<Value = char> + Clone {
    prop_oneof![
        6 => (0x20u8..0x7F)
            .prop_map(char::from)
            .prop_filter("GSM 7-bit", |&c| !"`".contains(c)),
        3 => select(vec!['€', '[', ']', '{', '}', '^', '~', '\\', '|', '\u{0C}']),
        2 => select(vec!['@', '\r', '\n', '$', '¤', 'Ç', '§', 'à', 'Δ', 'ß', 'É', 'ñ']),
    ]
}

/// Any character: GSM ones, Czech letters, astral emoji (surrogate pairs in
/// UCS-2), NUL, ESC, the replacement character, private use, and anything
/// `any::<char>()` picks.
fn any_char() -> impl Strategy<Value = char> + Clone {
    prop_oneof![
        6 => gsm_char(),
        2 => select(vec!['ř', 'ě', 'ů', 'Ř', 'Ω', 'ж', '\t', '`']),
        // Letters of the Turkish, Spanish and Portuguese single shift
        // tables (sent in 7-bit with one when that saves parts).
        2 => select(vec!['ş', 'ğ', 'ı', 'İ', 'Ş', 'á', 'í', 'ó', 'ú', 'ã', 'õ', 'ê', 'ç', 'Â']),
        2 => select(vec!['😀', '👍', '🏽', '🇨', '🇿', '𝄞', '\u{10FFFF}', '\u{1F600}']),
        1 => select(vec!['\0', '\u{1B}', '\u{FFFD}', '\u{E000}', '\u{FEFF}', '\u{2028}']),
        2 => any::<char>(),
    ]
}

/// Lengths that reach the part boundaries (70/67 UTF-16 units, 160/153
/// septets, two and three parts) as well as short and long texts.
fn text_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        0usize..12,
        60usize..80,
        130usize..175,
        290usize..320,
        0usize..900
    ]
}

fn text_of(c: impl Strategy<Value = char> + Clone) -> impl Strategy<Value = String> {
    text_len().prop_flat_map(move |n| vec(c.clone(), n).prop_map(String::from_iter))
}

/// Half GSM-only texts (7-bit encoding), half anything (mostly UCS-2).
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![text_of(gsm_char()), text_of(any_char())]
}

fn submit_options() -> impl Strategy<Value = SubmitOptions> {
    (
        any::<bool>(),
        any::<u8>(),
        any::<bool>(),
        proptest::option::of(any::<u8>()),
    )
        .prop_map(
            |(bare, concat_ref, status_report, validity)| SubmitOptions {
                bare_numbers_international: bare,
                concat_ref,
                status_report,
                validity,
                max_parts: 255,
                flash: concat_ref % 2 == 1,
            },
        )
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// TP-UDL and the octets of TP-UD of an SMS-SUBMIT PDU (SMSC field first),
/// read straight from the octets, independently of the decoder.
fn submit_udl_and_ud_octets(pdu_hex: &str) -> (usize, usize) {
    let bytes = hex_bytes(pdu_hex);
    let tpdu = &bytes[1 + usize::from(bytes[0])..];
    let vp = match (tpdu[0] >> 3) & 0x03 {
        0 => 0,
        2 => 1,
        _ => 7,
    };
    let da = 2 + usize::from(tpdu[2]).div_ceil(2);
    let udl_at = 2 + da + 2 + vp;
    (usize::from(tpdu[udl_at]), tpdu.len() - udl_at - 1)
}

/// A part must not end inside an escape pair (ESC + extension septet) or a
/// UTF-16 surrogate pair, nor start with the second half of one.
fn check_no_split_pair(coding: DataCoding, body: &[u8]) -> Result<(), TestCaseError> {
    match coding {
        DataCoding::Gsm7 => {
            // The encoder writes ESC only as the first half of a pair, so a
            // trailing run of ESC septets must be whole pairs.
            let trailing = body.iter().rev().take_while(|&&s| s == ESC).count();
            prop_assert!(
                trailing.is_multiple_of(2),
                "part ends with a lone ESC: {body:?}"
            );
        }
        DataCoding::Ucs2 => {
            prop_assert!(body.len().is_multiple_of(2));
            let units: Vec<u16> = body
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            if let Some(&last) = units.last() {
                prop_assert!(
                    !(0xD800..=0xDBFF).contains(&last),
                    "part ends with a high surrogate"
                );
            }
            if let Some(&first) = units.first() {
                prop_assert!(
                    !(0xDC00..=0xDFFF).contains(&first),
                    "part starts with a low surrogate"
                );
            }
        }
        DataCoding::EightBit => prop_assert!(false, "text sent as 8-bit data"),
    }
    Ok(())
}

fn coding_of(encoding: Encoding) -> DataCoding {
    match encoding {
        Encoding::Gsm7 | Encoding::Gsm7Shift(_) => DataCoding::Gsm7,
        Encoding::Ucs2 => DataCoding::Ucs2,
    }
}

/// Whether a receiver's `got` is the `sent` part text: the same, or (7-bit)
/// with a second CR the sender added because the part ended in CR on an
/// octet boundary (TS 23.038 §6.1.2.3.1), which TP-UDL shows as one septet
/// past it.
fn same_part_text(got: &str, sent: &str, coding: DataCoding, udl: usize) -> bool {
    got == sent
        || (coding == DataCoding::Gsm7
            && sent.ends_with('\r')
            && udl % 8 == 1
            && got.strip_suffix('\r') == Some(sent))
}

/// TP-UDL of an SMS-DELIVER (SMSC field first), read from the octets.
fn deliver_udl(pdu_hex: &str) -> usize {
    let bytes = hex_bytes(pdu_hex);
    let tpdu = &bytes[1 + usize::from(bytes[0])..];
    let oa = 2 + usize::from(tpdu[1]).div_ceil(2);
    usize::from(tpdu[1 + oa + 2 + 7])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    /// encode_submit → decode_pdu of every part → the parts' texts, joined
    /// in sequence order, are the original text; each part's own text is the
    /// next piece of the original (so no pair was split), every part fits one
    /// message, and the concatenation headers agree.
    #[test]
    fn submit_round_trips_any_text(text in any_text(), opts in submit_options()) {
        let parts = match encode_submit("+420608337726", &text, &opts) {
            Ok(parts) => parts,
            Err(e) => {
                prop_assert_eq!(e, EncodeError::EmptyText);
                prop_assert!(text.is_empty());
                return Ok(());
            }
        };
        let (encoding, texts) = split(&text);
        let total = parts.len();
        prop_assert!((1..=255).contains(&total));
        prop_assert_eq!(total, texts.len());
        let mut offset = 0;
        for (i, part) in parts.iter().enumerate() {
            prop_assert_eq!((part.seq as usize, part.total as usize), (i + 1, total));
            prop_assert!(part.pdu_hex.starts_with("00"));
            prop_assert_eq!(part.pdu_hex.len(), 2 + 2 * part.tpdu_len);

            let (udl, ud_octets) = submit_udl_and_ud_octets(&part.pdu_hex);
            prop_assert!(ud_octets <= 140, "part {} has {} octets of user data", i + 1, ud_octets);
            match encoding {
                Encoding::Gsm7 | Encoding::Gsm7Shift(_) => {
                    prop_assert!(udl <= 160);
                    prop_assert_eq!(ud_octets, (udl * 7).div_ceil(8));
                }
                Encoding::Ucs2 => prop_assert_eq!(ud_octets, udl),
            }

            let decoded = decode_pdu(&part.pdu_hex, true);
            let Ok(Tpdu::Submit(s)) = decoded else {
                return Err(TestCaseError::fail(format!("part {}: {decoded:?}", i + 1)));
            };
            let ud = &s.user_data;
            prop_assert_eq!(ud.coding, coding_of(encoding));
            prop_assert_eq!(s.validity, opts.validity);
            prop_assert_eq!(s.status_report_requested, opts.status_report);
            match ud.concat {
                None => prop_assert_eq!(total, 1),
                Some(c) => {
                    prop_assert!(total > 1);
                    prop_assert!(!c.ref16);
                    prop_assert_eq!(c.reference, u16::from(opts.concat_ref));
                    prop_assert_eq!((c.seq as usize, c.total as usize), (i + 1, total));
                }
            }
            prop_assert_eq!(ud.tables, encoding.tables());
            check_no_split_pair(ud.coding, &ud.body)?;
            prop_assert_eq!(&decode_body(ud.coding, ud.tables, &ud.body), &ud.text);
            prop_assert!(!ud.text.is_empty(), "part {} is empty", i + 1);
            prop_assert!(
                same_part_text(&ud.text, &texts[i], ud.coding, udl),
                "part {}: {:?} for {:?}", i + 1, ud.text, texts[i]
            );
            prop_assert!(
                text[offset..].starts_with(&texts[i]),
                "part {} is not the next piece of the text", i + 1
            );
            offset += texts[i].len();
        }
        prop_assert_eq!(offset, text.len());
    }

    /// encode_deliver (the simulator) → decode_pdu → bodies joined in
    /// sequence order (the parts shuffled first) → decode_body: the original
    /// text, with 8- and 16-bit concatenation references.
    #[test]
    fn deliver_round_trips_any_text(
        text in any_text(),
        sender in prop_oneof![
            "\\+[1-9][0-9]{2,14}",
            "[0-9]{3,15}",
            "[A-Za-z@$][A-Za-z0-9 @€]{0,9}",
        ],
        reference in any::<u16>(),
        ref16 in any::<bool>(),
        shuffle in any::<u64>(),
    ) {
        let ts = Timestamp {
            year: 2026, month: 11, day: 30, hour: 23, minute: 59, second: 58, tz_quarters: 4,
        };
        let pdus = encode_deliver(&sender, &text, ts, DeliverRef { reference, ref16 });
        let total = pdus.len();
        let mut parts = Vec::with_capacity(total);
        for pdu in &pdus {
            let decoded = decode_pdu(pdu, true);
            let Ok(Tpdu::Deliver(d)) = decoded else {
                return Err(TestCaseError::fail(format!("{pdu}: {decoded:?}")));
            };
            // An alphanumeric sender of 8 septets ending in '@' cannot be
            // told from one of 7 whose length counts the fill: read as the
            // fill (issue 16, item 7).
            let septets = Tables::DEFAULT.encode(&sender).map_or(0, |s| s.len());
            let alphanumeric = !sender.trim_start_matches('+').bytes().all(|b| b.is_ascii_digit());
            let want_sender = match sender.strip_suffix('@') {
                Some(s) if alphanumeric && septets == 8 => s,
                _ => sender.as_str(),
            };
            prop_assert_eq!(d.sender.as_str(), want_sender);
            prop_assert_eq!(d.timestamp, SmscTime::Known(ts));
            check_no_split_pair(d.user_data.coding, &d.user_data.body)?;
            parts.push((d.user_data, deliver_udl(pdu)));
        }
        // A deterministic shuffle: parts may be listed in any order.
        let mut state = shuffle | 1;
        for i in (1..parts.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            parts.swap(i, (state % (i as u64 + 1)) as usize);
        }
        if total > 1 {
            for (p, _) in &parts {
                let c = p.concat.expect("a part without a concatenation header");
                prop_assert_eq!(c.ref16, ref16);
                let want = if ref16 { reference } else { reference & 0xFF };
                prop_assert_eq!(c.reference, want);
                prop_assert_eq!(c.total as usize, total);
            }
            parts.sort_by_key(|p| p.0.concat.map(|c| c.seq));
            for (i, (p, _)) in parts.iter().enumerate() {
                prop_assert_eq!(p.concat.map(|c| c.seq as usize), Some(i + 1));
            }
        } else {
            prop_assert_eq!(parts[0].0.concat, None);
        }
        let (coding, tables) = (parts[0].0.coding, parts[0].0.tables);
        prop_assert!(parts.iter().all(|p| p.0.coding == coding && p.0.tables == tables));
        // The parts in order are the text, a doubled final CR aside.
        let mut offset = 0;
        for (p, udl) in &parts {
            let rest = &text[offset..];
            if rest.starts_with(&p.text) {
                offset += p.text.len();
            } else {
                let sent = p.text.strip_suffix('\r').unwrap_or(&p.text);
                prop_assert!(
                    rest.starts_with(sent) && same_part_text(&p.text, sent, coding, *udl),
                    "{:?} is not the next piece of the text", p.text
                );
                offset += sent.len();
            }
        }
        prop_assert_eq!(offset, text.len());
        if !text.ends_with('\r') && !text.contains("\r") {
            let body: Vec<u8> = parts.iter().flat_map(|p| p.0.body.iter().copied()).collect();
            prop_assert_eq!(decode_body(coding, tables, &body), text);
        }
    }

    /// plan, split and encode_submit agree on the encoding and the number
    /// of parts; the split pieces are the text; one part fewer than needed
    /// is refused with the right numbers.
    #[test]
    fn plan_split_and_encode_agree(text in any_text()) {
        let (encoding, n) = plan(&text);
        let (split_encoding, pieces) = split(&text);
        prop_assert_eq!(encoding, split_encoding);
        prop_assert_eq!(n, pieces.len());
        prop_assert_eq!(pieces.concat(), text.clone());
        // A UCS-2 part ends where a grapheme does, unless the part lies
        // inside one grapheme (longer than a part).
        if encoding == Encoding::Ucs2 {
            let bounds: Vec<usize> = text
                .grapheme_indices(true)
                .map(|(i, _)| i)
                .chain([text.len()])
                .collect();
            let mut at = 0;
            for piece in &pieces {
                let start = at;
                at += piece.len();
                let inside = bounds.iter().any(|&b| b > start && b < at);
                prop_assert!(
                    bounds.contains(&at) || !inside,
                    "a part ends inside a grapheme: {:?}", piece
                );
            }
        }
        if text.is_empty() {
            return Ok(());
        }
        let opts = SubmitOptions { max_parts: 255, ..SubmitOptions::default() };
        prop_assert_eq!(encode_submit("420608337726", &text, &opts).unwrap().len(), n);
        let tight = SubmitOptions { max_parts: n - 1, ..opts };
        prop_assert_eq!(
            encode_submit("420608337726", &text, &tight),
            Err(EncodeError::TooManyParts { needed: n, max: n - 1 })
        );
    }
}

// --------------------------------------------------------- shift tables --

/// Any pair of national language tables (TS 23.038 §6.2.1.2.4/5), the
/// default ones included.
fn table_pair() -> impl Strategy<Value = Tables> {
    let language = || proptest::option::of(select(Language::ALL.to_vec()));
    (language(), language()).prop_map(|(locking, single)| Tables { locking, single })
}

/// LSB-first septet packing after `fill` zero bits (TS 23.038 §6.1.2.1.1),
/// written here apart from smss's own.
fn pack(septets: &[u8], fill: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, fill);
    for &s in septets {
        acc |= u32::from(s & 0x7F) << bits;
        bits += 7;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(acc as u8);
    }
    out
}

/// An SMS-DELIVER from +420608337726 whose header names `tables` (IE 0x25
/// locking, 0x24 single shift) and whose 7-bit user data is `septets`,
/// assembled field by field.
fn national_deliver(tables: Tables, septets: &[u8]) -> (String, usize) {
    let mut ies = Vec::new();
    if let Some(l) = tables.locking {
        ies.extend([0x25, 0x01, l.id()]);
    }
    if let Some(l) = tables.single {
        ies.extend([0x24, 0x01, l.id()]);
    }
    let mut udh = Vec::new();
    if !ies.is_empty() {
        udh.push(ies.len() as u8);
        udh.extend(ies);
    }
    let header_bits = udh.len() * 8;
    let fill = (7 - header_bits % 7) % 7;
    let udl = (header_bits + fill) / 7 + septets.len();
    let first = if udh.is_empty() { 0x04 } else { 0x44 };
    let mut tpdu = vec![
        first, 0x0C, 0x91, 0x24, 0x60, 0x80, 0x33, 0x77, 0x62, 0x00, 0x00,
    ];
    tpdu.extend([0x62, 0x11, 0x03, 0x01, 0x02, 0x03, 0x40]);
    tpdu.push(udl as u8);
    tpdu.extend(&udh);
    tpdu.extend(pack(septets, fill));
    (format!("00{}", gsm::to_hex(&tpdu)), udl)
}

/// A table pair and a text of its characters.
fn national_text() -> impl Strategy<Value = (Tables, String)> {
    table_pair().prop_flat_map(|tables| {
        let chars = tables.characters();
        (
            Just(tables),
            vec(select(chars), 0..150).prop_map(String::from_iter),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any septets decode with any table pair, and the text encodes back to
    /// septets that decode to it again (a position a table leaves empty
    /// decodes to U+FFFD, which no table writes).
    #[test]
    fn shift_tables_decode_and_encode_back(
        septets in vec(0u8..128, 0..200),
        tables in table_pair(),
    ) {
        let text = tables.decode(&septets);
        if !text.contains('\u{FFFD}') {
            let again = tables.encode(&text);
            prop_assert!(again.is_some(), "{:?} does not encode back", text);
            prop_assert_eq!(tables.decode(&again.unwrap()), text);
        }
    }

    /// A text in any table pair, as a phone sends it (a DELIVER naming the
    /// tables in its header, 4, 7 or no header octets, so every fill), is
    /// read back whole; the tables come out as named.
    #[test]
    fn national_deliver_decodes((tables, text) in national_text()) {
        let septets = tables.encode(&text).expect("a text of the tables' characters");
        let (pdu, udl) = national_deliver(tables, &septets);
        prop_assume!(udl <= 160);
        let decoded = decode_pdu(&pdu, true);
        let Ok(Tpdu::Deliver(d)) = decoded else {
            return Err(TestCaseError::fail(format!("{pdu}: {decoded:?}")));
        };
        // A final CR on an octet boundary is padding (TS 23.038 §6.1.2.3.1).
        let want = if udl % 8 == 0 && septets.last() == Some(&0x0D) {
            text.strip_suffix('\r').unwrap_or(&text).to_string()
        } else {
            text.clone()
        };
        prop_assert_eq!(&d.user_data.text, &want);
        // Spanish has no locking shift table: named, it means the default.
        prop_assert_eq!(d.user_data.tables, tables);
        prop_assert_eq!(decode_body(DataCoding::Gsm7, tables, &d.user_data.body), want);
    }
}

// ------------------------------------------------------------- requests --

/// Whether `text` holds `#`, an optional `+`, 3 to 20 ASCII digits and `;`:
/// the only thing that starts a new request (DESIGN.md, the protocol).
fn has_request_start(text: &str) -> bool {
    let b = text.as_bytes();
    (0..b.len()).any(|i| {
        if b[i] != b'#' {
            return false;
        }
        let mut j = i + 1;
        if b.get(j) == Some(&b'!') {
            j += 1;
        }
        if b.get(j) == Some(&b'[') {
            match b[j + 1..]
                .iter()
                .position(|&c| matches!(c, b']' | b'#' | b';' | b'['))
            {
                Some(k) if b[j + 1 + k] == b']' => j += k + 2,
                _ => return false,
            }
        }
        if b.get(j) == Some(&b'+') {
            j += 1;
        }
        let digits = b[j..].iter().take_while(|c| c.is_ascii_digit()).count();
        (3..=20).contains(&digits) && b.get(j + digits) == Some(&b';')
    })
}

/// Pieces of request text, heavy on what the parser looks at: `#`, `;`,
/// `+`, digit runs, near-miss phones, spaces, CR, BOM, and any text.
fn text_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any_char().prop_map(String::from),
        2 => select(vec!["#", ";", "+", " ", "\t", "\r", "\n", "\u{feff}", "##", ";;"])
            .prop_map(String::from),
        2 => "[0-9]{1,25}",
        2 => select(vec![
            "#12;", "#1234", "#+;", "#+12;", "# 123;", "#abc;", "#123 ;", "#123#456;",
            "#123456789012345678901;", "#٤٢٠٦٠٨;", "#+-123;", "Backup #3 failed",
            "#!12;", "#!", "!#123;", "#!!123;",
        ])
        .prop_map(String::from),
    ]
}

fn request_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => vec(text_piece(), 1..12).prop_map(|p| p.concat()),
        1 => text_of(any_char()),
    ]
    .prop_filter("text is a valid request text", |t| {
        !t.trim().is_empty() && !has_request_start(t)
    })
}

fn phone() -> impl Strategy<Value = String> {
    "\\+?[0-9]{3,20}"
}

/// A line of requests, and what the parser should make of it.
fn request_line() -> impl Strategy<Value = (String, Vec<Request>)> {
    vec((phone(), request_text(), any::<bool>()), 1..6)
        // A CR at the very end of the line is taken for the CR of CR LF.
        .prop_filter("last text ends with CR", |reqs| {
            !reqs.last().is_some_and(|(_, t, _)| t.ends_with('\r'))
        })
        .prop_map(|reqs| {
            let line = reqs
                .iter()
                .map(|(p, t, urgent)| format!("#{}{p};{t}", if *urgent { "!" } else { "" }))
                .collect();
            let reqs = reqs
                .into_iter()
                .map(|(phone, text, urgent)| Request {
                    phone,
                    text,
                    options: Options {
                        priority: if urgent {
                            Priority::Urgent
                        } else {
                            Priority::Normal
                        },
                        ..Options::default()
                    },
                    ..Default::default()
                })
                .collect();
            (line, reqs)
        })
}

/// Any line, made from the pieces the parser cares about, valid phones
/// and request starts included.
fn hostile_line() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => text_piece(),
        1 => phone().prop_map(|p| format!("#{p};")),
        1 => phone(),
    ];
    prop_oneof![
        4 => vec(piece, 0..20).prop_map(|p| p.concat()),
        1 => any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Valid requests chained in one line parse back to exactly themselves.
    #[test]
    fn request_lines_parse_back((line, want) in request_line()) {
        prop_assert_eq!(parse_line(&line, usize::MAX), Ok(want));
        // The CR of CR LF does not change anything.
        let with_cr = format!("{line}\r");
        prop_assert_eq!(parse_line(&with_cr, usize::MAX), parse_line(&line, usize::MAX));
    }

    /// Any line: no panic; when it parses, every phone is valid, every text
    /// is non-blank and within the part limit, and the requests put back
    /// together are the line; when it does not, the error is one short line.
    #[test]
    fn any_line_parses_or_is_refused(line in hostile_line(), max_parts in 0usize..12) {
        match parse_line(&line, max_parts) {
            Ok(reqs) => {
                prop_assert!(!reqs.is_empty());
                for r in &reqs {
                    prop_assert!(gsm::valid_phone(&r.phone), "{:?}", r.phone);
                    prop_assert!(!r.text.trim().is_empty(), "blank text");
                    prop_assert!(plan(&r.text).1 <= max_parts);
                }
                // Put back together: `#!` for an urgent request. A group or
                // an options bracket (`#@`, `#[`) is not written back here
                // (`request_lines_parse_back` holds those).
                let rebuilt: String = reqs
                    .iter()
                    .map(|r| {
                        let bang = if r.options.priority == Priority::Urgent { "!" } else { "" };
                        format!("#{bang}{};{}", r.phone, r.text)
                    })
                    .collect();
                let core = line.trim_start_matches([' ', '\t', '\r', '\u{feff}']);
                let core = core.strip_suffix('\r').unwrap_or(core);
                let plain = reqs.iter().all(|r| {
                    r.group.is_none()
                        && r.options
                            == Options {
                                priority: r.options.priority,
                                ..Options::default()
                            }
                });
                if plain && !core.contains("#[") {
                    prop_assert_eq!(rebuilt, core);
                }
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(!msg.contains(['\n', '\r']), "{msg:?}");
                prop_assert!(msg.chars().count() < 200, "{msg:?}");
            }
        }
    }
}

// -------------------------------------------------------------- charset --

fn legacy() -> impl Strategy<Value = Legacy> {
    select(vec![
        Legacy::Windows1250,
        Legacy::Iso8859_2,
        Legacy::Windows1252,
        Legacy::Latin1,
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any bytes decode, and no byte is dropped: valid UTF-8 is kept as it
    /// is, anything else gives one character per byte.
    #[test]
    fn decode_line_keeps_every_byte(bytes in vec(any::<u8>(), 0..300), legacy in legacy()) {
        let line = decode_line(&bytes, legacy);
        match std::str::from_utf8(&bytes) {
            Ok(s) => prop_assert_eq!(line, s),
            Err(_) => prop_assert_eq!(line.chars().count(), bytes.len()),
        }
    }

    /// Valid UTF-8 is lossless whatever the legacy charset.
    #[test]
    fn decode_line_is_lossless_for_utf8(text in any::<String>(), legacy in legacy()) {
        prop_assert_eq!(decode_line(text.as_bytes(), legacy), text);
    }
}

// -------------------------------------------------------- line splitter --

/// Bytes a modem (or a broken one) sends: lines, every kind of newline,
/// prompts, '>' alone, and arbitrary bytes.
fn modem_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => select(vec![
            "\r", "\n", "\r\n", "\r\n\r\n", "> ", ">", " ", "OK", "ERROR", "+CMS ERROR: 38",
            "+CMTI: \"SM\",3", "+CMGS: 12", "0791246030250000040C9124", "AT+CMGS=23",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        2 => vec(any::<u8>(), 0..8),
        1 => vec(select(vec![b'\r', b'\n', b'>', b' ', b'O', 0xFF]), 0..8),
    ];
    vec(piece, 0..30).prop_map(|p| p.concat())
}

/// Feeds `bytes` in pieces of the given sizes (cycled; 0 = an empty push),
/// taking every event after each push, as the AT layer does.
fn split_events(bytes: &[u8], sizes: &[usize]) -> Vec<Event> {
    let mut splitter = LineSplitter::default();
    let mut events = Vec::new();
    let mut rest = bytes;
    let sizes = if sizes.iter().any(|&n| n > 0) {
        sizes
    } else {
        &[1]
    };
    let mut sizes = sizes.iter().cycle();
    loop {
        let n = sizes.next().map_or(rest.len(), |&n| n.min(rest.len()));
        let (now, later) = rest.split_at(n);
        splitter.push(now);
        while let Some(e) = splitter.next_event() {
            events.push(e);
        }
        if later.is_empty() {
            return events;
        }
        rest = later;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Any byte stream, cut anywhere, gives the same events as fed whole.
    #[test]
    fn line_splitter_ignores_fragmentation(
        bytes in modem_bytes(),
        sizes in vec(0usize..12, 1..8),
    ) {
        let whole = split_events(&bytes, &[bytes.len()]);
        prop_assert_eq!(split_events(&bytes, &sizes), whole.clone());
        prop_assert_eq!(split_events(&bytes, &[1]), whole);
    }
}
