//! Settings: embedded defaults, then `/etc/smss/smss.conf` (or `--config`),
//! then the `SMSS_DB` environment variable, then the command line.
//!
//! The file is `key = value` lines with `#` comments; its keys are the long
//! command-line options (`max-parts` and `max_parts` are the same key).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use log::LevelFilter;

use crate::charset::Legacy;

pub const DEFAULT_CONFIG: &str = "/etc/smss/smss.conf";
pub const DB_ENV: &str = "SMSS_DB";
pub const DEFAULT_LOG_FILE: &str = "/var/log/smss/smss.log";

#[derive(Debug, Clone)]
pub struct Settings {
    pub db: String,
    pub device: String,
    pub baud: u32,
    pub pin: Option<String>,
    pub smsc: Option<String>,
    pub listen: String,
    pub log_file: Option<PathBuf>,
    pub log_level: LevelFilter,
    pub lock_dir: PathBuf,
    pub instance: Option<String>,
    pub max_connections: usize,
    pub max_line_bytes: usize,
    pub idle_timeout: Duration,
    pub quiet_pause: Duration,
    pub max_parts: usize,
    pub legacy_charset: Legacy,
    pub poll_interval: Duration,
    pub bare_numbers_international: bool,
    pub command_timeout: Duration,
    pub send_timeout: Duration,
    pub max_attempts: u32,
    pub retry_delay: Duration,
    pub sim_delay: Duration,
    pub on_receive: Option<PathBuf>,
    pub on_receive_timeout: Duration,
    pub multipart_timeout: Duration,
    pub status_reports: bool,
    pub rate_limit: u32,
    pub allow: Vec<crate::allow::Cidr>,
    /// `status`: the oldest queued message may wait this long (zero: no limit).
    pub max_queue_age: Duration,
    /// `status`: a modem's last health check may be this old.
    pub health_max_age: Duration,
    /// How long a sender's claim on a queued message holds unless renewed.
    pub lease: Duration,
    /// The web interface's address; `None` = no web interface.
    pub web_listen: Option<String>,
    pub web_user: String,
    /// Argon2 PHC string from `smss hash-password`.
    pub web_password_hash: Option<String>,
    /// Credentials of `/cgi-bin/sendsms`; unset = the web ones.
    pub kannel_user: Option<String>,
    pub kannel_password_hash: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            db: "sqlite:///var/lib/smss/smss.db".into(),
            device: "/dev/ttyS0".into(),
            baud: 9600,
            pin: None,
            smsc: None,
            listen: "0.0.0.0:2021".into(),
            log_file: Some(DEFAULT_LOG_FILE.into()),
            log_level: LevelFilter::Info,
            lock_dir: "/run/lock".into(),
            instance: None,
            max_connections: 64,
            max_line_bytes: 16 * 1024,
            idle_timeout: Duration::from_secs(60),
            quiet_pause: Duration::from_millis(1000),
            max_parts: 10,
            legacy_charset: Legacy::Windows1250,
            poll_interval: Duration::from_secs(10),
            bare_numbers_international: true,
            command_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(60),
            max_attempts: 5,
            retry_delay: Duration::from_secs(30),
            sim_delay: Duration::ZERO,
            on_receive: None,
            on_receive_timeout: Duration::from_secs(30),
            multipart_timeout: Duration::from_secs(24 * 3600),
            status_reports: false,
            rate_limit: 0,
            allow: Vec::new(),
            max_queue_age: Duration::from_secs(600),
            health_max_age: Duration::from_secs(300),
            lease: Duration::from_secs(120),
            web_listen: None,
            web_user: "admin".into(),
            web_password_hash: None,
            kannel_user: None,
            kannel_password_hash: None,
        }
    }
}

/// Every key with its value placeholder and help text; `--help` prints this
/// and the sample config documents the same keys.
pub const KEYS: &[(&str, &str, &str)] = &[
    (
        "config",
        "PATH",
        "configuration file (default /etc/smss/smss.conf, read when present)",
    ),
    (
        "db",
        "URL",
        "database: sqlite:///var/lib/smss/smss.db (default) or mysql://user:pass@host:3306/sms; also $SMSS_DB",
    ),
    (
        "device",
        "PATH",
        "modem serial port (default /dev/ttyS0); several separated by commas, each with a \
         modem thread of its own; 'sim' = built-in simulated modem",
    ),
    ("baud", "N", "serial speed (default 9600)"),
    ("pin", "PIN", "SIM PIN, when the SIM asks for one"),
    (
        "smsc",
        "NUMBER",
        "SMS centre number, when the SIM does not hold the right one",
    ),
    (
        "listen",
        "ADDR",
        "TCP address for requests (default 0.0.0.0:2021)",
    ),
    (
        "log-file",
        "PATH",
        "log file (default /var/log/smss/smss.log); none = terminal only",
    ),
    (
        "log-level",
        "LEVEL",
        "error, warn, info (default) or debug (modem traffic)",
    ),
    (
        "lock-dir",
        "DIR",
        "where the modem lock file lives (default /run/lock)",
    ),
    (
        "instance",
        "NAME",
        "name of this sender in the database (default host name + device)",
    ),
    (
        "max-connections",
        "N",
        "concurrent TCP connections; more get 'ERR busy' (default 64)",
    ),
    (
        "max-line-bytes",
        "N",
        "longest request line; longer ones get ERR and are closed (default 16384)",
    ),
    (
        "idle-timeout",
        "DURATION",
        "a client silent this long, or slower to finish a line, is closed (default 60s)",
    ),
    (
        "quiet-pause",
        "DURATION",
        "a line without newline ends after this pause (default 1s)",
    ),
    (
        "max-parts",
        "N",
        "most SMS parts one text may take (default 10, at most 255)",
    ),
    (
        "legacy-charset",
        "NAME",
        "how request bytes that are not UTF-8 are read: windows-1250 (default), iso-8859-2, windows-1252, iso-8859-1",
    ),
    (
        "poll-interval",
        "DURATION",
        "how often the queue is checked for rows inserted by other tools (default 10s)",
    ),
    (
        "bare-numbers",
        "KIND",
        "numbers without + or 00: international (default, 420608337726) or national",
    ),
    (
        "command-timeout",
        "DURATION",
        "how long the modem may take to answer a command (default 10s)",
    ),
    (
        "send-timeout",
        "DURATION",
        "how long the modem may take to send one part (default 60s)",
    ),
    (
        "max-attempts",
        "N",
        "attempts before a message is marked failed (default 5)",
    ),
    (
        "retry-delay",
        "DURATION",
        "delay before the first retry, doubling each time (default 30s)",
    ),
    (
        "sim-delay",
        "DURATION",
        "with device = sim: how long the simulated modem takes per SMS (default 0)",
    ),
    (
        "on-receive",
        "PROGRAM",
        "run after each received message is stored: argument = its id; SMSS_ID, SMSS_SENDER, \
         SMSS_TEXT, SMSS_SMSC_TIME in the environment, the text also on standard input; no shell",
    ),
    (
        "on-receive-timeout",
        "DURATION",
        "the on-receive program is killed after this (default 30s)",
    ),
    (
        "multipart-timeout",
        "DURATION",
        "parts of a received long message wait this long for the rest, then are stored as \
         incomplete (default 24h)",
    ),
    (
        "status-reports",
        "yes|no",
        "ask the network for delivery reports and record them in sms (default no)",
    ),
    (
        "rate-limit",
        "N",
        "at most N SMS parts per minute through the modem, so the operator does not block \
         the SIM for bursts (default 0 = no limit)",
    ),
    (
        "allow",
        "CIDRS",
        "who may connect: comma separated addresses or networks, IPv4 and IPv6 \
         (e.g. 10.0.0.0/8, 192.168.1.5, ::1); refused peers are logged (default: everyone)",
    ),
    (
        "max-queue-age",
        "DURATION",
        "status: attention needed when the oldest queued message waits longer (default 10m; 0 = no limit)",
    ),
    (
        "health-max-age",
        "DURATION",
        "status: attention needed when serve last checked a modem longer ago (default 5m)",
    ),
    (
        "lease",
        "DURATION",
        "how long a sender's claim on a queued message holds; renewed while it works, so only \
         a dead sender's claims expire and another modem sends them (default 2m)",
    ),
    (
        "web-listen",
        "ADDR",
        "address of the web interface and HTTP API, e.g. 127.0.0.1:8025 (default: off)",
    ),
    (
        "web-user",
        "NAME",
        "user name for the web interface (HTTP Basic authentication; default admin)",
    ),
    (
        "web-password-hash",
        "HASH",
        "password hash from `smss hash-password`; required unless web-listen is a loopback address",
    ),
    (
        "kannel-user",
        "NAME",
        "username= of /cgi-bin/sendsms (Kannel-compatible); default: web-user",
    ),
    (
        "kannel-password-hash",
        "HASH",
        "hash of the password= of /cgi-bin/sendsms; default: web-password-hash (neither set: sendsms is off)",
    ),
];

/// A bad setting, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// `path:line` for the file, `--key` for the command line.
    pub origin: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Settings {
    /// Sets one key from its text value. Keys use `-` or `_`.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let key = key.replace('_', "-");
        match key.as_str() {
            "db" => self.db = nonempty(value)?,
            "device" => self.device = nonempty(value)?,
            "baud" => self.baud = number(value, 300, 4_000_000)?,
            "pin" => self.pin = optional(value),
            "smsc" => self.smsc = optional(value),
            "listen" => self.listen = nonempty(value)?,
            "log-file" => {
                self.log_file = optional(value)
                    .filter(|v| !v.eq_ignore_ascii_case("none"))
                    .map(PathBuf::from)
            }
            "log-level" => self.log_level = level(value)?,
            "lock-dir" => self.lock_dir = PathBuf::from(nonempty(value)?),
            "instance" => self.instance = optional(value),
            "max-connections" => self.max_connections = number(value, 1, 100_000)?,
            "max-line-bytes" => self.max_line_bytes = number(value, 64, 64 * 1024 * 1024)?,
            "idle-timeout" => self.idle_timeout = duration(value)?,
            "quiet-pause" => self.quiet_pause = duration(value)?,
            "max-parts" => self.max_parts = number(value, 1, 255)?,
            "legacy-charset" => {
                self.legacy_charset = Legacy::from_name(value).ok_or_else(|| {
                    format!("unknown charset '{value}': use windows-1250, iso-8859-2, windows-1252 or iso-8859-1")
                })?
            }
            "poll-interval" => self.poll_interval = duration(value)?,
            "bare-numbers" => {
                self.bare_numbers_international = match value {
                    "international" => true,
                    "national" => false,
                    _ => return Err(format!("'{value}' should be international or national")),
                }
            }
            "command-timeout" => self.command_timeout = duration(value)?,
            "send-timeout" => self.send_timeout = duration(value)?,
            "max-attempts" => self.max_attempts = number(value, 1, 1000)?,
            "retry-delay" => self.retry_delay = duration(value)?,
            "sim-delay" => self.sim_delay = duration(value)?,
            "on-receive" => self.on_receive = optional(value).map(PathBuf::from),
            "on-receive-timeout" => self.on_receive_timeout = duration(value)?,
            "multipart-timeout" => self.multipart_timeout = duration(value)?,
            "status-reports" => self.status_reports = boolean(value)?,
            "rate-limit" => self.rate_limit = number(value, 0, 6000)?,
            "allow" => self.allow = crate::allow::parse_list(value)?,
            "max-queue-age" => self.max_queue_age = duration(value)?,
            "health-max-age" => self.health_max_age = duration(value)?,
            "lease" => {
                self.lease = duration(value)?;
                if self.lease < Duration::from_secs(1) {
                    return Err(format!("'{value}' is too short: a lease needs at least 1s"));
                }
            }
            "web-listen" => self.web_listen = optional(value),
            "web-user" => self.web_user = nonempty(value)?,
            "web-password-hash" => self.web_password_hash = password_hash(value)?,
            "kannel-user" => self.kannel_user = optional(value),
            "kannel-password-hash" => self.kannel_password_hash = password_hash(value)?,
            _ => return Err(format!("unknown setting '{key}' (see smss --help)")),
        }
        Ok(())
    }

    pub fn is_key(key: &str) -> bool {
        let key = key.replace('_', "-");
        KEYS.iter().any(|(k, _, _)| *k == key) && key != "config"
    }

    /// Reads `key = value` lines; errors name `path:line`.
    pub fn apply_file_text(&mut self, path: &Path, text: &str) -> Result<(), ConfigError> {
        for (n, raw) in text.lines().enumerate() {
            let origin = || format!("{}:{}", path.display(), n + 1);
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line.split_once('=').ok_or_else(|| ConfigError {
                origin: origin(),
                message: format!("expected 'key = value', found '{line}'"),
            })?;
            self.set(key.trim(), value.trim())
                .map_err(|message| ConfigError {
                    origin: origin(),
                    message,
                })?;
        }
        Ok(())
    }

    /// Loads the config file: `explicit` must exist; the default path is
    /// read only when present.
    pub fn apply_file(&mut self, explicit: Option<&Path>) -> Result<(), ConfigError> {
        let path = explicit.unwrap_or(Path::new(DEFAULT_CONFIG));
        match std::fs::read_to_string(path) {
            Ok(text) => self.apply_file_text(path, &text),
            Err(e) if explicit.is_none() && e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => {
                let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                    " (run as root or as the smss user, or name another file with --config)"
                } else {
                    ""
                };
                Err(ConfigError {
                    origin: path.display().to_string(),
                    message: format!("cannot read the configuration file: {e}{hint}"),
                })
            }
        }
    }

    /// The modems: `device` may name several, separated by commas.
    pub fn devices(&self) -> Vec<String> {
        self.device
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// One copy of the settings per modem, `device` set to that modem. With
    /// several modems a configured `instance` gets the device appended, so
    /// each modem thread claims under a name of its own.
    pub fn per_device(&self) -> Vec<Settings> {
        let devices = self.devices();
        let many = devices.len() > 1;
        devices
            .into_iter()
            .map(|device| {
                let mut s = self.clone();
                if many && let Some(instance) = &self.instance {
                    s.instance = Some(format!("{instance}:{device}"));
                }
                s.device = device;
                s
            })
            .collect()
    }

    /// The name this sender claims queue rows under.
    pub fn instance_name(&self) -> String {
        self.instance.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_else(|_| "localhost".into());
            format!("{host}:{}", self.device)
        })
    }
}

fn nonempty(value: &str) -> Result<String, String> {
    if value.is_empty() {
        Err("needs a value".into())
    } else {
        Ok(value.to_owned())
    }
}

fn optional(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

fn number<T>(value: &str, min: T, max: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    match value.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(format!(
            "'{value}' should be a whole number from {min} to {max}"
        )),
    }
}

fn boolean(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err(format!("'{value}' should be yes or no")),
    }
}

/// An Argon2 PHC string (`$argon2id$v=19$m=...`), checked now so that a
/// mistyped hash is reported with its line, not at the first login.
fn password_hash(value: &str) -> Result<Option<String>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    crate::password::check_hash(value)?;
    Ok(Some(value.to_owned()))
}

fn level(value: &str) -> Result<LevelFilter, String> {
    match value.to_ascii_lowercase().as_str() {
        "error" => Ok(LevelFilter::Error),
        "warn" | "warning" => Ok(LevelFilter::Warn),
        "info" => Ok(LevelFilter::Info),
        "debug" => Ok(LevelFilter::Debug),
        "trace" => Ok(LevelFilter::Trace),
        _ => Err(format!("'{value}' should be error, warn, info or debug")),
    }
}

/// `250ms`, `10s`, `5m`, `1h`; a bare number is seconds.
pub fn duration(value: &str) -> Result<Duration, String> {
    let bad = || format!("'{value}' should be a duration such as 500ms, 10s, 5m or 1h");
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    match unit.trim() {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => Ok(Duration::from_secs(n)),
        "m" | "min" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(duration("5m"), Ok(Duration::from_secs(300)));
        assert!(duration("ten").is_err());
        assert!(duration("5 parsecs").is_err());
    }

    #[test]
    fn file_lines_with_comments_and_both_key_styles() {
        let mut s = Settings::default();
        let text = "# smss\n\nmax_parts = 3\nmax-connections=5\n  device = /dev/ttyUSB0  \npin =\n";
        s.apply_file_text(Path::new("/etc/smss/smss.conf"), text)
            .unwrap();
        assert_eq!(s.max_parts, 3);
        assert_eq!(s.max_connections, 5);
        assert_eq!(s.device, "/dev/ttyUSB0");
        assert_eq!(s.pin, None);
    }

    #[test]
    fn errors_name_the_line() {
        let mut s = Settings::default();
        let e = s
            .apply_file_text(Path::new("smss.conf"), "baud = 9600\nspeed = 1\n")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "smss.conf:2: unknown setting 'speed' (see smss --help)"
        );
        let e = s
            .apply_file_text(Path::new("smss.conf"), "\nmax-parts = 0\n")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "smss.conf:2: '0' should be a whole number from 1 to 255"
        );
        let e = s
            .apply_file_text(Path::new("smss.conf"), "just words")
            .unwrap_err();
        assert_eq!(e.origin, "smss.conf:1");
    }

    const SAMPLE: &str = include_str!("../etc/smss.conf");

    /// `#key = value` lines of the sample: the documented defaults.
    fn sample_settings() -> Vec<(&'static str, &'static str)> {
        SAMPLE
            .lines()
            .map(|l| l.strip_prefix('#').unwrap_or(l))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim()))
            .filter(|(k, _)| Settings::is_key(k))
            .collect()
    }

    #[test]
    fn the_sample_config_documents_every_key() {
        let set: Vec<&str> = sample_settings().iter().map(|(k, _)| *k).collect();
        for (key, _, help) in KEYS {
            if *key == "config" {
                continue;
            }
            assert!(set.contains(key), "etc/smss.conf lacks '#{key} = ...'");
            assert!(
                SAMPLE.contains(&format!("# {help}\n")),
                "etc/smss.conf: the help of {key} differs from config::KEYS"
            );
        }
        for key in &set {
            assert_eq!(set.iter().filter(|k| *k == key).count(), 1, "{key} twice");
        }
    }

    #[test]
    fn the_sample_config_shows_the_defaults() {
        // As installed it parses, and uncommenting every setting changes nothing.
        let mut s = Settings::default();
        s.apply_file_text(Path::new("etc/smss.conf"), SAMPLE)
            .unwrap();
        let mut all = Settings::default();
        for (key, value) in sample_settings() {
            all.set(key, value)
                .unwrap_or_else(|e| panic!("etc/smss.conf: {key} = {value}: {e}"));
        }
        let default = format!("{:?}", Settings::default());
        assert_eq!(format!("{s:?}"), default);
        assert_eq!(format!("{all:?}"), default);
    }

    #[test]
    fn log_file_none_means_terminal_only() {
        let mut s = Settings::default();
        assert_eq!(s.log_file.as_deref(), Some(Path::new(DEFAULT_LOG_FILE)));
        s.set("log-file", "/tmp/x.log").unwrap();
        assert_eq!(s.log_file.as_deref(), Some(Path::new("/tmp/x.log")));
        s.set("log-file", "none").unwrap();
        assert_eq!(s.log_file, None);
        s.set("log-file", "/tmp/x.log").unwrap();
        s.set("log-file", "").unwrap();
        assert_eq!(s.log_file, None);
    }

    #[test]
    fn every_key_in_the_help_table_is_settable() {
        for (key, _, _) in KEYS {
            if *key == "config" {
                continue;
            }
            let mut s = Settings::default();
            let err = s.set(key, "").err().unwrap_or_default();
            assert!(!err.starts_with("unknown setting"), "{key}: {err}");
        }
    }
}
