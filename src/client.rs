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
smss server, or, without REQUEST arguments, each line of standard input.
Exits 0 when every line was answered OK, 1 otherwise (reason on stderr).

Options:
  -a, --address HOST[:PORT]  the server (port 2021 unless given)
  -t, --timeout DURATION     for connecting and for each answer (default 30s)
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
    pub address: String,
    pub timeout: Duration,
    pub quiet: bool,
    pub requests: Vec<String>,
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
                address = Some(parser.value().map_err(usage)?.string().map_err(usage)?)
            }
            Short('t') | Long("timeout") => {
                let v = parser.value().map_err(usage)?.string().map_err(usage)?;
                timeout = parse_seconds(&v).ok_or_else(|| {
                    ClientError::Usage(format!(
                        "invalid timeout '{v}': use seconds, e.g. 30 or 30s or 500ms"
                    ))
                })?;
            }
            Short('q') | Long("quiet") => quiet = true,
            Short('h') | Long("help") => return Ok(None),
            Value(v) => requests.push(v.string().map_err(usage)?),
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

fn parse_seconds(v: &str) -> Option<Duration> {
    if let Some(ms) = v.strip_suffix("ms") {
        return ms.parse().ok().map(Duration::from_millis);
    }
    let secs: u64 = v.strip_suffix('s').unwrap_or(v).parse().ok()?;
    Some(Duration::from_secs(secs))
}

/// `HOST`, `HOST:PORT`, `IPv6`, `[IPv6]:PORT` → a string `to_socket_addrs` takes.
pub fn with_default_port(address: &str) -> String {
    if address.parse::<SocketAddr>().is_ok() {
        return address.to_owned();
    }
    if let Ok(ip) = address.trim_matches(['[', ']']).parse::<IpAddr>() {
        return SocketAddr::new(ip, DEFAULT_PORT).to_string();
    }
    match address.rsplit_once(':') {
        Some((_, port)) if port.parse::<u16>().is_ok() => address.to_owned(),
        _ => format!("{address}:{DEFAULT_PORT}"),
    }
}

fn connect(address: &str, timeout: Duration) -> Result<TcpStream, ClientError> {
    let target = with_default_port(address);
    let err = |error| ClientError::Connect {
        address: target.clone(),
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
    let mut lines: Vec<String> = args.requests.clone();
    if lines.is_empty() {
        for line in input.lines() {
            let line = line.map_err(|error| ClientError::Io {
                address: "standard input".into(),
                error,
            })?;
            lines.push(line);
        }
    }
    let lines: Vec<String> = lines
        .into_iter()
        .map(|l| l.trim_end_matches(['\r', '\n']).to_owned())
        .filter(|l| !l.trim().is_empty())
        .collect();
    if lines.is_empty() {
        return Err(ClientError::Usage(
            "nothing to send: give a request or lines on standard input".into(),
        ));
    }
    let address = with_default_port(&args.address);
    let stream = connect(&args.address, args.timeout)?;
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
    let mut refused = 0;
    for line in &lines {
        writer
            .write_all(format!("{line}\n").as_bytes())
            .map_err(io_err)?;
        let mut answer = String::new();
        let n = reader.read_line(&mut answer).map_err(io_err)?;
        if n == 0 {
            return Err(io_err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection without answering",
            )));
        }
        let answer = answer.trim_end();
        if answer.starts_with("OK ") {
            if !args.quiet {
                let _ = writeln!(out, "{answer}");
            }
        } else {
            refused += 1;
            let _ = writeln!(err, "smss: {address} refused '{}': {answer}", shorten(line));
            if answer.starts_with("ERR busy") || answer.starts_with("ERR line too long") {
                // The server closes after these; the rest cannot go through.
                refused += lines.len() - lines.iter().position(|l| l == line).unwrap_or(0) - 1;
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

fn shorten(line: &str) -> String {
    if line.chars().count() > 60 {
        format!("{}...", line.chars().take(60).collect::<String>())
    } else {
        line.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_port() {
        assert_eq!(with_default_port("sms.example"), "sms.example:2021");
        assert_eq!(with_default_port("sms.example:99"), "sms.example:99");
        assert_eq!(with_default_port("10.0.0.1"), "10.0.0.1:2021");
        assert_eq!(with_default_port("::1"), "[::1]:2021");
        assert_eq!(with_default_port("[::1]:7"), "[::1]:7");
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
        assert_eq!(parsed.requests, vec!["#123;x"]);
        assert!(matches!(
            parse_args(vec!["#1;x".into()]),
            Err(ClientError::Usage(_))
        ));
        assert_eq!(parse_seconds("500ms"), Some(Duration::from_millis(500)));
    }
}
