//! `smss sendsms DESTINATION... TEXT`: smstools' `sendsms` command line,
//! for the notification commands of Nagios, Icinga, Netdata and the
//! like. Each destination (a number or `@group`; several as separate
//! arguments or separated by commas) gets the text as one request line
//! (`#DESTINATION;TEXT`) on port 2021 of the server in `client-server`
//! (default `localhost:2021`; `-a` wins); exits as `smss client` does: 0
//! when every line was answered OK. As smstools' script: with more than
//! two arguments the last is the text and the others are destinations;
//! with one, the text is read from standard input.
//!
//! std only (it is part of the client build, `cargo build
//! --no-default-features`): `client-server` is read from the
//! configuration file with a small reader of its own.

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::client::{self, ClientArgs, ClientError};

pub const DEFAULT_SERVER: &str = "localhost:2021";
const DEFAULT_CONFIG: &str = "/etc/smss/smss.conf";

pub const USAGE: &str = "\
Usage: smss sendsms [OPTIONS] DESTINATION... TEXT
       smss sendsms [OPTIONS] DESTINATION < text

Sends TEXT to each DESTINATION (a number such as 420608337726 or +420608337726,
or @GROUP; several as arguments or separated by commas) through the smss server
in client-server (configuration file; default localhost:2021). As smstools'
sendsms: the last argument is the text; with a single argument the text is read
from standard input. Line breaks in the text become spaces.
Exits 0 when every destination was accepted, 1 otherwise (reason on stderr),
2 for a usage error.

Options:
  -a, --address HOST[:PORT]  the server (default: client-server, else localhost:2021)
  -t, --timeout DURATION     for connecting and for each answer (default 30s)
      --config PATH          the configuration file with client-server
                             (default /etc/smss/smss.conf, read when present)
  -q, --quiet                do not print the server's OK answers
  -h, --help                 this help
";

/// What `sendsms` was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendArgs {
    pub address: Option<String>,
    pub config: Option<PathBuf>,
    pub timeout: Duration,
    pub quiet: bool,
    pub destinations: Vec<String>,
    /// `None`: read it from standard input.
    pub text: Option<Vec<u8>>,
}

/// Parses the arguments after `sendsms`; `Ok(None)` for `--help`.
pub fn parse_args(args: Vec<OsString>) -> Result<Option<SendArgs>, ClientError> {
    use lexopt::prelude::*;
    let usage = |e: lexopt::Error| ClientError::Usage(e.to_string());
    let mut parser = lexopt::Parser::from_args(args);
    let mut address = None;
    let mut config = None;
    let mut timeout = Duration::from_secs(30);
    let mut quiet = false;
    let mut words: Vec<Vec<u8>> = Vec::new();
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Short('a') | Long("address") => {
                let v = parser.value().map_err(usage)?.string().map_err(usage)?;
                address = Some(client::with_default_port(&v)?);
            }
            Long("config") => config = Some(PathBuf::from(parser.value().map_err(usage)?)),
            Short('t') | Long("timeout") => {
                let v = parser.value().map_err(usage)?.string().map_err(usage)?;
                timeout = client::parse_timeout(&v)?;
            }
            Short('q') | Long("quiet") => quiet = true,
            Short('h') | Long("help") => return Ok(None),
            Value(v) => words.push(v.into_encoded_bytes()),
            _ => return Err(usage(arg.unexpected())),
        }
    }
    let text = match words.len() {
        0 => {
            return Err(ClientError::Usage(
                "give a DESTINATION and the TEXT: smss sendsms 420608337726 'disk full'".into(),
            ));
        }
        1 => None,
        _ => words.pop(),
    };
    let mut destinations = Vec::new();
    for w in &words {
        let w = String::from_utf8_lossy(w);
        for d in w.split([',', ' ']).map(str::trim).filter(|d| !d.is_empty()) {
            if !valid_destination(d) {
                return Err(ClientError::Usage(format!(
                    "'{d}' is not a destination: a number (an optional + and 3 to 20 digits) \
                     or @GROUP"
                )));
            }
            destinations.push(d.to_owned());
        }
    }
    if destinations.is_empty() {
        return Err(ClientError::Usage("no DESTINATION given".into()));
    }
    Ok(Some(SendArgs {
        address,
        config,
        timeout,
        quiet,
        destinations,
        text,
    }))
}

fn valid_destination(d: &str) -> bool {
    if let Some(group) = d.strip_prefix('@') {
        return (1..=64).contains(&group.len())
            && group
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    }
    let digits = d.strip_prefix('+').unwrap_or(d);
    (3..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The value of `key` in a configuration file's text (`key = value`, `#`
/// starting a word begins a comment, `\#` a literal `#`; `key_name` is
/// `key-name`); the last one wins, as in the server's reader.
pub fn config_value(text: &str, key: &str) -> Option<String> {
    let mut found = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if k.trim().replace('_', "-") != key {
            continue;
        }
        let mut value = String::new();
        let mut prev_space = true;
        let mut chars = v.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek() == Some(&'#') => {
                    value.push('#');
                    chars.next();
                }
                '#' if prev_space => break,
                c => value.push(c),
            }
            prev_space = c.is_whitespace();
        }
        found = Some(value.trim().to_owned());
    }
    found.filter(|v| !v.is_empty())
}

/// The server to send to: `-a`, else `client-server` in the configuration
/// file (`--config`, else /etc/smss/smss.conf when it exists), else
/// `localhost:2021`.
pub fn server(args: &SendArgs) -> Result<String, ClientError> {
    if let Some(a) = &args.address {
        return Ok(a.clone());
    }
    let path = args
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if args.config.is_none() && e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(DEFAULT_SERVER.to_owned());
        }
        Err(e) => {
            return Err(ClientError::Usage(format!(
                "cannot read {}: {e}",
                display(&path)
            )));
        }
    };
    match config_value(&text, "client-server") {
        Some(v) => client::with_default_port(&v),
        None => Ok(DEFAULT_SERVER.to_owned()),
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

/// A `#` in the text that would start a request (`#123456;`): a space
/// after it, so the text stays one request to its destination.
pub fn defuse(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for (i, &b) in text.iter().enumerate() {
        out.push(b);
        if b == b'#' {
            let rest = &text[i + 1..];
            let digits_from = usize::from(rest.first() == Some(&b'+'));
            let digits = rest[digits_from..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if (3..=20).contains(&digits) && rest.get(digits_from + digits) == Some(&b';') {
                out.push(b' ');
            }
        }
    }
    out
}

/// The request lines: one per destination.
pub fn lines(destinations: &[String], text: &[u8]) -> Vec<Vec<u8>> {
    let text = defuse(&client::one_line(text));
    destinations
        .iter()
        .map(|d| {
            let mut line = format!("#{d};").into_bytes();
            line.extend_from_slice(&text);
            line
        })
        .collect()
}

/// Runs `sendsms`: the text (from the arguments or `input`), one line per
/// destination to the server, the answers as `smss client` prints them.
pub fn run(
    args: &SendArgs,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), ClientError> {
    let text = match &args.text {
        Some(t) => t.clone(),
        None => {
            let mut t = Vec::new();
            input.read_to_end(&mut t).map_err(|error| ClientError::Io {
                address: "standard input".into(),
                error,
            })?;
            t
        }
    };
    if client::one_line(&text).iter().all(u8::is_ascii_whitespace) {
        return Err(ClientError::Usage("the text is empty".into()));
    }
    let client_args = ClientArgs {
        address: server(args)?,
        timeout: args.timeout,
        quiet: args.quiet,
        requests: lines(&args.destinations, &text),
    };
    client::run(&client_args, &mut std::io::empty(), out, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Result<Option<SendArgs>, ClientError> {
        parse_args(a.iter().map(Into::into).collect())
    }

    #[test]
    fn smstools_arguments() {
        let a = parse(&["420608337726", "disk full on db1"])
            .unwrap()
            .unwrap();
        assert_eq!(a.destinations, ["420608337726"]);
        assert_eq!(a.text.as_deref(), Some(&b"disk full on db1"[..]));
        // more than two: the last is the text
        let a = parse(&["420608337726", "+420777123456,@oncall", "x"])
            .unwrap()
            .unwrap();
        assert_eq!(a.destinations, ["420608337726", "+420777123456", "@oncall"]);
        // one: the text from standard input
        let a = parse(&["-a", "h", "@oncall"]).unwrap().unwrap();
        assert_eq!(a.text, None);
        assert_eq!(a.address.as_deref(), Some("h:2021"));
        for bad in [&[][..], &["12", "x"], &["@on call", "x"], &["abc", "x"]] {
            assert!(matches!(parse(bad), Err(ClientError::Usage(_))), "{bad:?}");
        }
    }

    #[test]
    fn lines_stay_one_request_each() {
        assert_eq!(
            lines(
                &["420608337726".into(), "@oncall".into()],
                b"PROBLEM #12345; host\ndown #3 ok\n"
            ),
            [
                b"#420608337726;PROBLEM # 12345; host down #3 ok".to_vec(),
                b"#@oncall;PROBLEM # 12345; host down #3 ok".to_vec(),
            ]
        );
    }

    #[test]
    fn client_server_from_the_file() {
        let text = "# client-server = nope:1\nclient_server = sms.example # the server\n";
        assert_eq!(
            config_value(text, "client-server").as_deref(),
            Some("sms.example")
        );
        assert_eq!(
            config_value("client-server = a\\#b\n", "client-server").as_deref(),
            Some("a#b")
        );
        assert_eq!(config_value("db = x\n", "client-server"), None);
        assert_eq!(config_value("client-server =\n", "client-server"), None);
    }
}
