//! `smss checkin NAME`: a job tells smss it ran (the dead-man's switch of
//! `src/pager/`). std only, like `smss client`, so a Windows scheduled task
//! can call it: one line on port 2021 of `client-server`,
//!
//! ```text
//! #?checkin NAME[ every=DURATION][ grace=DURATION][ to=RECIPIENT,...]
//! ```
//!
//! answered `OK` or `ERR reason`. An old client's line starts with `#` and
//! a phone number or `@group`; `#?` is neither, so it never sent this.
//! The same words make `GET|POST /api/checkin/NAME?every=..&to=..`.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use crate::client::{self, ClientError};

/// What the line starts with.
pub const PREFIX: &str = "#?checkin";

/// One check-in as asked: the name, and what creates (or redefines) it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Call {
    pub name: String,
    pub every: Option<Duration>,
    pub grace: Option<Duration>,
    /// Numbers and `@group`s.
    pub to: Vec<String>,
}

/// A check-in's name: as a group's (letters, digits, `-`, `_`, `.`, at
/// most 64), and not one of the words of `smss checkin add|list|remove`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !matches!(name, "add" | "list" | "remove")
}

fn bad_name(name: &str) -> String {
    format!(
        "'{}' cannot be a check-in name: use letters, digits, '-', '_', '.' (at most 64; \
         not add, list or remove)",
        name.escape_debug()
    )
}

impl Call {
    /// Sets `key` (`every`, `grace`, `to`) from its text.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let duration = |what: &str| {
            crate::duration::parse(value)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    format!(
                        "invalid {what} '{}': use a duration such as 30s, 15m, 24h",
                        value.escape_debug()
                    )
                })
        };
        match key {
            "every" => self.every = Some(duration("every")?),
            "grace" => {
                self.grace = Some(if value.trim() == "0" {
                    Duration::ZERO
                } else {
                    duration("grace")?
                })
            }
            "to" => self.to.extend(
                value
                    .split([',', ' '])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            ),
            other => {
                return Err(format!(
                    "unknown check-in option '{}': every, grace or to",
                    other.escape_debug()
                ));
            }
        }
        Ok(())
    }

    /// The request line.
    pub fn line(&self) -> String {
        let mut line = format!("{PREFIX} {}", self.name);
        if let Some(e) = self.every {
            line.push_str(&format!(" every={}s", e.as_secs()));
        }
        if let Some(g) = self.grace {
            line.push_str(&format!(" grace={}s", g.as_secs()));
        }
        if !self.to.is_empty() {
            line.push_str(&format!(" to={}", self.to.join(",")));
        }
        line
    }
}

/// A `#?checkin` line, or `None` when the line is not one (a request
/// line, or another `#?` form: the caller says so).
pub fn parse_line(line: &str) -> Option<Result<Call, String>> {
    let line = line.trim_start_matches([' ', '\t', '\u{feff}']).trim_end();
    let rest = line.strip_prefix(PREFIX)?;
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    let mut words = rest.split_whitespace();
    let Some(name) = words.next() else {
        return Some(Err("#?checkin: give a NAME".into()));
    };
    if !valid_name(name) {
        return Some(Err(bad_name(name)));
    }
    let mut call = Call {
        name: name.to_owned(),
        ..Call::default()
    };
    for w in words {
        let Some((k, v)) = w.split_once('=') else {
            return Some(Err(format!(
                "#?checkin: '{}' is not KEY=VALUE (every=24h grace=1h to=@ops)",
                w.escape_debug()
            )));
        };
        if let Err(e) = call.set(k, v) {
            return Some(Err(e));
        }
    }
    Some(Ok(call))
}

pub const USAGE: &str = "\
Usage: smss checkin [OPTIONS] NAME [--every DURATION] [--grace DURATION] [--to RECIPIENT]
       smss checkin add NAME --every DURATION [--grace DURATION] --to RECIPIENT
       smss checkin list | remove NAME

Tells the smss server in client-server (configuration file; default
localhost:2021) that the job NAME ran. When NAME does not check in within its
period and grace, smss sends one SMS to its recipients, and one when it checks
in again. The first check-in of a new NAME creates it and needs --every and
--to (numbers and @groups, comma-separated); later ones may leave them out.
add, list and remove (on the server, with the database) manage check-ins.
Exits 0 when the server recorded it, 1 when it refused (reason on stderr) or
cannot be reached, 2 for a usage error.

Options:
  -a, --address HOST[:PORT]  the server (default: client-server, else localhost:2021)
  -t, --timeout DURATION     for connecting and the answer (default 30s)
      --config PATH          the configuration file with client-server
  -q, --quiet                print nothing on success
  -h, --help                 this help
";

/// What `smss checkin NAME` was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCall {
    pub send: crate::sendsms::SendArgs,
    pub call: Call,
}

/// Parses the arguments after `checkin`; `Ok(None)` for `--help`.
pub fn parse_args(args: Vec<OsString>) -> Result<Option<ClientCall>, ClientError> {
    use lexopt::prelude::*;
    let usage = |e: lexopt::Error| ClientError::Usage(e.to_string());
    let mut parser = lexopt::Parser::from_args(args);
    let mut send = crate::sendsms::SendArgs {
        address: None,
        config: None,
        timeout: Duration::from_secs(30),
        quiet: false,
        destinations: Vec::new(),
        text: None,
    };
    let mut call = Call::default();
    let mut names = Vec::new();
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Short('a') | Long("address") => {
                let v = parser.value().map_err(usage)?.string().map_err(usage)?;
                send.address = Some(client::with_default_port(&v)?);
            }
            Long("config") => send.config = Some(PathBuf::from(parser.value().map_err(usage)?)),
            Short('t') | Long("timeout") => {
                let v = parser.value().map_err(usage)?.string().map_err(usage)?;
                send.timeout = client::parse_timeout(&v)?;
            }
            Long(key @ ("every" | "grace" | "to")) => {
                let key = key.to_owned();
                let v = parser.value().map_err(usage)?.string().map_err(usage)?;
                call.set(&key, &v).map_err(ClientError::Usage)?;
            }
            Short('q') | Long("quiet") => send.quiet = true,
            Short('h') | Long("help") => return Ok(None),
            Value(v) => names.push(v.string().map_err(usage)?),
            _ => return Err(usage(arg.unexpected())),
        }
    }
    match names.as_slice() {
        [name] if valid_name(name) => call.name = name.clone(),
        [name] => return Err(ClientError::Usage(bad_name(name))),
        [] => return Err(ClientError::Usage("give the NAME of the check-in".into())),
        _ => {
            return Err(ClientError::Usage(
                "give one NAME (smss checkin --help)".into(),
            ));
        }
    }
    Ok(Some(ClientCall { send, call }))
}

/// Sends the line and reads the answer; `Ok` when it was `OK`.
pub fn run(args: &ClientCall, out: &mut dyn Write) -> Result<(), ClientError> {
    let address = crate::sendsms::server(&args.send)?;
    let io_err = |error| ClientError::Io {
        address: address.clone(),
        error,
    };
    let connect_err = |error| ClientError::Connect {
        address: address.clone(),
        error,
    };
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
    let mut stream = None;
    for a in address.to_socket_addrs().map_err(connect_err)? {
        match TcpStream::connect_timeout(&a, args.send.timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let mut stream = stream.ok_or_else(|| connect_err(last))?;
    stream
        .set_read_timeout(Some(args.send.timeout))
        .map_err(io_err)?;
    stream
        .set_write_timeout(Some(args.send.timeout))
        .map_err(io_err)?;
    stream
        .write_all(format!("{}\n", args.call.line()).as_bytes())
        .map_err(io_err)?;
    let mut answer = String::new();
    BufReader::new(&stream)
        .read_line(&mut answer)
        .map_err(io_err)?;
    let answer = answer.trim_end();
    if answer == "OK" || answer.starts_with("OK ") {
        if !args.send.quiet {
            let _ = writeln!(out, "{answer}");
        }
        return Ok(());
    }
    if answer.is_empty() {
        return Err(io_err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the server closed the connection without answering",
        )));
    }
    Err(ClientError::Answer(format!(
        "{address} refused the check-in {}: {answer}",
        args.call.name
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let c = parse_line("#?checkin backup-db1 every=24h grace=1h to=@ops,420608337726")
            .unwrap()
            .unwrap();
        assert_eq!(c.name, "backup-db1");
        assert_eq!(c.every, Some(Duration::from_secs(86_400)));
        assert_eq!(c.grace, Some(Duration::from_secs(3600)));
        assert_eq!(c.to, ["@ops", "420608337726"]);
        assert_eq!(parse_line(&c.line()).unwrap().unwrap(), c);
        assert_eq!(
            parse_line("#?checkin x").unwrap().unwrap(),
            Call {
                name: "x".into(),
                ..Call::default()
            }
        );
        assert_eq!(parse_line("#420608337726;hi"), None);
        assert_eq!(parse_line("#?checking x"), None);
        for (bad, why) in [
            ("#?checkin", "#?checkin: give a NAME"),
            ("#?checkin a/b", "'a/b' cannot be a check-in name"),
            ("#?checkin list", "'list' cannot be a check-in name"),
            ("#?checkin x every=soon", "invalid every 'soon'"),
            ("#?checkin x every=0", "invalid every '0'"),
            ("#?checkin x often=1h", "unknown check-in option 'often'"),
            ("#?checkin x 24h", "#?checkin: '24h' is not KEY=VALUE"),
        ] {
            let e = parse_line(bad).unwrap().unwrap_err();
            assert!(e.starts_with(why), "{bad}: {e}");
        }
    }

    #[test]
    fn args() {
        let p = |a: &[&str]| parse_args(a.iter().map(Into::into).collect());
        let c = p(&["-a", "h", "job", "--every", "2s", "--to", "@ops"])
            .unwrap()
            .unwrap();
        assert_eq!(c.send.address.as_deref(), Some("h:2021"));
        assert_eq!(c.call.line(), "#?checkin job every=2s to=@ops");
        for bad in [&[][..], &["a", "b"], &["a b"], &["x", "--every", "x"]] {
            assert!(matches!(p(bad), Err(ClientError::Usage(_))), "{bad:?}");
        }
    }
}
