//! `smss client`: sends request lines to a server and reports whether every
//! one was accepted. std only, so it builds anywhere (Windows included):
//! `cargo build --no-default-features`.

use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

pub const DEFAULT_PORT: u16 = 2021;

pub const USAGE: &str = "\
Usage: smss client -a HOST[:PORT] [OPTIONS] [REQUEST...]

Sends each REQUEST ('#phone;text', several may be chained on one line) to an
smss server as one line, or, without REQUEST arguments, each line of standard
input (its bytes as they are: the server reads text that is not UTF-8 in its
legacy-charset). A line break inside a REQUEST becomes a space.
Exits 0 when every line was answered OK, 1 otherwise (reason on stderr).

Options:
  -a, --address HOST[:PORT]  the server (port 2021 unless given)
  -t, --timeout DURATION     for connecting and for each answer: 500ms, 30s, 2m, 1h
                             (default 30s)
  -q, --quiet                do not print the server's OK answers
  -h, --help                 this help
";

#[derive(Debug)]
pub enum ClientError {
    Usage(String),
    Connect {
        address: String,
        error: io::Error,
    },
    Io {
        address: String,
        error: io::Error,
    },
    /// The server answered ERR (or something else than OK) to some lines.
    Refused {
        count: usize,
    },
    /// The server refused a request; its words (`smss checkin`).
    Answer(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Usage(m) => write!(f, "{m}\n(see smss client --help)"),
            ClientError::Connect { address, error } => {
                write!(f, "cannot connect to {address}: {error}")?;
                if error.kind() == io::ErrorKind::ConnectionRefused {
                    write!(f, " (is smss serve running there, and is the port right?)")?;
                }
                Ok(())
            }
            ClientError::Io { address, error } if is_timeout(error) => {
                write!(
                    f,
                    "no answer from {address} in time: the request may not have been queued"
                )
            }
            ClientError::Io { address, error } => {
                write!(f, "connection to {address} failed: {error}")
            }
            ClientError::Refused { count } => {
                write!(f, "{count} line(s) were not accepted")
            }
            ClientError::Answer(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ClientError {}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientArgs {
    /// `HOST:PORT`, the port added when not given ([`with_default_port`]).
    pub address: String,
    pub timeout: Duration,
    pub quiet: bool,
    /// The arguments' bytes, each to be sent as one line ([`one_line`]).
    pub requests: Vec<Vec<u8>>,
}

/// Parses the arguments after `client`. `Ok(None)` means `--help`.
pub fn parse_args(args: Vec<std::ffi::OsString>) -> Result<Option<ClientArgs>, ClientError> {
    use lexopt::prelude::*;
    let usage = |e: lexopt::Error| ClientError::Usage(e.to_string());
    let mut parser = lexopt::Parser::from_args(args);
    let mut address = None;
    let mut timeout = Duration::from_secs(30);
    let mut quiet = false;
    let mut requests = Vec::new();
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Short('a') | Long("address") => {
                let v = parser.value().map_err(usage)?.string().map_err(usage)?;
                address = Some(with_default_port(&v)?);
            }
            Short('t') | Long("timeout") => {
                let v = parser.value().map_err(usage)?.string().map_err(usage)?;
                timeout = parse_timeout(&v)?;
            }
            Short('q') | Long("quiet") => quiet = true,
            Short('h') | Long("help") => return Ok(None),
            // The bytes as given (on Windows, WTF-8: UTF-8 for any real text).
            Value(v) => requests.push(v.into_encoded_bytes()),
            _ => return Err(usage(arg.unexpected())),
        }
    }
    let address = address.ok_or_else(|| ClientError::Usage("missing -a HOST[:PORT]".into()))?;
    Ok(Some(ClientArgs {
        address,
        timeout,
        quiet,
        requests,
    }))
}

/// `HOST`, `HOST:PORT`, `IPv6`, `[IPv6]:PORT` → a string `to_socket_addrs`
/// takes, port 2021 unless given; a port that is not 1 to 65535 is refused.
/// `-t DURATION`: a duration as in the configuration (`500ms`, `30s`,
/// `2m`), not zero.
pub fn parse_timeout(v: &str) -> Result<Duration, ClientError> {
    crate::duration::parse(v)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or_else(|| {
            ClientError::Usage(format!(
                "invalid timeout '{v}': use a duration such as 500ms, 30s, 2m or 1h"
            ))
        })
}

pub fn with_default_port(address: &str) -> Result<String, ClientError> {
    let bad = |why: String| ClientError::Usage(format!("invalid address -a {address}: {why}"));
    if address.parse::<SocketAddr>().is_ok() {
        return Ok(address.to_owned());
    }
    if let Ok(ip) = address.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_PORT).to_string());
    }
    let Some((host, port)) = address.rsplit_once(':') else {
        if address.is_empty() {
            return Err(bad("no host".into()));
        }
        return Ok(format!("{address}:{DEFAULT_PORT}"));
    };
    if host.is_empty() {
        return Err(bad("no host before the port".into()));
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(bad(
            "an IPv6 address with a port is written [ADDRESS]:PORT".into()
        ));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(address.to_owned()),
        _ => Err(bad(format!(
            "the port '{port}' is not a number from 1 to 65535"
        ))),
    }
}

/// A request argument as the one line it is sent as: line breaks at its end
/// dropped (`$(command)` output), those inside (`\n`, `\r\n`, `\r`) each
/// made a space, so the whole text is one request line with one answer.
pub fn one_line(arg: &[u8]) -> Vec<u8> {
    let mut end = arg.len();
    while end > 0 && matches!(arg[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    let mut out = Vec::with_capacity(end);
    let mut i = 0;
    while i < end {
        match arg[i] {
            b'\r' if arg.get(i + 1) == Some(&b'\n') => {
                out.push(b' ');
                i += 1;
            }
            b'\r' | b'\n' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn connect(target: &str, timeout: Duration) -> Result<TcpStream, ClientError> {
    let err = |error| ClientError::Connect {
        address: target.to_owned(),
        error,
    };
    let addrs: Vec<SocketAddr> = target.to_socket_addrs().map_err(err)?.collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the name resolves to no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(err(last))
}

/// Sends every line and reads one answer per line. Answers go to `out`
/// (OK lines unless quiet) and `err` (everything else).
pub fn run(
    args: &ClientArgs,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), ClientError> {
    // Every line is read (and every argument made one line) before anything
    // is sent: a bad read sends nothing.
    let mut lines: Vec<Vec<u8>> = args.requests.iter().map(|a| one_line(a)).collect();
    if lines.is_empty() {
        for line in input.split(b'\n') {
            let mut line = line.map_err(|error| ClientError::Io {
                address: "standard input".into(),
                error,
            })?;
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            lines.push(line);
        }
    }
    lines.retain(|l| !l.iter().all(u8::is_ascii_whitespace));
    if lines.is_empty() {
        return Err(ClientError::Usage(
            "nothing to send: give a request or lines on standard input".into(),
        ));
    }
    let address = args.address.clone();
    let stream = connect(&address, args.timeout)?;
    let io_err = |error| ClientError::Io {
        address: address.clone(),
        error,
    };
    stream
        .set_read_timeout(Some(args.timeout))
        .map_err(io_err)?;
    stream
        .set_write_timeout(Some(args.timeout))
        .map_err(io_err)?;
    let mut reader = BufReader::new(stream.try_clone().map_err(io_err)?);
    let mut writer = stream;
    // One line, then its answer: the answers match the lines one to one.
    let mut refused = 0;
    for (i, line) in lines.iter().enumerate() {
        let mut bytes = line.clone();
        bytes.push(b'\n');
        writer.write_all(&bytes).map_err(io_err)?;
        let mut answer = Vec::new();
        let n = reader.read_until(b'\n', &mut answer).map_err(io_err)?;
        if n == 0 {
            return Err(io_err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection without answering",
            )));
        }
        let answer = String::from_utf8_lossy(&answer);
        let answer = answer.trim_end();
        if answer.starts_with("OK ") || answer == "OK" {
            if !args.quiet {
                let _ = writeln!(out, "{answer}");
            }
        } else {
            refused += 1;
            let _ = writeln!(err, "smss: {address} refused '{}': {answer}", shorten(line));
            if answer.starts_with("ERR busy") || answer.starts_with("ERR line too long") {
                // The server closes after these; the rest cannot go through.
                refused += lines.len() - i - 1;
                break;
            }
        }
    }
    let _ = writer.shutdown(std::net::Shutdown::Write);
    if refused > 0 {
        return Err(ClientError::Refused { count: refused });
    }
    Ok(())
}

fn shorten(line: &[u8]) -> String {
    let line = String::from_utf8_lossy(line);
    if line.chars().count() > 60 {
        format!("{}...", line.chars().take(60).collect::<String>())
    } else {
        line.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_port() {
        let ok = |a: &str| with_default_port(a).unwrap();
        assert_eq!(ok("sms.example"), "sms.example:2021");
        assert_eq!(ok("sms.example:99"), "sms.example:99");
        assert_eq!(ok("10.0.0.1"), "10.0.0.1:2021");
        assert_eq!(ok("::1"), "[::1]:2021");
        assert_eq!(ok("[::1]"), "[::1]:2021");
        assert_eq!(ok("[::1]:7"), "[::1]:7");
        for bad in ["127.0.0.1:99999", "h:0", "h:x", ":2021", "fe80::1:2:x", ""] {
            assert!(
                matches!(with_default_port(bad), Err(ClientError::Usage(_))),
                "{bad}"
            );
        }
        assert_eq!(
            with_default_port("127.0.0.1:99999")
                .unwrap_err()
                .to_string(),
            "invalid address -a 127.0.0.1:99999: the port '99999' is not a number from 1 \
             to 65535\n(see smss client --help)"
        );
    }

    #[test]
    fn an_argument_is_one_line() {
        assert_eq!(
            one_line(b"#1;disk full\nfree: 0\n"),
            b"#1;disk full free: 0"
        );
        assert_eq!(one_line(b"#1;a\r\nb\rc\r\n"), b"#1;a b c");
        assert_eq!(one_line(b"#1;\xe8\n\n"), b"#1;\xe8");
    }

    #[test]
    fn args() {
        let a: Vec<std::ffi::OsString> = ["-a", "h:1", "-t", "5", "#123;x"]
            .iter()
            .map(Into::into)
            .collect();
        let parsed = parse_args(a).unwrap().unwrap();
        assert_eq!(parsed.address, "h:1");
        assert_eq!(parsed.timeout, Duration::from_secs(5));
        assert_eq!(parsed.requests, vec![b"#123;x".to_vec()]);
        let t = |v: &str| parse_args(vec!["-a".into(), "h".into(), "-t".into(), v.into()]);
        assert_eq!(t("2m").unwrap().unwrap().timeout, Duration::from_secs(120));
        assert_eq!(
            t("500ms").unwrap().unwrap().timeout,
            Duration::from_millis(500)
        );
        assert!(matches!(t("0"), Err(ClientError::Usage(_))));
        assert!(matches!(t("soon"), Err(ClientError::Usage(_))));
        assert!(matches!(
            parse_args(vec!["#1;x".into()]),
            Err(ClientError::Usage(_))
        ));
    }
}
