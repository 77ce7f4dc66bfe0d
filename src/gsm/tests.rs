//! Encoder/decoder round trips, part limits, and decoder robustness.

use super::*;

/// Encodes `text` and decodes every part; checks the parts against
/// `split`, the headers, and the per-part size limits; returns the joined
/// decoded text.
fn round_trip(text: &str, opts: &SubmitOptions) -> String {
    let parts = encode_submit("+420608337726", text, opts).unwrap();
    let (encoding, texts) = split(text);
    assert_eq!(parts.len(), texts.len());
    assert_eq!(plan(text), (encoding, texts.len()));
    let total = parts.len();
    let mut joined = String::new();
    for (i, part) in parts.iter().enumerate() {
        assert_eq!((part.seq as usize, part.total as usize), (i + 1, total));
        assert!(part.pdu_hex.starts_with("00"));
        assert_eq!(part.pdu_hex.len(), 2 + 2 * part.tpdu_len);
        assert!(
            part.pdu_hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        );
        let Ok(Tpdu::Submit(s)) = decode_pdu(&part.pdu_hex, true) else {
            panic!("{text:?} part {}: {}", i + 1, part.pdu_hex);
        };
        assert_eq!(s.number, "+420608337726");
        assert_eq!(s.mr, 0);
        assert_eq!(s.validity, opts.validity);
        assert_eq!(s.status_report_requested, opts.status_report);
        let ud = &s.user_data;
        assert_eq!(
            ud.text,
            sent_text(part, &texts[i], encoding),
            "{text:?} part {}",
            i + 1
        );
        let expected_coding = match encoding {
            Encoding::Gsm7 | Encoding::Gsm7Shift(_) => DataCoding::Gsm7,
            Encoding::Ucs2 => DataCoding::Ucs2,
        };
        assert_eq!(ud.coding, expected_coding);
        assert_eq!(ud.tables, encoding.tables());
        if total == 1 {
            assert_eq!(ud.concat, None);
        } else {
            let c = ud.concat.expect("multipart without header");
            assert_eq!(c.reference, u16::from(opts.concat_ref));
            assert!(!c.ref16);
            assert_eq!((c.seq as usize, c.total as usize), (i + 1, total));
        }
        check_udl(part, encoding, total > 1);
        joined.push_str(&texts[i]);
    }
    joined
}

/// What a receiver reads of a 7-bit part: its text, with a second CR when
/// it ends in one on an octet boundary (TS 23.038 §6.1.2.3.1: the sender
/// doubles it, the receiver performs CR twice).
fn sent_text(part: &SubmitPart, text: &str, encoding: Encoding) -> String {
    if encoding == Encoding::Ucs2 || !text.ends_with('\r') {
        return text.to_string();
    }
    let (udl, ud) = udl_of(part);
    let header_septets = if part.total > 1 || matches!(encoding, Encoding::Gsm7Shift(_)) {
        ((usize::from(ud[0]) + 1) * 8).div_ceil(7)
    } else {
        0
    };
    let septets = super::alphabet::septet_count(text, encoding.tables()).unwrap();
    if (header_septets + septets).is_multiple_of(8) {
        assert_eq!(udl, header_septets + septets + 1);
        format!("{text}\r")
    } else {
        assert_eq!(udl, header_septets + septets);
        text.to_string()
    }
}

/// TP-UDL and the user data octets of an SMS-SUBMIT, read from the octets.
fn udl_of(part: &SubmitPart) -> (usize, Vec<u8>) {
    let bytes: Vec<u8> = (0..part.pdu_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&part.pdu_hex[i..i + 2], 16).unwrap())
        .collect();
    let tpdu = &bytes[1..];
    let has_vp = tpdu[0] & 0x18 != 0;
    let da_len = 2 + usize::from(tpdu[2]).div_ceil(2);
    let udl_at = 2 + da_len + 2 + usize::from(has_vp);
    (usize::from(tpdu[udl_at]), tpdu[udl_at + 1..].to_vec())
}

/// TP-UDL within one message: ≤160 septets or ≤140 octets, and the user
/// data exactly as long as TP-UDL says.
fn check_udl(part: &SubmitPart, encoding: Encoding, multipart: bool) {
    let bytes: Vec<u8> = (0..part.pdu_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&part.pdu_hex[i..i + 2], 16).unwrap())
        .collect();
    let tpdu = &bytes[1..];
    let has_vp = tpdu[0] & 0x18 != 0;
    let da_len = 2 + usize::from(tpdu[2]).div_ceil(2);
    let udl_at = 2 + da_len + 2 + usize::from(has_vp);
    let udl = usize::from(tpdu[udl_at]);
    let ud_len = tpdu.len() - udl_at - 1;
    assert!(ud_len <= 140);
    match encoding {
        Encoding::Gsm7Shift(language) => {
            assert!(udl <= 160, "UDL {udl}");
            assert_eq!(ud_len, (udl * 7).div_ceil(8));
            let ud = &tpdu[udl_at + 1..];
            if multipart {
                // 9-octet header (concatenation, single shift) = 11 septets.
                assert_eq!(&ud[..4], &[0x08, 0x00, 0x03, ud[3]]);
                assert_eq!(&ud[6..9], &[0x24, 0x01, language.id()]);
                assert!(udl - 11 <= 149);
            } else {
                assert_eq!(&ud[..4], &[0x03, 0x24, 0x01, language.id()]);
                assert!(udl - 5 <= 155);
            }
            check_padding(udl, ud);
        }
        Encoding::Gsm7 => {
            assert!(udl <= 160, "UDL {udl}");
            assert_eq!(ud_len, (udl * 7).div_ceil(8));
            check_padding(udl, &tpdu[udl_at + 1..]);
            if multipart {
                // 6-octet header + 1 fill bit = 7 septets.
                assert_eq!(&tpdu[udl_at + 1..udl_at + 4], &[0x05, 0x00, 0x03]);
                assert!(udl - 7 <= 153);
            }
        }
        Encoding::Ucs2 => {
            assert!(udl <= 140, "UDL {udl}");
            assert_eq!(ud_len, udl);
            if multipart {
                assert!((udl - 6) / 2 <= 67);
            }
        }
    }
}

/// 7 spare bits at the end of 7-bit user data hold CR, not zeros (TS
/// 23.038 §6.1.2.3.1); fewer spare bits are zero.
fn check_padding(udl: usize, ud: &[u8]) {
    let Some(&last) = ud.last() else { return };
    let used = (udl * 7) % 8;
    if used == 1 {
        assert_eq!(last >> 1, 0x0D, "7 spare bits: CR, not zeros");
    } else if used != 0 {
        assert_eq!(last >> used, 0, "{} spare bits", 8 - used);
    }
}

fn opts() -> SubmitOptions {
    SubmitOptions::default()
}

#[test]
fn round_trips() {
    let texts = [
        "Hello, world!".to_string(),
        "€[]{}^~\\|".to_string(),
        "Příliš žluťoučký kůň úpěl ďábelské ódy".to_string(),
        "Emoji 😀👍🏽 and a flag 🇨🇿".to_string(),
        "ends with @".to_string(),
        "@".to_string(),
        "@@@@@@@@".to_string(),
        "1234567@".to_string(),
        "line one\nline two\r\nCR LF".to_string(),
        "$ and ¤ and Ç and §".to_string(),
        "\u{0C}form feed".to_string(),
        "x".repeat(160),
        "x".repeat(161),
        "x".repeat(153 * 2),
        "x".repeat(153 * 2 + 1),
        format!("{}€", "x".repeat(158)),
        format!("{}€", "x".repeat(159)),
        format!("{}€{}", "x".repeat(152), "y".repeat(100)),
        format!("{}@", "x".repeat(159)),
        format!("{}@", "x".repeat(152)),
        "ř".repeat(70),
        "ř".repeat(71),
        "ř".repeat(67 * 2),
        format!("{}😀", "ř".repeat(68)),
        format!("{}😀{}", "ř".repeat(66), "ř".repeat(50)),
        "😀".repeat(35),
        "😀".repeat(36),
        "😀".repeat(200),
        "a".repeat(400),
    ];
    for text in &texts {
        assert_eq!(&round_trip(text, &opts()), text);
    }
    let other = SubmitOptions {
        bare_numbers_international: false,
        concat_ref: 0xFE,
        status_report: true,
        validity: None,
        max_parts: 255,
        flash: true,
    };
    for text in &texts {
        assert_eq!(&round_trip(text, &other), text);
    }
    // flash: class 0 in TP-DCS, for both codings
    for text in ["flash", "😀 flash"] {
        for part in crate::gsm::encode_submit("420608337726", text, &other).unwrap() {
            match crate::gsm::decode_pdu(&part.pdu_hex, true).unwrap() {
                crate::gsm::Tpdu::Submit(s) => assert_eq!(s.user_data.class, Some(0), "{text}"),
                other => panic!("{other:?}"),
            }
        }
    }
}

#[test]
fn four_hundred_chars_make_three_parts() {
    let text: String = (0..400)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let o = SubmitOptions {
        concat_ref: 77,
        ..opts()
    };
    let parts = encode_submit("+420608337726", &text, &o).unwrap();
    assert_eq!(parts.len(), 3);
    let mut joined = String::new();
    for (i, p) in parts.iter().enumerate() {
        let Ok(Tpdu::Submit(s)) = decode_pdu(&p.pdu_hex, true) else {
            panic!()
        };
        let c = s.user_data.concat.unwrap();
        assert_eq!((c.reference, c.total, c.seq), (77, 3, i as u8 + 1));
        joined.push_str(&s.user_data.text);
    }
    assert_eq!(joined, text);
}

#[test]
fn exact_limits() {
    assert_eq!(
        encode_submit("+420123", &"x".repeat(160), &opts())
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        encode_submit("+420123", &"x".repeat(161), &opts())
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        encode_submit("+420123", &"ř".repeat(70), &opts())
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        encode_submit("+420123", &"ř".repeat(71), &opts())
            .unwrap()
            .len(),
        2
    );
    // A full single GSM part: 160 septets in 140 octets.
    let p = &encode_submit("+420123", &"x".repeat(160), &opts()).unwrap()[0];
    assert!(p.pdu_hex.contains("00AAA0"));
    // A full UCS-2 part: 6 header octets + 67 units = 140 octets.
    let p = &encode_submit("+420123", &"ř".repeat(71), &opts()).unwrap()[0];
    assert!(p.pdu_hex.contains("08AA8C050003"));
}

/// xorshift64*, deterministic so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const POOL: &[&str] = &[
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,!?-:;'\"()",
    "€[]{}^~\\|\u{0C}",
    "@@@$¤Ç§\n\r",
    "ěščřžýáíéůúňťďĚŠČŘŽÝÁÍÉŮÚŇŤĎ",
    "😀👍🎉🇨🇿",
];

fn random_text(rng: &mut Rng, gsm_only: bool) -> String {
    let len = match rng.below(4) {
        0 => rng.below(20),
        1 => 150 + rng.below(20),
        2 => 60 + rng.below(20),
        _ => rng.below(700),
    };
    let pools = if gsm_only { &POOL[..3] } else { POOL };
    let mut s = String::new();
    for _ in 0..len {
        let pool: Vec<char> = pools[rng.below(pools.len())].chars().collect();
        s.push(pool[rng.below(pool.len())]);
    }
    if s.is_empty() {
        s.push('@');
    }
    s
}

#[test]
fn random_texts_round_trip_within_limits() {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let base = SubmitOptions {
        max_parts: 255,
        ..opts()
    };
    for i in 0..3000 {
        let text = random_text(&mut rng, i % 2 == 0);
        let o = SubmitOptions {
            concat_ref: i as u8,
            ..base.clone()
        };
        assert_eq!(round_trip(&text, &o), text, "case {i}");
    }
}

#[test]
fn decoder_never_panics_on_garbage() {
    let mut rng = Rng(0xDEAD_BEEF_0000_0042);
    let hex = b"0123456789ABCDEF";
    for _ in 0..20_000 {
        let len = rng.below(400);
        let s: String = (0..len).map(|_| char::from(hex[rng.below(16)])).collect();
        let _ = decode_pdu(&s, rng.below(2) == 0);
    }
    for s in ["", " ", "0", "zz", "0G", "00", "0000", "ÿÿ", "00\u{0}0"] {
        assert!(decode_pdu(s, true).is_err(), "{s:?}");
    }
}

#[test]
fn decoder_never_panics_on_damaged_real_pdus() {
    let mut rng = Rng(7);
    let mut samples: Vec<String> = [
        "07911732547698F00009D0D432BB2C0300005111713115142108E8329BFD0E8542",
        "0041000C912491000110000000A0060804C643020154747A0E4ACF416110BD3CA783DAE5F93C7C2E53D1E939283D078541F4F29C0E6A97E7F3F0B94C45A7E7A0F41C1406D1CB733AA85D9ECFC3",
        "07914306073011F006270B913426565711F7012081111345400120811174054043",
        "07912160130300F4040B914151245584F600087010807121352B10212200A900AE00680065006C006C006F",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for text in ["x".repeat(400), "😀".repeat(100)] {
        samples.extend(
            encode_submit("+420123456", &text, &opts())
                .unwrap()
                .into_iter()
                .map(|p| p.pdu_hex),
        );
    }
    for pdu in &samples {
        // Every truncation, at octet and half-octet boundaries.
        for cut in 0..pdu.len() {
            let _ = decode_pdu(&pdu[..cut], true);
            let _ = decode_pdu(&pdu[..cut], false);
        }
        // Random octet changes.
        let bytes = pdu.as_bytes();
        for _ in 0..2000 {
            let mut b = bytes.to_vec();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(b.len() / 2) * 2;
                let v = format!("{:02X}", rng.below(256));
                b[at..at + 2].copy_from_slice(v.as_bytes());
            }
            let _ = decode_pdu(std::str::from_utf8(&b).unwrap(), rng.below(2) == 0);
        }
    }
}

#[test]
fn decode_errors_say_where() {
    let e = decode_pdu("0011000B914316565811F90000AA04E8373B", true).unwrap_err();
    assert_eq!(
        e.to_string(),
        "PDU too short: TP-UD at octet 15 needs 4 octet(s), only 3 left"
    );
    let e = decode_pdu("0011000B91431656", true).unwrap_err();
    assert_eq!(
        e.to_string(),
        "PDU too short: TP-DA at octet 3 needs 8 octet(s), only 5 left"
    );
    assert_eq!(
        decode_pdu("001", true).unwrap_err(),
        DecodeError::OddLength(3)
    );
    assert_eq!(
        decode_pdu("00x1", true).unwrap_err().to_string(),
        "PDU has 'x', not a hex digit, at position 2"
    );
    assert_eq!(
        decode_pdu("0003", true).unwrap_err().to_string(),
        "invalid first octet at octet 1: 0x03 has the reserved message type 3"
    );
    // TP-UDHI set, header length beyond the user data.
    let e = decode_pdu("0041000381214300000209FF", true).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid TP-UDH at octet 10: header length 9 exceeds the 1 octets of user data"
    );
}

/// A minimal SMS-DELIVER (SMSC field empty, sender "123", 7-bit) with
/// TP-UDHI set and the given header before the text "hi".
fn deliver_with_udh(udh: &[u8]) -> Deliver {
    let header_bits = udh.len() * 8;
    let fill = (7 - header_bits % 7) % 7;
    let udl = (header_bits + fill) / 7 + 2;
    let mut tpdu = vec![0x40, 0x03, 0x81, 0x21, 0xF3, 0x00, 0x00];
    tpdu.extend([0x62, 0x11, 0x03, 0x01, 0x02, 0x03, 0x40]);
    tpdu.push(udl as u8);
    tpdu.extend_from_slice(udh);
    tpdu.extend(super::septets::pack(b"hi", fill));
    let hex: String = tpdu.iter().map(|b| format!("{b:02X}")).collect();
    match decode_pdu(&format!("00{hex}"), true) {
        Ok(Tpdu::Deliver(d)) => d,
        other => panic!("{hex}: {other:?}"),
    }
}

#[test]
fn udh_edge_cases() {
    let concat = |reference, total, seq, ref16| {
        Some(Concat {
            reference,
            total,
            seq,
            ref16,
        })
    };
    // Header lengths 1..=7 octets of payload give every fill-bit count.
    let d = deliver_with_udh(&[0x05, 0x00, 0x03, 0x2A, 0x03, 0x02]);
    assert_eq!(d.user_data.concat, concat(42, 3, 2, false));
    assert_eq!(d.user_data.text, "hi");
    let d = deliver_with_udh(&[0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x02]);
    assert_eq!(d.user_data.concat, concat(0x1234, 2, 2, true));
    assert_eq!(d.user_data.text, "hi");
    for extra in 0..12 {
        // An unknown element of `extra` octets before the concatenation one.
        let mut udh = vec![(7 + extra) as u8, 0x70, extra as u8];
        udh.extend(std::iter::repeat_n(0xEE, extra));
        udh.extend([0x00, 0x03, 0x07, 0x02, 0x01]);
        let d = deliver_with_udh(&udh);
        assert_eq!(d.user_data.concat, concat(7, 2, 1, false), "extra {extra}");
        assert_eq!(d.user_data.text, "hi", "extra {extra}");
    }
    // An element overrunning the header: the header is ignored as a whole
    // but still skipped.
    let d = deliver_with_udh(&[0x03, 0x00, 0x05, 0x01]);
    assert_eq!(
        (d.user_data.text.as_str(), d.user_data.concat),
        ("hi", None)
    );
    // Part number 0 or beyond the total: the element is ignored.
    let d = deliver_with_udh(&[0x05, 0x00, 0x03, 0x01, 0x02, 0x00]);
    assert_eq!(d.user_data.concat, None);
    let d = deliver_with_udh(&[0x05, 0x00, 0x03, 0x01, 0x02, 0x03]);
    assert_eq!(d.user_data.concat, None);
    // A repeated element: the last one counts.
    let d = deliver_with_udh(&[
        0x0A, 0x00, 0x03, 0x01, 0x02, 0x01, 0x00, 0x03, 0x09, 0x02, 0x02,
    ]);
    assert_eq!(d.user_data.concat, concat(9, 2, 2, false));
    assert_eq!(d.timestamp.text(), "2026-11-30 10:20:30+01:00");
}
