//! The SMS PDU codec, written from 3GPP TS 23.040 (TPDU layout) and
//! TS 23.038 (alphabets, data coding).
//!
//! Sending: [`encode_submit`] turns a number and a text into SMS-SUBMIT PDUs
//! for `AT+CMGS` in PDU mode. The text goes in the GSM 7-bit default
//! alphabet (with the extension table) when every character fits, else in
//! UCS-2 (UTF-16, so emoji survive). Texts too long for one message become
//! concatenated parts with an 8-bit reference header; [`plan`] and [`split`]
//! tell in advance how.
//!
//! Receiving: [`decode_pdu`] reads SMS-DELIVER, SMS-SUBMIT and
//! SMS-STATUS-REPORT PDUs as `AT+CMGL` shows them, and reports malformed
//! input as a [`DecodeError`] rather than panicking.

mod address;
mod alphabet;
mod decode;
mod deliver;
mod septets;
mod submit;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;

pub use address::valid_phone;
pub use decode::{
    Concat, DataCoding, DecodeError, Deliver, StatusReport, Submit, Timestamp, Tpdu, UserData,
    decode_body, decode_pdu,
};
pub use deliver::{DeliverRef, encode_deliver, encode_status_report};
pub use submit::{
    EncodeError, Encoding, SubmitOptions, SubmitPart, encode_submit, plan, split, to_hex,
};
