//! SMS-DELIVER and SMS-STATUS-REPORT encoding, for the simulated modem to
//! hold what a network would deliver. (smss itself only decodes these; the
//! decoder is checked against PDUs from real modems in `vectors.rs`.)

use super::submit::{Encoding, header, split_ref, to_hex, user_data};
use super::{Tables, Timestamp, address, alphabet, septets};

/// The SMSC the simulated network uses.
const SMSC: &str = "420603052000";

/// How a multipart DELIVER is referenced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliverRef {
    pub reference: u16,
    /// The 16-bit reference element (IEI 0x08) rather than 8-bit.
    pub ref16: bool,
}

/// SMS-DELIVER PDUs (hex, SMSC field first, as `AT+CMGL` lists them) for
/// `text` from `sender`: `+digits`, bare digits, or an alphanumeric name.
/// Several parts when the text needs them, in order.
pub fn encode_deliver(sender: &str, text: &str, ts: Timestamp, concat: DeliverRef) -> Vec<String> {
    // A 16-bit reference header is one octet longer than an 8-bit one.
    let (encoding, parts) = split_ref(text, concat.ref16);
    let total = parts.len() as u8;
    let oa = originator(sender);
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let seq = i as u8 + 1;
            let [hi, lo] = concat.reference.to_be_bytes();
            let element: Option<Vec<u8>> = match (total > 1, concat.ref16) {
                (false, _) => None,
                (true, false) => Some(vec![0x00, 0x03, lo, total, seq]),
                (true, true) => Some(vec![0x08, 0x04, hi, lo, total, seq]),
            };
            let udh = header(element.as_deref(), encoding);
            let mut first = 0x04; // SMS-DELIVER, TP-MMS: no more messages waiting
            if !udh.is_empty() {
                first |= 0x40;
            }
            let dcs = match encoding {
                Encoding::Gsm7 | Encoding::Gsm7Shift(_) => 0x00,
                Encoding::Ucs2 => 0x08,
            };
            let mut tpdu = vec![first];
            tpdu.extend(&oa);
            tpdu.extend([0x00, dcs]);
            tpdu.extend(timestamp(ts));
            let (udl, ud) = user_data(encoding, part, &udh);
            tpdu.push(udl);
            tpdu.extend(ud);
            format!("{}{}", smsc_field(), to_hex(&tpdu))
        })
        .collect()
}

/// An SMS-STATUS-REPORT PDU (hex, SMSC field first) for the message with
/// reference `mr` to `recipient`; `status` is TP-ST (0 = delivered).
pub fn encode_status_report(
    mr: u8,
    recipient: &str,
    submitted: Timestamp,
    discharged: Timestamp,
    status: u8,
) -> String {
    let mut tpdu = vec![0x06, mr]; // SMS-STATUS-REPORT, TP-MMS
    tpdu.extend(originator(recipient));
    tpdu.extend(timestamp(submitted));
    tpdu.extend(timestamp(discharged));
    tpdu.push(status);
    format!("{}{}", smsc_field(), to_hex(&tpdu))
}

fn smsc_field() -> String {
    let addr = address::encode(address::TOA_INTERNATIONAL, SMSC);
    // The SMSC length counts octets (type of address included), not digits.
    format!("{:02X}{}", addr.len() - 1, to_hex(&addr[1..]))
}

/// TP-OA: digits, or an alphanumeric name packed in 7 bits (TON 101).
fn originator(sender: &str) -> Vec<u8> {
    let digits = sender.strip_prefix('+').unwrap_or(sender);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let toa = if sender.starts_with('+') {
            address::TOA_INTERNATIONAL
        } else {
            address::TOA_UNKNOWN
        };
        return address::encode(toa, digits);
    }
    let septets_ = alphabet::encode(sender, Tables::DEFAULT).unwrap_or_default();
    let packed = septets::pack(&septets_, 0);
    let semi_octets = (septets_.len() * 7).div_ceil(4);
    let mut out = vec![semi_octets as u8, 0xD0];
    out.extend(packed);
    out
}

/// TP-SCTS: swapped BCD digits, the zone in quarter hours with its sign in bit 3.
fn timestamp(ts: Timestamp) -> [u8; 7] {
    let swap = |v: u8| ((v % 10) << 4) | (v / 10);
    let year = (ts.year % 100) as u8;
    let mut zone = swap(ts.tz_quarters.unsigned_abs());
    if ts.tz_quarters < 0 {
        zone |= 0x08;
    }
    [
        swap(year),
        swap(ts.month),
        swap(ts.day),
        swap(ts.hour),
        swap(ts.minute),
        swap(ts.second),
        zone,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gsm::{SmscTime, Tpdu, decode_pdu};

    fn ts() -> Timestamp {
        Timestamp {
            year: 2026,
            month: 11,
            day: 30,
            hour: 1,
            minute: 2,
            second: 3,
            tz_quarters: -5,
        }
    }

    #[test]
    fn deliver_round_trips_through_the_decoder() {
        for (sender, text, ref16) in [
            ("+420608337726", "€{} a GSM text", false),
            (
                "Tele2 info",
                "Příliš žluťoučký kůň úpěl ďábelské ódy",
                false,
            ),
            ("608337726", &"long 😀 ".repeat(30), true),
            ("+420608337726", &"x".repeat(400), false),
        ] {
            let pdus = encode_deliver(
                sender,
                text,
                ts(),
                DeliverRef {
                    reference: 300,
                    ref16,
                },
            );
            let mut joined = String::new();
            for (i, pdu) in pdus.iter().enumerate() {
                let Ok(Tpdu::Deliver(d)) = decode_pdu(pdu, true) else {
                    panic!("{pdu}")
                };
                assert_eq!(d.sender, sender);
                assert_eq!(
                    d.sender_alphanumeric,
                    !sender
                        .trim_start_matches('+')
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                );
                assert_eq!(d.timestamp, SmscTime::Known(ts()));
                assert_eq!(d.smsc.as_deref(), Some("+420603052000"));
                if pdus.len() > 1 {
                    let c = d.user_data.concat.unwrap();
                    assert_eq!(
                        (c.seq as usize, c.total as usize, c.ref16),
                        (i + 1, pdus.len(), ref16)
                    );
                    assert_eq!(c.reference, if ref16 { 300 } else { 300 % 256 });
                }
                joined.push_str(&d.user_data.text);
            }
            assert_eq!(joined, text);
        }
    }

    #[test]
    fn status_report_round_trips() {
        let pdu = encode_status_report(42, "+420608337726", ts(), ts(), 0x00);
        let Ok(Tpdu::StatusReport(r)) = decode_pdu(&pdu, true) else {
            panic!("{pdu}")
        };
        assert_eq!(
            (r.mr, r.recipient.as_str(), r.status),
            (42, "+420608337726", 0)
        );
        assert_eq!(r.discharged, SmscTime::Known(ts()));
    }
}
