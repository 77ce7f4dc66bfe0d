//! The corners of TS 23.040 / 23.038 that phones and SMSCs produce (issue
//! 16), on PDUs assembled here field by field from the standard's layout.
//! The user data hex was packed by a few lines of plain LSB-first septet
//! packing (TS 23.038 §6.1.2.1.1) over septets from an independent encoder
//! (PyPI `gsmcodecs`, the tables of TS 23.038 V18), not by smss.

use super::*;

/// An SMS-DELIVER as `AT+CMGL` lists it, without an SMSC ("00"):
///
/// | octets | field |
/// | --- | --- |
/// | `first` | TP-MTI 00 deliver, TP-MMS (0x04), TP-UDHI (0x40) if set |
/// | `0C 91 24 60 80 33 77 62` | TP-OA +420608337726 |
/// | `pid` | TP-PID |
/// | `dcs` | TP-DCS |
/// | `scts` | TP-SCTS, 7 octets of swapped BCD |
/// | `udl` | TP-UDL (septets for 7-bit) |
/// | `ud` | TP-UD, the header first when TP-UDHI |
fn pdu(first: u8, pid: u8, dcs: u8, scts: &str, udl: u8, ud: &str) -> String {
    format!("00{first:02X}0C91246080337762{pid:02X}{dcs:02X}{scts}{udl:02X}{ud}")
}

/// 2026-11-30 10:20:30 +01:00.
const SCTS: &str = "62110301020340";

fn deliver(hex: &str) -> Deliver {
    match decode_pdu(hex, true) {
        Ok(Tpdu::Deliver(d)) => d,
        other => panic!("{hex}: {other:?}"),
    }
}

/// The text and tables of a 7-bit DELIVER whose user data starts with a
/// header.
fn text7(udl: u8, ud: &str) -> (String, Tables) {
    let d = deliver(&pdu(0x44, 0x00, 0x00, SCTS, udl, ud));
    assert_eq!(d.user_data.coding, DataCoding::Gsm7);
    (d.user_data.text, d.user_data.tables)
}

// ------------------------------------------------ national language tables

/// The text of a 7-bit DELIVER without a header.
fn plain7(udl: u8, ud: &str) -> String {
    deliver(&pdu(0x04, 0x00, 0x00, SCTS, udl, ud))
        .user_data
        .text
}

#[test]
fn turkish_single_shift_from_the_header() {
    // UDH 03 | 24 01 01 (single shift, Turkish) + 3 fill bits = 5 septets;
    // "Çağrı": Ç 09, a 61, ESC 67 (ğ), r 72, ESC 69 (ı). UDL 5 + 7 = 12.
    let (text, tables) = text7(0x0C, "0324010148843767F9260D");
    assert_eq!(text, "Çağrı");
    assert_eq!(tables, Tables::single_shift(Language::Turkish));
    // Without the table (a header naming none) the escapes show the basic
    // characters: what smss stored before.
    let (text, _) = text7(0x0C, "0300010048843767F9260D");
    assert_eq!(text, "Çagri");
}

#[test]
fn turkish_locking_shift_from_the_header() {
    // UDH 03 | 25 01 01 (locking shift, Turkish); "hastası çok iyi": ı is
    // 07 and ç is 60 in the Turkish table (ì and ¿ in the default one).
    let (text, tables) = text7(0x14, "032501014087E7F4F0FC0002BFD7A0743E0D");
    assert_eq!(text, "hastası çok iyi");
    assert_eq!(tables.locking, Some(Language::Turkish));
    assert_eq!(tables.single, None);
}

#[test]
fn spanish_single_shift_from_the_header() {
    // UDH 03 | 24 01 02 (single shift, Spanish); "¿Cómo está?": ¿ 60 (the
    // default alphabet), ó ESC 6F, á ESC 61.
    let (text, _) = text7(0x12, "03240102000F37EFF61B549ED337E11F");
    assert_eq!(text, "¿Cómo está?");
}

#[test]
fn locking_and_single_shift_together() {
    // UDH 06 | 25 01 01 | 24 01 03: Turkish locking, Portuguese single;
    // "ıê": ı 07 (Turkish), ê ESC 05 (Portuguese).
    let (text, tables) = text7(0x0B, "06250101240103874D01");
    assert_eq!(text, "ıê");
    assert_eq!(
        tables,
        Tables {
            locking: Some(Language::Turkish),
            single: Some(Language::Portuguese)
        }
    );
    // UDH 06 | 25 01 01 | 24 01 01, "Ğİ€ çok": 0B 40 04 20 60 6F 6B.
    assert_eq!(text7(0x0F, "062501012401010B2001047EAF01").0, "Ğİ€ çok");
    // Hindi locking and single shift, "नमस्ते": 2F 42 4C 5F 27 59.
    let (text, tables) = text7(0x0E, "062501062401062F21F37BCA02");
    assert_eq!(text, "नमस्ते");
    assert_eq!(tables.locking, Some(Language::Hindi));
}

#[test]
fn reserved_languages_and_undefined_codes() {
    // Language 99 is reserved: the default tables (TS 23.038 §6.2.1.2.4).
    // UDH 03 | 24 01 63, "hi".
    let (text, tables) = text7(0x07, "0324016340A701");
    assert_eq!((text.as_str(), tables), ("hi", Tables::DEFAULT));
    // A single shift code the table leaves empty shows the locking table's
    // character: ESC 41 with the Turkish tables is 'A'.
    let tr = Tables {
        locking: Some(Language::Turkish),
        single: Some(Language::Turkish),
    };
    assert_eq!(alphabet::decode(&[0x1B, 0x41], tr), "A");
    // A position a locking table leaves empty: U+FFFD (Bengali 0x0C).
    let bn = Tables {
        locking: Some(Language::Bengali),
        single: None,
    };
    assert_eq!(alphabet::decode(&[0x0C], bn), "\u{FFFD}");
    // Spanish has no locking shift table: its identifier there means the
    // default alphabet.
    let es = Tables {
        locking: Some(Language::Spanish),
        single: None,
    };
    assert_eq!(alphabet::decode(&[0x07, 0x60], es), "ì¿");
}

#[test]
fn spot_checks_against_the_standard() {
    // (language, septet, locking shift char, single shift char) from
    // TS 23.038 Annex A.3 / A.2.
    let checks = [
        (Language::Turkish, 0x0B, Some('Ğ'), None),
        (Language::Turkish, 0x1C, Some('Ş'), None),
        (Language::Turkish, 0x40, Some('İ'), Some('|')),
        (Language::Turkish, 0x73, Some('s'), Some('ş')),
        (Language::Turkish, 0x65, Some('e'), Some('€')),
        (Language::Spanish, 0x09, None, Some('ç')),
        (Language::Spanish, 0x75, None, Some('ú')),
        (Language::Portuguese, 0x04, Some('ê'), None),
        (Language::Portuguese, 0x7D, Some('`'), None),
        (Language::Portuguese, 0x7F, Some('à'), Some('â')),
        (Language::Portuguese, 0x12, Some('ª'), Some('Φ')),
        (Language::Bengali, 0x00, Some('\u{0981}'), Some('@')),
        (Language::Hindi, 0x2C, Some(','), Some('\u{0958}')),
        (Language::Hindi, 0x2A, Some('\u{0925}'), Some('\u{0953}')),
        (Language::Kannada, 0x24, Some('\u{0CA1}'), Some('\u{0CEE}')),
        (Language::Tamil, 0x01, Some('\u{0B82}'), Some('£')),
        (Language::Telugu, 0x65, Some('e'), Some('€')),
        (Language::Urdu, 0x00, Some('\u{0627}'), Some('@')),
        (Language::Urdu, 0x7F, Some('\u{0670}'), None),
        (Language::Urdu, 0x7D, Some('\u{0653}'), None),
        (Language::Urdu, 0x29, Some('('), Some('}')),
    ];
    for (language, septet, locking, single) in checks {
        if let Some(table) = language.locking() {
            assert_eq!(
                national::at(table, septet),
                locking,
                "{language:?} {septet:#04x}"
            );
        }
        assert_eq!(
            national::at(language.single(), septet),
            single,
            "{language:?} single {septet:#04x}"
        );
    }
}

/// Every character of every table pair encodes and decodes back to itself:
/// in one septet when the locking table has it, else after an escape.
#[test]
fn every_table_round_trips() {
    let mut pairs = vec![Tables::DEFAULT];
    for l in Language::ALL {
        for s in [None, Some(l), Some(Language::Turkish)] {
            pairs.push(Tables {
                locking: Some(l),
                single: s,
            });
        }
        pairs.push(Tables::single_shift(l));
    }
    for tables in pairs {
        let mut basics = Vec::new();
        for s in 0u8..128 {
            if s == alphabet::ESC {
                continue;
            }
            let basic = alphabet::decode(&[s], tables);
            if basic != "\u{FFFD}" {
                let septets = alphabet::encode(&basic, tables).unwrap();
                assert_eq!(septets.len(), 1, "{tables:?} {s:#04x}");
                assert_eq!(alphabet::decode(&septets, tables), basic);
                basics.push(basic.clone());
            }
            let ext = alphabet::decode(&[alphabet::ESC, s], tables);
            if ext == basic || ext == "\u{FFFD}" {
                continue; // an empty single shift position
            }
            let septets = alphabet::encode(&ext, tables).unwrap();
            assert_eq!(
                alphabet::decode(&septets, tables),
                ext,
                "{tables:?} ESC {s:#04x}"
            );
        }
        // What the locking table lacks takes an escape.
        for s in 0u8..128 {
            let ext = alphabet::decode(&[alphabet::ESC, s], tables);
            if ext.chars().count() == 1 && !basics.contains(&ext) && ext != "\u{FFFD}" && ext != " "
            {
                assert_eq!(alphabet::encode(&ext, tables).unwrap().len(), 2, "{ext:?}");
            }
        }
    }
}

#[test]
fn a_single_shift_table_is_used_when_it_saves_parts() {
    // One ş in 100 characters: UCS-2 needs 2 parts, Turkish single shift 1.
    let text = format!(
        "Sunucu {} diski dolu, lütfen bakın: {}",
        "db1",
        "x".repeat(60)
    );
    let text = text.replace("dolu", "doluş");
    assert!(text.chars().count() > 70);
    assert_eq!(plan(&text), (Encoding::Gsm7Shift(Language::Turkish), 1));
    let p = encode_submit("+420608337726", &text, &SubmitOptions::default()).unwrap();
    assert_eq!(p.len(), 1);
    // TP-UDHI set; TP-DCS 00; the header 03 24 01 01 starts the user data.
    let Ok(Tpdu::Submit(s)) = decode_pdu(&p[0].pdu_hex, true) else {
        panic!()
    };
    assert_eq!(s.user_data.text, text);
    assert_eq!(s.user_data.tables, Tables::single_shift(Language::Turkish));
    assert!(p[0].pdu_hex.contains("AA6903240101"), "{}", p[0].pdu_hex);
    // Short: 1 part either way, so UCS-2, which every phone shows.
    assert_eq!(plan("ş"), (Encoding::Ucs2, 1));
    // Spanish and Portuguese letters.
    let es = format!("{} está aquí", "y".repeat(80));
    assert_eq!(plan(&es), (Encoding::Gsm7Shift(Language::Spanish), 1));
    let pt = format!("{} não, você", "y".repeat(80));
    assert_eq!(plan(&pt), (Encoding::Gsm7Shift(Language::Portuguese), 1));
    // Letters of two languages: no one table has them all.
    assert_eq!(plan(&format!("{} ş ã", "y".repeat(80))).0, Encoding::Ucs2);
    // Long: 149 septets a part with the single shift header.
    let long = format!("ş{}", "x".repeat(400));
    let (encoding, parts) = split(&long);
    assert_eq!(encoding, Encoding::Gsm7Shift(Language::Turkish));
    assert_eq!(
        parts.iter().map(|p| p.chars().count()).collect::<Vec<_>>(),
        [148, 149, 104]
    );
    let pdus = encode_submit("+420608337726", &long, &SubmitOptions::default()).unwrap();
    let mut joined = String::new();
    for p in &pdus {
        let Ok(Tpdu::Submit(s)) = decode_pdu(&p.pdu_hex, true) else {
            panic!()
        };
        // UDH 08 | 00 03 ref total seq | 24 01 01.
        assert!(p.pdu_hex.contains("080003"), "{}", p.pdu_hex);
        assert!(s.user_data.concat.is_some());
        joined.push_str(&s.user_data.text);
    }
    assert_eq!(joined, long);
}

// ------------------------------------------------------------ CR padding

#[test]
fn seven_spare_bits_are_filled_with_cr() {
    // "1234567": 7 septets in 7 octets, 7 bits to spare in the last one:
    // CR (0D << 1 = 1A) there, not zeros; TP-UDL stays 7.
    let opts = SubmitOptions {
        validity: None,
        ..SubmitOptions::default()
    };
    let p = encode_submit("+420608337726", "1234567", &opts).unwrap();
    assert!(
        p[0].pdu_hex.ends_with("000731D98C56B3DD1A"),
        "{}",
        p[0].pdu_hex
    );
    // Fewer spare bits stay zero: "123456" has 6 septets in 6 octets.
    let p = encode_submit("+420608337726", "123456", &opts).unwrap();
    assert!(
        p[0].pdu_hex.ends_with("000631D98C56B301"),
        "{}",
        p[0].pdu_hex
    );
}

#[test]
fn a_final_cr_on_an_octet_boundary_is_padding() {
    // TP-UDL 8, the eighth septet CR: a sender that counted its padding.
    assert_eq!(plain7(0x08, "31D98C56B3DD1A"), "1234567");
    // TP-UDL 7 and the CR beyond it: the count decides.
    assert_eq!(plain7(0x07, "31D98C56B3DD1A"), "1234567");
    // TP-UDL 8 ending in '@' (zeros): a real character.
    assert_eq!(plain7(0x08, "31D98C56B3DD00"), "1234567@");
    // CR CR, 9 septets (31..37 0D 0D): not on a boundary, both kept.
    assert_eq!(plain7(0x09, "31D98C56B3DD1A0D"), "1234567\r\r");
    // With a header: UDH 05 00 03 2A 02 01 + 1 fill bit = 7 septets, then
    // "ABCDEFGH" and CR (41..48 0D): UDL 16 ends on a boundary, so the CR
    // is padding; "A" and CR (UDL 9) does not, so it is kept.
    assert_eq!(text7(0x10, "0500032A020182C221B1683C221B").0, "ABCDEFGH");
    assert_eq!(text7(0x09, "0500032A0201820D").0, "A\r");
}

#[test]
fn a_wanted_final_cr_on_a_boundary_is_sent_twice() {
    let opts = SubmitOptions {
        validity: None,
        ..SubmitOptions::default()
    };
    // "1234567\r" is 8 septets, on an octet boundary: sent as CR CR (UDL 9).
    let p = encode_submit("+420608337726", "1234567\r", &opts).unwrap();
    assert!(
        p[0].pdu_hex.ends_with("000931D98C56B3DD1A0D"),
        "{}",
        p[0].pdu_hex
    );
    // 160 septets ending in CR do not fit one message then.
    let text = format!("{}\r", "x".repeat(159));
    assert_eq!(plan(&text), (Encoding::Gsm7, 2));
    // A full part ending in CR gives the CR to the next part.
    let text = format!("{}\r{}", "x".repeat(152), "y".repeat(10));
    let (_, parts) = split(&text);
    assert_eq!(parts[0], "x".repeat(152));
    assert_eq!(parts[1], format!("\r{}", "y".repeat(10)));
}

// ------------------------------------------------------------ time stamps

#[test]
fn an_invalid_time_stamp_leaves_the_text() {
    // TP-SCTS 62 11 03 A1 02 03 40: the hour's tens semi-octet is A.
    // "hellohello" (dreamfabric's example): UDL 0A, E8329BFD4697D9EC37.
    let d = deliver(&pdu(
        0x04,
        0x00,
        0x00,
        "621103A1020340",
        0x0A,
        "E8329BFD4697D9EC37",
    ));
    assert_eq!(d.user_data.text, "hellohello");
    assert_eq!(
        d.timestamp,
        SmscTime::Invalid([0x62, 0x11, 0x03, 0xA1, 0x02, 0x03, 0x40])
    );
    assert_eq!(d.timestamp.text(), "");
    // A status report with a bad discharge time still says what happened:
    // 06 | MR 2A | RA 0C 91 ... | SCTS | DT with an F semi-octet | ST 00.
    let r = decode_pdu(
        &format!("00062A0C91246080337762{SCTS}6211F301020340 00").replace(' ', ""),
        true,
    );
    let Ok(Tpdu::StatusReport(r)) = r else {
        panic!("{r:?}")
    };
    assert_eq!((r.mr, r.status), (0x2A, 0));
    assert_eq!(r.discharged.known(), None);
    assert!(r.submitted.known().is_some());
}

// ------------------------------------------------------------ message types

#[test]
fn message_types() {
    // TP-PID 40: short message type 0.
    let d = deliver(&pdu(0x04, 0x40, 0x00, SCTS, 0x0A, "E8329BFD4697D9EC37"));
    assert_eq!(d.pid, 0x40);
    assert!(silent(d.pid));
    assert_eq!(replace_type(d.pid), None);
    // 41..47: replace short message type 1..7.
    for n in 1..=7u8 {
        let d = deliver(&pdu(0x04, 0x40 + n, 0x00, SCTS, 0x0A, "E8329BFD4697D9EC37"));
        assert_eq!(replace_type(d.pid), Some(n));
        assert!(!silent(d.pid));
    }
    // 00 plain; 7F (U)SIM data download is neither.
    for pid in [0x00, 0x39, 0x5F, 0x7F] {
        assert!(!silent(pid) && replace_type(pid).is_none(), "{pid:#04x}");
    }
}

// ------------------------------------------------------------ ports

#[test]
fn application_ports() {
    // A WAP push (Service Indication): TP-DCS F5 (8-bit, class 1); UDH
    // 06 | 05 04 0B84 23F0 (16-bit ports: to 2948, from 9200); then WSP:
    // transaction 01, PDU type 06 (push), headers length 03, content type
    // AE (application/vnd.wap.sic), 81 EA (charset utf-8); body 02 05 6A 00.
    let ud = "0605040B8423F0010603AE81EA02056A00";
    let d = deliver(&pdu(0x44, 0x00, 0xF5, SCTS, (ud.len() / 2) as u8, ud));
    assert_eq!(d.user_data.coding, DataCoding::EightBit);
    let ports = d.user_data.ports.unwrap();
    assert_eq!((ports.destination, ports.source), (2948, 9200));
    assert!(ports.is_wap_push());
    assert_eq!(ports.application(), Some("WAP push"));
    assert_eq!(d.user_data.text, "010603AE81EA02056A00");
    // 8-bit ports: UDH 04 | 04 02 F5 F5, data 1234.
    let d = deliver(&pdu(0x44, 0x00, 0x04, SCTS, 0x07, "040402F5F51234"));
    let ports = d.user_data.ports.unwrap();
    assert_eq!((ports.destination, ports.source), (0xF5, 0xF5));
    assert!(!ports.is_wap_push());
    assert_eq!(d.user_data.text, "1234");
    // Ports and concatenation together (a WAP push in parts): UDH 0B |
    // 05 04 0B84 23F0 | 00 03 2A 02 01.
    let ud = "0B05040B8423F000032A0201AABB";
    let d = deliver(&pdu(0x44, 0x00, 0x04, SCTS, (ud.len() / 2) as u8, ud));
    assert_eq!(d.user_data.ports.unwrap().destination, 2948);
    assert_eq!(d.user_data.concat.unwrap().seq, 1);
    assert_eq!(d.user_data.text, "AABB");
    // A malformed element (ports with 3 octets) is ignored, not a port.
    let d = deliver(&pdu(0x44, 0x00, 0x04, SCTS, 0x07, "0405030B84231234"));
    assert_eq!(d.user_data.ports, None);
}

// ------------------------------------------------------------ graphemes

#[test]
fn ucs2_parts_end_on_grapheme_boundaries() {
    // "é" as e + U+0301 (combining acute) across the 67th unit.
    let text = format!("{}e\u{301}{}", "ř".repeat(66), "ř".repeat(10));
    let (encoding, parts) = split(&text);
    assert_eq!(encoding, Encoding::Ucs2);
    assert_eq!(parts[0], "ř".repeat(66));
    assert!(parts[1].starts_with("e\u{301}"));
    // A flag (two regional indicators, 4 units) at units 65..68.
    let text = format!("{}🇨🇿{}", "ř".repeat(65), "ř".repeat(10));
    let (_, parts) = split(&text);
    assert_eq!(parts[0], "ř".repeat(65));
    assert!(parts[1].starts_with("🇨🇿"));
    // A family (man ZWJ woman ZWJ girl ZWJ boy: 11 units) near the end.
    let family = "👨\u{200D}👩\u{200D}👧\u{200D}👦";
    let text = format!("{}{family}{}", "ř".repeat(60), "ř".repeat(10));
    let (_, parts) = split(&text);
    assert_eq!(parts[0], "ř".repeat(60));
    assert!(parts[1].starts_with(family));
    assert_eq!(parts.concat(), text);
    // A grapheme longer than a part is split between its characters.
    let zalgo = format!("a{}", "\u{301}".repeat(100));
    let (_, parts) = split(&format!("{zalgo}ř"));
    assert_eq!(parts.concat(), format!("{zalgo}ř"));
    assert!(parts.iter().all(|p| p.encode_utf16().count() <= 67));
}
