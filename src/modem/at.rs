//! The AT command layer: write a command, read lines until its final result
//! or a timeout, and set aside unsolicited lines (`+CMTI:`, `RING`, ...) for
//! whoever wants them. One read path serves every command, init included, so
//! no unsolicited line is swallowed.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

/// Anything the AT layer can talk through: a serial port, or a pty in tests.
pub trait Port: Read + Write + Send {}
impl<T: Read + Write + Send + ?Sized> Port for T {}

/// What the byte stream from the modem splits into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Line(String),
    /// The `> ` prompt after `AT+CMGS=<n>`, which ends without a newline.
    Prompt,
}

/// Splits modem output into lines (CR, LF or CR LF) and prompts. Bytes may
/// arrive in any fragments: the events are the same however the stream is
/// cut, so a `>` at the start of a line is always the prompt (whether its
/// space has arrived yet or not; the space is left to the next line, which
/// is trimmed).
#[derive(Debug, Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
    /// How much of `buf` is known to hold no line end, so that a long line
    /// arriving in small reads is searched once, not once per read.
    scanned: usize,
}

impl LineSplitter {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Whether a whole line (or the prompt) is waiting to be taken.
    pub fn has_event(&self) -> bool {
        let mut rest = self.buf.iter().skip_while(|&&b| b == b'\r' || b == b'\n');
        match rest.next() {
            Some(b'>') => true,
            Some(_) => rest.any(|&b| b == b'\r' || b == b'\n'),
            None => false,
        }
    }

    pub fn next_event(&mut self) -> Option<Event> {
        loop {
            let skip = self
                .buf
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            self.buf.drain(..skip);
            if self.buf.first() == Some(&b'>') {
                self.buf.drain(..1);
                return Some(Event::Prompt);
            }
            let Some(end) = self.buf[self.scanned..]
                .iter()
                .position(|&b| b == b'\r' || b == b'\n')
            else {
                if self.buf.len() > MAX_LINE {
                    // No modem sends such a line: noise on the wire. Drop it
                    // rather than hold it forever.
                    log::warn!(
                        "modem sent {} bytes without a line end; dropped",
                        self.buf.len()
                    );
                    self.buf.clear();
                }
                self.scanned = self.buf.len();
                return None;
            };
            let end = self.scanned + end;
            self.scanned = 0;
            let line: Vec<u8> = self.buf.drain(..end).collect();
            let line = String::from_utf8_lossy(&line).trim().to_owned();
            if !line.is_empty() {
                return Some(Event::Line(line));
            }
        }
    }
}

/// The longest line kept while waiting for its end.
const MAX_LINE: usize = 64 * 1024;

/// How a command ended, when it did not end with `OK`.
#[derive(Debug)]
pub enum AtError {
    /// No final result within the time allowed: the modem may hang.
    Timeout { command: String },
    /// `+CMS ERROR: <code>` (SMS-related failures).
    Cms { command: String, code: u16 },
    /// `+CME ERROR: <code>` (equipment failures: SIM, PIN, network).
    Cme { command: String, code: u16 },
    /// A plain `ERROR`.
    Error { command: String },
    /// Another final result that ends a command unsuccessfully:
    /// `COMMAND NOT SUPPORT`, `MODEM ERROR: n`, `NO CARRIER`, ...
    Other {
        command: String,
        result: OtherResult,
    },
    /// The port itself failed (unplugged, closed).
    Io(io::Error),
}

impl fmt::Display for AtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AtError::Timeout { command } => write!(f, "modem did not answer {command} in time"),
            AtError::Cms { command, code } => write!(f, "{command}: +CMS ERROR: {code}"),
            AtError::Cme { command, code } => write!(f, "{command}: +CME ERROR: {code}"),
            AtError::Error { command } => write!(f, "{command}: ERROR"),
            AtError::Other { command, result } => write!(f, "{command}: {result}"),
            AtError::Io(e) => write!(f, "serial port: {e}"),
        }
    }
}

impl std::error::Error for AtError {}

impl From<io::Error> for AtError {
    fn from(e: io::Error) -> Self {
        AtError::Io(e)
    }
}

impl AtError {
    fn of(command: &str, e: FinalError) -> AtError {
        let command = masked(command);
        match e {
            FinalError::Error => AtError::Error { command },
            FinalError::Cms(code) => AtError::Cms { command, code },
            FinalError::Cme(code) => AtError::Cme { command, code },
            FinalError::Other(result) => AtError::Other { command, result },
        }
    }

    /// The modem stopped answering or its port failed (as opposed to an
    /// answer that refuses the command).
    pub fn is_lost(&self) -> bool {
        matches!(self, AtError::Timeout { .. } | AtError::Io(_))
    }
}

/// Final result codes beyond `OK`, `ERROR` and `+CMS`/`+CME ERROR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherResult {
    /// `COMMAND NOT SUPPORT`: Huawei's answer to a command it does not know.
    NotSupported,
    /// `TOO MANY PARAMETERS` (Huawei).
    TooManyParameters,
    /// `MODEM ERROR: <n>` (Motorola phones).
    ModemError(u16),
    /// V.250 call results (§5.7.1): `NO CARRIER`, `BUSY`, `NO ANSWER`,
    /// `NO DIALTONE`.
    NoCarrier,
    Busy,
    NoAnswer,
    NoDialtone,
}

impl OtherResult {
    fn parse(line: &str) -> Option<OtherResult> {
        Some(match line {
            "COMMAND NOT SUPPORT" => OtherResult::NotSupported,
            "TOO MANY PARAMETERS" => OtherResult::TooManyParameters,
            "NO CARRIER" => OtherResult::NoCarrier,
            "BUSY" => OtherResult::Busy,
            "NO ANSWER" => OtherResult::NoAnswer,
            "NO DIALTONE" | "NO DIAL TONE" => OtherResult::NoDialtone,
            _ => {
                let code = line.strip_prefix("MODEM ERROR:")?;
                OtherResult::ModemError(code.trim().parse().unwrap_or(0))
            }
        })
    }
}

impl fmt::Display for OtherResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OtherResult::NotSupported => f.write_str("COMMAND NOT SUPPORT"),
            OtherResult::TooManyParameters => f.write_str("TOO MANY PARAMETERS"),
            OtherResult::ModemError(code) => write!(f, "MODEM ERROR: {code}"),
            OtherResult::NoCarrier => f.write_str("NO CARRIER"),
            OtherResult::Busy => f.write_str("BUSY"),
            OtherResult::NoAnswer => f.write_str("NO ANSWER"),
            OtherResult::NoDialtone => f.write_str("NO DIALTONE"),
        }
    }
}

/// A final result line, or `None` for anything else.
pub fn parse_final(line: &str) -> Option<Result<(), FinalError>> {
    if line == "OK" {
        return Some(Ok(()));
    }
    if line == "ERROR" {
        return Some(Err(FinalError::Error));
    }
    let code = |rest: &str| rest.trim().parse::<u16>().unwrap_or(0);
    if let Some(rest) = line.strip_prefix("+CMS ERROR:") {
        return Some(Err(FinalError::Cms(code(rest))));
    }
    if let Some(rest) = line.strip_prefix("+CME ERROR:") {
        return Some(Err(FinalError::Cme(code(rest))));
    }
    OtherResult::parse(line).map(|r| Err(FinalError::Other(r)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalError {
    Error,
    Cms(u16),
    Cme(u16),
    Other(OtherResult),
}

/// Lines without a `+X:`-style prefix that modems send on their own: boot
/// and state messages (SIM800 AT manual V1.09 §"Summary of unsolicited
/// result codes": `RDY`, `Call Ready`, `SMS Ready`, `NORMAL POWER DOWN`,
/// the voltage warnings; SIM7600: `PB DONE`, `SMS DONE`), and `RING`.
/// Lines with a prefix need no list: see [`Expect::classify`].
const UNSOLICITED_WORDS: &[&str] = &[
    "RDY",
    "Call Ready",
    "SMS Ready",
    "PB DONE",
    "SMS DONE",
    "RING",
    "NORMAL POWER DOWN",
    "UNDER-VOLTAGE WARNNING",
    "UNDER-VOLTAGE POWER DOWN",
    "OVER-VOLTAGE WARNNING",
    "OVER-VOLTAGE POWER DOWN",
    "CHARGE-ONLY MODE",
];

fn takes_pdu_line(line: &str) -> bool {
    line.starts_with("+CMT:") || line.starts_with("+CDS:") || line.starts_with("+CBM:")
}

/// A line that starts like a result code of some command: `+CPIN:`,
/// `^RSSI:`, `#STN:`, `*ATREADY:`, `%XSIM:` (a sigil, a name, a colon).
fn has_result_prefix(line: &str) -> bool {
    let mut chars = line.chars();
    if !chars.next().is_some_and(|c| "+^#*%$".contains(c)) {
        return false;
    }
    let name: String = chars
        .by_ref()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    !name.is_empty() && name.len() <= 16 && line[1 + name.len()..].starts_with(':')
}

/// What a line from the modem is, given the command it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// The command itself, echoed (echo is on, or stayed on after `ATE0`).
    Echo,
    Final(Result<(), FinalError>),
    /// Part of the command's answer.
    Answer,
    /// A line the modem sent on its own.
    Unsolicited,
}

/// What a command's answer looks like: its echo, and the prefix of its
/// information lines (`+CGMI:` for `AT+CGMI`, `^SYSINFO:` for
/// `AT^SYSINFO`). Unsolicited lines are recognised by not being that:
/// while `AT+CGMI` waits, `+CPIN: READY` or `Call Ready` are not the
/// manufacturer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    command: String,
    prefix: Option<String>,
}

impl Expect {
    pub fn command(command: &str) -> Expect {
        let name = command
            .get(..2)
            .filter(|at| at.eq_ignore_ascii_case("AT"))
            .map(|_| &command[2..])
            .unwrap_or("");
        let end = name.find(['=', '?']).unwrap_or(name.len());
        let prefix = name
            .chars()
            .next()
            .filter(|c| "+^#*%$".contains(*c))
            .map(|_| format!("{}:", name[..end].to_ascii_uppercase()));
        Expect {
            command: command.to_owned(),
            prefix,
        }
    }

    /// No command waiting: whatever comes is unsolicited (or a stale result).
    pub fn idle() -> Expect {
        Expect {
            command: String::new(),
            prefix: None,
        }
    }

    pub fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    pub fn classify(&self, line: &str) -> Class {
        if !self.command.is_empty() && line.eq_ignore_ascii_case(&self.command) {
            return Class::Echo;
        }
        if let Some(result) = parse_final(line) {
            return Class::Final(result);
        }
        if let Some(prefix) = &self.prefix
            && line
                .get(..prefix.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
        {
            return Class::Answer;
        }
        if self.command.is_empty() || UNSOLICITED_WORDS.contains(&line) || has_result_prefix(line) {
            return Class::Unsolicited;
        }
        Class::Answer
    }
}

/// How long a `NO CARRIER` after `RING` is taken as the end of that call
/// rather than as the answer to the command under way.
const RING_HOLD: Duration = Duration::from_secs(60);

/// The command [`At::resync`] sends: every 27.007 modem knows it, and its
/// answer (`+CMEE: <n>`) cannot be mistaken for a stale `OK`.
pub const SYNC_COMMAND: &str = "AT+CMEE?";

/// How [`At::read_response`] reads.
#[derive(Debug, Clone, Copy, Default)]
struct Reading {
    /// `AT+CMGS`: the `> ` prompt ends the first half.
    until_prompt: bool,
    /// Final results before the first answer line are stale (an earlier
    /// command's): ignored.
    answer_first: bool,
    /// The answer line may be all there is (`AT+CPIN?` on a Wavecom):
    /// when no final result follows it within this time, it is taken.
    final_optional: Option<Duration>,
}

/// What [`At::read_response`] found.
#[derive(Debug, Default)]
struct Response {
    lines: Vec<String>,
    prompted: bool,
    /// Ended without a final result ([`Reading::final_optional`]).
    no_final: bool,
}

/// One AT conversation over a port.
pub struct At<P: Port + ?Sized> {
    splitter: LineSplitter,
    unsolicited: VecDeque<String>,
    /// Set after a `+CMT:`/`+CDS:` line: the next line is its PDU.
    pdu_follows: bool,
    /// A `RING` came: a `NO CARRIER` until then ends that call, not the
    /// command under way.
    ringing_until: Option<Instant>,
    /// Whether the last command came back echoed.
    echoed: bool,
    port: Box<P>,
}

impl<P: Port + ?Sized> At<P> {
    pub fn new(port: Box<P>) -> Self {
        At {
            splitter: LineSplitter::default(),
            unsolicited: VecDeque::new(),
            pdu_follows: false,
            ringing_until: None,
            echoed: false,
            port,
        }
    }

    /// The port itself (for a second handle that only waits: `modem::Watch`).
    pub fn port(&self) -> &P {
        &self.port
    }

    /// Unsolicited lines seen so far, oldest first.
    /// A `+CMT:`/`+CDS:` whose PDU line has not come yet stays for the
    /// next call: the two are handed over together.
    pub fn take_unsolicited(&mut self) -> Vec<String> {
        let ready = self.unsolicited.len() - usize::from(self.pdu_follows);
        self.unsolicited.drain(..ready).collect()
    }

    /// Whether something the modem sent is already read from the port but
    /// not handed over: unsolicited lines set aside during a command, or
    /// whole lines still in the splitter. The port's watch cannot see
    /// these; the idle thread must take them before it waits.
    pub fn has_pending(&self) -> bool {
        self.unsolicited.len() > usize::from(self.pdu_follows) || self.splitter.has_event()
    }

    /// Whether the modem echoed the last command (echo on despite `ATE0`).
    pub fn echoed(&self) -> bool {
        self.echoed
    }

    /// Sends `command` (without CR) and returns the lines before `OK`.
    pub fn command(&mut self, command: &str, timeout: Duration) -> Result<Vec<String>, AtError> {
        self.write_all(format!("{command}\r").as_bytes())?;
        self.read_response(command, timeout, Reading::default())
            .map(|r| r.lines)
    }

    /// Like [`At::command`] for a query some modems answer without a final
    /// `OK` (`AT+CPIN?` on Wavecom): once its answer line has come, a final
    /// result is waited for only `grace` more. The flag says whether the
    /// final result was missing (then a late one may still come: resync).
    pub fn query_final_optional(
        &mut self,
        command: &str,
        timeout: Duration,
        grace: Duration,
    ) -> Result<(Vec<String>, bool), AtError> {
        self.write_all(format!("{command}\r").as_bytes())?;
        let reading = Reading {
            final_optional: Some(grace),
            ..Reading::default()
        };
        self.read_response(command, timeout, reading)
            .map(|r| (r.lines, r.no_final))
    }

    /// `AT+CMGS=<len>`, the prompt, the PDU and Ctrl-Z; returns the message
    /// reference from `+CMGS: <mr>`. The prompt is the answer to a command
    /// and comes within `prompt_timeout` (`command-timeout`); only the
    /// network's answer after Ctrl-Z may take `send_timeout`.
    pub fn send_pdu(
        &mut self,
        tpdu_len: usize,
        pdu_hex: &str,
        prompt_timeout: Duration,
        send_timeout: Duration,
    ) -> Result<u8, AtError> {
        let command = format!("AT+CMGS={tpdu_len}");
        self.write_all(format!("{command}\r").as_bytes())?;
        let prompt = Reading {
            until_prompt: true,
            ..Reading::default()
        };
        let prompted = match self.read_response(&command, prompt_timeout, prompt) {
            Ok(r) => r.prompted,
            Err(AtError::Timeout { command }) => {
                // The prompt may have been lost while the modem waits for
                // the PDU: end that input, so the reset that follows is
                // read as a command.
                let _ = self.write_all(b"\x1b");
                return Err(AtError::Timeout { command });
            }
            Err(e) => return Err(e),
        };
        if !prompted {
            // A final OK without a prompt: the modem did not take the PDU.
            return Err(AtError::Error { command });
        }
        self.write_all(format!("{pdu_hex}\x1a").as_bytes())?;
        let lines = match self.read_response(&command, send_timeout, Reading::default()) {
            Ok(r) => r.lines,
            Err(AtError::Timeout { command }) => {
                // Cancel the input so the modem is not left waiting for more.
                let _ = self.write_all(b"\x1b");
                return Err(AtError::Timeout { command });
            }
            Err(e) => return Err(e),
        };
        parse_cmgs(&lines).ok_or(AtError::Error { command })
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), AtError> {
        log::debug!(
            "modem <- {}",
            printable(&masked(String::from_utf8_lossy(bytes).trim_end()))
        );
        self.port.write_all(bytes)?;
        self.port.flush()?;
        Ok(())
    }

    /// Sets an unsolicited line aside (with the PDU line that follows a
    /// `+CMT:`/`+CDS:`); notes a ringing call.
    fn set_aside(&mut self, line: String) {
        self.pdu_follows = takes_pdu_line(&line);
        if line == "RING" || line.starts_with("+CRING:") || line.starts_with("+CLIP:") {
            self.ringing_until = Some(Instant::now() + RING_HOLD);
        }
        self.unsolicited.push_back(line);
    }

    /// Whether a `NO CARRIER` now ends a ringing call (and is set aside).
    fn call_ended(&mut self, result: &Result<(), FinalError>) -> bool {
        let ringing = self.ringing_until.is_some_and(|t| Instant::now() < t);
        if ringing && *result == Err(FinalError::Other(OtherResult::NoCarrier)) {
            self.ringing_until = None;
            return true;
        }
        false
    }

    /// Reads until a final result, or (with `until_prompt`) the `> ` prompt.
    fn read_response(
        &mut self,
        command: &str,
        timeout: Duration,
        how: Reading,
    ) -> Result<Response, AtError> {
        let mut deadline = Instant::now() + timeout;
        let expect = Expect::command(command);
        let mut response = Response::default();
        let mut answered = false;
        self.echoed = false;
        loop {
            let event = match self.splitter.next_event() {
                Some(event) => event,
                None => {
                    match self.fill(deadline, command) {
                        Err(AtError::Timeout { .. })
                            if how.final_optional.is_some() && answered =>
                        {
                            response.no_final = true;
                            return Ok(response);
                        }
                        other => other?,
                    }
                    continue;
                }
            };
            let line = match event {
                Event::Prompt if how.until_prompt => {
                    response.prompted = true;
                    return Ok(response);
                }
                Event::Prompt => continue,
                Event::Line(line) => line,
            };
            log::debug!("modem -> {}", printable(&masked(&line)));
            if self.pdu_follows {
                self.pdu_follows = false;
                self.unsolicited.push_back(line);
                continue;
            }
            match expect.classify(&line) {
                Class::Echo => self.echoed = true,
                Class::Unsolicited => self.set_aside(line),
                Class::Final(result) if self.call_ended(&result) => self.set_aside(line),
                Class::Final(_) if how.answer_first && !answered => {
                    log::debug!("modem: {line} belongs to an earlier command; ignored");
                }
                Class::Final(Ok(())) => return Ok(response),
                Class::Final(Err(e)) => return Err(AtError::of(command, e)),
                Class::Answer => {
                    let own = expect.prefix().is_none_or(|p| {
                        line.get(..p.len())
                            .is_some_and(|l| l.eq_ignore_ascii_case(p))
                    });
                    if own && !answered {
                        answered = true;
                        if let Some(grace) = how.final_optional {
                            deadline = deadline.min(Instant::now() + grace);
                        }
                    }
                    response.lines.push(line);
                }
            }
        }
    }

    /// Waits for more bytes until `deadline`. The port's own read timeout
    /// is short; a timed-out read just means "nothing yet".
    fn fill(&mut self, deadline: Instant, command: &str) -> Result<(), AtError> {
        self.fill_from(deadline, command, false)
    }

    /// [`At::fill`]; with `once`, one read is tried even after `deadline`.
    fn fill_from(&mut self, deadline: Instant, command: &str, once: bool) -> Result<(), AtError> {
        let mut buf = [0u8; 512];
        let mut once = once;
        loop {
            if !std::mem::take(&mut once) && Instant::now() >= deadline {
                return Err(AtError::Timeout {
                    command: masked(command),
                });
            }
            match self.port.read(&mut buf) {
                Ok(0) => return Err(AtError::Io(io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => {
                    self.splitter.push(&buf[..n]);
                    return Ok(());
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut
                            | io::ErrorKind::WouldBlock
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(AtError::Io(e)),
            }
        }
    }

    /// Cancels whatever a previous user of the port left the modem in: a
    /// process that died between `AT+CMGS=<n>` and Ctrl-Z leaves it
    /// collecting a PDU, deaf to commands. ESC ends that input; what the
    /// modem answers in the next moment is read and dropped (unsolicited
    /// lines are kept), so that no stale `OK` answers the next command.
    /// Returns how many lines it dropped (a modem that was collecting a PDU
    /// answers the ESC; any other line is junk or a stale answer).
    pub fn cancel_pending_input(&mut self, settle: Duration) -> Result<usize, AtError> {
        self.write_all(b"\x1b")?;
        self.poll_unsolicited(settle)
    }

    /// Reads whatever the modem sent on its own (unsolicited lines) for up to
    /// `wait`, without sending anything. Other lines (a stale result, junk)
    /// are dropped; returns how many.
    pub fn poll_unsolicited(&mut self, wait: Duration) -> Result<usize, AtError> {
        Ok(self.read_idle(Instant::now() + wait, None, false)?.0)
    }

    /// Like [`At::poll_unsolicited`], but returns as soon as a whole
    /// unsolicited line (with its PDU line, for `+CMT:`) has been set
    /// aside: true then. At least one read is tried, however short `wait`.
    pub fn wait_unsolicited(&mut self, wait: Duration) -> Result<bool, AtError> {
        Ok(self.read_idle(Instant::now() + wait, None, true)?.1)
    }

    /// Reads what comes without a command until the modem has been quiet
    /// for `quiet` (or `max` has passed); returns how many lines that were
    /// not unsolicited it dropped.
    pub fn drain(&mut self, quiet: Duration, max: Duration) -> Result<usize, AtError> {
        Ok(self.read_idle(Instant::now() + max, Some(quiet), false)?.0)
    }

    /// Reads without a command for up to `wait` and returns the first call
    /// result that comes: after `ATD<n>;` answered `OK`, modems report the
    /// end of the voice call so (`BUSY`, `NO ANSWER`, `NO CARRIER`, `NO
    /// DIALTONE`; V.250 §5.7.1). Unsolicited lines are set aside, anything
    /// else is dropped. At least one read is tried.
    pub fn wait_call_result(&mut self, wait: Duration) -> Result<Option<OtherResult>, AtError> {
        use OtherResult::{Busy, NoAnswer, NoCarrier, NoDialtone};
        let end = Instant::now() + wait;
        let idle = Expect::idle();
        let mut tried = false;
        loop {
            while let Some(line) = self.next_idle_line() {
                match idle.classify(&line) {
                    Class::Final(Err(FinalError::Other(
                        r @ (Busy | NoAnswer | NoCarrier | NoDialtone),
                    ))) => return Ok(Some(r)),
                    Class::Unsolicited => self.set_aside(line),
                    _ => log::debug!("modem: {line} answers no command; dropped"),
                }
            }
            let once = !std::mem::replace(&mut tried, true);
            match self.fill_from(end, "", once) {
                Ok(()) => {}
                Err(AtError::Timeout { .. }) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// The next whole line read while no command is under way, logged; a
    /// PDU line that follows a `+CMT:`/`+CDS:` header goes with it to the
    /// unsolicited lines instead.
    fn next_idle_line(&mut self) -> Option<String> {
        while let Some(event) = self.splitter.next_event() {
            let Event::Line(line) = event else { continue };
            log::debug!("modem -> {}", printable(&masked(&line)));
            if self.pdu_follows {
                self.pdu_follows = false;
                self.unsolicited.push_back(line);
                continue;
            }
            return Some(line);
        }
        None
    }

    /// Reads without a command until `end` (or a `quiet` pause); with
    /// `early`, until a whole unsolicited line has been set aside. Returns
    /// the lines dropped and whether an unsolicited one came.
    fn read_idle(
        &mut self,
        end: Instant,
        quiet: Option<Duration>,
        early: bool,
    ) -> Result<(usize, bool), AtError> {
        let idle = Expect::idle();
        let mut dropped = 0;
        let before = self.unsolicited.len();
        let mut tried = false;
        loop {
            while let Some(line) = self.next_idle_line() {
                match idle.classify(&line) {
                    Class::Final(result) if self.call_ended(&result) => self.set_aside(line),
                    Class::Unsolicited => self.set_aside(line),
                    _ => {
                        log::debug!("modem: {line} answers no command; dropped");
                        dropped += 1;
                    }
                }
            }
            let got = self.unsolicited.len() > before && !self.pdu_follows;
            if early && got {
                return Ok((dropped, true));
            }
            let deadline = quiet.map_or(end, |q| end.min(Instant::now() + q));
            // One read even when the time has passed already.
            let once = !std::mem::replace(&mut tried, true);
            match self.fill_from(deadline, "", once) {
                Ok(()) => {}
                Err(AtError::Timeout { .. }) => return Ok((dropped, got)),
                Err(e) => return Err(e),
            }
        }
    }

    /// Brings the conversation back in step after a modem answered late or
    /// sent junk (a slow first answer, a command that timed out): drains
    /// what is still coming, then sends [`SYNC_COMMAND`] and reads until
    /// its own answer, dropping every stale result before it, so that no
    /// later command gets the answer of an earlier one. `Ok(false)` when
    /// the modem did not give that answer in `timeout` (it may not know
    /// the command; what it sent meanwhile was dropped all the same).
    pub fn resync(&mut self, timeout: Duration) -> Result<bool, AtError> {
        let dropped = self.drain(Duration::from_millis(300), Duration::from_secs(3))?;
        if dropped > 0 {
            log::debug!("modem: dropped {dropped} stale line(s) before resynchronising");
        }
        self.write_all(format!("{SYNC_COMMAND}\r").as_bytes())?;
        let reading = Reading {
            answer_first: true,
            ..Reading::default()
        };
        match self.read_response(SYNC_COMMAND, timeout, reading) {
            Ok(_) | Err(AtError::Cme { .. } | AtError::Cms { .. } | AtError::Error { .. }) => {
                Ok(true)
            }
            Err(AtError::Timeout { .. }) => {
                self.drain(Duration::from_millis(300), Duration::from_secs(3))?;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

/// Commands that carry a secret, and where it starts: `AT+CPIN="1234"`
/// (and `AT+CPIN="<puk>","<new pin>"`), `AT+CLCK="SC",1,"1234"`,
/// `AT+CPWD="SC","old","new"`.
const SECRET_COMMANDS: &[&str] = &["AT+CPIN=", "AT+CLCK=", "AT+CPWD="];

/// `command` as it may be shown (log lines at any level, errors, and so
/// the `modem` table and `status`): the quoted values of a command that
/// carries a PIN, PUK or password as `"****"` (`AT+CPIN="****"`).
pub fn masked(command: &str) -> String {
    let head = command.get(..8).unwrap_or("");
    if !SECRET_COMMANDS.iter().any(|c| c.eq_ignore_ascii_case(head)) {
        return command.to_owned();
    }
    let (name, args) = command.split_at(8);
    let args: Vec<String> = args
        .split(',')
        .enumerate()
        .map(|(i, arg)| {
            // AT+CLCK/AT+CPWD: the facility ("SC") first, then the secrets;
            // AT+CLCK's mode (a number) stays too.
            let facility = i == 0 && !name.eq_ignore_ascii_case("AT+CPIN=");
            let mode = i > 0 && arg.trim().parse::<u8>().is_ok();
            if facility || mode {
                arg.to_owned()
            } else {
                "\"****\"".to_owned()
            }
        })
        .collect();
    format!("{name}{}", args.join(","))
}

/// `text` for a log line: control characters (ESC, Ctrl-Z, a modem's
/// junk) as `\x1b`, so they do not reach the terminal or the log file raw.
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// The message reference of `+CMGS: <mr>[,<scts>]`, wherever it is among
/// the lines (blank lines and unsolicited lines around it are not lines).
pub fn parse_cmgs(lines: &[String]) -> Option<u8> {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("+CMGS:"))
        .and_then(|mr| mr.trim().split(',').next()?.trim().parse::<u16>().ok())
        .map(|mr| mr as u8)
}

/// A scripted modem for unit tests of the layers above.
#[cfg(test)]
pub mod script {
    use super::*;

    /// A modem that answers each write from a script: `(what smss writes,
    /// what the modem prints back)`, in order, after printing `boot` first.
    pub struct Script {
        pub steps: VecDeque<(String, Vec<u8>)>,
        pub out: VecDeque<u8>,
    }

    impl Script {
        pub fn new(boot: &str, steps: &[(&str, &str)]) -> Script {
            Script {
                steps: steps
                    .iter()
                    .map(|(w, r)| ((*w).to_owned(), r.as_bytes().to_vec()))
                    .collect(),
                out: boot.bytes().collect(),
            }
        }

        pub fn at(boot: &str, steps: &[(&str, &str)]) -> At<Script> {
            At::new(Box::new(Script::new(boot, steps)))
        }
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.out.is_empty() {
                std::thread::sleep(Duration::from_millis(2));
                return Err(io::ErrorKind::TimedOut.into());
            }
            let n = buf.len().min(self.out.len());
            for (b, o) in buf.iter_mut().zip(self.out.drain(..n)) {
                *b = o;
            }
            Ok(n)
        }
    }

    impl Write for Script {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let written = String::from_utf8_lossy(buf).into_owned();
            let (want, reply) = self
                .steps
                .pop_front()
                .unwrap_or_else(|| panic!("unscripted write {written:?}"));
            assert_eq!(written, want, "smss wrote something else");
            self.out.extend(reply);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_are_masked_wherever_a_command_is_shown() {
        use super::masked;
        assert_eq!(masked("AT+CPIN=\"48151623\""), "AT+CPIN=\"****\"");
        assert_eq!(masked("at+cpin=1234"), "at+cpin=\"****\"");
        assert_eq!(
            masked("AT+CPIN=\"12345678\",\"1234\""),
            "AT+CPIN=\"****\",\"****\""
        );
        assert_eq!(
            masked("AT+CLCK=\"SC\",1,\"1234\""),
            "AT+CLCK=\"SC\",1,\"****\""
        );
        assert_eq!(
            masked("AT+CPWD=\"SC\",\"1234\",\"4321\""),
            "AT+CPWD=\"SC\",\"****\",\"****\""
        );
        for plain in ["AT+CPIN?", "AT+CPINR=\"SIM PIN\"", "AT+CMGS=23", "AT"] {
            assert_eq!(masked(plain), plain);
        }
        // in errors too (they reach the log, the modem table and status)
        let e = super::AtError::of("AT+CPIN=\"1234\"", super::FinalError::Cme(16));
        assert_eq!(e.to_string(), "AT+CPIN=\"****\": +CME ERROR: 16");
    }

    use super::script::Script;
    use super::*;

    fn events(chunks: &[&[u8]]) -> Vec<Event> {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.push(c);
            while let Some(e) = s.next_event() {
                out.push(e);
            }
        }
        out
    }

    fn line(s: &str) -> Event {
        Event::Line(s.into())
    }

    #[test]
    fn lines_split_on_any_newline_and_in_fragments() {
        assert_eq!(
            events(&[b"\r\nO", b"K\r", b"\n+CMTI: \"SM\",", b"3\r\n", b"\nRING\n"]),
            vec![line("OK"), line("+CMTI: \"SM\",3"), line("RING")]
        );
    }

    #[test]
    fn prompt_without_newline() {
        assert_eq!(events(&[b"\r\n> "]), vec![Event::Prompt]);
        assert_eq!(events(&[b"\r\n>", b" "]), vec![Event::Prompt]);
        assert_eq!(events(&[b"\r\n"]), vec![]);
    }

    // Found by the property test `line_splitter_ignores_fragmentation`:
    // `>` then CR gave Line(">") when read at once but Prompt when the CR
    // came in a later read, so a modem answering `>` without its space got
    // a prompt or a timeout depending on read timing.
    #[test]
    fn prompt_does_not_depend_on_fragments() {
        for (bytes, want) in [
            (&b">\r\n"[..], vec![Event::Prompt]),
            (b"\r\n>x\r\n", vec![Event::Prompt, line("x")]),
            // Only a `>` that starts a line is a prompt.
            (
                b"> > \r\nOK\r\n",
                vec![Event::Prompt, line(">"), line("OK")],
            ),
            (b"\r\n> 0011\x1a\r\n", vec![Event::Prompt, line("0011\x1a")]),
        ] {
            assert_eq!(events(&[bytes]), want, "{bytes:?} at once");
            let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(events(&bytewise), want, "{bytes:?} byte by byte");
        }
    }

    // A line that never ends (a line in break state sends NULs) arriving
    // in 512-byte reads was searched from its start at every read:
    // quadratic, 10 s for 4 MiB. Now each byte is looked at once.
    #[test]
    fn endless_line_in_small_reads_is_searched_once_and_bounded() {
        let mut s = LineSplitter::default();
        let chunk = [0u8; 512];
        for _ in 0..(4 << 20) / chunk.len() {
            s.push(&chunk);
            assert_eq!(s.next_event(), None);
            // each read is searched from where the last one stopped
            assert_eq!(s.scanned, s.buf.len());
            assert!(s.buf.len() <= MAX_LINE);
        }
        s.push(b"\r\nOK\r\n");
        assert_eq!(
            s.next_event().map(|e| matches!(e, Event::Line(_))),
            Some(true)
        );
        assert_eq!(s.next_event(), Some(line("OK")));
    }

    #[test]
    fn log_lines_show_control_characters_escaped() {
        assert_eq!(printable("\x1b"), "\\x1b");
        assert_eq!(printable("0011\x1a"), "0011\\x1a");
        assert_eq!(printable("Příliš"), "Příliš");
    }

    #[test]
    fn final_results() {
        assert_eq!(parse_final("OK"), Some(Ok(())));
        assert_eq!(parse_final("ERROR"), Some(Err(FinalError::Error)));
        assert_eq!(
            parse_final("+CMS ERROR: 500"),
            Some(Err(FinalError::Cms(500)))
        );
        assert_eq!(
            parse_final("+CME ERROR: 10"),
            Some(Err(FinalError::Cme(10)))
        );
        assert_eq!(parse_final("+CMGS: 12"), None);
        assert_eq!(parse_final("OKAY"), None);
        use OtherResult::*;
        for (line, want) in [
            ("COMMAND NOT SUPPORT", NotSupported),
            ("TOO MANY PARAMETERS", TooManyParameters),
            ("MODEM ERROR: 3", ModemError(3)),
            ("MODEM ERROR:0", ModemError(0)),
            ("NO CARRIER", NoCarrier),
            ("BUSY", Busy),
            ("NO ANSWER", NoAnswer),
            ("NO DIALTONE", NoDialtone),
        ] {
            assert_eq!(parse_final(line), Some(Err(FinalError::Other(want))));
            assert_eq!(want.to_string(), line.replace("ERROR:0", "ERROR: 0"));
        }
    }

    #[test]
    fn unsolicited_needs_context() {
        let creg = Expect::command("AT+CREG?");
        assert_eq!(creg.prefix(), Some("+CREG:"));
        assert_eq!(creg.classify("+CREG: 0,1"), Class::Answer);
        assert_eq!(creg.classify("AT+CREG?"), Class::Echo);
        assert_eq!(creg.classify("+CMTI: \"SM\",1"), Class::Unsolicited);
        let cgmi = Expect::command("AT+CGMI");
        for urc in [
            "RDY",
            "Call Ready",
            "SMS Ready",
            "+CPIN: READY",
            "+CFUN: 1",
            "+QIND: SMS DONE",
            "#STN: 37",
            "^RSSI:18",
            "^BOOT:12345,0,0,0,72",
            "^MODE:5,4",
            "+CIEV: 2,3",
            "+CREG: 1",
            "*ATREADY: 1",
            "RING",
        ] {
            assert_eq!(cgmi.classify(urc), Class::Unsolicited, "{urc}");
        }
        assert_eq!(cgmi.classify("+CGMI: \"Motorola\""), Class::Answer);
        assert_eq!(cgmi.classify("SIMCOM_Ltd"), Class::Answer);
        assert_eq!(cgmi.classify("Manufacturer: Quectel"), Class::Answer);
        // the answer of a vendor command has the vendor's sigil
        let sysinfo = Expect::command("AT^SYSINFO");
        assert_eq!(sysinfo.prefix(), Some("^SYSINFO:"));
        assert_eq!(sysinfo.classify("^SYSINFO:2,3,0,5,1"), Class::Answer);
        assert_eq!(sysinfo.classify("^RSSI:18"), Class::Unsolicited);
        // nothing waits: everything is unsolicited but a (stale) result
        assert_eq!(Expect::idle().classify("Call Ready"), Class::Unsolicited);
        assert_eq!(Expect::idle().classify("OK"), Class::Final(Ok(())));
        assert_eq!(Expect::command("ATE0").prefix(), None);
        // +CMT with its colon: +CMTI is not +CMT
        assert!(!takes_pdu_line("+CMTI: \"SM\",1"));
        assert!(takes_pdu_line("+CMT: ,24"));
    }

    const T: Duration = Duration::from_secs(10);

    #[test]
    fn boot_lines_are_not_the_answer() {
        // SIM800: Call Ready / SMS Ready come late, in the middle of init
        let mut at = Script::at(
            "",
            &[
                (
                    "AT+CGMI\r",
                    "\r\nCall Ready\r\n\r\nSIMCOM_Ltd\r\n\r\nOK\r\n",
                ),
                (
                    "AT+CGMM\r",
                    "\r\nSMS Ready\r\n\r\nSIMCOM_SIM800L\r\n\r\nOK\r\n",
                ),
                // Huawei reports signal and mode changes at any time
                (
                    "AT+CSQ\r",
                    "\r\n^RSSI:14\r\n\r\n+CSQ: 14,99\r\n\r\n^MODE:5,4\r\n\r\nOK\r\n",
                ),
            ],
        );
        assert_eq!(at.command("AT+CGMI", T).unwrap(), vec!["SIMCOM_Ltd"]);
        assert_eq!(at.command("AT+CGMM", T).unwrap(), vec!["SIMCOM_SIM800L"]);
        assert_eq!(at.command("AT+CSQ", T).unwrap(), vec!["+CSQ: 14,99"]);
        assert_eq!(
            at.take_unsolicited(),
            vec!["Call Ready", "SMS Ready", "^RSSI:14", "^MODE:5,4"]
        );
    }

    #[test]
    fn vendor_final_results_end_the_command_at_once() {
        let mut at = Script::at(
            "",
            &[
                ("AT+CMMS=2\r", "\r\nCOMMAND NOT SUPPORT\r\n"),
                ("AT+CMGL=4\r", "\r\nMODEM ERROR: 3\r\n"),
                ("ATD+420608337726;\r", "\r\nBUSY\r\n"),
                ("ATD+420608337727;\r", "\r\nNO ANSWER\r\n"),
                ("ATD+420608337728;\r", "\r\nNO DIALTONE\r\n"),
                ("AT+CPMS=\"SM\"\r", "\r\nNO CARRIER\r\n"),
            ],
        );
        let other = |r: Result<Vec<String>, AtError>| match r {
            Err(AtError::Other { result, .. }) => result,
            other => panic!("{other:?}"),
        };
        // each within the command timeout, or it would be a Timeout
        assert_eq!(other(at.command("AT+CMMS=2", T)), OtherResult::NotSupported);
        let e = at.command("AT+CMGL=4", T).unwrap_err();
        assert_eq!(e.to_string(), "AT+CMGL=4: MODEM ERROR: 3");
        assert!(!e.is_lost());
        assert_eq!(other(at.command("ATD+420608337726;", T)), OtherResult::Busy);
        assert_eq!(
            other(at.command("ATD+420608337727;", T)),
            OtherResult::NoAnswer
        );
        assert_eq!(
            other(at.command("ATD+420608337728;", T)),
            OtherResult::NoDialtone
        );
        assert_eq!(
            other(at.command("AT+CPMS=\"SM\"", T)),
            OtherResult::NoCarrier
        );
    }

    #[test]
    fn no_carrier_after_ring_ends_the_call_not_the_command() {
        let mut at = Script::at(
            "\r\nRING\r\n",
            &[(
                "AT+CSQ\r",
                "\r\nNO CARRIER\r\n\r\n+CSQ: 20,99\r\n\r\nOK\r\n",
            )],
        );
        at.poll_unsolicited(Duration::from_millis(20)).unwrap();
        assert_eq!(at.command("AT+CSQ", T).unwrap(), vec!["+CSQ: 20,99"]);
        assert_eq!(at.take_unsolicited(), vec!["RING", "NO CARRIER"]);
    }

    #[test]
    fn cpin_without_final_ok() {
        // Wavecom: "in some cases like AT+CPIN? ... the mobile does not
        // finish its response with the string OK"
        let mut at = Script::at(
            "",
            &[
                ("AT+CPIN?\r", "\r\n+CPIN: READY\r\n"),
                ("AT+CPIN?\r", "\r\n+CPIN: READY\r\n\r\nOK\r\n"),
                ("AT+CPIN?\r", "\r\n+CME ERROR: 14\r\n"),
            ],
        );
        let grace = Duration::from_millis(100);
        let (lines, no_final) = at.query_final_optional("AT+CPIN?", T, grace).unwrap();
        assert_eq!((lines, no_final), (vec!["+CPIN: READY".to_owned()], true));
        let (lines, no_final) = at.query_final_optional("AT+CPIN?", T, grace).unwrap();
        assert_eq!((lines, no_final), (vec!["+CPIN: READY".to_owned()], false));
        let e = at.query_final_optional("AT+CPIN?", T, grace).unwrap_err();
        assert!(matches!(e, AtError::Cme { code: 14, .. }), "{e:?}");
    }

    #[test]
    fn resync_drops_stale_answers_and_junk() {
        // Junk after power-up and the late OKs of two `AT`s sent while the
        // modem was waking up; then AT+CMEE? finds the conversation again.
        let mut at = Script::at(
            "\x00\u{fffd}\x7f\r\nOK\r\n",
            &[
                ("AT+CMEE?\r", "\r\nOK\r\n\r\n+CMEE: 0\r\n\r\nOK\r\n"),
                ("AT+CMGF=0\r", "\r\nOK\r\n"),
                ("AT+CGMI\r", "\r\nQuectel\r\n\r\nOK\r\n"),
            ],
        );
        assert!(at.resync(T).unwrap());
        at.command("AT+CMGF=0", T).unwrap();
        assert_eq!(at.command("AT+CGMI", T).unwrap(), vec!["Quectel"]);
        assert!(at.port.steps.is_empty() && at.port.out.is_empty());
    }

    #[test]
    fn echo_that_stays_on_is_noticed_and_skipped() {
        let mut at = Script::at(
            "",
            &[
                ("ATE0\r", "ATE0\r\r\nOK\r\n"),
                ("AT+CMEE=1\r", "AT+CMEE=1\r\r\nOK\r\n"),
                ("ATE0\r", "ATE0\r\r\nOK\r\n"),
                ("AT+CGMM\r", "\r\nEC25\r\n\r\nOK\r\n"),
            ],
        );
        at.command("ATE0", T).unwrap();
        assert!(at.command("AT+CMEE=1", T).unwrap().is_empty());
        assert!(at.echoed());
        at.command("ATE0", T).unwrap();
        assert_eq!(at.command("AT+CGMM", T).unwrap(), vec!["EC25"]);
        assert!(!at.echoed());
    }

    #[test]
    fn send_quirks() {
        let pdu = "0011000B912460383377F60000AA0AE8329BFD4697D9EC37";
        let sent = format!("{pdu}\x1a");
        let mut at = Script::at(
            "",
            &[
                // a prompt without its space; +CMGS followed by blank lines
                ("AT+CMGS=23\r", "\r\n>"),
                (&sent, "\r\n+CMGS: 7\r\n\r\n\r\n\r\n\r\nOK\r\n"),
                // unsolicited lines between the prompt and +CMGS:
                ("AT+CMGS=23\r", "\r\n> "),
                (
                    &sent,
                    "\r\n+CMTI: \"SM\",3\r\n\r\n^RSSI:12\r\n\r\n+CMGS: 8\r\n\r\nOK\r\n",
                ),
                // echo on: the command and the PDU come back
                ("AT+CMGS=23\r", "AT+CMGS=23\r\r\n> "),
                (&sent, &format!("{sent}\r\n+CMGS: 9\r\n\r\nOK\r\n")),
                // refused after the PDU
                ("AT+CMGS=23\r", "\r\n> "),
                (&sent, "\r\n+CMS ERROR: 38\r\n"),
            ],
        );
        assert_eq!(at.send_pdu(23, pdu, T, T).unwrap(), 7);
        assert_eq!(at.send_pdu(23, pdu, T, T).unwrap(), 8);
        assert_eq!(at.take_unsolicited(), vec!["+CMTI: \"SM\",3", "^RSSI:12"]);
        assert_eq!(at.send_pdu(23, pdu, T, T).unwrap(), 9);
        let e = at.send_pdu(23, pdu, T, T).unwrap_err();
        assert!(matches!(e, AtError::Cms { code: 38, .. }), "{e:?}");
    }

    #[test]
    fn lines_read_but_not_handed_over_are_pending() {
        // a message pushed during the acknowledgement of the one before:
        // set aside while AT+CNMA waits for its OK, where the port's watch
        // cannot see it
        let pdu = "07912470000000F0040B912460387327F600006211031020304005C8329BFD06";
        let mut at = Script::at(
            "",
            &[(
                "AT+CNMA\r",
                &format!("\r\n+CMT: ,24\r\n{pdu}\r\n\r\nOK\r\n"),
            )],
        );
        assert!(!at.has_pending());
        at.command("AT+CNMA", T).unwrap();
        assert!(at.has_pending());
        assert_eq!(at.take_unsolicited().len(), 2);
        assert!(!at.has_pending());
        // whole lines still in the splitter are pending; a partial one is not
        let mut s = LineSplitter::default();
        s.push(b"\r\n+CMT: ,24\r\n0791");
        assert!(s.has_event());
        assert!(matches!(s.next_event(), Some(Event::Line(_))));
        assert!(!s.has_event());
        s.push(b"\r\n");
        assert!(s.has_event());
        // a header whose PDU line has not come is not pending yet
        let mut at = Script::at("\r\n+CMT: ,24\r\n0791", &[]);
        at.poll_unsolicited(Duration::from_millis(20)).unwrap();
        assert!(!at.has_pending());
    }

    #[test]
    fn a_pushed_message_keeps_its_pdu_line() {
        let mut at = Script::at(
            "",
            &[(
                "AT+CSQ\r",
                "\r\n+CMT: ,24\r\n07912470000000F0040B912460387327F600006211031020304005C8329BFD06\r\n\r\n+CSQ: 9,99\r\n\r\nOK\r\n",
            )],
        );
        assert_eq!(at.command("AT+CSQ", T).unwrap(), vec!["+CSQ: 9,99"]);
        let urcs = at.take_unsolicited();
        assert_eq!(urcs.len(), 2);
        assert!(urcs[1].starts_with("0791"));
    }
}
