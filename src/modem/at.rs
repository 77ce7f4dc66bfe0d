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
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalError {
    Error,
    Cms(u16),
    Cme(u16),
}

/// Lines a modem sends on its own. The PDU of `+CMT:` / `+CDS:` follows on
/// the next line and belongs to it.
const UNSOLICITED: &[&str] = &[
    "+CMTI:",
    "+CDSI:",
    "+CDS:",
    "+CMT:",
    "+CBM:",
    "+CREG:",
    "+CGREG:",
    "+CLIP:",
    "RING",
    "NO CARRIER",
    "^",
    "+CUSD:",
    "+CIEV:",
];

fn takes_pdu_line(line: &str) -> bool {
    line.starts_with("+CMT:") || line.starts_with("+CDS:") || line.starts_with("+CBM:")
}

/// The answer prefix a command expects: `AT+CREG?` → `+CREG:`.
fn expected_prefix(command: &str) -> Option<String> {
    let name = command.strip_prefix("AT")?;
    let end = name.find(['=', '?']).unwrap_or(name.len());
    name.starts_with('+').then(|| format!("{}:", &name[..end]))
}

fn is_unsolicited(line: &str, expected: Option<&str>) -> bool {
    if expected.is_some_and(|p| line.starts_with(p)) {
        return false;
    }
    UNSOLICITED.iter().any(|u| line.starts_with(u))
}

/// One AT conversation over a port.
pub struct At<P: Port + ?Sized> {
    splitter: LineSplitter,
    unsolicited: VecDeque<String>,
    /// Set after a `+CMT:`/`+CDS:` line: the next line is its PDU.
    pdu_follows: bool,
    port: Box<P>,
}

impl<P: Port + ?Sized> At<P> {
    pub fn new(port: Box<P>) -> Self {
        At {
            splitter: LineSplitter::default(),
            unsolicited: VecDeque::new(),
            pdu_follows: false,
            port,
        }
    }

    /// The port itself (for a second handle that only waits: `modem::Watch`).
    pub fn port(&self) -> &P {
        &self.port
    }

    /// Unsolicited lines seen so far, oldest first.
    pub fn take_unsolicited(&mut self) -> Vec<String> {
        self.unsolicited.drain(..).collect()
    }

    /// Sends `command` (without CR) and returns the lines before `OK`.
    pub fn command(&mut self, command: &str, timeout: Duration) -> Result<Vec<String>, AtError> {
        self.write_all(format!("{command}\r").as_bytes())?;
        self.read_response(command, timeout, false)
            .map(|(lines, _)| lines)
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
        let prompted = match self.read_response(&command, prompt_timeout, true) {
            Ok((_, prompted)) => prompted,
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
        let lines = match self.read_response(&command, send_timeout, false) {
            Ok((lines, _)) => lines,
            Err(AtError::Timeout { command }) => {
                // Cancel the input so the modem is not left waiting for more.
                let _ = self.write_all(b"\x1b");
                return Err(AtError::Timeout { command });
            }
            Err(e) => return Err(e),
        };
        lines
            .iter()
            .find_map(|l| l.strip_prefix("+CMGS:"))
            .and_then(|mr| mr.trim().split(',').next()?.trim().parse::<u16>().ok())
            .map(|mr| mr as u8)
            .ok_or(AtError::Error { command })
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), AtError> {
        log::debug!("modem <- {}", String::from_utf8_lossy(bytes).trim_end());
        self.port.write_all(bytes)?;
        self.port.flush()?;
        Ok(())
    }

    /// Reads until a final result, or (with `until_prompt`) the `> ` prompt.
    /// Returns the intermediate lines and whether the prompt came.
    fn read_response(
        &mut self,
        command: &str,
        timeout: Duration,
        until_prompt: bool,
    ) -> Result<(Vec<String>, bool), AtError> {
        let deadline = Instant::now() + timeout;
        let expected = expected_prefix(command);
        let mut lines = Vec::new();
        loop {
            let event = match self.splitter.next_event() {
                Some(event) => event,
                None => {
                    self.fill(deadline, command)?;
                    continue;
                }
            };
            let line = match event {
                Event::Prompt if until_prompt => return Ok((lines, true)),
                Event::Prompt => continue,
                Event::Line(line) => line,
            };
            log::debug!("modem -> {line}");
            if self.pdu_follows {
                self.pdu_follows = false;
                self.unsolicited.push_back(line);
                continue;
            }
            if line == command {
                continue; // echo, before ATE0 takes effect
            }
            if is_unsolicited(&line, expected.as_deref()) {
                self.pdu_follows = takes_pdu_line(&line);
                self.unsolicited.push_back(line);
                continue;
            }
            match parse_final(&line) {
                Some(Ok(())) => return Ok((lines, false)),
                Some(Err(e)) => {
                    let command = command.to_owned();
                    return Err(match e {
                        FinalError::Error => AtError::Error { command },
                        FinalError::Cms(code) => AtError::Cms { command, code },
                        FinalError::Cme(code) => AtError::Cme { command, code },
                    });
                }
                None => lines.push(line),
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
                    command: command.to_owned(),
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
    pub fn cancel_pending_input(&mut self, settle: Duration) -> Result<(), AtError> {
        self.write_all(b"\x1b")?;
        self.poll_unsolicited(settle)
    }

    /// Reads whatever the modem sent on its own (unsolicited lines) for up to
    /// `wait`, without sending anything.
    pub fn poll_unsolicited(&mut self, wait: Duration) -> Result<(), AtError> {
        self.read_unsolicited(wait, false).map(|_| ())
    }

    /// Like [`At::poll_unsolicited`], but returns as soon as a whole
    /// unsolicited line (with its PDU line, for `+CMT:`) has been set
    /// aside: true then. At least one read is tried, however short `wait`.
    pub fn wait_unsolicited(&mut self, wait: Duration) -> Result<bool, AtError> {
        self.read_unsolicited(wait, true)
    }

    fn read_unsolicited(&mut self, wait: Duration, early: bool) -> Result<bool, AtError> {
        let deadline = Instant::now() + wait;
        let before = self.unsolicited.len();
        let mut tried = false;
        loop {
            while let Some(event) = self.splitter.next_event() {
                if let Event::Line(line) = event {
                    log::debug!("modem -> {line}");
                    if self.pdu_follows || is_unsolicited(&line, None) {
                        self.pdu_follows = !self.pdu_follows && takes_pdu_line(&line);
                        self.unsolicited.push_back(line);
                    }
                }
            }
            let got = self.unsolicited.len() > before && !self.pdu_follows;
            if early && got {
                return Ok(true);
            }
            // One read even when `wait` has passed already.
            let once = !tried;
            tried = true;
            match self.fill_from(deadline, "", once) {
                Ok(()) => {}
                Err(AtError::Timeout { .. }) => return Ok(got),
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
    }

    #[test]
    fn unsolicited_needs_context() {
        let creg = expected_prefix("AT+CREG?");
        assert_eq!(creg.as_deref(), Some("+CREG:"));
        assert!(!is_unsolicited("+CREG: 0,1", creg.as_deref()));
        assert!(is_unsolicited("+CREG: 1", None));
        assert!(is_unsolicited(
            "+CMTI: \"SM\",1",
            expected_prefix("AT+CMGL=4").as_deref()
        ));
        // +CMT with its colon: +CMTI is not +CMT
        assert!(!takes_pdu_line("+CMTI: \"SM\",1"));
        assert!(takes_pdu_line("+CMT: ,24"));
    }
}
