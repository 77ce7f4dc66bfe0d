//! `gsm::decode_pdu` on the input twice over, each with and without the
//! SMSC field: as octets (written out as hex, which reaches deep into the
//! TPDU) and as the text a modem line would carry (non-hex characters, odd
//! lengths, whitespace).
//!
//! Beyond "no panic": the decoded text is what `decode_body` makes of the
//! kept body, the body fits one message, and every Display works.

#![no_main]

use std::fmt::Write;

use libfuzzer_sys::fuzz_target;
use smss::gsm::{DataCoding, DecodeError, Tpdu, UserData, decode_body, decode_pdu};

fn check_user_data(ud: &UserData) {
    assert_eq!(decode_body(ud.coding, &ud.body), ud.text);
    match ud.coding {
        DataCoding::Gsm7 => {
            assert!(ud.body.len() <= 160);
            assert!(ud.body.iter().all(|&s| s < 0x80));
        }
        DataCoding::Ucs2 | DataCoding::EightBit => assert!(ud.body.len() <= 140),
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
            let _ = d.timestamp.to_string();
        }
        Ok(Tpdu::Submit(s)) => check_user_data(&s.user_data),
        Ok(Tpdu::StatusReport(r)) => {
            let _ = r.submitted.to_string();
            let _ = r.discharged.to_string();
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
