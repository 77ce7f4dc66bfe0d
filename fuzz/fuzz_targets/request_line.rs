//! A request line as the server gets it: bytes → `charset::decode_line`
//! (the default windows-1250 for bytes that are not UTF-8) →
//! `protocol::parse_line` with the default limit of 10 parts.
//!
//! Beyond "no panic": a line that parses has valid phones and non-blank
//! texts within the part limit, and its requests put back together are the
//! line; an error message is one line; no byte is dropped by any charset.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smss::charset::{Legacy, decode_line};
use smss::gsm;
use smss::protocol::parse_line;

const MAX_PARTS: usize = 10;

fuzz_target!(|data: &[u8]| {
    for legacy in [Legacy::Iso8859_2, Legacy::Windows1252, Legacy::Latin1] {
        let other = decode_line(data, legacy);
        if std::str::from_utf8(data).is_err() {
            assert_eq!(other.chars().count(), data.len());
        }
    }
    let line = decode_line(data, Legacy::Windows1250);
    match parse_line(&line, MAX_PARTS) {
        Ok(requests) => {
            assert!(!requests.is_empty());
            let mut rebuilt = String::with_capacity(line.len());
            for r in &requests {
                assert!(gsm::valid_phone(&r.phone), "{:?}", r.phone);
                assert!(!r.text.trim().is_empty(), "blank text");
                assert!(gsm::plan(&r.text).1 <= MAX_PARTS);
                rebuilt.push('#');
                rebuilt.push_str(&r.phone);
                rebuilt.push(';');
                rebuilt.push_str(&r.text);
            }
            let core = line.trim_start_matches([' ', '\t', '\r', '\u{feff}']);
            let core = core.strip_suffix('\r').unwrap_or(core);
            assert_eq!(rebuilt, core);
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains(['\n', '\r']), "{msg:?}");
        }
    }
});
