//! TPDU decoding (3GPP TS 23.040 §9.2.2): SMS-DELIVER, SMS-SUBMIT and
//! SMS-STATUS-REPORT, as a modem shows them in PDU mode.

use std::fmt;

use super::alphabet::Tables;
use super::national::Language;
use super::{address, alphabet, septets};

/// A decoded TPDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tpdu {
    Submit(Submit),
    Deliver(Deliver),
    StatusReport(StatusReport),
}

/// SMS-SUBMIT (mobile to SMSC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submit {
    pub mr: u8,
    /// "+420..." when the type of number is international.
    pub number: String,
    pub status_report_requested: bool,
    /// TP-VP when the validity period is relative; None when absent or in
    /// another format.
    pub validity: Option<u8>,
    pub user_data: UserData,
}

/// SMS-DELIVER (SMSC to mobile): a received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deliver {
    /// Digits ("+..." when international) or the alphanumeric sender name.
    pub sender: String,
    pub sender_alphanumeric: bool,
    /// The SMSC from the PDU-mode prefix, when there was one.
    pub smsc: Option<String>,
    /// TP-PID: what kind of message it is (see [`silent`], [`replace_type`]).
    pub pid: u8,
    pub timestamp: SmscTime,
    pub user_data: UserData,
}

/// TP-PID 0x40, "short message type 0" (TS 23.040 §9.2.3.9): the handset
/// acknowledges it and may discard its content (a "silent" SMS, often a
/// network's or a tracker's probe). No one is to be alerted by it.
pub fn silent(pid: u8) -> bool {
    pid == 0x40
}

/// TP-PID 0x41..=0x47, "replace short message type n" (TS 23.040
/// §9.2.3.9): the message replaces one stored earlier with the same TP-PID
/// from the same originating address. Returns n.
pub fn replace_type(pid: u8) -> Option<u8> {
    (0x41..=0x47).contains(&pid).then(|| pid - 0x40)
}

/// A service centre time stamp as received: a time, or seven octets that
/// are not one (a semi-octet that is not a decimal digit, which some SMSCs
/// send). The message around it is read all the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmscTime {
    Known(Timestamp),
    Invalid([u8; 7]),
}

impl SmscTime {
    pub fn known(self) -> Option<Timestamp> {
        match self {
            SmscTime::Known(t) => Some(t),
            SmscTime::Invalid(_) => None,
        }
    }

    /// The time as stored: `2026-11-30 01:02:03+01:00`, or empty when
    /// unknown.
    pub fn text(self) -> String {
        self.known().map(|t| t.to_string()).unwrap_or_default()
    }
}

/// SMS-STATUS-REPORT: the fate of a message sent with TP-SRR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// TP-MR of the SMS-SUBMIT this reports on (the `+CMGS: <mr>` value).
    pub mr: u8,
    pub recipient: String,
    pub submitted: SmscTime,
    pub discharged: SmscTime,
    /// TP-ST: 0x00..=0x1F delivered, 0x20..=0x3F still trying,
    /// 0x40..=0x7F failed.
    pub status: u8,
}

/// A service centre time stamp (TP-SCTS, TP-DT), local time plus offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// 2000 + the two-digit year.
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// Offset from UTC in quarter hours, signed.
    pub tz_quarters: i8,
}

impl fmt::Display for Timestamp {
    /// "2026-11-30 01:02:03+01:00"
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.tz_quarters < 0 { '-' } else { '+' };
        let minutes = u32::from(self.tz_quarters.unsigned_abs()) * 15;
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{}{:02}:{:02}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            sign,
            minutes / 60,
            minutes % 60
        )
    }
}

/// The alphabet of the user data (from TP-DCS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataCoding {
    Gsm7,
    Ucs2,
    /// 8-bit data, and also compressed text, which is not decompressed.
    EightBit,
}

impl DataCoding {
    /// `gsm7`, `ucs2`, `8bit`: how the database names it.
    pub fn name(self) -> &'static str {
        match self {
            DataCoding::Gsm7 => "gsm7",
            DataCoding::Ucs2 => "ucs2",
            DataCoding::EightBit => "8bit",
        }
    }

    pub fn from_name(name: &str) -> Option<DataCoding> {
        match name {
            "gsm7" => Some(DataCoding::Gsm7),
            "ucs2" => Some(DataCoding::Ucs2),
            "8bit" => Some(DataCoding::EightBit),
            _ => None,
        }
    }
}

/// TP-UD with its header interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserData {
    pub coding: DataCoding,
    /// Message class 0..=3 from TP-DCS, when given (0 = flash).
    pub class: Option<u8>,
    /// The text; for `EightBit`, the data as uppercase hex.
    pub text: String,
    pub concat: Option<Concat>,
    /// For `Gsm7`: the national language tables the header names (IE 0x25
    /// locking shift, IE 0x24 single shift), default otherwise.
    pub tables: Tables,
    /// Application port addressing (IE 0x04 or 0x05), when present.
    pub ports: Option<Ports>,
    /// The user data after the header: one septet per byte for `Gsm7`,
    /// octets otherwise. Joining concatenated parts joins these and decodes
    /// once ([`decode_body`]), so an escape pair or a surrogate pair that a
    /// sender split across parts still comes out whole.
    pub body: Vec<u8>,
}

/// Decodes a (possibly joined) user data body as [`UserData::body`] holds
/// it; `tables` count for `Gsm7` only.
pub fn decode_body(coding: DataCoding, tables: Tables, body: &[u8]) -> String {
    match coding {
        DataCoding::Gsm7 => alphabet::decode(body, tables),
        DataCoding::Ucs2 => {
            let units: Vec<u16> = body
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            let mut text = String::from_utf16_lossy(&units);
            if !body.len().is_multiple_of(2) {
                text.push(char::REPLACEMENT_CHARACTER);
            }
            text
        }
        DataCoding::EightBit => super::to_hex(body),
    }
}

/// Concatenation information element: this is part `seq` of `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concat {
    pub reference: u16,
    pub total: u8,
    pub seq: u8,
    /// The 16-bit reference form (IEI 0x08) rather than 8-bit (IEI 0x00).
    pub ref16: bool,
}

/// Application port addressing (TS 23.040 §9.2.3.24.3/4): which
/// application the message is for. 8-bit data with ports is how WAP push,
/// vCards and the like travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub destination: u16,
    pub source: u16,
}

impl Ports {
    /// What the destination port is known as (IANA's WAP ports, which TS
    /// 23.040 refers to), if it is one of those.
    pub fn application(self) -> Option<&'static str> {
        match self.destination {
            2948 => Some("WAP push"),
            2949 => Some("WAP push (secure)"),
            9204 => Some("vCard"),
            9205 => Some("vCalendar"),
            9206 => Some("vCard (secure)"),
            9207 => Some("vCalendar (secure)"),
            _ => None,
        }
    }

    /// A WAP push (to the connectionless push port 2948, or 2949 secure).
    pub fn is_wap_push(self) -> bool {
        matches!(self.destination, 2948 | 2949)
    }
}

/// Why a PDU could not be decoded. Octet offsets count from 0 at the start
/// of the PDU as given (the SMSC field included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    Empty,
    OddLength(usize),
    NotHex {
        position: usize,
        found: char,
    },
    Truncated {
        field: &'static str,
        octet: usize,
        needed: usize,
        available: usize,
    },
    Invalid {
        field: &'static str,
        octet: usize,
        reason: String,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Empty => write!(f, "empty PDU"),
            DecodeError::OddLength(n) => {
                write!(f, "PDU has an odd number of hex digits ({n})")
            }
            DecodeError::NotHex { position, found } => {
                write!(
                    f,
                    "PDU has {found:?}, not a hex digit, at position {position}"
                )
            }
            DecodeError::Truncated {
                field,
                octet,
                needed,
                available,
            } => write!(
                f,
                "PDU too short: {field} at octet {octet} needs {needed} octet(s), only {available} left"
            ),
            DecodeError::Invalid {
                field,
                octet,
                reason,
            } => write!(f, "invalid {field} at octet {octet}: {reason}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes a PDU given as hex. `has_smsc`: the PDU starts with the SMSC
/// field, as in AT+CMGS input and AT+CMGL/+CMGR output.
pub fn decode_pdu(hex: &str, has_smsc: bool) -> Result<Tpdu, DecodeError> {
    let bytes = from_hex(hex.trim())?;
    let mut r = Reader {
        data: &bytes,
        pos: 0,
    };
    let smsc = if has_smsc {
        let at = r.pos;
        let (smsc, used) =
            address::decode_smsc(r.rest()).map_err(|s| r.short("SMSC address", at, s))?;
        r.pos += used;
        smsc
    } else {
        None
    };
    let first_at = r.pos;
    let first = r.byte("first octet")?;
    let udhi = first & 0x40 != 0;
    match first & 0x03 {
        0 => {
            let oa = r.address("TP-OA")?;
            let pid = r.byte("TP-PID")?;
            let dcs = r.byte("TP-DCS")?;
            let timestamp = r.timestamp("TP-SCTS")?;
            let user_data = r.user_data(udhi, dcs)?;
            Ok(Tpdu::Deliver(Deliver {
                sender: oa.value,
                sender_alphanumeric: oa.alphanumeric,
                smsc,
                pid,
                timestamp,
                user_data,
            }))
        }
        1 => {
            let mr = r.byte("TP-MR")?;
            let number = r.address("TP-DA")?.value;
            let _pid = r.byte("TP-PID")?;
            let dcs = r.byte("TP-DCS")?;
            let validity = match (first >> 3) & 0x03 {
                0 => None,
                2 => Some(r.byte("TP-VP")?),
                // Enhanced or absolute format: seven octets we do not use.
                _ => {
                    r.take(7, "TP-VP")?;
                    None
                }
            };
            let user_data = r.user_data(udhi, dcs)?;
            Ok(Tpdu::Submit(Submit {
                mr,
                number,
                status_report_requested: first & 0x20 != 0,
                validity,
                user_data,
            }))
        }
        2 => {
            let mr = r.byte("TP-MR")?;
            let recipient = r.address("TP-RA")?.value;
            let submitted = r.timestamp("TP-SCTS")?;
            let discharged = r.timestamp("TP-DT")?;
            let status = r.byte("TP-ST")?;
            Ok(Tpdu::StatusReport(StatusReport {
                mr,
                recipient,
                submitted,
                discharged,
                status,
            }))
        }
        _ => Err(DecodeError::Invalid {
            field: "first octet",
            octet: first_at,
            reason: format!("{first:#04x} has the reserved message type 3"),
        }),
    }
}

fn from_hex(s: &str) -> Result<Vec<u8>, DecodeError> {
    if s.is_empty() {
        return Err(DecodeError::Empty);
    }
    let digit = |(position, c): (usize, char)| {
        c.to_digit(16)
            .map(|d| d as u8)
            .ok_or(DecodeError::NotHex { position, found: c })
    };
    let digits = s
        .chars()
        .enumerate()
        .map(digit)
        .collect::<Result<Vec<u8>, _>>()?;
    if digits.len() % 2 != 0 {
        return Err(DecodeError::OddLength(digits.len()));
    }
    Ok(digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
}

/// TP-DCS interpreted (3GPP TS 23.038 §4).
fn data_coding(dcs: u8) -> (DataCoding, Option<u8>) {
    let alphabet = |bits: u8| match bits & 0x03 {
        1 => DataCoding::EightBit,
        2 => DataCoding::Ucs2,
        // 3 is reserved; the standard says to treat it as the default alphabet.
        _ => DataCoding::Gsm7,
    };
    match dcs >> 4 {
        // General data coding (00xx) and automatic deletion (01xx) groups.
        0x0..=0x7 => {
            let class = (dcs & 0x10 != 0).then_some(dcs & 0x03);
            if dcs & 0x20 != 0 {
                (DataCoding::EightBit, class) // compressed
            } else {
                (alphabet(dcs >> 2), class)
            }
        }
        // Message waiting indication groups: discard/store (GSM 7), store (UCS-2).
        0xC | 0xD => (DataCoding::Gsm7, None),
        0xE => (DataCoding::Ucs2, None),
        0xF => {
            let coding = if dcs & 0x04 != 0 {
                DataCoding::EightBit
            } else {
                DataCoding::Gsm7
            };
            (coding, Some(dcs & 0x03))
        }
        // Reserved groups: treat as the default alphabet.
        _ => (DataCoding::Gsm7, None),
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }

    fn short(&self, field: &'static str, at: usize, s: address::Short) -> DecodeError {
        DecodeError::Truncated {
            field,
            octet: at,
            needed: s.needed,
            available: self.data.len() - at,
        }
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let rest = self.rest();
        if rest.len() < n {
            return Err(DecodeError::Truncated {
                field,
                octet: self.pos,
                needed: n,
                available: rest.len(),
            });
        }
        self.pos += n;
        Ok(&rest[..n])
    }

    fn byte(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, field)?[0])
    }

    fn address(&mut self, field: &'static str) -> Result<address::Address, DecodeError> {
        let at = self.pos;
        let (a, used) = address::decode(self.rest()).map_err(|s| self.short(field, at, s))?;
        self.pos += used;
        Ok(a)
    }

    /// Seven octets of time stamp; a digit that is not decimal makes it
    /// [`SmscTime::Invalid`], not an error.
    fn timestamp(&mut self, field: &'static str) -> Result<SmscTime, DecodeError> {
        let b: [u8; 7] = self
            .take(7, field)?
            .try_into()
            .expect("take(7) gives seven octets");
        let mut v = [0u8; 6];
        for (&octet, out) in b.iter().zip(v.iter_mut()) {
            let (tens, units) = (octet & 0x0F, octet >> 4);
            if tens > 9 || units > 9 {
                return Ok(SmscTime::Invalid(b));
            }
            *out = tens * 10 + units;
        }
        // Time zone: tens in bits 0-2, sign in bit 3, units in the high nibble.
        let tz = b[6];
        let quarters = ((tz & 0x07) * 10 + (tz >> 4)) as i8;
        Ok(SmscTime::Known(Timestamp {
            year: 2000 + u16::from(v[0]),
            month: v[1],
            day: v[2],
            hour: v[3],
            minute: v[4],
            second: v[5],
            tz_quarters: if tz & 0x08 != 0 { -quarters } else { quarters },
        }))
    }

    fn user_data(&mut self, udhi: bool, dcs: u8) -> Result<UserData, DecodeError> {
        let (coding, class) = data_coding(dcs);
        let udl_at = self.pos;
        let udl = usize::from(self.byte("TP-UDL")?);
        let octets = match coding {
            DataCoding::Gsm7 => septets::packed_len(udl, 0),
            _ => udl,
        };
        if octets > 140 {
            let unit = if coding == DataCoding::Gsm7 {
                "septets"
            } else {
                "octets"
            };
            return Err(DecodeError::Invalid {
                field: "TP-UDL",
                octet: udl_at,
                reason: format!("{udl} {unit} is more than one message holds"),
            });
        }
        let ud_at = self.pos;
        let ud = self.take(octets, "TP-UD")?;
        let header = if udhi {
            user_data_header(ud, ud_at)?
        } else {
            Header::default()
        };
        let header_len = header.len;
        let body = match coding {
            DataCoding::Gsm7 => {
                // The header plus fill bits occupy whole septets; skip them.
                let skip = (header_len * 8).div_ceil(7);
                if skip > udl {
                    return Err(DecodeError::Invalid {
                        field: "TP-UDH",
                        octet: ud_at,
                        reason: format!(
                            "header of {header_len} octets is longer than TP-UDL {udl}"
                        ),
                    });
                }
                let mut all = septets::unpack(ud, 0, udl).unwrap_or_default();
                // TS 23.038 §6.1.2.3.1: a CR that ends the user data on an
                // octet boundary is padding (a sender filling 7 spare bits
                // with CR rather than zeros, and counting it); a wanted final
                // CR there is sent as CR CR.
                if udl.is_multiple_of(8) && udl > skip && all.last() == Some(&CR) {
                    all.pop();
                }
                all.drain(..skip);
                all
            }
            _ => ud[header_len..].to_vec(),
        };
        // The tables a header names count for 7-bit text only.
        let tables = match coding {
            DataCoding::Gsm7 => header.tables,
            _ => Tables::DEFAULT,
        };
        let text = decode_body(coding, tables, &body);
        Ok(UserData {
            coding,
            class,
            text,
            concat: header.concat,
            tables,
            ports: header.ports,
            body,
        })
    }
}

/// The septet CR.
const CR: u8 = 0x0D;

/// What the user data header says that smss uses.
#[derive(Debug, Clone, Copy, Default)]
struct Header {
    concat: Option<Concat>,
    tables: Tables,
    ports: Option<Ports>,
    /// Octets, the length octet included.
    len: usize,
}

/// Reads the user data header at the start of `ud`: concatenation (IE 0x00,
/// 0x08), application ports (0x04, 0x05), national language tables (0x24,
/// 0x25). Other information elements are skipped.
fn user_data_header(ud: &[u8], at: usize) -> Result<Header, DecodeError> {
    let Some(&udhl) = ud.first() else {
        return Err(DecodeError::Invalid {
            field: "TP-UDH",
            octet: at,
            reason: "TP-UDHI is set but there is no user data".into(),
        });
    };
    let end = 1 + usize::from(udhl);
    if end > ud.len() {
        return Err(DecodeError::Invalid {
            field: "TP-UDH",
            octet: at,
            reason: format!(
                "header length {udhl} exceeds the {} octets of user data",
                ud.len() - 1
            ),
        });
    }
    let mut h = Header {
        len: end,
        ..Header::default()
    };
    // TS 23.040 §9.2.3.24: a malformed header is ignored as a whole.
    let ignored = Header {
        len: end,
        ..Header::default()
    };
    let mut i = 1;
    while i < end {
        if i + 2 > end {
            return Ok(ignored);
        }
        let (iei, len) = (ud[i], usize::from(ud[i + 1]));
        let data_end = i + 2 + len;
        if data_end > end {
            return Ok(ignored);
        }
        let d = &ud[i + 2..data_end];
        // An element with a zero or out-of-range part number is ignored.
        let parts_ok = |total: u8, seq: u8| total > 0 && seq > 0 && seq <= total;
        match (iei, d) {
            (0x00, &[r, total, seq]) if parts_ok(total, seq) => {
                h.concat = Some(Concat {
                    reference: u16::from(r),
                    total,
                    seq,
                    ref16: false,
                });
            }
            (0x08, &[hi, lo, total, seq]) if parts_ok(total, seq) => {
                h.concat = Some(Concat {
                    reference: u16::from_be_bytes([hi, lo]),
                    total,
                    seq,
                    ref16: true,
                });
            }
            (0x04, &[destination, source]) => {
                h.ports = Some(Ports {
                    destination: u16::from(destination),
                    source: u16::from(source),
                });
            }
            (0x05, &[d1, d0, s1, s0]) => {
                h.ports = Some(Ports {
                    destination: u16::from_be_bytes([d1, d0]),
                    source: u16::from_be_bytes([s1, s0]),
                });
            }
            // A reserved or unknown identifier means the default table.
            (0x24, &[id]) => h.tables.single = Language::from_id(id),
            (0x25, &[id]) => h.tables.locking = Language::from_id(id),
            _ => {}
        }
        i = data_end;
    }
    Ok(h)
}
