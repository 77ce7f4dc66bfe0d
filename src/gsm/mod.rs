//! The SMS PDU codec, written from 3GPP TS 23.040 (TPDU layout) and
//! TS 23.038 (alphabets, data coding).
//!
//! Sending: [`encode_submit`] turns a number and a text into SMS-SUBMIT PDUs
//! for `AT+CMGS` in PDU mode. The text goes in the GSM 7-bit default
//! alphabet (with the extension table) when every character fits, else in
//! UCS-2 (UTF-16, so emoji survive); a text that the default alphabet lacks
//! only a few Turkish, Spanish or Portuguese letters of goes in 7-bit with
//! that language's single shift table when that takes fewer parts than
//! UCS-2. Texts too long for one message become concatenated parts with an
//! 8-bit reference header, split where a character ends (a grapheme, for
//! UCS-2, where one ends within the part); [`plan`] and [`split`] tell in
//! advance how.
//!
//! Receiving: [`decode_pdu`] reads SMS-DELIVER, SMS-SUBMIT and
//! SMS-STATUS-REPORT PDUs as `AT+CMGL` shows them: 7-bit text in the
//! default or the national language tables its header names, UCS-2, 8-bit
//! data with its application ports, the message type (TP-PID), a time
//! stamp that is not one kept as unknown; malformed input is a
//! [`DecodeError`] rather than a panic.

mod address;
mod alphabet;
mod decode;
mod deliver;
mod national;
mod septets;
mod submit;

#[cfg(test)]
mod corners;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;

pub use address::valid_phone;
pub use alphabet::Tables;
pub use decode::{
    Concat, DataCoding, DecodeError, Deliver, Ports, SmscTime, StatusReport, Submit, Timestamp,
    Tpdu, UserData, decode_body, decode_pdu, replace_type, silent,
};
pub use deliver::{DeliverRef, encode_deliver, encode_status_report};
pub use national::Language;
pub use submit::{
    EncodeError, Encoding, SubmitOptions, SubmitPart, encode_submit, plan, relative_validity,
    split, to_hex,
};
