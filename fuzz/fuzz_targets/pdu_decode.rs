//! `gsm::decode_pdu` on the input twice over, each with and without the
//! SMSC field: as octets (written out as hex, which reaches deep into the
//! TPDU) and as the text a modem line would carry (non-hex characters, odd
//! lengths, whitespace).
//!
//! Beyond "no panic": the decoded text is what `decode_body` makes of the
//! kept body in the tables the header named (national language locking and
//! single shift, IE 0x25/0x24), the body fits one message, the tables are
//! the default ones for anything but 7-bit, the text in them encodes back,
//! ports and message types read, and every Display works. The seeds
//! `corner-*` reach the national tables, CR padding, invalid time stamps,
//! message types, an alphanumeric sender's fill, ports and 16-bit
//! references (issue 16).

#![no_main]

use std::fmt::Write;

use libfuzzer_sys::fuzz_target;
use smss::gsm::{
    DataCoding, DecodeError, Tables, Tpdu, UserData, decode_body, decode_pdu, replace_type, silent,
};

fn check_user_data(ud: &UserData) {
    assert_eq!(decode_body(ud.coding, ud.tables, &ud.body), ud.text);
    match ud.coding {
        DataCoding::Gsm7 => {
            assert!(ud.body.len() <= 160);
            assert!(ud.body.iter().all(|&s| s < 0x80));
            // What the tables decode, they write again (U+FFFD marks a
            // position a table leaves empty).
            if !ud.text.contains('\u{FFFD}') {
                let again = ud.tables.encode(&ud.text).expect("decoded text encodes");
                assert_eq!(ud.tables.decode(&again), ud.text);
            }
        }
        DataCoding::Ucs2 | DataCoding::EightBit => {
            assert!(ud.body.len() <= 140);
            assert_eq!(ud.tables, Tables::DEFAULT);
        }
    }
    if let Some(p) = ud.ports {
        let _ = (p.application(), p.is_wap_push());
    }
    if let Some(c) = ud.concat {
        assert!(c.total > 0 && (1..=c.total).contains(&c.seq));
        assert!(c.ref16 || c.reference <= 0xFF);
    }
}

fn check(result: Result<Tpdu, DecodeError>) {
    match result {
        Ok(Tpdu::Deliver(d)) => {
            check_user_data(&d.user_data);
            let _ = d.timestamp.text();
            assert!(!(silent(d.pid) && replace_type(d.pid).is_some()));
        }
        Ok(Tpdu::Submit(s)) => check_user_data(&s.user_data),
        Ok(Tpdu::StatusReport(r)) => {
            let _ = r.submitted.text();
            let _ = r.discharged.text();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut hex = String::with_capacity(data.len() * 2);
    for b in data {
        let _ = write!(hex, "{b:02X}");
    }
    let text = String::from_utf8_lossy(data);
    for has_smsc in [true, false] {
        check(decode_pdu(&hex, has_smsc));
        check(decode_pdu(&text, has_smsc));
    }
});
