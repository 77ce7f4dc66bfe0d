//! The simulated modem's command interpreter: bytes in, bytes out.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::profiles::{Cmgl, CpmsTest, PinRetries, Profile};
use super::{SentSms, SimHandle, SimState};
use crate::gsm::{self, DataCoding, Tpdu};

/// How long the radio link stays open after a message sent under
/// `AT+CMMS=1`/`2` (TS 27.005 §3.5.6 lets a modem pick 1–5 s).
pub const LINK_HOLD: Duration = Duration::from_secs(5);

/// Parts of a concatenated message waiting for the rest.
struct Partial {
    total: u8,
    parts: HashMap<u8, (String, u8)>,
    coding: &'static str,
    status_report: bool,
}

pub struct SimCore {
    echo: bool,
    line: Vec<u8>,
    /// `Some(len)` after `AT+CMGS=<len>`: collecting the PDU until Ctrl-Z.
    pdu_len: Option<usize>,
    pdu: Vec<u8>,
    next_mr: u8,
    pin_entered: bool,
    partial: HashMap<(String, u16), Partial>,
    /// The memory `AT+CMGL` and `AT+CMGD` work on (`AT+CPMS` first field).
    mem1: String,
    /// `AT+CMMS` mode: 0 off, 1 keep the link for the next message, 2 keep
    /// it for every next message.
    cmms: u8,
    /// Until when the radio link of the last message stays open.
    link_until: Option<Instant>,
    /// `AT+CMEE=1` was given.
    cmee: bool,
    /// Boot lines printed (at the first bytes smss sends).
    booted: bool,
    /// Command lines seen (profiles deaf to the first ones).
    lines_seen: usize,
    /// The first answer's delay is over.
    slow_done: bool,
    /// Which of the profile's late lines came already.
    late_done: Vec<usize>,
    /// The profile's sticky echo was used up.
    echo_stuck: bool,
    /// `AT+CPIN?` answered "busy" so far.
    busy_polls: usize,
}

impl Default for SimCore {
    fn default() -> Self {
        Self::new()
    }
}

fn reply(lines: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(l.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The TPDU length of a stored PDU (without its SMSC field), as `+CMGL:`
/// and `+CMGR:` give it.
pub(super) fn tpdu_len(pdu: &str) -> usize {
    let smsc = usize::from_str_radix(pdu.get(..2).unwrap_or("00"), 16).unwrap_or(0);
    (pdu.len() / 2).saturating_sub(1 + smsc)
}

impl SimCore {
    pub fn new() -> Self {
        SimCore {
            echo: true, // a TC35i starts with echo on
            line: Vec::new(),
            pdu_len: None,
            pdu: Vec::new(),
            next_mr: 1,
            pin_entered: false,
            partial: HashMap::new(),
            mem1: "SM".into(),
            cmms: 0,
            link_until: None,
            cmee: false,
            booted: false,
            lines_seen: 0,
            slow_done: false,
            late_done: Vec::new(),
            echo_stuck: false,
            busy_polls: 0,
        }
    }

    /// Between `AT+CMGS=<n>` and Ctrl-Z: the modem prints nothing then.
    pub fn collecting_pdu(&self) -> bool {
        self.pdu_len.is_some()
    }

    pub fn feed(&mut self, bytes: &[u8], handle: &SimHandle) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.booted && !bytes.is_empty() {
            // A modem that was just powered prints its boot lines; smss
            // starts talking to it then.
            self.booted = true;
            let p = handle.state().profile;
            out.extend_from_slice(p.junk);
            out.extend(reply(p.boot));
        }
        for &b in bytes {
            if self.echo {
                out.push(b);
            }
            if let Some(len) = self.pdu_len {
                match b {
                    0x1a => {
                        self.pdu_len = None;
                        let pdu = String::from_utf8_lossy(&self.pdu).trim().to_owned();
                        self.pdu.clear();
                        out.extend(self.submit(len, &pdu, handle));
                    }
                    0x1b => {
                        self.pdu_len = None;
                        self.pdu.clear();
                        out.extend(reply(&["OK"]));
                    }
                    b'\r' | b'\n' => {}
                    _ => self.pdu.push(b),
                }
                continue;
            }
            match b {
                b'\r' => {
                    let line = String::from_utf8_lossy(&self.line).trim().to_owned();
                    self.line.clear();
                    if !line.is_empty() {
                        out.extend(self.command(&line, handle));
                    }
                }
                // ESC outside PDU input: nothing to cancel, ignored.
                b'\n' | 0x1b => {}
                _ => self.line.push(b),
            }
        }
        out
    }

    fn command(&mut self, line: &str, handle: &SimHandle) -> Vec<u8> {
        let upper = line.to_ascii_uppercase();
        {
            let mut state = handle.state();
            state.commands.push((Instant::now(), line.to_owned()));
            let hang_part =
                upper.starts_with("AT+CMGS=") && state.hang_at_part == Some(state.parts_received);
            let hang = if hang_part {
                state.hang_at_part = None;
                true
            } else if state.hang_commands > 0 {
                state.hang_commands -= 1;
                true
            } else {
                false
            };
            if hang {
                drop(state);
                handle.changed();
                return Vec::new();
            }
        }
        handle.changed();
        let p = handle.state().profile;
        self.lines_seen += 1;
        if self.lines_seen <= p.deaf_first {
            return Vec::new();
        }
        if !self.slow_done {
            self.slow_done = true;
            if !p.slow_first_answer.is_zero() {
                std::thread::sleep(p.slow_first_answer);
            }
        }
        let mut out = Vec::new();
        for (i, (command, urc)) in p.late.iter().enumerate() {
            if upper == *command && !self.late_done.contains(&i) {
                self.late_done.push(i);
                out.extend(reply(&[urc]));
            }
        }
        if let Some((command, urc)) = p.chatter
            && upper == command
        {
            out.extend(reply(&[urc]));
        }
        if p.lacks.iter().any(|l| upper.starts_with(l)) {
            out.extend(reply(&[p.unknown]));
        } else {
            out.extend(self.answer(line, &upper, handle, p));
        }
        out
    }

    /// The memory and slot that `index` of the selected memory names: `MT`
    /// is SM's slots, then ME's after SM's capacity.
    fn locate(&self, state: &SimState, index: u32) -> (String, u32) {
        if self.mem1 != "MT" {
            return (self.mem1.clone(), index);
        }
        let sm = state.memories.get("SM").map_or(0, |m| m.capacity) as u32;
        if index < state.profile.first_index + sm {
            ("SM".into(), index)
        } else {
            ("ME".into(), index - sm)
        }
    }

    /// The selected memory's messages as (index, memory, slot).
    fn listing(&self, state: &SimState) -> Vec<(u32, String, u32)> {
        let slots = |name: &str, offset: u32| {
            state
                .memories
                .get(name)
                .map(|m| {
                    m.slots
                        .keys()
                        .map(|k| (k + offset, name.to_owned(), *k))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };
        if self.mem1 == "MT" {
            let sm = state.memories.get("SM").map_or(0, |m| m.capacity) as u32;
            let mut all = slots("SM", 0);
            all.extend(slots("ME", sm));
            all
        } else {
            slots(&self.mem1, 0)
        }
    }

    /// `(used, total)` of a memory (`MT`: SM and ME together).
    fn usage(state: &SimState, memory: &str) -> Option<(usize, usize)> {
        let of = |m: &str| state.memories.get(m).map(|m| (m.slots.len(), m.capacity));
        if memory == "MT" {
            let (a, b) = (of("SM")?, of("ME")?);
            return Some((a.0 + b.0, a.1 + b.1));
        }
        of(memory)
    }

    fn answer(&mut self, line: &str, upper: &str, handle: &SimHandle, p: &Profile) -> Vec<u8> {
        let (pin, pin_left) = {
            let state = handle.state();
            (state.pin.clone(), state.pin_attempts_left)
        };
        let locked = pin.is_some() && !self.pin_entered;
        let puk = locked && pin_left == 0;
        const PUK_LEFT: u32 = 10;
        let with_ok = |lines: &[&str]| {
            let mut all = lines.to_vec();
            all.push("OK");
            reply(&all)
        };
        match upper {
            "AT" | "ATZ" | "AT&F" => {
                if upper != "AT" {
                    self.echo = true;
                    self.cmms = 0;
                    self.link_until = None;
                    let mut state = handle.state();
                    state.csms = 0;
                    state.cnmi_mt = 0;
                }
                reply(&["OK"])
            }
            "ATE0" => {
                if p.echo_sticks && !self.echo_stuck {
                    // taken, but echo stays on this once
                    self.echo_stuck = true;
                } else {
                    self.echo = false;
                }
                reply(&["OK"])
            }
            "ATE1" => {
                self.echo = true;
                reply(&["OK"])
            }
            "AT+CPIN?" => {
                let cpin = if self.busy_polls < p.sim_busy {
                    self.busy_polls += 1;
                    if self.busy_polls % 2 == 1 {
                        return reply(&["+CME ERROR: 14"]);
                    }
                    "+CPIN: NOT READY"
                } else if puk {
                    "+CPIN: SIM PUK"
                } else if locked {
                    "+CPIN: SIM PIN"
                } else {
                    "+CPIN: READY"
                };
                if p.cpin_without_ok {
                    reply(&[cpin])
                } else {
                    reply(&[cpin, "OK"])
                }
            }
            "AT+CGMI" => with_ok(p.cgmi),
            "AT+CGMM" => with_ok(p.cgmm),
            "ATI" if !p.ati.is_empty() => with_ok(p.ati),
            "AT+CGMR" => with_ok(p.cgmr),
            "AT+CGSN" => reply(&["350000000000001", "OK"]),
            "AT+CSQ" => reply(&[p.csq, "OK"]),
            "AT+CREG?" => reply(&[p.creg, "OK"]),
            "AT+COPS?" => reply(&[p.cops, "OK"]),
            "AT+CSCA?" => reply(&["+CSCA: \"+420603052000\",145", "OK"]),
            "AT+CMEE?" => reply(&[&format!("+CMEE: {}", u8::from(self.cmee)), "OK"]),
            _ if upper.starts_with("AT+CMMS") && handle.state().refuse_cmms => reply(&["ERROR"]),
            "AT+CMMS=?" => reply(&["+CMMS: (0-2)", "OK"]),
            "AT+CMMS?" => reply(&[&format!("+CMMS: {}", self.cmms), "OK"]),
            _ if upper.starts_with("AT+CMMS=") => match upper[8..].trim().parse::<u8>() {
                Ok(n @ 0..=2) => {
                    // An open link serves the next message still; with 0 it
                    // is not kept after that one.
                    self.cmms = n;
                    reply(&["OK"])
                }
                _ => reply(&["+CME ERROR: 3"]),
            },
            _ if upper.starts_with("AT+CPIN=") => {
                let given = line[8..].trim_matches('"');
                let mut state = handle.state();
                state.pin_attempts += 1;
                let answer = if puk {
                    // SIM PUK required: a PIN alone does not unlock it
                    "+CME ERROR: 12"
                } else if pin.as_deref() == Some(given) {
                    self.pin_entered = true;
                    state.pin_attempts_left = 3;
                    "OK"
                } else {
                    state.pin_attempts_left = state.pin_attempts_left.saturating_sub(1);
                    "+CME ERROR: 16"
                };
                drop(state);
                handle.changed();
                reply(&[answer])
            }
            _ if upper.starts_with("AT+CPINR") && p.pin_retries == PinRetries::Cpinr => {
                with_ok(&[&format!("+CPINR: SIM PIN,{pin_left},3")])
            }
            "AT^SPIC" if p.pin_retries == PinRetries::CinterionSpic => {
                let counter = if puk { PUK_LEFT } else { pin_left };
                with_ok(&[&format!("^SPIC: {counter}")])
            }
            "AT+QPINC=\"SC\"" if p.pin_retries == PinRetries::Qpinc => {
                with_ok(&[&format!("+QPINC: \"SC\",{pin_left},{PUK_LEFT}")])
            }
            "AT+SPIC" if p.pin_retries == PinRetries::SimcomSpic => {
                with_ok(&[&format!("+SPIC: {pin_left},3,{PUK_LEFT},10")])
            }
            "AT^CPIN?" if p.pin_retries == PinRetries::HuaweiCpin => {
                let (code, times) = match (puk, locked) {
                    (true, _) => ("SIM PUK", PUK_LEFT.to_string()),
                    (false, true) => ("SIM PIN", pin_left.to_string()),
                    (false, false) => ("READY", String::new()),
                };
                with_ok(&[&format!("^CPIN: {code},{times},{PUK_LEFT},{pin_left},10,3")])
            }
            _ if locked && upper.starts_with("AT+CMGS") => reply(&["+CMS ERROR: 311"]),
            _ if upper.starts_with("AT+CMGS=") => match upper[8..].trim().parse::<usize>() {
                Ok(len) if (7..=164).contains(&len) => {
                    self.pdu_len = Some(len);
                    format!("\r\n{}", p.prompt).into_bytes()
                }
                _ => reply(&["+CMS ERROR: 304"]),
            },
            "AT+CPMS=?" => match p.cpms_test {
                CpmsTest::Literal(answer) => reply(&[answer, "OK"]),
                CpmsTest::Refused(answer) => reply(&[answer]),
                CpmsTest::Lists => {
                    let names: Vec<String> = handle
                        .state()
                        .memories
                        .keys()
                        .map(|m| format!("\"{m}\""))
                        .collect();
                    let all = names.join(",");
                    let store: Vec<&str> = names
                        .iter()
                        .map(String::as_str)
                        .filter(|m| *m != "\"SR\"")
                        .collect();
                    let store = store.join(",");
                    reply(&[&format!("+CPMS: ({all}),({store}),({store})"), "OK"])
                }
            },
            "AT+CPMS?" => {
                // <mem1> as selected; <mem2> the same; <mem3>, where new
                // messages are stored, the profile's
                let state = handle.state();
                let m3 = if state.memories.contains_key(p.deliver_to) {
                    p.deliver_to
                } else {
                    self.mem1.as_str()
                };
                match (Self::usage(&state, &self.mem1), Self::usage(&state, m3)) {
                    (Some((used, cap)), Some((used3, cap3))) => {
                        let m = &self.mem1;
                        reply(&[
                            &format!(
                                "+CPMS: \"{m}\",{used},{cap},\"{m}\",{used},{cap},\"{m3}\",{used3},{cap3}"
                            ),
                            "OK",
                        ])
                    }
                    _ => reply(&["+CMS ERROR: 302"]),
                }
            }
            _ if upper.starts_with("AT+CPMS=") => {
                let first = line[8..]
                    .split(',')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .trim_matches('"');
                let first = match first {
                    "SM_P" => "SM",
                    "ME_P" => "ME",
                    other => other,
                };
                let state = handle.state();
                match Self::usage(&state, first) {
                    Some((used, cap)) => {
                        self.mem1 = first.to_owned();
                        reply(&[
                            &format!("+CPMS: {used},{cap},{used},{cap},{used},{cap}"),
                            "OK",
                        ])
                    }
                    None => reply(&["+CMS ERROR: 302"]),
                }
            }
            "AT+CMGL=4" => match p.cmgl {
                Cmgl::Hangs => Vec::new(),
                Cmgl::Fails(answer) => reply(&[answer]),
                Cmgl::Lists => {
                    let mut state = handle.state();
                    if Self::usage(&state, &self.mem1).is_none() {
                        return reply(&["+CMS ERROR: 302"]);
                    }
                    let mut out = Vec::new();
                    for (index, memory, slot) in self.listing(&state) {
                        let Some((stat, pdu)) = state
                            .memories
                            .get_mut(&memory)
                            .and_then(|m| m.slots.get_mut(&slot))
                        else {
                            continue;
                        };
                        out.extend(reply(&[&format!(
                            "+CMGL: {index},{stat},,{}",
                            tpdu_len(pdu)
                        )]));
                        out.extend_from_slice(pdu.as_bytes());
                        out.extend_from_slice(b"\r\n");
                        if *stat == 0 {
                            *stat = 1;
                        }
                    }
                    out.extend(reply(&["OK"]));
                    out
                }
            },
            _ if upper.starts_with("AT+CMGR=") => {
                let Ok(index) = upper[8..].trim().parse::<u32>() else {
                    return reply(&["+CMS ERROR: 321"]);
                };
                let mut state = handle.state();
                let (memory, slot) = self.locate(&state, index);
                match state
                    .memories
                    .get_mut(&memory)
                    .and_then(|m| m.slots.get_mut(&slot))
                {
                    Some((stat, pdu)) => {
                        let mut out = reply(&[&format!("+CMGR: {stat},,{}", tpdu_len(pdu))]);
                        out.extend_from_slice(pdu.as_bytes());
                        out.extend_from_slice(b"\r\n");
                        out.extend(reply(&["OK"]));
                        if *stat == 0 {
                            *stat = 1;
                        }
                        out
                    }
                    None => reply(&["+CMS ERROR: 321"]),
                }
            }
            _ if upper.starts_with("AT+CMGD=") => {
                let index = upper[8..]
                    .split(',')
                    .next()
                    .and_then(|i| i.trim().parse::<u32>().ok());
                let mut state = handle.state();
                if state.fail_deletes > 0 {
                    state.fail_deletes -= 1;
                    return reply(&["+CMS ERROR: 500"]);
                }
                let removed = index.and_then(|i| {
                    let (memory, slot) = self.locate(&state, i);
                    state
                        .memories
                        .get_mut(&memory)
                        .and_then(|m| m.slots.remove(&slot))
                });
                drop(state);
                handle.changed();
                match removed {
                    Some(_) => reply(&["OK"]),
                    None => reply(&["+CMS ERROR: 321"]),
                }
            }
            _ if upper.starts_with("AT+CMEE=") => {
                self.cmee = upper.ends_with('1') || upper.ends_with('2');
                reply(&["OK"])
            }
            _ if upper.starts_with("AT+CNMI=") => {
                let mt = upper[8..]
                    .split(',')
                    .nth(1)
                    .and_then(|f| f.trim().parse().ok());
                match mt {
                    Some(mt @ 0..=3) => {
                        handle.state().cnmi_mt = mt;
                        reply(&["OK"])
                    }
                    _ => reply(&["+CMS ERROR: 303"]),
                }
            }
            "AT+CSMS?" => {
                let csms = handle.state().csms;
                reply(&[&format!("+CSMS: {csms},1,1,1"), "OK"])
            }
            _ if upper.starts_with("AT+CSMS=") => match upper[8..].trim() {
                service @ ("0" | "1") => {
                    handle.state().csms = u8::from(service == "1");
                    reply(&["+CSMS: 1,1,1", "OK"])
                }
                _ => reply(&["+CMS ERROR: 303"]),
            },
            // TS 27.005 §4.6: in PDU mode AT+CNMA, or AT+CNMA=1 (RP-ACK).
            "AT+CNMA" if p.cnma_needs_n => reply(&[p.unknown]),
            "AT+CNMA" | "AT+CNMA=0" | "AT+CNMA=1" => {
                let mut state = handle.state();
                if state.csms == 1 && state.awaiting_ack.is_some() && state.lose_acks > 0 {
                    // taken, but the network never hears of it
                    state.lose_acks -= 1;
                    reply(&["OK"])
                } else if state.csms == 1 && state.awaiting_ack.take().is_some() {
                    state.acked += 1;
                    drop(state);
                    handle.changed();
                    reply(&["OK"])
                } else {
                    // no +CNMA acknowledgement expected
                    reply(&["+CMS ERROR: 340"])
                }
            }
            // V.250 §6.3.1 D: a voice call ends its dial string with `;`;
            // OK at once (AT+COLP=0, the usual default), the end of the
            // call later as BUSY / NO CARRIER (SIM800 manual V1.09 §ATD).
            _ if upper.starts_with("ATD") => {
                let Some(number) = line[3..].trim().strip_suffix(';') else {
                    // a data call: this modem offers none
                    return reply(&["NO CARRIER"]);
                };
                let dialed = handle.state().dial(number.trim());
                handle.changed();
                if dialed {
                    reply(&["OK"])
                } else {
                    reply(&["+CME ERROR: 3"])
                }
            }
            "AT+CLCC" => {
                let mut state = handle.state();
                // what is due happens first, however late this thread runs
                let now = Instant::now();
                if state.advance_call(now) {
                    handle.changed();
                }
                match state.call_up() {
                    Some(call) => {
                        let kind = if call.number.starts_with('+') {
                            145
                        } else {
                            129
                        };
                        let stat = call.stat(now, call.answer_of(&state));
                        let number = &call.number;
                        with_ok(&[&format!("+CLCC: 1,0,{stat},0,0,\"{number}\",{kind}")])
                    }
                    None => reply(&["OK"]),
                }
            }
            "ATH" | "ATH0" => {
                if p.ath_ends_voice {
                    handle.state().hang_up(upper);
                    handle.changed();
                }
                reply(&["OK"])
            }
            "AT+CHUP" => {
                handle.state().hang_up(upper);
                handle.changed();
                reply(&["OK"])
            }
            "AT+CLCC=?" | "AT+CHUP=?" => reply(&["OK"]),
            _ if upper.starts_with("AT+CMGF=") || upper.starts_with("AT+CSCA=") => reply(&["OK"]),
            _ => reply(&[p.unknown]),
        }
    }

    /// Takes one SMS-SUBMIT PDU written after the prompt.
    fn submit(&mut self, len: usize, pdu: &str, handle: &SimHandle) -> Vec<u8> {
        let link_open = self.link_until.is_some_and(|t| Instant::now() <= t);
        if !link_open && self.link_until.is_some() && self.cmms == 1 {
            // Mode 1 ends when the link closes.
            self.cmms = 0;
        }
        while handle.state().hold_sends && !handle.stop.load(std::sync::atomic::Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let delay = handle.state().send_delay;
        let delay = if link_open { delay / 3 } else { delay };
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        self.link_until = (self.cmms > 0).then(|| Instant::now() + LINK_HOLD);
        let bad = |why: String| {
            handle.state().bad_pdus.push(why);
            handle.changed();
            reply(&["+CMS ERROR: 304"])
        };
        let smsc_octets = match u8::from_str_radix(pdu.get(..2).unwrap_or(""), 16) {
            Ok(n) => usize::from(n),
            Err(_) => return bad(format!("no SMSC length: {pdu}")),
        };
        if !pdu.len().is_multiple_of(2) || pdu.len() / 2 != 1 + smsc_octets + len {
            return bad(format!(
                "AT+CMGS={len} but the PDU has {} octets: {pdu}",
                pdu.len() / 2
            ));
        }
        let submit = match gsm::decode_pdu(pdu, true) {
            Ok(Tpdu::Submit(s)) => s,
            Ok(other) => return bad(format!("not an SMS-SUBMIT: {other:?}")),
            Err(e) => return bad(format!("{e}: {pdu}")),
        };
        if let Some(code) = {
            let mut state = handle.state();
            let by_number = match state.fail_numbers.get_mut(&submit.number) {
                Some((code, times)) if *times > 0 => {
                    *times = times.saturating_sub(usize::from(*times != usize::MAX));
                    Some(*code)
                }
                _ => None,
            };
            by_number
                .or(state.fail_all_sends)
                .or_else(|| (!state.fail_sends.is_empty()).then(|| state.fail_sends.remove(0)))
        } {
            return reply(&[&format!("+CMS ERROR: {code}")]);
        }
        let mr = self.next_mr;
        self.next_mr = self.next_mr.wrapping_add(1);
        let coding = match submit.user_data.coding {
            DataCoding::Gsm7 => "gsm7",
            DataCoding::Ucs2 => "ucs2",
            DataCoding::EightBit => "8bit",
        };
        let complete = match submit.user_data.concat {
            None => Some(SentSms {
                number: submit.number.clone(),
                text: submit.user_data.text.clone(),
                parts: 1,
                concat_ref: None,
                coding,
                mrs: vec![mr],
                status_report: submit.status_report_requested,
                class: submit.user_data.class,
                validity: submit.validity,
            }),
            Some(c) => {
                let key = (submit.number.clone(), c.reference);
                let partial = self.partial.entry(key.clone()).or_insert_with(|| Partial {
                    total: c.total,
                    parts: HashMap::new(),
                    coding,
                    status_report: submit.status_report_requested,
                });
                partial
                    .parts
                    .insert(c.seq, (submit.user_data.text.clone(), mr));
                if partial.parts.len() == usize::from(partial.total) {
                    let p = self.partial.remove(&key).unwrap_or_else(|| unreachable!());
                    let mut seqs: Vec<_> = p.parts.into_iter().collect();
                    seqs.sort_by_key(|(seq, _)| *seq);
                    Some(SentSms {
                        number: key.0,
                        text: seqs.iter().map(|(_, (t, _))| t.as_str()).collect(),
                        parts: seqs.len(),
                        concat_ref: Some(c.reference),
                        coding: p.coding,
                        mrs: seqs.iter().map(|(_, (_, mr))| *mr).collect(),
                        status_report: p.status_report,
                        class: submit.user_data.class,
                        validity: submit.validity,
                    })
                } else {
                    None
                }
            }
        };
        {
            let mut state = handle.state();
            state.parts_received += 1;
            if let Some(sms) = complete {
                log::info!(
                    "simulated modem: SMS to {} ({} part{}, {}{}): {}",
                    sms.number,
                    sms.parts,
                    if sms.parts == 1 { "" } else { "s" },
                    sms.coding,
                    match sms.class {
                        Some(0) => ", class 0 (flash)".to_owned(),
                        Some(c) => format!(", class {c}"),
                        None => String::new(),
                    },
                    sms.text
                );
                state.sent.push(sms);
            }
        }
        handle.changed();
        let p = handle.state().profile;
        let mut out = Vec::new();
        if let Some((_, urc)) = p.chatter {
            out.extend(reply(&[urc]));
        }
        // A message the network delivers while this one goes out: between
        // the PDU and +CMGS, as the modem prints it.
        if let Some(push) = handle.state().next_push(Instant::now()) {
            out.extend(push);
        }
        out.extend(reply(&[&format!("+CMGS: {mr}")]));
        out.extend(b"\r\n".repeat(p.blank_after_cmgs));
        out.extend(reply(&["OK"]));
        out
    }
}
